"""The processing-job queue seen from the command line: overview, retry, cancel."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from abdb.config import Settings
from abdb.database import Database, using
from abdb.domain.vocabulary import JobStatus, JobType


@dataclass(frozen=True)
class JobSummary:
    id: uuid.UUID
    sequence_id: uuid.UUID
    antibody_name: str
    job_type: str
    status: str
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    error_message: str | None


@dataclass(frozen=True)
class JobOverview:
    counts: list[tuple[str, str, int]]  # (job type, status, count)
    recent: list[JobSummary]


def job_overview(target: Database | Settings, status: JobStatus | None = None, limit: int = 20) -> JobOverview:
    with using(target) as database:
        database.require_head("`abdb jobs`")
        with database.unit_of_work() as uow:
            recent = [
                JobSummary(
                    job.id,
                    job.sequence_id,
                    name,
                    job.job_type.value,
                    job.status.value,
                    job.started_at,
                    job.completed_at,
                    job.error_message,
                )
                for job, name in uow.jobs.recent(status, limit)
            ]
            return JobOverview(uow.jobs.status_counts(), recent)


def retry_jobs(
    target: Database | Settings,
    *,
    failed: bool = True,
    running_for: dt.timedelta | None = None,
    cancelled: bool = False,
    completed: bool = False,
) -> int:
    """Re-queue FAILED jobs, RUNNING ones older than ``running_for`` (a worker died on them) and, if asked,
    CANCELLED or COMPLETED ones (to annotate again, e.g. under another scheme)."""
    with using(target) as database:
        database.require_head("`abdb jobs retry`")
        with database.unit_of_work() as uow:
            count = uow.jobs.requeue(
                JobType.ANNOTATION, failed=failed, running_for=running_for, cancelled=cancelled, completed=completed
            )
            uow.commit()
            return count


def cancel_jobs(target: Database | Settings) -> int:
    """Cancel every PENDING annotation job."""
    with using(target) as database:
        database.require_head("`abdb jobs cancel`")
        with database.unit_of_work() as uow:
            count = uow.jobs.cancel_pending(JobType.ANNOTATION)
            uow.commit()
            return count
