"""Dense CDR searches answered by walking ``cdr_search`` in the order of their results.

A motif or substring (distance 0: results ordered by antibody name, chain name, region) that matches tens of
thousands of CDRs costs the index path about 2 µs per match: the residue-pair or trigram index lists every
match, and each is visited in the table to be ranked (measured at a million antibodies: ``QQ.{3}WP``, 50,500
matches, 84 ms). The first ``limit`` matches in name order are then better found by walking the CDRs in that
order and stopping at the ``limit``-th: ``ix_cdr_search_by_name`` holds the residues and the antibody's key,
so the walk never visits the table (0.2-0.3 µs per entry, measured: 8 ms for that motif). Which is cheaper
depends on where the matches fall in name order, so the two race (abdb.repositories.cdr_race). Either way
the result is the same: a walk that found ``limit`` matches walked every CDR that sorts before the last of
them (the order is total: the region's id ends it), and one that found fewer walked them all.
"""

from __future__ import annotations

WHOLE_TABLE = 2**63 - 1  # a walk bound that never stops the walk before the end of the table


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
