"""Annotation workers that die, outlive their parent or lose their jobs, and SIGTERM (issue 12)."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.numbering.engine import ChainNumbering, EngineSettings
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.importing.run import ImportOptions, import_fasta
from tests.faults.helpers import (
    antibodies,
    children,
    process_running,
    scalar,
    start_abdb,
    wait_for,
    write_heavy_fasta,
    write_v2,
)

JOBS = 300
DUPLICATE_RESULTS = (
    "SELECT count(*) FROM (SELECT job_id FROM external_tool_results GROUP BY job_id HAVING count(*) > 1) twice"
)


@pytest.fixture
def queued(fresh: URL, tmp_path: Path) -> URL:
    settings = Settings(database_url=fresh, home=tmp_path)
    import_fasta(settings, [write_heavy_fasta(tmp_path / "heavy.fasta", antibodies(JOBS, seed=31))], ImportOptions())
    return fresh


def _status(url: URL, status: str) -> int:
    return scalar(url, f"SELECT count(*) FROM processing_jobs WHERE status = '{status}'")


def _workers_of(pid: int, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [child for child in children(pid) if process_running(child)]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError("the workers did not start")


def test_a_worker_killed_mid_run_is_noticed_its_jobs_released_and_the_others_finish(queued: URL) -> None:
    process = start_abdb(queued, "annotate", "--workers", "2", "--batch-size", "10")
    workers = _workers_of(process.pid, 2)
    wait_for(queued, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 30, process)
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=180)  # before: it hung forever
    assert process.returncode == 11, stderr
    last = stderr.strip().splitlines()[-1]
    assert "died: killed by SIGKILL (kill -9 or the out-of-memory killer)" in last and "PENDING again" in last
    assert "Traceback" not in stderr
    assert _status(queued, "RUNNING") == 0
    assert _status(queued, "COMPLETED") + _status(queued, "PENDING") == JOBS
    assert scalar(queued, DUPLICATE_RESULTS) == 0
    rerun = start_abdb(queued, "annotate", "--quiet")
    assert rerun.wait(timeout=180) == 0
    assert _status(queued, "COMPLETED") == JOBS and scalar(queued, DUPLICATE_RESULTS) == 0


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_stop_when_their_parent_is_gone_and_jobs_are_never_numbered_twice(queued: URL, how: int) -> None:
    process = start_abdb(queued, "annotate", "--workers", "2", "--batch-size", "10")
    workers = _workers_of(process.pid, 2)
    wait_for(queued, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 20, process)
    os.kill(process.pid, how)  # the parent alone, as the OOM killer or `kill` would
    process.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while any(process_running(worker) for worker in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(process_running(worker) for worker in workers), "orphaned workers went on"
    assert _status(queued, "RUNNING") == 0  # they released their claims on the way out
    rerun = start_abdb(queued, "annotate", "--workers", "2", "--quiet")
    assert rerun.wait(timeout=180) == 0
    assert _status(queued, "COMPLETED") == JOBS
    assert scalar(queued, DUPLICATE_RESULTS) == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_annotation_like_ctrl_c_with_exit_143(queued: URL, workers: int) -> None:
    process = start_abdb(queued, "annotate", "--workers", str(workers), "--batch-size", "10")
    wait_for(queued, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 20, process)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert "error: interrupted (SIGTERM): " in stderr and "PENDING again" in stderr and "Traceback" not in stderr
    assert _status(queued, "RUNNING") == 0
    completed = _status(queued, "COMPLETED")
    assert scalar(queued, "SELECT count(*) FROM external_tool_results") == completed


def test_the_process_writing_one_workers_batches_killed_ends_the_run_with_its_jobs_pending_again(
    queued: URL,
) -> None:
    process = start_abdb(queued, "annotate", "--batch-size", "10")
    [writer] = _workers_of(process.pid, 1)  # one worker writes from a process of its own
    wait_for(queued, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 30, process)
    os.kill(writer, signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 11, stderr
    last = stderr.strip().splitlines()[-1]
    assert f"the process writing the annotations (pid {writer}) died: killed by SIGKILL" in last, stderr
    assert "PENDING again" in last and "Traceback" not in stderr
    assert _status(queued, "RUNNING") == 0
    completed = _status(queued, "COMPLETED")
    assert 0 < completed < JOBS and completed + _status(queued, "PENDING") == JOBS
    assert scalar(queued, "SELECT count(*) FROM external_tool_results") == completed  # whole batches only
    rerun = start_abdb(queued, "annotate", "--quiet")
    assert rerun.wait(timeout=180) == 0
    assert _status(queued, "COMPLETED") == JOBS and scalar(queued, DUPLICATE_RESULTS) == 0


def test_one_worker_in_a_terminal_draws_its_progress_bar_and_still_writes_from_a_process_of_its_own(
    queued: URL,
) -> None:
    """A progress bar redrawn by a thread would make forking unsafe, and the worker would write in a thread."""
    main, terminal = pty.openpty()
    command = [sys.executable, "-m", "abdb", "--database-url", queued.render_as_string(hide_password=False)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    process = subprocess.Popen(
        [*command, "annotate", "--batch-size", "10"], env=environment, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    shown = bytearray()
    reader = threading.Thread(target=_drain, args=(main, shown))
    reader.start()
    try:
        writers = _workers_of(process.pid, 1)
        assert process.wait(timeout=180) == 0
    finally:
        reader.join(timeout=10)
        os.close(main)
    assert len(writers) == 1
    assert "annotating" in shown.decode(errors="replace") and f"{JOBS}/{JOBS}" in shown.decode(errors="replace")
    assert _status(queued, "COMPLETED") == JOBS


def _drain(descriptor: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:  # the terminal's other side closed
            return
        if not chunk:
            return
        into.extend(chunk)


def test_the_writer_process_ends_with_its_worker_killed_and_stores_only_whole_batches(queued: URL) -> None:
    process = start_abdb(queued, "annotate", "--batch-size", "10")
    [writer] = _workers_of(process.pid, 1)
    wait_for(queued, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 30, process)
    os.kill(process.pid, signal.SIGKILL)  # the worker alone, as the out-of-memory killer would
    process.communicate(timeout=60)
    deadline = time.monotonic() + 10
    while process_running(writer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_running(writer), "the writer process outlived its worker"
    completed = _status(queued, "COMPLETED")
    assert scalar(queued, "SELECT count(*) FROM external_tool_results") == completed
    assert scalar(queued, "SELECT count(DISTINCT antibody_sequence_id) FROM antibody_domains") == completed
    assert scalar(queued, DUPLICATE_RESULTS) == 0


def test_sigterm_stops_an_import_like_ctrl_c_with_exit_143(fresh: URL, tmp_path: Path) -> None:
    path = write_v2(tmp_path / "many.json", antibodies(3000, seed=32))
    process = start_abdb(fresh, "import", "legacy-json", str(path), "--batch-size", "50")
    wait_for(fresh, "SELECT count(*) FROM antibody_sequences", 100, process)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted after 1 file(s): ") and "rolled back" in last
    stored = scalar(fresh, "SELECT count(*) FROM antibody_sequences")
    assert f"{stored} antibodies stored" in last and stored % 50 == 0
    assert (
        scalar(fresh, "SELECT count(*) FROM import_runs WHERE status = 'CANCELLED' AND error_message LIKE '%SIGTERM%'")
        == 1
    )


class _RequeueingEngine:
    """Numbers nothing, and meanwhile has every claimed job re-queued and claimed again elsewhere, as `jobs
    retry --running-for 0` and another worker would do: this worker no longer holds any of them."""

    name = "test"
    version = "0"

    def __init__(self, url: URL) -> None:
        self.url = url

    def number(self, sequences: Sequence[str], settings: EngineSettings) -> list[ChainNumbering]:
        engine = create_engine(self.url, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE processing_jobs SET started_at = started_at + interval '1 second' WHERE status = 'RUNNING'"
                )
            )
        engine.dispose()
        return [ChainNumbering() for _ in sequences]


def test_a_worker_writes_and_counts_only_the_jobs_it_still_holds(queued: URL, tmp_path: Path) -> None:
    settings = Settings(database_url=queued, home=tmp_path)
    report = annotate(settings, AnnotateOptions(limit=20, batch_size=10), engine=_RequeueingEngine(queued))
    assert report.completed == report.failed == 0 and report.dropped == 20
    assert scalar(queued, "SELECT count(*) FROM external_tool_results") == 0
    assert _status(queued, "RUNNING") == 20  # the other claim's, untouched
