"""Dense substring and motif searches walked in name order (abdb.repositories.cdr_walk) give exactly what the
index path gives, whether the walk finds its matches, gives way at its bound, or races the index path."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.database import Database
from abdb.domain.search import RegionSearch, SearchKind, motif_regex
from abdb.repositories.cdr_search import walked_matches
from tests.integration.test_search import stored  # noqa: F401  (the fixture)

DENSE = [  # (kind, query, the same as a Python regex)
    (SearchKind.SUBSTRING, "AR", "AR"),
    (SearchKind.SUBSTRING, "DY", "DY"),
    (SearchKind.MOTIF, "AR.{2}", "AR.{2}"),
    (SearchKind.MOTIF, "^A", "^A"),
    (SearchKind.MOTIF, "[AG]R", "[AG]R"),
    (SearchKind.MOTIF, "Y.{1,3}D", "Y.{1,3}D"),
    (SearchKind.MOTIF, "F.Y$", "F.Y$"),
]


def _in_result_order(database: Database) -> list[tuple[str, str, str]]:
    """(antibody, chain, CDR3) of every IMGT CDR3 in the order results come in, from the tree."""
    with database.unit_of_work() as uow:
        rows = uow.session.execute(
            text(
                "SELECT s.name, c.name, r.sequence FROM antibody_regions r "
                "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
                "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                "JOIN antibody_sequences s ON s.id = r.antibody_sequence_id "
                "WHERE r.region_type = 'CDR3' AND d.numbering_scheme = 'IMGT' AND d.domain_type = 'VARIABLE' "
                "ORDER BY s.name, c.name, r.id"
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


def _search(database: Database, kind: SearchKind, query: str, limit: int, walk: int | None) -> list[tuple[str, ...]]:
    regex = motif_regex(query) if kind is SearchKind.MOTIF else None
    with database.unit_of_work() as uow:
        hits = uow.search.regions(RegionSearch(query, kind, limit=limit), regex, walk=walk)
    return [(hit.antibody_name, hit.chain_name, hit.sequence, hit.chain_type, str(hit.v_gene)) for hit in hits]


def test_a_walk_in_name_order_returns_exactly_the_first_matches_the_index_path_returns(
    database: Database,
    stored: list[tuple[str, str, str]],  # noqa: F811
) -> None:
    ordered = _in_result_order(database)
    assert len(ordered) == len(stored)
    for kind, query, pattern in DENSE:
        matching = [row for row in ordered if re.search(pattern, row[2])]
        assert len(matching) > 60, query  # dense: a walk finds them early
        for limit in (1, 7, 60):
            by_index = _search(database, kind, query, limit, walk=0)
            walked = _search(database, kind, query, limit, walk=len(ordered))
            raced = _search(database, kind, query, limit, walk=None)
            assert [hit[:3] for hit in by_index] == matching[:limit], (query, limit)
            assert walked == by_index == raced, (query, limit)
            with database.unit_of_work() as uow:  # the walk answered by itself, not by giving way
                regex = motif_regex(query) if kind is SearchKind.MOTIF else None
                alone = walked_matches(uow.session, RegionSearch(query, kind, limit=limit), regex, len(ordered))
            assert (
                alone is not None and [(h.antibody_name, h.chain_name, h.sequence) for h in alone] == matching[:limit]
            )


def test_a_walk_that_reaches_its_bound_without_enough_matches_gives_way_to_the_index_path(
    database: Database,
    stored: list[tuple[str, str, str]],  # noqa: F811
) -> None:
    ordered = _in_result_order(database)
    query = "GYSSG"  # the crafted neighbours of test_search, named n-…: late in name order
    first = next(index for index, row in enumerate(ordered) if query in row[2])
    assert first > 100
    search = RegionSearch(query, SearchKind.SUBSTRING, limit=3)
    with database.unit_of_work() as uow:
        assert walked_matches(uow.session, search, None, walk=first) is None  # the bound stops it short
        found = walked_matches(uow.session, search, None, walk=len(ordered))
        assert found is not None and len(found) == 3 and all(query in hit.sequence for hit in found)
    expected = [row for row in ordered if query in row[2]][:3]
    assert [hit[:3] for hit in _search(database, SearchKind.SUBSTRING, query, 3, walk=first)] == expected
    assert [hit[:3] for hit in _search(database, SearchKind.SUBSTRING, query, 3, walk=5)] == expected


def test_a_search_gets_room_for_exact_candidate_bitmaps_but_never_less_than_the_server_gives(
    database: Database,
) -> None:
    from abdb.repositories.search import SEARCH_WORK_MEM_KB

    def work_mem_kb(session: Session) -> int:
        return int(session.execute(text("SELECT setting FROM pg_settings WHERE name = 'work_mem'")).scalar_one())

    search = RegionSearch("ARDRGYY", SearchKind.EDITS, 1)
    with database.unit_of_work() as uow:
        assert work_mem_kb(uow.session) < SEARCH_WORK_MEM_KB  # the server's default, 4 MB
        uow.search.regions(search)
        assert work_mem_kb(uow.session) == SEARCH_WORK_MEM_KB
        uow.commit()  # a new transaction: the next search raises it again
        assert work_mem_kb(uow.session) < SEARCH_WORK_MEM_KB
        uow.search.regions(search)
        assert work_mem_kb(uow.session) == SEARCH_WORK_MEM_KB
    with database.unit_of_work() as uow:  # for that transaction only
        assert work_mem_kb(uow.session) < SEARCH_WORK_MEM_KB
        uow.session.execute(text("SET LOCAL work_mem = '1GB'"))
        uow.search.regions(search)
        assert work_mem_kb(uow.session) == 1024 * 1024
