"""The one job queue: enqueue and claim (one job, or a batch with FOR UPDATE SKIP LOCKED), finish, release,
requeue, cancel, counts and recent jobs, for the annotation workers, `abdb jobs` and the Python API alike;
and the tool results of each job."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, text, tuple_, update

from abdb.db.models import AntibodySequence, ExternalToolResult, ProcessingJob
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConflictError
from abdb.repositories.base import BaseRepository

FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
JOBS: Table = ProcessingJob.__table__  # type: ignore[assignment]
_RUN_FILTER = "AND EXISTS (SELECT 1 FROM antibody_sequences s WHERE s.id = j.sequence_id AND s.import_run_id = :run) "


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

    # -- the queue, for workers and `abdb jobs`: set-based, FOR UPDATE SKIP LOCKED ----------------------
    def lock_held(self, claims: list[tuple[uuid.UUID, dt.datetime]]) -> set[uuid.UUID]:
        """Lock the jobs that are still this claim's (RUNNING, same started_at: not deleted by an `import
        --replace`, re-queued by `jobs retry` or finished by another worker since) and return their ids: only
        those get results."""
        return set(
            self.session.scalars(
                select(JOBS.c.id)
                .where(tuple_(JOBS.c.id, JOBS.c.started_at).in_(claims), JOBS.c.status == JobStatus.RUNNING.value)
                .with_for_update()
            )
        )

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
