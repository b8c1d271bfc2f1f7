"""The one job queue (``uow.jobs``): enqueue and claim (one job, or a batch with FOR UPDATE SKIP LOCKED),
finish, release, requeue, cancel, counts and recent jobs, for the annotation workers, `abdb jobs` and the
Python API alike; and the tool results of each job.

The set-based statements of the queue (claim, hold, finish, release, requeue, cancel, counts) are in
``job_claims``; this repository has them too, with the ORM's job lifecycle for scripts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select, text

from abdb.db.models import AntibodySequence, ExternalToolResult, ProcessingJob, QueuedJob
from abdb.domain.queue import bucket_of
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConflictError
from abdb.repositories.base import BaseRepository
from abdb.repositories.job_claims import JobQueueStatements

FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


class ProcessingJobRepository(JobQueueStatements, BaseRepository[ProcessingJob]):
    model = ProcessingJob

    def enqueue(
        self, sequence_id: uuid.UUID, job_type: JobType, input_data: dict[str, Any] | None = None
    ) -> ProcessingJob:
        job = self.add(
            ProcessingJob(sequence_id=sequence_id, job_type=job_type, status=JobStatus.PENDING, input_data=input_data)
        )
        self.session.add(QueuedJob(bucket=bucket_of(job.id), job_id=job.id, sequence_id=sequence_id, job_type=job_type))
        self.session.flush()
        return job

    def claim_next(self, job_type: JobType) -> ProcessingJob | None:
        """Take the oldest pending job and mark it RUNNING; the claim is durable once the caller commits.
        ``FOR UPDATE SKIP LOCKED`` (in the job's queue bucket): concurrent workers never receive the same job."""
        claimed = self.claim(job_type, 1)
        if not claimed:
            return None
        job_id, sequence_id, _ = claimed[0]
        return self.session.scalars(
            select(ProcessingJob)
            .where(ProcessingJob.sequence_id == sequence_id, ProcessingJob.id == job_id)
            .execution_options(populate_existing=True)
        ).one()

    def mark_running(self, job: ProcessingJob) -> ProcessingJob:
        return self._transition(job, JobStatus.RUNNING, started=True)

    def mark_completed(self, job: ProcessingJob, output_data: dict[str, Any] | None = None) -> ProcessingJob:
        job.output_data = output_data
        return self._transition(job, JobStatus.COMPLETED, finished=True)

    def mark_failed(self, job: ProcessingJob, error_message: str) -> ProcessingJob:
        job.error_message = error_message
        return self._transition(job, JobStatus.FAILED, finished=True)

    def mark_cancelled(self, job: ProcessingJob) -> ProcessingJob:
        return self._transition(job, JobStatus.CANCELLED, finished=True)

    def attach_tool_result(
        self,
        job: ProcessingJob,
        *,
        tool_name: str,
        tool_version: str | None,
        success: bool,
        input_data: dict[str, Any] | None = None,
        output_data: dict[str, Any] | None = None,
        execution_time: dt.timedelta | None = None,
        error_details: dict[str, Any] | None = None,
    ) -> ExternalToolResult:
        result = ExternalToolResult(
            antibody_sequence_id=job.sequence_id,
            job_id=job.id,
            tool_name=tool_name,
            tool_version=tool_version,
            success=success,
            input_data=input_data,
            output_data=output_data,
            execution_time=execution_time,
            error_details=error_details,
        )
        self.session.add(result)
        self.session.flush()
        return result

    def by_status(self, status: JobStatus, *, limit: int = 100, after: uuid.UUID | None = None) -> list[ProcessingJob]:
        return self.page(after=after, limit=limit, status=status).items

    def counts_by_status(self) -> dict[JobStatus, int]:
        rows = self.session.execute(select(ProcessingJob.status, func.count()).group_by(ProcessingJob.status)).all()
        return {JobStatus(status): int(count) for status, count in rows}

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

    def _transition(
        self, job: ProcessingJob, status: JobStatus, *, started: bool = False, finished: bool = False
    ) -> ProcessingJob:
        if job.status in FINISHED:
            raise ConflictError(f"job {job.id} is already {job.status.value}; it cannot become {status.value}")
        now = self._now()
        if job.status is JobStatus.PENDING:  # no longer the queue's to hand out
            self.session.execute(
                text("DELETE FROM job_queue WHERE bucket = :bucket AND job_id = :id"),
                {"bucket": bucket_of(job.id), "id": job.id},
            )
        job.status = status
        if started or job.started_at is None:
            job.started_at = job.started_at or now
        if finished:
            job.completed_at = max(now, job.started_at)
        self.session.flush()
        return job

    def _now(self) -> dt.datetime:
        # The server's clock, so that started_at/completed_at compare with created_at consistently.
        return self.session.scalar(select(func.now()))  # type: ignore[return-value]
