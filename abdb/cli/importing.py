"""``abdb import``: load antibodies from FASTA, legacy JSON and abdb JSON Lines files."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

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
    PRESETS,
    ImportOptions,
    ImportProgress,
    ImportReport,
    InputFormat,
    import_files,
    refuse_outputs_among_inputs,
    table_columns,
)

app = typer.Typer(
    help="Import antibodies from FASTA, legacy JSON or abdb JSON Lines, and list past import runs.",
    no_args_is_help=True,
)

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

JSON_HELP = (
    "Import abdb JSON Lines, as `abdb export json` writes them (.jsonl/.ndjson, optionally gzip-compressed): "
    "each line one whole antibody with its chains, domains of every scheme, regions, numbering, features and "
    "jobs, stored as they were: nothing is recomputed and nothing is queued for annotation beyond the jobs "
    "the file carries (a job RUNNING at export comes back PENDING).\n\n"
    "Every domain and region is checked against its chain's residues and every code against the vocabulary; "
    "a line that fails is rejected with its line number. Visibility is the file's unless --public/--private. "
    "New ids and timestamps are made; the original id, creation time and import provenance are kept in the "
    "antibody's metadata (import.origin). Re-importing into the source database reports the antibodies "
    "unchanged. Exit 8 when any line was rejected or in conflict.\n\n"
    "Example: abdb export json -o all.jsonl && abdb --database-url $OTHER import json all.jsonl"
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


_SHARED = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("dry_run", DRY_RUN, False),
        ("errors", ERRORS, None),
        ("max_errors", MAX_ERRORS, None),
        ("batch_size", BATCH_SIZE, 1000),
        ("replace", REPLACE, False),
        ("quiet", QUIET, False),
        ("as_json", AS_JSON, False),
        ("public", PUBLIC, None),
        ("created_by", CREATED_BY, None),
    )
]
_RECORDS = [  # what every importer but `import json` offers: its chains are checked and numbered here
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("allow_x", ALLOW_X, False),
        ("min_length", MIN_LENGTH, DEFAULT_MIN_LENGTH),
        ("annotate_after", ANNOTATE, False),
    )
]
_CONTEXT = [
    inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
    inspect.Parameter("paths", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=PATHS),
]


def importer(input_format: InputFormat, help_text: str, *, checks_records: bool = True) -> Callable[..., Any]:
    """An `abdb import` command: the options every importer shares, and the command's own, which it turns
    into its format's ImportOptions fields (a dict)."""

    def register(command: Callable[..., dict[str, Any]]) -> Callable[..., None]:
        own = list(inspect.signature(command, eval_str=True).parameters.values())  # typer reads them as given
        shared = [*_SHARED, *(_RECORDS if checks_records else [])]

        @functools.wraps(command)
        def run(ctx: typer.Context, paths: list[Path], **given: Any) -> None:
            common = {parameter.name: given.pop(parameter.name) for parameter in shared}
            errors, quiet, as_json = common.pop("errors"), common.pop("quiet"), common.pop("as_json")
            annotate_after = common.pop("annotate_after", False)
            options = ImportOptions(**common, **command(**given))
            _run_import(ctx, input_format, paths, options, errors, quiet, as_json, annotate_after)

        run.__signature__ = inspect.Signature([*_CONTEXT, *own, *shared])  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in [*_CONTEXT, *own, *shared]}
        app.command(input_format.value, help=help_text)(run)
        return run

    return register


@importer(InputFormat.FASTA, FASTA_HELP)
def fasta(translate: TRANSLATE = False) -> dict[str, Any]:
    return {"translate": translate}


@importer(InputFormat.LEGACY_JSON, LEGACY_HELP)
def legacy_json() -> dict[str, Any]:
    return {}


AIRR_HELP = (
    "Import AIRR Rearrangement TSV (.tsv, optionally gzip; IgBLAST, MiXCR, Immcantation, 10x, iReceptor): a row "
    "per chain. Rows sharing a cell_id are one antibody named by the cell (across files too); rows without one "
    "are antibodies of one chain named by sequence_id. Residues come from sequence_aa, else "
    "sequence_alignment_aa, else the translation of sequence_alignment or sequence (rev_comp honoured). The "
    "locus names the chain (heavy, light, …). With all seven fwr*_aa/cdr*_aa the regions are placed in the "
    "chain (an IMGT variable domain); otherwise the chain is queued for annotation. v_call/d_call/j_call become "
    "gene and allele features (several calls: the first, all kept in metadata); other fields go to the chain's "
    "metadata.\n\n"
    "Re-importing adds nothing; the same antibody from FASTA is unchanged. Exit 8 when any row was rejected.\n\n"
    "Example: abdb import airr airr_rearrangement.tsv --productive-only --annotate"
)
OAS_HELP = (
    "Import Observed Antibody Space data units (.csv, optionally gzip), unpaired or paired: line 1 the unit's "
    "metadata, line 2 the header. Each row is an antibody named <unit>:<line>; its ANARCI_numbering becomes "
    "the IMGT variable domain (regions recomputed from the positions by abdb's IMGT borders), so nothing needs "
    "annotating; the unit's metadata goes to the run and to each antibody, its Species to a feature.\n\n"
    "Example: abdb import oas SRR11528761_1_Paired_All.csv.gz --productive-only --min-redundancy 2"
)
CSV_HELP = (
    "Import tables of one antibody per row (.csv, or .tsv; optionally gzip): --preset thera-sabdab "
    "(Therapeutic, Heavy Sequence, Light Sequence, and the bispecifics' second pair) or --preset plabdab (ID, "
    "heavy_sequence, light_sequence), or name the columns with --name-col and --heavy-col [--light-col "
    "--heavy2-col --light2-col]. Columns match by name or by the start of the name (any case): release dates "
    "in headers do not matter. na/none/empty are missing (a VHH has no light chain). Other columns go to "
    "metadata; chains are queued for annotation.\n\n"
    "Example: abdb import csv TheraSAbDab_SeqStruc_OnlineDownload.csv --preset thera-sabdab --annotate"
)
PRODUCTIVE_ONLY = Annotated[
    bool, typer.Option("--productive-only", help="Only rows whose productive is T (others counted as filtered).")
]


@importer(InputFormat.AIRR, AIRR_HELP)
def airr(productive_only: PRODUCTIVE_ONLY = False) -> dict[str, Any]:
    return {"productive_only": productive_only}


@importer(InputFormat.OAS, OAS_HELP)
def oas(
    productive_only: PRODUCTIVE_ONLY = False,
    species: Annotated[
        str | None, typer.Option("--species", help="Only units of this Species (human, mouse, …; any case).")
    ] = None,
    min_redundancy: Annotated[
        int | None, typer.Option("--min-redundancy", min=1, help="Only rows whose Redundancy is at least this.")
    ] = None,
) -> dict[str, Any]:
    return {"productive_only": productive_only, "species": species, "min_redundancy": min_redundancy}


@importer(InputFormat.CSV, CSV_HELP)
def csv_table(
    preset: Annotated[
        str | None, typer.Option("--preset", help=f"Columns of a known table: {', '.join(PRESETS)}.")
    ] = None,
    name_col: Annotated[str | None, typer.Option("--name-col", help="The column of antibody names.")] = None,
    heavy_col: Annotated[str | None, typer.Option("--heavy-col", help="The heavy chain's column.")] = None,
    light_col: Annotated[str | None, typer.Option("--light-col", help="The light chain's column.")] = None,
    heavy2_col: Annotated[str | None, typer.Option("--heavy2-col", help="A second heavy chain's column.")] = None,
    light2_col: Annotated[str | None, typer.Option("--light2-col", help="A second light chain's column.")] = None,
) -> dict[str, Any]:
    return {"columns": table_columns(preset, name_col, heavy_col, light_col, heavy2_col, light2_col)}


@importer(InputFormat.JSON, JSON_HELP, checks_records=False)
def abdb_json() -> dict[str, Any]:
    return {}


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
