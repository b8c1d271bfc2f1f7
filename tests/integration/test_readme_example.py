"""The Python API page's example (docs/python-api.md) runs as written, and only touches what it creates."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.db.session import dispose_all
from abdb.services.importing.run import ImportOptions, import_fasta
from abdb.services.verify import VerifyOptions, verify

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
THERAPEUTICS = Path(__file__).resolve().parents[2] / "fixtures" / "good_therapeutics.fasta"


def _python_example() -> str:
    section = PAGE.read_text()
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/python-api.md lost its Python example"
    return match.group(1)


def _run_example() -> list[str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_python_example(), "docs/python-api.md", "exec"), {})
    dispose_all()
    return printed.getvalue().split()


def test_the_readme_python_example_runs_against_a_real_database(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABDB_DATABASE_URL", database_url.render_as_string(hide_password=False))
    assert _run_example() == ["AKDRGYSSGWYFDY", "1", "1", "COMPLETED"]


def test_the_readme_example_run_twice_leaves_other_antibodies_jobs_alone_and_verify_clean(
    database_url: URL, monkeypatch: pytest.MonkeyPatch, engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, home=tmp_path)
    import_fasta(settings, [THERAPEUTICS], ImportOptions())  # 60 antibodies, each with a PENDING job
    dispose_all()
    monkeypatch.setenv("ABDB_DATABASE_URL", database_url.render_as_string(hide_password=False))
    first, second = _run_example(), _run_example()
    assert first == second == ["AKDRGYSSGWYFDY", "1", "1", "COMPLETED"]
    with engine.connect() as connection:
        pending = connection.execute(text("SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'")).scalar()
        examples = connection.execute(
            text("SELECT count(*) FROM antibody_sequences WHERE name LIKE 'example-mAb%'")
        ).scalar()
    assert pending == 60 and examples == 1
    report = verify(settings, VerifyOptions())
    dispose_all()
    assert not report.violations, [(r.check.name, r.examples) for r in report.violations]
