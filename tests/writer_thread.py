"""Keeping a test's annotation writes in the test's own process: with another thread running, a worker may
not fork and writes its batches in a thread (what a Python program with threads of its own gets)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def another_thread_running() -> Iterator[None]:
    release = threading.Event()
    other = threading.Thread(target=release.wait, name="a test's other thread")
    other.start()
    try:
        yield
    finally:
        release.set()
        other.join()
