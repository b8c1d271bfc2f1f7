"""What the server says about itself: statement statistics (pg_stat_statements), sizes, dead rows, long
transactions and lock waits, read from the catalog and the statistics views. Nothing here changes data; the
one statement that changes anything, ``CREATE EXTENSION pg_stat_statements``, only adds the view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.repositories.extensions import extension_can_be_created, extension_installed

STATEMENTS_LIBRARY = "pg_stat_statements"
MARKER = "/* abdb-monitor */"  # in the monitor's own statements, which it leaves out of what it shows


def _marked(sql: str) -> str:
    """The statement with the marker after its first word: pg_stat_statements drops a leading comment."""
    first, _, rest = sql.partition(" ")
    return f"{first} {MARKER} {rest}"


@dataclass(frozen=True)
class StatementStats:
    query: str  # normalised by the server: constants are $1, $2, ... (no values of any user)
    calls: int
    total_ms: float
    mean_ms: float
    max_ms: float
    rows: int
    database: str


@dataclass(frozen=True)
class RelationSize:
    name: str
    table: str  # the table itself for a table, the indexed table for an index
    bytes: int
    exact: bool = True  # False: from the catalog, the relation being locked exclusively


@dataclass(frozen=True)
class DeadRows:
    table: str
    live: int
    dead: int
    last_vacuum: str | None  # the later of the manual and the automatic one, ISO 8601


@dataclass(frozen=True)
class ActiveTransaction:
    pid: int
    state: str
    seconds: float  # since the transaction began
    waiting_for: str | None  # the wait event, e.g. Lock/transactionid
    blocked_by: list[int]
    query: str  # as the server shows it to this role (another role's text is hidden by PostgreSQL)


class MonitorQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        return list(self.session.execute(text(_marked(sql)), params or {}))

    def statements_preloaded(self) -> bool:
        """Whether the server loaded pg_stat_statements at start (it collects only then)."""
        loaded = self.session.execute(text("SELECT current_setting('shared_preload_libraries')")).scalar_one()
        return STATEMENTS_LIBRARY in [name.strip().strip('"') for name in str(loaded).split(",")]

    def statements_view_exists(self) -> bool:
        return extension_installed(self.session, STATEMENTS_LIBRARY)

    def statements_can_be_created(self) -> bool:
        return extension_can_be_created(self.session, STATEMENTS_LIBRARY)

    def create_statements_view(self) -> None:
        self.session.execute(text(_marked(f"CREATE EXTENSION IF NOT EXISTS {STATEMENTS_LIBRARY}")))

    def statements(self, order: str, top: int, every_database: bool = False) -> list[StatementStats]:
        """The ``top`` statements of this database (or of every database of the server) by ``order``
        (total_exec_time, calls or max_exec_time), without the ones this monitor runs."""
        assert order in ("total_exec_time", "calls", "max_exec_time")  # a column, never user text
        rows = self._rows(
            "SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.max_exec_time, s.rows, "
            "coalesce(d.datname, '') FROM pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid "
            "WHERE s.query NOT LIKE :marker AND (:every OR d.datname = current_database()) "
            f"ORDER BY s.{order} DESC, s.query LIMIT :top",
            {"top": top, "marker": f"%{MARKER}%", "every": every_database},
        )
        return [
            StatementStats(str(q), int(c), float(t), float(m), float(x), int(r), str(d)) for q, c, t, m, x, r, d in rows
        ]

    def wait_for_locks_at_most(self, milliseconds: int) -> None:
        """A monitor is run when something is stuck: never queue behind the lock of the session it reports."""
        self.session.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{milliseconds}ms"})

    def largest_relations(self, top: int) -> list[RelationSize]:
        """Tables (with their TOAST) and indexes of the public schema, largest first: measured on disk, or
        from the catalog's page count (as of the last VACUUM/ANALYZE) for a relation locked exclusively."""
        catalog = self._rows(
            "SELECT c.oid, c.relname, coalesce(t.relname, c.relname), c.relkind = 'r', "
            "(c.relpages::bigint + coalesce(toast.relpages, 0)) * current_setting('block_size')::bigint "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
            "LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid "
            "LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE c.relkind IN ('r', 'i')"
        )
        sizes = []
        for oid, name, table, is_table, estimate in catalog:
            measure = "pg_table_size" if is_table else "pg_relation_size"
            try:
                with self.session.begin_nested():  # sizing takes a share lock: a held exclusive one times out
                    size, exact = int(self._rows(f"SELECT {measure}(:oid)", {"oid": oid})[0][0]), True
            except sa_exc.OperationalError:
                size, exact = int(estimate), False
            sizes.append(RelationSize(str(name), str(table), size, exact))
        return sorted(sizes, key=lambda relation: (-relation.bytes, relation.name))[:top]

    def dead_rows(self, top: int) -> list[DeadRows]:
        """Tables by dead rows (what a VACUUM would reclaim: the bloat PostgreSQL counts itself)."""
        rows = self._rows(
            "SELECT relname, n_live_tup, n_dead_tup, to_char(greatest(last_vacuum, last_autovacuum) "
            "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM pg_stat_user_tables "
            "WHERE schemaname = 'public' ORDER BY n_dead_tup DESC, relname LIMIT :top",
            {"top": top},
        )
        return [DeadRows(str(name), int(live), int(dead), vacuumed) for name, live, dead, vacuumed in rows]

    def long_transactions(self, older_than_seconds: float) -> list[ActiveTransaction]:
        """Sessions of this database in a transaction for longer than the threshold, or waiting on a lock."""
        rows = self._rows(
            "SELECT pid, coalesce(state, ''), extract(epoch FROM now() - xact_start), "
            "CASE WHEN wait_event_type IS NULL THEN NULL ELSE wait_event_type || '/' || wait_event END, "
            "pg_blocking_pids(pid), coalesce(query, '') FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
            "AND (now() - xact_start > make_interval(secs => :older) OR wait_event_type = 'Lock') "
            "ORDER BY xact_start",
            {"older": older_than_seconds},
        )
        return [
            ActiveTransaction(
                int(pid), str(state), float(seconds), waiting, [int(b) for b in blocked], " ".join(str(q).split())
            )
            for pid, state, seconds, waiting, blocked, q in rows
        ]
