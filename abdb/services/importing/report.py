"""Import runs: what an import was asked to do, what it did (per file and in total), and past runs as
recorded in ``import_runs`` (listed, and closed when their import is gone)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from abdb.config import Settings
from abdb.database import Database, using
from abdb.domain.records import DEFAULT_MIN_LENGTH, Pairing, Rejection
from abdb.io.csv_tables import Columns


@dataclass(frozen=True)
class ImportOptions:
    allow_x: bool = False
    min_length: int = DEFAULT_MIN_LENGTH
    batch_size: int = 1000
    dry_run: bool = False
    public: bool | None = None  # None: new antibodies private, stored ones left as they are
    created_by: str | None = None
    max_errors: int | None = None
    replace: bool = False
    translate: bool = False  # FASTA: translate nucleotide records instead of rejecting them
    productive_only: bool = False  # AIRR, OAS: only rows with productive T
    species: str | None = None  # OAS: only units of this species
    min_redundancy: int | None = None  # OAS: only rows seen at least this many times
    columns: Columns | None = None  # CSV: which columns hold the name and the chains


@dataclass
class FileReport:
    path: str
    sha256: str = ""
    inserted: int = 0
    unchanged: int = 0
    conflicting: int = 0
    rejected: int = 0
    replaced: int = 0
    visibility_changed: int = 0
    filtered: int = 0  # rows left out by --productive-only, --species, --min-redundancy
    seconds: float = 0.0
    metadata: dict[str, Any] | None = None  # what the file says of itself (an OAS unit's metadata line)

    @property
    def records(self) -> int:
        return self.inserted + self.unchanged + self.conflicting + self.rejected + self.replaced


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    stopped_early: bool = False
    run_id: uuid.UUID | None = None
    rows: int = 0
    skipped_files: list[str] = field(default_factory=list)  # in folders, not of the format's suffixes
    hidden_files: int = 0
    clock_skew_seconds: float = 0.0  # the server's clock minus ours, when ids had to follow the server's
    pairings: Counter[Pairing] = field(default_factory=Counter)  # how loaded antibodies' chains came together

    def total(self, attribute: str) -> int:
        return sum(int(getattr(report, attribute)) for report in self.files)

    @property
    def clean(self) -> bool:
        return not self.rejections

    @property
    def records_per_second(self) -> float:
        return self.total("records") / self.seconds if self.seconds else 0.0

    def files_as_dicts(self) -> list[dict[str, Any]]:
        return [{**asdict(f), "seconds": round(f.seconds, 3)} for f in self.files]


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


def recent_runs(target: Database | Settings, limit: int = 20) -> list[ImportRunSummary]:
    with using(target) as database:
        database.require_head("`abdb import runs`")
        with database.unit_of_work() as uow:
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


def close_stale_runs(target: Database | Settings) -> list[uuid.UUID]:
    """Mark FAILED the RUNNING import runs whose import is gone (killed, server stopped), with the reason."""
    with using(target) as database:
        database.require_head("`abdb import runs --close-stale`")
        with database.unit_of_work() as uow:
            closed = uow.import_runs.close_stale()
            uow.commit()
            return closed
