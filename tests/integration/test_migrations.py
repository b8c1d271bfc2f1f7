"""Migrations go up and down cleanly, and `abdb migrate check` sees drift that `alembic check` misses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.services import migrations
from abdb.services.importing.run import ImportOptions, import_fasta

REVISIONS = [entry.revision for entry in reversed(migrations.history(Settings(), with_current=False))]

LEFTOVERS = text(
    """
    SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'
    UNION ALL SELECT 'type ' || typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
    UNION ALL SELECT 'function ' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'sequence ' || sequencename FROM pg_sequences WHERE schemaname = 'public'
    """
)


def _execute(url: URL, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        result = connection.execute(text(statement))
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows


def _leftovers(url: URL) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        found = [str(row[0]) for row in connection.execute(LEFTOVERS)]
    engine.dispose()
    return found


def _settings(url: URL, tmp_path: Path) -> Settings:
    return Settings(database_url=url, home=tmp_path)


def test_an_empty_database_upgrades_to_head_and_shows_no_drift(empty_database_url: URL, tmp_path: Path) -> None:
    settings = _settings(empty_database_url, tmp_path)
    before, after = migrations.upgrade(settings)
    assert (before, after) == (None, migrations.head_revision())
    report = migrations.check(settings)
    assert report.clean, report.problems


@pytest.mark.parametrize("revision", REVISIONS)
def test_each_revision_goes_up_down_and_up_again_leaving_nothing_behind(
    empty_database_url: URL, tmp_path: Path, revision: str
) -> None:
    settings = _settings(empty_database_url, tmp_path)
    previous = REVISIONS[REVISIONS.index(revision) - 1] if REVISIONS.index(revision) > 0 else None
    if previous:
        migrations.upgrade(settings, previous)
    objects_before = sorted(_leftovers(empty_database_url))
    migrations.upgrade(settings, revision)
    migrations.downgrade(settings, previous or "base")
    assert sorted(_leftovers(empty_database_url)) == objects_before
    migrations.upgrade(settings, revision)
    assert migrations.revision_state(settings).current == revision


def test_downgrading_to_base_removes_every_table_type_function_and_trigger(database_url: URL, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path)
    assert _leftovers(database_url)
    migrations.downgrade(settings, "base")
    assert _leftovers(database_url) == []


def test_check_reports_a_database_that_is_not_at_head(database_url: URL, tmp_path: Path) -> None:
    settings = _settings(database_url, tmp_path)
    migrations.downgrade(settings, "base")
    report = migrations.check(settings)
    assert not report.clean
    assert "head is" in report.problems[0]


DRIFT = {
    "a vocabulary value the code does not know": (
        "INSERT INTO chain_types (code) VALUES ('NANOBODY')",
        "values in the database but not the code: ['NANOBODY']",
    ),
    "a vocabulary value missing from the database": (
        "DELETE FROM job_types WHERE code = 'ANALYSIS'",
        "values in the code but not the database: ['ANALYSIS']",
    ),
    "a dropped updated_at trigger": (
        "DROP TRIGGER trg_antibody_regions_updated_at ON antibody_regions",
        "table antibody_regions: updated_at trigger missing",
    ),
    "a column the models do not have": (
        "ALTER TABLE antibody_chains ADD COLUMN notes text",
        "notes",
    ),
    "a dropped index": ("DROP INDEX ix_antibody_chains_chain_type", "ix_antibody_chains_chain_type"),
    "a changed uuidv7 default": (
        "ALTER TABLE antibody_sequences ALTER COLUMN id SET DEFAULT gen_random_uuid()",
        "gen_random_uuid",
    ),
}


@pytest.mark.parametrize(("statement", "expected"), DRIFT.values(), ids=list(DRIFT))
def test_check_reports_drift_between_models_and_database(
    database_url: URL, tmp_path: Path, statement: str, expected: str
) -> None:
    settings = _settings(database_url, tmp_path)
    assert migrations.check(settings).clean
    _execute(database_url, statement)
    report = migrations.check(settings)
    assert not report.clean
    assert any(expected in problem for problem in report.problems), report.problems


def test_migration_0006_recomputes_stored_checksums_exactly_as_python_does(settings: Settings, engine: Engine) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    import_fasta(settings, [fixtures / "good_therapeutics.fasta"], ImportOptions())
    with engine.connect() as connection:
        before = dict(connection.execute(text("SELECT id, content_checksum FROM antibody_sequences")).all())
    migrations.downgrade(settings, "0005")
    with engine.connect() as connection:
        old_style = dict(connection.execute(text("SELECT id, content_checksum FROM antibody_sequences")).all())
    migrations.upgrade(settings)
    with engine.connect() as connection:
        after = dict(connection.execute(text("SELECT id, content_checksum FROM antibody_sequences")).all())
    assert len(before) == 60 and after == before
    assert all(old_style[key] != before[key] for key in before)
