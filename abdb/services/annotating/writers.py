"""Where a worker's numbered batches become rows and are written while it numbers the next one: a process of
its own, or a thread.

Building a batch's rows is Python, and so is a third of the engine's time per chain: in a thread of the
worker the two took turns on the GIL, and the engine ran at about three quarters of its speed alone. A forked
process of its own gives the engine's thread the GIL back (one worker's overhead 24% -> 12%, median of four
alternating runs; ``benchmarks/annotate_bench.py`` measures it). It serves the one worker of
``abdb annotate --workers 1`` where the operating system can fork and the process has no other thread
(forking a threaded process can copy a lock another thread holds). Several workers keep the cores busy with
numbering already, and multiprocessing's daemonic workers may not have children: they write in a thread.

Either way one write runs at a time, in claim order, each one transaction. The process ignores Ctrl-C and
SIGTERM — its worker decides: the write under way finishes and is counted, or its jobs are released — and
ends when its worker closes the pipe or dies. If the process dies, its worker's wait ends in ``WorkerDied``
and the batch's jobs are released.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, Protocol

from abdb.database import Database
from abdb.errors import WorkerDied
from abdb.io.prefetch import picklable
from abdb.numbering.engine import NumberingEngine
from abdb.repositories.job_claims import Claim
from abdb.services.annotating.batch import BatchWrite, NumberedJob, batch_rows, still_held
from abdb.services.annotating.report import AnnotateOptions, AnnotateReport
from abdb.services.stopping import STOP_SIGNALS, describe_exit, stop_signals_deferred
from abdb.unit_of_work import retry_transient

logger = logging.getLogger(__name__)

WriteResult = tuple[set[uuid.UUID], dict[uuid.UUID, AnnotateReport], int]  # jobs stored, per job, outcomes


class PendingWrite(Protocol):
    def result(self) -> WriteResult:
        """Wait for the write: what it stored, or its error (the same on every call)."""
        ...


class BatchWriter(Protocol):
    def submit(self, numbered: list[NumberedJob], claimed: list[Claim]) -> PendingWrite: ...


@contextmanager
def batch_writer(
    database: Database, options: AnnotateOptions, engine: NumberingEngine, *, own_process: bool
) -> Iterator[BatchWriter]:
    """A writer for one worker's batches: a process of its own when asked for and safe to fork, else a thread."""
    if own_process and may_fork_a_writer():
        writer = _ProcessWriter(database, options, engine)
        try:
            yield writer
        finally:
            writer.close()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="abdb-annotation-write") as executor:
        yield _ThreadWriter(executor, database, options, engine)


def may_fork_a_writer() -> bool:
    """Fork exists, this process may have children (not a daemonic worker) and has no other thread."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and threading.active_count() == 1
    )


def build_and_write(
    database: Database, options: AnnotateOptions, engine: NumberingEngine, numbered: list[NumberedJob],
    claimed: list[Claim],
) -> WriteResult:  # fmt: skip
    """The rows of a numbered batch, written; (jobs stored, per job, outcomes)."""
    batch, per_job = batch_rows(options, engine, numbered)
    return write_batch(database, options, batch, claimed), per_job, len(batch.outcomes)


def write_batch(
    database: Database, options: AnnotateOptions, batch: BatchWrite, claimed: list[Claim]
) -> set[uuid.UUID]:
    """Write the batch for the jobs this worker still holds; return their ids."""

    def attempt() -> set[uuid.UUID]:
        # Ctrl-C waits for the write: arriving inside psycopg's pipeline (executemany) it would surface as a
        # broken connection instead of an interrupt (seen in CI: "cannot exit pipeline mode while busy").
        with stop_signals_deferred(), database.unit_of_work() as uow:
            numbered = {outcome["job_id"] for outcome in batch.outcomes}
            held = uow.jobs.lock_held([claim for claim in claimed if claim[0] in numbered])
            written = still_held(batch, held)
            schemes = [scheme.upper() for scheme in options.schemes]
            uow.annotations.replace_domains(
                written.chain_keys, schemes, written.domains, written.regions, written.searches
            )
            uow.annotations.replace_features(written.chain_keys, written.source, written.features)
            uow.annotations.set_chain_types(written.chain_types)
            uow.annotations.add_tool_results(written.tool_results)
            uow.jobs.finish(written.outcomes)
            uow.commit()
        return held

    return retry_transient(attempt)


class _ThreadWriter:
    def __init__(
        self, executor: ThreadPoolExecutor, database: Database, options: AnnotateOptions, engine: NumberingEngine
    ) -> None:
        self._executor, self._database, self._options, self._engine = executor, database, options, engine

    def submit(self, numbered: list[NumberedJob], claimed: list[Claim]) -> PendingWrite:
        return self._executor.submit(build_and_write, self._database, self._options, self._engine, numbered, claimed)


class _ProcessWriter:
    """A forked process that writes the batches its worker sends over one pipe and answers over another."""

    def __init__(self, database: Database, options: AnnotateOptions, engine: NumberingEngine) -> None:
        context = multiprocessing.get_context("fork")
        request_reader, request_sender = context.Pipe(duplex=False)
        result_reader, result_sender = context.Pipe(duplex=False)
        database.dispose()  # no connection may cross the fork: each side opens its own
        for stream in (sys.stdout, sys.stderr):  # the child flushes its copies on exit: said twice, else
            if stream is not None:
                stream.flush()
        self._process: Any = context.Process(  # daemonic: never outlives a worker that exits without close()
            target=_serve,
            args=(database, options, engine, request_reader, result_sender, (request_sender, result_reader)),
            name="abdb-annotation-writer",
            daemon=True,
        )
        # A stop landing during the fork would run its handler in an at-fork callback, where the exception is
        # printed and dropped (the run went on, exit 0): held until the fork is done. Raised here, nothing is
        # claimed yet, and the child sees its pipe close as this object goes.
        with stop_signals_deferred():
            self._process.start()
            request_reader.close()  # the child's ends: with them closed here, either side sees the other go
            result_sender.close()
            self._sender, self._reader = request_sender, result_reader

    def submit(self, numbered: list[NumberedJob], claimed: list[Claim]) -> PendingWrite:
        with stop_signals_deferred():  # a batch reaches the process whole, or not at all
            try:
                self._sender.send((numbered, claimed))
            except OSError as error:
                raise self._died() from error
        return _ChildWrite(self)

    def wait(self) -> None:
        """Until an answer (or the process's end) can be read; a stop may land here, nothing read yet."""
        with contextlib.suppress(OSError):  # a pipe closed under it: ``answer`` says what happened
            self._reader.poll(None)

    def answer(self) -> tuple[str, Any]:
        """The next answer: ("written", WriteResult) or ("error", the exception); the process's death too."""
        try:
            return self._reader.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError) as error:
            died = self._died()
            died.__cause__ = error
            return "error", died

    def _died(self) -> WorkerDied:
        self._process.join(timeout=5)
        code = self._process.exitcode
        how = "is stuck" if code is None else f"died: {describe_exit(code)}"
        return WorkerDied(
            f"the process writing the annotations (pid {self._process.pid}) {how}; the claimed jobs it had not "
            "stored are PENDING again",
            hint="run `abdb annotate` again to number them",
        )

    def close(self) -> None:
        """End the process: it finishes the write under way (if any) and sees its pipe close."""
        self._sender.close()
        self._process.join(timeout=60)
        if self._process.is_alive():
            logger.warning("the annotation writer process (pid %s) did not stop: killed", self._process.pid)
            self._process.kill()
            self._process.join()
        self._reader.close()


class _ChildWrite:
    """One batch's write in the process; the answer is read once and kept (a stop may ask twice)."""

    def __init__(self, writer: _ProcessWriter) -> None:
        self._writer = writer
        self._answer: tuple[str, Any] | None = None

    def result(self) -> WriteResult:
        if self._answer is None:
            self._writer.wait()
            # kept before a stop that lands while it is read is raised: asked again, the answer is here
            with stop_signals_deferred():
                self._answer = self._writer.answer()
        kind, value = self._answer
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]


def _serve(
    database: Database, options: AnnotateOptions, engine: NumberingEngine, requests: Connection,
    results: Connection, parent_ends: tuple[Connection, ...],
) -> None:  # fmt: skip
    """In the writer process: write each batch that arrives, answer, end when the worker's pipe closes."""
    for end in parent_ends:
        end.close()
    for number in STOP_SIGNALS:  # the worker decides what a stop does to the write under way
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            numbered, claimed = requests.recv()
        except (EOFError, OSError):
            return
        answer: tuple[str, Any]
        try:
            answer = ("written", build_and_write(database, options, engine, numbered, claimed))
        except Exception as error:
            logger.debug("the annotation writer process failed to write a batch", exc_info=True)
            answer = ("error", picklable(error))
        try:
            results.send(answer)
        except (EOFError, OSError):
            return
