"""``abdb import``: load antibodies from files."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from abdb.cli.context import settings_of, stderr, stdout
from abdb.errors import RecordsRejected
from abdb.services.importer import ImportOptions, ImportReport, import_fasta

app = typer.Typer(help="Import antibodies (FASTA now; legacy JSON is planned).", no_args_is_help=True)


@app.command()
def fasta(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="FASTA files (.fasta/.fa/.faa, optionally .gz), folders, or -")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and load in a transaction, then roll back.")
    ] = False,
    errors: Annotated[
        Path | None, typer.Option("--errors", help="Write one JSON line per rejected record here.")
    ] = None,
    max_errors: Annotated[int | None, typer.Option("--max-errors", help="Stop after this many rejections.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Antibodies per transaction.")] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    public: Annotated[bool, typer.Option("--public/--private", help="Mark imported antibodies public.")] = False,
    created_by: Annotated[str | None, typer.Option("--created-by", help="Email of the importing user.")] = None,
    allow_x: Annotated[bool, typer.Option("--allow-x", help="Accept X (unknown residue).")] = False,
    min_length: Annotated[int, typer.Option("--min-length", help="Shortest chain accepted.")] = 20,
) -> None:
    """Import FASTA: chains that share a base name (>mAb1|heavy + >mAb1|light, >mAb1_H + >mAb1_L) form one
    antibody, queued for annotation. Re-importing adds nothing; exit 8 when records were rejected.

    Example: abdb import fasta fixtures/good_therapeutics.fasta --errors rejects.jsonl
    """
    options = ImportOptions(
        allow_x=allow_x,
        min_length=min_length,
        batch_size=batch_size,
        dry_run=dry_run,
        public=public,
        created_by=created_by,
        max_errors=max_errors,
    )
    inputs = [_stdin_to_file() if str(p) == "-" else p for p in paths]
    show_progress = not quiet and not as_json and sys.stderr.isatty()
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=stderr,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("import", total=None, rate="")

        def advance(count: int) -> None:
            progress.advance(task, count)
            elapsed = progress.tasks[0].elapsed or 0
            progress.update(task, rate=f"{progress.tasks[0].completed / elapsed:,.0f}/s" if elapsed else "")

        report = import_fasta(settings_of(ctx), inputs, options, advance)
    if errors is not None:
        with errors.open("w") as handle:
            for rejection in report.rejections:
                handle.write(json.dumps(rejection.as_dict()) + "\n")
    _render(report, as_json, quiet)
    if not report.clean:
        raise RecordsRejected(
            f"{len(report.rejections)} record(s) rejected or in conflict; the others were "
            f"{'checked' if report.dry_run else 'loaded'}"
        )


def _render(report: ImportReport, as_json: bool, quiet: bool) -> None:
    if as_json:
        stdout.print_json(
            json.dumps(
                {
                    "dry_run": report.dry_run,
                    "seconds": round(report.seconds, 3),
                    "files": [asdict(f) for f in report.files],
                    "rejections": [r.as_dict() for r in report.rejections],
                }
            )
        )
        return
    if not quiet:
        for rejection in report.rejections[:20]:
            name = f' "{rejection.record_name}"' if rejection.record_name else ""
            stderr.print(f"{rejection.source}: {rejection.location}{name}: {rejection.reason}", markup=False)
        if len(report.rejections) > 20:
            stderr.print(f"... and {len(report.rejections) - 20} more (see --errors FILE)", markup=False)
    prefix = "dry run, nothing stored: " if report.dry_run else ""
    for f in report.files:
        stdout.print(
            f"{prefix}{f.path}: {f.inserted} inserted, {f.unchanged} unchanged, {f.conflicting} "
            f"conflicting, {f.rejected} rejected in {f.seconds:.2f} s",
            markup=False,
        )
    stdout.print(
        f"{prefix}total: {report.total('inserted')} inserted, {report.total('unchanged')} unchanged, "
        f"{report.total('conflicting')} conflicting, {report.total('rejected')} rejected; "
        f"{report.records_per_second:,.0f} records/s",
        markup=False,
    )


def _stdin_to_file() -> Path:
    with tempfile.NamedTemporaryFile(prefix="abdb-stdin-", suffix=".fasta", delete=False) as handle:
        handle.write(sys.stdin.buffer.read())
    return Path(handle.name)
