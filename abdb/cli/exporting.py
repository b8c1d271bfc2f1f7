"""``abdb export fasta|airr|json``, ``abdb list`` and ``abdb show``: data comes back out."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gzip
import inspect
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar, cast

import typer
from rich.progress import MofNCompleteColumn
from rich.table import Table

from abdb.cli.context import database_of, stderr, stdout
from abdb.cli.progress import progress_bar
from abdb.domain.selection import Selection
from abdb.domain.vocabulary import ChainType, Locus
from abdb.errors import ConfigurationError, OutputError
from abdb.services.exporting import (
    ExportReport,
    FastaOptions,
    export_airr,
    export_fasta,
    export_json,
    list_antibodies,
    show_antibody,
)

app = typer.Typer(
    help="Export antibodies: FASTA, AIRR TSV, or abdb JSON Lines (everything, re-importable).", no_args_is_help=True
)

NAME = Annotated[str | None, typer.Option("--name", help="Antibody names matching this glob (* and ?).")]
IMPORT_RUN = Annotated[str | None, typer.Option("--import-run", help="Antibodies stored by this import run (id).")]
CHAIN_TYPE = Annotated[ChainType | None, typer.Option("--chain-type", help="Antibodies with a chain of this type.")]
LOCUS = Annotated[Locus | None, typer.Option("--locus", help="Antibodies with a chain of this locus.")]
SPECIES = Annotated[str | None, typer.Option("--species", help="Antibodies numbered as this species (human, mouse…).")]
V_GENE = Annotated[
    str | None, typer.Option("--v-gene", help="Antibodies with a V gene or allele starting so (IGHV3, IGHV3-23*01).")
]
ANNOTATED = Annotated[
    bool | None,
    typer.Option(
        "--annotated/--unannotated", help="Only antibodies with (or without) a variable domain.", show_default=False
    ),
]
PUBLIC = Annotated[
    bool | None, typer.Option("--public/--private", help="Only public (or private) antibodies.", show_default=False)
]
SINCE = Annotated[
    dt.datetime | None,
    typer.Option("--since", help="Only antibodies stored at or after this date (YYYY-MM-DD[THH:MM])."),
]


def _selection(
    name: str | None,
    import_run: str | None,
    chain_type: ChainType | None,
    locus: Locus | None,
    species: str | None,
    v_gene: str | None,
    annotated: bool | None,
    public: bool | None,
    since: dt.datetime | None,
) -> Selection:
    try:
        run = uuid.UUID(import_run) if import_run else None
    except ValueError:
        raise ConfigurationError(f"--import-run {import_run}: not an import run id (see `abdb import runs`)") from None
    if since is not None and since.tzinfo is None:
        since = since.astimezone()  # the user's local time
    return Selection(name, run, chain_type, locus, species, v_gene, annotated, public, since)


_FILTERS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
    for name, annotation in (
        ("name", NAME),
        ("import_run", IMPORT_RUN),
        ("chain_type", CHAIN_TYPE),
        ("locus", LOCUS),
        ("species", SPECIES),
        ("v_gene", V_GENE),
        ("annotated", ANNOTATED),
        ("public", PUBLIC),
        ("since", SINCE),
    )
]
Command = TypeVar("Command", bound=Callable[..., None])


def with_filters(command: Command) -> Command:
    """The filters every reading command shares, as options of its own, handed to it as one ``selection``."""
    signature = inspect.signature(command, eval_str=True)  # typer reads a given __signature__ as it is
    own = [parameter for parameter in signature.parameters.values() if parameter.name != "selection"]

    @functools.wraps(command)
    def wrapper(*args: Any, **options: Any) -> None:
        selection = _selection(*(options.pop(parameter.name) for parameter in _FILTERS))
        command(*args, selection=selection, **options)

    wrapper.__signature__ = signature.replace(parameters=[*own, *_FILTERS])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in command.__annotations__.items() if k != "selection"},
        **{parameter.name: parameter.annotation for parameter in _FILTERS},
    }
    return cast(Command, wrapper)


@contextlib.contextmanager
def _output(path: Path | None, compress: bool) -> Iterator[TextIO]:
    """stdout for ``-`` or nothing; a file is written under a temporary name and renamed when complete, so an
    interrupted or failed export never leaves a file that looks whole."""
    if path is None or str(path) == "-":
        if compress:
            raise ConfigurationError("--gzip needs -o FILE")
        yield sys.stdout
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        handle: TextIO = (
            gzip.open(partial, "wt", encoding="utf-8") if compress else partial.open("w", encoding="utf-8")  # noqa: SIM115
        )
    except OSError as error:
        raise ConfigurationError(f"-o {path}: {error.strerror}") from None
    try:
        with handle:
            yield handle
        partial.replace(path)
    except OSError as error:
        raise OutputError(f"could not write -o {path}: {error.strerror or error}; nothing was written") from None
    finally:
        partial.unlink(missing_ok=True)


@app.command("fasta")
@with_filters
def fasta(
    ctx: typer.Context,
    selection: Selection,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (- or none: stdout).")
    ] = None,
    what: Annotated[
        str,
        typer.Option("--what", help="chains (whole chains), vdomains (variable domains) or a region: CDR3, FR1, …"),
    ] = "chains",
    scheme: Annotated[str, typer.Option("--scheme", help="Numbering scheme of domains and regions.")] = "imgt",
    compress: Annotated[bool, typer.Option("--gzip", help="gzip the file given with -o.")] = False,
) -> None:
    """Export antibodies as FASTA, streaming, from one consistent snapshot.

    Chains come as >NAME|heavy / >NAME|light (the chain's own label when it has one), which `abdb import
    fasta` reads back into the same antibodies ("N unchanged"); --what vdomains or --what CDR3 writes one
    record per variable domain or region of --scheme, with scheme, positions and region in the header.
    Exit 0 (also for an empty selection: "0 antibodies" on stderr).

    Example: abdb export fasta --v-gene IGHV3 --what CDR3 -o cdr3.fasta
    """
    options = FastaOptions(what, scheme)
    _stream(output, compress, lambda write, advance: export_fasta(database_of(ctx), selection, options, write, advance))


def _stream(
    output: Path | None,
    compress: bool,
    export: Callable[[Callable[[str], object], Callable[[int, int], None]], ExportReport],
) -> None:
    """Run ``export(write, advance)`` into stdout or a file, with progress for a file on a terminal; a closed
    pipe (`| head`) ends it quietly."""
    to_file = output is not None and str(output) != "-"
    try:
        with _output(output, compress) as handle, progress_bar("exporting", MofNCompleteColumn(), to_file) as bar:
            task = bar.add_task("export", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = export(handle.write, advance)
            handle.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    renamed = f"; {report.renamed} name(s) with white space written with _" if report.renamed else ""
    where = f" to {output}" if to_file else ""
    stderr.print(f"{report.antibodies} antibodies, {report.records} records{where}{renamed}", markup=False)


@app.command("airr")
@with_filters
def airr(
    ctx: typer.Context,
    selection: Selection,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (- or none: stdout).")
    ] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="Numbering scheme of the regions.")] = "imgt",
    compress: Annotated[bool, typer.Option("--gzip", help="gzip the file given with -o.")] = False,
) -> None:
    """Export antibodies as AIRR Rearrangement TSV (schema 2.0): a row per chain (per variable domain for
    scFv), cell_id = the antibody, locus, sequence_aa, v_call/j_call, cdr1_aa…fwr4_aa of --scheme and the IMGT
    junction_aa. Nucleotide fields and *_start/_end (nucleotide positions) are empty; abdb's amino-acid
    positions are in abdb_*_aa_start/_end columns.

    Example: abdb export airr --annotated -o repertoire.tsv
    """
    _stream(output, compress, lambda write, advance: export_airr(database_of(ctx), selection, scheme, write, advance))


@app.command("json")
@with_filters
def json_command(
    ctx: typer.Context,
    selection: Selection,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (- or none: stdout).")
    ] = None,
    compress: Annotated[bool, typer.Option("--gzip", help="gzip the file given with -o.")] = False,
    jobs: Annotated[
        int,
        typer.Option("--jobs", min=1, help="Database connections building the lines at once, sharing one snapshot."),
    ] = 2,
) -> None:
    """Export antibodies as abdb JSON Lines ("format": "abdb/1", docs/exporting.md): one antibody per line
    with everything stored of it — chains, domains of every scheme (constant and linker too), regions,
    numbering, features with source and confidence, provenance, jobs and their tool results. `abdb import
    json` reads it back into another database (or reports it unchanged in this one).

    Example: abdb export json --gzip -o antibodies.jsonl.gz
    """
    _stream(output, compress, lambda write, advance: export_json(database_of(ctx), selection, write, advance, jobs))


@with_filters
def list_command(
    ctx: typer.Context,
    selection: Selection,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many antibodies.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List antibodies (oldest first): name, id, chains with type and locus, schemes they are numbered in.

    Example: abdb list --name 'ada*' --annotated
    """
    found = list_antibodies(database_of(ctx), selection, limit)
    if as_json:
        rows = [
            {
                "id": str(a.id),
                "name": a.name,
                "created_at": a.created_at.isoformat(),
                "public": a.is_public,
                "chains": a.chains,
                "schemes": a.schemes,
            }
            for a in found
        ]
        stdout.print_json(json.dumps(rows))
        return
    table = Table(box=None)
    table.add_column("name", overflow="fold")
    table.add_column("id", no_wrap=True, min_width=36)  # whole, to copy into `abdb show` or SQL
    table.add_column("chains", overflow="fold")
    table.add_column("numbered")
    for antibody in found:
        table.add_row(antibody.name, str(antibody.id), "; ".join(antibody.chains), ", ".join(antibody.schemes) or "-")
    stdout.print(table)
    stderr.print(f"{len(found)} antibodies" + (f" (--limit {limit})" if len(found) == limit else ""), markup=False)


def show_command(
    ctx: typer.Context,
    wanted: Annotated[str, typer.Argument(help="The antibody's name or id.", show_default=False)],
    scheme: Annotated[str | None, typer.Option("--scheme", help="Only domains of this scheme.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Show one antibody's tree: chains, domains of each scheme with their regions, features. Exit 7 when no
    antibody has that name or id (names are not unique: every antibody of the name is shown).

    Example: abdb show adalimumab --scheme imgt
    """
    antibodies = show_antibody(database_of(ctx), wanted, scheme)
    if as_json:
        from dataclasses import asdict

        stdout.print_json(json.dumps([asdict(a) for a in antibodies], default=str))
        return
    for antibody in antibodies:
        stdout.print(f"{antibody.name}  {antibody.id}  ({'public' if antibody.is_public else 'private'})", markup=False)
        for chain in antibody.chains:
            locus = f", {chain.locus}" if chain.locus else ""
            stdout.print(
                f"  chain {chain.name} ({chain.chain_type}{locus}), {len(chain.sequence)} residues", markup=False
            )
            for domain in chain.domains:
                stdout.print(f"    {domain.scheme} {domain.domain_type} {domain.start}-{domain.end}", markup=False)
                for region in domain.regions:
                    stdout.print(
                        f"      {region.region_type:<4} {region.start:>4}-{region.end:<4} {region.sequence}",
                        markup=False,
                    )
            for feature in (f for f in antibody.features if f.chain_id == chain.id):
                stdout.print(f"    {feature.name}: {feature.value} ({feature.source})", markup=False)
