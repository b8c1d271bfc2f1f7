"""CDR searches on ``cdr_search`` (abdb.db.models.search): one narrow row per CDR, holding what a search
filters and ranks by. Candidates come from its trigram index (substrings, the pieces of an edit search) or
its residue-pair index (motifs) — or, for dense substrings and motifs, from a walk in name order
(abdb.repositories.cdr_walk); the distance is checked exactly on them; the first ``limit`` by distance,
antibody and chain name are ranked without visiting the tree, which is joined for those only (chain type,
V and J genes). Filters on the chain (type, locus, genes, species) join it for every candidate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.db.search_rows import rewrite_search_rows
from abdb.domain.residue_pairs import selective_keys
from abdb.domain.search import (
    RegionHit,
    RegionSearch,
    SearchKind,
    motif_like,
    pigeonhole_pieces,
)
from abdb.domain.selection import like_pattern
from abdb.repositories.cdr_walk import WHOLE_TABLE, walked

CHAIN = "JOIN antibody_chains c ON c.antibody_sequence_id = x.antibody_sequence_id AND c.id = x.chain_id"
GENE = (
    "(SELECT f.value FROM sequence_features f WHERE f.sequence_id = c.antibody_sequence_id AND f.chain_id = c.id "
    "AND f.name = '{}' ORDER BY f.id LIMIT 1)"
)
HAMMING = (
    "(SELECT count(*) FROM generate_series(1, char_length(x.sequence)) AS i "
    "WHERE substr(x.sequence, i, 1) <> substr(:q, i, 1))"
)


def searched(search: RegionSearch) -> dict[str, Any]:
    """The parameters every search statement shares: the query, the limit, the scheme and the region."""
    return {"q": search.query, "limit": search.limit, "scheme": search.scheme, "region": search.region.value}


def asked_of_residues(search: RegionSearch, params: dict[str, Any], column: str) -> list[str]:
    """Clauses over ``column`` for the length asked for (``--length``) and, for substring searches, the
    substring."""
    clauses = []
    if search.length is not None:
        clauses.append(f"char_length({column}) BETWEEN :low AND :high")
        params["low"], params["high"] = search.length
    if search.kind is SearchKind.SUBSTRING:
        clauses.append(f"{column} LIKE :like ESCAPE '\\'")
        params["like"] = f"%{like_pattern(search.query)}%"
    return clauses


def within(search: RegionSearch, params: dict[str, Any], column: str, indexed: bool) -> list[str]:
    """Clauses for "within max_distance edits" (or substitutions) of ``column``: with a trigram index
    (``indexed``), candidates holding one of K + 1 pieces of the query (abdb.domain.search says why no match
    is lost; a query too short to cut takes the length window alone); always the length window; then the
    exact distance."""
    k = search.max_distance
    params["k"], params["length"] = k, len(search.query)
    if search.kind is SearchKind.SUBSTITUTIONS:
        clauses = [f"char_length({column}) = :length"]
    else:
        clauses = [f"char_length({column}) BETWEEN :length - :k AND :length + :k"]
    pieces = pigeonhole_pieces(search.query, k) if indexed else None
    if pieces is not None:
        for index, piece in enumerate(pieces):
            params[f"piece{index}"] = f"%{piece}%"
        clauses.insert(0, "(" + " OR ".join(f"{column} LIKE :piece{index}" for index in range(len(pieces))) + ")")
    clauses.append(f"levenshtein_less_equal({column}, :q, :k) <= :k")
    return clauses


def motif_residues(regex: str, params: dict[str, Any], column: str) -> list[str]:
    """Clauses over ``column`` for the motif ``regex``: its LIKE pattern, and the regex when the pattern
    lets through more (abdb.domain.search.motif_like)."""
    params["motif_like"], exact = motif_like(regex)
    clauses = [f"{column} LIKE :motif_like"]
    if not exact:
        clauses.append(f"{column} ~ :regex")
        params["regex"] = regex
    return clauses


def walk_plan(search: RegionSearch, regex: str | None, walk: int = WHOLE_TABLE) -> Callable[[Session], list[RegionHit]]:
    """The walk in name order (abdb.repositories.cdr_walk) of a substring or motif search without chain
    filters, over at most ``walk`` entries: the first ``search.limit`` matches among them."""
    params = {**searched(search), "walk": walk}
    residues = asked_of_residues(search, params, "x.sequence")
    if search.kind is SearchKind.MOTIF and regex is not None:
        residues += motif_residues(regex, params, "x.sequence")
    return lambda session: _ranked_hits(session, walked(residues), params)


def walked_matches(session: Session, search: RegionSearch, regex: str | None, walk: int) -> list[RegionHit] | None:
    """The first ``search.limit`` CDRs of a substring or motif search without chain filters, found by walking
    at most ``walk`` entries in name order; None when the walk ends before finding them."""
    hits = walk_plan(search, regex, walk)(session)
    return hits if len(hits) == search.limit else None


def cdr_matches(
    session: Session,
    search: RegionSearch,
    chain_filters: list[str],
    params: dict[str, Any],
    regex: str | None = None,
    pairs: list[int] | None = None,
) -> list[RegionHit]:
    """The first ``search.limit`` CDRs matching ``search`` (substring, motif — ``regex`` and its residue
    ``pairs`` — or within K edits or substitutions), by distance, antibody name, chain name; ``chain_filters``
    are clauses over the chain ``c`` (their values already in ``params``)."""
    params.update(searched(search))
    # `|| ''`: region and scheme are checked on the candidates, never asked of ix_cdr_search_by_name, which
    # the planner would otherwise AND with the trigram bitmap (all 2,000,000 CDR3 entries of a million
    # antibodies read into a bitmap: 280 ms of a 320 ms substitution search, measured)
    where = ["x.region_type || '' = :region", "x.numbering_scheme || '' = :scheme", *chain_filters]
    where += asked_of_residues(search, params, "x.sequence")
    distance = "0"
    if search.kind is SearchKind.MOTIF and regex is not None:
        where.append("x.residue_pairs @> CAST(:pairs AS smallint[])")
        where += motif_residues(regex, params, "x.sequence")
        params["pairs"] = selective_keys(pairs, key_frequencies(session, pairs)) if pairs else pairs
    elif search.kind is not SearchKind.SUBSTRING:  # edits or substitutions
        where += within(search, params, "x.sequence", indexed=True)
        distance = "levenshtein_less_equal(x.sequence, :q, :k)"
    joined = CHAIN if chain_filters else ""
    candidates = (
        "SELECT x.antibody_sequence_id, x.chain_id, x.region_id, x.antibody_name, x.chain_name, x.numbering_scheme, "
        f"x.sequence, {distance} AS distance FROM cdr_search x {joined} WHERE {' AND '.join(where)}"
    )
    if search.kind is SearchKind.SUBSTITUTIONS:  # Hamming only for what is within K edits (it costs more)
        candidates = (
            f"SELECT * FROM (SELECT x.antibody_sequence_id, x.chain_id, x.region_id, x.antibody_name, x.chain_name, "
            f"x.numbering_scheme, x.sequence, {HAMMING} AS distance FROM ({candidates}) AS x) AS x "
            "WHERE distance <= :k"
        )
    # OFFSET 0 keeps the candidates from the trigram or pair index: the planner would otherwise walk the name
    # order (ix_cdr_search_by_name) to its end whenever it misjudges a LIKE as common (measured: 430 ms
    # instead of 25 for a substring with 4,800 matches late in name order); cdr_walk decides when to walk
    ranked = (
        f"SELECT * FROM ({candidates} OFFSET 0) AS x "
        "ORDER BY distance, antibody_name, chain_name, region_id LIMIT :limit"
    )
    return _ranked_hits(session, ranked, params)


def key_frequencies(session: Session, keys: list[int]) -> dict[int, float]:
    """The share of ``cdr_search``'s rows holding each of these residue-pair keys, as far as the planner's
    statistics list it (its most common elements: a key left out is rarer than those listed); empty before
    the table is analysed, or on a Citus coordinator."""
    rows = session.execute(
        text(
            "SELECT e.key, e.share FROM pg_stats s, "
            "unnest(CAST(CAST(s.most_common_elems AS text) AS smallint[]), s.most_common_elem_freqs) AS e(key, share) "
            "WHERE s.schemaname = (SELECT n.nspname FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE t.oid = 'cdr_search'::regclass) AND s.tablename = 'cdr_search' AND s.attname = 'residue_pairs' "
            "AND e.key = ANY(:keys)"
        ),
        {"keys": keys},
    )
    return {int(key): float(share) for key, share in rows}


def _ranked_hits(session: Session, ranked: str, params: dict[str, Any]) -> list[RegionHit]:
    """The hits of ``ranked`` (ranked matches: antibody key, chain id, region id, names, scheme, residues,
    distance), with their chain's type and V and J genes, joined for those only."""
    rows = session.execute(
        text(
            f"WITH ranked AS MATERIALIZED ({ranked}) "
            "SELECT x.antibody_sequence_id, x.antibody_name, x.chain_name, c.chain_type, x.numbering_scheme, "
            f"CAST(:region AS text), x.sequence, x.distance, {GENE.format('V gene')}, {GENE.format('J gene')} "
            f"FROM ranked x {CHAIN} ORDER BY x.distance, x.antibody_name, x.chain_name, x.region_id"
        ),
        params,
    )
    return [RegionHit(*row) for row in rows]


class SearchRowQueries:
    """Writing ``cdr_search`` again from the tree (`abdb search rebuild`), a page of antibodies at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def antibodies_after(self, after: uuid.UUID | None, count: int) -> list[uuid.UUID]:
        """The next ``count`` antibody ids in id order (keyset pages: each one statement by the key)."""
        rows = self.session.execute(
            text(
                "SELECT id FROM antibody_sequences WHERE CAST(:after AS uuid) IS NULL OR id > :after "
                "ORDER BY id LIMIT :count"
            ),
            {"after": after, "count": count},
        )
        return list(rows.scalars())

    def total_antibodies(self) -> int:
        return int(self.session.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one())

    def rewrite(self, antibodies: list[uuid.UUID]) -> tuple[int, int]:
        """(rows removed, rows written) for these antibodies' CDRs, from the tree."""
        return rewrite_search_rows(self.session.connection(), antibodies)
