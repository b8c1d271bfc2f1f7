"""The one place where an AbdbError becomes a message on stderr and an exit code."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from abdb.cli.context import stderr
from abdb.config import Settings
from abdb.errors import AbdbError, BackendError, DatabaseUnreachable
from abdb.services.stopping import signal_of

UNEXPECTED_EXIT_CODE = 1
BROKEN_PIPE_EXIT_CODE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the signal


def _redact(ctx: typer.Context, text: str) -> str:
    settings = ctx.find_root().obj
    return settings.redact(text) if isinstance(settings, Settings) else text


def _where(ctx: typer.Context) -> str:
    """Which local server was meant: the home decides it, and a wrong one is the usual reason."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings) or settings.database_url or settings.production_url:
        return ""
    return f" [abdb home: {settings.home}; --home or ABDB_HOME to choose another]"


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.find_root().meta.get("abdb.debug"))


class AbdbGroup(TyperGroup):
    """Typer group whose ``invoke`` turns abdb's errors into messages and exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AbdbError as error:
            # One line, so that CI logs and `2>&1 | tail -1` show the whole story.
            hint = f" (hint: {error.hint})" if error.hint else ""
            hint += _where(ctx) if isinstance(error, DatabaseUnreachable | BackendError) else ""
            stderr.print(f"[bold red]error:[/] {escape(_redact(ctx, error.message + hint))}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM outside a command's own clean-up
            stderr.print("interrupted", markup=False)
            raise typer.Exit(128 + signal_of(stop)) from None
        except BrokenPipeError:
            # The reader of our output went away (`abdb ... | head`): stop quietly, as Unix tools do.
            _silence_stdout()
            raise typer.Exit(BROKEN_PIPE_EXIT_CODE) from None
        except Exception as error:  # the last line of defence: one line, redacted, no locals
            if _is_cli_control_flow(error):
                raise
            stderr.print(f"error: unexpected {type(error).__name__}: {_redact(ctx, str(error))}", markup=False)
            if _debug(ctx):
                stderr.print(_redact(ctx, traceback.format_exc()), markup=False)
            else:
                stderr.print("(rerun with --debug for a traceback)", markup=False)
            raise typer.Exit(UNEXPECTED_EXIT_CODE) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing at exit does not raise a second BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _is_cli_control_flow(error: Exception) -> bool:
    """Exit, Abort and usage errors belong to typer (or click), which renders them itself."""
    return type(error).__module__.split(".")[0] in {"typer", "click"}
