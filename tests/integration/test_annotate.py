"""`abdb annotate` against real PostgreSQL: exact regions per scheme, jobs, workers, idempotency."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from abdb.cli.app import app
from abdb.config import Settings
from abdb.database import Database
from abdb.domain.vocabulary import JobType
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.importing.run import ImportOptions, import_fasta, import_legacy_json
from abdb.services.jobs import cancel_jobs, retry_jobs
from abdb.unit_of_work import UnitOfWork
from benchmarks.synthetic import generate_antibodies

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CHAINS = FIXTURES / "annotate_chains.fasta"
ALL_SCHEMES = AnnotateOptions(schemes=("imgt", "kabat", "chothia"))


@pytest.fixture
def loaded(settings: Settings) -> Iterator[Settings]:
    import_fasta(settings, [CHAINS], ImportOptions())
    yield settings


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def _cdrs(engine: Engine, sequence: str, chain: str, scheme: str) -> list[tuple[Any, ...]]:
    return _rows(
        engine,
        "SELECT r.region_type, r.sequence, r.start_position, r.end_position FROM antibody_regions r "
        "JOIN antibody_domains d ON d.id = r.domain_id JOIN antibody_chains c ON c.id = d.chain_id "
        "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id WHERE s.name = :s AND c.name = :c "
        "AND d.numbering_scheme = :scheme AND r.region_type LIKE 'CDR%' ORDER BY r.start_position",
        s=sequence,
        c=chain,
        scheme=scheme,
    )


def _table_counts(engine: Engine) -> tuple[int, ...]:
    tables = ("antibody_domains", "antibody_regions", "sequence_features", "external_tool_results")
    return tuple(_rows(engine, f"SELECT count(*) FROM {t}")[0][0] for t in tables)


def test_real_antibodies_get_their_cdrs_under_imgt_kabat_and_chothia(loaded: Settings, engine: Engine) -> None:
    report = annotate(loaded, ALL_SCHEMES)
    assert (report.completed, report.failed) == (3, 2)
    assert _cdrs(engine, "abituzumab", "heavy", "IMGT") == [
        ("CDR1", "GYTFSSFW", 26, 33),
        ("CDR2", "INPRSGYT", 51, 58),
        ("CDR3", "ASFLGRGAMDY", 97, 107),
    ]
    assert _cdrs(engine, "abituzumab", "heavy", "KABAT") == [
        ("CDR1", "SFWMH", 31, 35),
        ("CDR2", "YINPRSGYTEYNEIFRD", 50, 66),
        ("CDR3", "FLGRGAMDY", 99, 107),
    ]
    assert _cdrs(engine, "abituzumab", "heavy", "CHOTHIA") == [
        ("CDR1", "GYTFSSF", 26, 32),
        ("CDR2", "NPRSGY", 52, 57),
        ("CDR3", "FLGRGAMDY", 99, 107),
    ]
    assert _cdrs(engine, "abituzumab", "light", "IMGT") == [
        ("CDR1", "QDISNY", 27, 32),
        ("CDR2", "YTS", 50, 52),
        ("CDR3", "QQGNTFPYT", 89, 97),
    ]
    assert _cdrs(engine, "abituzumab", "light", "KABAT") == [
        ("CDR1", "RASQDISNYLA", 24, 34),
        ("CDR2", "YTSKIHS", 50, 56),
        ("CDR3", "QQGNTFPYT", 89, 97),
    ]
    assert _cdrs(engine, "vhh", "heavy", "IMGT") == [
        ("CDR1", "GRTFSYNP", 26, 33),
        ("CDR2", "ISRTGGST", 51, 58),
        ("CDR3", "AAAGVRAEDGRVRTLPSEYTF", 97, 117),
    ]
    # every region is the chain's substring, and the seven regions tile their variable domain
    assert _rows(
        engine,
        "SELECT count(*) FROM antibody_regions r JOIN antibody_domains d ON d.id = r.domain_id "
        "JOIN antibody_chains c ON c.id = d.chain_id "
        "WHERE substr(c.sequence, r.start_position, r.end_position - r.start_position + 1) <> r.sequence",
    ) == [(0,)]
    assert _rows(
        engine,
        "SELECT count(*) FROM antibody_domains d WHERE d.domain_type = 'VARIABLE' AND d.sequence <> "
        "(SELECT string_agg(r.sequence, '' ORDER BY r.start_position) FROM antibody_regions r "
        "WHERE r.domain_id = d.id)",
    ) == [(0,)]


def test_an_scfv_gets_two_variable_domains_a_linker_and_becomes_single_chain(loaded: Settings, engine: Engine) -> None:
    annotate(loaded, AnnotateOptions())
    assert _rows(
        engine,
        "SELECT d.domain_type, d.start_position, d.end_position, c.chain_type, c.locus FROM antibody_domains d "
        "JOIN antibody_chains c ON c.id = d.chain_id WHERE c.name = 'scfv' ORDER BY d.start_position",
    ) == [
        ("VARIABLE", 1, 111, "SINGLE_CHAIN", None),
        ("LINKER", 112, 126, "SINGLE_CHAIN", None),
        ("VARIABLE", 127, 243, "SINGLE_CHAIN", None),
    ]
    assert _cdrs(engine, "polatuzumab_scfv", "scfv", "IMGT")[-1] == ("CDR3", "TRRVPIRLDY", 223, 232)


def test_germline_and_species_become_anarci_features_and_the_chain_type_is_set(
    loaded: Settings, engine: Engine
) -> None:
    annotate(loaded, AnnotateOptions())
    features = _rows(
        engine,
        "SELECT f.feature_type, f.name, f.value, f.confidence_score, f.start_position, f.end_position, f.source "
        "FROM sequence_features f JOIN antibody_chains c ON c.id = f.chain_id JOIN antibody_sequences s "
        "ON s.id = f.sequence_id WHERE s.name = 'abituzumab' AND c.name = 'light' ORDER BY f.feature_type, f.name",
    )
    assert [(t, n, v, float(c) if c is not None else None, a, b, src) for t, n, v, c, a, b, src in features] == [
        ("ALLELE", "J allele", "IGKJ1*01", 0.917, 1, 107, "ANARCI"),
        ("ALLELE", "V allele", "IGKV1-33*01", 0.88, 1, 107, "ANARCI"),
        ("GENE", "J gene", "IGKJ1", 0.917, 1, 107, "ANARCI"),
        ("GENE", "V gene", "IGKV1-33", 0.88, 1, 107, "ANARCI"),
        ("SPECIES", "species", "human", None, 1, 107, "ANARCI"),
    ]
    assert _rows(engine, "SELECT chain_type, locus FROM antibody_chains WHERE name = 'light'") == [("LIGHT", "IGK")]
    assert _rows(
        engine, "SELECT DISTINCT metadata->>'species' FROM sequence_features WHERE name = 'V gene' ORDER BY 1"
    ) == [("human",), ("mouse",)]
    numbering = _rows(
        engine,
        "SELECT d.numbering->0, d.numbering->-1, jsonb_array_length(d.numbering), "
        "d.end_position - d.start_position + 1 FROM antibody_domains d "
        "JOIN antibody_chains c ON c.id = d.chain_id WHERE c.name = 'light'",
    )
    assert numbering == [([1, "", "D"], [127, "", "K"], 107, 107)]


def test_chains_that_cannot_be_numbered_fail_their_job_with_the_reason_and_a_tool_result(
    loaded: Settings, engine: Engine
) -> None:
    annotate(loaded, AnnotateOptions())
    failed = _rows(
        engine,
        "SELECT s.name, j.error_message, t.success, t.tool_name, t.input_data->'species', "
        "t.execution_time > interval '0' FROM processing_jobs j JOIN antibody_sequences s ON s.id = j.sequence_id "
        "JOIN external_tool_results t ON t.job_id = j.id WHERE j.status = 'FAILED' ORDER BY s.name",
    )
    assert failed == [
        (
            "tag_peptide",
            "chain: no antibody variable domain found in 24 residues (too short to hold one)",
            False,
            "ANARCI",
            ["human", "mouse"],
            True,
        ),
        (
            "ubiquitin",
            "chain: no antibody variable domain found in 76 residues",
            False,
            "ANARCI",
            ["human", "mouse"],
            True,
        ),
    ]
    assert _rows(engine, "SELECT count(*) FROM processing_jobs WHERE completed_at IS NULL") == [(0,)]


def test_annotating_again_replaces_and_never_duplicates(loaded: Settings, engine: Engine) -> None:
    annotate(loaded, ALL_SCHEMES)
    first = _table_counts(engine)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE processing_jobs SET status = 'PENDING', started_at = NULL, completed_at = NULL")
        )
    annotate(loaded, ALL_SCHEMES)
    domains, regions, features, results = _table_counts(engine)
    assert (domains, regions, features) == first[:3]
    assert results == 2 * first[3]  # one tool result per run of each job


def test_two_workers_share_200_jobs_and_do_each_exactly_once(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    fasta = tmp_path / "many.fasta"
    fasta.write_text("".join(f">{a.name}|heavy\n{a.heavy.sequence}\n" for a in generate_antibodies(200, seed=3)))
    import_fasta(settings, [fasta], ImportOptions())
    report = annotate(settings, AnnotateOptions(workers=2, batch_size=10))
    assert (report.completed, report.failed, report.workers) == (200, 0, 2)
    assert _rows(engine, "SELECT status, count(*) FROM processing_jobs GROUP BY status") == [("COMPLETED", 200)]
    assert _rows(engine, "SELECT count(*), count(DISTINCT job_id) FROM external_tool_results") == [(200, 200)]
    assert _rows(engine, "SELECT count(*) FROM antibody_domains") == [(200,)]


def test_stuck_and_failed_jobs_can_be_retried_and_pending_ones_cancelled(
    loaded: Settings, database: Database, engine: Engine
) -> None:
    with UnitOfWork(database) as uow:  # a worker claims two jobs, then dies
        stuck = uow.jobs.claim(JobType.ANNOTATION, 2)
        uow.commit()
    report = annotate(loaded, AnnotateOptions())
    assert report.jobs == 3
    assert retry_jobs(loaded, failed=False, running_for=dt.timedelta(hours=1)) == 0
    assert retry_jobs(loaded, failed=False, running_for=dt.timedelta(0)) == len(stuck)
    assert retry_jobs(loaded, failed=True) == 2
    assert cancel_jobs(loaded) == 4
    assert _rows(engine, "SELECT status, count(*) FROM processing_jobs GROUP BY status ORDER BY 1") == [
        ("CANCELLED", 4),
        ("COMPLETED", 1),
    ]


def test_the_command_exits_9_when_jobs_failed_and_lists_them(loaded: Settings, database_url: URL) -> None:
    url = database_url.render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(app, ["--database-url", url, "annotate", "--scheme", "imgt,kabat"])
    assert result.exit_code == 9, result.output
    assert "annotated 3 job(s), 2 failed" in result.stdout
    listed = runner.invoke(app, ["--database-url", url, "jobs", "--json"])
    assert listed.exit_code == 0
    overview = json.loads(listed.stdout)
    assert ["ANNOTATION", "FAILED", 2] in overview["counts"]
    assert {job["error_message"] for job in overview["recent"]} == {
        "chain: no antibody variable domain found in 76 residues",
        "chain: no antibody variable domain found in 24 residues (too short to hold one)",
    }
    bad = runner.invoke(app, ["--database-url", url, "annotate", "--scheme", "martin"])
    assert bad.exit_code == 2 and "choose from imgt, kabat, chothia" in bad.output


def test_import_with_annotate_numbers_right_away_and_reports_failed_jobs(database_url: URL, engine: Engine) -> None:
    url = database_url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, "import", "fasta", str(CHAINS), "--annotate"])
    assert result.exit_code == 9, result.output
    assert "5 inserted" in result.stdout and "annotated 3 job(s), 2 failed" in result.stdout
    assert _rows(engine, "SELECT count(*) FROM antibody_domains WHERE domain_type = 'VARIABLE'") == [(5,)]


def test_two_claims_at_the_same_moment_never_share_a_job(
    settings: Settings, database: Database, engine: Engine, tmp_path: Path
) -> None:
    fasta = tmp_path / "claims.fasta"
    fasta.write_text("".join(f">{a.name}|heavy\n{a.heavy.sequence}\n" for a in generate_antibodies(150, seed=9)))
    import_fasta(settings, [fasta], ImportOptions())
    barrier = threading.Barrier(2)
    claimed: list[set[Any]] = []

    def claim() -> None:
        with UnitOfWork(database) as uow:
            barrier.wait()
            jobs = uow.jobs.claim(JobType.ANNOTATION, 100)
            time.sleep(0.3)  # hold the rows while the other claim runs
            uow.commit()
        claimed.append({job_id for job_id, *_ in jobs})

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first, second = claimed
    assert not first & second
    assert len(first | second) == 150


def test_a_partly_annotated_legacy_record_is_queued_and_annotation_keeps_its_constant_domain(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    document = json.loads((FIXTURES / "legacy_result_v2.json").read_text())
    durvalumab = document["sequences"][0]
    durvalumab["chains"][0]["domains"][0]["regions"] = durvalumab["chains"][0]["domains"][0]["regions"][:2]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"sequences": [durvalumab], "numbering_scheme": "imgt"}))
    import_legacy_json(settings, [partial], ImportOptions())
    assert _rows(engine, "SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'") == [(1,)]
    report = annotate(settings, AnnotateOptions())
    assert report.completed == 1
    domains = _rows(
        engine,
        "SELECT c.name, d.domain_type, d.start_position, d.end_position, "
        "(SELECT count(*) FROM antibody_regions r WHERE r.domain_id = d.id) FROM antibody_domains d "
        "JOIN antibody_chains c ON c.id = d.chain_id ORDER BY c.name, d.start_position",
    )
    assert domains == [
        ("heavy", "VARIABLE", 1, 121, 7),
        ("heavy", "CONSTANT", 122, 451, 0),
        ("light", "VARIABLE", 1, 108, 7),
        ("light", "CONSTANT", 109, 215, 0),
    ]
    assert _rows(engine, "SELECT value FROM sequence_features WHERE feature_type = 'ISOTYPE' ORDER BY 1") == [
        ("IGHG1",),
        ("IGKC",),
    ]


def test_completed_jobs_can_be_queued_again_to_add_another_scheme(loaded: Settings, engine: Engine) -> None:
    annotate(loaded, AnnotateOptions(schemes=("imgt",)))
    assert retry_jobs(loaded, failed=False, completed=True) == 3
    annotate(loaded, AnnotateOptions(schemes=("kabat",)))
    assert _rows(
        engine,
        "SELECT numbering_scheme, count(*) FROM antibody_domains WHERE domain_type = 'VARIABLE' GROUP BY 1 ORDER BY 1",
    ) == [("IMGT", 5), ("KABAT", 5)]
    assert _cdrs(engine, "abituzumab", "heavy", "KABAT")[0] == ("CDR1", "SFWMH", 31, 35)


def test_what_the_engine_leaves_empty_is_stored_as_sql_null_not_as_json_null(
    database: Database, engine: Engine
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions())
    with engine.connect() as connection:
        json_nulls = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM antibody_domains WHERE jsonb_typeof(numbering) = 'null') "
                "+ (SELECT count(*) FROM external_tool_results WHERE jsonb_typeof(error_details) = 'null')"
            )
        ).scalar_one()
        linkers = connection.execute(
            text("SELECT count(*) FROM antibody_domains WHERE domain_type = 'LINKER' AND numbering IS NULL")
        ).scalar_one()
    assert json_nulls == 0 and linkers > 0
