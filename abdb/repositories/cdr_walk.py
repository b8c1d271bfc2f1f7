"""Dense CDR searches answered by walking ``cdr_search`` in the order of their results.

A motif or substring (distance 0: results ordered by antibody name, chain name, region) that matches tens of
thousands of CDRs costs the index path about 2 µs per match: the residue-pair or trigram index lists every
match, and each is visited in the table to be ranked (measured at a million antibodies: ``QQ.{3}WP``, 50,500
matches, 84 ms). The first ``limit`` matches in name order are then better found by walking the CDRs in that
order and stopping at the ``limit``-th: ``ix_cdr_search_by_name`` holds the residues and the antibody's key,
so the walk never visits the table (0.25-0.3 µs per entry, measured: 11 ms for that motif).

Which is cheaper depends on how many matches there are and where they fall in name order: matches can be
dense overall and rare at the start of the name order (a template's variants share a name prefix and their
CDRs). So a search first finds its matches in a sample of the table's pages (about 300; 3-6 ms), and walks
only when the walk the sample says it needs costs less than the index path. The walk is bounded by that
cost, and one that reaches its bound without ``limit`` matches gives way to the index path: a search costs
at most about twice the index path. Either way the result is the same: a walk that found ``limit`` matches
walked every CDR that sorts before the last of them (the order is total: the region's id ends it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

SAMPLE_PAGES = 300  # about 12,000 search rows: a density of 1 in 1,000 is seen ~4 times in a CDR3 sample
ENTRY_MICROSECONDS = 0.3  # walking one entry of ix_cdr_search_by_name, its page all-visible (0.27-0.33 measured)
HEAP_FETCH_MICROSECONDS = 1.0  # more, for an entry whose table page is not yet marked all-visible (measured)
MATCH_MICROSECONDS = 2.0  # the index path, per match: index entry, table visit, ranking (1.7-2.8 measured)


@dataclass(frozen=True)
class Sampled:
    """What a sample of ``cdr_search``'s pages says about a search."""

    rows: int  # rows of the region and scheme asked for, in the sample
    share: float  # the sample's share of the table (0-1]
    all_visible: float  # the share of the table's pages marked all-visible (an index-only walk needs them)
    reached: tuple[int, ...]  # for each sampled match in name order: sampled rows up to it, inclusive

    @property
    def matches(self) -> int:
        """The sampled rows matching the search."""
        return len(self.reached)


def walk_bound(sampled: Sampled, limit: int) -> int:
    """How many entries of ``ix_cdr_search_by_name`` to walk before giving way to the index path: as many
    as cost what the index path is expected to; 0 when the sample says a walk would need more.

    The walk needed is read from the sample in name order: the table's first ``limit`` matches hold about
    ``limit * share`` sampled ones, so they end near that sampled match's place among the sampled rows,
    scaled up by the share. When fewer than one sampled match is expected among them, the first sampled
    match is typically the (1 / share)-th of the table: the ``limit``-th comes that fraction of the way to
    it. Matches are not spread evenly in name order (variants of a template share a name prefix and their
    CDRs), so the walk is not expected from their density alone."""
    if sampled.matches == 0 or sampled.share <= 0:
        return 0
    expected_matches = sampled.matches / sampled.share
    if expected_matches < limit:  # a walk would go through the table; the index path lists them all
        return 0
    per_entry = ENTRY_MICROSECONDS + (1 - sampled.all_visible) * HEAP_FETCH_MICROSECONDS
    bound = int(expected_matches * MATCH_MICROSECONDS / per_entry)
    wanted = limit * sampled.share  # sampled matches expected among the table's first `limit`
    sampled_match = min(sampled.matches, max(1, math.ceil(wanted)))
    expected_walk = sampled.reached[sampled_match - 1] / sampled.share * min(1.0, wanted / sampled_match)
    return bound if expected_walk <= bound else 0


def sample(session: Session, residues: list[str], params: dict[str, Any]) -> Sampled | None:
    """Count the search's matches in about SAMPLE_PAGES pages of ``cdr_search`` (all of a small table),
    and where they fall in name order; ``residues``: clauses over ``x.sequence`` (their values in
    ``params``, with ``region`` and ``scheme``). None when the table's size cannot be known here (empty, or
    a Citus coordinator, whose table is a shell)."""
    pages, all_visible = session.execute(
        text(
            "SELECT pg_relation_size('cdr_search') / current_setting('block_size')::bigint, "
            "CASE WHEN relpages > 0 THEN least(relallvisible::float8 / relpages, 1) ELSE 0 END "
            "FROM pg_class WHERE oid = 'cdr_search'::regclass"
        )
    ).one()
    if not pages:
        return None
    percent = min(100.0, 100.0 * SAMPLE_PAGES / pages)
    rows, reached = session.execute(
        text(
            "SELECT count(*), coalesce(array_agg(reached ORDER BY reached) FILTER (WHERE hit), '{}') FROM ("
            f"SELECT {' AND '.join(residues)} AS hit, "
            "row_number() OVER (ORDER BY x.antibody_name, x.chain_name, x.region_id) AS reached "
            "FROM cdr_search x TABLESAMPLE SYSTEM (:percent) REPEATABLE (17) "
            "WHERE x.region_type = :region AND x.numbering_scheme = :scheme) AS sampled"
        ),
        {**params, "percent": percent},
    ).one()
    return Sampled(rows, percent / 100, all_visible, tuple(reached))


def walked(residues: list[str]) -> str:
    """The first ``:limit`` CDRs of ``:region`` and ``:scheme`` whose residues satisfy ``residues``, among
    the first ``:walk`` in name order; the columns of a ranked match (distance 0)."""
    return (
        "SELECT x.antibody_sequence_id, s.chain_id, x.region_id, x.antibody_name, x.chain_name, "
        "x.numbering_scheme, x.sequence, 0 AS distance FROM ("
        "SELECT x.antibody_sequence_id, x.region_id, x.antibody_name, x.chain_name, x.numbering_scheme, x.sequence "
        "FROM (SELECT x.antibody_sequence_id, x.region_id, x.antibody_name, x.chain_name, x.numbering_scheme, "
        "x.sequence FROM cdr_search x WHERE x.region_type = :region AND x.numbering_scheme = :scheme "
        "ORDER BY x.antibody_name, x.chain_name, x.region_id LIMIT :walk) AS x "
        f"WHERE {' AND '.join(residues)} ORDER BY x.antibody_name, x.chain_name, x.region_id LIMIT :limit) AS x "
        "JOIN cdr_search s ON s.antibody_sequence_id = x.antibody_sequence_id AND s.region_id = x.region_id"
    )
