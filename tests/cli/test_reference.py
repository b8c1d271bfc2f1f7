"""docs/commands.md is generated from the command line and must not go stale."""

from __future__ import annotations

from pathlib import Path

from abdb.cli.reference import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def test_the_command_reference_matches_the_command_line() -> None:
    assert PAGE.read_text() == render(), "regenerate it: python -m abdb.cli.reference > docs/commands.md"


def test_the_reference_names_every_option_of_every_command() -> None:
    import typer.main

    from abdb.cli.app import app

    text = PAGE.read_text()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        for sub in [command, *getattr(command, "commands", {}).values()]:
            for param in sub.params:
                if param.param_type_name == "option" and param.name != "help":
                    assert f"`{param.opts[0]}" in text, (name, param.opts)
