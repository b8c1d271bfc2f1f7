"""Operating faults (issue 12): stale runs, racing migrations, an old server, a full disk, a skewed clock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from abdb.backends.embedded import _ensure_system_user
from abdb.config import DRIVER, Settings
from abdb.database import Database
from abdb.db.connect import advisory_lock_held
from abdb.repositories.import_runs import run_lock_key
from abdb.services import migrations
from abdb.services.importing.report import close_stale_runs
from tests.conftest import CliInvoker
from tests.faults.helpers import antibodies, scalar, start_abdb, wait_for, write_v2

REPO = Path(__file__).resolve().parents[2]
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"
POSTGRES_15 = Path("/usr/lib/postgresql/15/bin")


def _run(url: URL, *arguments: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    command = [*prefix, sys.executable, "-m", "abdb", "--database-url", url.render_as_string(hide_password=False)]
    return subprocess.run(
        [*command, *arguments], env=environment, capture_output=True, text=True, timeout=180, check=False
    )


# -- 7. runs left RUNNING -------------------------------------------------------------------------------
def test_a_killed_imports_run_is_closed_by_close_stale_and_a_live_one_is_not(fresh: URL, tmp_path: Path) -> None:
    path = write_v2(tmp_path / "many.json", antibodies(3000, seed=41))
    process = start_abdb(fresh, "import", "legacy-json", str(path), "--batch-size", "50")
    wait_for(fresh, "SELECT count(*) FROM antibody_sequences", 100, process)
    process.kill()
    process.communicate(timeout=30)
    with Database(Settings(database_url=fresh, home=tmp_path)) as database:
        with database.unit_of_work() as uow:  # a live import elsewhere: its run is RUNNING and its lock held
            live = uow.import_runs.start("fasta", {}, None)
            uow.commit()
        with advisory_lock_held(fresh, run_lock_key(live)):
            closed = close_stale_runs(database)
    assert len(closed) == 1 and live not in closed
    reason = scalar(
        fresh,
        f"SELECT count(*) FROM import_runs WHERE id = '{closed[0]}' AND status = 'FAILED' "
        "AND error_message LIKE '%stopped without finishing%' AND completed_at IS NOT NULL",
    )
    assert reason == 1
    assert scalar(fresh, f"SELECT count(*) FROM import_runs WHERE id = '{live}' AND status = 'RUNNING'") == 1


def test_close_stale_from_the_command_line_and_verify_says_how(cli: CliInvoker, engine: Engine) -> None:
    with engine.begin() as connection:  # a run left RUNNING two hours ago by an import that is gone
        connection.execute(
            text(
                "INSERT INTO import_runs (command, status, started_at) "
                "VALUES ('fasta', 'RUNNING', now() - '2h'::interval)"
            )
        )
    code, output = cli("verify", "--format", "json")
    (stuck,) = [check for check in json.loads(output)["checks"] if check["name"] == "provenance.stuck"]
    assert stuck["status"] == "failed" and "abdb import runs --close-stale" in stuck["fix"]
    code, output = cli("import", "runs", "--close-stale")
    assert code == 0 and "closed 1 stale import run(s)" in output
    code, output = cli("verify", "--format", "json")
    (stuck,) = [check for check in json.loads(output)["checks"] if check["name"] == "provenance.stuck"]
    assert stuck["status"] == "passed"


# -- 9. two migrations at once --------------------------------------------------------------------------
def test_two_migrations_at_once_both_succeed_and_the_second_finds_the_work_done(
    empty_database_url: URL, tmp_path: Path
) -> None:
    settings = Settings(database_url=empty_database_url, home=tmp_path)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def migrate() -> None:
        barrier.wait()
        try:
            outcomes.append(migrations.migrate_to(settings))
        except Exception as error:
            outcomes.append(error)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    messages = sorted(getattr(outcome, "message", repr(outcome)) for outcome in outcomes)
    assert messages[0].startswith("already at ") and messages[1].startswith("upgraded empty database -> "), messages


# -- 10. a server older than 18 -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres_15() -> Iterator[URL]:
    assert (POSTGRES_15 / "initdb").exists(), "PostgreSQL 15 is missing: `apt-get install postgresql-15` (.ci/run)"
    folder = Path(tempfile.mkdtemp(prefix="abdb-pg15-"))
    folder.chmod(0o711)
    data = folder / "data"
    data.mkdir(mode=0o700)
    kwargs: dict[str, object] = {}
    if os.geteuid() == 0:
        user = _ensure_system_user()
        os.chown(data, user.pw_uid, user.pw_gid)
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    run = dict(check=True, capture_output=True, cwd=folder, **kwargs)
    subprocess.run([str(POSTGRES_15 / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"], **run)  # type: ignore[call-overload]
    options = f"-c listen_addresses='' -k {data} -p 5499"
    subprocess.run(
        [str(POSTGRES_15 / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-o", options, "-w", "start"], **run
    )  # type: ignore[call-overload]
    try:
        yield URL.create(DRIVER, username="postgres", database="postgres", query={"host": str(data), "port": "5499"})
    finally:
        subprocess.run([str(POSTGRES_15 / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], **run)  # type: ignore[call-overload]
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    "command", [["migrate"], ["db", "status"], ["db", "up"], ["import", "runs"], ["verify"], ["annotate"]], ids=" ".join
)
def test_every_command_refuses_a_postgresql_older_than_18_in_one_line(postgres_15: URL, command: list[str]) -> None:
    result = _run(postgres_15, *command)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "runs PostgreSQL 15." in lines[0] and "needs PostgreSQL 18 or newer" in lines[0]


# -- 11. a full disk --------------------------------------------------------------------------------
def test_an_errors_file_on_a_full_disk_says_so_after_the_summary_with_its_own_exit_code(fresh: URL) -> None:
    bad = REPO / "fixtures" / "bad_alphabet.fasta"
    result = _run(fresh, "import", "fasta", str(bad), "--errors", "/dev/full")
    assert result.returncode == 12, result.stderr
    assert "total: " in result.stdout  # the summary came first
    assert "could not write --errors /dev/full: No space left on device" in result.stderr
    assert "unexpected" not in result.stderr
    assert scalar(fresh, "SELECT count(*) FROM antibody_sequences") > 0


def test_standard_input_copies_are_removed_whatever_happens(fresh: URL, tmp_path: Path) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")} | {"TMPDIR": str(spool)}
    url = fresh.render_as_string(hide_password=False)
    for stdin in (THERAPEUTICS.read_text(), "not fasta at all\n", "\x00\x01binary"):
        subprocess.run(
            [sys.executable, "-m", "abdb", "--database-url", url, "import", "fasta", "-"],
            input=stdin,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert list(spool.iterdir()) == []


# -- 12. a skewed clock ---------------------------------------------------------------------------------
@pytest.mark.parametrize("skew", ["+15m", "-20m"])
def test_a_skewed_client_clock_still_gives_ids_that_verify_accepts(fresh: URL, skew: str) -> None:
    faketime = shutil.which("faketime")
    assert faketime, "faketime is missing: `apt-get install faketime` (.ci/run installs it)"
    imported = _run(fresh, "import", "fasta", str(THERAPEUTICS), prefix=(faketime, "-f", skew))
    assert imported.returncode == 0, imported.stderr
    assert "clock is" in imported.stdout and "the new ids carry the server's time" in imported.stdout
    verified = _run(fresh, "verify", "--check", "identity", "--fail-on", "warning")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_ids_follow_the_server_clock_offset() -> None:
    from abdb.domain import ids

    try:
        ids.set_clock_offset(3600 * 10**9)
        milliseconds = int.from_bytes(ids.new_id().bytes[:6], "big")
        assert 3590 < milliseconds / 1000 - time.time() < 3610
        assert 3590 < int(ids.new_id_text()[:13].replace("-", ""), 16) / 1000 - time.time() < 3610
    finally:
        ids.set_clock_offset(0)
