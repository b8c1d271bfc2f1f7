"""`kill -9` of a real `abdb import` at 20 seeded moments: only whole antibodies remain, verify is clean,
and re-running the same import ends with exactly the expected rows."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.domain.checks import Severity
from abdb.services.verify import VerifyOptions, verify
from tests.conftest import _fresh_database
from tests.faults.helpers import (
    BROKEN_ANTIBODIES,
    antibodies,
    children,
    process_running,
    scalar,
    start_abdb,
    wait_for,
    wait_for_its_connections_to_end,
    write_v2,
)

ANTIBODIES = 800
BATCH = 25
KILL_POINTS = 20


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_v2(tmp_path_factory.mktemp("kill") / "results.json", antibodies(ANTIBODIES, seed=11))


@pytest.fixture(scope="module")
def import_seconds(server_url: URL, template_url: URL, big_file: Path) -> float:
    """How long the whole import takes here: the kill moments are spread over it."""
    generator = _fresh_database(server_url, template_url.database)
    url = next(generator)
    started = time.monotonic()
    process = start_abdb(url, "import", "legacy-json", str(big_file), "--batch-size", str(BATCH), "--quiet")
    assert process.wait(timeout=120) == 0, process.communicate()
    seconds = time.monotonic() - started
    next(generator, None)
    return seconds


def _moments(total: float) -> list[float]:
    """Seeded moments from process start-up and parsing to the last commit."""
    rng = random.Random(20261125)
    return sorted(rng.uniform(0.05, total * 0.95) for _ in range(KILL_POINTS))


def test_the_kill_moments_cover_start_up_loading_and_the_end(import_seconds: float) -> None:
    moments = _moments(import_seconds)
    assert len(moments) == KILL_POINTS and moments[0] < import_seconds / 4 and moments[-1] > import_seconds * 3 / 4


@pytest.mark.parametrize("point", range(KILL_POINTS))
def test_a_killed_import_leaves_whole_antibodies_verifies_clean_and_reruns_to_the_exact_rows(
    fresh: URL, big_file: Path, import_seconds: float, point: int, tmp_path: Path
) -> None:
    process = start_abdb(fresh, "import", "legacy-json", str(big_file), "--batch-size", str(BATCH), "--quiet")
    time.sleep(_moments(import_seconds)[point])
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    wait_for_its_connections_to_end(fresh)  # a commit sent just before the kill lands first

    stored = scalar(fresh, "SELECT count(*) FROM antibody_sequences")
    assert stored % BATCH == 0 and stored <= ANTIBODIES  # whole batches of whole antibodies
    assert scalar(fresh, BROKEN_ANTIBODIES) == 0
    if stored:  # the killed run's counters are exactly what it committed
        assert scalar(fresh, "SELECT coalesce(sum(inserted), 0) FROM import_runs") == stored
    report = verify(Settings(database_url=fresh, home=tmp_path), VerifyOptions(fail_on=Severity.ERROR))
    assert not report.violations, [(r.check.name, r.count, r.examples) for r in report.violations]

    rerun = start_abdb(fresh, "import", "legacy-json", str(big_file), "--batch-size", str(BATCH), "--quiet")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert f"total: {ANTIBODIES - stored} inserted, {stored} unchanged" in stdout
    assert scalar(fresh, "SELECT count(*) FROM antibody_sequences") == ANTIBODIES
    assert scalar(fresh, "SELECT count(*) FROM antibody_regions") == ANTIBODIES * 2 * 7
    assert scalar(fresh, BROKEN_ANTIBODIES) == 0


def test_the_reader_process_does_not_outlive_a_killed_import(fresh: URL, big_file: Path) -> None:
    process = start_abdb(fresh, "import", "legacy-json", str(big_file), "--batch-size", str(BATCH), "--quiet")
    wait_for(fresh, "SELECT count(*) FROM antibody_sequences", BATCH, process)
    readers = children(process.pid)
    assert readers, "the import reads ahead in a child process"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in readers):
        assert time.monotonic() < deadline, f"reader processes {readers} outlived the killed import"
        time.sleep(0.05)
