"""Ctrl-C (SIGINT to the process group, as a terminal sends it) during import and annotate."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.services.importing.run import ImportOptions, import_fasta
from tests.faults.helpers import (
    BROKEN_ANTIBODIES,
    antibodies,
    scalar,
    start_abdb,
    wait_for,
    write_heavy_fasta,
    write_v2,
)

STOP_WITHIN_SECONDS = 2.5


def _interrupt(process_group: int) -> float:
    started = time.monotonic()
    os.killpg(process_group, signal.SIGINT)
    return started


def test_ctrl_c_stops_an_import_quickly_says_how_far_it_got_and_keeps_whole_batches(fresh: URL, tmp_path: Path) -> None:
    path = write_v2(tmp_path / "many.json", antibodies(3000, seed=21))
    process = start_abdb(fresh, "import", "legacy-json", str(path), "--batch-size", "50")
    wait_for(fresh, "SELECT count(*) FROM antibody_sequences", 100, process)
    started = _interrupt(process.pid)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < STOP_WITHIN_SECONDS
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted after 1 file(s): ") and "the batch in progress was rolled back" in last
    stored = scalar(fresh, "SELECT count(*) FROM antibody_sequences")
    assert f"{stored} antibodies stored" in last
    assert stored % 50 == 0 and scalar(fresh, BROKEN_ANTIBODIES) == 0
    assert (
        scalar(fresh, "SELECT count(*) FROM import_runs WHERE status = 'CANCELLED' AND completed_at IS NOT NULL") == 1
    )
    rerun = start_abdb(fresh, "import", "legacy-json", str(path), "--batch-size", "50", "--quiet")
    assert rerun.wait(timeout=300) == 0
    assert scalar(fresh, "SELECT count(*) FROM antibody_sequences") == 3000


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_annotation_and_puts_the_unfinished_jobs_back(fresh: URL, tmp_path: Path, workers: int) -> None:
    settings = Settings(database_url=fresh, home=tmp_path)
    import_fasta(settings, [write_heavy_fasta(tmp_path / "heavy.fasta", antibodies(400, seed=22))], ImportOptions())
    process = start_abdb(fresh, "annotate", "--workers", str(workers), "--batch-size", "10")
    wait_for(fresh, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'", 20, process)
    started = _interrupt(process.pid)
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - started < STOP_WITHIN_SECONDS
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    completed = scalar(fresh, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'")
    assert completed < 400
    assert scalar(fresh, "SELECT count(*) FROM processing_jobs WHERE status = 'RUNNING'") == 0
    # whole batches only: every completed job has its tool result and domains, no pending one has either
    assert scalar(fresh, "SELECT count(*) FROM external_tool_results") == completed
    assert scalar(fresh, "SELECT count(*) FROM antibody_domains") == completed
    assert "error: interrupted (Ctrl-C): " in stderr and "PENDING again" in stderr
    rerun = start_abdb(fresh, "annotate", "--quiet")
    assert rerun.wait(timeout=300) == 0, rerun.communicate()
    assert scalar(fresh, "SELECT count(*) FROM external_tool_results") == 400
    assert scalar(fresh, "SELECT count(DISTINCT job_id) FROM external_tool_results") == 400
