"""A real `EvaluationQueue` for tests that checks the upload contract as it is called.

On `enqueue(id)` it opens its own database connection (so it sees only committed data) and
checks that the submission row exists in state `queued` and that its code is in the store.
A route that enqueued before committing would make it record a violation. `prepare_phase`
checks likewise that the phase's preparation rows were committed as pending.
"""

from __future__ import annotations

from sqlalchemy import select

from competition import db, lifecycle, preparation
from competition.artifacts import ArtifactStore
from competition.models import Submission, SubmissionStatus
from competition.pipeline_models import PhasePreparation, PreparationState
from competition.settings import Settings


class CommitCheckingQueue:
    def __init__(self, settings: Settings) -> None:
        self.engine = db.make_engine(settings.resolved_database_url)
        self.sessionmaker = db.make_sessionmaker(self.engine)
        self.store = ArtifactStore(settings.resolved_artifacts_dir)
        self.enqueued: list[int] = []
        self.prepared: list[int] = []
        self.violations: list[str] = []

    def enqueue(self, submission_id: int) -> None:
        with self.sessionmaker() as session:
            row = session.get(Submission, submission_id)
            if row is None:
                self.violations.append(f"{submission_id}: row not committed before enqueue")
            elif row.status != SubmissionStatus.QUEUED:
                self.violations.append(f"{submission_id}: status {row.status} at enqueue")
            elif not self.store.exists(row.code_key):
                self.violations.append(f"{submission_id}: code not stored before enqueue")
        self.enqueued.append(submission_id)

    def prepare_phase(self, phase_id: int) -> None:
        with self.sessionmaker() as session:
            state = preparation.readiness(session, phase_id).state
            rows = session.scalars(
                select(PhasePreparation).where(PhasePreparation.phase_id == phase_id)
            ).all()
            splits = len(lifecycle.SPLITS)
            if len(rows) != splits or state != PreparationState.PENDING:
                self.violations.append(f"phase {phase_id}: not committed as pending ({state})")
        self.prepared.append(phase_id)

    def close(self) -> None:
        self.engine.dispose()
