"""A real `kill -9` of an `abdb import` subprocess: only whole antibodies remain, and a re-run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from benchmarks.synthetic import generate_antibodies, v2_document

ANTIBODIES = 2000
BATCH = 50


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "results.json"
    path.write_text(json.dumps(v2_document(generate_antibodies(ANTIBODIES, seed=11))))
    return path


def _import(url: URL, path: Path) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    command = [sys.executable, "-m", "abdb", "--database-url", url.render_as_string(hide_password=False)]
    return subprocess.Popen(
        [*command, "import", "legacy-json", str(path), "--batch-size", str(BATCH), "--quiet"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "gone"


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def _broken_antibodies(engine: Engine) -> int:
    """Antibodies that are not whole: not 2 chains, a chain without its domain, a domain without 7 regions."""
    return _scalar(
        engine,
        """
        SELECT count(*) FROM antibody_sequences s
        WHERE (SELECT count(*) FROM antibody_chains c WHERE c.antibody_sequence_id = s.id) <> 2
           OR EXISTS (SELECT 1 FROM antibody_chains c WHERE c.antibody_sequence_id = s.id
                      AND (SELECT count(*) FROM antibody_domains d WHERE d.chain_id = c.id) <> 1)
           OR EXISTS (SELECT 1 FROM antibody_chains c JOIN antibody_domains d ON d.chain_id = c.id
                      WHERE c.antibody_sequence_id = s.id
                      AND (SELECT count(*) FROM antibody_regions r WHERE r.domain_id = d.id) <> 7)
        """,
    )


@pytest.mark.parametrize("kill_after", [1, 8, 20])
def test_a_killed_import_leaves_only_whole_antibodies_and_a_rerun_completes(
    database_url: URL, engine: Engine, big_file: Path, kill_after: int
) -> None:
    process = _import(database_url, big_file)
    deadline = time.monotonic() + 120
    while _scalar(engine, "SELECT count(*) FROM antibody_sequences") < kill_after * BATCH:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    readers = _children(process.pid)
    assert readers, "the import reads ahead in a child process"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # the orphaned reader notices and exits instead of waiting forever on its queue
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in readers):
        assert time.monotonic() < deadline, f"reader processes {readers} outlived the killed import"
        time.sleep(0.05)

    stored = _scalar(engine, "SELECT count(*) FROM antibody_sequences")
    assert kill_after * BATCH <= stored < ANTIBODIES
    assert stored % BATCH == 0  # whole batches only
    assert _broken_antibodies(engine) == 0
    # the killed run stays RUNNING, and its counters match exactly what it committed
    assert _scalar(engine, "SELECT count(*) FROM import_runs WHERE status = 'RUNNING'") == 1
    assert _scalar(engine, "SELECT inserted FROM import_runs") == stored

    rerun = _import(database_url, big_file)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert f"{ANTIBODIES - stored} inserted, {stored} unchanged" in stdout.decode()
    assert _scalar(engine, "SELECT count(*) FROM antibody_sequences") == ANTIBODIES
    assert _scalar(engine, "SELECT count(*) FROM antibody_regions") == ANTIBODIES * 2 * 7
    assert _broken_antibodies(engine) == 0
