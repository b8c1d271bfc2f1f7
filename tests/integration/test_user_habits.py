"""What real users bring (issue 11): old schemas, outputs named like inputs, pairs apart, corrected labels,
--public on stored antibodies, scoped --annotate, --max-errors, streams, progress totals, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.services import migrations
from abdb.services.importing.run import ImportOptions, ImportProgress, import_fasta
from tests.conftest import CliInvoker

REPO = Path(__file__).resolve().parents[2]
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"
HEAVY = (  # trastuzumab VH
    "EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQG"
    "TLVTVSS"
)
LIGHT = "DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGQGTKVEIK"


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def _write(path: Path, text_: str) -> Path:
    path.write_text(text_)
    return path


# -- 1. data commands refuse a database that is not at head ------------------------------------------------
def test_every_data_command_refuses_a_database_behind_head_before_touching_it(
    cli: CliInvoker, engine: Engine, settings: Settings
) -> None:
    code, _ = cli("import", "fasta", str(THERAPEUTICS))
    assert code == 0
    previous = migrations.history(settings, with_current=False)[1].revision
    migrations.downgrade(settings, previous)
    for command in (
        ["import", "fasta", str(THERAPEUTICS), "--replace"],
        ["annotate"],
        ["jobs"],
        ["jobs", "retry"],
        ["jobs", "cancel", "--yes"],
        ["import", "runs"],
    ):
        code, output = cli(*command)
        assert code == 4, (command, output)
        assert "run `abdb migrate`" in output and "nothing was read or changed" in output
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences") == 60
    assert _scalar(engine, "SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'") == 60


# -- 2. an output file that is an input ---------------------------------------------------------------------
def test_errors_naming_an_input_file_under_any_path_is_refused_and_the_input_kept(
    cli: CliInvoker, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    source = _write(data / "in.fasta", f">a|heavy\n{HEAVY}\n")
    (tmp_path / "link.fasta").symlink_to(source)
    for output in (source, tmp_path / "link.fasta", data / ".." / "data" / "in.fasta", data / "new.fasta"):
        code, output_text = cli("import", "fasta", str(data), "--errors", str(output))
        assert code == 2, output_text
        assert "--errors" in output_text
    code, output_text = cli("import", "fasta", str(source), "--errors", str(tmp_path / "link.fasta"))
    assert code == 2 and "that is the input file" in output_text
    assert source.read_text().startswith(">a|heavy")


# -- 3/4/6/7. headers, ids and pairing, stored ------------------------------------------------------------
def test_split_heavy_and_light_files_are_stored_as_pairs_with_each_chains_header(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    heavy = _write(tmp_path / "heavy.fasta", f">mAb|heavy Herceptin heavy isotype=IgG1\n{HEAVY}\n>x_H\n{HEAVY}K\n")
    light = _write(
        tmp_path / "light.fasta", f">x_L\n{LIGHT}R\n>mAb|light|IGKV1-39 Herceptin kappa isotype=kappa\n{LIGHT}\n"
    )
    code, output = cli("import", "fasta", str(heavy), str(light))
    assert code == 0, output
    assert "paired 2 antibodies from chains that were not next to each other (2 across files)" in output
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT s.name, s.description, c.name, c.description, c.metadata FROM antibody_chains c "
                "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id ORDER BY s.name, c.name"
            )
        ).all()
    assert [(r[0], r[2]) for r in rows] == [("mAb", "heavy"), ("mAb", "light"), ("x", "H"), ("x", "L")]
    assert rows[0][1] == "Herceptin heavy" and rows[0][4] == {"isotype": "IgG1"}
    assert rows[1][3] == "Herceptin kappa"
    assert rows[1][4] == {
        "isotype": "kappa",
        "id_fields": ["IGKV1-39"],
        "import": {"file": str(light), "record": "line 3"},
    }


def test_blast_ids_become_one_antibody_each(cli: CliInvoker, engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "blast.fasta", "".join(f">donor1|seq{i:03d}\n{HEAVY}{'A' * i}\n" for i in range(30)))
    code, output = cli("import", "fasta", str(path))
    assert code == 0 and "30 inserted" in output
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences") == 30


# -- 5. nucleotides -------------------------------------------------------------------------------------
def test_nucleotide_fasta_is_rejected_with_advice_and_translated_on_request(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    sys.path.insert(0, str(REPO / "tests" / "unit"))
    from test_fasta_habits import back_translate

    path = _write(tmp_path / "dna.fasta", f">tras|heavy\n{back_translate(HEAVY)}\n>tras|light\n{LIGHT}\n")
    code, output = cli("import", "fasta", str(path))
    assert code == 8 and "looks like nucleotides" in output and "use --translate" in output
    code, output = cli("import", "fasta", str(path), "--translate")
    assert code == 0, output
    assert _scalar(engine, "SELECT sequence FROM antibody_chains WHERE name = 'heavy'") == HEAVY


# -- 8. corrected labels, and --replace always replaces ----------------------------------------------------
def test_corrected_chain_labels_are_a_conflict_and_replace_stores_them(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    swapped = _write(tmp_path / "swapped.fasta", f">ab|heavy\n{LIGHT}\n>ab|light\n{HEAVY}\n")
    fixed = _write(tmp_path / "fixed.fasta", f">ab|heavy\n{HEAVY}\n>ab|light\n{LIGHT}\n")
    assert cli("import", "fasta", str(swapped))[0] == 0
    code, output = cli("import", "fasta", str(fixed))
    assert code == 8 and "same chains under other chain labels or types" in output
    code, output = cli("import", "fasta", str(fixed), "--replace")
    assert code == 0 and "1 replaced" in output
    assert _scalar(engine, "SELECT sequence FROM antibody_chains WHERE name = 'heavy'") == HEAVY
    code, output = cli("import", "fasta", str(fixed))
    assert code == 0 and "1 unchanged" in output
    code, output = cli("import", "fasta", str(fixed), "--replace")
    assert code == 0 and "1 replaced" in output
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences") == 1


# -- 10. --public on stored antibodies ------------------------------------------------------------------
def test_public_on_stored_antibodies_is_applied_and_reported(cli: CliInvoker, engine: Engine) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS))[0] == 0
    code, output = cli("import", "fasta", str(THERAPEUTICS), "--public")
    assert code == 0 and "60 unchanged" in output
    assert "changed the visibility (--public/--private) of 60 stored antibodies" in output
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences WHERE is_public") == 60
    code, output = cli("import", "fasta", str(THERAPEUTICS))  # neither option: visibility kept
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences WHERE is_public") == 60
    assert "visibility" not in output


# -- 11. --annotate annotates this import only -------------------------------------------------------------
def test_import_annotate_numbers_only_the_antibodies_of_this_import(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    earlier = _write(tmp_path / "earlier.fasta", f">old|heavy\n{HEAVY}\n>old|light\n{LIGHT}\n")
    now = _write(tmp_path / "now.fasta", f">new|heavy\n{HEAVY}\n>new|light\n{LIGHT}\n")
    assert cli("import", "fasta", str(earlier))[0] == 0
    code, output = cli("import", "fasta", str(now), "--annotate")
    assert code == 0, output
    with engine.connect() as connection:
        states = dict(
            connection.execute(
                text("SELECT s.name, j.status FROM processing_jobs j JOIN antibody_sequences s ON s.id = j.sequence_id")
            ).all()
        )
    assert states == {"old": "PENDING", "new": "COMPLETED"}


# -- 14. progress with totals --------------------------------------------------------------------------
def test_import_progress_reports_bytes_read_against_the_total(settings: Settings) -> None:
    steps: list[ImportProgress] = []
    import_fasta(settings, [THERAPEUTICS], ImportOptions(batch_size=7), steps.append)
    size = THERAPEUTICS.stat().st_size
    assert {step.bytes_total for step in steps} == {size}
    assert steps[-1].bytes_read == size and sum(step.records for step in steps) == 60
    assert [s.bytes_read for s in steps] == sorted(s.bytes_read for s in steps)


# -- 16. folders, streams, --max-errors --------------------------------------------------------------------
def test_folder_imports_report_skipped_files(cli: CliInvoker, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _write(folder / "a.fasta", f">a|heavy\n{HEAVY}\n")
    _write(folder / "b.txt", f">b|heavy\n{HEAVY}\n")
    code, output = cli("import", "fasta", str(folder))
    assert code == 0 and "skipped 1 file(s)" in output and "b.txt" in output
    code, output = cli("import", "fasta", str(folder / "b.txt"))  # named: read whatever its suffix
    assert code == 0 and "1 inserted" in output


def test_process_substitution_and_dev_stdin_are_read(database_url: URL, tmp_path: Path, engine: Engine) -> None:
    env = {"ABDB_DATABASE_URL": database_url.render_as_string(hide_password=False), "PATH": "/usr/bin:/bin"}
    python = sys.executable
    script = (
        f'"{python}" -m abdb import fasta <(printf ">p|heavy\\n{HEAVY}\\n") && '
        f'printf ">s|heavy\\n{HEAVY}K\\n" | "{python}" -m abdb import fasta /dev/stdin'
    )
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("total: 1 inserted") == 2 and "/dev/stdin: 1 inserted" in done.stdout
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences") == 2


def test_max_errors_must_be_positive_and_stops_at_exactly_that_rejection(
    cli: CliInvoker, engine: Engine, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "three_bad.fasta",
        f">good1\n{HEAVY}\n>bad1\nBBB\n>good2\n{HEAVY}K\n>bad2\nBBB\n>bad3\nBBB\n>good3\n{HEAVY}R\n",
    )
    for value in ("0", "-1"):
        assert cli("import", "fasta", str(path), "--max-errors", value)[0] == 2
    code, output = cli("import", "fasta", str(path), "--max-errors", "1", "--json")
    summary = json.loads(output[: output.rindex("}") + 1])
    assert code == 8 and len(summary["rejections"]) == 1
    assert _scalar(engine, "SELECT string_agg(name, ',' ORDER BY name) FROM antibody_sequences") == "good1"
