"""A numbered batch's rows: what a worker writes for each job, built in the writer thread, and the part of
them that belongs to jobs the worker still holds when it writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from abdb.db.rows import row
from abdb.domain.vocabulary import JobStatus
from abdb.numbering.engine import ChainNumbering, NumberingEngine
from abdb.services.annotating.report import AnnotateOptions, AnnotateReport
from abdb.services.annotating.rows import chain_rows


@dataclass
class BatchWrite:
    source: str
    chain_keys: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (antibody id, chain id)
    chain_jobs: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # chain -> the job numbering it
    domains: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    chain_types: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class NumberedJob:
    """One job's chains as the engine left them (the rows are built in the writer thread)."""

    job_id: uuid.UUID
    sequence_id: uuid.UUID
    chains: list[tuple[uuid.UUID, str, str]]  # (chain id, name, residues)
    antibody_name: str
    numberings: list[ChainNumbering]
    errors: dict[str, str]
    seconds: float


def batch_rows(
    options: AnnotateOptions, engine: NumberingEngine, numbered: list[NumberedJob]
) -> tuple[BatchWrite, dict[uuid.UUID, AnnotateReport]]:
    """The batch's rows, and what each job would add to the report once written."""
    tool_input = {
        "schemes": list(options.schemes),
        "species": list(options.species),
        "bit_score_threshold": options.bit_score_threshold,
    }
    batch = BatchWrite(source=engine.name)
    per_job: dict[uuid.UUID, AnnotateReport] = {}
    for job in numbered:
        job_id, sequence_id, job_chains, numberings, errors = (
            job.job_id, job.sequence_id, job.chains, job.numberings, dict(job.errors)
        )  # fmt: skip
        counted = per_job[job_id] = AnnotateReport()
        elapsed = job.seconds
        counted.engine_seconds += elapsed
        summary: dict[str, Any] = {}
        for (chain_id, name, sequence), numbering in zip(job_chains, numberings, strict=False):
            names = (job.antibody_name, name)
            rows = chain_rows(sequence_id, chain_id, sequence, numbering, engine.name, names=names)
            if rows.error:
                errors[name] = rows.error
                continue
            batch.chain_keys.append((sequence_id, chain_id))
            batch.chain_jobs[chain_id] = job_id
            batch.domains += rows.domains
            batch.regions += rows.regions
            batch.searches += rows.searches
            batch.features += rows.features
            if rows.chain_type:
                batch.chain_types.append(rows.chain_type)
            summary[name] = rows.summary
        if not job_chains:
            errors["sequence"] = "the sequence has no chains"
        counted.chains += len(job_chains)
        success = not errors
        message = "; ".join(f"{name}: {reason}" for name, reason in errors.items()) or None
        batch.outcomes.append(
            {
                "job_id": job_id,
                "antibody_id": sequence_id,
                "new_status": JobStatus.COMPLETED if success else JobStatus.FAILED,
                "output_data": {"chains": summary},
                "error_message": message,
            }
        )
        batch.tool_results.append(
            row(
                "external_tool_results",
                antibody_sequence_id=sequence_id,
                job_id=job_id,
                tool_name=engine.name,
                tool_version=engine.version,
                input_data={**tool_input, "chains": len(job_chains)},
                output_data={"chains": summary},
                execution_time=timedelta(seconds=elapsed),
                success=success,
                error_details=errors or None,
            )
        )
        if success:
            counted.completed += 1
        else:
            counted.failed += 1
            counted.failures.append((str(job_id), message or ""))
    return batch, per_job


def still_held(batch: BatchWrite, jobs: set[uuid.UUID]) -> BatchWrite:
    """Keep only what belongs to jobs still held: a job re-queued or finished by someone else since the claim
    gets nothing from this worker, and a job deleted with its antibody (`import --replace`) takes its chains
    with it — while this transaction holds a job, its chains cannot go."""
    chains = {chain for chain, job in batch.chain_jobs.items() if job in jobs}
    domains = [d for d in batch.domains if d["chain_id"] in chains]
    kept_domains = {d["id"] for d in domains}
    return BatchWrite(
        source=batch.source,
        chain_keys=[key for key in batch.chain_keys if key[1] in chains],
        chain_jobs={chain: job for chain, job in batch.chain_jobs.items() if chain in chains},
        domains=domains,
        regions=[r for r in batch.regions if r["domain_id"] in kept_domains],
        searches=[r for r in batch.searches if r["chain_id"] in chains],
        features=[f for f in batch.features if f["chain_id"] in chains],
        chain_types=[c for c in batch.chain_types if c["chain_id"] in chains],
        tool_results=[t for t in batch.tool_results if t["job_id"] in jobs],
        outcomes=[o for o in batch.outcomes if o["job_id"] in jobs],
    )
