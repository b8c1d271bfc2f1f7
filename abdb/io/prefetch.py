"""Read ahead in a separate process, so parsing the next batch overlaps loading the current one.

Parsing and formatting rows is Python work that holds the GIL; a thread would only take turns with the
loader. A forked reader process runs on the second core instead (measured: the import went from 44% to
the figure in the README of the ``psql \\copy`` ceiling). Where ``fork`` is unavailable a thread is used.

The reader process never touches the parent's database connections, ignores Ctrl-C (the parent decides),
and exits on its own when the parent disappears (``kill -9``) instead of waiting forever on a full queue.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from abdb.errors import AbdbError

T = TypeVar("T")
POLL_SECONDS = 0.2
Message = tuple[str, Any]


class ReaderFailed(AbdbError):
    """The reader process stopped without saying why (killed, or out of memory)."""


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of ``source``, produced up to ``depth`` ahead; its errors re-raised here."""
    if "fork" in multiprocessing.get_all_start_methods():
        return _in_process(source, depth, multiprocessing.get_context("fork"))
    return _in_thread(source, depth)


def _in_process(source: Iterator[T], depth: int, context: BaseContext) -> Iterator[T]:
    slots: Any = context.Queue(maxsize=depth)
    reader = context.Process(  # type: ignore[attr-defined]
        target=_produce, args=(source, slots, os.getpid()), name="abdb-reader", daemon=True
    )
    reader.start()

    def receive() -> Message:
        while True:
            try:
                message: Message = slots.get(timeout=POLL_SECONDS)
                return message
            except queue.Empty:
                if reader.is_alive():
                    continue
                try:
                    message = slots.get(timeout=POLL_SECONDS)
                    return message
                except queue.Empty:
                    raise ReaderFailed(f"the reader process ended unexpectedly (exit code {reader.exitcode})") from None

    try:
        yield from _items(receive)
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join(timeout=5)
        slots.close()


def _items(receive: Callable[[], Message]) -> Iterator[Any]:
    """The producer's items, until "done"; its error raised here."""
    while True:
        kind, value = receive()
        if kind == "done":
            return
        if kind == "error":
            raise value
        yield value


def _produce(source: Iterator[Any], slots: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the parent's SIGTERM handler (stop as for Ctrl-C) is inherited by fork: the reader must simply die when
    # the parent terminates it, or the parent's exit would wait for it forever
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="abdb-reader-watchdog", daemon=True).start()

    def offer(message: Message) -> bool:
        while True:
            try:
                slots.put(message, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if os.getppid() != parent:
                    slots.cancel_join_thread()  # nobody will read what is queued: do not wait to flush it
                    return False

    _pump(source, offer)


def _exit_with_parent(parent: int) -> None:
    """The reader shares the parent's inherited sockets, among them its database connection: if it outlived a
    killed parent, the server would keep that transaction (and its locks) open. So it dies with the parent,
    whatever it is doing (seen once in CI: a re-run waited five minutes on the killed import's lock)."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(0)


def _pump(source: Iterator[Any], offer: Callable[[Message], bool]) -> None:
    """Offer every item, then "done"; or the error that stopped the source. Stop when an offer is refused."""
    try:
        for item in source:
            if not offer(("item", item)):
                return
        offer(("done", None))
    except BaseException as error:
        offer(("error", picklable(error)))


def picklable(error: BaseException) -> BaseException:
    """The error, if it survives a pipe to another process; else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _in_thread(source: Iterator[T], depth: int) -> Iterator[T]:
    slots: queue.Queue[Message] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(message: Message) -> bool:
        while not stop.is_set():
            try:
                slots.put(message, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    threading.Thread(target=_pump, args=(source, offer), name="abdb-reader", daemon=True).start()
    try:
        yield from _items(slots.get)
    finally:
        stop.set()
