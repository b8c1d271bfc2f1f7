"""`abdb import airr|oas|csv`: the field's own formats go in, whole, idempotent, with reasons for what does not."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from abdb.database import Database
from abdb.domain.checks import Severity
from abdb.numbering.anarci_engine import AnarciEngine
from abdb.numbering.engine import EngineSettings
from abdb.services.importing.run import ImportOptions, InputFormat, import_fasta, import_files, table_columns
from abdb.services.verify import VerifyOptions, verify
from tests.conftest import CliInvoker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
AIRR, OAS, TABLES = FIXTURES / "airr", FIXTURES / "oas", FIXTURES / "tables"
REGIONS = ("fwr1_aa", "cdr1_aa", "fwr2_aa", "cdr2_aa", "fwr3_aa", "cdr3_aa", "fwr4_aa")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _summary(output: str) -> dict[str, Any]:
    found, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    return found


def _clean(database: Database) -> None:
    assert not verify(database, VerifyOptions(fail_on=Severity.WARNING)).violations


def _tree(engine: Engine, name: str) -> list[dict[str, Any]]:
    """The antibody's chains with their IMGT domains' regions and features, as plain rows."""
    with engine.connect() as connection:
        chains = connection.execute(
            text(
                "SELECT c.id, c.name, c.chain_type, c.locus, c.sequence, c.metadata FROM antibody_chains c "
                "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id WHERE s.name = :name ORDER BY c.id"
            ),
            {"name": name},
        ).all()
        found = []
        for chain_id, chain_name, chain_type, locus, sequence, metadata in chains:
            regions = connection.execute(
                text(
                    "SELECT r.region_type, r.sequence, r.start_position, r.end_position FROM antibody_regions r "
                    "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
                    "WHERE d.chain_id = :chain ORDER BY r.start_position"
                ),
                {"chain": chain_id},
            ).all()
            numbering = connection.execute(
                text("SELECT numbering FROM antibody_domains WHERE chain_id = :chain"), {"chain": chain_id}
            ).scalar()
            features = connection.execute(
                text("SELECT name, value, metadata FROM sequence_features WHERE chain_id = :chain ORDER BY id"),
                {"chain": chain_id},
            ).all()
            found.append(
                {
                    "name": chain_name,
                    "type": chain_type,
                    "locus": locus,
                    "sequence": sequence,
                    "metadata": metadata,
                    "regions": [tuple(r) for r in regions],
                    "numbering": numbering,
                    "features": {f[0]: (f[1], f[2]) for f in features},
                }
            )
        return found


def _pending(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT s.name FROM processing_jobs j JOIN antibody_sequences s ON s.id = j.sequence_id "
                    "WHERE j.status = 'PENDING'"
                )
            ).scalars()
        )


def test_airr_cells_become_antibodies_with_their_regions_calls_and_fields(
    cli: CliInvoker, database: Database, engine: Engine
) -> None:
    path = AIRR / "therapeutics_cells.tsv"
    code, output = cli("import", "airr", str(path), "--json")
    assert code == 0, output
    rows = _rows(path)
    cells = {row["cell_id"] for row in rows if row["cell_id"]}
    alone = [row for row in rows if not row["cell_id"]]
    assert _summary(output)["files"][0]["inserted"] == len(cells) + len(alone) == 14
    for row in rows:
        name = row["cell_id"] or row["sequence_id"]
        chain = next(c for c in _tree(engine, name) if c["sequence"] == row["sequence_aa"])
        assert chain["locus"] == row["locus"] and chain["type"] == ("HEAVY" if row["locus"] == "IGH" else "LIGHT")
        if all(row[field] for field in REGIONS):
            expected, cursor = [], 0
            for field, region in zip(REGIONS, ("FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"), strict=True):
                at = row["sequence_aa"].index(row[field], cursor)  # each region after the one before
                expected.append((region, row[field], at + 1, at + len(row[field])))
                cursor = at + len(row[field])
            assert chain["regions"] == expected
        else:
            assert chain["regions"] == [] and name in _pending(engine)  # fewer than seven: numbered later
        first_call = row["v_call"].split(",")[0]
        assert chain["features"]["V allele"][0] == first_call
        assert chain["features"]["V gene"][0] == first_call.split("*")[0]
        assert chain["features"]["J allele"][0] == row["j_call"]
        if "," in row["v_call"]:
            assert chain["features"]["V allele"][1]["calls"] == row["v_call"].split(",")
    [heavy, light] = _tree(engine, rows[0]["cell_id"])
    assert (heavy["name"], light["name"]) == ("heavy", "light")
    assert heavy["metadata"]["airr"]["duplicate_count"] == "3"
    assert light["metadata"]["airr"]["lab_note"] == "custom column, kept in metadata"
    assert _pending(engine) == {row["sequence_id"] for row in alone if not row["fwr1_aa"]}
    _clean(database)

    code, output = cli("import", "airr", str(path), "--json")
    assert code == 0 and _summary(output)["files"][0]["unchanged"] == 14
    # the same antibodies from FASTA are the same antibodies: unchanged, not a second copy
    report = import_fasta(database, [FIXTURES / "good_therapeutics.fasta"], ImportOptions())
    assert report.files[0].unchanged == len(cells)


def test_nucleotide_only_rows_are_translated_in_their_frame(database: Database, engine: Engine) -> None:
    from Bio.Seq import Seq

    path = AIRR / "nucleotide_only.tsv"
    report = import_files(database, InputFormat.AIRR, [path], ImportOptions())
    assert report.clean and report.files[0].inserted == 4
    for row in _rows(path):
        chain = next(c for c in _tree(engine, row["cell_id"]) if c["name"] == row["sequence_id"].split("_")[-1])
        bases = row["sequence_alignment"] or row["sequence"]
        if row["rev_comp"] == "T":
            bases = str(Seq(bases).reverse_complement())
        offset = (int(row["junction_start"]) - 1) % 3 if row["junction_start"] else 0
        coding = bases[offset:][: (len(bases) - offset) // 3 * 3]
        assert chain["sequence"] == str(Seq(coding).translate()).removesuffix("*")
        translation = chain["metadata"]["translation"]
        assert translation["from"] == ("sequence_alignment" if row["sequence_alignment"] else "sequence")
        assert translation.get("reverse_complemented", False) == (row["rev_comp"] == "T")
    assert len(_pending(engine)) == 4  # no regions given: all queued for annotation
    _clean(database)


def test_broken_airr_rows_and_files_are_rejected_with_file_line_and_reason(cli: CliInvoker, tmp_path: Path) -> None:
    errors = tmp_path / "rejects.jsonl"
    code, output = cli(
        "import", "airr", str(AIRR / "bad_rows.tsv"), str(AIRR / "bad_not_airr.tsv"), "--errors", str(errors), "--json"
    )
    assert code == 8, output
    rejects = {
        (r["file"].split("/")[-1], r["location"]): r["reason"] for r in map(json.loads, errors.read_text().splitlines())
    }
    assert "stop codon (*) at residue 51" in rejects[("bad_rows.tsv", "line 2")]
    assert "locus 'IGX' is not one of" in rejects[("bad_rows.tsv", "line 3")]
    assert "sequence_id is empty" in rejects[("bad_rows.tsv", "line 4")]
    assert "cdr2_aa 'WWWWWWW' is not part of the chain" in rejects[("bad_rows.tsv", "line 5")]
    assert "no sequence" in rejects[("bad_rows.tsv", "line 6")]
    assert "not an AIRR Rearrangement TSV" in rejects[("bad_not_airr.tsv", "line 1")]
    assert _summary(output)["files"][0]["inserted"] == 1


def test_oas_units_bring_their_numbering_metadata_and_filters(
    cli: CliInvoker, database: Database, engine: Engine
) -> None:
    unpaired, paired, older = (
        OAS / "SRR0000001_Heavy_IGHG.csv",
        OAS / "SRR0000002_1_Paired_All.csv",
        OAS / "SRR0000003_1_Paired_All.csv",
    )
    code, output = cli("import", "oas", str(unpaired), "--species", "mouse", "--json")
    assert code == 0 and _summary(output)["files"][0]["filtered"] == 6 and _summary(output)["files"][0]["inserted"] == 0
    code, output = cli("import", "oas", str(unpaired), "--min-redundancy", "2", "--productive-only", "--json")
    assert code == 0, output
    assert (_summary(output)["files"][0]["inserted"], _summary(output)["files"][0]["filtered"]) == (3, 3)
    report = import_files(database, InputFormat.OAS, [unpaired, paired, older], ImportOptions())
    assert report.clean and [f.inserted for f in report.files] == [3, 6, 3]  # the three of the first run unchanged
    assert report.files[1].metadata is not None and report.files[1].metadata["Chain"] == "Paired"
    with engine.connect() as connection:
        run_files = connection.execute(
            text("SELECT files FROM import_runs ORDER BY started_at DESC LIMIT 1")
        ).scalar_one()
    assert run_files[2]["metadata"]["Species"] == "mouse"
    assert _pending(engine) == set()  # numbered by OAS: nothing to annotate

    engine_numbering = AnarciEngine()
    for unit, lines in ((paired, range(3, 9)), (older, range(3, 6))):
        table = list(csv.reader(unit.read_text().splitlines()))
        header = table[1]
        for line in lines:
            row = dict(zip(header, table[line - 1], strict=True))
            chains = _tree(engine, f"{unit.name.removesuffix('.csv')}:{line}")
            assert [c["name"] for c in chains] == ["heavy", "light"]
            for chain, suffix in zip(chains, ("_heavy", "_light"), strict=True):
                assert chain["sequence"] == row["sequence_alignment_aa" + suffix]
                given = [row[f + suffix] for f in REGIONS if f + suffix in row]  # older units lack fwr4
                assert len(chain["regions"]) == 7 and [r[1] for r in chain["regions"]][: len(given)] == given
                assert chain["features"]["species"][0] == ("human" if unit is paired else "mouse")
                # abdb's own engine numbers the chain exactly as the unit's ANARCI numbering says
                ours = engine_numbering.number([chain["sequence"]], EngineSettings())[0].domains["imgt"][0]
                assert [list(residue) for residue in ours.numbering] == chain["numbering"]
    with engine.connect() as connection:
        metadata = connection.execute(
            text("SELECT metadata FROM antibody_sequences WHERE name = 'SRR0000002_1_Paired_All:3'")
        ).scalar_one()
    assert metadata["oas"]["Run"] == "SRR0000002"
    _clean(database)
    again = import_files(database, InputFormat.OAS, [unpaired, paired, older], ImportOptions())
    assert again.total("unchanged") == 15 and again.total("inserted") == 0


def test_a_broken_oas_unit_is_rejected_row_by_row_and_a_literal_is_never_run(cli: CliInvoker, tmp_path: Path) -> None:
    errors = tmp_path / "rejects.jsonl"
    code, output = cli("import", "oas", str(OAS / "bad_unit.csv"), "--errors", str(errors))
    assert code == 8
    reasons = [json.loads(line)["reason"] for line in errors.read_text().splitlines()]
    assert "not a Python dict literal" in reasons[0]
    assert "not a stretch of the chain's sequence" in reasons[1]
    assert "stop codon" in reasons[2]
    metadata_less = tmp_path / "plain.csv"
    metadata_less.write_text("sequence_alignment_aa,locus\nEVQLVESGG,H\n")
    code, output = cli("import", "oas", str(metadata_less))
    assert code == 8 and "not an OAS data unit" in output


def test_thera_sabdab_and_plabdab_tables_go_in_by_preset_with_bispecifics_and_vhhs(
    cli: CliInvoker, database: Database, engine: Engine, tmp_path: Path
) -> None:
    code, output = cli("import", "csv", str(TABLES / "thera_sabdab.csv"), "--preset", "thera-sabdab", "--json")
    assert code == 8 and _summary(output)["files"][0]["inserted"] == 7  # the row without a name is rejected
    assert "the name (Therapeutic) is empty" in output
    with (TABLES / "thera_sabdab.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    bispecific = next(r for r in rows if r["Format"] == "Bispecific")
    chains = _tree(engine, bispecific["Therapeutic"])
    assert [(c["name"], c["type"]) for c in chains] == [
        ("heavy", "HEAVY"),
        ("light", "LIGHT"),
        ("heavy2", "HEAVY"),
        ("light2", "LIGHT"),
    ]
    assert chains[2]["sequence"] == bispecific["Heavy Sequence (if bispec)"]
    assert [c["name"] for c in _tree(engine, "camelid-vhh")] == ["heavy"]  # "na" light chain: none
    with engine.connect() as connection:
        metadata = connection.execute(
            text("SELECT metadata FROM antibody_sequences WHERE name = 'camelid-vhh'")
        ).scalar_one()
    assert metadata["Format"] == "VHH" and "CH1 Isotype" not in metadata and "Heavy Sequence" not in metadata
    assert metadata["Highest_Clin_Trial (Jan '26)"] == "Preclinical"
    assert len(_pending(engine)) == 7

    code, output = cli("import", "csv", str(TABLES / "plabdab_paired.csv"), "--preset", "plabdab", "--json")
    assert code == 0 and _summary(output)["files"][0]["inserted"] == 4
    code, output = cli("import", "csv", str(TABLES / "plabdab_paired.csv"), "--preset", "plabdab", "--json")
    assert code == 0 and _summary(output)["files"][0]["unchanged"] == 4
    code, output = cli("import", "csv", str(TABLES / "plabdab_paired.csv"))
    assert code == 2 and "--preset" in output
    _clean(database)


def test_columns_are_found_by_the_start_of_their_name_and_named_ones_win(database: Database, tmp_path: Path) -> None:
    table = tmp_path / "release.csv"
    table.write_text(
        "Name (INN),VH sequence (2026-01),Comment\n"
        "renamed-mab,EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK,na\n"
    )
    report = import_files(
        database, InputFormat.CSV, [table], ImportOptions(columns=table_columns(None, "name", "vh sequence"))
    )
    assert report.clean and report.files[0].inserted == 1
    missing = import_files(database, InputFormat.CSV, [table], ImportOptions(columns=table_columns(None, "name", "VL")))
    assert "no column 'VL'" in missing.rejections[0].reason


def test_dry_run_max_errors_and_replace_work_for_the_new_formats_as_for_the_others(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    unit = OAS / "SRR0000002_1_Paired_All.csv"
    code, output = cli("import", "oas", str(unit), "--dry-run", "--json")
    assert code == 0 and _summary(output)["files"][0]["inserted"] == 6
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one() == 0
    code, output = cli("import", "airr", str(AIRR / "bad_rows.tsv"), "--max-errors", "2")
    assert code == 8 and "stopped at rejection 2" in output
    original = AIRR / "therapeutics_cells.tsv"
    assert cli("import", "airr", str(original))[0] == 0
    lines = original.read_text().splitlines()
    header, first = lines[0].split("\t"), lines[1].split("\t")
    first[header.index("sequence_aa")] = first[header.index("sequence_aa")][:-1]  # the cell's heavy chain changed
    changed = tmp_path / "changed.tsv"
    changed.write_text("\n".join([lines[0], "\t".join(first), lines[2]]) + "\n")
    code, output = cli("import", "airr", str(changed), "--json")
    assert code == 8 and _summary(output)["files"][0]["conflicting"] == 1
    code, output = cli("import", "airr", str(changed), "--replace", "--json")
    assert code == 0 and _summary(output)["files"][0]["replaced"] == 1
