"""Import runs: one row per `abdb import`, its counters kept in step with the batches it commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update

from abdb.db.models import ImportRun
from abdb.domain.vocabulary import JobStatus
from abdb.repositories.base import BaseRepository

COUNTERS = ("inserted", "unchanged", "conflicting", "rejected", "replaced")


class ImportRunRepository(BaseRepository[ImportRun]):
    model = ImportRun

    def start(self, command: str, options: dict[str, Any], created_by: str | None) -> uuid.UUID:
        run = ImportRun(command=command, options=options, created_by=uuid.UUID(created_by) if created_by else None)
        self.session.add(run)
        self.session.flush()
        return run.id

    def record_batch(self, run_id: uuid.UUID, counts: dict[str, int]) -> None:
        """Add a batch's counts; called inside the batch's own transaction, so they commit (or not) together.
        The per-file list is written once, when the run ends."""
        values: dict[str, Any] = {name: getattr(ImportRun, name) + counts.get(name, 0) for name in COUNTERS}
        self.session.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values))

    def finish(
        self, run_id: uuid.UUID, status: JobStatus, files: list[dict[str, Any]], error_message: str | None = None
    ) -> None:
        self.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status=status, files=files, completed_at=func.now(), error_message=error_message)
        )

    def recent(self, limit: int = 20) -> list[ImportRun]:
        return list(self.session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)))
