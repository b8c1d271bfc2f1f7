"""`abdb import fasta` against real PostgreSQL: exact rows, idempotency, conflicts, atomic batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from abdb.config import Settings
from abdb.io.pairing import read_antibodies
from abdb.services.importing.run import ImportOptions, import_fasta

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
THERAPEUTICS = FIXTURES / "good_therapeutics.fasta"


@pytest.fixture
def import_settings(settings: Settings) -> Iterator[Settings]:
    yield settings


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("antibody_sequences", "antibody_chains", "processing_jobs")
        )


def test_the_therapeutics_import_to_exactly_their_rows(import_settings: Settings, engine: Engine) -> None:
    report = import_fasta(import_settings, [THERAPEUTICS], ImportOptions(batch_size=7))
    assert report.clean and report.total("inserted") == 60
    assert _counts(engine) == (60, 120, 60)
    expected = {
        (r.name, c.name, c.chain_type.value, c.sequence)
        for r in read_antibodies(THERAPEUTICS)
        if not isinstance(r, type(None))
        for c in r.chains  # type: ignore[union-attr]
    }
    with engine.connect() as connection:
        stored = set(
            connection.execute(
                text(
                    "SELECT s.name, c.name, c.chain_type, c.sequence FROM antibody_chains c "
                    "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id"
                )
            ).all()
        )
        jobs = connection.execute(text("SELECT DISTINCT job_type, status FROM processing_jobs")).all()
        provenance = connection.execute(
            text("SELECT metadata->'import'->>'record' FROM antibody_sequences WHERE name = 'abituzumab'")
        ).scalar_one()
        versions = connection.execute(text("SELECT DISTINCT uuid_extract_version(id) FROM antibody_chains")).all()
    assert stored == expected
    assert jobs == [("ANNOTATION", "PENDING")]
    assert provenance == "line 1"
    assert versions == [(7,)]


def test_reimporting_the_same_file_adds_nothing(import_settings: Settings, engine: Engine) -> None:
    import_fasta(import_settings, [THERAPEUTICS], ImportOptions())
    again = import_fasta(import_settings, [THERAPEUTICS], ImportOptions())
    assert again.total("inserted") == 0 and again.total("unchanged") == 60 and again.clean
    assert _counts(engine) == (60, 120, 60)


def test_the_same_name_with_other_content_is_a_conflict_not_an_overwrite(
    import_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    import_fasta(import_settings, [THERAPEUTICS], ImportOptions())
    changed = tmp_path / "changed.fasta"
    changed.write_text(">abituzumab|heavy\n" + "EVQLVESGGGLVQPGGSLRLSCAASGFTFS" * 3 + "\n")
    report = import_fasta(import_settings, [changed], ImportOptions())
    assert report.total("conflicting") == 1 and not report.clean
    assert "already stored; not overwritten" in report.rejections[0].reason
    assert _counts(engine) == (60, 120, 60)


def test_a_dry_run_stores_nothing(import_settings: Settings, engine: Engine) -> None:
    report = import_fasta(import_settings, [THERAPEUTICS], ImportOptions(dry_run=True))
    assert report.total("inserted") == 60
    assert _counts(engine) == (0, 0, 0)


def test_two_imports_of_the_same_file_at_once_create_no_duplicates(import_settings: Settings, engine: Engine) -> None:
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        import_fasta(import_settings, [THERAPEUTICS], ImportOptions(batch_size=5))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert _counts(engine) == (60, 120, 60)
