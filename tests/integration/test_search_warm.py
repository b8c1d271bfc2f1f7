"""`abdb search warm`: every page of the search tables and their indexes is read into shared buffers (or, past
their room, into the operating system's cache), and a role that may not create pg_prewarm is told who can."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.database import Database
from abdb.errors import DatabaseError
from abdb.services import warming
from abdb.services.importing.run import ImportOptions, import_legacy_json
from abdb.services.warming import OS_CACHE, SHARED_BUFFERS, warm_search
from tests.conftest import CliInvoker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RELATIONS = (
    "SELECT c.relname FROM pg_class c WHERE c.relname IN ('cdr_search', 'antibody_chains') OR c.oid IN "
    "(SELECT indexrelid FROM pg_index WHERE indrelid IN ('cdr_search'::regclass, 'antibody_chains'::regclass))"
)


def _blocks_in_buffers(connection: Connection) -> dict[str, tuple[int, int]]:
    """Per search relation: (its blocks in shared buffers, its blocks)."""
    rows = connection.execute(
        text(
            f"SELECT r.relname, (SELECT count(*) FROM pg_buffercache b WHERE b.relfilenode = "
            "pg_relation_filenode(r.relname::regclass) AND b.relforknumber = 0 AND b.reldatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())), "
            f"pg_relation_size(r.relname::regclass) / current_setting('block_size')::int FROM ({RELATIONS}) r"
        )
    )
    return {name: (cached, blocks) for name, cached, blocks in rows}


def _evicted(engine: Engine) -> dict[str, tuple[int, int]]:
    """Every search relation's pages pushed out of shared buffers (PostgreSQL 18's pg_buffercache)."""
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_buffercache"))
        connection.execute(text(f"SELECT pg_buffercache_evict_relation(r.relname::regclass) FROM ({RELATIONS}) r"))
        connection.commit()
        return _blocks_in_buffers(connection)


@pytest.fixture
def imported(database: Database) -> Database:
    import_legacy_json(database, [FIXTURES / "legacy"], ImportOptions())
    return database


def test_warming_reads_every_page_of_the_search_tables_and_their_indexes_into_shared_buffers(
    imported: Database, engine: Engine, cli: CliInvoker
) -> None:
    before = _evicted(engine)
    assert len(before) >= 6 and before["cdr_search"][1] > 0  # both tables, their indexes, and rows to warm
    assert all(cached == 0 for cached, _ in before.values()), before
    code, output = cli("search", "warm")
    assert code == 0, output
    assert "created the pg_prewarm extension" in output  # this database had none
    assert "MB into the server's shared buffers" in output
    with engine.connect() as connection:
        after = _blocks_in_buffers(connection)
    assert after == {name: (blocks, blocks) for name, (_, blocks) in before.items()}
    again = cli("search", "warm")
    assert again[0] == 0 and "created" not in again[1]  # once is enough


def test_what_does_not_fit_in_shared_buffers_is_read_into_the_operating_systems_cache_instead(
    imported: Database, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _evicted(engine)
    monkeypatch.setattr(warming, "BUFFER_SHARE", 0.0)  # no room at all
    report = warm_search(imported)
    assert {relation.name for relation in report.relations} == set(before)
    assert all(relation.place == OS_CACHE for relation in report.relations if relation.bytes)
    assert report.bytes_in(OS_CACHE) == report.total > 0 and report.bytes_in(SHARED_BUFFERS) == 0
    with engine.connect() as connection:
        assert all(cached == 0 for cached, _ in _blocks_in_buffers(connection).values())  # buffers left alone
    monkeypatch.setattr(warming, "BUFFER_SHARE", 0.9)
    indexes_first = [relation.kind for relation in warm_search(imported).relations]
    assert indexes_first == sorted(indexes_first)  # "index" before "table": what every search reads first


def test_a_role_that_may_not_create_pg_prewarm_is_told_who_can(imported: Database, engine: Engine) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with engine.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        connection.commit()
    url: URL = imported.url.set(username=role)
    reader = Database(Settings(database_url=url))
    try:
        with pytest.raises(DatabaseError) as raised:
            warm_search(reader)
        assert "no pg_prewarm extension" in str(raised.value)
        assert raised.value.hint and "ask a superuser to run CREATE EXTENSION pg_prewarm" in raised.value.hint
    finally:
        reader.dispose()
        with engine.connect() as connection:
            installed = connection.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_prewarm'"))
            assert installed.scalar_one() == 0  # nothing was created
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
            connection.commit()
