"""``abdb annotate``: number the chains of pending ANNOTATION jobs, in batches, with one or more workers.

A worker claims a batch of jobs (marked RUNNING and committed, so a crash leaves them visible), numbers
their chains, then writes every job's outcome in one transaction: domains and regions replaced per chain
and scheme, ANARCI features replaced, chain types set, one ``external_tool_results`` row per job, and the
job COMPLETED or FAILED. Re-annotating therefore never duplicates anything.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from abdb.config import Settings
from abdb.db.session import dispose_all
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConfigurationError
from abdb.numbering.engine import EngineSettings, NumberingEngine
from abdb.services.annotation_rows import chain_rows
from abdb.unit_of_work import UnitOfWork

SUPPORTED_SCHEMES = ("imgt", "kabat", "chothia")
KNOWN_SPECIES = ("human", "mouse", "rat", "rabbit", "rhesus", "pig", "alpaca", "cow")


@dataclass(frozen=True)
class AnnotateOptions:
    schemes: tuple[str, ...] = ("imgt",)
    species: tuple[str, ...] = ("human", "mouse")
    workers: int = 1
    limit: int | None = None
    batch_size: int = 50
    bit_score_threshold: float = 80.0

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(self.schemes, self.species, self.bit_score_threshold)


@dataclass
class AnnotateReport:
    completed: int = 0
    failed: int = 0
    chains: int = 0
    seconds: float = 0.0
    engine_seconds: float = 0.0
    startup_seconds: float = 0.0  # loading the engine (models, germlines), once per worker
    workers: int = 1
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job id, error message), first few

    @property
    def jobs(self) -> int:
        return self.completed + self.failed

    @property
    def chains_per_second(self) -> float:
        return self.chains / self.seconds if self.seconds else 0.0

    def add(self, other: AnnotateReport) -> None:
        self.completed += other.completed
        self.failed += other.failed
        self.chains += other.chains
        self.engine_seconds += other.engine_seconds
        self.startup_seconds = max(self.startup_seconds, other.startup_seconds)
        self.failures.extend(other.failures[: max(0, 20 - len(self.failures))])


def default_engine() -> NumberingEngine:
    from abdb.numbering.anarci_engine import AnarciEngine  # loads HMMs and germlines: only when annotating

    return AnarciEngine()


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
    on_progress: Callable[[int], None] | None = None,
    engine: NumberingEngine | None = None,
) -> AnnotateReport:
    """Annotate pending jobs until none is left (or ``limit`` jobs are done)."""
    check_options(options)
    started = time.perf_counter()
    if options.workers == 1:
        loading = time.perf_counter()
        engine = engine or default_engine()
        startup = time.perf_counter() - loading
        report = _work(settings, options, engine, on_progress)
        report.startup_seconds = startup
    else:
        report = _in_processes(settings, options)
    report.seconds = time.perf_counter() - started
    report.workers = options.workers
    return report


def _in_processes(settings: Settings, options: AnnotateOptions) -> AnnotateReport:
    """Several worker processes share the queue; each claims its own batches (SKIP LOCKED)."""
    dispose_all()  # no connection may cross the fork
    share = None if options.limit is None else -(-options.limit // options.workers)
    single = replace(options, workers=1, limit=share)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(options.workers) as pool:
        reports = pool.starmap(_worker, [(settings, single)] * options.workers)
    total = AnnotateReport()
    for report in reports:
        total.add(report)
    return total


def _worker(settings: Settings, options: AnnotateOptions) -> AnnotateReport:
    try:
        loading = time.perf_counter()
        engine = default_engine()
        startup = time.perf_counter() - loading
        report = _work(settings, options, engine, None)
        report.startup_seconds = startup
        return report
    finally:
        dispose_all()


def _work(
    settings: Settings,
    options: AnnotateOptions,
    engine: NumberingEngine,
    on_progress: Callable[[int], None] | None,
) -> AnnotateReport:
    report = AnnotateReport()
    while options.limit is None or report.jobs < options.limit:
        wanted = options.batch_size if options.limit is None else min(options.batch_size, options.limit - report.jobs)
        with UnitOfWork(settings) as uow:
            claimed = uow.annotations.claim(JobType.ANNOTATION, wanted)
            uow.commit()
        if not claimed:
            break
        _annotate_batch(settings, options, engine, claimed, report)
        if on_progress:
            on_progress(len(claimed))
    return report


def _annotate_batch(
    settings: Settings,
    options: AnnotateOptions,
    engine: NumberingEngine,
    claimed: list[tuple[uuid.UUID, uuid.UUID]],
    report: AnnotateReport,
) -> None:
    with UnitOfWork(settings) as uow:
        chains = uow.annotations.chains_of([sequence_id for _, sequence_id in claimed])
        tool_input = {
            "schemes": list(options.schemes),
            "species": list(options.species),
            "bit_score_threshold": options.bit_score_threshold,
        }
        all_domains: list[dict[str, Any]] = []
        all_regions: list[dict[str, Any]] = []
        all_features: list[dict[str, Any]] = []
        chain_types: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        numbered_chains: list[uuid.UUID] = []
        outcomes: list[dict[str, Any]] = []
        for job_id, sequence_id in claimed:
            job_chains = chains[sequence_id]
            started = time.perf_counter()
            error_details: dict[str, str] = {}
            try:
                numberings = engine.number([sequence for _, _, sequence in job_chains], options.engine_settings())
            except Exception as error:  # an engine failure fails this job, never the batch
                numberings = []
                error_details["engine"] = f"{type(error).__name__}: {error}"
            elapsed = time.perf_counter() - started
            report.engine_seconds += elapsed
            summary: dict[str, Any] = {}
            for (chain_id, name, sequence), numbering in zip(job_chains, numberings, strict=False):
                rows = chain_rows(sequence_id, chain_id, sequence, numbering, engine.name)
                if rows.error:
                    error_details[name] = rows.error
                    continue
                numbered_chains.append(chain_id)
                all_domains += rows.domains
                all_regions += rows.regions
                all_features += rows.features
                if rows.chain_type:
                    chain_types.append(rows.chain_type)
                summary[name] = rows.summary
            if not job_chains:
                error_details["sequence"] = "the sequence has no chains"
            report.chains += len(job_chains)
            success = not error_details
            message = "; ".join(f"{name}: {reason}" for name, reason in error_details.items()) or None
            outcomes.append(
                {
                    "job_id": job_id,
                    "new_status": JobStatus.COMPLETED if success else JobStatus.FAILED,
                    "output_data": {"chains": summary},
                    "error_message": message,
                }
            )
            results.append(
                {
                    "job_id": job_id,
                    "tool_name": engine.name,
                    "tool_version": engine.version,
                    "input_data": {**tool_input, "chains": len(job_chains)},
                    "output_data": {"chains": summary},
                    "execution_time": timedelta(seconds=elapsed),
                    "success": success,
                    "error_details": error_details or None,
                }
            )
            if success:
                report.completed += 1
            else:
                report.failed += 1
                if len(report.failures) < 20:
                    report.failures.append((str(job_id), message or ""))
        uow.annotations.replace_domains(numbered_chains, [s.upper() for s in options.schemes], all_domains, all_regions)
        uow.annotations.replace_features(numbered_chains, engine.name, all_features)
        uow.annotations.set_chain_types(chain_types)
        uow.annotations.add_tool_results(results)
        uow.annotations.finish(outcomes)
        uow.commit()
