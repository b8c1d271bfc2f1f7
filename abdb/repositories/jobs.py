"""Processing jobs: a queue that several workers share safely, and the tool results of each job."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from abdb.db.models import ExternalToolResult, ProcessingJob
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConflictError
from abdb.repositories.base import BaseRepository

FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


class ProcessingJobRepository(BaseRepository[ProcessingJob]):
    model = ProcessingJob

    def enqueue(
        self, sequence_id: uuid.UUID, job_type: JobType, input_data: dict[str, Any] | None = None
    ) -> ProcessingJob:
        return self.add(
            ProcessingJob(sequence_id=sequence_id, job_type=job_type, status=JobStatus.PENDING, input_data=input_data)
        )

    def claim_next(self, job_type: JobType) -> ProcessingJob | None:
        """Take the oldest pending job and mark it RUNNING.

        ``FOR UPDATE SKIP LOCKED`` makes concurrent workers skip rows another transaction holds, so no job
        is handed out twice; the claim is durable once the caller commits.
        """
        query = (
            select(ProcessingJob)
            .where(ProcessingJob.status == JobStatus.PENDING, ProcessingJob.job_type == job_type)
            .order_by(ProcessingJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = self.session.scalars(query).one_or_none()
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.started_at = self._now()
        job.completed_at = None
        job.error_message = None
        self.session.flush()
        return job

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

    def _transition(
        self, job: ProcessingJob, status: JobStatus, *, started: bool = False, finished: bool = False
    ) -> ProcessingJob:
        if job.status in FINISHED:
            raise ConflictError(f"job {job.id} is already {job.status.value}; it cannot become {status.value}")
        now = self._now()
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
