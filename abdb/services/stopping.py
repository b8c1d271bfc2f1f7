"""Stopping on request: Ctrl-C (SIGINT) and SIGTERM (what `docker stop`, systemd and CI send) alike.

SIGTERM raises ``Terminated``, a ``KeyboardInterrupt``, so every clean-up written for Ctrl-C (roll back
the batch in progress, mark the run CANCELLED, put claimed jobs back) runs for it too; only the exit code
differs (130 or 143). ``stop_signals_deferred`` holds both signals across a commit and its bookkeeping.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as for Ctrl-C."""


def _raise_terminated(_number: int, _frame: FrameType | None) -> None:
    raise Terminated()


def handle_sigterm_like_ctrl_c() -> None:
    """Install the SIGTERM handler (the command line does; a library caller keeps its own)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def signal_of(stop: BaseException) -> int:
    return signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT


def describe(number: int) -> str:
    return "SIGTERM" if number == signal.SIGTERM else "Ctrl-C"


def describe_exit(exitcode: int) -> str:
    """How a child process ended, from its exit code (negative: the signal that killed it)."""
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        cause = " (kill -9 or the out-of-memory killer)" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{cause}"
    return f"exit code {exitcode} without a report"


@contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends: a batch's COMMIT and its counting happen together, so
    the "how far it got" message never misses a batch that was in fact stored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda n, _f: received.append(n)) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if not received:
        return
    # Delivered now, to the handler that was in place: the default ones raise; a worker's raises once and then
    # ignores (SIG_IGN: dropped here too); an enclosing deferred block records it for its own end; a library
    # caller's own handler does what it does (no KeyboardInterrupt is added to it).
    handler = previous[signal.Signals(received[0])]
    if handler is signal.SIG_IGN:
        return
    if callable(handler):
        handler(received[0], None)
        return
    raise Terminated() if received[0] == signal.SIGTERM else KeyboardInterrupt()


def _stop_once(number: int, _frame: FrameType | None) -> None:
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    raise Terminated() if number == signal.SIGTERM else KeyboardInterrupt()


def stop_on_the_first_signal_only() -> None:
    """Ctrl-C or SIGTERM stops this process once; later ones are ignored, so that they cannot break off the
    clean-up the first one started (an annotation worker receives a terminal's Ctrl-C *and* the one its
    parent relays: the second, landing between the first's ``except`` and its clean-up, left a claimed
    batch RUNNING)."""
    if threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            signal.signal(number, _stop_once)
