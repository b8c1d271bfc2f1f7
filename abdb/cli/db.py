"""``abdb db``: bring the PostgreSQL server and the database up and down."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import MofNCompleteColumn
from rich.table import Table

from abdb.cli.context import require_confirmation, settings_of, stderr, stdout
from abdb.cli.db_monitor import monitor_command
from abdb.cli.progress import progress_bar
from abdb.errors import ConfirmationRequired, VerificationFailed
from abdb.services import backup as backups
from abdb.services import database
from abdb.services.dump_tools import TableProgress

app = typer.Typer(
    help="Run the database server: up, down, status, monitor, reset, psql, backup, restore.", no_args_is_help=True
)
app.command("monitor")(monitor_command)

YES = Annotated[bool, typer.Option("--yes", "-y", help="Confirm without asking.")]


@app.command()
def up(ctx: typer.Context) -> None:
    """Start PostgreSQL 18 (embedded unless Docker answers) and create the database if needed.

    Example: abdb db up && abdb migrate
    """
    result = database.up(settings_of(ctx))
    verb = "started" if result.started else "already running"
    stdout.print(f"{result.backend} server {verb}; database {result.database} ready at {result.url}")
    stdout.print(f"home: {result.home}", markup=False)
    if result.database_created:
        stdout.print(f"created database {result.database}; next: abdb migrate")
    if result.note:
        stderr.print(f"note: {result.note}", markup=False)


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local server cleanly. The data stays for the next `abdb db up`."""
    result = database.down(settings_of(ctx))
    stdout.print(f"{result.backend} server {'stopped' if result.stopped else 'was not running'}")


@app.command()
def status(
    ctx: typer.Context,
    exact: Annotated[
        bool, typer.Option("--exact", help="Count every table exactly (reads big tables whole; slow at scale).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The same as JSON (documented, stable keys).")] = False,
) -> None:
    """Show backend, server version, database, schema revision against head, and row counts.

    Tables of more than a million rows are counted from the planner's statistics (shown with ~) unless
    --exact. Exits 3 when the database is not reachable.
    """
    report = database.status(settings_of(ctx), exact=exact)
    if as_json:
        stdout.print_json(json.dumps(report.as_json()))
        return
    stdout.print(f"backend:   {report.backend}")
    stdout.print(f"url:       {report.url}")
    stdout.print(f"home:      {report.home}", markup=False)
    stdout.print(f"server:    PostgreSQL {report.server_version}")
    stdout.print(f"database:  {report.database}")
    marker = "at head" if report.at_head else "NOT at head: run `abdb migrate`"
    stdout.print(f"revision:  {report.current_revision or 'none'} (head {report.head_revision}, {marker})")
    if report.row_counts:
        table = Table("table", "rows", title=None, box=None)
        for name, (count, counted) in report.row_counts.items():
            table.add_row(name, f"{count:,}" if counted else f"~{count:,}")
        stdout.print(table)


@app.command()
def reset(ctx: typer.Context, yes: YES = False) -> None:
    """Destroy all data: drop and recreate the database, then migrate it to head.

    Asks for confirmation at a terminal; elsewhere needs --yes.
    """
    settings = settings_of(ctx)
    require_confirmation(
        f"Destroy every row in database {settings.database_name!r}?", yes, "`abdb db reset` (it destroys every row)"
    )
    result = database.reset(settings, confirmed=True)
    stdout.print(f"database {result.up.database} recreated and migrated to {result.revision}")


# -h is psql's --host here, so only --help shows this help
@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["--help"]}
)
def psql(ctx: typer.Context) -> None:
    """Open psql (PostgreSQL 18, from the embedded wheel) on the database; extra arguments go to psql.

    Example: abdb db psql -c 'select count(*) from antibody_sequences'
    """
    code = database.psql(settings_of(ctx), list(ctx.args))
    if code != 0:
        stderr.print(f"psql exited with code {code}", markup=False)
    raise typer.Exit(code)


@contextmanager
def _tables_bar(label: str) -> Iterator[TableProgress]:
    """A bar of tables done against tables to do, naming the last one (on a terminal only)."""
    with progress_bar("{task.description}", MofNCompleteColumn(), True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int, name: str) -> None:
            shown = name if len(name) <= 30 else name[:29] + "…"  # a steady width keeps the bar in place
            bar.update(task, completed=done, total=total, description=f"{label} {escape(shown):<30}")

        yield advance


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    destination: Annotated[
        str | None,
        typer.Argument(
            help="New file (or directory); an existing folder or a name ending in / gets a timestamped backup "
            "(created if missing); none: the current folder.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="custom (one gzip file) or directory (--jobs).")] = "custom",
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Parallel dump jobs (directory format).")] = 1,
) -> None:
    """Back the database up with the wheel's pg_dump 18: written under a temporary name and renamed when
    complete, with a sidecar NAME.abdb.json (abdb version, schema revision, sha256).

    Example: abdb db backup backups/ && abdb db backup big.dir --format directory --jobs 2
    """
    with _tables_bar("backing up") as progress:
        report = backups.backup(settings_of(ctx), destination, fmt, jobs, on_progress=progress)
    stdout.print(
        f"backup {report.path} ({report.format}, {report.bytes / 1e6:.1f} MB, revision {report.revision}) "
        f"in {report.seconds:.1f} s",
        markup=False,
    )


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A backup file or directory of `abdb db backup`.", show_default=False)],
    yes: YES = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Parallel restore jobs.")] = 1,
) -> None:
    """Restore a backup into the database: refused for a backup of a newer schema (exit 4); a database
    holding data is replaced only after asking (or --yes). Then ANALYZE and `abdb verify`; exit 10 when
    verification fails.

    Example: abdb db restore backups/abdb-abdb-20261204T101500Z.dump --yes
    """
    settings = settings_of(ctx)
    try:
        with _tables_bar("restoring") as progress:
            report = backups.restore(settings, source, confirmed=yes, jobs=jobs, on_progress=progress)
    except ConfirmationRequired as asked:
        if not sys.stdin.isatty():
            raise  # its message says what would be replaced, and --yes
        require_confirmation(f"{asked.message}. Replace it?", False, "`abdb db restore`")
        with _tables_bar("restoring") as progress:
            report = backups.restore(settings, source, confirmed=True, jobs=jobs, on_progress=progress)
    stdout.print(f"restored {report.source} (revision {report.revision}) in {report.seconds:.1f} s", markup=False)
    if report.needs_migrate:
        stdout.print(f"the backup is at {report.revision}, head is {report.head}: run `abdb migrate`", markup=False)
    elif report.verified is not None:
        failed = report.verified.violations
        stdout.print(f"abdb verify: {len(report.verified.results) - len(failed)} checks passed, {len(failed)} failed")
        if failed:
            raise VerificationFailed(
                f"the restored database fails {len(failed)} check(s): {', '.join(r.check.name for r in failed)}",
                hint="abdb verify shows the rows",
            )
