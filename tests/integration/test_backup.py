"""`abdb db backup` / `restore`: the same rows back, verified; a newer schema refused; a killed pg_dump leaves
no file that looks whole; a database holding data is replaced only when confirmed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.database import Database
from abdb.errors import ConfirmationRequired, MigrationError
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.backup import BackupError, backup, restore
from abdb.services.importing.run import (
    ImportOptions,
    InputFormat,
    import_fasta,
    import_files,
    import_legacy_json,
    table_columns,
)
from benchmarks.synthetic import generate_antibodies, v2_document
from tests.canonical_dump import table_checksums
from tests.conftest import CliInvoker, _fresh_database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def empty(server_url: URL, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """A database with nothing in it (not even the schema): where a lost server's data is restored."""
    for url in _fresh_database(server_url, None):
        engine = create_engine(url, poolclass=NullPool)
        yield Settings(database_url=url, home=tmp_path / "restored"), engine
        engine.dispose()


def _populate(database: Database) -> None:
    """Every shape abdb reads: legacy JSON, FASTA numbered in three schemes, AIRR, OAS units, a Thera-SAbDab table."""
    import_legacy_json(database, [FIXTURES / "legacy_result_v2.json", FIXTURES / "legacy"], ImportOptions())
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    airr = [FIXTURES / "airr" / "therapeutics_cells.tsv", FIXTURES / "airr" / "nucleotide_only.tsv"]
    assert import_files(database, InputFormat.AIRR, airr, ImportOptions()).files[0].inserted > 0
    oas = sorted((FIXTURES / "oas").glob("SRR*.csv"))
    assert import_files(database, InputFormat.OAS, oas, ImportOptions()).files[0].inserted > 0
    thera = ImportOptions(columns=table_columns("thera-sabdab", None, None))
    assert (
        import_files(database, InputFormat.CSV, [FIXTURES / "tables" / "thera_sabdab.csv"], thera).files[0].inserted > 0
    )
    annotate(database, AnnotateOptions(schemes=("imgt", "kabat", "chothia")))


@pytest.mark.parametrize(("fmt", "jobs"), [("custom", 1), ("directory", 2)])
def test_a_restored_backup_holds_exactly_the_same_rows_and_verifies(
    database: Database, settings: Settings, engine: Engine, empty: tuple[Settings, Engine], tmp_path: Path,
    fmt: str, jobs: int,
) -> None:  # fmt: skip
    _populate(database)
    before = table_checksums(engine)
    made = backup(settings, tmp_path / f"backup.{fmt}", fmt, jobs)
    assert made.path.exists() and made.revision and made.bytes > 0
    sidecar = json.loads((tmp_path / f"backup.{fmt}.abdb.json").read_text())
    assert sidecar["revision"] == made.revision and sidecar["sha256"] == made.sha256 and sidecar["format"] == fmt
    assert not list(tmp_path.glob(".*partial"))
    target, target_engine = empty
    report = restore(target, made.path, jobs=jobs)
    assert report.verified is not None and not report.verified.violations and not report.replaced
    assert table_checksums(target_engine) == before
    with target_engine.connect() as connection:  # statistics were rebuilt: the planner knows the sizes
        estimate = text("SELECT reltuples FROM pg_class WHERE relname = 'antibody_regions'")
        assert connection.execute(estimate).scalar_one() > 0


def test_a_backup_of_a_newer_schema_is_refused_and_changes_nothing(
    database: Database, settings: Settings, engine: Engine, empty: tuple[Settings, Engine], tmp_path: Path
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    made = backup(settings, tmp_path / "newer.dump")
    target, target_engine = empty
    with pytest.raises(MigrationError) as refused:
        restore(target, made.path)
    assert "revision 0042" in refused.value.message and refused.value.exit_code == 4
    with target_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0


def test_a_database_holding_data_is_replaced_only_when_confirmed(
    cli: CliInvoker, database: Database, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    first = import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions()).total("inserted")
    made = backup(settings, tmp_path / "one.dump")
    import_fasta(database, [FIXTURES / "good_therapeutics.fasta"], ImportOptions())
    code, output = cli("db", "restore", str(made.path))
    assert code == 2 and "holds data" in output and "--yes" in output
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one() > 10  # untouched
    with pytest.raises(ConfirmationRequired):
        restore(settings, made.path)
    code, output = cli("db", "restore", str(made.path), "--yes")
    assert code == 0 and "checks passed, 0 failed" in output
    with create_engine(database.url, poolclass=NullPool).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM antibody_sequences")).scalar() == first


def test_a_corrupted_backup_is_refused_by_its_checksum(settings: Settings, tmp_path: Path) -> None:
    made = backup(settings, tmp_path / "x.dump")
    with made.path.open("ab") as handle:
        handle.write(b"garbage")
    with pytest.raises(BackupError, match="checksum"):
        restore(settings, made.path, confirmed=True)


def test_a_killed_pg_dump_leaves_no_file_that_looks_complete(database: Database, tmp_path: Path) -> None:
    document = tmp_path / "many.json"
    document.write_text(json.dumps(v2_document(generate_antibodies(6000, seed=2))))
    import_legacy_json(database, [document], ImportOptions())
    target = tmp_path / "killed.dump"
    url = database.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "abdb", "--database-url", url, "db", "backup", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = False
    deadline = time.monotonic() + 60
    while not killed and process.poll() is None and time.monotonic() < deadline:
        for child in psutil.Process(process.pid).children(recursive=True):
            if child.name() == "pg_dump":
                child.kill()  # SIGKILL
                killed = True
        time.sleep(0.002)
    _, stderr = process.communicate(timeout=60)
    assert killed, "pg_dump finished before it could be killed"
    assert process.returncode == 5 and "pg_dump failed" in stderr and "no backup was written" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.json"]  # no dump, no sidecar, no partial


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_a_destination_ending_in_a_slash_is_a_private_folder_that_gets_a_timestamped_backup(
    database: Database, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    made = backup(settings, f"{tmp_path / 'backups'}/", fmt)
    assert made.path.parent == tmp_path / "backups" and made.path.name.startswith("abdb-")
    assert (tmp_path / "backups").stat().st_mode & 0o777 == 0o700
    again = backup(settings, tmp_path / "backups", fmt)  # an existing folder, without the slash
    assert again.path.parent == tmp_path / "backups" and again.path != made.path


@pytest.mark.parametrize("jobs", [1, 2])
def test_backup_and_restore_report_progress_item_by_item_up_to_their_total(
    database: Database, settings: Settings, empty: tuple[Settings, Engine], tmp_path: Path, jobs: int
) -> None:
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    dumped: list[tuple[int, int, str]] = []
    made = backup(settings, tmp_path / "progress.dir", "directory", jobs, on_progress=lambda *a: dumped.append(a))
    assert dumped and dumped[-1][0] == dumped[-1][1] and "antibody_regions" in {name for _, _, name in dumped}
    assert [done for done, _, _ in dumped] == sorted(done for done, _, _ in dumped)
    restored: list[tuple[int, int, str]] = []
    target, _ = empty
    restore(target, made.path, jobs=jobs, on_progress=lambda *a: restored.append(a))
    total = restored[-1][1]
    assert total > dumped[-1][1]  # data, then indexes and constraints
    assert [name for _, _, name in restored[-2:]] == ["ANALYZE", "abdb verify"]
    assert max(done for done, _, name in restored[:-2]) == total
    assert any("pk_antibody_sequences" in name for _, _, name in restored)
