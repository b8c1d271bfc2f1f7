"""``abdb search cdr3|sequence`` and ``abdb stats``: finding antibodies by their residues, counting them."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import DownloadColumn, MofNCompleteColumn
from rich.table import Table

from abdb.cli.context import database_of, stderr, stdout
from abdb.cli.exporting import with_filters
from abdb.cli.progress import progress_bar
from abdb.domain.search import RegionHit, RegionSearch, SearchKind
from abdb.domain.selection import Selection
from abdb.domain.vocabulary import ChainType, Locus, RegionType
from abdb.errors import ConfigurationError
from abdb.services.searching import Statistics, rebuild_search_rows, search_regions, search_sequences, statistics
from abdb.services.warming import OS_CACHE, SHARED_BUFFERS, warm_search

app = typer.Typer(help="Find antibodies by a CDR (exact, substring, motif, within K edits) or a variable domain.")


class Chain(StrEnum):
    HEAVY = "heavy"
    LIGHT = "light"
    ANY = "any"


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    TSV = "tsv"
    FASTA = "fasta"


SCHEME = Annotated[str, typer.Option("--scheme", help="Numbering scheme of the regions.")]
CHAIN = Annotated[Chain, typer.Option("--chain", help="Only heavy or light chains.")]
V_GENE = Annotated[str | None, typer.Option("--v-gene", help="V gene or allele starting so (IGHV3, IGHV3-23*01).")]
J_GENE = Annotated[str | None, typer.Option("--j-gene", help="J gene or allele starting so (IGHJ4).")]
LOCUS = Annotated[Locus | None, typer.Option("--locus", help="Only chains of this locus.")]
SPECIES = Annotated[str | None, typer.Option("--species", help="Only antibodies numbered as this species.")]
LIMIT = Annotated[int, typer.Option("--limit", min=1, help="At most this many results.")]
FORMAT = Annotated[Format, typer.Option("--format", help="table, json (for scripts), tsv or fasta (for other tools).")]


def _length(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, _, high = text.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise ConfigurationError(f"--length {text}: write a length (15) or a range (12-18)") from None
    if bounds[0] < 1 or bounds[1] < bounds[0]:
        raise ConfigurationError(f"--length {text}: the range must go up from 1")
    return bounds


def _chain_type(chain: Chain) -> ChainType | None:
    return {Chain.HEAVY: ChainType.HEAVY, Chain.LIGHT: ChainType.LIGHT}.get(chain)


@app.command("cdr3")
def cdr3(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Residues (or, with --motif, a motif).", show_default=False)],
    region: Annotated[str, typer.Option("--region", help="CDR1, CDR2, CDR3 or FR1…FR4.")] = "CDR3",
    scheme: SCHEME = "imgt",
    chain: CHAIN = Chain.ANY,
    max_edits: Annotated[
        int | None, typer.Option("--max-edits", min=0, help="Within K substitutions, insertions or deletions.")
    ] = None,
    max_substitutions: Annotated[
        int | None, typer.Option("--max-substitutions", min=0, help="Within K substitutions, same length.")
    ] = None,
    substring: Annotated[bool, typer.Option("--substring", help="Regions that contain the query.")] = False,
    motif: Annotated[bool, typer.Option("--motif", help="The query is a motif: AR.{3}DY, [AG], X, ^, $.")] = False,
    v_gene: V_GENE = None,
    j_gene: J_GENE = None,
    locus: LOCUS = None,
    species: SPECIES = None,
    length: Annotated[str | None, typer.Option("--length", help="Region length, or a range A-B.")] = None,
    limit: LIMIT = 100,
    output_format: FORMAT = Format.TABLE,
) -> None:
    """Search CDR3s (or any region) exactly, by substring, by motif or within K edits; every match within K
    is found (exact, not approximate). Results: closest first, then by antibody name. Exit 0 with "0 found"
    when nothing matches.

    Example: abdb search cdr3 ARDRGYSSGWYFDY --max-edits 2 --chain heavy --v-gene IGHV3
    """
    chosen = [kind for kind, on in ((SearchKind.SUBSTRING, substring), (SearchKind.MOTIF, motif)) if on]
    chosen += [SearchKind.EDITS] if max_edits is not None else []
    chosen += [SearchKind.SUBSTITUTIONS] if max_substitutions is not None else []
    if len(chosen) > 1:
        raise ConfigurationError("choose one of --substring, --motif, --max-edits and --max-substitutions")
    try:
        region_type = RegionType(region.upper())
    except ValueError:
        raise ConfigurationError(f"--region {region}: choose CDR1, CDR2, CDR3, FR1, FR2, FR3 or FR4") from None
    search = RegionSearch(
        query,
        chosen[0] if chosen else SearchKind.EXACT,
        max_edits if max_edits is not None else max_substitutions or 0,
        region_type,
        scheme,
        _chain_type(chain),
        v_gene,
        j_gene,
        locus,
        species,
        _length(length),
        limit,
    )
    hits = search_regions(database_of(ctx), search)
    _render(hits, output_format, [])


@app.command("sequence")
def sequence(
    ctx: typer.Context,
    residues: Annotated[str, typer.Argument(help="A variable domain's residues.", show_default=False)],
    min_identity: Annotated[
        float, typer.Option("--min-identity", min=0.5, max=1.0, help="Least identity: 1 - edits / the longer length.")
    ] = 0.9,
    scheme: SCHEME = "imgt",
    chain: CHAIN = Chain.ANY,
    v_gene: V_GENE = None,
    j_gene: J_GENE = None,
    locus: LOCUS = None,
    species: SPECIES = None,
    limit: LIMIT = 100,
    output_format: FORMAT = Format.TABLE,
) -> None:
    """Search variable domains like this one: every domain at least --min-identity identical (Levenshtein),
    most identical first.

    Example: abdb search sequence EVQLVESGGGLVQPGGSLRLSCAAS… --min-identity 0.85 --chain heavy
    """
    search = RegionSearch(
        residues, scheme=scheme, chain_type=_chain_type(chain), v_gene=v_gene, j_gene=j_gene, locus=locus,
        species=species, limit=limit,
    )  # fmt: skip
    found = search_sequences(database_of(ctx), search, min_identity)
    _render([f.hit for f in found], output_format, [f.identity for f in found])


@app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Write every antibody's CDR search rows again from its chains, domains and regions.

    Imports, annotation and the Python API keep them in step by themselves.
    Run this when `abdb verify` reports search.rows or search.pairs (regions changed by plain SQL, say).
    Nothing of the antibodies changes; searches keep working, a page of antibodies at a time."""
    with progress_bar("rebuilding", MofNCompleteColumn(), True) as bar:
        task = bar.add_task("rebuild", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = rebuild_search_rows(database_of(ctx), advance)
    stderr.print(
        f"search rows of {report.antibodies:,} antibodies written again: {report.written:,} rows "
        f"({report.removed:,} before)"
    )


@app.command("warm")
def warm(ctx: typer.Context) -> None:
    """Read the search tables and their indexes into the server's memory.

    After a bulk import, an index build or a server restart, the first searches read their pages from disk and
    can take ten times longer than the same searches later (at a million antibodies: 100-500 ms instead of
    10-50 ms). This reads every page once, into shared buffers while they fit, else into the operating system's
    cache. Nothing changes in the data. Needs the pg_prewarm extension (created when this role may).

    The embedded and Docker servers also reload what was in memory after a restart (pg_prewarm's autoprewarm)."""
    with progress_bar("warming", DownloadColumn(), True) as bar:
        task = bar.add_task("warm", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = warm_search(database_of(ctx), advance)
    if report.note:
        stderr.print(report.note)
    stderr.print(
        f"read {report.total / 1e6:,.0f} MB in {report.seconds:.1f} s: {report.bytes_in(SHARED_BUFFERS) / 1e6:,.0f} MB "
        f"into the server's shared buffers ({report.shared_buffers / 1e6:,.0f} MB), "
        f"{report.bytes_in(OS_CACHE) / 1e6:,.0f} MB into the operating system's cache"
    )


def _render(hits: list[RegionHit], output_format: Format, identities: list[float]) -> None:
    if output_format is Format.JSON:
        rows = [{**asdict(hit), "antibody_id": str(hit.antibody_id)} for hit in hits]
        for row, identity in zip(rows, identities, strict=False):
            row["identity"] = round(identity, 4)
        stdout.print_json(json.dumps(rows))
    elif output_format is Format.FASTA:  # plain text for other tools: not through Rich, which wraps lines
        for hit in hits:
            sys.stdout.write(
                f">{hit.antibody_name}|{hit.chain_name} region={hit.region} scheme={hit.scheme} "
                f"distance={hit.distance}\n{hit.sequence}\n"
            )
    elif output_format is Format.TSV:  # plain text: Rich would turn tabs into spaces
        sys.stdout.write("antibody\tantibody_id\tchain\tscheme\tregion\tsequence\tdistance\tv_gene\tj_gene\n")
        for hit in hits:
            fields = [hit.antibody_name, str(hit.antibody_id), hit.chain_name, hit.scheme, hit.region, hit.sequence]
            fields += [str(hit.distance), hit.v_gene or "", hit.j_gene or ""]
            sys.stdout.write("\t".join(field.replace("\t", " ") for field in fields) + "\n")
        sys.stdout.flush()
    else:
        table = Table(box=None)
        for column in ("antibody", "chain", "region", "sequence", "distance", "V", "J"):
            table.add_column(column, overflow="fold")
        if identities:
            table.add_column("identity")
        for index, hit in enumerate(hits):
            cells = [hit.antibody_name, hit.chain_name, f"{hit.scheme} {hit.region}", hit.sequence, str(hit.distance)]
            cells += [hit.v_gene or "-", hit.j_gene or "-"]
            if identities:
                cells.append(f"{identities[index]:.1%}")
            table.add_row(*cells)
        stdout.print(table)
    stderr.print(f"{len(hits)} found", markup=False)


@with_filters
def stats_command(
    ctx: typer.Context,
    selection: Selection,
    as_json: Annotated[bool, typer.Option("--json", help="The same numbers as JSON on stdout.")] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="How many V and J genes and species to list.")] = 10,
) -> None:
    """What the database holds: antibodies, chains by type and locus, annotation coverage per scheme,
    species, top V and J genes, the IMGT CDR3 length distribution per chain type, import runs.

    Every number is exact, except two when nothing is filtered: the number of antibodies past a million
    (from the planner's statistics), and the CDR3 length histogram past half a million antibodies (counted
    on a random sample of about 20,000 and scaled up). Both say so.

    Example: abdb stats --species human
    """
    found = statistics(database_of(ctx), selection, top)
    if as_json:
        stdout.print_json(json.dumps(asdict(found)))
        return
    _render_statistics(found)


def _render_statistics(found: Statistics) -> None:
    approximate = " (estimated from the planner's statistics)" if found.antibodies_estimated else ""
    stdout.print(f"antibodies: {found.antibodies:,}{approximate}", markup=False)
    chains = Table("chain type", "locus", "chains", box=None, title="chains")
    for chain_type, locus, count in found.chains:
        chains.add_row(chain_type, locus or "-", f"{count:,}")
    stdout.print(chains)
    coverage = Table("scheme", "antibodies numbered", "share", box=None, title="annotation")
    for scheme, count in found.coverage:
        share = count / found.antibodies if found.antibodies else 0
        coverage.add_row(scheme, f"{count:,}", f"{share:.1%}")
    stdout.print(coverage)
    for title, values in (("species", found.species), ("V genes", found.v_genes), ("J genes", found.j_genes)):
        listed = Table("value", "antibodies", box=None, title=title)
        for value, count in values:
            listed.add_row(value, f"{count:,}")
        stdout.print(listed)
    for chain_type in sorted({row[0] for row in found.cdr3_lengths}):
        lengths = [(length, count) for kind, length, count in found.cdr3_lengths if kind == chain_type]
        widest = max(count for _, count in lengths)
        title = f"IMGT CDR3 lengths, {chain_type.lower()} chains"
        if found.cdr3_lengths_sampled is not None:
            title += f" (estimated: counted on a random {found.cdr3_lengths_sampled:.2g}% of the antibodies)"
        histogram = Table("length", "CDR3s", "", box=None, title=title)
        for length, count in lengths:
            histogram.add_row(str(length), f"{count:,}", "█" * max(1, round(40 * count / widest)))
        stdout.print(histogram)
    runs = ", ".join(f"{status} {count} ({inserted:,} inserted)" for status, count, inserted in found.import_runs)
    stdout.print(f"import runs: {runs or 'none'}", markup=False)
