"""``abdb annotate``: number the chains of pending ANNOTATION jobs, in batches, with one or more workers.

The work of one worker (claim, number, write) is in ``worker``, several watched workers in ``pool``; this
module checks options, runs one worker in this process or several in forked processes, and adds up their
reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from abdb.config import Settings
from abdb.database import Database, using
from abdb.domain.vocabulary import JobType
from abdb.errors import ConfigurationError, Interrupted
from abdb.numbering.engine import NumberingEngine
from abdb.services.annotating.pool import run_workers
from abdb.services.annotating.report import AnnotateOptions, AnnotateProgress, AnnotateReport
from abdb.services.annotating.worker import work
from abdb.services.clock import align_ids_with_server
from abdb.services.stopping import describe

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
    target: Database | Settings,
    options: AnnotateOptions,
    on_progress: Callable[[AnnotateProgress], None] | None = None,
    engine: NumberingEngine | None = None,
) -> AnnotateReport:
    """Annotate pending jobs (of one import run, with ``import_run_id``) until none is left, or ``limit``.
    ``target`` is the Database, or Settings to resolve one from."""
    check_options(options)
    with using(target) as database:  # the backend is decided once, not per batch
        return _annotate(database, options, on_progress, engine)


def _annotate(
    database: Database,
    options: AnnotateOptions,
    on_progress: Callable[[AnnotateProgress], None] | None,
    engine: NumberingEngine | None,
) -> AnnotateReport:
    database.require_head("annotation")
    align_ids_with_server(database)
    with database.unit_of_work() as uow:
        uow.jobs.queue_unqueued(JobType.ANNOTATION)  # jobs made PENDING by plain SQL are claimed too
        total = uow.jobs.pending_count(JobType.ANNOTATION, options.import_run_id)
        uow.commit()
    total = total if options.limit is None else min(total, options.limit)

    def progress(jobs: int) -> None:
        if on_progress is not None:
            on_progress(AnnotateProgress(jobs, total))

    started = time.perf_counter()
    progress(0)
    if options.workers == 1:
        engine, startup = (engine, 0.0) if engine is not None else _loaded_engine()
        report = work(database, options, engine, progress, own_process=True)
        report.startup_seconds = startup
    else:
        report = run_workers(database, options, progress, _loaded_engine)
    report.seconds = time.perf_counter() - started
    report.workers = options.workers
    if report.interrupted:
        raise Interrupted(
            f"interrupted ({describe(report.stop_signal)}): {report.completed} job(s) completed and "
            f"{report.failed} failed before the stop; the jobs of the batch in progress are PENDING again",
            hint="run abdb annotate again to continue",
            signal_number=report.stop_signal,
        )
    return report
