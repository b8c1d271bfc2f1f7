"""One batch of an import: classify against the database and COPY whole antibodies, in one transaction.

A deadlock or serialisation failure rolls the batch back completely, so it is simply run again (a few
times) before the error reaches the user; nothing of it is counted until it commits.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from abdb.config import Settings
from abdb.domain.records import Rejection
from abdb.errors import TransientConflict
from abdb.services.import_reports import FileReport, ImportOptions, ImportReport
from abdb.services.import_rows import COLUMNS, PreparedRecord
from abdb.unit_of_work import UnitOfWork

Item = PreparedRecord | Rejection
ATTEMPTS = 4
BACKOFF_SECONDS = 0.05


@dataclass
class BatchOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    rows: int = 0


def _conflict(record: PreparedRecord, reason: str) -> Rejection:
    return Rejection(record.source, record.location, record.name, "conflict", reason)


def _classify(batch: list[Item]) -> tuple[BatchOutcome, dict[str, PreparedRecord]]:
    """Rejections and repeats inside the batch, before the database is asked anything."""
    outcome = BatchOutcome()
    by_name: dict[str, PreparedRecord] = {}
    for item in batch:
        if isinstance(item, Rejection):
            outcome.rejections.append(item)
            outcome.counts["rejected"] += 1
        elif item.name not in by_name:
            by_name[item.name] = item
        elif by_name[item.name].checksum == item.checksum:
            outcome.counts["unchanged"] += 1  # the same antibody twice in one file (history exports repeat runs)
        else:
            outcome.rejections.append(
                _conflict(item, f"the name {item.name!r} is used twice in this input for other chains")
            )
            outcome.counts["conflicting"] += 1
    return outcome, by_name


def load_batch(
    settings: Settings, batch: list[Item], options: ImportOptions, file_report: FileReport, report: ImportReport
) -> None:
    def count(outcome: BatchOutcome) -> None:
        for name, value in outcome.counts.items():
            setattr(file_report, name, getattr(file_report, name) + value)
        report.rejections.extend(outcome.rejections)
        report.rows += outcome.rows

    for attempt in range(1, ATTEMPTS + 1):
        try:
            _write(settings, batch, options, report, count)
            return
        except TransientConflict:
            if attempt == ATTEMPTS:
                raise
            time.sleep(BACKOFF_SECONDS * attempt)


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends: a batch's COMMIT and its counting happen together, so the
    "how far it got" message never misses a batch that was in fact stored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _write(
    settings: Settings,
    batch: list[Item],
    options: ImportOptions,
    report: ImportReport,
    count: Callable[[BatchOutcome], None],
) -> None:
    outcome, by_name = _classify(batch)
    with UnitOfWork(settings) as uow:
        new: list[PreparedRecord] = []
        replacing: list[PreparedRecord] = []
        if by_name:
            uow.bulk.lock_imports()
            existing = uow.bulk.existing_checksums(by_name)
            for record in by_name.values():
                stored = existing.get(record.name)
                if stored is None:
                    new.append(record)
                elif record.checksum in stored:
                    outcome.counts["unchanged"] += 1
                elif options.replace:
                    replacing.append(record)
                else:
                    outcome.counts["conflicting"] += 1
                    outcome.rejections.append(
                        _conflict(
                            record,
                            f"a different antibody named {record.name!r} is already stored; not overwritten "
                            "(--replace replaces it)",
                        )
                    )
            if replacing:
                uow.bulk.delete_by_names(record.name for record in replacing)
            loading = new + replacing
            for index, (table, columns) in enumerate(COLUMNS.items()):
                text_rows = "".join(record.text[index] for record in loading)
                if text_rows:
                    uow.bulk.copy_text(table, columns, text_rows)
            outcome.rows = sum(record.rows for record in loading)
        outcome.counts["inserted"] += len(new)
        outcome.counts["replaced"] += len(replacing)
        if report.run_id is not None:
            # counters only: rewriting the run's whole file list per batch made many-file imports quadratic
            uow.import_runs.record_batch(report.run_id, dict(outcome.counts))
        with _ctrl_c_deferred():
            if not options.dry_run:
                uow.commit()
            count(outcome)
