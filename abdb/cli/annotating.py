"""``abdb annotate`` and ``abdb jobs``: number chains as processing jobs, and look after the queue."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import MofNCompleteColumn
from rich.table import Table

from abdb.cli.context import database_of, require_confirmation, stderr, stdout
from abdb.cli.progress import progress_bar
from abdb.database import Database
from abdb.domain.vocabulary import JobStatus
from abdb.errors import JobsFailed
from abdb.services.annotating.run import AnnotateOptions, AnnotateProgress, AnnotateReport, annotate
from abdb.services.jobs import cancel_jobs, job_overview, retry_jobs

jobs_app = typer.Typer(
    help="The processing-job queue: list jobs by status, retry failed or stuck ones, cancel pending ones.",
    invoke_without_command=True,
)


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def annotate_command(
    ctx: typer.Context,
    scheme: Annotated[str, typer.Option("--scheme", help="Comma-separated schemes: imgt, kabat, chothia.")] = "imgt",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes sharing the queue.")] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="Annotate at most this many jobs.")] = None,
    species: Annotated[
        str,
        typer.Option(
            "--species",
            help="Species whose models may number a chain (ANARCI falls back to all when none fits).",
        ),
    ] = "human,mouse",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Jobs per claim and transaction.")] = 50,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Number the chains of pending ANNOTATION jobs with ANARCI (in-process HMMER): variable domains, FR/CDR
    regions, germline genes and species. Workers claim jobs with FOR UPDATE SKIP LOCKED, so several
    `abdb annotate` commands can run at once. Re-annotating replaces, never duplicates. Exit 9 when jobs
    FAILED (chains that are not antibodies, for instance).

    Example: abdb annotate --scheme imgt,kabat,chothia --workers 2
    """
    options = AnnotateOptions(
        schemes=_names(scheme), species=_names(species), workers=workers, limit=limit, batch_size=batch_size
    )
    report = run_annotation(database_of(ctx), options, show=not quiet and not as_json)
    render_annotation(report, as_json)
    if report.failed:
        raise JobsFailed(
            f"{report.failed} job(s) FAILED; {report.completed} completed",
            hint="abdb jobs --status FAILED shows why; abdb jobs retry re-queues them",
        )


def run_annotation(database: Database, options: AnnotateOptions, show: bool) -> AnnotateReport:
    # redrawn at each written batch, not by a thread: one worker forks the process that writes its batches,
    # several workers are forked themselves, and a fork copies any lock the drawing thread holds
    with progress_bar("annotating", MofNCompleteColumn(), show, refresh_thread=False) as progress:
        task = progress.add_task("annotate", total=None)

        def advance(step: AnnotateProgress) -> None:
            progress.update(task, total=step.total, advance=step.jobs, refresh=True)

        return annotate(database, options, advance)


def render_annotation(report: AnnotateReport, as_json: bool) -> None:
    if as_json:
        stdout.print_json(json.dumps({**asdict(report), "chains_per_second": round(report.chains_per_second, 1)}))
        return
    for job_id, message in report.failures[:10]:
        stderr.print(f"job {job_id} FAILED: {message}", markup=False)
    stdout.print(
        f"annotated {report.completed} job(s), {report.failed} failed; {report.chains} chains in "
        f"{report.seconds:.2f} s ({report.chains_per_second:,.0f} chains/s, {report.workers} worker(s))",
        markup=False,
    )


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    status: Annotated[JobStatus | None, typer.Option("--status", help="Only jobs with this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent jobs to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts and jobs as JSON.")] = False,
) -> None:
    """Counts of jobs per type and status, and the most recent FAILED jobs with their errors (or those of
    --status)."""
    if ctx.invoked_subcommand is not None:
        return
    overview = job_overview(database_of(ctx), status or JobStatus.FAILED, limit)
    if as_json:
        stdout.print_json(json.dumps(asdict(overview), default=str))
        return
    counts = Table("type", "status", "jobs")
    for job_type, job_status, count in overview.counts:
        counts.add_row(job_type, job_status, f"{count:,}")
    stdout.print(counts)
    if not overview.recent:
        return
    recent = Table(title=f"most recent {(status or JobStatus.FAILED).value} jobs")
    recent.add_column("job id", no_wrap=True, min_width=36)
    recent.add_column("antibody", overflow="fold")
    recent.add_column("completed", no_wrap=True)
    recent.add_column("error", overflow="fold")
    for job in overview.recent:
        recent.add_row(
            str(job.id),
            job.antibody_name,
            job.completed_at.strftime("%Y-%m-%d %H:%M:%S") if job.completed_at else "",
            job.error_message or "",
        )
    stdout.print(recent)


@jobs_app.command()
def retry(
    ctx: typer.Context,
    running_for: Annotated[
        int,
        typer.Option(
            "--running-for",
            min=0,
            help="Also re-queue RUNNING jobs started more than this many minutes ago (0: every RUNNING job, "
            "when no worker is alive).",
        ),
    ] = 30,
    running: Annotated[bool, typer.Option("--running/--no-running", help="Re-queue stuck RUNNING jobs.")] = True,
    failed: Annotated[bool, typer.Option("--failed/--no-failed", help="Re-queue FAILED jobs.")] = True,
    cancelled: Annotated[bool, typer.Option("--cancelled", help="Also re-queue CANCELLED jobs.")] = False,
    completed: Annotated[
        bool,
        typer.Option("--completed", help="Also re-queue COMPLETED jobs: to annotate again, e.g. under another scheme."),
    ] = False,
) -> None:
    """Put FAILED jobs, RUNNING jobs whose worker died (older than --running-for) and, with --cancelled or
    --completed, CANCELLED or COMPLETED jobs back to PENDING.

    Example: abdb jobs retry --completed && abdb annotate --scheme kabat  (adds Kabat, keeps IMGT)
    """
    count = retry_jobs(
        database_of(ctx),
        failed=failed,
        running_for=timedelta(minutes=running_for) if running else None,
        cancelled=cancelled,
        completed=completed,
    )
    stdout.print(f"{count} job(s) re-queued as PENDING", markup=False)


@jobs_app.command()
def cancel(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Cancel every PENDING annotation job; `abdb jobs retry --cancelled` queues them again. Asks first at a
    terminal; needs --yes elsewhere.

    Example: abdb jobs cancel --yes
    """
    require_confirmation("Cancel every pending annotation job?", yes, "cancelling every pending job")
    count = cancel_jobs(database_of(ctx))
    stdout.print(f"{count} pending job(s) cancelled", markup=False)
