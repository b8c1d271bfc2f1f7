"""Several annotation worker processes on one queue, watched by the parent.

Each worker claims its own batches (SKIP LOCKED) and tells the parent, over a pipe of its own, what it
claimed, how many jobs it wrote and, at the end, its report. A pipe each, not one shared queue: a worker
killed while writing to a shared queue would die holding the queue's lock, and every other worker would then
block on it for ever (seen in CI: a `kill -9`ed worker left the run hanging). The parent:

- shows progress from the "written" messages;
- notices within a second a worker that died without a report (``kill -9``, the out-of-memory killer),
  puts the jobs of its last unfinished claim back to PENDING, lets the others finish, and then fails with
  one line (``WorkerDied``, exit 11); a process pool would replace the worker, lose its task and wait
  forever;
- relays Ctrl-C or SIGTERM to the workers and waits for them to roll back or finish their batch.

A worker whose parent is gone (killed) stops as for SIGTERM: it finishes or rolls back its batch, releases
its claim and exits, instead of numbering on unsupervised.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from abdb.database import Database
from abdb.errors import AbdbError, Interrupted, WorkerDied
from abdb.repositories.job_claims import Claim
from abdb.services.annotating.report import AnnotateOptions, AnnotateReport
from abdb.services.annotating.worker import release, work
from abdb.services.stopping import describe_exit, signal_of, stop_on_the_first_signal_only, stop_signals_deferred

POLL_SECONDS = 0.2
EXIT_GRACE_SECONDS = 1.0  # for the last messages of a worker that has exited
STOP_GRACE_SECONDS = 15
Claims = list[Claim]
EngineLoader = Callable[[], tuple[Any, float]]


@dataclass
class _Watch:
    # a worker's claims not yet written, oldest first: it numbers one batch while the previous one is written,
    # and writes them in claim order, so each "written" ends the oldest
    claims: dict[int, list[Claims]] = field(default_factory=dict)
    reports: dict[int, AnnotateReport] = field(default_factory=dict)
    errors: dict[int, BaseException] = field(default_factory=dict)
    dead: dict[int, str] = field(default_factory=dict)  # worker -> what happened to it
    exited_at: dict[int, float] = field(default_factory=dict)

    def settled(self, index: int) -> bool:
        return index in self.reports or index in self.errors or index in self.dead


def run_workers(
    database: Database, options: AnnotateOptions, progress: Callable[[int], None], load_engine: EngineLoader
) -> AnnotateReport:
    database.dispose()  # no connection may cross the fork
    limit, count = options.limit, options.workers
    shares = [None if limit is None else limit // count + (index < limit % count) for index in range(count)]
    context: BaseContext = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    channels: list[tuple[Connection, Connection]] = [context.Pipe(duplex=False) for _ in shares]
    every_end = [end for pair in channels for end in pair]
    workers = [
        context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(
                index,
                database,
                replace(options, workers=1, limit=share),
                channels[index][1],
                [end for end in every_end if end is not channels[index][1]],
                os.getpid(),
                load_engine,
            ),
            name=f"abdb-annotate-{index + 1}",
            daemon=True,
        )
        for index, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    for _, sender in channels:
        sender.close()  # the workers write; the parent only reads
    try:
        watch = _supervise(database, workers, [receiver for receiver, _ in channels], progress)
    finally:
        for receiver, _ in channels:
            receiver.close()
    total = AnnotateReport()
    for report in watch.reports.values():
        total.add(report)
    if watch.errors:
        raise next(iter(watch.errors.values()))
    if watch.dead:
        raise WorkerDied(
            "; ".join(watch.dead.values()) + f"; the other worker(s) finished: {total.completed} job(s) completed, "
            f"{total.failed} failed",
            hint="run `abdb annotate` again to number the released jobs",
        )
    return total


def _supervise(
    database: Database, workers: list[Any], receivers: list[Connection], progress: Callable[[int], None]
) -> _Watch:
    watch = _Watch()
    stop: int | None = None
    stop_at = checked_at = 0.0
    open_ends = dict(enumerate(receivers))
    while not all(watch.settled(index) for index in range(len(workers))):
        interrupt: KeyboardInterrupt | None = None
        messages = 0
        try:
            ready = wait(list(open_ends.values()), timeout=POLL_SECONDS)
            # a message is read whole and acted on (a dead worker's claims released) before a stop signal lands
            with stop_signals_deferred():
                if time.monotonic() - checked_at > POLL_SECONDS:  # however busy the pipes are, a death is seen
                    _check_exits(database, workers, watch)
                    checked_at = time.monotonic()
                for index, end in list(open_ends.items()):
                    if end in ready:
                        try:
                            kind, worker, value = end.recv()
                        except (EOFError, OSError):  # the worker is gone: its exit code tells how
                            del open_ends[index]
                            continue
                        messages += 1
                        _take(database, watch, kind, worker, value, progress)
        except KeyboardInterrupt as received:  # Ctrl-C or SIGTERM: relay it, then wait for their reports
            interrupt = received
        if interrupt is not None and stop is None:
            stop, stop_at = signal_of(interrupt), time.monotonic()
            for worker in workers:  # a terminal's Ctrl-C reaches them already; a plain signal does not
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(worker.pid, stop)
        if not messages and stop is not None and time.monotonic() - stop_at > STOP_GRACE_SECONDS:
            for worker in workers:
                worker.kill()
            outstanding = [claim for batches in watch.claims.values() for batch in batches for claim in batch]
            released = release(database, outstanding) if outstanding else 0
            raise Interrupted(
                f"stopped; the workers did not stop in time and were killed; {released} job(s) they had claimed "
                "are PENDING again",
                signal_number=stop,
            ) from None
        if not open_ends:
            time.sleep(POLL_SECONDS)  # every pipe closed: only the exit codes are left to read
    return watch


def _take(
    database: Database, watch: _Watch, kind: str, index: int, value: Any, progress: Callable[[int], None]
) -> None:
    if kind == "claimed" and index in watch.dead:  # its last words, read after its death: release them too
        release(database, value)
    elif kind == "claimed":
        watch.claims.setdefault(index, []).append(value)
    elif kind == "written":
        outstanding = watch.claims.get(index, [])
        if outstanding:
            outstanding.pop(0)
        progress(value)
    elif kind == "report":
        watch.reports[index] = value
    elif kind == "error":
        watch.errors[index] = value


def _check_exits(database: Database, workers: list[Any], watch: _Watch) -> None:
    now = time.monotonic()
    for index, worker in enumerate(workers):
        if watch.settled(index) or worker.exitcode is None:
            continue
        exited = watch.exited_at.setdefault(index, now)
        if worker.exitcode == 0 and now - exited < EXIT_GRACE_SECONDS:
            continue  # its report may still be on its way
        claims = [claim for batch in watch.claims.pop(index, []) for claim in batch]
        released = release(database, claims) if claims else 0
        watch.dead[index] = (
            f"worker {index + 1} of {len(workers)} (pid {worker.pid}) died: {describe_exit(worker.exitcode)}; "
            f"{released} job(s) it had claimed are PENDING again"
        )


def _send(channel: Connection, message: tuple[str, int, Any]) -> None:
    """Write one message whole: a signal waits for the write (a half-written message would garble the
    pipe); a parent that is gone is not written to (the watchdog stops this worker)."""
    with stop_signals_deferred(), contextlib.suppress(BrokenPipeError, OSError):
        channel.send(message)


def _worker_main(
    index: int,
    database: Database,
    options: AnnotateOptions,
    channel: Connection,
    inherited: list[Connection],
    parent: int,
    load_engine: EngineLoader,
) -> None:
    for end in inherited:  # the other workers' pipes: only the parent may hold them open
        end.close()
    stop_on_the_first_signal_only()
    threading.Thread(target=_stop_when_orphaned, args=(parent,), name="abdb-worker-watchdog", daemon=True).start()
    try:
        engine, startup = load_engine()
        report = work(
            database,
            options,
            engine,
            lambda jobs: _send(channel, ("written", index, jobs)),
            lambda claims: _send(channel, ("claimed", index, claims)),
        )
        report.startup_seconds = startup
        _send(channel, ("report", index, report))
    except KeyboardInterrupt as stop:  # before the engine was loaded: nothing claimed yet
        _send(channel, ("report", index, AnnotateReport(interrupted=True, stop_signal=signal_of(stop))))
    except AbdbError as error:
        _send(channel, ("error", index, error))
    finally:
        # the work is over: a late signal (the parent's exit terminates its children) just ends the process,
        # without a traceback from inside multiprocessing's own exit
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        database.dispose()
        channel.close()


def _stop_when_orphaned(parent: int) -> None:
    """The parent is gone (killed): stop as for SIGTERM, releasing the claim, rather than work on alone."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
