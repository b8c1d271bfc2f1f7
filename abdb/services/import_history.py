"""Past import runs, as plain data for the command line."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from abdb.config import Settings
from abdb.services.migrations import require_head
from abdb.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ImportRunSummary:
    id: uuid.UUID
    command: str
    status: str
    started_at: dt.datetime
    completed_at: dt.datetime | None
    files: list[dict[str, Any]]
    options: dict[str, Any]
    inserted: int
    unchanged: int
    conflicting: int
    rejected: int
    replaced: int
    error_message: str | None


def recent_runs(settings: Settings, limit: int = 20) -> list[ImportRunSummary]:
    require_head(settings, "`abdb import runs`")
    with UnitOfWork(settings) as uow:
        return [
            ImportRunSummary(
                run.id,
                run.command,
                run.status.value,
                run.started_at,
                run.completed_at,
                run.files,
                run.options,
                run.inserted,
                run.unchanged,
                run.conflicting,
                run.rejected,
                run.replaced,
                run.error_message,
            )
            for run in uow.import_runs.recent(limit)
        ]


def close_stale_runs(settings: Settings) -> list[uuid.UUID]:
    """Mark FAILED the RUNNING import runs whose import is gone (killed, server stopped), with the reason."""
    require_head(settings, "`abdb import runs --close-stale`")
    with UnitOfWork(settings) as uow:
        closed = uow.import_runs.close_stale()
        uow.commit()
        return closed
