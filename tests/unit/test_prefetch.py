"""Reading ahead: in a forked process (the default on Linux) and in a thread (elsewhere)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator

import pytest

from abdb.errors import InputError
from abdb.services import prefetch


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
