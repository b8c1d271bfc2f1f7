"""``abdb import``: load antibodies from FASTA and legacy JSON files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TextColumn
from rich.table import Table

from abdb.cli.annotating import render_annotation, run_annotation
from abdb.cli.context import database_of, open_for_writing, stderr, stdout, write_output
from abdb.cli.import_summary import render_import
from abdb.cli.progress import progress_bar
from abdb.domain.records import DEFAULT_MIN_LENGTH
from abdb.errors import JobsFailed, RecordsRejected
from abdb.services.annotating.run import AnnotateOptions
from abdb.services.importing.report import close_stale_runs, recent_runs
from abdb.services.importing.run import (
    ImportOptions,
    ImportProgress,
    ImportReport,
    InputFormat,
    import_files,
    refuse_outputs_among_inputs,
)

app = typer.Typer(help="Import antibodies from FASTA or legacy JSON, and list past import runs.", no_args_is_help=True)

FASTA_HELP = (
    "Import FASTA (.fasta/.fa/.faa/.fas, optionally gzip-compressed; any name when given as a file).\n\n"
    "Chains pair by name across all the files of the command: >mAb1|heavy + >mAb1|light (labels heavy/H/HC/"
    "VH/VHH, light/L/LC/VL/VK, kappa/K, lambda, scfv; a number may follow: heavy2) or >mAb1_H + >mAb1_L (also "
    "_HC/_LC/_VH/_VL/_K), adjacent or not, even heavy chains in one file and light chains in another. Any "
    "other id (>lcl|Query_1, >sp|P01857|IGHG1_HUMAN) is an antibody of one chain. The id ends at the first "
    "space or tab; the rest is the description, key=value pairs go to metadata (each chain keeps its own; "
    "the antibody gets its first record's). Nucleotide records are rejected unless --translate.\n\n"
    'Each antibody is queued for annotation. Re-importing adds nothing ("N unchanged"); the same name with '
    "other chains, or other chain labels, is a conflict, reported and not overwritten unless --replace. "
    "Exit 8 when any record was rejected or in conflict.\n\n"
    "Example: abdb import fasta heavy.fasta light.fasta --errors rejects.jsonl --annotate"
)

LEGACY_HELP = (
    "Import AbSequenceAlign's legacy JSON: per-sequence files, annotation results v1 and v2, the browser "
    "history export and annotation requests (the shape is detected per file; folders are searched "
    "recursively for *.json).\n\n"
    "Domain and region positions are recomputed from the sequences (gaps stripped), never taken from the "
    "file; a record whose regions cannot be placed is rejected with the reason. Germline genes, species "
    "and isotypes become sequence features; records without annotation are queued for annotation.\n\n"
    "Re-importing adds nothing; conflicts are reported, not overwritten, unless --replace. Exit 8 when "
    "any record was rejected or in conflict.\n\n"
    "Example: abdb import legacy-json data/sequences/ results.json --errors rejects.jsonl"
)

PATHS = Annotated[
    list[Path],
    typer.Argument(
        help="Files (any name), folders (searched recursively for the format's suffixes), - for stdin, or "
        "streams such as <(zcat x.gz).",
        show_default=False,
    ),
]
DRY_RUN = Annotated[bool, typer.Option("--dry-run", help="Validate and load in a transaction, then roll back.")]
ERRORS = Annotated[
    Path | None,
    typer.Option("--errors", help="Write one JSON line per rejected record to this file (never one of the inputs)."),
]
MAX_ERRORS = Annotated[
    int | None,
    typer.Option("--max-errors", min=1, help="Stop at this many rejections; records after the stop are not read."),
]
BATCH_SIZE = Annotated[int, typer.Option("--batch-size", min=1, help="Antibodies per transaction.")]
REPLACE = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Replace every stored antibody whose name is in the input by the input's version (its annotations "
        "go with it; run --annotate again).",
    ),
]
QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")]
AS_JSON = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
PUBLIC = Annotated[
    bool | None,
    typer.Option(
        "--public/--private",
        help="Visibility of the antibodies, new and already stored (default: new ones private, stored ones kept).",
        show_default=False,
    ),
]
CREATED_BY = Annotated[str | None, typer.Option("--created-by", help="Email of the importing user.")]
ALLOW_X = Annotated[bool, typer.Option("--allow-x", help="Accept X (unknown residue).")]
MIN_LENGTH = Annotated[int, typer.Option("--min-length", min=1, help="Shortest chain accepted.")]
ANNOTATE = Annotated[
    bool,
    typer.Option(
        "--annotate",
        help="Then number the antibodies this import stored or replaced (IMGT, one worker); other pending jobs "
        "are left for `abdb annotate`.",
    ),
]
TRANSLATE = Annotated[
    bool,
    typer.Option(
        "--translate",
        help="Translate nucleotide records (≥90% A/C/G/T/U/N) in their one open reading frame (3 forward, 3 "
        "reverse frames tried); without it they are rejected.",
    ),
]


@app.command("fasta", help=FASTA_HELP)
def fasta(
    ctx: typer.Context,
    paths: PATHS,
    dry_run: DRY_RUN = False,
    errors: ERRORS = None,
    max_errors: MAX_ERRORS = None,
    batch_size: BATCH_SIZE = 1000,
    replace: REPLACE = False,
    quiet: QUIET = False,
    as_json: AS_JSON = False,
    public: PUBLIC = None,
    created_by: CREATED_BY = None,
    allow_x: ALLOW_X = False,
    min_length: MIN_LENGTH = DEFAULT_MIN_LENGTH,
    annotate_after: ANNOTATE = False,
    translate: TRANSLATE = False,
) -> None:
    options = ImportOptions(
        allow_x=allow_x,
        min_length=min_length,
        batch_size=batch_size,
        dry_run=dry_run,
        public=public,
        created_by=created_by,
        max_errors=max_errors,
        replace=replace,
        translate=translate,
    )
    _run_import(ctx, InputFormat.FASTA, paths, options, errors, quiet, as_json, annotate_after)


@app.command("legacy-json", help=LEGACY_HELP)
def legacy_json(
    ctx: typer.Context,
    paths: PATHS,
    dry_run: DRY_RUN = False,
    errors: ERRORS = None,
    max_errors: MAX_ERRORS = None,
    batch_size: BATCH_SIZE = 1000,
    replace: REPLACE = False,
    quiet: QUIET = False,
    as_json: AS_JSON = False,
    public: PUBLIC = None,
    created_by: CREATED_BY = None,
    allow_x: ALLOW_X = False,
    min_length: MIN_LENGTH = DEFAULT_MIN_LENGTH,
    annotate_after: ANNOTATE = False,
) -> None:
    options = ImportOptions(
        allow_x=allow_x,
        min_length=min_length,
        batch_size=batch_size,
        dry_run=dry_run,
        public=public,
        created_by=created_by,
        max_errors=max_errors,
        replace=replace,
    )
    _run_import(ctx, InputFormat.LEGACY_JSON, paths, options, errors, quiet, as_json, annotate_after)


def _run_import(
    ctx: typer.Context,
    input_format: InputFormat,
    paths: list[Path],
    options: ImportOptions,
    errors: Path | None,
    quiet: bool,
    as_json: bool,
    annotate_after: bool,
) -> None:
    if errors is not None:
        refuse_outputs_among_inputs(input_format, paths, {"--errors": errors})
    errors_file = open_for_writing(errors, "--errors") if errors is not None else None
    report = _with_progress(ctx, input_format, paths, options, not quiet and not as_json)
    render_import(report, as_json, quiet)  # first: what was stored is said even if the errors file cannot be written
    if errors_file is not None and errors is not None:
        lines = (json.dumps(rejection.as_dict()) + "\n" for rejection in report.rejections)
        write_output(errors_file, errors, "--errors", lines, "the import itself finished as summarised above")
    annotated = None
    if annotate_after and not options.dry_run and report.run_id is not None:
        scoped = AnnotateOptions(import_run_id=report.run_id)
        annotated = run_annotation(database_of(ctx), scoped, show=not quiet and not as_json)
        render_annotation(annotated, as_json)
    if report.clean and annotated is not None and annotated.failed:
        raise JobsFailed(
            f"imported cleanly, but {annotated.failed} annotation job(s) FAILED",
            hint="abdb jobs --status FAILED shows why",
        )
    if report.stopped_early:
        raise RecordsRejected(
            f"stopped at rejection {len(report.rejections)} (--max-errors); records after it were not read",
            hint="--errors FILE lists each one with its reason",
        )
    if not report.clean:
        raise RecordsRejected(
            f"{len(report.rejections)} record(s) rejected or in conflict; the others were "
            f"{'checked' if report.dry_run else 'loaded'}",
            hint="--errors FILE lists each one with its reason",
        )


@app.command()
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    close_stale: Annotated[
        bool,
        typer.Option(
            "--close-stale",
            help="First mark FAILED, with the reason, every RUNNING run whose import is gone (killed, or its "
            "server stopped): a live import holds a lock that tells them apart.",
        ),
    ] = False,
) -> None:
    """List recent import runs: when, what, files (with sha256), counts and status.

    Example: abdb import runs --close-stale --limit 5
    """
    if close_stale:
        closed = close_stale_runs(database_of(ctx))
        stderr.print(f"closed {len(closed)} stale import run(s) as FAILED", markup=False)
    found = recent_runs(database_of(ctx), limit)
    if as_json:
        stdout.print_json(json.dumps([asdict(run) for run in found], default=str))
        return
    table = Table("started", "command", "status", "files", "inserted", "unchanged", "conflicting", "rejected")
    table.add_column("id", no_wrap=True, min_width=36)  # whole, to copy into `abdb annotate` or SQL
    for run in found:
        table.add_row(
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            run.command,
            run.status,
            str(len(run.files)),
            str(run.inserted),
            str(run.unchanged),
            str(run.conflicting),
            str(run.rejected),
            str(run.id),
        )
    stdout.print(table)


def _with_progress(
    ctx: typer.Context, input_format: InputFormat, paths: list[Path], options: ImportOptions, show: bool
) -> ImportReport:
    """A bar over the bytes of the input (the one total known before reading), with records and records/s."""
    with progress_bar(
        "importing", TextColumn("{task.fields[records]:,} records {task.fields[rate]}"), show
    ) as progress:
        task = progress.add_task("import", total=None, records=0, rate="")

        def advance(step: ImportProgress) -> None:
            records = progress.tasks[0].fields["records"] + step.records
            elapsed = progress.tasks[0].elapsed or 0
            rate = f"({records / elapsed:,.0f}/s)" if elapsed else ""
            progress.update(task, total=step.bytes_total or None, completed=step.bytes_read, records=records, rate=rate)

        return import_files(database_of(ctx), input_format, paths, options, advance)
