"""Every bad fixture: its own message, exit code 8, and only whole good antibodies in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from abdb.cli.app import app
from abdb.domain.records import AntibodyRecord
from abdb.io.legacy import read_legacy_antibodies
from abdb.io.pairing import read_antibodies

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

EXPECTED = {
    "bad_alphabet.fasta": "'B' at position 11 is not an amino acid",
    "bad_binary.fasta": "NUL byte: this looks like a binary file",
    "bad_duplicate_name.fasta": "appears again in this file",
    "bad_empty_record.fasta": "the sequence is empty",
    "bad_invalid_utf8.fasta": "invalid UTF-8",
    "bad_over_long_line.fasta.gz": "line longer than 1,000,000 characters",
    "bad_sequence_without_header.fasta": "sequence line before any '>' header",
    "bad_too_short.fasta": "residues long; the minimum is 20",
    "bad_truncated.fasta.gz": "the gzip stream is truncated or corrupt",
    "bad_alphabet.json": "'B' at position 41 is not an amino acid",
    "bad_duplicate_name.json": "the name 'dup1' was used at $.sequences[0] in this file for other chains",
    "bad_empty_record.json": "chain 1 has no 'sequence'",
    "bad_germline_literal.json": "germline is not a readable Python literal",
    "bad_invalid_utf8.json": "line 1, column 29: invalid UTF-8",
    "bad_malformed.json": "line 3, column 19: malformed JSON: Expecting ',' delimiter",
    "bad_too_short.json": "only 9 residues long; the minimum is 20",
    "bad_truncated.json": "it looks truncated",
    "bad_unknown_shape.json": "none of the legacy shapes abdb reads: per-sequence file",
    "bad_unplaceable_region.json": "CDR3 'ARWWWWWWWDY' is not part of the chain's sequence",
}


def test_every_bad_fixture_has_an_expected_message() -> None:
    assert sorted(p.name for p in FIXTURES.glob("bad_*")) == sorted(EXPECTED)


def _good_records(path: Path) -> list[AntibodyRecord]:
    reader = read_legacy_antibodies if path.name.endswith(".json") else read_antibodies
    return [r for r in reader(path) if isinstance(r, AntibodyRecord)]


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_a_bad_file_exits_8_names_the_problem_and_loads_only_whole_good_antibodies(
    database_url: URL, engine: Engine, fixture: str, tmp_path: Path
) -> None:
    path = FIXTURES / fixture
    command = "legacy-json" if fixture.endswith(".json") else "fasta"
    errors = tmp_path / "rejects.jsonl"
    url = database_url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, "import", command, str(path), "--errors", str(errors)])
    assert result.exit_code == 8, result.output
    assert fixture in result.output
    assert EXPECTED[fixture] in result.output
    rejects = [json.loads(line) for line in errors.read_text().splitlines()]
    assert rejects and all(r["file"] == str(path) and r["reason"] for r in rejects)
    good = _good_records(path)
    with engine.connect() as connection:
        names = {row[0] for row in connection.execute(text("SELECT name FROM antibody_sequences"))}
        chains = connection.execute(text("SELECT count(*) FROM antibody_chains")).scalar_one()
        run = connection.execute(text("SELECT rejected + conflicting, inserted FROM import_runs")).one()
    assert names == {r.name for r in good}
    assert chains == sum(len(r.chains) for r in good)
    assert run == (len(rejects), len(good))
