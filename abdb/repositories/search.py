"""Finding regions and variable domains by their residues. CDRs are searched on ``cdr_search``
(abdb.repositories.cdr_search); here: exact searches of any region (the (region_type, sequence) btree),
frameworks (substring, motif, within K edits by the length window), motifs that fix no residue pair, and
variable domains. Every value the user gives is a bound parameter; only vocabulary codes (enums) are written
into the statements."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, SessionTransaction

from abdb.domain.residue_pairs import SEARCHED_REGIONS, motif_pairs
from abdb.domain.search import RegionHit, RegionSearch, SearchKind, pigeonhole_pieces
from abdb.domain.selection import like_pattern
from abdb.repositories.cdr_race import raced
from abdb.repositories.cdr_search import GENE as _GENE
from abdb.repositories.cdr_search import asked_of_residues, cdr_matches, searched, walk_plan, walked_matches, within


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


def _narrowed_by_cdr_indexes(search: RegionSearch, pairs: list[int] | None) -> bool:
    """Whether ``cdr_search``'s indexes narrow a CDR search that is not exact: a substring always, a motif
    that fixes residue pairs, an edit or substitution search whose query cuts into K + 1 pieces of three
    residues. Anything else is answered here: a shorter query by its length window (the regions'
    ``(region_type, char_length(sequence))`` index), which trigram similarity cannot beat: the similarity
    every match is sure to have is then at most 1 / (2K + 1), which most CDRs reach (measured at a million
    antibodies: `PVFDY` within 1 edit, 139,000 trigram candidates and 1.25 s, against 37,000 CDR3s of 4 to 6
    residues)."""
    if search.kind is SearchKind.SUBSTRING:
        return True
    if search.kind is SearchKind.MOTIF:
        return bool(pairs)
    return pigeonhole_pieces(search.query, search.max_distance) is not None


HAMMING = (
    "(SELECT count(*) FROM generate_series(1, char_length(r.sequence)) AS i "
    "WHERE substr(r.sequence, i, 1) <> substr(:q, i, 1))"
)
RANKED_PER_RESULT = 4  # regions ranked by name for each one asked for, before the domain and chain filters
# Candidate bitmaps of the size a dense search makes (117,000 CDRs on 80,000 pages of cdr_search) outgrow
# PostgreSQL's default 4 MB and turn lossy: every row of those pages is then checked again (1.3 million for
# `QQSSPPPRT` within 2 edits at a million antibodies: 567 ms, against 209 ms with the bitmap exact).
SEARCH_WORK_MEM_KB = 64 * 1024


class SearchQueries:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._roomy: SessionTransaction | None = None  # the transaction whose work_mem _exact_bitmaps raised

    def _exact_bitmaps(self) -> None:
        """Give this transaction's searches room for exact candidate bitmaps (never less than the server's):
        once per transaction, not per statement (an edit search asks once per distance)."""
        transaction = self.session.get_transaction()
        if transaction is not None and transaction is self._roomy:
            return
        self.session.execute(
            text(
                "SELECT set_config('work_mem', :kb || 'kB', true) "
                "WHERE (SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem') < :kb"
            ),
            {"kb": SEARCH_WORK_MEM_KB},
        )
        self._roomy = self.session.get_transaction()

    def regions(self, search: RegionSearch, regex: str | None = None, *, walk: int | None = None) -> list[RegionHit]:
        """Regions matching ``search`` (``regex``: the motif as a POSIX expression), closest first, then by
        name, at most ``search.limit``; edit and substitution searches find those within ``max_distance``.

        The matching regions are ranked by distance and antibody name *before* their domains and chains are
        joined: measured at a million antibodies, a 5-residue substring with 9,000 matches took 183 ms
        joined first and 53 ms ranked first (the joins then run for the first few hundred only). Ranking
        first is exact when the filters keep ``limit`` of the ranked regions (all ties at the cut are
        ranked, so every region left out sorts after them) or when every match was ranked; otherwise the
        search runs again with every match ranked.

        A substring or motif of a CDR without chain filters may be answered by a walk in name order
        (abdb.repositories.cdr_walk): None races the walk against the index path (abdb.repositories.cdr_race);
        ``walk`` > 0 walks at most that many CDRs first, then takes the index path if the walk found fewer
        than the limit; 0 never walks."""
        self._exact_bitmaps()
        if search.region in SEARCHED_REGIONS and search.kind is not SearchKind.EXACT:
            found: dict[str, Any] = {}
            chain_filters = _filters(search, found)
            if search.kind in (SearchKind.SUBSTRING, SearchKind.MOTIF) and not chain_filters:
                if walk is None:
                    index_path = partial(self.regions, search, regex, walk=0)
                    hits = raced(self.session, walk_plan(search, regex), index_path)
                    if hits is not None:
                        return hits
                elif walk > 0 and (walked := walked_matches(self.session, search, regex, walk)) is not None:
                    return walked
            pairs = motif_pairs(regex) if regex is not None else None
            if _narrowed_by_cdr_indexes(search, pairs):
                return cdr_matches(self.session, search, chain_filters, found, regex, pairs)
        params = searched(search)
        matching = [f"r.region_type = '{search.region.value}'", *asked_of_residues(search, params, "r.sequence")]
        distance = "0"
        if search.kind is SearchKind.EXACT:
            matching.append("r.sequence = :q")
        elif search.kind is SearchKind.MOTIF:
            # No trigram can be required of a motif such as AR.{3}DY: the regex is checked once per distinct
            # string of the (region_type, sequence) index (index only, in parallel), then their rows are looked
            # up by the same index. Two statements, so that the planner knows how many strings matched
            # (it cannot estimate a regex: one statement hash-joined the whole table, 1.7 s instead of 0.4 s).
            strings = (
                self.session.execute(
                    text(
                        "SELECT DISTINCT sequence FROM antibody_regions "
                        f"WHERE region_type = '{search.region.value}' AND sequence ~ :regex"
                    ),
                    {"regex": regex},
                )
                .scalars()
                .all()
            )
            if not strings:
                return []
            matching.append("r.sequence = ANY(:strings)")
            params["strings"] = list(strings)
        elif search.kind is not SearchKind.SUBSTRING:  # edits or substitutions
            matching += within(search, params, "r.sequence", indexed=False)
            distance = "levenshtein_less_equal(r.sequence, :q, :k)"
        candidates = f"SELECT r.antibody_sequence_id, r.domain_id, r.id, r.sequence, {distance} AS distance " + (
            f"FROM antibody_regions r WHERE {' AND '.join(matching)}"
        )
        if search.kind is SearchKind.SUBSTITUTIONS:  # Hamming only for what is within K edits (it is costlier)
            candidates = (
                f"SELECT * FROM (SELECT r.antibody_sequence_id, r.domain_id, r.id, r.sequence, {HAMMING} AS distance "
                f"FROM ({candidates}) AS r) AS measured WHERE distance <= :k"
            )
        filters = ["d.numbering_scheme = :scheme", "d.domain_type = 'VARIABLE'", *_filters(search, params)]
        params["ranked"] = max(search.limit * RANKED_PER_RESULT, 100)
        hits, complete = self._ranked(candidates, filters, params, cut=True)
        if len(hits) < search.limit and not complete:
            hits, _ = self._ranked(candidates, filters, params, cut=False)
        return hits

    def _ranked(
        self, candidates: str, filters: list[str], params: dict[str, Any], *, cut: bool
    ) -> tuple[list[RegionHit], bool]:
        """(the first ``limit`` hits, whether every candidate was ranked); ``cut``: rank the first ``ranked``
        candidates by (distance, name) and their ties, else all."""
        fetch = "FETCH FIRST :ranked ROWS WITH TIES" if cut else ""
        rows = self.session.execute(
            text(
                f"WITH m AS MATERIALIZED ({candidates}), "
                "ranked AS MATERIALIZED (SELECT m.*, s.name AS antibody_name FROM m "
                f"JOIN antibody_sequences s ON s.id = m.antibody_sequence_id ORDER BY m.distance, s.name {fetch}) "
                "SELECT x.antibody_sequence_id, x.antibody_name, c.name, c.chain_type, d.numbering_scheme, "
                f"CAST(:region AS text), x.sequence, x.distance, {_GENE.format('V gene')}, {_GENE.format('J gene')}, "
                "(SELECT count(*) FROM ranked) = (SELECT count(*) FROM m) AS complete FROM ranked x "
                "JOIN antibody_domains d ON d.antibody_sequence_id = x.antibody_sequence_id AND d.id = x.domain_id "
                "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                f"WHERE {' AND '.join(filters)} ORDER BY x.distance, x.antibody_name, c.name, x.id LIMIT :limit"
            ),
            params,
        ).all()
        return [RegionHit(*row[:10]) for row in rows], bool(rows) and bool(rows[0][10])

    def domains(
        self, search: RegionSearch, max_edits: int
    ) -> list[tuple[uuid.UUID, str, str, str, str, str, int, str | None, str | None]]:
        """Variable domains of the scheme within ``max_edits`` edits of the query (by length window), closest
        first: (antibody id, name, chain, chain type, scheme, residues, distance, V gene, J gene)."""
        self._exact_bitmaps()
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
