"""The job queue's set-based statements, for the annotation workers and `abdb jobs`: claim (oldest first,
``FOR UPDATE SKIP LOCKED`` in the claim queue's buckets), hold, finish, release, requeue, cancel, count.

A PENDING job has one row in ``job_queue`` (bucket, job): a claim reads the oldest PENDING jobs, takes them
from their buckets with ``FOR UPDATE SKIP LOCKED`` — one statement per bucket: on Citus one shard, where row
locks work — then marks them RUNNING by their antibody key. Every statement about given jobs names
``(sequence_id, id)``: on Citus it goes to the shard of each antibody. Whatever makes a job PENDING again
puts it back in the queue, in the same statement. ``ProcessingJobRepository`` (``uow.jobs``) has these too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Table, bindparam, func, literal_column, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from abdb.db.models import ProcessingJob, QueuedJob
from abdb.domain.queue import bucket_of, bucket_sql
from abdb.domain.vocabulary import JobStatus, JobType

JOBS: Table = ProcessingJob.__table__  # type: ignore[assignment]
QUEUE: Table = QueuedJob.__table__  # type: ignore[assignment]
RUN_FILTER = "AND EXISTS (SELECT 1 FROM antibody_sequences s WHERE s.id = j.sequence_id AND s.import_run_id = :run) "
Claim = tuple[uuid.UUID, uuid.UUID, dt.datetime]  # (job id, sequence id, started_at of the claim)


class JobQueueStatements:
    session: Session

    # -- the queue, for workers and `abdb jobs`: set-based, FOR UPDATE SKIP LOCKED ----------------------
    def lock_held(self, claims: list[Claim]) -> set[uuid.UUID]:
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

    def claim(self, job_type: JobType, limit: int, import_run_id: uuid.UUID | None = None) -> list[Claim]:
        """Mark up to ``limit`` pending jobs RUNNING, oldest first, and return (job id, sequence id,
        started_at); with ``import_run_id``, only jobs of antibodies that import run stored. ``started_at``
        identifies this claim: a job re-queued and claimed again has another.

        The oldest PENDING jobs are read without locks, then taken from their queue buckets, one statement
        per bucket with ``FOR UPDATE SKIP LOCKED`` (on Citus: one shard each): concurrent workers never
        receive the same job, and a job another worker holds is passed over for the next oldest.
        """
        claimed: list[Claim] = []
        passed: list[uuid.UUID] = []
        while len(claimed) < limit:
            candidates = self.session.scalars(
                text(
                    "SELECT j.id FROM processing_jobs j WHERE j.status = 'PENDING' AND j.job_type = :job_type "
                    f"{RUN_FILTER if import_run_id else ''}AND NOT (j.id = ANY(CAST(:passed AS uuid[]))) "
                    "ORDER BY j.id LIMIT :limit"
                ),
                {"job_type": job_type.value, "run": import_run_id, "passed": passed, "limit": limit - len(claimed)},
            ).all()
            if not candidates:
                break
            passed += candidates
            if self._sharded():  # on Citus a row lock works within one shard: a statement per bucket
                by_bucket: dict[int, list[uuid.UUID]] = {}
                for job_id in candidates:
                    by_bucket.setdefault(bucket_of(job_id), []).append(job_id)
                groups = [by_bucket[bucket] for bucket in sorted(by_bucket)]
            else:  # one server: every bucket at once (a statement per bucket cost ~70 per batch of 50 jobs)
                groups = [list(candidates)]
            for job_ids in groups:
                claimed += self._take(job_ids)
        return sorted(claimed)

    def _take(self, job_ids: list[uuid.UUID]) -> list[Claim]:
        """Take the jobs from the queue (passing over any another worker holds) and mark them RUNNING."""
        buckets = sorted({bucket_of(job_id) for job_id in job_ids})
        taken = self.session.execute(
            text(
                "DELETE FROM job_queue WHERE bucket = ANY(CAST(:buckets AS int[])) AND job_id IN (SELECT job_id "
                "FROM job_queue WHERE bucket = ANY(CAST(:buckets AS int[])) AND job_id = ANY(CAST(:ids AS uuid[])) "
                "FOR UPDATE SKIP LOCKED) RETURNING sequence_id, job_id"
                if len(buckets) > 1
                else "DELETE FROM job_queue WHERE bucket = :bucket AND job_id IN (SELECT job_id FROM job_queue "
                "WHERE bucket = :bucket AND job_id = ANY(CAST(:ids AS uuid[])) FOR UPDATE SKIP LOCKED) "
                "RETURNING sequence_id, job_id"
            ),
            {"buckets": buckets, "bucket": buckets[0], "ids": job_ids},
        ).all()
        return self._mark_running([(row[0], row[1]) for row in taken]) if taken else []

    def _sharded(self) -> bool:
        """Whether the queue may be a Citus table (row locks, so claims, work one shard at a time there): on a
        server with Citus, yes. Asked once per connection."""
        info = self.session.connection().info
        if "abdb.queue_sharded" not in info:
            info["abdb.queue_sharded"] = self.session.execute(
                text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            ).scalar_one()
        return bool(info["abdb.queue_sharded"])

    def _mark_running(self, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[Claim]:
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
                    + (RUN_FILTER if import_run_id else "")
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

    def release(self, claims: list[Claim]) -> int:
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
