"""Issue 11, the rest: downgrades that would lose data, annotation progress and TCRs, and plain messages."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from abdb import UnitOfWork
from abdb.cli.app import app
from abdb.config import Settings
from abdb.database import Database
from abdb.db.models import AntibodyChain, AntibodyDomain, AntibodyRegion, AntibodySequence
from abdb.db.revisions import head_revision
from abdb.domain.vocabulary import ChainType, DomainType, NumberingScheme, RegionType
from abdb.services.annotating.run import AnnotateOptions, AnnotateProgress, annotate
from abdb.services.importing.run import ImportOptions, import_fasta
from tests.conftest import CliInvoker

REPO = Path(__file__).resolve().parents[2]
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"
# T-cell receptor beta chain of the NY-ESO-1 TCR 1G4 (PDB 2BNR), variable domain
TCR_BETA = (
    "NAGVTQTPKFQVLKTGQSMTLQCAQDMNHEYMSWYRQDPGMGLRLIHYSVGAGITDQGEVPNGYNVSRSTTEDFPLRLLSAAPSQTSVYFCASSYVGNTGELFFGEGSRLTVL"
)
runner = CliRunner()


def test_a_downgrade_that_would_lose_linker_domains_is_refused_and_changes_nothing(
    cli: CliInvoker, engine: Engine
) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS))[0] == 0
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO antibody_domains (antibody_sequence_id, chain_id, domain_type, numbering_scheme, "
                "sequence, start_position, end_position) SELECT antibody_sequence_id, id, 'LINKER', 'IMGT', "
                "substr(sequence, 1, 15), 1, 15 FROM antibody_chains LIMIT 1"
            )
        )
    code, output = cli("migrate", "down", "base", "--yes")
    assert code == 4, output
    assert "refused; nothing was changed" in output and "1 domain(s) of type LINKER" in output
    assert cli("migrate", "current")[1].split()[0] == head_revision()  # nothing was downgraded
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM antibody_domains")).scalar() == 1


def test_migrate_messages_say_what_happened(cli: CliInvoker, empty_database_url: URL, tmp_path: Path) -> None:
    code, output = cli("migrate", "--to", "0004")
    assert code == 0 and "newer than 0004" in output and "abdb migrate down 0004" in output
    empty = {"ABDB_DATABASE_URL": empty_database_url.render_as_string(hide_password=False)}
    result = runner.invoke(app, ["migrate", "down", "--yes"], env=empty)
    assert result.exit_code == 0 and "nothing to downgrade" in result.output
    assert runner.invoke(app, ["migrate"], env=empty).exit_code == 0
    result = runner.invoke(app, ["migrate", "down", "base", "--yes"], env=empty)
    assert result.exit_code == 0 and "-> base" in result.output and "None" not in result.output


def test_two_annotation_workers_report_progress_against_the_total(settings: Settings) -> None:
    import_fasta(settings, [THERAPEUTICS], ImportOptions())
    steps: list[AnnotateProgress] = []
    report = annotate(settings, AnnotateOptions(workers=2, batch_size=10, limit=24), steps.append)
    assert report.jobs == 24
    assert {step.total for step in steps} == {24}
    assert sum(step.jobs for step in steps) == 24  # the workers' jobs reach the parent's bar


def test_kabat_on_a_t_cell_receptor_says_kabat_does_not_number_them(cli: CliInvoker, tmp_path: Path) -> None:
    path = tmp_path / "tcr.fasta"
    path.write_text(f">tcr1\n{TCR_BETA}\n")
    assert cli("import", "fasta", str(path))[0] == 0
    code, output = cli("annotate", "--scheme", "kabat")
    assert code == 9
    code, output = cli("jobs", "--status", "FAILED", "--json")
    (job,) = json.loads(output)["recent"]
    assert job["antibody_name"] == "tcr1"
    assert "a T-cell receptor chain (TRB)" in job["error_message"]
    assert "Kabat and Chothia do not number T-cell receptors" in job["error_message"]


def test_verify_output_in_table_format_writes_the_file_and_prints_no_table(cli: CliInvoker, tmp_path: Path) -> None:
    report = tmp_path / "verify.json"
    code, output = cli("verify", "--output", str(report))
    assert code == 0 and "report written to" in output and "schema.revision" not in output
    assert "schema.revision" in report.read_text()


def test_db_psql_passes_minus_h_to_psql(cli: CliInvoker, database_url: URL, capfd: pytest.CaptureFixture[str]) -> None:
    code, output = cli("db", "psql", "-h", str(database_url.query["host"]), "-A", "-t", "-c", "select 40 + 2")
    assert code == 0 and "Usage: abdb" not in output
    assert capfd.readouterr().out.strip() == "42"  # psql writes to the real stdout


def test_a_chains_domains_come_by_scheme_then_position_and_region_search_filters_by_scheme(
    database: Database,
) -> None:
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
    with UnitOfWork(database) as uow:
        domains = [
            AntibodyDomain(
                domain_type=DomainType.VARIABLE,
                numbering_scheme=scheme,
                sequence=heavy,
                start_position=1,
                end_position=len(heavy),
                regions=[
                    AntibodyRegion(region_type=RegionType.CDR3, sequence="AK", start_position=97, end_position=98)
                ],
            )
            for scheme in (NumberingScheme.KABAT, NumberingScheme.CHOTHIA, NumberingScheme.IMGT)
        ]
        chain = AntibodyChain(
            name="h", chain_type=ChainType.HEAVY, sequence=heavy, sequence_length=len(heavy), domains=domains
        )
        antibody = uow.sequences.add(AntibodySequence(name=f"order-{uuid.uuid4()}", chains=[chain]))
        uow.commit()
    with UnitOfWork(database) as uow:
        tree = uow.sequences.get_with_tree(antibody.id)
        kabat_hits = uow.sequences.search_regions("AK", scheme=NumberingScheme.KABAT)
        all_hits = uow.sequences.search_regions("AK")
    assert tree is not None
    assert [d.numbering_scheme for d in tree.chains[0].domains] == [
        NumberingScheme.IMGT,
        NumberingScheme.KABAT,
        NumberingScheme.CHOTHIA,
    ]
    assert len(kabat_hits) == 1 and len(all_hits) == 3


def test_tables_show_whole_ids_at_80_columns(cli: CliInvoker) -> None:
    assert cli("import", "fasta", str(THERAPEUTICS))[0] == 0
    code, output = cli("import", "runs")
    ids = [word for word in output.split() if len(word) == 36 and word.count("-") == 4]
    assert code == 0 and len(ids) == 1
