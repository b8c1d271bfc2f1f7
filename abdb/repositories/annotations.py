"""Annotation writes: claim jobs, replace a chain's domains/regions/features for a scheme, finish jobs.

Set-based Core statements: an annotation batch writes a few thousand small rows, and the ORM's
per-object bookkeeping would cost more than the numbering itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from abdb.db.models import (
    AntibodyChain,
    AntibodyDomain,
    AntibodyRegion,
    AntibodySequence,
    ExternalToolResult,
    ProcessingJob,
    SequenceFeature,
)
from abdb.domain.vocabulary import DomainType, JobStatus, JobType

# Core tables: plain executemany, without the ORM's per-row bookkeeping.
DOMAINS: Table = AntibodyDomain.__table__  # type: ignore[assignment]
REGIONS: Table = AntibodyRegion.__table__  # type: ignore[assignment]
FEATURES: Table = SequenceFeature.__table__  # type: ignore[assignment]
CHAINS: Table = AntibodyChain.__table__  # type: ignore[assignment]
JOBS: Table = ProcessingJob.__table__  # type: ignore[assignment]
TOOL_RESULTS: Table = ExternalToolResult.__table__  # type: ignore[assignment]


_RUN_FILTER = "AND EXISTS (SELECT 1 FROM antibody_sequences s WHERE s.id = j.sequence_id AND s.import_run_id = :run) "


class AnnotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(
        self, job_type: JobType, limit: int, import_run_id: uuid.UUID | None = None
    ) -> list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]:
        """Mark up to ``limit`` pending jobs RUNNING and return (job id, sequence id, started_at); with
        ``import_run_id``, only jobs of antibodies that import run stored. ``started_at`` identifies this
        claim: a job re-queued and claimed again has another.

        ``FOR UPDATE SKIP LOCKED``: concurrent workers never receive the same job.
        """
        rows = self.session.execute(
            text(
                "UPDATE processing_jobs SET status = 'RUNNING', started_at = now(), completed_at = NULL, "
                "error_message = NULL WHERE id IN (SELECT j.id FROM processing_jobs j WHERE j.status = 'PENDING' "
                f"AND j.job_type = :job_type {_RUN_FILTER if import_run_id else ''}"
                "ORDER BY j.id LIMIT :limit FOR UPDATE OF j SKIP LOCKED) RETURNING id, sequence_id, started_at"
            ),
            {"job_type": job_type.value, "limit": limit, "run": import_run_id},
        ).all()
        return sorted((row[0], row[1], row[2]) for row in rows)

    def pending_count(self, job_type: JobType, import_run_id: uuid.UUID | None = None) -> int:
        return int(
            self.session.execute(
                text(
                    "SELECT count(*) FROM processing_jobs j WHERE j.status = 'PENDING' AND j.job_type = :job_type "
                    + (_RUN_FILTER if import_run_id else "")
                ),
                {"job_type": job_type.value, "run": import_run_id},
            ).scalar_one()
        )

    def chains_of(self, sequence_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]]:
        rows = self.session.execute(
            select(AntibodyChain.antibody_sequence_id, AntibodyChain.id, AntibodyChain.name, AntibodyChain.sequence)
            .where(AntibodyChain.antibody_sequence_id.in_(sequence_ids))
            .order_by(AntibodyChain.id)
        ).all()
        found: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {sequence_id: [] for sequence_id in sequence_ids}
        for sequence_id, chain_id, name, sequence in rows:
            found[sequence_id].append((chain_id, name, sequence))
        return found

    def lock_held(
        self, claims: list[tuple[uuid.UUID, dt.datetime]], chain_ids: list[uuid.UUID]
    ) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """Lock the batch's jobs that are still this claim's (RUNNING, same started_at: not deleted by an
        `import --replace`, re-queued by `jobs retry` or finished by another worker since) and the chains that
        still exist, and return their ids: only those get results."""
        jobs = set(
            self.session.scalars(
                select(JOBS.c.id)
                .where(
                    tuple_(JOBS.c.id, JOBS.c.started_at).in_(claims),
                    JOBS.c.status == JobStatus.RUNNING.value,
                )
                .with_for_update()
            )
        )
        chains = set(
            self.session.scalars(select(CHAINS.c.id).where(CHAINS.c.id.in_(chain_ids)).with_for_update(read=True))
        )
        return jobs, chains

    def replace_domains(
        self,
        chain_ids: Iterable[uuid.UUID],
        schemes: Iterable[str],
        domains: list[dict[str, Any]],
        regions: list[dict[str, Any]],
    ) -> None:
        """Delete the chains' domains of these schemes (their regions go by cascade), then insert the new ones."""
        self.session.execute(
            delete(DOMAINS).where(
                DOMAINS.c.chain_id.in_(list(chain_ids)),
                DOMAINS.c.numbering_scheme.in_(list(schemes)),
                # what the engine produces; constant domains (from legacy files) are not its to replace
                DOMAINS.c.domain_type.in_([DomainType.VARIABLE.value, DomainType.LINKER.value]),
            )
        )
        if domains:
            self.session.execute(insert(DOMAINS), domains)
        if regions:
            self.session.execute(insert(REGIONS), regions)

    def replace_features(self, chain_ids: Iterable[uuid.UUID], source: str, features: list[dict[str, Any]]) -> None:
        self.session.execute(
            delete(FEATURES).where(FEATURES.c.chain_id.in_(list(chain_ids)), FEATURES.c.source == source)
        )
        if features:
            self.session.execute(insert(FEATURES), features)

    def set_chain_types(self, changes: list[dict[str, Any]]) -> None:
        """[{chain_id, chain_type, locus}, ...] in one executemany."""
        if changes:
            self.session.execute(
                update(CHAINS)
                .where(CHAINS.c.id == bindparam("chain_id"))
                .values(chain_type=bindparam("chain_type"), locus=bindparam("locus")),
                changes,
            )

    def finish(self, outcomes: list[dict[str, Any]]) -> None:
        """[{job_id, status, output_data, error_message}, ...]: RUNNING jobs become COMPLETED or FAILED."""
        if outcomes:
            self.session.execute(
                update(JOBS)
                .where(JOBS.c.id == bindparam("job_id"), JOBS.c.status == JobStatus.RUNNING.value)
                .values(
                    status=bindparam("new_status"),
                    output_data=bindparam("output_data"),
                    error_message=bindparam("error_message"),
                    completed_at=func.greatest(func.now(), JOBS.c.started_at),
                ),
                outcomes,
            )

    def add_tool_results(self, results: list[dict[str, Any]]) -> None:
        if results:
            self.session.execute(insert(TOOL_RESULTS), results)

    def release(self, claims: list[tuple[uuid.UUID, dt.datetime]]) -> int:
        """Claimed jobs that were not finished go back to PENDING (an interrupted or dead worker); a job
        claimed again since (another started_at) is left to its new worker."""
        result = self.session.execute(
            update(JOBS)
            .where(tuple_(JOBS.c.id, JOBS.c.started_at).in_(claims), JOBS.c.status == JobStatus.RUNNING.value)
            .values(status=JobStatus.PENDING.value, started_at=None, completed_at=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def requeue(
        self,
        job_type: JobType,
        *,
        failed: bool,
        running_for: dt.timedelta | None,
        cancelled: bool = False,
        completed: bool = False,
    ) -> int:
        """FAILED jobs, RUNNING ones started longer ago than ``running_for`` and optionally CANCELLED ones,
        back to PENDING."""
        conditions = []
        if failed:
            conditions.append(ProcessingJob.status == JobStatus.FAILED)
        if cancelled:
            conditions.append(ProcessingJob.status == JobStatus.CANCELLED)
        if completed:
            conditions.append(ProcessingJob.status == JobStatus.COMPLETED)
        if running_for is not None:
            conditions.append(
                (ProcessingJob.status == JobStatus.RUNNING) & (ProcessingJob.started_at <= func.now() - running_for)
            )
        if not conditions:
            return 0
        result = self.session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.job_type == job_type, or_(*conditions))
            .values(status=JobStatus.PENDING, started_at=None, completed_at=None, error_message=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def cancel_pending(self, job_type: JobType) -> int:
        result = self.session.execute(
            update(ProcessingJob)
            .where(ProcessingJob.job_type == job_type, ProcessingJob.status == JobStatus.PENDING)
            .values(status=JobStatus.CANCELLED, started_at=func.now(), completed_at=func.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def status_counts(self) -> list[tuple[str, str, int]]:
        rows = self.session.execute(
            select(ProcessingJob.job_type, ProcessingJob.status, func.count())
            .group_by(ProcessingJob.job_type, ProcessingJob.status)
            .order_by(ProcessingJob.job_type, ProcessingJob.status)
        ).all()
        return [(str(job_type), str(status), int(count)) for job_type, status, count in rows]

    def recent(self, status: JobStatus | None, limit: int) -> list[tuple[ProcessingJob, str]]:
        """The newest jobs (of one status), each with the name of its antibody."""
        query = (
            select(ProcessingJob, AntibodySequence.name)
            .join(AntibodySequence, AntibodySequence.id == ProcessingJob.sequence_id)
            .order_by(ProcessingJob.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(ProcessingJob.status == status)
        return [(job, name) for job, name in self.session.execute(query)]
