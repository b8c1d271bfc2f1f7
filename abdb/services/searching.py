"""`abdb search` and `abdb stats`: finding antibodies by their residues, and counting what is stored.

Searches are exact where they say so: ``--max-edits K`` and ``--max-substitutions K`` return every region
within K (the index narrows candidates under a bound that cannot lose one, ``abdb.domain.search``; the
distance is then computed exactly), which the tests check against brute force.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from abdb.config import Settings
from abdb.database import Database, using
from abdb.domain.search import (
    MAX_EDITS,
    MAX_LEVENSHTEIN,
    RegionHit,
    RegionSearch,
    SearchError,
    SearchKind,
    clean_query,
    motif_regex,
)
from abdb.domain.selection import Selection
from abdb.errors import ConfigurationError
from abdb.repositories.exports import where_of
from abdb.repositories.statistics import StatisticsQueries

SCHEMES = ("IMGT", "KABAT", "CHOTHIA")


def _checked(search: RegionSearch) -> tuple[RegionSearch, str | None]:
    scheme = search.scheme.upper()
    if scheme not in SCHEMES:
        raise ConfigurationError(f"--scheme {search.scheme}: choose from {', '.join(s.lower() for s in SCHEMES)}")
    if search.limit < 1:
        raise ConfigurationError("--limit must be at least 1")
    try:
        if search.kind is SearchKind.MOTIF:
            return dataclasses.replace(search, scheme=scheme), motif_regex(search.query)
        query = clean_query(search.query)
    except SearchError as error:
        raise ConfigurationError(str(error)) from None
    if search.kind in (SearchKind.EDITS, SearchKind.SUBSTITUTIONS):
        if not 0 <= search.max_distance <= MAX_EDITS:
            raise ConfigurationError(f"--max-edits/--max-substitutions must be from 0 to {MAX_EDITS}")
        if len(query) > MAX_LEVENSHTEIN:
            raise ConfigurationError(f"the query is {len(query)} residues; edit distances work up to {MAX_LEVENSHTEIN}")
    return dataclasses.replace(search, query=query, scheme=scheme), None


def search_regions(target: Database | Settings, search: RegionSearch) -> list[RegionHit]:
    """The regions that match, closest first then by antibody name: at most ``search.limit``.

    Edit and substitution searches go up one distance at a time (exact, then within 1, ...) and stop at the
    first that fills the limit: results are sorted by distance first, so those are exactly the first
    ``limit`` within K, found without the wider (costlier) search when close matches are plentiful."""
    search, regex = _checked(search)
    with using(target) as database:
        database.require_head("`abdb search`")
        with database.unit_of_work() as uow:
            if search.kind not in (SearchKind.EDITS, SearchKind.SUBSTITUTIONS):
                return uow.search.regions(search, regex)
            hits: list[RegionHit] = []
            for distance in range(search.max_distance + 1):
                level = dataclasses.replace(search, max_distance=distance)
                hits = uow.search.regions(level if distance else dataclasses.replace(level, kind=SearchKind.EXACT))
                if len(hits) >= search.limit:
                    break
            return hits


@dataclass(frozen=True)
class SequenceHit:
    hit: RegionHit
    identity: float  # 1 - edits / the longer length


def search_sequences(target: Database | Settings, search: RegionSearch, min_identity: float) -> list[SequenceHit]:
    """Variable domains at least ``min_identity`` identical to the query (1 - Levenshtein edits ÷ the longer
    length), most identical first. Exact: every such domain is found (candidates by length window)."""
    if not 0 < min_identity <= 1:
        raise ConfigurationError("--min-identity must be above 0 and at most 1")
    search, _ = _checked(dataclasses.replace(search, kind=SearchKind.EDITS))
    # identity >= m with d edits and lengths a, b: d <= (1 - m) * max(a, b) <= (1 - m) * (a + d), so
    # d <= (1 - m) * a / m: the most edits worth looking for
    max_edits = min(math.floor((1 - min_identity) * len(search.query) / min_identity + 1e-9), MAX_LEVENSHTEIN)
    with using(target) as database:
        database.require_head("`abdb search`")
        with database.unit_of_work() as uow:
            rows = uow.search.domains(search, max_edits)
    found = []
    for antibody_id, name, chain, chain_type, scheme, residues, distance, v_gene, j_gene in rows:
        identity = 1 - distance / max(len(residues), len(search.query))
        if identity >= min_identity - 1e-12:
            hit = RegionHit(
                antibody_id, name, chain, chain_type, scheme, "VARIABLE", residues, distance, v_gene, j_gene
            )
            found.append(SequenceHit(hit, identity))
    found.sort(key=lambda s: (-s.identity, s.hit.antibody_name, s.hit.chain_name))
    return found[: search.limit]


@dataclass
class Statistics:
    antibodies: int
    antibodies_estimated: bool  # from the planner's statistics (past a million rows, unfiltered)
    chains: list[tuple[str, str | None, int]] = field(default_factory=list)  # type, locus, count
    coverage: list[tuple[str, int]] = field(default_factory=list)  # scheme, antibodies numbered in it
    species: list[tuple[str, int]] = field(default_factory=list)
    v_genes: list[tuple[str, int]] = field(default_factory=list)
    j_genes: list[tuple[str, int]] = field(default_factory=list)
    cdr3_lengths: list[tuple[str, int, int]] = field(default_factory=list)  # chain type, length, count (IMGT)
    import_runs: list[tuple[str, int, int]] = field(default_factory=list)  # status, runs, inserted
    cdr3_lengths_sampled: float | None = None  # the percent of antibodies the lengths were counted on, scaled up


ESTIMATE_PAST = 1_000_000
SAMPLE_LENGTHS_PAST = 500_000
LENGTH_SAMPLE = 20_000  # antibodies whose CDR3s are counted when the histogram is estimated (~40,000 CDR3s)
FEWEST_SAMPLED = 5_000


def _cdr3_lengths(
    queries: StatisticsQueries, everything: int | None, where: str, params: dict[str, Any]
) -> tuple[list[tuple[str, int, int]], float | None]:
    """The IMGT CDR3 length histogram, and the percent of antibodies it was counted on (None: all of them).
    ``everything``: the number of antibodies when none is filtered out. A sample that kept too few antibodies
    (the planner's count was stale: most were deleted since) gives way to the exact count."""
    if everything is not None and everything >= SAMPLE_LENGTHS_PAST:
        percent = min(100.0, 100 * LENGTH_SAMPLE / everything)
        lengths, kept = queries.region_lengths_sampled("CDR3", "IMGT", percent)
        if kept >= FEWEST_SAMPLED:
            scale = everything / kept
            return [(chain_type, length, round(count * scale)) for chain_type, length, count in lengths], percent
    return queries.region_lengths("CDR3", "IMGT", where, params), None


def statistics(target: Database | Settings, selection: Selection, top: int = 10) -> Statistics:
    """Counts of the selected antibodies. When nothing is filtered, the total comes from the planner's
    statistics when they say a million antibodies or more, and past half a million the CDR3 length histogram
    is counted on a random sample of about LENGTH_SAMPLE antibodies and scaled up to the total (exact, it
    joined every CDR3 to its domain and chain: 2.3-2.6 s of `abdb stats`' 4-5 s at a million). Every other
    number is an exact aggregate."""
    where, params = where_of(selection)
    with using(target) as database:
        database.require_head("`abdb stats`")
        with database.unit_of_work() as uow:
            uow.exports.begin_snapshot()
            queries = uow.statistics
            estimate = queries.estimated_rows("antibody_sequences")
            everything = selection == Selection()
            if everything and estimate >= ESTIMATE_PAST:
                total, estimated = estimate, True
            else:
                total, estimated = queries.antibodies(where, params), False
            lengths, sampled = _cdr3_lengths(queries, total if everything else None, where, params)
            return Statistics(
                total,
                estimated,
                queries.chains(where, params),
                queries.coverage(where, params),
                queries.feature_values("species", where, params, top),
                queries.feature_values("V gene", where, params, top),
                queries.feature_values("J gene", where, params, top),
                lengths,
                queries.import_runs(),
                sampled,
            )


@dataclass(frozen=True)
class RebuildReport:
    antibodies: int
    removed: int  # search rows there were
    written: int  # search rows there are


REBUILD_PAGE = 2000  # antibodies per transaction


def rebuild_search_rows(
    target: Database | Settings, progress: Callable[[int, int], None] | None = None
) -> RebuildReport:
    """Write every antibody's search rows (``cdr_search``) again from the tree — what `abdb verify`'s
    search.rows or search.pairs asks for after regions were changed by plain SQL. A page of antibodies per
    transaction; searches keep working meanwhile (a page's rows change at its commit). ``progress`` hears
    (antibodies done, of how many)."""
    antibodies = removed = written = 0
    with using(target) as database:
        database.require_head("`abdb search rebuild`")
        with database.unit_of_work() as uow:
            total = uow.search_rows.total_antibodies()
        after = None
        while True:
            with database.unit_of_work() as uow:
                page = uow.search_rows.antibodies_after(after, REBUILD_PAGE)
                if not page:
                    break
                gone, made = uow.search_rows.rewrite(page)
                uow.commit()
            antibodies, removed, written, after = antibodies + len(page), removed + gone, written + made, page[-1]
            if progress is not None:
                progress(antibodies, max(total, antibodies))
    return RebuildReport(antibodies, removed, written)
