"""One batch of an import: classify against the database and COPY whole antibodies, in one transaction.

A deadlock or serialisation failure rolls the batch back completely, so it is simply run again (a few
times) before the error reaches the user; nothing of it is counted until it commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from abdb.database import Database
from abdb.domain.records import Rejection
from abdb.services.importing.report import FileReport, ImportOptions, ImportReport
from abdb.services.importing.rows import COLUMNS, PreparedRecord
from abdb.services.stopping import stop_signals_deferred
from abdb.unit_of_work import retry_transient

Item = PreparedRecord | Rejection


@dataclass
class BatchOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    rows: int = 0
    new: list[PreparedRecord] = field(default_factory=list)
    replacing: list[PreparedRecord] = field(default_factory=list)
    visibility: list[str] = field(default_factory=list)  # stored antibodies whose is_public --public/--private changes


@dataclass(frozen=True)
class StoredAntibody:
    checksum: str | None
    is_public: bool
    labels: frozenset[tuple[str, str, str]]  # (md5 of the sequence, chain name, chain type) of every chain


def _conflict(record: PreparedRecord, reason: str) -> Rejection:
    return Rejection(record.source, record.location, record.name, "conflict", reason)


def classify(
    batch: list[Item], stored: dict[str, list[StoredAntibody]], options: ImportOptions, budget: int | None
) -> BatchOutcome:
    """What happens to each item, in input order: rejected, new, unchanged, replacing or conflicting.

    "Unchanged" means the same chains (checksum) and, for every chain the input labelled itself, the same
    chain name and type as stored. ``--replace`` replaces every stored antibody of the name. With a
    ``budget`` of rejections left (``--max-errors``), the batch is cut right after the one that uses it up.
    """
    outcome = BatchOutcome()
    in_batch: dict[str, PreparedRecord] = {}
    for item in batch:
        if budget is not None and len(outcome.rejections) >= budget:
            break
        if isinstance(item, Rejection):
            outcome.rejections.append(item)
            outcome.counts["rejected"] += 1
            continue
        earlier = in_batch.get(item.name)
        if earlier is not None:
            if earlier.checksum == item.checksum:
                outcome.counts["unchanged"] += 1  # the same antibody twice in one input (history exports repeat runs)
            else:
                outcome.rejections.append(
                    _conflict(item, f"the name {item.name!r} is used twice in this input for other chains")
                )
                outcome.counts["conflicting"] += 1
            continue
        in_batch[item.name] = item
        existing = stored.get(item.name, [])
        same = [e for e in existing if e.checksum == item.checksum]
        if not existing:
            outcome.new.append(item)
        elif options.replace:
            outcome.replacing.append(item)
        elif any(item.labels <= e.labels for e in same):
            outcome.counts["unchanged"] += 1
            if options.public is not None and any(e.is_public != options.public for e in same):
                outcome.visibility.append(item.name)
        else:
            why = (
                f"{item.name!r} is already stored with the same chains under other chain labels or types"
                if same
                else f"a different antibody named {item.name!r} is already stored"
            )
            outcome.counts["conflicting"] += 1
            outcome.rejections.append(_conflict(item, f"{why}; not overwritten (--replace replaces it)"))
    outcome.counts["inserted"] += len(outcome.new)
    outcome.counts["replaced"] += len(outcome.replacing)
    outcome.counts["visibility_changed"] += len(outcome.visibility)
    return outcome


def load_batch(
    database: Database,
    batch: list[Item],
    options: ImportOptions,
    file_report: FileReport,
    report: ImportReport,
    budget: int | None = None,
) -> None:
    def count(outcome: BatchOutcome) -> None:
        for name, value in outcome.counts.items():
            setattr(file_report, name, getattr(file_report, name) + value)
        report.rejections.extend(outcome.rejections)
        report.rows += outcome.rows
        for record in outcome.new + outcome.replacing:
            report.pairings[record.pairing] += 1

    retry_transient(lambda: _write(database, batch, options, report, count, budget))


def _write(
    database: Database,
    batch: list[Item],
    options: ImportOptions,
    report: ImportReport,
    count: Callable[[BatchOutcome], None],
    budget: int | None,
) -> None:
    with database.unit_of_work() as uow:
        names = {item.name for item in batch if not isinstance(item, Rejection)}
        stored: dict[str, list[StoredAntibody]] = {}
        if names:
            uow.bulk.lock_imports()
            for name, checksum, is_public, labels in uow.bulk.stored_antibodies(names):
                stored.setdefault(name, []).append(StoredAntibody(checksum, is_public, labels))
        outcome = classify(batch, stored, options, budget)
        if outcome.replacing:
            uow.bulk.delete_by_names(record.name for record in outcome.replacing)
        if outcome.visibility:
            uow.bulk.set_public(outcome.visibility, bool(options.public))
        loading = outcome.new + outcome.replacing
        for index, (table, columns) in enumerate(COLUMNS.items()):
            text_rows = "".join(record.text[index] for record in loading)
            if text_rows:
                uow.bulk.copy_text(table, columns, text_rows)
        outcome.rows = sum(record.rows for record in loading)
        if report.run_id is not None:
            # counters only: rewriting the run's whole file list per batch made many-file imports quadratic
            uow.import_runs.record_batch(report.run_id, dict(outcome.counts))
        with stop_signals_deferred():
            if not options.dry_run:
                uow.commit()
            count(outcome)
