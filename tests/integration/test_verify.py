"""`abdb verify`: a clean database verifies clean; each corruption, made with plain SQL, is named and counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from abdb.cli.app import app
from abdb.config import Settings
from abdb.domain.checks import CHECKS
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.importing.run import ImportOptions, import_fasta, import_legacy_json
from tests.conftest import _admin, _fresh_database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ONE_DOMAIN = (
    "(SELECT d.id FROM antibody_domains d JOIN antibody_chains c ON c.id = d.chain_id "
    "WHERE c.name = 'heavy' AND d.domain_type = 'VARIABLE' ORDER BY d.id LIMIT 1)"
)
ONE_REGION = f"(SELECT id FROM antibody_regions WHERE domain_id = {ONE_DOMAIN} AND region_type = 'CDR1')"
ONE_FEATURE = "(SELECT id FROM sequence_features WHERE chain_id IS NOT NULL ORDER BY id LIMIT 1)"
ONE_RUN = "(SELECT import_run_id FROM antibody_sequences WHERE import_run_id IS NOT NULL ORDER BY id LIMIT 1)"
UNANNOTATED_CHAIN = "(SELECT id FROM antibody_chains WHERE name = 'heavy_chain_1')"

# check → (plain SQL that breaks exactly that, the count verify must report)
CORRUPTIONS: dict[str, tuple[list[str], int]] = {
    "schema.drift": (["DROP INDEX ix_antibody_chains_locus"], 1),
    "schema.vocabularies": (["INSERT INTO chain_types (code) VALUES ('NANOBODY')"], 1),
    "schema.check_constraints": (
        ["ALTER TABLE antibody_chains DROP CONSTRAINT ck_antibody_chains_sequence_length_matches"],
        1,
    ),
    "schema.triggers": (["ALTER TABLE users DISABLE TRIGGER trg_users_updated_at"], 1),
    "schema.uuidv7_defaults": (["ALTER TABLE users ALTER COLUMN id SET DEFAULT gen_random_uuid()"], 1),
    "identity.uuid_version": (
        ["INSERT INTO users (id, email, username) VALUES (gen_random_uuid(), 'v4@example.org', 'v4')"],
        1,
    ),
    "identity.uuid_time": (
        ["INSERT INTO users (id, email, username) VALUES (uuidv7(interval '2 days'), 'f@example.org', 'future')"],
        1,
    ),
    "chains.sequence_length": (
        [
            "ALTER TABLE antibody_chains DROP CONSTRAINT ck_antibody_chains_sequence_length_matches",
            f"UPDATE antibody_chains SET sequence_length = sequence_length + 1 WHERE id = {UNANNOTATED_CHAIN}",
        ],
        1,
    ),
    "chains.alphabet": (
        [f"UPDATE antibody_chains SET sequence = 'J' || substr(sequence, 2) WHERE id = {UNANNOTATED_CHAIN}"],
        1,
    ),
    "domains.inside_chain": ([f"UPDATE antibody_domains SET end_position = 5000 WHERE id = {ONE_DOMAIN}"], 1),
    "domains.sequence": ([f"UPDATE antibody_domains SET sequence = lower(sequence) WHERE id = {ONE_DOMAIN}"], 1),
    "regions.inside_domain": ([f"UPDATE antibody_regions SET end_position = 4000 WHERE id = {ONE_REGION}"], 1),
    "regions.sequence": ([f"UPDATE antibody_regions SET sequence = 'WWW' WHERE id = {ONE_REGION}"], 1),
    "regions.overlap": (
        [f"UPDATE antibody_regions SET start_position = start_position - 1 WHERE id = {ONE_REGION}"],
        1,
    ),
    "regions.order": (
        [
            f"UPDATE antibody_regions SET region_type = CASE region_type WHEN 'CDR1' THEN 'FR2' ELSE 'CDR1' END "
            f"WHERE domain_id = {ONE_DOMAIN} AND region_type IN ('CDR1', 'FR2')"
        ],
        1,  # FR1, FR2, CDR1, CDR2, ...: only CDR1 comes after a later region
    ),
    "regions.tiling": (
        [
            f"UPDATE antibody_regions SET end_position = end_position - 1 "
            f"WHERE domain_id = {ONE_DOMAIN} AND region_type = 'FR4'"
        ],
        1,
    ),
    "features.inside_chain": ([f"UPDATE sequence_features SET end_position = 9999 WHERE id = {ONE_FEATURE}"], 1),
    "features.chain_of_sequence": (  # the composite key refuses it: a corruption has to drop the key first
        [
            "ALTER TABLE sequence_features DROP CONSTRAINT fk_sequence_features_chain_id_antibody_chains",
            f"UPDATE sequence_features SET chain_id = {UNANNOTATED_CHAIN} WHERE id = {ONE_FEATURE}",
        ],
        1,
    ),
    "features.confidence": (
        [
            "ALTER TABLE sequence_features DROP CONSTRAINT ck_sequence_features_confidence_score_range",
            f"UPDATE sequence_features SET confidence_score = 1.5 WHERE id = {ONE_FEATURE}",
        ],
        1,
    ),
    "jobs.completed_at": (
        [
            "UPDATE processing_jobs SET completed_at = NULL, started_at = NULL WHERE id = "
            "(SELECT id FROM processing_jobs WHERE status = 'COMPLETED' ORDER BY id LIMIT 1)"
        ],
        1,
    ),
    "jobs.error_message": (["UPDATE processing_jobs SET error_message = NULL WHERE status = 'FAILED'"], 2),
    "jobs.stuck": (
        [
            "UPDATE processing_jobs SET status = 'RUNNING', started_at = now() - interval '2 hours', "
            "completed_at = NULL WHERE id = (SELECT id FROM processing_jobs WHERE status = 'PENDING' LIMIT 1)"
        ],
        1,
    ),
    "jobs.annotation_output": (
        [
            "DELETE FROM antibody_domains WHERE chain_id IN (SELECT c.id FROM antibody_chains c "
            "JOIN processing_jobs j ON j.sequence_id = c.antibody_sequence_id AND j.status = 'COMPLETED' "
            "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id AND s.name = 'vhh')"
        ],
        1,
    ),
    "jobs.tool_results": (
        [
            "INSERT INTO external_tool_results (antibody_sequence_id, job_id, tool_name, success) "
            "SELECT j.sequence_id, j.id, 'ANARCI', true "
            "FROM processing_jobs j JOIN antibody_sequences s ON s.id = j.sequence_id AND s.name = 'vhh' "
            "WHERE j.status = 'COMPLETED'"
        ],
        1,
    ),
    "search.rows": (
        [
            f"DELETE FROM cdr_search WHERE region_id = {ONE_REGION}",  # a CDR no search finds
            "UPDATE cdr_search SET antibody_name = 'renamed' WHERE region_id = "
            "(SELECT region_id FROM cdr_search WHERE region_type = 'CDR3' ORDER BY region_id LIMIT 1)",
        ],
        2,
    ),
    "search.pairs": (
        [
            "UPDATE cdr_search SET residue_pairs = residue_pairs[2:] WHERE region_id = "
            "(SELECT region_id FROM cdr_search WHERE region_type = 'CDR2' ORDER BY region_id LIMIT 1)"
        ],
        1,
    ),  # a motif search would miss that CDR
    "jobs.queue": (
        [
            "DELETE FROM job_queue WHERE job_id = "
            "(SELECT id FROM processing_jobs WHERE status = 'PENDING' ORDER BY id LIMIT 1)"
        ],
        1,
    ),
    "duplicates.name": (
        ["INSERT INTO antibody_sequences (name, content_checksum) VALUES ('durvalumab', repeat('0', 64))"],
        1,
    ),
    "duplicates.content": (
        [
            "INSERT INTO antibody_sequences (name, content_checksum) "
            "SELECT 'durvalumab-copy', content_checksum FROM antibody_sequences WHERE name = 'durvalumab'"
        ],
        1,
    ),
    "provenance.counts": ([f"UPDATE import_runs SET inserted = 0 WHERE id = {ONE_RUN}"], 1),
    "provenance.missing": (
        [
            "DELETE FROM antibody_sequences WHERE id = "
            f"(SELECT id FROM antibody_sequences WHERE import_run_id = {ONE_RUN} LIMIT 1)"
        ],
        1,
    ),
    "provenance.orphans": (
        [
            "INSERT INTO antibody_sequences (name, import_run_id) VALUES ('from a run that never was', uuidv7())",
        ],
        1,
    ),
    "provenance.stuck": (
        [f"UPDATE import_runs SET status = 'RUNNING', started_at = now() - interval '3 hours' WHERE id = {ONE_RUN}"],
        1,
    ),
}


@pytest.fixture(scope="module")
def populated_template(server_url: URL, template_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """FASTA chains annotated under three schemes (two jobs FAILED: not antibodies), then every legacy shape
    (whose unannotated records stay PENDING)."""
    generator = _fresh_database(server_url, template_url.database)
    url = next(generator)
    settings = Settings(database_url=url, home=tmp_path_factory.mktemp("home"))
    import_fasta(settings, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(settings, AnnotateOptions(schemes=("imgt", "kabat", "chothia")))
    import_legacy_json(settings, [FIXTURES / "legacy", *sorted(FIXTURES.glob("legacy_*.json"))], ImportOptions())
    _admin(server_url, f'ALTER DATABASE "{url.database}" WITH ALLOW_CONNECTIONS false')
    yield str(url.database)
    _admin(server_url, f'ALTER DATABASE "{url.database}" WITH ALLOW_CONNECTIONS true')
    next(generator, None)


@pytest.fixture
def populated(server_url: URL, populated_template: str) -> Iterator[URL]:
    yield from _fresh_database(server_url, populated_template)


def _verify(url: URL, *arguments: str) -> tuple[Result, dict[str, dict[str, object]]]:
    result = CliRunner().invoke(
        app, ["--database-url", url.render_as_string(hide_password=False), "verify", "--format", "json", *arguments]
    )
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]} if result.stdout.startswith("{") else {}
    return result, checks


def _run(url: URL, statements: list[str]) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def test_every_check_has_a_corruption_test() -> None:
    assert sorted(CORRUPTIONS) == sorted(c.name for c in CHECKS if c.name != "schema.revision")


def test_a_clean_import_and_annotation_verify_clean(populated: URL) -> None:
    result, checks = _verify(populated, "--fail-on", "warning")
    assert result.exit_code == 0, result.output
    assert all(c["status"] == "passed" for c in checks.values()), [c for c in checks.values() if c["count"]]
    counts = (
        _scalar(populated, "SELECT count(*) FROM antibody_regions"),
        _scalar(populated, "SELECT count(*) FROM processing_jobs WHERE status = 'FAILED'"),
    )
    assert counts[0] > 100 and counts[1] == 2  # the clean state is not empty: regions and failed jobs exist


def _scalar(url: URL, sql: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        value = int(connection.execute(text(sql)).scalar_one())
    engine.dispose()
    return value


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
def test_each_corruption_is_named_counted_and_fails_verification(populated: URL, check: str) -> None:
    statements, expected = CORRUPTIONS[check]
    _run(populated, statements)
    result, checks = _verify(populated, "--fail-on", "warning")
    assert result.exit_code == 10, result.output
    assert checks[check]["status"] == "failed"
    assert checks[check]["count"] == expected
    assert checks[check]["examples"]
    assert check in result.output.splitlines()[-1]  # the one-line error names it


def test_a_database_behind_head_cannot_be_verified(populated: URL) -> None:
    _run(populated, ["UPDATE alembic_version SET version_num = '0004'"])
    result, _ = _verify(populated)
    assert result.exit_code == 4
    assert "verification could not run: the database is at 0004" in result.output


def test_warnings_do_not_fail_unless_asked_and_junit_marks_only_failures(populated: URL, tmp_path: Path) -> None:
    _run(populated, CORRUPTIONS["duplicates.content"][0])
    report = tmp_path / "verify.xml"
    url = populated.render_as_string(hide_password=False)
    relaxed = CliRunner().invoke(app, ["--database-url", url, "verify", "--format", "junit", "--output", str(report)])
    assert relaxed.exit_code == 0, relaxed.output
    suite = ElementTree.parse(report).getroot()
    assert suite.get("failures") == "0" and suite.get("tests") == str(len(CHECKS))
    case = suite.find("testcase[@name='duplicates.content']")
    assert case is not None and "warning: 1 violation" in (case.findtext("system-out") or "")
    strict = CliRunner().invoke(
        app, ["--database-url", url, "verify", "--format", "junit", "--fail-on", "warning", "--output", str(report)]
    )
    assert strict.exit_code == 10
    assert ElementTree.parse(report).getroot().find("testcase[@name='duplicates.content']/failure") is not None


def test_checks_can_be_chosen_and_skipped_by_name_or_group(populated: URL) -> None:
    _run(populated, CORRUPTIONS["regions.sequence"][0])
    only, checks = _verify(populated, "--check", "chains", "--check", "jobs.stuck")
    assert only.exit_code == 0
    assert {n for n, c in checks.items() if c["status"] != "skipped"} == {
        "chains.sequence_length",
        "chains.alphabet",
        "jobs.stuck",
    }
    skipped, _ = _verify(populated, "--skip", "regions", "--skip", "search")  # the CDR's search row differs too
    assert skipped.exit_code == 0
    search_only, checks = _verify(populated, "--check", "search")
    assert search_only.exit_code == 10 and checks["search.rows"]["count"] == 1
    unknown, _ = _verify(populated, "--check", "regions.colour")
    assert unknown.exit_code == 2 and "unknown check regions.colour" in unknown.output


def test_verify_changes_nothing(populated: URL) -> None:
    before = _scalar(populated, "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables")
    _verify(populated)
    after = _scalar(populated, "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables")
    assert after == before
