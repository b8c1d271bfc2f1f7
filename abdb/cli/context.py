"""What every command shares: the settings chosen by the global options, the database they name, and the two
consoles."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import typer
from rich.console import Console

from abdb.config import Settings
from abdb.database import Database
from abdb.errors import Aborted, ConfigurationError, ConfirmationRequired, OutputError

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    settings = root.obj
    if not isinstance(settings, Settings):
        settings = Settings.from_environment()
        root.obj = settings
    return settings


def database_of(ctx: typer.Context) -> Database:
    """The command's database: resolved on first use (the backend is chosen once per command), its pooled
    connections closed when the command ends."""
    root = ctx.find_root()
    database = root.meta.get(DATABASE_KEY)
    if not isinstance(database, Database):
        database = root.meta[DATABASE_KEY] = Database(settings_of(ctx))
        root.call_on_close(database.dispose)
    return database


DATABASE_KEY = "abdb.database"


def require_confirmation(question: str, yes: bool, what: str) -> None:
    """Go on when --yes was given or the user agreed at a terminal. Without a terminal: exit 2 asking for
    --yes; declined: exit 1. Either way nothing was changed."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRequired(f"{what} needs confirmation; nothing was changed", hint="add --yes")
    if not typer.confirm(question, default=False):
        raise Aborted(f"{what} cancelled; nothing was changed")


def open_for_writing(path: Path, option: str) -> TextIO:
    """Open an output file before any work, so a bad path fails first (exit 2) and costs nothing."""
    try:
        return path.open("w")
    except OSError as error:
        raise ConfigurationError(f"{option} {path}: {error.strerror}") from None


def write_output(handle: TextIO, path: Path, option: str, lines: Iterable[str], done: str) -> None:
    """Write and close an output file; a full disk or lost permission is an OutputError (exit 12) that
    says the work itself was done, never an unexpected error."""
    try:
        with handle:
            handle.writelines(lines)
    except OSError as error:
        raise OutputError(f"could not write {option} {path}: {error.strerror or error}; {done}") from None
