"""`abdb export fasta`, `abdb list`, `abdb show`: data comes back out, and FASTA goes back in unchanged."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from abdb.database import Database
from abdb.domain.selection import Selection
from abdb.domain.vocabulary import ChainType
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.exporting import FastaOptions, export_airr, export_fasta
from abdb.services.importing.run import ImportOptions, import_fasta
from tests.conftest import CliInvoker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
THERAPEUTICS = FIXTURES / "good_therapeutics.fasta"


def _records(fasta: str) -> list[tuple[str, str]]:
    records, header = [], None
    for line in fasta.splitlines():
        if line.startswith(">"):
            header = line[1:]
        elif header is not None:
            records.append((header, line))
    return records


def test_exported_fasta_imports_back_as_the_same_antibodies(cli: CliInvoker, tmp_path: Path) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS))[0] == 0
    exported = tmp_path / "out.fasta"
    code, output = cli("export", "fasta", "-o", str(exported))
    assert code == 0, output
    assert "60 antibodies, 120 records to" in output
    records = _records(exported.read_text())
    assert len(records) == 120 and {header.split("|")[1] for header, _ in records} == {"heavy", "light"}
    code, output = cli("import", "fasta", str(exported), "--json")
    assert code == 0, output
    summary = json.loads(output[output.index("{") :])
    assert summary["files"][0]["unchanged"] == 60 and summary["files"][0]["inserted"] == 0


def test_cdr3_and_domain_records_carry_scheme_positions_and_the_stored_residues(
    database: Database, engine: Engine, tmp_path: Path
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions(schemes=("imgt", "kabat")))
    written: list[str] = []
    report = export_fasta(database, Selection(), FastaOptions(what="CDR3", scheme="kabat"), written.append)
    records = _records("".join(written))
    with engine.connect() as connection:
        stored = sorted(
            connection.execute(
                text(
                    "SELECT r.sequence FROM antibody_regions r JOIN antibody_domains d ON d.id = r.domain_id "
                    "WHERE d.numbering_scheme = 'KABAT' AND r.region_type = 'CDR3'"
                )
            ).scalars()
        )
    assert report.records == len(records) == len(stored) > 0
    assert sorted(sequence for _, sequence in records) == stored
    assert all("scheme=KABAT" in header and "region=CDR3" in header for header, _ in records)
    domains: list[str] = []
    export_fasta(database, Selection(), FastaOptions(what="vdomains"), domains.append)
    assert all("domain=VARIABLE" in header and "scheme=IMGT" in header for header, _ in _records("".join(domains)))


def test_filters_select_by_name_chain_type_gene_and_annotation(database: Database, tmp_path: Path) -> None:
    import_fasta(database, [THERAPEUTICS], ImportOptions())
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    annotate(database, AnnotateOptions(limit=5))

    def names(selection: Selection) -> set[str]:
        written: list[str] = []
        export_fasta(database, selection, FastaOptions(), written.append)
        return {header.split("|")[0] for header, _ in _records("".join(written))}

    assert names(Selection(name="abit*")) == {"abituzumab"}
    assert names(Selection(name="a?ituzumab")) == {"abituzumab"}
    first_five = list(dict.fromkeys(h.split("|")[0] for h, _ in _records(THERAPEUTICS.read_text())))[:5]
    assert names(Selection(annotated=True)) == set(first_five)  # the five oldest jobs were numbered
    assert names(Selection(annotated=False)) == names(Selection()) - set(first_five)
    with_gene = names(Selection(v_gene="IGHV"))
    assert with_gene and with_gene <= names(Selection(annotated=True))
    assert names(Selection(chain_type=ChainType.SINGLE_CHAIN)) <= names(Selection())
    assert names(Selection(name="no such antibody")) == set()


def test_a_gzip_export_is_whole_or_absent_and_an_empty_selection_says_0(cli: CliInvoker, tmp_path: Path) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS))[0] == 0
    target = tmp_path / "out.fasta.gz"
    code, output = cli("export", "fasta", "-o", str(target), "--gzip", "--name", "b*")
    assert code == 0, output
    records = _records(gzip.decompress(target.read_bytes()).decode())
    assert records and all(header.startswith("b") for header, _ in records)
    assert not list(tmp_path.glob(".*.partial"))
    code, output = cli("export", "fasta", "--name", "zzz*")
    assert code == 0 and "0 antibodies, 0 records" in output
    code, output = cli("export", "fasta", "--what", "CDR9")
    assert code == 2 and "choose chains, vdomains or a region" in output


def test_list_and_show_name_the_antibodies_and_their_tree(cli: CliInvoker) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS), "--annotate")[0] == 0
    code, output = cli("list", "--name", "abit*", "--json")
    assert code == 0, output
    [row] = json.loads(output[output.index("[") : output.rindex("]") + 1])
    assert row["name"] == "abituzumab" and row["schemes"] == ["IMGT"] and len(row["chains"]) == 2
    code, output = cli("show", "abituzumab")
    assert code == 0 and "chain heavy (HEAVY, IGH)" in output and "CDR3" in output and "V gene" in output
    code, output = cli("show", row["id"], "--json")
    assert code == 0 and json.loads(output)[0]["name"] == "abituzumab"
    code, output = cli("show", "no-such-antibody")
    assert code == 7 and "abdb list" in output


def test_a_closed_pipe_ends_the_export_quietly(cli: CliInvoker, database: Database) -> None:
    import_fasta(database, [THERAPEUTICS], ImportOptions())
    url = database.url.render_as_string(hide_password=False)
    command = f"{sys.executable} -m abdb --database-url '{url}' export fasta | head -n 2"
    completed = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.splitlines()) == 2 and "Traceback" not in completed.stderr


def test_airr_export_validates_and_its_cdr3_and_junction_are_the_stored_imgt_ones(
    database: Database, engine: Engine, tmp_path: Path
) -> None:
    import csv

    import airr

    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    import_fasta(database, [THERAPEUTICS], ImportOptions())
    annotate(database, AnnotateOptions())
    written: list[str] = []
    report = export_airr(database, Selection(), "imgt", written.append)
    path = tmp_path / "repertoire.tsv"
    path.write_text("".join(written))
    assert airr.validate_rearrangement(str(path))
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    stored: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for chain, cdr3 in connection.execute(
            text(
                "SELECT s.name || '|' || c.name, r.sequence FROM antibody_regions r "
                "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
                "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id "
                "WHERE d.numbering_scheme = 'IMGT' AND r.region_type = 'CDR3'"
            )
        ):
            stored.setdefault(chain, []).append(cdr3)
    numbered = [row for row in rows if row["cdr3_aa"]]
    assert report.records == len(rows) and len(numbered) == sum(map(len, stored.values())) >= 120
    for row in numbered:  # an scFv's two domains are rows ..._1 and ..._2
        assert row["cdr3_aa"] in stored[row["sequence_id"].removesuffix("_1").removesuffix("_2")]
        junction = row["junction_aa"]
        assert junction[1:-1] == row["cdr3_aa"] and junction[0] == "C" and junction[-1] in "WF"
        assert int(row["junction_aa_length"]) == len(junction)
        start, end = int(row["abdb_cdr3_aa_start"]), int(row["abdb_cdr3_aa_end"])
        assert row["sequence_aa"][start - 1 : end] == row["cdr3_aa"]
        assert row["cell_id"] and row["locus"] in ("IGH", "IGK", "IGL") and row["v_call"].startswith(row["locus"])
