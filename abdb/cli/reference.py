"""The command reference (docs/commands.md), generated from the Typer app itself.

    python -m abdb.cli.reference > docs/commands.md

``tests/cli/test_reference.py`` fails when the page differs from what this prints, the way sqlite-utils keeps
its CLI reference honest with cog: a new option cannot land undocumented.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import typer.main

from abdb.cli.app import app

HEADER = """# Command reference

Every command and option of `abdb`, generated from the command line itself
(`python -m abdb.cli.reference > docs/commands.md`; a test fails when this page is stale). Global options
come before the command: `abdb --home DIR import fasta …`.
"""


def render() -> str:
    root = typer.main.get_command(app)
    parts = [HEADER]
    _command(root, ["abdb"], parts, root.context_class(root, info_name="abdb"))
    return "\n".join(parts).rstrip() + "\n"


def _command(command: Any, path: list[str], parts: list[str], context: Any) -> None:
    """One section per command (typer's own click types are duck-typed: typer vendors click)."""
    name = " ".join(path)
    parts.append(f"## `{name}`\n")
    parts.append(f"```\n{command.get_usage(context).replace('Usage: ', '').strip()}\n```\n")
    if command.help:
        parts.append(inspect.cleandoc(command.help).replace("\b\n", "") + "\n")
    rows = [row for param in command.params if not getattr(param, "hidden", False) if (row := _parameter(param))]
    if rows:
        parts.append("\n".join(rows) + "\n")
    for sub_name in sorted(getattr(command, "commands", {})):
        sub = command.commands[sub_name]
        _command(sub, [*path, sub_name], parts, sub.context_class(sub, info_name=sub_name, parent=context))


def _parameter(param: Any) -> str | None:
    if param.param_type_name == "argument":
        return f"- `{(param.metavar or param.name).upper()}` (argument): {getattr(param, 'help', None) or ''}".rstrip(
            ": "
        )
    if param.param_type_name != "option" or param.name == "help":
        return None
    names = " / ".join(param.opts + param.secondary_opts)
    default = param.default
    shown = ""
    if param.show_default is not False and default not in (None, False, "", ()) and not callable(default):
        shown = f" (default: {getattr(default, 'value', default)})"
    return f"- `{names}`: {param.help or ''}{shown}"


if __name__ == "__main__":
    sys.stdout.write(render())
