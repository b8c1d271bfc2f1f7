"""Help, exit codes and error messages of the command line, in process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from abdb.cli.app import app
from abdb.errors import EXIT_CODES

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "pa55-W0rd_that_must_not_leak"
runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"ABDB_BACKEND": "embedded"})
    return result.exit_code, result.output


def _commands() -> list[list[str]]:
    import typer.main

    root = typer.main.get_command(app)
    found = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", {})
        found.append([name])
        found.extend([name, sub] for sub in subcommands)
    return found


def test_help_needs_no_database() -> None:
    code, output = _invoke("--database-url", "postgresql://u:x@127.0.0.1:1/nothing", "--help")
    assert code == 0
    assert "db" in output and "migrate" in output


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_explains_itself_and_is_in_the_readme(command: list[str]) -> None:
    code, output = _invoke(*command, "--help")
    assert code == 0
    assert len(output.strip().splitlines()) > 3
    assert f"abdb {' '.join(command)}" in README.read_text()


def test_every_exit_code_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for code in EXIT_CODES:
        assert re.search(rf"\|\s*{code}\s*\|", readme), code


@pytest.mark.parametrize(
    "command",
    [["db", "status"], ["migrate"], ["migrate", "check"], ["migrate", "current"], ["db", "reset", "--yes"]],
)
def test_an_unreachable_server_gives_exit_3_and_never_the_password(command: list[str]) -> None:
    url = f"postgresql://alice:{SECRET}@127.0.0.1:1/abdb"
    code, output = _invoke("--debug", "--database-url", url, *command)
    assert code == 3
    assert "not reachable" in output
    assert SECRET not in output
    assert "alice:***@127.0.0.1:1/abdb" in output


def test_a_successful_command_never_prints_the_password(database_url: URL) -> None:
    url = database_url.set(password=SECRET).render_as_string(hide_password=False)
    code, output = _invoke("--database-url", url, "db", "status")
    assert code == 0, output
    assert SECRET not in output and "***" in output


def test_a_database_that_does_not_exist_names_the_fix(server_url: URL) -> None:
    url = server_url.set(database="no_such_db", password=SECRET).render_as_string(hide_password=False)
    code, output = _invoke("--database-url", url, "migrate", "current")
    assert code == 3
    assert "'no_such_db' does not exist" in output and "abdb db up" in output
    assert SECRET not in output


def test_a_bad_environment_name_is_a_usage_error() -> None:
    result = runner.invoke(app, ["db", "status"], env={"ABDB_ENV": "staging"})
    assert result.exit_code == 2
    assert "staging" in result.output
