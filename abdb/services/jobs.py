"""The processing-job queue seen from the command line: overview, retry, cancel."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from abdb.config import Settings
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.services.migrations import require_head
from abdb.unit_of_work import UnitOfWork


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


def job_overview(settings: Settings, status: JobStatus | None = None, limit: int = 20) -> JobOverview:
    require_head(settings, "`abdb jobs`")
    with UnitOfWork(settings) as uow:
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
    settings: Settings,
    *,
    failed: bool = True,
    running_for: dt.timedelta | None = None,
    cancelled: bool = False,
    completed: bool = False,
) -> int:
    """Re-queue FAILED jobs, RUNNING ones older than ``running_for`` (a worker died on them) and, if asked,
    CANCELLED or COMPLETED ones (to annotate again, e.g. under another scheme)."""
    require_head(settings, "`abdb jobs retry`")
    with UnitOfWork(settings) as uow:
        count = uow.jobs.requeue(
            JobType.ANNOTATION, failed=failed, running_for=running_for, cancelled=cancelled, completed=completed
        )
        uow.commit()
        return count


def cancel_jobs(settings: Settings) -> int:
    """Cancel every PENDING annotation job."""
    require_head(settings, "`abdb jobs cancel`")
    with UnitOfWork(settings) as uow:
        count = uow.jobs.cancel_pending(JobType.ANNOTATION)
        uow.commit()
        return count
