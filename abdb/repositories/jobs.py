"""The one job queue: enqueue and claim (one job, or a batch with FOR UPDATE SKIP LOCKED), finish, release,
requeue, cancel, counts and recent jobs, for the annotation workers, `abdb jobs` and the Python API alike;
and the tool results of each job.

A PENDING job has one row in ``job_queue`` (bucket, job): a claim reads the oldest PENDING jobs, takes them
from their buckets with ``FOR UPDATE SKIP LOCKED`` — one statement per bucket: on Citus one shard, where row
locks work — then marks them RUNNING by their antibody key. Every statement about given jobs names
``(sequence_id, id)``: on Citus it goes to the shard of each antibody. Whatever makes a job PENDING again
puts it back in the queue, in the same statement.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Table, bindparam, func, literal_column, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from abdb.db.models import AntibodySequence, ExternalToolResult, ProcessingJob, QueuedJob
from abdb.domain.queue import bucket_of, bucket_sql
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConflictError
from abdb.repositories.base import BaseRepository

FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
JOBS: Table = ProcessingJob.__table__  # type: ignore[assignment]
_RUN_FILTER = "AND EXISTS (SELECT 1 FROM antibody_sequences s WHERE s.id = j.sequence_id AND s.import_run_id = :run) "
QUEUE: Table = QueuedJob.__table__  # type: ignore[assignment]


class ProcessingJobRepository(BaseRepository[ProcessingJob]):
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

    # -- the queue, for workers and `abdb jobs`: set-based, FOR UPDATE SKIP LOCKED ----------------------
    def lock_held(self, claims: list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]) -> set[uuid.UUID]:
        """Lock the jobs that are still this claim's — (job id, sequence id, started_at): RUNNING, same
        started_at, so not deleted by an `import --replace`, re-queued by `jobs retry` or finished by another
        worker since — and return their ids: only those get results. An UPDATE, not SELECT … FOR UPDATE: on
        Citus row locks of many antibodies (many shards) can only be taken by a modification. Holding the job
        also holds its antibody's chains: deleting them would delete the job first."""
        if not claims:
            return set()
        keys = [(sequence_id, job_id, started) for job_id, sequence_id, started in claims]
        return set(
            self.session.scalars(
                update(JOBS)
                .where(
                    tuple_(JOBS.c.sequence_id, JOBS.c.id, JOBS.c.started_at).in_(keys),
                    JOBS.c.status == JobStatus.RUNNING.value,
                )
                .values(status=JOBS.c.status)
                .returning(JOBS.c.id)
            )
        )

    def claim(
        self, job_type: JobType, limit: int, import_run_id: uuid.UUID | None = None
    ) -> list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]:
        """Mark up to ``limit`` pending jobs RUNNING, oldest first, and return (job id, sequence id,
        started_at); with ``import_run_id``, only jobs of antibodies that import run stored. ``started_at``
        identifies this claim: a job re-queued and claimed again has another.

        The oldest PENDING jobs are read without locks, then taken from their queue buckets, one statement
        per bucket with ``FOR UPDATE SKIP LOCKED`` (on Citus: one shard each): concurrent workers never
        receive the same job, and a job another worker holds is passed over for the next oldest.
        """
        claimed: list[tuple[uuid.UUID, uuid.UUID, dt.datetime]] = []
        passed: list[uuid.UUID] = []
        while len(claimed) < limit:
            candidates = self.session.scalars(
                text(
                    "SELECT j.id FROM processing_jobs j WHERE j.status = 'PENDING' AND j.job_type = :job_type "
                    f"{_RUN_FILTER if import_run_id else ''}AND NOT (j.id = ANY(CAST(:passed AS uuid[]))) "
                    "ORDER BY j.id LIMIT :limit"
                ),
                {"job_type": job_type.value, "run": import_run_id, "passed": passed, "limit": limit - len(claimed)},
            ).all()
            if not candidates:
                break
            passed += candidates
            by_bucket: dict[int, list[uuid.UUID]] = {}
            for job_id in candidates:
                by_bucket.setdefault(bucket_of(job_id), []).append(job_id)
            for bucket, job_ids in sorted(by_bucket.items()):
                taken = self.session.execute(
                    text(
                        "DELETE FROM job_queue WHERE bucket = :bucket AND job_id IN (SELECT job_id FROM job_queue "
                        "WHERE bucket = :bucket AND job_id = ANY(CAST(:ids AS uuid[])) FOR UPDATE SKIP LOCKED) "
                        "RETURNING sequence_id, job_id"
                    ),
                    {"bucket": bucket, "ids": job_ids},
                ).all()
                if taken:
                    claimed += self._mark_running([(row[0], row[1]) for row in taken])
        return sorted(claimed)

    def _mark_running(self, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]:
        rows = self.session.execute(
            update(JOBS)
            .where(tuple_(JOBS.c.sequence_id, JOBS.c.id).in_(keys), JOBS.c.status == JobStatus.PENDING.value)
            .values(status=JobStatus.RUNNING.value, started_at=func.now(), completed_at=None, error_message=None)
            .returning(JOBS.c.id, JOBS.c.sequence_id, JOBS.c.started_at)
        ).all()
        return [(row[0], row[1], row[2]) for row in rows]

    def queue_unqueued(self, job_type: JobType) -> int:
        """Give PENDING jobs without a queue row (made PENDING by plain SQL, or by an older abdb) their row;
        return how many. A set-based anti-join, run once before a claiming run."""
        result = self.session.execute(
            text(
                "INSERT INTO job_queue (bucket, job_id, sequence_id, job_type) "
                f"SELECT {bucket_sql('j.id')}, j.id, j.sequence_id, j.job_type FROM processing_jobs j "
                "WHERE j.status = 'PENDING' AND j.job_type = :job_type AND NOT EXISTS (SELECT 1 FROM job_queue q "
                f"WHERE q.bucket = {bucket_sql('j.id')} AND q.job_id = j.id) ON CONFLICT DO NOTHING"
            ),
            {"job_type": job_type.value},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

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
        """[{job_id, antibody_id, new_status, output_data, error_message}, ...]: RUNNING jobs become COMPLETED
        or FAILED, each by its antibody key (one shard per row on Citus)."""
        if outcomes:
            self.session.execute(
                update(JOBS)
                .where(
                    JOBS.c.sequence_id == bindparam("antibody_id"),
                    JOBS.c.id == bindparam("job_id"),
                    JOBS.c.status == JobStatus.RUNNING.value,
                )
                .values(
                    status=bindparam("new_status"),
                    output_data=bindparam("output_data"),
                    error_message=bindparam("error_message"),
                    completed_at=func.greatest(func.now(), JOBS.c.started_at),
                ),
                outcomes,
            )

    def release(self, claims: list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]) -> int:
        """Claimed jobs — (job id, sequence id, started_at) — that were not finished go back to PENDING and
        into the queue (an interrupted or dead worker); a job claimed again since (another started_at) is left
        to its new worker."""
        if not claims:
            return 0
        keys = [(sequence_id, job_id, started) for job_id, sequence_id, started in claims]
        moved = (
            update(JOBS)
            .where(
                tuple_(JOBS.c.sequence_id, JOBS.c.id, JOBS.c.started_at).in_(keys),
                JOBS.c.status == JobStatus.RUNNING.value,
            )
            .values(status=JobStatus.PENDING.value, started_at=None, completed_at=None)
            .returning(JOBS.c.id, JOBS.c.sequence_id, JOBS.c.job_type)
        )
        return self._requeued(moved)

    def _requeued(self, moving: Any) -> int:
        """Run ``moving`` (an UPDATE … RETURNING id, sequence_id, job_type that makes jobs PENDING) and queue
        what it moved, in one statement; return how many."""
        moved = moving.cte("moved")
        chosen = select(literal_column(bucket_sql("moved.id")), moved.c.id, moved.c.sequence_id, moved.c.job_type)
        statement = (
            pg_insert(QUEUE)
            .from_select(["bucket", "job_id", "sequence_id", "job_type"], chosen)
            .on_conflict_do_nothing()
            .returning(QUEUE.c.job_id)
        )
        return len(self.session.execute(statement).all())

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
        moved = (
            update(JOBS)
            .where(JOBS.c.job_type == job_type.value, or_(*conditions))
            .values(status=JobStatus.PENDING.value, started_at=None, completed_at=None, error_message=None)
            .returning(JOBS.c.id, JOBS.c.sequence_id, JOBS.c.job_type)
        )
        return self._requeued(moved)

    def cancel_pending(self, job_type: JobType) -> int:
        self.session.execute(text("DELETE FROM job_queue WHERE job_type = :job_type"), {"job_type": job_type.value})
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
