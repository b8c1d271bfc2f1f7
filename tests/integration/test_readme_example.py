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
from abdb.services.importing.run import ImportOptions, import_fasta
from abdb.services.verify import VerifyOptions, verify

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
THERAPEUTICS = Path(__file__).resolve().parents[2] / "fixtures" / "good_therapeutics.fasta"


def _python_example(number: int = 0) -> str:
    examples = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(examples) > number, "docs/python-api.md lost its Python examples"
    return str(examples[number])


def _run_example() -> list[str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_python_example(), "docs/python-api.md", "exec"), {})
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
    assert not report.violations, [(r.check.name, r.examples) for r in report.violations]


def test_the_use_case_example_imports_annotates_and_verifies_a_file(
    database_url: URL, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: Engine
) -> None:
    fasta = tmp_path / "antibodies.fasta"
    records = THERAPEUTICS.read_text().split(">")[1:21]  # 20 records: 10 antibodies, heavy and light
    fasta.write_text("".join(">" + record for record in records))
    monkeypatch.setenv("ABDB_DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_example(1), "docs/python-api.md", "exec"), {})
    with engine.connect() as connection:
        jobs = connection.execute(text("SELECT status, count(*) FROM processing_jobs GROUP BY status")).all()
        schemes = connection.execute(text("SELECT DISTINCT numbering_scheme FROM antibody_domains")).scalars().all()
    assert jobs == [("COMPLETED", 10)] and sorted(schemes) == ["IMGT", "KABAT"]
