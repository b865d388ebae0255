"""Factories for the pipeline tests: a phase and submissions in a fresh database and store.

`Pipeline` creates rows through the server's own `crud` functions, so a submission starts
exactly as an upload leaves it: code stored, row committed in state `queued`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api import crud
from api.upload import ValidatedUpload
from competition import lifecycle
from competition.artifacts import ArtifactStore
from competition.models import Phase, Role, Submission, User, utcnow
from competition.pipeline_models import PhasePreparation, PreparationState
from harness.phase_schema import flat_phase
from worker import context

FAKE_BACKEND = "tests.worker.pipeline_fakes:SleepyBackend"

SUBMISSION = "def unlearning(net, retain_loader, forget_loader, val_loader):\n    pass\n"


# Test phases retrain in hundredths of a second, where timing noise decides the efficiency
# gate: allow the most the API accepts. Tests that check the gate pass their own.
TEST_EFFICIENCY_GATE = 10.0


@dataclass
class Pipeline:
    data_dir: Path
    sessions: sessionmaker[Session]
    store: ArtifactStore

    def phase(
        self,
        *,
        replicas: int = 6,
        sanity: bool = True,
        name: str = "dev",
        max_run_fraction: float = TEST_EFFICIENCY_GATE,
        dataset: str = "mnist1d",  # the fake backend never loads it; the real one would
        recipe: dict[str, Any] | None = None,
        split_spec: dict[str, Any] | None = None,
        prepared: bool = True,
    ) -> int:
        """A phase; `prepared` marks both splits' reference models ready, as after
        `worker.prepare_phase` (its backend then loads or trains them on first use)."""
        with self.sessions() as session:
            now = utcnow()
            experiment = flat_phase(
                dataset=dataset,
                recipe=recipe or {},
                split_spec=split_spec or {},
                model="mlp",
                replicas=replicas,
                estimator="neurips2023",
                max_run_fraction=max_run_fraction,
                interface="tuple",
            )
            phase = Phase(
                name=name,
                experiment=experiment,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                daily_quota=100,
                sanity_check_required=sanity,
            )
            session.add(phase)
            session.flush()
            if prepared:
                ready = PreparationState.READY
                for split in lifecycle.SPLITS:
                    session.add(PhasePreparation(phase_id=phase.id, split=split, state=ready))
            session.commit()
            return phase.id

    def mnist1d_phase(self, *, replicas: int = 8, name: str = "dev", prepared: bool = True) -> int:
        """A real phase small enough for a test: MNIST-1D, an MLP with one hidden layer of 16
        trained for one epoch, about 70 forget examples (the bootstrap costs per example)."""
        return self.phase(
            replicas=replicas,
            name=name,
            dataset="mnist1d",
            recipe={"epochs": 1, "hidden": [16], "batch_size": 256},
            split_spec={"forget_fraction": 0.02},
            prepared=prepared,
        )

    def submit(
        self,
        phase_id: int,
        source: str = SUBMISSION,
        *,
        email: str = "a@b.cd",
        archive: bytes | None = None,
    ) -> int:
        """A queued submission of `source`, or of the zip `archive` stored as uploaded
        (the upload check is the caller's business: tests bring archives it refuses)."""
        with self.sessions() as session:
            user = session.query(User).filter_by(email=email).one_or_none()
            if user is None:
                user = crud.create_user(
                    session,
                    email=email,
                    password="password123",
                    display_name=email,
                    role=Role.PARTICIPANT,
                )
            data = source.encode() if archive is None else archive
            upload = ValidatedUpload(
                kind="py" if archive is None else "zip",
                sha256="0" * 64,
                size_bytes=len(data),
                python_files={"submission.py": source},
            )
            submission = crud.create_submission(
                session,
                self.store,
                phase=session.get(Phase, phase_id),
                user=user,
                filename="submission.py" if archive is None else "submission.zip",
                upload=upload,
                data=data,
            )
            return submission.id

    def submission(self, submission_id: int) -> Submission:
        with self.sessions() as session:
            return crud.get_submission(session, submission_id)


def configure(monkeypatch: pytest.MonkeyPatch, data_dir: Path, **settings: object) -> None:
    env = {
        "UNLEARN_DATA_DIR": str(data_dir),
        "UNLEARN_EVALUATION_BACKEND": FAKE_BACKEND,
        "UNLEARN_SANDBOX": "local",
        "UNLEARN_SHARD_SIZE": "2",
        "UNLEARN_LEASE_S": "4",
        "UNLEARN_HEARTBEAT_S": "1",
    }
    env.update({f"UNLEARN_{k.upper()}": str(v) for k, v in settings.items()})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    context.reset()
