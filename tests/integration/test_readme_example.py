"""The README's "Using abdb from Python" example runs as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from abdb.db.session import dispose_all

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_example() -> str:
    section = README.read_text().split("## Using abdb from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its Python example"
    return match.group(1)


def test_the_readme_python_example_runs_against_a_real_database(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABDB_DATABASE_URL", database_url.render_as_string(hide_password=False))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_python_example(), "README.md", "exec"), {})
    dispose_all()
    assert printed.getvalue().split() == ["AKDRGYSSGWYFDY", "1", "1", "COMPLETED"]
