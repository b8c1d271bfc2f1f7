"""``abdb migrate``: move the schema between Alembic revisions and check it against the models."""

from __future__ import annotations

from typing import Annotated

import typer

from abdb.cli.context import require_confirmation, settings_of, stdout
from abdb.errors import MigrationError
from abdb.services import migrations

app = typer.Typer(
    help="Upgrade the schema (default: to head), downgrade, show the current revision and history, check for drift.",
    invoke_without_command=True,
)


@app.callback()
def upgrade(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Target revision.")] = "head",
) -> None:
    """Upgrade the schema to head (or --to REV).

    Example: abdb migrate; abdb migrate --to 0001
    """
    if ctx.invoked_subcommand is not None:
        return
    result = migrations.migrate_to(settings_of(ctx), to)
    stdout.print(result.message, markup=False)


@app.command()
def down(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, -1 for one step, base for nothing.")] = "-1",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Confirm without asking.")] = False,
) -> None:
    """Downgrade the schema (destroys the data of dropped tables). Needs confirmation or --yes."""
    require_confirmation(
        f"Downgrade the schema to {revision}? Dropped tables lose their rows.", yes, "a downgrade (it can drop data)"
    )
    result = migrations.migrate_down(settings_of(ctx), revision)
    stdout.print(result.message, markup=False)


@app.command()
def current(ctx: typer.Context) -> None:
    """Print the database's revision and whether it is at head."""
    state = migrations.revision_state(settings_of(ctx))
    suffix = "(head)" if state.at_head else f"(head is {state.head})"
    stdout.print(f"{state.current or 'none'} {suffix}")


@app.command()
def history(ctx: typer.Context) -> None:
    """List the revisions, newest first, marking head and current."""
    for entry in migrations.history(settings_of(ctx)):
        marks = [m for m, on in (("head", entry.is_head), ("current", entry.is_current)) if on]
        mark = f" ({', '.join(marks)})" if marks else ""
        stdout.print(f"{entry.down_revision or '<base>'} -> {entry.revision}{mark}: {entry.message}")


@app.command()
def check(ctx: typer.Context) -> None:
    """Exit 4 when the database is not at head or differs from the models.

    Beyond `alembic check`, it compares vocabulary rows and the updated_at triggers.
    """
    report = migrations.check(settings_of(ctx))
    if report.clean:
        stdout.print(f"schema at head {report.state.head}; no drift")
        return
    raise MigrationError("schema check failed:\n  " + "\n  ".join(report.problems))
