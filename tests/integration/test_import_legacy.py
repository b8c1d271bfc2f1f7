"""`abdb import legacy-json` against real PostgreSQL: every shape to its exact rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from abdb.cli.app import app
from abdb.config import Settings
from abdb.services.importing.run import ImportOptions, import_legacy_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = (
    "antibody_sequences",
    "antibody_chains",
    "antibody_domains",
    "antibody_regions",
    "sequence_features",
    "processing_jobs",
)


@pytest.fixture
def import_settings(settings: Settings) -> Iterator[Settings]:
    yield settings


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def _counts(engine: Engine) -> dict[str, int]:
    return {table: _rows(engine, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def _regions(engine: Engine, sequence: str, chain: str) -> list[tuple[Any, ...]]:
    return _rows(
        engine,
        "SELECT d.domain_type, d.start_position, d.end_position, r.region_type, r.sequence, r.start_position, "
        "r.end_position FROM antibody_regions r JOIN antibody_domains d ON d.id = r.domain_id "
        "JOIN antibody_chains c ON c.id = d.chain_id JOIN antibody_sequences s ON s.id = c.antibody_sequence_id "
        "WHERE s.name = :sequence AND c.name = :chain ORDER BY r.start_position",
        sequence=sequence,
        chain=chain,
    )


def _domains(engine: Engine, sequence: str, chain: str) -> list[tuple[Any, ...]]:
    return _rows(
        engine,
        "SELECT d.domain_type, d.numbering_scheme, d.start_position, d.end_position FROM antibody_domains d "
        "JOIN antibody_chains c ON c.id = d.chain_id JOIN antibody_sequences s ON s.id = c.antibody_sequence_id "
        "WHERE s.name = :sequence AND c.name = :chain ORDER BY d.start_position",
        sequence=sequence,
        chain=chain,
    )


def _every_position_matches_its_chain(engine: Engine) -> None:
    mismatches = _rows(
        engine,
        "SELECT r.id FROM antibody_regions r JOIN antibody_domains d ON d.id = r.domain_id "
        "JOIN antibody_chains c ON c.id = d.chain_id "
        "WHERE substr(c.sequence, r.start_position, r.end_position - r.start_position + 1) <> r.sequence "
        "OR r.start_position < d.start_position OR r.end_position > d.end_position "
        "UNION ALL SELECT d.id FROM antibody_domains d JOIN antibody_chains c ON c.id = d.chain_id "
        "WHERE substr(c.sequence, d.start_position, d.end_position - d.start_position + 1) <> d.sequence",
    )
    assert mismatches == []


def test_an_annotation_result_v2_imports_domains_regions_and_features_at_recomputed_positions(
    import_settings: Settings, engine: Engine
) -> None:
    report = import_legacy_json(import_settings, [FIXTURES / "legacy_result_v2.json"], ImportOptions())
    assert report.clean and report.total("inserted") == 3
    assert _regions(engine, "durvalumab", "heavy") == [
        ("VARIABLE", 1, 121, "FR1", "EVQLVESGGGLVQPGGSLRLSCAAS", 1, 25),
        ("VARIABLE", 1, 121, "CDR1", "GFTFSRYW", 26, 33),
        ("VARIABLE", 1, 121, "FR2", "MSWVRQAPGKGLEWVAN", 34, 50),
        ("VARIABLE", 1, 121, "CDR2", "IKQDGSEK", 51, 58),
        ("VARIABLE", 1, 121, "FR3", "YYVDSVKGRFTISRDNAKNSLYLQMNSLRAEDTAVYYC", 59, 96),
        ("VARIABLE", 1, 121, "CDR3", "AREGGWFGELAFDY", 97, 110),
        ("VARIABLE", 1, 121, "FR4", "WGQGTLVTVSS", 111, 121),
    ]
    assert _domains(engine, "durvalumab", "heavy") == [("VARIABLE", "IMGT", 1, 121), ("CONSTANT", "IMGT", 122, 451)]
    # gapped region strings ("QRV-----SSSY") are stored without their gaps
    assert ("CDR1", "QRVSSSY", 27, 33) in [r[3:] for r in _regions(engine, "durvalumab", "light")]
    chains = _rows(
        engine,
        "SELECT c.name, c.chain_type, c.locus FROM antibody_chains c JOIN antibody_sequences s "
        "ON s.id = c.antibody_sequence_id WHERE s.name = 'necitumumab-x-tanezumab' ORDER BY c.name",
    )
    assert chains == [("heavy_1", "HEAVY", "IGH"), ("heavy_2", "HEAVY", "IGH"), ("light", "LIGHT", "IGK")]
    assert _domains(engine, "abituzumab-scfv", "scfv") == [
        ("VARIABLE", "IMGT", 1, 107),
        ("LINKER", "IMGT", 108, 127),
        ("VARIABLE", "IMGT", 128, 245),
    ]
    assert _rows(engine, "SELECT chain_type FROM antibody_chains WHERE name = 'scfv'") == [("SINGLE_CHAIN",)]
    isotypes = _rows(
        engine,
        "SELECT f.value, f.start_position, f.end_position, c.name, f.source FROM sequence_features f "
        "JOIN antibody_chains c ON c.id = f.chain_id JOIN antibody_sequences s ON s.id = f.sequence_id "
        "WHERE s.name = 'durvalumab' AND f.feature_type = 'ISOTYPE' ORDER BY c.name",
    )
    assert isotypes == [
        ("IGHG1", 122, 451, "heavy", "legacy annotation result v2"),
        ("IGKC", 109, 215, "light", "legacy annotation result v2"),
    ]
    assert _counts(engine)["processing_jobs"] == 0  # annotated records are not queued
    _every_position_matches_its_chain(engine)


def test_an_annotation_result_v1_yields_germline_features_and_an_scfv_with_its_linker(
    import_settings: Settings, engine: Engine
) -> None:
    report = import_legacy_json(import_settings, [FIXTURES / "legacy_result_v1.json"], ImportOptions())
    assert report.clean and report.total("inserted") == 2
    features = _rows(
        engine,
        "SELECT f.feature_type, f.name, f.value, f.confidence_score, f.metadata->>'species' FROM sequence_features f "
        "JOIN antibody_sequences s ON s.id = f.sequence_id WHERE s.name = 'tislelizumab_heavy' "
        "ORDER BY f.feature_type, f.name",
    )
    assert [(t, n, v, float(c) if c is not None else None, sp) for t, n, v, c, sp in features] == [
        ("ALLELE", "J allele", "IGHJ4*01", 0.93, "human"),
        ("ALLELE", "V allele", "IGHV4-34*01", 0.898, "human"),
        ("GENE", "J gene", "IGHJ4", 0.93, "human"),
        ("GENE", "V gene", "IGHV4-34", 0.898, "human"),
        ("SPECIES", "species", "human", None, None),
    ]
    assert _domains(engine, "spartalizumab-scfv", "scfv") == [
        ("VARIABLE", "KABAT", 1, 113),
        ("LINKER", "KABAT", 114, 133),
        ("VARIABLE", "KABAT", 134, 250),
    ]
    cdr3s = [r[3:] for r in _regions(engine, "spartalizumab-scfv", "scfv") if r[3] == "CDR3"]
    assert cdr3s == [("CDR3", "QNDYSYPYT", 95, 103), ("CDR3", "TRWTTGTGAY", 230, 239)]
    _every_position_matches_its_chain(engine)


def test_per_sequence_files_in_folders_import_once_and_unannotated_ones_are_queued(
    import_settings: Settings, engine: Engine
) -> None:
    report = import_legacy_json(import_settings, [FIXTURES / "legacy"], ImportOptions())
    assert report.clean
    assert (report.total("inserted"), report.total("unchanged")) == (2, 1)  # abituzumab is in two folders
    assert _rows(
        engine,
        "SELECT s.name, s.metadata->>'target', s.metadata->'legacy'->>'id', count(j.id) FROM antibody_sequences s "
        "LEFT JOIN processing_jobs j ON j.sequence_id = s.id AND j.status = 'PENDING' AND j.job_type = 'ANNOTATION' "
        "GROUP BY s.id ORDER BY s.name",
    ) == [("abituzumab", "integrin alpha-V", "abituzumab_2_chains", 0), ("cemiplimab", None, "cemiplimab_2_chains", 1)]
    # boundary numbers in the file are domain-relative and 0-based; the stored ones are chain positions
    assert [r[3:] for r in _regions(engine, "abituzumab", "abituzumab_light")][1] == ("CDR1", "QDISNY", 27, 32)
    _every_position_matches_its_chain(engine)


def test_a_browser_history_export_qualifies_names_and_keeps_repeated_runs_once(
    import_settings: Settings, engine: Engine
) -> None:
    report = import_legacy_json(import_settings, [FIXTURES / "legacy_browser_history.json"], ImportOptions())
    assert report.clean
    assert (report.total("inserted"), report.total("unchanged")) == (3, 1)
    # an entry without a result: one sequence per FASTA record, named as its result would name it
    assert _rows(
        engine,
        "SELECT s.name, count(DISTINCT c.id), count(DISTINCT j.id) FROM antibody_sequences s "
        "JOIN antibody_chains c ON c.antibody_sequence_id = s.id LEFT JOIN processing_jobs j ON j.sequence_id = s.id "
        "GROUP BY s.name ORDER BY s.name",
    ) == [("cemiplimab VH/seq1", 1, 0), ("tanezumab pair/tanezumab_H", 1, 1), ("tanezumab pair/tanezumab_L", 1, 1)]
    assert _domains(engine, "cemiplimab VH/seq1", "heavy") == [("VARIABLE", "CHOTHIA", 1, 117)]


def test_annotation_requests_become_chains_of_the_declared_types_queued_for_annotation(
    import_settings: Settings, engine: Engine
) -> None:
    report = import_legacy_json(import_settings, [FIXTURES / "legacy_request.json"], ImportOptions())
    assert report.clean and report.total("inserted") == 4
    assert _rows(
        engine,
        "SELECT s.name, c.name, c.chain_type FROM antibody_chains c JOIN antibody_sequences s "
        "ON s.id = c.antibody_sequence_id ORDER BY s.name, c.name",
    ) == [
        ("custom", "vhh", "UNKNOWN"),
        ("kih_test", "heavy_chain_1", "HEAVY"),
        ("kih_test", "heavy_chain_2", "HEAVY"),
        ("kih_test", "light_chain_1", "LIGHT"),
        ("kih_test", "light_chain_2", "LIGHT"),
        ("polatuzumab_scfv", "scfv", "SINGLE_CHAIN"),
        ("prolgolimab", "heavy_chain", "HEAVY"),
        ("prolgolimab", "light_chain", "LIGHT"),
    ]
    assert _counts(engine)["processing_jobs"] == 4 and _counts(engine)["antibody_domains"] == 0


def test_reimporting_every_legacy_fixture_adds_nothing(import_settings: Settings, engine: Engine) -> None:
    good = [FIXTURES / "legacy", *sorted(FIXTURES.glob("legacy_*.json"))]
    first = import_legacy_json(import_settings, good, ImportOptions())
    before = _counts(engine)
    again = import_legacy_json(import_settings, good, ImportOptions())
    assert first.clean and again.clean
    assert again.total("inserted") == 0 and again.total("unchanged") == first.total("records")
    assert _counts(engine) == before


def test_every_run_is_recorded_with_its_files_counts_and_status(import_settings: Settings, engine: Engine) -> None:
    path = FIXTURES / "legacy_result_v2.json"
    report = import_legacy_json(import_settings, [path], ImportOptions(batch_size=2))
    runs = _rows(
        engine,
        "SELECT id, command, status, inserted, rejected, files->0->>'sha256', files->0->>'path', "
        "options->>'batch_size', completed_at IS NOT NULL FROM import_runs",
    )
    assert runs == [(report.run_id, "legacy-json", "COMPLETED", 3, 0, report.files[0].sha256, str(path), "2", True)]
    assert _rows(engine, "SELECT count(*) FROM antibody_sequences WHERE import_run_id = :r", r=report.run_id) == [(3,)]
    assert _rows(engine, "SELECT DISTINCT metadata->'import'->>'record' FROM antibody_sequences ORDER BY 1") == [
        ("$.sequences[0]",),
        ("$.sequences[1]",),
        ("$.sequences[2]",),
    ]


def test_replace_swaps_a_conflicting_antibody_for_the_new_one_whole(
    import_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    import_legacy_json(import_settings, [FIXTURES / "legacy_result_v2.json"], ImportOptions())
    other = tmp_path / "other.json"
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
    other.write_text(json.dumps({"sequences": [{"name": "durvalumab", "heavy_chain": heavy}]}))
    refused = import_legacy_json(import_settings, [other], ImportOptions())
    assert refused.total("conflicting") == 1 and not refused.clean
    replaced = import_legacy_json(import_settings, [other], ImportOptions(replace=True))
    assert replaced.clean and replaced.total("replaced") == 1
    assert _rows(
        engine,
        "SELECT c.sequence FROM antibody_chains c JOIN antibody_sequences s ON s.id = c.antibody_sequence_id "
        "WHERE s.name = 'durvalumab'",
    ) == [(heavy,)]
    orphans = _rows(
        engine,
        "SELECT count(*) FROM antibody_domains d LEFT JOIN antibody_chains c ON c.id = d.chain_id WHERE c.id IS NULL",
    )
    assert orphans == [(0,)]


def test_names_with_quotes_tabs_newlines_and_sql_are_stored_verbatim_and_a_nul_is_refused(
    import_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
    hostile = "it's a\ttab\\back\nline'); DROP TABLE antibody_chains; --"
    path = tmp_path / "hostile.json"
    path.write_text(
        json.dumps(
            {
                "sequences": [
                    {"name": hostile, "custom_chains": {'say "hi"\t': heavy}},
                    {"name": "nul\u0000byte", "heavy_chain": heavy},
                ]
            }
        )
    )
    report = import_legacy_json(import_settings, [path], ImportOptions())
    assert report.total("inserted") == 1
    assert [r.reason for r in report.rejections] == [
        "the name contains a NUL character, which the database cannot store"
    ]
    assert _rows(
        engine,
        "SELECT s.name, c.name FROM antibody_sequences s JOIN antibody_chains c ON c.antibody_sequence_id = s.id",
    ) == [(hostile, 'say "hi"')]


def test_the_json_summary_and_the_runs_listing_tell_what_an_import_did(database_url: URL) -> None:
    url = database_url.render_as_string(hide_password=False)
    runner = CliRunner()
    path = FIXTURES / "legacy_request.json"
    imported = runner.invoke(app, ["--database-url", url, "import", "legacy-json", str(path), "--json"])
    assert imported.exit_code == 0, imported.output
    summary = json.loads(imported.stdout)
    assert summary["files"][0]["inserted"] == 4 and summary["rows"] == 4 + 8 + 4
    listed = runner.invoke(app, ["--database-url", url, "import", "runs", "--json"])
    assert listed.exit_code == 0, listed.output
    (run,) = json.loads(listed.stdout)
    assert (run["id"], run["command"], run["status"], run["inserted"]) == (
        summary["run_id"],
        "legacy-json",
        "COMPLETED",
        4,
    )
    assert run["files"][0]["path"] == str(path) and len(run["files"][0]["sha256"]) == 64


def test_a_file_piped_on_stdin_imports_under_the_name_stdin(database_url: URL, engine: Engine) -> None:
    url = database_url.render_as_string(hide_password=False)
    piped = (FIXTURES / "legacy_request.json").read_text()
    result = CliRunner().invoke(app, ["--database-url", url, "import", "legacy-json", "-"], input=piped)
    assert result.exit_code == 0, result.output
    assert "<stdin>: 4 inserted" in result.stdout
    assert _rows(engine, "SELECT DISTINCT metadata->'import'->>'file' FROM antibody_sequences") == [("<stdin>",)]
