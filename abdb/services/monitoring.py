"""`abdb db monitor`: the slowest and most frequent statements, the largest tables and indexes, dead rows,
long transactions and lock waits, in one report (and its JSON)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from abdb.config import Settings, mask_url
from abdb.database import Database, using
from abdb.repositories.monitoring import (
    STATEMENTS_LIBRARY,
    ActiveTransaction,
    DeadRows,
    MonitorQueries,
    RelationSize,
    StatementStats,
)

LONG_TRANSACTION_SECONDS = 60.0
LOCK_WAIT_MS = 300


@dataclass(frozen=True)
class MonitorReport:
    url: str
    statements_enabled: bool  # pg_stat_statements loaded and its view present
    statements_note: str | None  # what to enable when not, or what was just enabled
    slowest: list[StatementStats] = field(default_factory=list)  # by total execution time
    most_frequent: list[StatementStats] = field(default_factory=list)
    largest: list[RelationSize] = field(default_factory=list)
    dead_rows: list[DeadRows] = field(default_factory=list)
    long_transactions: list[ActiveTransaction] = field(default_factory=list)
    long_transaction_seconds: float = LONG_TRANSACTION_SECONDS

    def as_json(self) -> dict[str, object]:
        """The documented shape of `abdb db monitor --json` (docs/database.md): keys are only added."""
        return dataclasses.asdict(self)


def _enable_statements(queries: MonitorQueries) -> tuple[bool, str | None]:
    """Make the statements view available when the server collects them; else say how to start collecting."""
    if not queries.statements_preloaded():
        return False, (
            f"the server does not collect statement statistics: add {STATEMENTS_LIBRARY} to "
            "shared_preload_libraries in postgresql.conf and restart the server (abdb's embedded and Docker servers "
            "load it from this version on; restart one started before: `abdb db down && abdb db up`)"
        )
    if queries.statements_view_exists():
        return True, None
    if not queries.statements_can_be_created():
        return False, (
            f"the server collects statement statistics, but this database has no {STATEMENTS_LIBRARY} view and "
            f"this role may not create it: ask its owner to run CREATE EXTENSION {STATEMENTS_LIBRARY}"
        )
    queries.create_statements_view()
    return True, f"created the {STATEMENTS_LIBRARY} extension in this database (a view; no data changed)"


def monitor(
    target: Database | Settings,
    *,
    top: int = 10,
    long_transaction_seconds: float = LONG_TRANSACTION_SECONDS,
    every_database: bool = False,
) -> MonitorReport:
    """What the server and this database are doing and how big they are. Needs no particular schema revision:
    a database being migrated or restored is the one people want to watch."""
    with using(target) as database, database.unit_of_work() as uow:
        queries = uow.monitoring
        enabled, note = _enable_statements(queries)
        if note is not None and enabled:
            uow.commit()  # the new view, before anything else can fail
        queries.wait_for_locks_at_most(LOCK_WAIT_MS)  # for this transaction (after the commit)
        report = MonitorReport(
            mask_url(database.url),
            enabled,
            note,
            queries.statements("total_exec_time", top, every_database) if enabled else [],
            queries.statements("calls", top, every_database) if enabled else [],
            queries.largest_relations(top),
            queries.dead_rows(top),
            queries.long_transactions(long_transaction_seconds),
            long_transaction_seconds,
        )
    return report
