"""Test fixtures: one real PostgreSQL 18 server per test session, a fresh database per test.

The server is the embedded one (in a temporary folder) unless ABDB_TEST_DATABASE_URL names a server to
use instead (any database on it; tests create and drop their own databases there).
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.backends.embedded import EmbeddedServer
from abdb.config import Settings, parse_url
from abdb.database import Database
from abdb.services import migrations

REPO = Path(__file__).resolve().parent.parent
# The many servers the tests start hold little data: PostgreSQL's own 128 MB each, not a quarter of the machine
# (abdb.config.embedded_shared_buffers, tested on its own).
os.environ.setdefault("ABDB_SHARED_BUFFERS", "128MB")


def _admin(url: URL, statement: str) -> None:
    engine = create_engine(url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _test_folders_reachable_by_the_server_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run as root, embedded servers run as a system user, and pytest makes its folders 0700: open them for
    traversal (what `abdb db up` tells a user to do; abdb itself never widens permissions)."""
    if os.geteuid() != 0:
        yield
        return
    base = tmp_path_factory.getbasetemp()
    for folder in (base, *base.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            folder.chmod(folder.stat().st_mode | stat.S_IXOTH)
    original = pytest.TempPathFactory.mktemp

    def mktemp(self: pytest.TempPathFactory, basename: str, numbered: bool = True) -> Path:
        made = original(self, basename, numbered)
        made.chmod(0o711)
        return made

    pytest.TempPathFactory.mktemp = mktemp  # type: ignore[method-assign]
    yield
    pytest.TempPathFactory.mktemp = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """URL of the session's PostgreSQL server (database part is replaced per test)."""
    external = os.environ.get("ABDB_TEST_DATABASE_URL")
    if external:
        yield parse_url(external)
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("pg") / "pgdata")
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def template_url(server_url: URL) -> Iterator[URL]:
    """A database migrated to head, used as the template of every test database."""
    name = f"abdb_template_{os.getpid()}"
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(server_url, f'CREATE DATABASE "{name}"')
    url = server_url.set(database=name)
    migrations.upgrade(Settings(database_url=url))
    yield url
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_database(server_url: URL, template: str | None) -> Iterator[URL]:
    name = f"abdb_t_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    _admin(server_url, f'CREATE DATABASE "{name}"{source}')
    try:
        yield server_url.set(database=name)
    finally:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url: URL, template_url: URL) -> Iterator[URL]:
    """A fresh database at head for this test alone."""
    yield from _fresh_database(server_url, template_url.database)


@pytest.fixture
def empty_database_url(server_url: URL) -> Iterator[URL]:
    """A fresh database with no schema at all, for migration tests."""
    yield from _fresh_database(server_url, None)


@pytest.fixture
def settings(database_url: URL, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, home=tmp_path / "home")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """This test's database as the use cases and units of work take it; its connections closed at the end."""
    with Database(settings) as database:
        yield database


@pytest.fixture
def engine(database_url: URL) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


CliInvoker = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(database_url: URL, tmp_path: Path) -> Iterator[CliInvoker]:
    """`abdb ARGS...` in process against this test's database: (exit code, output)."""
    from typer.testing import CliRunner

    from abdb.cli.app import app

    runner = CliRunner()
    env = {"ABDB_DATABASE_URL": database_url.render_as_string(hide_password=False), "ABDB_HOME": str(tmp_path)}

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    yield invoke  # each command disposes of its own database
