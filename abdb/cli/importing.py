"""``abdb import``: load antibodies from FASTA and legacy JSON files."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from abdb.cli.annotating import render_annotation, run_annotation
from abdb.cli.context import open_for_writing, settings_of, stderr, stdout
from abdb.errors import JobsFailed, RecordsRejected
from abdb.services.annotation import AnnotateOptions
from abdb.services.import_history import recent_runs
from abdb.services.importer import ImportOptions, ImportReport, InputFormat, import_files

MAX_FILE_LINES = 20
app = typer.Typer(help="Import antibodies from FASTA or legacy JSON, and list past import runs.", no_args_is_help=True)

FASTA_HELP = (
    "Import FASTA (.fasta/.fa/.faa/.fas, optionally gzip-compressed).\n\n"
    "Consecutive records sharing a base name form one antibody: >mAb1|heavy + >mAb1|light, or >mAb1_H + "
    ">mAb1_L (also _HC/_LC/_VH/_VL/_K). Text after the id is the description; key=value pairs go to "
    "metadata. Each antibody is queued for annotation (a PENDING ANNOTATION job).\n\n"
    'Re-importing adds nothing ("N unchanged"); the same name with other chains is a conflict, reported '
    "and not overwritten unless --replace. Exit 8 when any record was rejected or in conflict.\n\n"
    "Example: abdb import fasta fixtures/good_therapeutics.fasta --errors rejects.jsonl"
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


def _register(input_format: InputFormat, help_text: str) -> None:
    @app.command(input_format.value, help=help_text)
    def command(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help="Files, folders (searched recursively), or - for stdin.")],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Validate and load in a transaction, then roll back.")
        ] = False,
        errors: Annotated[
            Path | None, typer.Option("--errors", help="Write one JSON line per rejected record to this file.")
        ] = None,
        max_errors: Annotated[int | None, typer.Option("--max-errors", help="Stop after this many rejections.")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Antibodies per transaction.")] = 1000,
        replace: Annotated[
            bool, typer.Option("--replace", help="Replace stored antibodies whose name matches but content differs.")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
        public: Annotated[bool, typer.Option("--public/--private", help="Mark imported antibodies public.")] = False,
        created_by: Annotated[str | None, typer.Option("--created-by", help="Email of the importing user.")] = None,
        allow_x: Annotated[bool, typer.Option("--allow-x", help="Accept X (unknown residue).")] = False,
        min_length: Annotated[int, typer.Option("--min-length", min=1, help="Shortest chain accepted.")] = 20,
        annotate_after: Annotated[
            bool, typer.Option("--annotate", help="Run `abdb annotate` (IMGT, one worker) right after the import.")
        ] = False,
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
        errors_file = open_for_writing(errors, "--errors") if errors is not None else None
        stdin_copy = _stdin_to_file(input_format) if any(str(p) == "-" for p in paths) else None
        inputs = [stdin_copy if str(p) == "-" and stdin_copy else p for p in paths]
        try:
            names = {stdin_copy: "<stdin>"} if stdin_copy else {}
            report = _with_progress(ctx, input_format, inputs, options, not quiet and not as_json, names)
        finally:
            if stdin_copy:
                stdin_copy.unlink(missing_ok=True)
        if errors_file is not None:
            with errors_file:
                for rejection in report.rejections:
                    errors_file.write(json.dumps(rejection.as_dict()) + "\n")
        _render(report, as_json, quiet)
        annotated = None
        if annotate_after and not dry_run:
            annotated = run_annotation(settings_of(ctx), AnnotateOptions(), show=not quiet and not as_json)
            render_annotation(annotated, as_json)
        if report.clean and annotated is not None and annotated.failed:
            raise JobsFailed(
                f"imported cleanly, but {annotated.failed} annotation job(s) FAILED",
                hint="abdb jobs --status FAILED shows why",
            )
        if report.stopped_early:
            raise RecordsRejected(
                f"stopped after {len(report.rejections)} rejection(s) (--max-errors); files after the stop were "
                "not read",
                hint="--errors FILE lists each one with its reason",
            )
        if not report.clean:
            raise RecordsRejected(
                f"{len(report.rejections)} record(s) rejected or in conflict; the others were "
                f"{'checked' if report.dry_run else 'loaded'}",
                hint="--errors FILE lists each one with its reason",
            )


_register(InputFormat.FASTA, FASTA_HELP)
_register(InputFormat.LEGACY_JSON, LEGACY_HELP)


@app.command()
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List recent import runs: when, what, files (with sha256), counts and status."""
    found = recent_runs(settings_of(ctx), limit)
    if as_json:
        stdout.print_json(json.dumps([asdict(run) for run in found], default=str))
        return
    table = Table("started", "command", "status", "files", "inserted", "unchanged", "conflicting", "rejected", "id")
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
    ctx: typer.Context,
    input_format: InputFormat,
    inputs: list[Path],
    options: ImportOptions,
    show: bool,
    names: dict[Path, str],
) -> ImportReport:
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=stderr,
        disable=not (show and sys.stderr.isatty()),
    ) as progress:
        task = progress.add_task("import", total=None, rate="")

        def advance(count: int) -> None:
            progress.advance(task, count)
            elapsed = progress.tasks[0].elapsed or 0
            progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:,.0f}/s" if elapsed else "")

        return import_files(settings_of(ctx), input_format, inputs, options, advance, names)


def _render(report: ImportReport, as_json: bool, quiet: bool) -> None:
    if as_json:
        summary: dict[str, Any] = {
            "dry_run": report.dry_run,
            "run_id": str(report.run_id) if report.run_id else None,
            "seconds": round(report.seconds, 3),
            "rows": report.rows,
            "files": report.files_as_dicts(),
            "rejections": [r.as_dict() for r in report.rejections],
        }
        stdout.print_json(json.dumps(summary))
        return
    if not quiet:
        for rejection in report.rejections[:20]:
            name = f' "{rejection.record_name}"' if rejection.record_name else ""
            stderr.print(f"{rejection.source}: {rejection.location}{name}: {rejection.reason}", markup=False)
        if len(report.rejections) > 20:
            stderr.print(f"... and {len(report.rejections) - 20} more (see --errors FILE)", markup=False)
    prefix = "dry run, nothing stored: " if report.dry_run else ""
    shown = (
        report.files
        if len(report.files) <= MAX_FILE_LINES
        else [f for f in report.files if f.rejected or f.conflicting]
    )
    if len(shown) < len(report.files):
        stdout.print(
            f"{len(report.files):,} files read; only those with rejections or conflicts are listed", markup=False
        )
    for f in shown[:MAX_FILE_LINES]:
        replaced = f", {f.replaced} replaced" if f.replaced else ""
        stdout.print(
            f"{prefix}{f.path}: {f.inserted} inserted, {f.unchanged} unchanged, {f.conflicting} "
            f"conflicting, {f.rejected} rejected{replaced} in {f.seconds:.2f} s",
            markup=False,
        )
    replaced_total = f", {report.total('replaced')} replaced" if report.total("replaced") else ""
    stdout.print(
        f"{prefix}total: {report.total('inserted')} inserted, {report.total('unchanged')} unchanged, "
        f"{report.total('conflicting')} conflicting, {report.total('rejected')} rejected{replaced_total}; "
        f"{report.records_per_second:,.0f} records/s, {report.rows:,} rows in {report.seconds:.2f} s",
        markup=False,
    )


def _stdin_to_file(input_format: InputFormat) -> Path:
    suffix = ".json" if input_format is InputFormat.LEGACY_JSON else ".fasta"
    with tempfile.NamedTemporaryFile(prefix="abdb-stdin-", suffix=suffix, delete=False) as handle:
        shutil.copyfileobj(sys.stdin.buffer, handle)  # streamed: a large FASTA never sits in memory
    return Path(handle.name)
