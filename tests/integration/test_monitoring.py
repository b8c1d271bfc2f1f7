"""`abdb db monitor` and SQL logging: the statements an import ran are there; a server that does not collect
them is named with what to enable; `--debug` logs statements with durations and never their values."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.backends.embedded import EmbeddedServer
from abdb.config import Settings
from abdb.database import Database
from abdb.services.importing.run import ImportOptions, import_legacy_json
from abdb.services.monitoring import monitor
from tests.conftest import CliInvoker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_monitor_shows_the_statements_an_import_ran_and_the_largest_tables(
    cli: CliInvoker, database: Database, database_url: URL
) -> None:
    import_legacy_json(database, [FIXTURES / "legacy"], ImportOptions())
    assert cli("db", "monitor", "--json")[0] == 0  # its own statements are counted now, and must not show
    code, output = cli("db", "monitor", "--json", "--top", "200")
    assert code == 0, output
    report = json.loads(output)
    assert report["statements_enabled"] is True
    ours = report["slowest"]
    assert ours and all(row["database"] == database_url.database for row in ours)  # this database's
    assert any("antibody_sequences" in row["query"] and row["calls"] >= 1 for row in ours), ours[:5]
    assert not any("pg_stat_user_tables" in row["query"] or "pg_blocking_pids" in row["query"] for row in ours)
    assert all(row["total_ms"] >= 0 and row["calls"] >= 1 for row in report["most_frequent"])
    assert not any("abdb-monitor" in row["query"] for row in report["slowest"] + report["most_frequent"])
    names = {relation["name"]: relation for relation in report["largest"]}
    assert "antibody_sequences" in names and names["antibody_sequences"]["bytes"] > 0
    assert {row["table"] for row in report["dead_rows"]} >= {"antibody_sequences"}
    assert set(report) >= {"url", "statements_note", "long_transactions", "long_transaction_seconds"}
    code, output = cli("db", "monitor", "--top", "3")
    assert code == 0 and "slowest statements" in output and "largest tables and indexes" in output


def test_monitor_lists_a_transaction_that_waits_on_a_lock_and_who_blocks_it(
    database: Database, database_url: URL
) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE import_runs IN ACCESS EXCLUSIVE MODE"))
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def wait_for_the_lock() -> None:
            with engine.connect() as waiter:
                waiter.execute(text("SET lock_timeout = '20s'"))
                waiter.execute(text("SELECT count(*) FROM import_runs"))

        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        try:
            waiting: list = []
            for _ in range(100):
                report = monitor(database, top=100, long_transaction_seconds=3600)
                waiting = [t for t in report.long_transactions if t.waiting_for and t.waiting_for.startswith("Lock")]
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting and waiting[0].blocked_by == [holder_pid]
            assert "import_runs" in waiting[0].query
            locked = [relation for relation in report.largest if relation.name == "import_runs"]
            assert locked and not locked[0].exact  # sized from the catalog instead of waiting for the lock
        finally:
            holder.rollback()
            waiter.join(30)
    engine.dispose()


@pytest.fixture
def server_without_statements(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """An embedded server started without pg_stat_statements, as an external server may be."""
    server = EmbeddedServer(tmp_path_factory.mktemp("plain") / "pgdata", preload=())
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.destroy()


def test_monitor_on_a_server_that_collects_no_statements_says_what_to_enable_and_shows_the_rest(
    server_without_statements: URL,
) -> None:
    report = monitor(Settings(database_url=server_without_statements))
    assert report.statements_enabled is False and report.slowest == [] and report.most_frequent == []
    assert report.statements_note and "shared_preload_libraries" in report.statements_note
    assert "pg_stat_statements" in report.statements_note
    assert report.largest is not None  # sizes come from the catalog all the same
    engine = create_engine(server_without_statements, poolclass=NullPool)
    with engine.connect() as connection:
        created = connection.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"))
        assert created.scalar_one() == 0  # nothing was created where it could not work
    engine.dispose()


def test_debug_logs_every_statement_with_its_duration_but_never_its_values(cli: CliInvoker) -> None:
    code, output = cli("--debug", "search", "cdr3", "WQWQWQWQMM", "--format", "json")
    assert code == 0, output
    logged = [line for line in output.splitlines() if line.startswith("sql ")]
    assert logged and all(" ms" in line for line in logged)
    assert any("antibody_regions" in line and "parameters redacted" in line for line in logged)
    assert "WQWQWQWQMM" not in "\n".join(logged)
    code, output = cli("search", "cdr3", "WQWQWQWQMM")
    assert code == 0 and not any(line.startswith("sql ") for line in output.splitlines())


def test_abdb_log_sql_turns_the_statement_log_on_without_debug() -> None:
    assert Settings.from_environment({"ABDB_LOG_SQL": "1"}).log_sql
    assert Settings.from_environment({"ABDB_LOG_SQL": "yes"}).log_sql
    assert not Settings.from_environment({"ABDB_LOG_SQL": "0"}).log_sql
    assert not Settings.from_environment({}).log_sql
