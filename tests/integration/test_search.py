"""`abdb search` finds every region within K edits or substitutions (recall and precision exactly, against
brute force), by substring and motif, with filters; `abdb stats` counts what is stored."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from abdb.database import Database
from abdb.domain.search import RegionSearch, SearchKind, hamming, levenshtein
from abdb.domain.selection import Selection
from abdb.domain.vocabulary import ChainType, RegionType
from abdb.errors import ConfigurationError
from abdb.services.importing.run import ImportOptions, InputFormat, import_files, import_legacy_json
from abdb.services.searching import search_regions, search_sequences, statistics
from benchmarks.synthetic import SyntheticAntibody, VariableDomain, generate_antibodies, v2_document
from tests.conftest import CliInvoker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BASE = "ARDRGYSSGWYFDY"
# known neighbours of BASE: (name, CDR3, edits, substitutions or None when the length differs)
NEIGHBOURS = [
    ("same", BASE, 0, 0),
    ("sub-start", "GRDRGYSSGWYFDY", 1, 1),
    ("sub-middle", "ARDRGYASGWYFDY", 1, 1),
    ("sub-end", "ARDRGYSSGWYFDA", 1, 1),
    ("two-subs", "ARDRWYSSGWYFEY", 2, 2),
    ("three-subs", "VRDRWYSSGWYFEY", 3, 3),
    ("ins-start", "KARDRGYSSGWYFDY", 1, None),
    ("ins-middle", "ARDRGYSSSGWYFDY", 1, None),
    ("ins-end", "ARDRGYSSGWYFDYV", 1, None),
    ("del-start", "RDRGYSSGWYFDY", 1, None),
    ("del-middle", "ARDRGYSGWYFDY", 1, None),
    ("del-end", "ARDRGYSSGWYFD", 1, None),
    ("ins-and-sub", "ARDRGYSSQGWYFDA", 2, None),
    ("two-dels", "ARDGYSSGWYFY", 2, None),
    ("far", "ARGGGGGGGGGGDY", 8, 8),
    ("short", "ARDY", 10, None),
]


def _with_cdr3(template: VariableDomain, cdr3: str) -> VariableDomain:
    regions = list(template.regions)
    regions[5] = cdr3
    return VariableDomain("".join(regions), tuple(regions))


@pytest.fixture
def stored(database: Database) -> list[tuple[str, str, str]]:
    """Crafted neighbours of BASE, 400 synthetic antibodies and the AIRR fixture: (name, chain, CDR3) of every
    stored IMGT CDR3."""
    pool = generate_antibodies(400, seed=11)
    template = pool[0]
    crafted = [
        SyntheticAntibody(f"n-{name}", _with_cdr3(template.heavy, cdr3), template.light)
        for name, cdr3, _, _ in NEIGHBOURS
    ]
    folder = database.settings.home / "search-input"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crafted.json").write_text(json.dumps(v2_document(crafted + pool[1:])))
    assert import_legacy_json(database, [folder / "crafted.json"], ImportOptions()).clean
    assert import_files(
        database, InputFormat.AIRR, [FIXTURES / "airr" / "therapeutics_cells.tsv"], ImportOptions()
    ).clean
    with database.unit_of_work() as uow:
        return [
            (row[0], row[1], row[2])
            for row in uow.session.execute(
                text(
                    "SELECT s.name, c.name, r.sequence FROM antibody_regions r "
                    "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
                    "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                    "JOIN antibody_sequences s ON s.id = r.antibody_sequence_id "
                    "WHERE r.region_type = 'CDR3' AND d.numbering_scheme = 'IMGT'"
                )
            )
        ]


def _found(database: Database, query: str, kind: SearchKind, k: int, **filters: object) -> set[tuple[str, str, int]]:
    search = RegionSearch(query, kind, k, limit=100_000, **filters)  # type: ignore[arg-type]
    return {(hit.antibody_name, hit.chain_name, hit.distance) for hit in search_regions(database, search)}


def test_edit_and_substitution_searches_find_exactly_the_brute_force_neighbours(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    rng = random.Random(3)
    queries = [BASE, "ARDRGYSSGWYFD", "AR", *rng.sample(sorted({cdr3 for _, _, cdr3 in stored}), 12)]
    for query in queries:
        for k in (0, 1, 2, 3):
            expected = {(n, c, levenshtein(cdr3, query)) for n, c, cdr3 in stored if levenshtein(cdr3, query) <= k}
            assert _found(database, query, SearchKind.EDITS, k) == expected, (query, k)
            same_length = {(n, c, hamming(cdr3, query) or 0) for n, c, cdr3 in stored if len(cdr3) == len(query)}
            expected = {hit for hit in same_length if hit[2] <= k}
            assert _found(database, query, SearchKind.SUBSTITUTIONS, k) == expected, (query, k)
    names = {name for name, _, _ in _found(database, BASE, SearchKind.EDITS, 2)}
    assert names >= {f"n-{name}" for name, _, edits, _ in NEIGHBOURS if edits <= 2}
    assert not names & {f"n-{name}" for name, _, edits, _ in NEIGHBOURS if edits > 2}


def test_results_come_closest_first_then_by_name_and_respect_the_limit(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    hits = search_regions(database, RegionSearch(BASE, SearchKind.EDITS, 2, limit=5))
    assert [hit.distance for hit in hits] == sorted(hit.distance for hit in hits) and len(hits) == 5
    assert hits[0].antibody_name == "n-same" and hits[0].distance == 0
    ordered = search_regions(database, RegionSearch(BASE, SearchKind.EDITS, 1, limit=100))
    assert [(h.distance, h.antibody_name) for h in ordered] == sorted((h.distance, h.antibody_name) for h in ordered)


def test_exact_substring_and_motif_searches_match_python_on_the_same_regions(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    import re

    assert _found(database, BASE, SearchKind.EXACT, 0) == {(n, c, 0) for n, c, s in stored if s == BASE}
    for part in ("GYSSG", "WYF", "DY"):
        assert _found(database, part, SearchKind.SUBSTRING, 0) == {(n, c, 0) for n, c, s in stored if part in s}
    motifs = (
        ("AR.{3}YSS", r"AR.{3}YSS"),  # residue pairs narrow it (cdr_search)
        ("^AR[DE]X", r"^AR[DE]."),
        ("[^A]FDY$", r"[^A]FDY$"),
        ("G{1,2}.{2}W", r"G{1,2}.{2}W"),
        ("^AX", r"^A."),  # no two residues fixed: every CDR3 is checked
        ("W.{2,4}D", r"W.{2,4}D"),
    )
    for motif, pattern in motifs:
        expected = {(n, c, 0) for n, c, s in stored if re.search(pattern, s)}
        assert expected and _found(database, motif, SearchKind.MOTIF, 0) == expected


def test_motifs_asked_of_their_rarer_residue_pairs_find_the_same_regions(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    """With statistics, a motif's commonest pairs are not asked of the index (abdb.domain.residue_pairs);
    the regions found are still exactly those the motif matches."""
    import re

    from abdb.domain.residue_pairs import motif_pairs, selective_keys
    from abdb.domain.search import motif_regex
    from abdb.repositories.cdr_search import key_frequencies

    with database.unit_of_work() as uow:
        uow.session.execute(text("ANALYZE cdr_search"))
        uow.commit()
    pruned = 0
    for motif in ("AR.{3}YSS", "AR.{2}G.S", "YS.G.Y", "G.{2}YF.Y", "A.D.{2}Y"):
        keys = motif_pairs(motif_regex(motif))
        with database.unit_of_work() as uow:
            pruned += len(selective_keys(keys, key_frequencies(uow.session, keys))) < len(keys)
        expected = {(n, c, 0) for n, c, s in stored if re.search(motif, s)}
        assert expected and _found(database, motif, SearchKind.MOTIF, 0) == expected, motif
    assert pruned  # the statistics left some motif's commonest keys out


def _heavy_ighv1_chains(database: Database) -> set[tuple[str, str]]:
    """(antibody, chain) of every heavy chain with an IGHV1 V gene, by SQL independent of the search."""
    with database.unit_of_work() as uow:
        return {
            (row[0], row[1])
            for row in uow.session.execute(
                text(
                    "SELECT s.name, c.name FROM antibody_chains c "
                    "JOIN antibody_sequences s ON s.id = c.antibody_sequence_id WHERE c.chain_type = 'HEAVY' "
                    "AND EXISTS (SELECT 1 FROM sequence_features f WHERE f.chain_id = c.id "
                    "AND f.name = 'V gene' AND f.value LIKE 'IGHV1%')"
                )
            )
        }


def test_filters_combine_with_every_kind_of_search(database: Database, stored: list[tuple[str, str, str]]) -> None:
    heavy_ighv1 = _heavy_ighv1_chains(database)
    assert heavy_ighv1
    for query in {cdr3 for name, chain, cdr3 in stored if (name, chain) in heavy_ighv1}:
        expected = {
            (n, c, levenshtein(s, query)) for n, c, s in stored if (n, c) in heavy_ighv1 and levenshtein(s, query) <= 2
        }
        found = _found(database, query, SearchKind.EDITS, 2, chain_type=ChainType.HEAVY, v_gene="IGHV1")
        assert found == expected
    lengths = _found(database, "Y", SearchKind.SUBSTRING, 0, length=(13, 14))
    assert lengths == {(n, c, 0) for n, c, s in stored if "Y" in s and 13 <= len(s) <= 14}


def test_the_other_regions_and_schemes_are_searched_too(database: Database, stored: list[tuple[str, str, str]]) -> None:
    with database.unit_of_work() as uow:
        fr2 = uow.session.execute(
            text("SELECT sequence FROM antibody_regions WHERE region_type = 'FR2' LIMIT 1")
        ).scalar_one()
    found = search_regions(database, RegionSearch(fr2, SearchKind.EDITS, 1, RegionType.FR2, limit=1000))
    assert found and all(levenshtein(hit.sequence, fr2) <= 1 and hit.region == "FR2" for hit in found)
    assert search_regions(database, RegionSearch(BASE, scheme="kabat")) == []  # nothing numbered in Kabat


def test_sequence_search_finds_every_domain_within_the_identity(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    with database.unit_of_work() as uow:
        domains = [
            (row[0], row[1], row[2])
            for row in uow.session.execute(
                text(
                    "SELECT s.name, c.name, d.sequence FROM antibody_domains d JOIN antibody_chains c "
                    "ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
                    "JOIN antibody_sequences s ON s.id = d.antibody_sequence_id "
                    "WHERE d.domain_type = 'VARIABLE' AND d.numbering_scheme = 'IMGT'"
                )
            )
        ]
    query = next(sequence for name, _, sequence in domains if name == "n-same")
    found = search_sequences(database, RegionSearch(query, limit=10_000), 0.9)
    expected = {(n, c) for n, c, s in domains if 1 - levenshtein(s, query) / max(len(s), len(query)) >= 0.9}
    assert {(f.hit.antibody_name, f.hit.chain_name) for f in found} == expected
    assert {f"n-{name}" for name, _, edits, _ in NEIGHBOURS if edits <= 3} <= {n for n, _ in expected}
    assert [f.identity for f in found] == sorted((f.identity for f in found), reverse=True)


def test_bad_queries_are_clear_and_text_is_searched_not_run(
    cli: CliInvoker, database: Database, engine: Engine, stored: list[tuple[str, str, str]]
) -> None:
    for motif, reason in (
        ("AR(.", "'(' at position 3 is not allowed"),
        ("A[BZ]", "not amino acids"),
        ("{3}A", "not allowed"),
        ("A{0,2}{3}", "not allowed"),  # a repeat of a repeat
        ("A{2}{3}", "not allowed"),
    ):
        with pytest.raises(ConfigurationError, match=None) as refused:
            search_regions(database, RegionSearch(motif, SearchKind.MOTIF))
        assert reason in str(refused.value)
    code, output = cli("search", "cdr3", "AR'; DROP TABLE users; --")
    assert code == 2 and "not amino acids" in output
    code, output = cli("search", "cdr3", BASE, "--v-gene", "IGHV'; DROP TABLE users; --", "--species", "x' OR '1'='1")
    assert code == 0 and "0 found" in output
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0  # still there
    code, output = cli("search", "cdr3", BASE, "--max-edits", "1", "--motif")
    assert code == 2 and "choose one of" in output


def test_output_formats_feed_other_tools(cli: CliInvoker, stored: list[tuple[str, str, str]]) -> None:
    code, output = cli("search", "cdr3", BASE, "--max-edits", "1", "--format", "json")
    rows = json.loads(output[: output.rindex("]") + 1])
    assert code == 0 and {row["antibody_name"] for row in rows} >= {"n-same", "n-sub-end"}
    code, output = cli("search", "cdr3", BASE, "--format", "fasta")
    assert ">n-same|heavy region=CDR3 scheme=IMGT distance=0\n" + BASE + "\n" in output
    code, output = cli("search", "cdr3", BASE, "--max-substitutions", "1", "--format", "tsv")
    lines = [line for line in output.strip().splitlines() if "\t" in line]  # stderr's "N found" mixed in here
    assert (
        lines[0].startswith("antibody\tantibody_id")
        and len(lines) > 2
        and all(len(ln.split("\t")) == 9 for ln in lines)
    )


def test_stats_count_what_is_stored_and_say_the_same_as_json(
    cli: CliInvoker, database: Database, stored: list[tuple[str, str, str]]
) -> None:
    found = statistics(database, Selection())
    with database.unit_of_work() as uow:
        session = uow.session
        assert found.antibodies == session.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one()
        assert (
            sum(count for _, _, count in found.chains)
            == session.execute(text("SELECT count(*) FROM antibody_chains")).scalar_one()
        )
    assert not found.antibodies_estimated
    assert sum(count for _, _, count in found.cdr3_lengths) == len(stored)
    heavy_lengths = {length: count for kind, length, count in found.cdr3_lengths if kind == "HEAVY"}
    assert heavy_lengths[len(BASE)] >= 1 + sum(1 for _, cdr3, _, _ in NEIGHBOURS if len(cdr3) == len(BASE))
    with database.unit_of_work() as uow:
        numbered = uow.session.execute(
            text("SELECT count(DISTINCT antibody_sequence_id) FROM antibody_domains WHERE domain_type = 'VARIABLE'")
        ).scalar_one()
    assert dict(found.coverage)["IMGT"] == numbered == found.antibodies - 1  # the AIRR row with a CDR3 alone
    code, output = cli("stats", "--json")
    assert code == 0 and json.loads(output)["antibodies"] == found.antibodies
    code, output = cli("stats")
    assert "IMGT CDR3 lengths, heavy chains" in output and "█" in output
    everything = statistics(database, Selection(name="*"))  # joined to the selection; the unfiltered is not
    assert everything == found
    only = statistics(database, Selection(name="n-*"))
    assert only.antibodies == len(NEIGHBOURS)
    assert dataclasses.asdict(only)["antibodies"] == len(NEIGHBOURS)


def test_stats_of_a_big_database_count_cdr3_lengths_on_a_sample_scaled_to_the_total_and_say_so(
    cli: CliInvoker, database: Database, stored: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SAMPLE_LENGTHS_PAST antibodies (lowered here), unfiltered: the histogram comes from a random
    sample of the antibodies, scaled to the total. A sample of every antibody gives the exact counts; a
    smaller one counts fewer CDR3s and scales them up."""
    import abdb.services.searching as searching

    with database.unit_of_work() as uow:
        uow.session.execute(text("ANALYZE antibody_sequences"))
        uow.commit()
    exact = statistics(database, Selection())
    assert exact.cdr3_lengths_sampled is None
    monkeypatch.setattr(searching, "SAMPLE_LENGTHS_PAST", 10)
    monkeypatch.setattr(searching, "FEWEST_SAMPLED", 10)
    monkeypatch.setattr(searching, "LENGTH_SAMPLE", 1_000_000)  # 100%: every antibody
    whole = statistics(database, Selection())
    assert whole.cdr3_lengths_sampled == 100.0 and whole.cdr3_lengths == exact.cdr3_lengths
    monkeypatch.setattr(searching, "LENGTH_SAMPLE", exact.antibodies // 2)  # about half of them
    half = statistics(database, Selection())
    assert half.cdr3_lengths_sampled is not None and 20 < half.cdr3_lengths_sampled < 80
    total = sum(count for _, _, count in half.cdr3_lengths)
    assert half.cdr3_lengths != exact.cdr3_lengths and abs(total - len(stored)) < 0.25 * len(stored)
    assert statistics(database, Selection()).cdr3_lengths == half.cdr3_lengths  # the same sample again
    assert statistics(database, Selection(name="n-*")).cdr3_lengths_sampled is None  # filtered: exact
    monkeypatch.setattr(searching, "FEWEST_SAMPLED", exact.antibodies)  # a sample this small is not trusted
    assert statistics(database, Selection()).cdr3_lengths == exact.cdr3_lengths
    monkeypatch.setattr(searching, "FEWEST_SAMPLED", 10)
    code, output = cli("stats")
    assert code == 0 and "estimated: counted on a random" in output
    code, output = cli("stats", "--json")
    assert code == 0 and 20 < json.loads(output)["cdr3_lengths_sampled"] < 80


def test_the_documented_python_search_example_runs(
    database: Database, stored: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    import io
    import re

    page = (Path(__file__).resolve().parents[2] / "docs" / "search.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", page, re.S)
    monkeypatch.setenv("ABDB_DATABASE_URL", database.url.render_as_string(hide_password=False))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "docs/search.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert lines[0].split()[:4] == ["n-same", "heavy", BASE, "0"] and len(lines) >= 2


def test_a_small_limit_with_filters_that_reject_the_first_ranked_regions_still_gets_the_first_by_name(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    """Regions are ranked by name before the chain filters; when the filters leave fewer than the limit of the
    ranked ones, the search ranks every match: the answer is the brute-force first N either way."""
    heavy_ighv1 = _heavy_ighv1_chains(database)
    matching = sorted((n, c) for n, c, s in stored if "Y" in s and (n, c) in heavy_ighv1)
    everything = sorted((n, c) for n, c, s in stored if "Y" in s)
    assert len(matching) > 3 and len(everything) > 400  # the filter keeps few of the ranked first hundreds
    for limit in (1, 3, len(matching) + 5):
        search = RegionSearch("Y", SearchKind.SUBSTRING, limit=limit, chain_type=ChainType.HEAVY, v_gene="IGHV1")
        assert [(h.antibody_name, h.chain_name) for h in search_regions(database, search)] == matching[:limit]
    for limit in (1, 7, 150):  # no filter: the ranked cut alone decides
        hits = search_regions(database, RegionSearch("Y", SearchKind.SUBSTRING, limit=limit))
        assert [(h.antibody_name, h.chain_name) for h in hits] == everything[:limit]


def test_edit_searches_with_a_small_limit_return_the_closest_first_as_a_full_search_would(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    """Distances are searched one at a time and the search stops once the limit is filled: the first N must be
    those of the complete, brute-force ordering (distance, then name)."""
    for query in (BASE, "ARDRGYSSGWYFD", "QQYNSYPLT"):
        for kind, measure in ((SearchKind.EDITS, levenshtein), (SearchKind.SUBSTITUTIONS, hamming)):
            within = sorted((d, n, c) for n, c, s in stored if (d := measure(s, query)) is not None and d <= 3)
            for limit in (1, 2, 5, 40):
                hits = search_regions(database, RegionSearch(query, kind, 3, limit=limit))
                assert [(h.distance, h.antibody_name, h.chain_name) for h in hits] == within[:limit], (query, limit)


def test_antibodies_written_or_renamed_through_the_orm_are_found_by_their_new_names(
    database: Database, stored: list[tuple[str, str, str]]
) -> None:
    """The bulk writers write search rows themselves; what the Python API's ORM adds or changes gets them
    rewritten at flush (abdb.db.search_rows), so searches and verify's search.rows agree with the tree."""
    from sqlalchemy import select

    from abdb.db.models import AntibodyChain, AntibodySequence
    from abdb.services.verify import VerifyOptions, verify

    with database.unit_of_work() as uow:
        antibody = uow.session.scalars(select(AntibodySequence).where(AntibodySequence.name == "n-same")).one()
        antibody.name = "n-same-renamed"
        chain = uow.session.scalars(
            select(AntibodyChain).where(
                AntibodyChain.antibody_sequence_id == antibody.id, AntibodyChain.name == "heavy"
            )
        ).one()
        chain.name = "vh"
        uow.commit()
    found = {(h.antibody_name, h.chain_name) for h in search_regions(database, RegionSearch(BASE, SearchKind.EDITS, 1))}
    assert ("n-same-renamed", "vh") in found and not {n for n, _ in found} & {"n-same"}
    report = verify(database, VerifyOptions())
    assert not report.violations, [(r.check.name, r.examples) for r in report.violations]


def test_search_rebuild_writes_search_rows_again_after_plain_sql_changed_regions(
    cli: CliInvoker, database: Database, stored: list[tuple[str, str, str]]
) -> None:
    """What verify's search.rows and search.pairs find, `abdb search rebuild` repairs; searches then find
    the regions as the tree has them."""
    from abdb.services.verify import VerifyOptions, verify

    with database.unit_of_work() as uow:
        uow.session.execute(
            text(
                "UPDATE antibody_regions SET sequence = 'ARDRGYSSGWYFDW' WHERE region_type = 'CDR3' AND sequence = "
                ":base AND antibody_sequence_id = (SELECT id FROM antibody_sequences WHERE name = 'n-same')"
            ),
            {"base": BASE},
        )
        uow.session.execute(text("DELETE FROM cdr_search WHERE region_type = 'CDR2'"))
        uow.session.execute(text("UPDATE cdr_search SET residue_pairs = '{}' WHERE region_type = 'CDR1'"))
        uow.commit()
    broken = {r.check.name for r in verify(database, VerifyOptions()).violations}
    assert broken == {"search.rows", "search.pairs", "regions.sequence"}  # the plain-SQL CDR3 breaks its chain
    with database.unit_of_work() as uow:
        antibodies = uow.session.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one()
    code, output = cli("search", "rebuild")
    assert code == 0 and f"search rows of {antibodies:,} antibodies written again" in output
    assert {r.check.name for r in verify(database, VerifyOptions()).violations} == {"regions.sequence"}
    hits = search_regions(database, RegionSearch("ARDRGYSSGWYFDW"))
    assert [(h.antibody_name, h.sequence) for h in hits] == [("n-same", "ARDRGYSSGWYFDW")]
    assert search_regions(database, RegionSearch("ARDRGYSSGWYFDW", SearchKind.EDITS, 1, limit=1000))
