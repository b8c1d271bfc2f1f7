"""Migrations go up and down cleanly, and `abdb migrate check` sees drift that `alembic check` misses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.domain.checks import Severity
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


TREE_ROWS = (
    "SELECT 'antibody_sequences', id::text, md5(row(name, content_checksum, import_run_id)::text) "
    "FROM antibody_sequences "
    "UNION ALL SELECT 'antibody_chains', id::text, md5(row(antibody_sequence_id, sequence, chain_type)::text) "
    "FROM antibody_chains "
    "UNION ALL SELECT 'antibody_domains', id::text, md5(row(chain_id, numbering_scheme, start_position)::text) "
    "FROM antibody_domains "
    "UNION ALL SELECT 'antibody_regions', id::text, md5(row(domain_id, region_type, sequence)::text) "
    "FROM antibody_regions "
    "UNION ALL SELECT 'sequence_features', id::text, md5(row(sequence_id, chain_id, name, value)::text) "
    "FROM sequence_features "
    "UNION ALL SELECT 'processing_jobs', id::text, md5(row(sequence_id, status, started_at)::text) "
    "FROM processing_jobs "
    "UNION ALL SELECT 'external_tool_results', id::text, md5(row(job_id, tool_name, success)::text) "
    "FROM external_tool_results"
)


def test_the_colocation_keys_keep_every_row_of_a_populated_database_both_ways(
    settings: Settings, database_url: URL
) -> None:
    """0007 → 0008 fills the new keys from the parents and queues the PENDING jobs; 0008 → 0007 gives back the
    same rows; abdb verify is clean after each upgrade."""
    from abdb.services.annotating.run import AnnotateOptions, annotate
    from abdb.services.importing.run import import_legacy_json
    from abdb.services.verify import VerifyOptions, verify

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    import_fasta(settings, [fixtures / "annotate_chains.fasta"], ImportOptions())
    annotate(settings, AnnotateOptions(schemes=("imgt", "kabat"), limit=4))  # done, failed and PENDING jobs
    import_legacy_json(settings, sorted(fixtures.glob("legacy_*.json")), ImportOptions())
    at_head = sorted(_execute(database_url, TREE_ROWS))
    pending = _execute(database_url, "SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'")[0][0]
    assert len(at_head) > 200 and pending
    migrations.downgrade(settings, "0007")
    assert sorted(_execute(database_url, TREE_ROWS)) == at_head
    migrations.upgrade(settings)
    assert sorted(_execute(database_url, TREE_ROWS)) == at_head
    assert _execute(database_url, "SELECT count(*) FROM job_queue")[0][0] == pending
    report = verify(settings, VerifyOptions(fail_on=Severity.WARNING))
    assert not report.violations, [(r.check.name, r.count) for r in report.violations]
    annotate(settings, AnnotateOptions(schemes=("imgt",)))  # the queued jobs are claimed after the upgrade
    assert _execute(database_url, "SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'")[0][0] == 0


def test_the_search_rows_are_filled_for_stored_antibodies_exactly_as_the_writers_write_them(
    settings: Settings, database_url: URL
) -> None:
    """0009 → 0010 fills cdr_search from the tree, its residue pairs computed by the server's
    abdb_residue_pairs; the importer and the annotation writer compute them in Python. Both must give the
    same rows, and searches the same answers, on imported and annotated (three schemes) antibodies."""
    from abdb.domain.residue_pairs import residue_pairs
    from abdb.domain.search import RegionSearch, SearchKind
    from abdb.services.annotating.run import AnnotateOptions, annotate
    from abdb.services.importing.run import import_legacy_json
    from abdb.services.searching import search_regions

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    import_fasta(settings, [fixtures / "annotate_chains.fasta"], ImportOptions())
    annotate(settings, AnnotateOptions(schemes=("imgt", "kabat", "chothia")))
    import_legacy_json(settings, sorted(fixtures.glob("legacy_*.json")), ImportOptions())
    rows = "SELECT * FROM cdr_search"
    written = sorted(_execute(database_url, rows))
    assert len(written) > 60 and {row[4] for row in written} == {"IMGT", "KABAT", "CHOTHIA"}
    assert all(list(row[8]) == residue_pairs(row[7]) for row in written)
    cdr3 = next(row[7] for row in written if row[3] == "CDR3" and row[4] == "KABAT" and len(row[7]) >= 9)
    searches = [
        RegionSearch(f"{cdr3[0]}.{cdr3[2:4]}", SearchKind.MOTIF, limit=1000, scheme="kabat"),
        RegionSearch(cdr3[1:4], SearchKind.SUBSTRING, limit=1000, scheme="kabat"),
        RegionSearch(cdr3, SearchKind.EDITS, 2, limit=1000, scheme="kabat"),
    ]
    answers = [search_regions(settings, search) for search in searches]
    assert all(answers)
    migrations.downgrade(settings, "0009")
    assert _execute(database_url, "SELECT to_regclass('cdr_search')")[0][0] is None
    migrations.upgrade(settings)
    assert sorted(_execute(database_url, rows)) == written
    assert [search_regions(settings, search) for search in searches] == answers
