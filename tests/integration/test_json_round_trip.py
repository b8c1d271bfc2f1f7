"""`abdb export json` → `abdb import json`: every fixture shape comes back as the same rows, and re-importing
into the source database changes nothing."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.database import Database
from abdb.domain.checks import Severity
from abdb.domain.selection import Selection
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.exporting import export_json
from abdb.services.importing.run import ImportOptions, InputFormat, import_fasta, import_files, import_legacy_json
from abdb.services.verify import VerifyOptions, verify
from benchmarks.synthetic import v2_document
from tests.canonical_dump import canonical_dump, differences
from tests.conftest import CliInvoker, _fresh_database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEGACY = [
    FIXTURES / "legacy_result_v1.json",
    FIXTURES / "legacy_result_v2.json",  # constant domains, germline features, several chains
    FIXTURES / "legacy_browser_history.json",
    FIXTURES / "legacy_request.json",
    FIXTURES / "legacy",
]


@contextmanager
def _other_database(server_url: URL, template_url: URL, tmp_path: Path) -> Iterator[tuple[Database, Engine]]:
    for url in _fresh_database(server_url, template_url.database):
        database = Database(Settings(database_url=url, home=tmp_path / "other"))
        engine = create_engine(url, poolclass=NullPool)
        try:
            yield database, engine
        finally:
            engine.dispose()
            database.dispose()


def _populate(database: Database) -> None:
    """Every shape: legacy JSON (constant domains, features), FASTA (scFv, a VHH, a non-antibody that fails
    annotation), annotated under three schemes, some left unannotated with their job pending."""
    import_legacy_json(database, LEGACY, ImportOptions())
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions(schemes=("imgt", "kabat", "chothia")))
    import_fasta(database, [FIXTURES / "good_therapeutics.fasta"], ImportOptions())
    annotate(database, AnnotateOptions(schemes=("imgt", "kabat", "chothia"), limit=20))


def _exported(database: Database, path: Path) -> int:
    with path.open("w") as handle:
        return export_json(database, Selection(), handle.write).antibodies


def test_every_fixture_shape_round_trips_into_an_empty_database_as_the_same_rows(
    database: Database, engine: Engine, server_url: URL, template_url: URL, tmp_path: Path
) -> None:
    _populate(database)
    exported = tmp_path / "all.jsonl"
    count = _exported(database, exported)
    before = canonical_dump(engine)
    assert count == len(before["antibody_sequences"]) > 70
    for table in ("antibody_domains", "antibody_regions", "sequence_features", "external_tool_results"):
        assert before[table], f"the fixtures left {table} empty: the round trip would prove nothing of it"
    assert {row[3] for row in before["antibody_domains"]} == {"IMGT", "KABAT", "CHOTHIA"}
    assert "CONSTANT" in {row[2] for row in before["antibody_domains"]}
    assert {row[2] for row in before["processing_jobs"]} >= {"COMPLETED", "FAILED", "PENDING"}

    with _other_database(server_url, template_url, tmp_path) as (other, other_engine):
        report = import_files(other, InputFormat.JSON, [exported], ImportOptions())
        assert report.clean and report.total("inserted") == count
        copied = canonical_dump(other_engine)
        assert copied == before, differences(before, copied)
        assert not verify(other, VerifyOptions(fail_on=Severity.WARNING)).violations
        with other_engine.connect() as connection:
            origins = connection.execute(
                text("SELECT count(*) FROM antibody_sequences WHERE metadata->'import'->'origin'->>'id' IS NOT NULL")
            ).scalar_one()
        assert origins == count  # the source's id and provenance are kept

    again = import_files(database, InputFormat.JSON, [exported], ImportOptions())
    assert again.total("unchanged") == count and again.total("inserted") == 0 and again.clean
    assert canonical_dump(engine) == before


def test_a_second_export_of_the_copy_is_the_first_export_but_for_ids_times_and_provenance(
    database: Database, server_url: URL, template_url: URL, tmp_path: Path
) -> None:
    import_legacy_json(database, [FIXTURES / "legacy_result_v2.json"], ImportOptions())
    annotate(database, AnnotateOptions(schemes=("imgt", "kabat")))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    _exported(database, first)
    with _other_database(server_url, template_url, tmp_path) as (other, _):
        import_files(other, InputFormat.JSON, [first], ImportOptions())
        _exported(other, second)

    def content(path: Path) -> list[dict[str, object]]:
        documents = [json.loads(line) for line in path.read_text().splitlines()]
        for document in documents:
            for key in ("id", "created_at", "provenance"):
                document.pop(key)
        return documents

    assert content(first) == content(second) and content(first)
    origin = json.loads(second.read_text().splitlines()[0])["provenance"]["origin"]
    assert origin["id"] == json.loads(first.read_text().splitlines()[0])["id"]  # a copy of a copy names the first


def test_broken_lines_are_rejected_by_line_and_the_rest_imported(
    cli: CliInvoker, database: Database, tmp_path: Path
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions())
    exported = tmp_path / "all.jsonl.gz"
    assert cli("export", "json", "--gzip", "-o", str(exported))[0] == 0
    lines = gzip.decompress(exported.read_bytes()).decode().splitlines()
    edited = json.loads(lines[0])
    numbered = next(d for c in edited["chains"] for d in c["domains"] if d["regions"])
    numbered["regions"][0]["sequence"] = "WRONG"
    stale = json.loads(lines[1])
    stale["checksum"] = "0" * 64  # as if a sequence had been edited
    broken = [json.dumps(edited), json.dumps(stale), '{"format": "abdb/2", "name": "x"}', "{not json", *lines[2:]]
    edited_file = tmp_path / "edited.jsonl"
    edited_file.write_text("\n".join(broken) + "\n")
    code, output = cli("import", "json", str(edited_file), "--errors", str(tmp_path / "rejects.jsonl"), "--json")
    assert code == 8, output
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["location"] for r in rejects] == ["line 1", "line 2", "line 3", "line 4"]
    assert "its sequence is not residues" in rejects[0]["reason"]
    assert "checksum" in rejects[1]["reason"] and "abdb/1" in rejects[2]["reason"]
    assert "malformed JSON" in rejects[3]["reason"]
    summary, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    assert summary["files"][0]["unchanged"] == len(lines) - 2 and summary["files"][0]["rejected"] == 4


@pytest.mark.parametrize("status", ["RUNNING", "PENDING"])
def test_a_job_running_or_pending_at_export_comes_back_pending_and_queued(
    database: Database, engine: Engine, server_url: URL, template_url: URL, tmp_path: Path, status: str
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    with engine.begin() as connection:
        connection.execute(text("UPDATE processing_jobs SET status = :status, started_at = now()"), {"status": status})
    exported = tmp_path / "all.jsonl"
    count = _exported(database, exported)
    with _other_database(server_url, template_url, tmp_path) as (other, other_engine):
        import_files(other, InputFormat.JSON, [exported], ImportOptions())
        with other_engine.connect() as connection:
            jobs = connection.execute(text("SELECT status, started_at FROM processing_jobs")).all()
            queued = connection.execute(text("SELECT count(*) FROM job_queue")).scalar_one()
        assert len(jobs) == queued == count and {job[0] for job in jobs} == {"PENDING"}
        assert all((job[1] is None) == (status == "RUNNING") for job in jobs)
        assert annotate(other, AnnotateOptions()).completed > 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_export_taken_during_an_import_holds_exactly_what_was_stored_when_it_began(
    database: Database, tmp_path: Path, jobs: int
) -> None:
    from benchmarks.synthetic import generate_antibodies

    before, during = generate_antibodies(1200, seed=3)[:1100], generate_antibodies(1200, seed=3)[1100:]
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(v2_document(before)))
    second.write_text(json.dumps(v2_document(during)))
    import_legacy_json(database, [first], ImportOptions())
    lines: list[str] = []

    def write(line: str) -> None:
        if not lines:  # the export has begun (its first page is out): an import commits meanwhile
            assert import_legacy_json(database, [second], ImportOptions()).total("inserted") == len(during)
        lines.append(line)

    report = export_json(database, Selection(), write, jobs=jobs)
    names = {json.loads(line)["name"] for line in lines}
    assert report.selected == report.antibodies == len(lines) == len(before) > 500  # more than one page
    assert names == {antibody.name for antibody in before}


def test_the_documented_abdb_1_shape_has_exactly_the_keys_an_export_writes(database: Database) -> None:
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "exporting.md").read_text()
    documented = json.loads(re.search(r"```json\n(.*?)```", docs, re.S).group(1))  # type: ignore[union-attr]
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions())
    lines: list[str] = []
    export_json(database, Selection(), lines.append)
    exported = next(d for d in map(json.loads, lines) if d["features"] and d["jobs"] and d["jobs"][0]["tool_results"])

    def keys(value: dict[str, object]) -> set[str]:
        return set(value) - {"..."}

    assert keys(documented) == keys(exported)
    assert set(documented["provenance"]) - {"origin"} == set(exported["provenance"])
    for part, inner in (("chains", "domains"), ("jobs", "tool_results")):
        assert keys(documented[part][0]) == keys(exported[part][0])
        assert keys(documented[part][0][inner][0]) == keys(exported[part][0][inner][0])
    assert keys(documented["chains"][0]["domains"][0]["regions"][0]) == keys(
        exported["chains"][0]["domains"][0]["regions"][0]
    )
    assert keys(documented["features"][0]) == keys(exported["features"][0])
