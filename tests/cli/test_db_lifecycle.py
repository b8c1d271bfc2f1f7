"""`abdb db` and `abdb migrate` on the embedded backend, run as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from abdb.backends.embedded import EmbeddedServer
from abdb.services.migrations import head_revision
from tests.cli.helpers import abdb

HEAD = head_revision()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "abdb-home"
    yield folder
    EmbeddedServer(folder / "pgdata").stop()


def _count_sequences(home: Path) -> str:
    run = abdb("db", "psql", "-tAc", "select count(*) from antibody_sequences", home=home)
    assert run.code == 0, run.output
    return run.stdout.strip()


def test_up_migrate_status_psql_down_and_up_again_keeps_the_data(home: Path) -> None:
    first = abdb("db", "up", home=home)
    assert first.code == 0, first.output
    assert "embedded server started" in first.stdout
    assert "created database abdb_dev" in first.stdout

    again = abdb("db", "up", home=home)
    assert again.code == 0 and "already running" in again.stdout

    migrated = abdb("migrate", home=home)
    assert migrated.code == 0 and f"-> {HEAD}" in migrated.stdout

    status = abdb("db", "status", home=home)
    assert status.code == 0, status.output
    assert "PostgreSQL 18." in status.stdout
    assert "at head" in status.stdout and "antibody_chains" in status.stdout

    inserted = abdb("db", "psql", "-c", "insert into antibody_sequences (name) values ('kept')", home=home)
    assert inserted.code == 0, inserted.output
    assert abdb("db", "down", home=home).stdout.strip() == "embedded server stopped"
    assert abdb("db", "down", home=home).stdout.strip() == "embedded server was not running"

    stopped = abdb("db", "status", home=home)
    assert stopped.code == 3
    assert len(stopped.stderr.strip().splitlines()) == 1
    assert "not reachable" in stopped.stderr and "abdb db up" in stopped.stderr

    assert abdb("db", "up", home=home).code == 0
    assert _count_sequences(home) == "1"


def test_reset_needs_confirmation_and_then_starts_fresh_at_head(home: Path) -> None:
    assert abdb("db", "up", home=home).code == 0
    assert abdb("migrate", home=home).code == 0
    abdb("db", "psql", "-c", "insert into antibody_sequences (name) values ('x')", home=home)

    refused = abdb("db", "reset", home=home)
    assert refused.code == 2
    assert "--yes" in refused.stderr
    assert _count_sequences(home) == "1"

    declined = abdb("db", "reset", home=home, stdin="n\n")
    assert declined.code == 2 and _count_sequences(home) == "1"

    reset = abdb("db", "reset", "--yes", home=home)
    assert reset.code == 0, reset.output
    assert f"migrated to {HEAD}" in reset.stdout
    assert _count_sequences(home) == "0"
    assert abdb("migrate", "check", home=home).code == 0


def test_a_downgrade_needs_confirmation(home: Path) -> None:
    assert abdb("db", "up", home=home).code == 0
    assert abdb("migrate", home=home).code == 0
    refused = abdb("migrate", "down", home=home)
    assert refused.code == 2
    assert abdb("migrate", "current", home=home).stdout.startswith(HEAD)
    assert abdb("migrate", "down", "base", "--yes", home=home).code == 0
    assert abdb("migrate", "current", home=home).stdout.startswith("none")
    assert abdb("migrate", "check", home=home).code == 4


def test_up_recovers_after_the_server_was_killed(home: Path) -> None:
    assert abdb("db", "up", home=home).code == 0
    server = EmbeddedServer(home / "pgdata")
    pid = server.state().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: not server.state().running)
    assert (home / "pgdata" / "postmaster.pid").exists()

    recovered = abdb("db", "up", home=home)
    assert recovered.code == 0, recovered.output
    assert "started" in recovered.stdout
    assert server.state().running


def test_up_recovers_from_a_pid_file_naming_another_live_process(home: Path) -> None:
    assert abdb("db", "up", home=home).code == 0
    assert abdb("db", "down", home=home).code == 0
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = home / "pgdata" / "postmaster.pid"
        pid_file.write_text(f"{sleeper.pid}\n{home / 'pgdata'}\n0\n5432\n\n\n\nready\n")
        recovered = abdb("db", "up", home=home)
        assert recovered.code == 0, recovered.output
        assert EmbeddedServer(home / "pgdata").state().running
    finally:
        sleeper.kill()


def test_the_embedded_server_listens_on_a_unix_socket_only_with_the_shared_buffers_asked_for(home: Path) -> None:
    assert abdb("db", "up", home=home, env={"ABDB_SHARED_BUFFERS": "144MB"}).code == 0
    run = abdb("db", "psql", "-tAc", "show listen_addresses", home=home)
    assert run.code == 0 and run.stdout.strip() == ""
    assert abdb("db", "psql", "-tAc", "show shared_buffers", home=home).stdout.strip() == "144MB"
    refused = abdb("--database-url", "postgresql://postgres@127.0.0.1:5432/abdb_dev", "db", "status", home=home)
    assert refused.code == 3


def test_the_embedded_server_reloads_the_pages_it_had_in_memory_after_a_restart(home: Path) -> None:
    """pg_prewarm's autoprewarm: the pages in shared buffers are written down at shutdown and read again after
    the next start, so the first searches after a restart do not read from disk."""
    assert abdb("db", "up", home=home).code == 0
    preloaded = abdb("db", "psql", "-tAc", "show shared_preload_libraries", home=home).stdout
    assert "pg_prewarm" in preloaded and "pg_stat_statements" in preloaded
    made = (
        "create extension pg_buffercache; create table kept with (autovacuum_enabled = off) as "
        "select generate_series(1, 50000) as n"  # no vacuum to read its maps in and out meanwhile
    )
    assert abdb("db", "psql", "-c", made, home=home).code == 0
    cached = (
        "select count(*) from pg_buffercache where relfilenode = pg_relation_filenode('kept') "
        "and relforknumber = 0 and reldatabase = (select oid from pg_database where datname = current_database())"
    )
    blocks = "select pg_relation_size('kept') / current_setting('block_size')::int"
    evict = abdb("db", "psql", "-tAc", "select pg_buffercache_evict_relation('kept')", home=home)
    assert evict.code == 0, evict.output
    assert abdb("db", "psql", "-tAc", cached, home=home).stdout.strip() == "0"
    assert abdb("db", "psql", "-tAc", "select sum(n) from kept", home=home).code == 0  # now in memory
    in_memory = int(abdb("db", "psql", "-tAc", cached, home=home).stdout)
    assert in_memory == int(abdb("db", "psql", "-tAc", blocks, home=home).stdout) > 0  # every page of it
    assert abdb("db", "down", home=home).code == 0
    assert (home / "pgdata" / "autoprewarm.blocks").stat().st_size > 0
    assert abdb("db", "up", home=home).code == 0
    _wait_until(lambda: int(abdb("db", "psql", "-tAc", cached, home=home).stdout or 0) == in_memory)


def _wait_until(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_the_docker_backend_without_an_engine_says_so(tmp_path: Path) -> None:
    run = abdb("db", "up", home=tmp_path, env={"ABDB_BACKEND": "docker", "PATH": str(tmp_path)})
    assert run.code == 3
    assert "no Docker engine answers" in run.stderr and "--backend embedded" in run.stderr


def _quick_start_steps() -> list[list[str]]:
    """The abdb commands of the README's quick-start line (after the install)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = next(
        line for line in readme.splitlines() if line.startswith("python3 -m venv .venv && ") and "[test]" not in line
    )
    return [part.split()[1:] for part in line.split(" && ") if part.startswith(".venv/bin/abdb ")]


def test_the_readme_quick_start_runs_end_to_end_and_a_second_run_adds_nothing(home: Path) -> None:
    steps = _quick_start_steps()
    assert ["import", "fasta", "fixtures/good_therapeutics.fasta"] in steps
    repo = Path(__file__).resolve().parents[2]
    inserted = {1: 0, 2: 0}
    for attempt in (1, 2):
        for step in steps:
            run = abdb(*[str(repo / a) if a.startswith("fixtures/") else a for a in step], home=home)
            assert run.code == 0, (step, run.output)
            if step[0] == "import":
                inserted[attempt] += int(re.search(r"total: (\d+) inserted", run.stdout).group(1))  # type: ignore[union-attr]
    status = abdb("db", "status", home=home)
    assert "antibody_regions" in status.stdout
    # FASTA's 60, then the legacy antibodies not already stored under the same name with the same chains
    assert inserted == {1: 70, 2: 0}
    assert _count_sequences(home) == "70"


def test_the_readme_ci_job_runs_and_keeps_a_junit_file(home: Path, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text()
    block = readme.split("```yaml", 1)[1].split("```", 1)[0]
    steps = [line.split("run: ", 1)[1] for line in block.splitlines() if "run: .venv/bin/abdb " in line]
    assert [step.split()[1] for step in steps] == ["db", "migrate", "import", "import", "verify"]
    repo = Path(__file__).resolve().parents[2]
    junit = tmp_path / "verify.xml"
    for step in steps:
        arguments = [str(repo / a) if a.startswith("fixtures/") else a for a in step.split()[1:]]
        arguments = [str(junit) if a == "verify.xml" else a for a in arguments]
        run = abdb(*arguments, home=home, timeout=300)
        assert run.code == 0, (step, run.output)
    assert 'failures="0"' in junit.read_text() and "regions.tiling" in junit.read_text()
