"""Finding regions and variable domains by their residues: exact (btree), substring and motif (the CDR
trigram index), within K edits or substitutions (trigram candidates under an exact bound, or the length
window; the distance is always checked by fuzzystrmatch on what the index returns). Every value the user
gives is a bound parameter; only vocabulary codes (enums) are written into the statement, so that the
planner can use the partial CDR index."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.domain.search import RegionHit, RegionSearch, SearchKind, similarity_bound
from abdb.domain.selection import like_pattern
from abdb.domain.vocabulary import RegionType

TRIGRAM_REGIONS = frozenset({RegionType.CDR1, RegionType.CDR2, RegionType.CDR3})  # what the index covers
_GENE = (
    "(SELECT f.value FROM sequence_features f WHERE f.sequence_id = c.antibody_sequence_id AND f.chain_id = c.id "
    "AND f.name = '{}' ORDER BY f.id LIMIT 1)"
)


def _filters(search: RegionSearch, params: dict[str, Any]) -> list[str]:
    """The filters every search shares, over chains ``c`` (and the region ``r`` when there is one)."""
    clauses = []
    if search.chain_type is not None:
        clauses.append(f"c.chain_type = '{search.chain_type.value}'")
    if search.locus is not None:
        clauses.append(f"c.locus = '{search.locus.value}'")
    for segment, prefix in (("V", search.v_gene), ("J", search.j_gene)):
        if prefix is not None:
            key = f"{segment.lower()}_gene"
            clauses.append(
                "EXISTS (SELECT 1 FROM sequence_features f WHERE f.sequence_id = c.antibody_sequence_id "
                f"AND f.chain_id = c.id AND f.name IN ('{segment} gene', '{segment} allele') "
                f"AND f.value LIKE :{key} ESCAPE '\\')"
            )
            params[key] = like_pattern(prefix) + "%"
    if search.species is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM sequence_features f WHERE f.sequence_id = c.antibody_sequence_id "
            "AND f.feature_type = 'SPECIES' AND lower(f.value) = lower(:species))"
        )
        params["species"] = search.species
    return clauses


class SearchQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def regions(self, search: RegionSearch, regex: str | None = None) -> list[RegionHit]:
        """Regions matching ``search`` (``regex``: the motif as a POSIX expression), closest first, then by
        name; substitution searches get their Hamming distance computed by the caller from ``sequence``."""
        params: dict[str, Any] = {"q": search.query, "limit": search.limit, "scheme": search.scheme}
        where = [
            f"r.region_type = '{search.region.value}'",
            "d.numbering_scheme = :scheme",
            "d.domain_type = 'VARIABLE'",
            *_filters(search, params),
        ]
        if search.length is not None:
            where.append("char_length(r.sequence) BETWEEN :low AND :high")
            params["low"], params["high"] = search.length
        distance = "0"
        if search.kind is SearchKind.EXACT:
            where.append("r.sequence = :q")
        elif search.kind is SearchKind.SUBSTRING:
            where.append("r.sequence LIKE :like ESCAPE '\\'")
            params["like"] = f"%{like_pattern(search.query)}%"
        elif search.kind is SearchKind.MOTIF:
            where.append("r.sequence ~ :regex")
            params["regex"] = regex
        else:
            where += self._within(search, params, "r.sequence")
            distance = "levenshtein_less_equal(r.sequence, :q, :k)"
        limit = "" if search.kind is SearchKind.SUBSTITUTIONS else "LIMIT :limit"
        rows = self.session.execute(
            text(
                f"SELECT s.id, s.name, c.name, c.chain_type, d.numbering_scheme, r.region_type, r.sequence, "
                f"{distance} AS distance, {_GENE.format('V gene')}, {_GENE.format('J gene')} "
                "FROM antibody_regions r "
                "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
                "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                "JOIN antibody_sequences s ON s.id = r.antibody_sequence_id "
                f"WHERE {' AND '.join(where)} ORDER BY distance, s.name, c.name, r.id {limit}"
            ),
            params,
        )
        return [RegionHit(*row) for row in rows]

    def _within(self, search: RegionSearch, params: dict[str, Any], column: str) -> list[str]:
        """Clauses for "within max_distance edits": trigram candidates when the bound holds, else the length
        window; then the exact distance."""
        k = search.max_distance
        params["k"] = k
        params["length"] = len(search.query)
        clauses = [f"levenshtein_less_equal({column}, :q, :k) <= :k"]
        if search.kind is SearchKind.SUBSTITUTIONS:
            clauses.insert(0, f"char_length({column}) = :length")
        else:
            clauses.insert(0, f"char_length({column}) BETWEEN :length - :k AND :length + :k")
        bound = similarity_bound(search.query, k)
        if bound is not None and search.region in TRIGRAM_REGIONS and column == "r.sequence":
            self.session.execute(
                text("SELECT set_config('pg_trgm.similarity_threshold', :bound, true)"), {"bound": str(max(bound, 0))}
            )
            clauses.insert(0, f"{column} % :q")
        return clauses

    def domains(
        self, search: RegionSearch, max_edits: int
    ) -> list[tuple[uuid.UUID, str, str, str, str, str, int, str | None, str | None]]:
        """Variable domains of the scheme within ``max_edits`` edits of the query (by length window), closest
        first: (antibody id, name, chain, chain type, scheme, residues, distance, V gene, J gene)."""
        params: dict[str, Any] = {"q": search.query, "k": max_edits, "length": len(search.query)}
        params["scheme"] = search.scheme
        where = [
            "d.domain_type = 'VARIABLE'",
            "d.numbering_scheme = :scheme",
            "char_length(d.sequence) BETWEEN :length - :k AND :length + :k",
            "levenshtein_less_equal(d.sequence, :q, :k) <= :k",
            *_filters(search, params),
        ]
        rows = self.session.execute(
            text(
                "SELECT s.id, s.name, c.name, c.chain_type, d.numbering_scheme, d.sequence, "
                f"levenshtein_less_equal(d.sequence, :q, :k) AS distance, {_GENE.format('V gene')}, "
                f"{_GENE.format('J gene')} FROM antibody_domains d "
                "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                "JOIN antibody_sequences s ON s.id = d.antibody_sequence_id "
                f"WHERE {' AND '.join(where)} ORDER BY distance, s.name, c.name, d.id"
            ),
            params,
        )
        return [tuple(row) for row in rows]
