"""Reading ahead: in a forked process (the default on Linux) and in a thread (elsewhere)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from abdb.errors import InputError
from abdb.io import prefetch
from tests.faults.helpers import process_running


def _in_process(source: Iterator[int]) -> Iterator[int]:
    return prefetch._in_process(source, 2, multiprocessing.get_context("fork"))


def _in_thread(source: Iterator[int]) -> Iterator[int]:
    return prefetch._in_thread(source, 2)


MODES = [_in_process, _in_thread]


def _failing_after(count: int) -> Iterator[int]:
    yield from range(count)
    raise InputError("file.json: broken")


@pytest.mark.parametrize("mode", MODES)
def test_items_arrive_in_order_and_an_error_is_raised_where_it_happened(
    mode: Callable[[Iterator[int]], Iterator[int]],
) -> None:
    received = []
    with pytest.raises(InputError, match=r"file\.json: broken"):
        for item in mode(_failing_after(50)):
            received.append(item)
    assert received == list(range(50))


def test_the_reader_runs_in_another_process_and_stops_when_the_consumer_does() -> None:
    def pids() -> Iterator[int]:
        while True:
            yield os.getpid()

    reader = _in_process(pids())
    assert next(reader) != os.getpid()
    started = time.monotonic()
    reader.close()  # the generator's cleanup terminates the reader process
    assert time.monotonic() - started < 5
    assert multiprocessing.active_children() == []


def test_a_reader_whose_parent_is_killed_exits_even_when_blocked_flushing_its_queue(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, sys, time\n"
        "from abdb.io.prefetch import prefetched\n"
        "items = prefetched(iter(['x' * 5_000_000 for _ in range(2)]))\n"
        "next(items)\n"
        "time.sleep(1)  # the reader has produced everything and is stuck writing into a full pipe\n"
        "print(multiprocessing.active_children()[0].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    reader = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 5
    while process_running(reader):
        assert time.monotonic() < deadline, "the reader outlived its killed parent"
        time.sleep(0.05)
