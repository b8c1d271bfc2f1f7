"""``abdb annotate``: number the chains of pending ANNOTATION jobs, in batches, with one or more workers.

The work of one worker (claim, number, write) is in ``annotation_batches``; this module checks options,
runs one worker in this process or several in forked processes, and adds up their reports.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from abdb.config import Settings
from abdb.domain.vocabulary import JobType
from abdb.errors import ConfigurationError, Interrupted
from abdb.numbering.engine import NumberingEngine
from abdb.services.annotation_batches import work
from abdb.services.annotation_types import AnnotateOptions, AnnotateProgress, AnnotateReport
from abdb.services.migrations import require_head
from abdb.unit_of_work import UnitOfWork, release_connections

__all__ = ["AnnotateOptions", "AnnotateProgress", "AnnotateReport", "annotate", "check_options", "default_engine"]

SUPPORTED_SCHEMES = ("imgt", "kabat", "chothia")
KNOWN_SPECIES = ("human", "mouse", "rat", "rabbit", "rhesus", "pig", "alpaca", "cow")
WORKER_GRACE_SECONDS = 15


def default_engine() -> NumberingEngine:
    from abdb.numbering.anarci_engine import AnarciEngine  # loads HMMs and germlines: only when annotating

    return AnarciEngine()


def _loaded_engine() -> tuple[NumberingEngine, float]:
    """The default engine and the seconds its models and germlines took to load (once per worker)."""
    started = time.perf_counter()
    engine = default_engine()
    return engine, time.perf_counter() - started


def check_options(options: AnnotateOptions) -> None:
    unknown = [scheme for scheme in options.schemes if scheme not in SUPPORTED_SCHEMES]
    if unknown or not options.schemes:
        raise ConfigurationError(
            f"--scheme {','.join(unknown) or '(empty)'}: choose from {', '.join(SUPPORTED_SCHEMES)}"
        )
    strange = [name for name in options.species if name not in KNOWN_SPECIES]
    if strange or not options.species:
        raise ConfigurationError(f"--species {','.join(strange) or '(empty)'}: choose from {', '.join(KNOWN_SPECIES)}")
    if options.workers < 1 or options.batch_size < 1 or (options.limit is not None and options.limit < 0):
        raise ConfigurationError("--workers and --batch-size must be at least 1, --limit at least 0")


def annotate(
    settings: Settings,
    options: AnnotateOptions,
    on_progress: Callable[[AnnotateProgress], None] | None = None,
    engine: NumberingEngine | None = None,
) -> AnnotateReport:
    """Annotate pending jobs (of one import run, with ``import_run_id``) until none is left, or ``limit``."""
    check_options(options)
    require_head(settings, "annotation")
    with UnitOfWork(settings) as uow:
        total = uow.annotations.pending_count(JobType.ANNOTATION, options.import_run_id)
    total = total if options.limit is None else min(total, options.limit)

    def progress(jobs: int) -> None:
        if on_progress is not None:
            on_progress(AnnotateProgress(jobs, total))

    started = time.perf_counter()
    progress(0)
    if options.workers == 1:
        engine, startup = (engine, 0.0) if engine is not None else _loaded_engine()
        report = work(settings, options, engine, progress)
        report.startup_seconds = startup
    else:
        report = _in_processes(settings, options, progress)
    report.seconds = time.perf_counter() - started
    report.workers = options.workers
    if report.interrupted:
        raise Interrupted(
            f"interrupted: {report.completed} job(s) completed and {report.failed} failed before the stop; "
            "the jobs of the batch in progress are PENDING again",
            hint="run abdb annotate again to continue",
        )
    return report


# Jobs finished by all workers, shared with them by fork (a Pool's arguments cannot carry it).
_finished_jobs: Any = None


def _in_processes(settings: Settings, options: AnnotateOptions, progress: Callable[[int], None]) -> AnnotateReport:
    """Several worker processes share the queue; each claims its own batches (SKIP LOCKED).

    On Ctrl-C every worker finishes or rolls back its batch and puts unfinished jobs back to PENDING; the
    parent waits for their reports instead of killing them halfway. Progress comes back through a counter
    the workers inherit.
    """
    global _finished_jobs
    release_connections()  # no connection may cross the fork
    limit, workers = options.limit, options.workers
    shares = [None if limit is None else limit // workers + (index < limit % workers) for index in range(workers)]
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    _finished_jobs = context.Value("q", 0)
    try:
        with context.Pool(options.workers) as pool:
            work_orders = [(settings, replace(options, workers=1, limit=share)) for share in shares]
            pending = pool.starmap_async(_worker, work_orders)
            reports = _wait_for(pending, multiprocessing.active_children(), _finished_jobs, progress)
    finally:
        _finished_jobs = None
    total = AnnotateReport()
    for report in reports:
        total.add(report)
    return total


def _wait_for(pending: Any, workers: list[Any], finished: Any, progress: Callable[[int], None]) -> list[AnnotateReport]:
    interrupted_at: float | None = None
    shown = 0
    while True:
        try:
            if finished.value != shown:
                progress(finished.value - shown)
                shown = finished.value
            reports: list[AnnotateReport] = pending.get(timeout=0.2)
            if finished.value != shown:
                progress(finished.value - shown)
            return reports
        except multiprocessing.TimeoutError:
            if interrupted_at is not None and time.monotonic() - interrupted_at > WORKER_GRACE_SECONDS:
                raise Interrupted("interrupted; the workers did not stop in time") from None
        except KeyboardInterrupt:
            if interrupted_at is None:
                interrupted_at = time.monotonic()
                for worker in workers:  # a terminal's Ctrl-C reaches them already; a plain SIGINT does not
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signal.SIGINT)


def _count_finished(jobs: int) -> None:
    if _finished_jobs is not None:
        with _finished_jobs.get_lock():
            _finished_jobs.value += jobs


def _worker(settings: Settings, options: AnnotateOptions) -> AnnotateReport:
    try:
        engine, startup = _loaded_engine()
        report = work(settings, options, engine, _count_finished)
        report.startup_seconds = startup
        return report
    except KeyboardInterrupt:  # before the engine was loaded: nothing claimed yet
        return AnnotateReport(interrupted=True)
    finally:
        release_connections()
