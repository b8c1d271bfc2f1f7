"""One annotation worker: claim a batch, number its chains, write every outcome in one transaction.

The claim is committed first (jobs RUNNING), so a killed worker leaves its jobs visible for `abdb jobs
retry`. Numbering runs outside any transaction. The write replaces, per chain and scheme, domains (regions
by cascade) and ANARCI features, sets chain types, adds one ``external_tool_results`` row per job and ends
each job COMPLETED or FAILED: re-annotating never duplicates. A deadlock retries the write; Ctrl-C puts the
batch's jobs back to PENDING.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from abdb.database import Database
from abdb.domain.vocabulary import JobType
from abdb.errors import AbdbError
from abdb.numbering.engine import NumberingEngine
from abdb.repositories.job_claims import Claim
from abdb.services.annotating.batch import NumberedJob
from abdb.services.annotating.report import AnnotateOptions, AnnotateReport
from abdb.services.annotating.writers import PendingWrite, batch_writer
from abdb.services.stopping import STOP_SIGNALS, signal_of, stop_signals_deferred

logger = logging.getLogger(__name__)


def work(
    database: Database,
    options: AnnotateOptions,
    engine: NumberingEngine,
    on_progress: Callable[[int], None] | None,
    on_claim: Callable[[list[Claim]], None] | None = None,
    *,
    own_process: bool = False,
) -> AnnotateReport:
    """Claim, number and write batches until the queue is empty (or ``limit``); ``on_claim`` hears of each
    claim before numbering starts (the parent of several workers releases a dead worker's claim).

    A batch is written while the next one is numbered, by a process of its own (``own_process``, where it is
    safe to fork: see ``writers``) or a thread: the server's work (COPY, index upkeep, commit) runs on another
    core instead of keeping the engine waiting (35% of one worker's time once the engine got 4x faster). One
    write at a time, in claim order; each is still one transaction."""
    report = AnnotateReport()
    claimed = _Claimed()
    writing: _Writing | None = None
    # Everything alive now (the engine's HMMs and germline tables above all) lives as long as the run: frozen,
    # the collector's full passes stop walking it for every few thousand row dicts the batches allocate.
    gc.freeze()
    with _unfrozen_after(), batch_writer(database, options, engine, own_process=own_process) as writer:
        try:
            _claim_more(database, options, report, claimed, on_claim)
            while claimed.jobs:
                numbered = _number(options, engine, claimed)
                if writing is not None:
                    _collect(writing, report, on_progress)  # the previous batch's write first: claim order
                    writing = None
                # The next claim (and its chains) now, while the writer is idle: beside a write under way its
                # statements waited on the busy server and interpreter (about 25 ms a claim against 8 ms).
                current = list(claimed.jobs)
                _claim_more(database, options, report, claimed, on_claim)
                with stop_signals_deferred():  # a stop finds the batch either the writer's or still to release
                    writing = _Writing(writer.submit(numbered, current), current)
                    claimed.handed_over(current)
            if writing is not None:
                _collect(writing, report, on_progress)
                writing = None
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM
            report.interrupted = True
            report.stop_signal = signal_of(stop)
            _finish_quietly(database, writing, report)
            _release_quietly(database, claimed.jobs)
        except BaseException:
            _finish_quietly(database, writing, report)
            _release_quietly(database, claimed.jobs)
            raise
    return report


@dataclass
class _Claimed:
    """Jobs claimed and not yet handed to the writer (released on a stop), with their antibodies' chains (id,
    name, residues) and names."""

    jobs: list[Claim] = field(default_factory=list)
    chains: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = field(default_factory=dict)
    names: dict[uuid.UUID, str] = field(default_factory=dict)

    def handed_over(self, jobs: list[Claim]) -> None:
        """The first ``jobs`` went to the writer: forget them (and chains no job left here needs)."""
        del self.jobs[: len(jobs)]
        kept = {sequence_id for _, sequence_id, _ in self.jobs}
        for _, sequence_id, _ in jobs:
            if sequence_id not in kept:
                self.chains.pop(sequence_id, None)
                self.names.pop(sequence_id, None)


def _claim_more(
    database: Database,
    options: AnnotateOptions,
    report: AnnotateReport,
    claimed: _Claimed,
    on_claim: Callable[[list[Claim]], None] | None,
) -> None:
    """Claim the next batch (within ``limit``) and read its chains, in the claim's transaction (the jobs held,
    their chains stay). ``claimed`` grows inside the block that defers a stop: a committed claim is always one
    the clean-up sees and releases."""
    wanted = options.batch_size
    if options.limit is not None:
        wanted = min(wanted, options.limit - report.jobs - report.dropped - len(claimed.jobs))
    if wanted <= 0:
        return
    with stop_signals_deferred(), database.unit_of_work() as uow:
        new = uow.jobs.claim(JobType.ANNOTATION, wanted, options.import_run_id)
        chains, names = uow.annotations.chains_of([sequence_id for _, sequence_id, _ in new]) if new else ({}, {})
        uow.commit()
        claimed.jobs.extend(new)
        claimed.chains.update(chains)
        claimed.names.update(names)
        if on_claim and new:
            on_claim(new)


@contextmanager
def _unfrozen_after() -> Iterator[None]:
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class _Writing:
    """A batch's write under way in the writer (process or thread)."""

    future: PendingWrite
    claimed: list[Claim]
    counted: bool = False  # in the report already (a stop while telling the parent must not count it again)


def _collect(writing: _Writing, report: AnnotateReport, on_progress: Callable[[int], None] | None) -> None:
    """Wait for the write; count what it stored (only that), and drop what it no longer held."""
    held, per_job, outcomes = writing.future.result()
    if writing.counted:
        return
    for job_id in held:
        report.add(per_job[job_id])
    report.dropped += len(writing.claimed) - len(held)
    writing.counted = True
    if on_progress:
        on_progress(outcomes)


def _finish_quietly(database: Database, writing: _Writing | None, report: AnnotateReport) -> None:
    """Interrupted or failing: the write under way ends on its own (a transaction commits whole or not at all);
    counted when stored, its jobs put back to PENDING when not."""
    if writing is None:
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        try:
            _collect(writing, report, None)
        except BaseException:
            logger.debug("the batch written when the worker stopped was not stored", exc_info=True)
            release(database, writing.claimed)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _release_quietly(database: Database, claimed: list[Claim]) -> None:
    # a second Ctrl-C or SIGTERM (or the parent relaying the first) must not break off the clean-up itself
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        if claimed:
            release(database, claimed)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def release(database: Database, claims: list[Claim]) -> int:
    """Best effort: the interrupt may have broken the pooled connection, so start from a new one. If even
    that fails, the jobs stay RUNNING and `abdb jobs retry` recovers them."""
    database.dispose()
    try:
        with database.unit_of_work() as uow:
            count = uow.jobs.release(claims)
            uow.commit()
            return count
    except AbdbError:
        logger.debug("could not put %d interrupted job(s) back to PENDING", len(claims), exc_info=True)
        return 0


def _number(
    options: AnnotateOptions,
    engine: NumberingEngine,
    claimed: _Claimed,
) -> list[NumberedJob]:
    """Every claimed job's chains through the engine (an engine failure fails that job, never the batch)."""
    numbered = []
    for job_id, sequence_id, _ in claimed.jobs:
        job_chains = claimed.chains[sequence_id]
        started = time.perf_counter()
        errors: dict[str, str] = {}
        try:
            numberings = engine.number([sequence for _, _, sequence in job_chains], options.engine_settings())
        except Exception as error:
            numberings = []
            errors["engine"] = f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started
        numbered.append(
            NumberedJob(job_id, sequence_id, job_chains, claimed.names[sequence_id], numberings, errors, seconds)
        )
    return numbered
