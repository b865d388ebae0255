"""Prometheus metrics at `GET /metrics`, computed at scrape time from the system's truth.

The database is the source of truth for submissions, so every figure is read from it when
Prometheus scrapes, not counted in one process's memory (the API and each worker are
separate processes; a restart would reset counters):

- `unlearn_submissions{status}`: submissions per state (gauge)
- `unlearn_failures{category}`: failed submissions per failure category, sandbox and system
- `unlearn_evaluation_seconds`: histogram of finished evaluations, from the claim
  (`sanity_check`) to `finished`, by their recorded state-change times
- `unlearn_queue_depth{queue}`: messages waiting in each broker queue (control, cpu, gpu),
  when the server's queue is Celery's; `unlearn_broker_up` says whether the broker answered

With `UNLEARN_METRICS_TOKEN` set, the endpoint answers only that bearer token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from competition.models import Submission, SubmissionEvent, SubmissionStatus

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

QUEUES = ("control", "cpu", "gpu")
# Seconds: from a 4-run test phase to a 512-run competition evaluation.
BUCKETS = (30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600)


class StateCollector(Collector):
    """Reads the figures above through `sessions` (and the broker of `celery_app`, if any)."""

    def __init__(self, sessions: Callable[[], Session], celery_app: Any = None) -> None:
        self.sessions = sessions
        self.celery_app = celery_app

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            yield self._submissions(session)
            yield self._failures(session)
            yield self._durations(session)
        if self.celery_app is not None:
            yield from self._queues()

    def _submissions(self, session: Session) -> Metric:
        counts = dict(
            session.execute(
                sa.select(Submission.status, sa.func.count()).group_by(Submission.status)
            ).all()
        )
        family = GaugeMetricFamily(
            "unlearn_submissions", "Submissions in each state", labels=["status"]
        )
        for status in SubmissionStatus:
            family.add_metric([status.value], counts.get(status, 0))
        return family

    def _failures(self, session: Session) -> Metric:
        rows = session.execute(
            sa.select(Submission.failure_category, sa.func.count())
            .where(Submission.status == SubmissionStatus.FAILED)
            .group_by(Submission.failure_category)
        ).all()
        family = GaugeMetricFamily(
            "unlearn_failures", "Failed submissions by failure category", labels=["category"]
        )
        for category, count in rows:
            family.add_metric([category.value if category else "unknown"], count)
        return family

    def _durations(self, session: Session) -> Metric:
        started = (
            sa.select(SubmissionEvent.submission_id, sa.func.min(SubmissionEvent.at).label("t"))
            .where(SubmissionEvent.to_status == SubmissionStatus.SANITY_CHECK)
            .group_by(SubmissionEvent.submission_id)
            .subquery()
        )
        finished = (
            sa.select(SubmissionEvent.submission_id, sa.func.max(SubmissionEvent.at).label("t"))
            .where(SubmissionEvent.to_status == SubmissionStatus.FINISHED)
            .group_by(SubmissionEvent.submission_id)
            .subquery()
        )
        pairs = session.execute(
            sa.select(started.c.t, finished.c.t).join(
                finished, finished.c.submission_id == started.c.submission_id
            )
        ).all()
        seconds = [(end - begin).total_seconds() for begin, end in pairs]
        cumulative = [sum(1 for s in seconds if s <= bound) for bound in BUCKETS]
        family = HistogramMetricFamily(
            "unlearn_evaluation_seconds",
            "Time from a worker's claim to the finished result, per finished evaluation",
        )
        family.add_metric(
            [],
            [(str(float(b)), c) for b, c in zip(BUCKETS, cumulative, strict=True)]
            + [("+Inf", len(seconds))],
            sum(seconds),
        )
        return family

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "unlearn_queue_depth", "Messages waiting in each broker queue", labels=["queue"]
        )
        up = 1
        try:
            with self.celery_app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel = connection.default_channel
                for name in QUEUES:
                    try:
                        declared = channel.queue_declare(queue=name, passive=True)
                        depth.add_metric([name], declared.message_count)
                    except Exception:  # a queue nobody declared yet holds nothing
                        depth.add_metric([name], 0)
        except Exception:
            logger.warning("metrics: the broker did not answer", exc_info=True)
            up = 0
        yield depth
        yield GaugeMetricFamily("unlearn_broker_up", "Whether the broker answered", value=up)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    token = settings.metrics_token
    # Production without a token stays closed: the figures show other teams' activity, and
    # each scrape runs whole-table aggregates.
    closed = not token and settings.environment == "production"
    if closed or (token and not _bearer_matches(request.headers.get("authorization", ""), token)):
        # Plain text, as a scraper reads it; the same answer for a wrong and a missing token.
        return Response(
            "metrics need `Authorization: Bearer <UNLEARN_METRICS_TOKEN>` (in production "
            "they stay closed until UNLEARN_METRICS_TOKEN is set)\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, credentials = header.partition(" ")
    # compare_digest: the time taken says nothing about how much of the token matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )


def make_registry(sessions: Callable[[], Session], celery_app: Any = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(sessions, celery_app))
    return registry
