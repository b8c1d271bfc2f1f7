"""No command prints a password: with password authentication for real, in success and in failure, with --debug."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from abdb.backends.embedded import EmbeddedServer
from abdb.cli.errors import AbdbGroup

PASSWORD = "S3cret-pa55:w/rd@x"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SUCCESS = [
    ["db", "up"],
    ["migrate"],
    ["migrate", "current"],
    ["migrate", "history"],
    ["migrate", "check"],
    ["db", "status"],
    ["import", "fasta", str(FIXTURES / "annotate_chains.fasta"), "--annotate"],
    ["import", "legacy-json", str(FIXTURES / "legacy_result_v2.json")],
    ["import", "runs"],
    ["annotate", "--limit", "2"],
    ["jobs"],
    ["jobs", "retry"],
    ["verify"],
    ["db", "psql", "-c", "select 1"],
]
# two of its chains are not antibodies: their jobs fail (exit 9); the second run finds everything unchanged
EXPECTED_CODES = {"import fasta": (9, 0)}


@pytest.fixture(scope="module")
def password_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, str]]:
    """A server where `secret_user` must give its password (scram-sha-256), on its Unix socket."""
    server = EmbeddedServer(tmp_path_factory.mktemp("secrets") / "pgdata")
    server.start()
    admin = create_engine(server.url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE secret_user LOGIN PASSWORD '{PASSWORD}'"))
        connection.execute(text("CREATE DATABASE abdb_secret OWNER secret_user"))
        hba = server.pgdata / "pg_hba.conf"
        hba.write_text("local all secret_user scram-sha-256\n" + hba.read_text())
        connection.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()
    try:
        yield server, str(server.socket_dir)
    finally:
        server.destroy()


def _url(socket: str, password: str, database: str = "abdb_secret") -> str:
    return f"postgresql://secret_user:{quote(password, safe='')}@/{database}?host={quote(socket, safe='')}"


def _run(url: str, arguments: list[str], debug: bool = False) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    command = [sys.executable, "-m", "abdb", *(["--debug"] if debug else []), "--database-url", url, *arguments]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300, check=False)


def _assert_no_password(result: subprocess.CompletedProcess[str]) -> None:
    for secret in (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD)):
        assert secret not in result.stdout and secret not in result.stderr


def test_the_password_is_really_required(password_server: tuple[EmbeddedServer, str]) -> None:
    _, socket = password_server
    good = create_engine(_url(socket, PASSWORD).replace("postgresql://", "postgresql+psycopg://"), poolclass=NullPool)
    with good.connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar_one() == "secret_user"
    good.dispose()
    assert _run(_url(socket, "wrong"), ["db", "status"]).returncode == 3


@pytest.mark.parametrize("arguments", SUCCESS, ids=lambda a: " ".join(a[:2]))
def test_every_command_that_succeeds_with_a_password_never_prints_it(
    password_server: tuple[EmbeddedServer, str], arguments: list[str]
) -> None:
    _, socket = password_server
    for debug in (False, True):
        result = _run(_url(socket, PASSWORD), arguments, debug)
        expected = EXPECTED_CODES.get(" ".join(arguments[:2]), (0, 0))[debug]
        assert result.returncode == expected, result.stderr
        _assert_no_password(result)


FAILURES = [
    *[(arguments, "wrong password") for arguments in SUCCESS],
    *[(arguments, "unreachable host") for arguments in SUCCESS],
    *[(arguments, "no such database") for arguments in (["db", "status"], ["verify"], ["import", "runs"])],
]


@pytest.mark.parametrize(
    ("arguments", "failure"), FAILURES, ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else v
)
def test_every_command_that_fails_never_prints_the_password(
    password_server: tuple[EmbeddedServer, str], arguments: list[str], failure: str
) -> None:
    _, socket = password_server
    url = {
        "wrong password": _url(socket, PASSWORD + "-wrong"),
        "unreachable host": _url("/nonexistent/socket/dir", PASSWORD),
        "no such database": _url(socket, PASSWORD, "abdb_missing"),
    }[failure]
    result = _run(url, arguments, debug=failure == "wrong password")
    _assert_no_password(result)
    assert result.returncode != 0 or arguments[:2] == ["db", "up"]
    assert "Traceback" not in result.stderr or failure == "wrong password"


def test_a_database_without_the_schema_names_the_fix_and_not_the_password(
    password_server: tuple[EmbeddedServer, str],
) -> None:
    server, socket = password_server
    admin = create_engine(server.url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS abdb_bare"))
        connection.execute(text("CREATE DATABASE abdb_bare OWNER secret_user"))
    admin.dispose()
    result = _run(_url(socket, PASSWORD, "abdb_bare"), ["import", "runs"], debug=True)
    assert result.returncode == 4
    assert "is at no revision (empty); nothing was read or changed" in result.stderr
    assert "run `abdb migrate`" in result.stderr
    _assert_no_password(result)
    assert "PASSWORD" not in result.stderr and "password=" not in result.stderr


def test_an_unexpected_error_with_debug_shows_a_traceback_without_local_variables() -> None:
    trial = typer.Typer(cls=AbdbGroup, pretty_exceptions_enable=False)

    @trial.callback()
    def root(ctx: typer.Context, debug: bool = typer.Option(False, "--debug")) -> None:
        ctx.meta["abdb.debug"] = debug

    @trial.command()
    def explode() -> None:
        connection_string = f"postgresql://u:{PASSWORD}@db/x"  # a local the traceback must not show
        raise ValueError("boom " + str(len(connection_string)))

    result = CliRunner().invoke(trial, ["--debug", "explode"])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "ValueError: boom" in result.output
    assert PASSWORD not in result.output and "connection_string =" not in result.output
