"""Import runs: one row per `abdb import`, its counters kept in step with the batches it commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text, update

from abdb.db.models import ImportRun
from abdb.domain.vocabulary import JobStatus
from abdb.repositories.base import BaseRepository

COUNTERS = ("inserted", "unchanged", "conflicting", "rejected", "replaced")
STALE_REASON = (
    "the import stopped without finishing (killed, or its server stopped); closed by `abdb import runs "
    "--close-stale`: the antibodies it stored are whole, run the same import again to complete it"
)


def run_lock_key(run_id: uuid.UUID) -> int:
    """The advisory lock an import holds on its own connection for as long as it runs (from the random
    half of the UUIDv7, as a signed 64-bit key)."""
    return int.from_bytes(run_id.bytes[8:], "big", signed=True)


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

    def close_stale(self) -> list[uuid.UUID]:
        """Mark FAILED every RUNNING run whose import is gone: nobody holds its advisory lock any more (an
        import holds it on a connection of its own from start to end; the server drops it with the process)."""
        running = list(self.session.scalars(select(ImportRun.id).where(ImportRun.status == JobStatus.RUNNING)))
        stale = [
            run_id
            for run_id in running
            if self.session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": run_lock_key(run_id)}
            ).scalar_one()
        ]
        if stale:
            self.session.execute(
                update(ImportRun)
                .where(ImportRun.id.in_(stale), ImportRun.status == JobStatus.RUNNING)
                .values(status=JobStatus.FAILED, completed_at=func.now(), error_message=STALE_REASON)
            )
        return stale
