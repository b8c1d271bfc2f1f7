"""``abdb``: the root command, its global options, and the entry point."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from abdb import __version__
from abdb.cli import annotating, db, exporting, importing, migrate, searching, verifying
from abdb.cli.context import stdout
from abdb.cli.errors import AbdbGroup
from abdb.config import BackendName, Environment, Settings
from abdb.services.stopping import handle_sigterm_like_ctrl_c

app = typer.Typer(
    cls=AbdbGroup,
    name="abdb",
    help="Administer and load the antibody-sequence database (PostgreSQL 18).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db.app, name="db")
app.add_typer(migrate.app, name="migrate")
app.add_typer(importing.app, name="import")
app.command("annotate")(annotating.annotate_command)
app.add_typer(annotating.jobs_app, name="jobs")
app.command("verify")(verifying.verify_command)
app.add_typer(exporting.app, name="export")
app.command("list")(exporting.list_command)
app.command("show")(exporting.show_command)
app.add_typer(searching.app, name="search")
app.command("stats")(searching.stats_command)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"abdb {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="PostgreSQL URL; overrides ABDB_DATABASE_URL and the local backend. Its password is never printed.",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        Environment | None,
        typer.Option("--env", help="Settings profile; default from ABDB_ENV, else development."),
    ] = None,
    backend: Annotated[
        BackendName | None,
        typer.Option(
            "--backend",
            help="Who runs PostgreSQL: auto (Docker when an engine and Compose v2 answer, else embedded), embedded "
            "or docker. Default from ABDB_BACKEND, else auto.",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Folder for the embedded server's data; default ABDB_HOME, else the user data folder "
            "(~/.local/share/abdb on Linux), whatever the working folder.",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show tracebacks of unexpected errors and log every SQL statement with its duration to stderr "
            "(parameters redacted; ABDB_LOG_SQL=1 logs the statements alone).",
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.meta["abdb.debug"] = debug
    settings = Settings.from_environment().with_overrides(
        database_url=database_url,
        environment=env,
        backend=backend,
        home=home.expanduser().resolve() if home else None,
    )
    ctx.obj = settings.with_overrides(log_sql=True) if debug else settings
    _configure_logging(debug, ctx.obj.log_sql)


class _CurrentStderr(logging.Handler):
    """Writes to whatever sys.stderr is when a record comes (a test runner swaps it per invocation)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


_SQL_TO_STDERR = _CurrentStderr()
_SQL_TO_STDERR.setFormatter(logging.Formatter("sql %(message)s"))


def _configure_logging(debug: bool, log_sql: bool) -> None:
    """Library log records (e.g. SQLAlchemy's pool resetting a connection that a Ctrl-C broke) would reach
    stderr as tracebacks through logging's last-resort handler; only --debug shows them. SQL statements go
    to stderr too when asked for, so that stdout stays the command's output."""
    statements = logging.getLogger("abdb.sql")
    statements.propagate = False
    statements.setLevel(logging.INFO if log_sql else logging.WARNING)
    if log_sql and _SQL_TO_STDERR not in statements.handlers:
        statements.addHandler(_SQL_TO_STDERR)
    elif not log_sql:
        statements.removeHandler(_SQL_TO_STDERR)
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


def main() -> None:
    handle_sigterm_like_ctrl_c()
    app(prog_name="abdb")
