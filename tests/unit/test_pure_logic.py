"""The pure parts of importing and annotating, without a database: batch classification, COPY rows, chain rows."""

from __future__ import annotations

import uuid

from abdb.domain.records import AntibodyRecord, ChainRecord, Rejection
from abdb.domain.vocabulary import ChainType, DomainType, RegionType
from abdb.numbering.engine import ChainNumbering, NumberedDomain
from abdb.services.annotating.rows import chain_rows
from abdb.services.importing.batch import StoredAntibody, classify
from abdb.services.importing.report import ImportOptions
from abdb.services.importing.rows import COLUMNS, RowContext, prepare

HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
LIGHT = "DIQMTQSPSSLSASVGDRVTITCRASQGISSWLAWYQQKPEKAPKSLIYAASSLQSGVPSRFSGSGSGTDFTLTISSLQPEDFATYYCQQYNSYPLTF"
CONTEXT = RowContext(public=False, creator_id=None, run_id=None, sha256="0" * 64)


def _record(name: str, heavy: str = HEAVY, labelled: bool = True) -> AntibodyRecord:
    return AntibodyRecord(
        name,
        (
            ChainRecord("heavy", ChainType.HEAVY, heavy, labelled=labelled),
            ChainRecord("light", ChainType.LIGHT, LIGHT, labelled=labelled),
        ),
        "in.fasta",
        "line 1",
    )


def _stored(record: AntibodyRecord, public: bool = False) -> StoredAntibody:
    prepared = prepare(record, CONTEXT)
    return StoredAntibody(prepared.checksum, public, prepared.labels)


def test_classification_sorts_new_unchanged_conflicting_and_rejected_in_input_order() -> None:
    same, changed, new = _record("same"), _record("changed", HEAVY + "K"), _record("new")
    swapped = AntibodyRecord(
        "swapped",
        (
            ChainRecord("heavy", ChainType.HEAVY, LIGHT, labelled=True),
            ChainRecord("light", ChainType.LIGHT, HEAVY, labelled=True),
        ),
        "in.fasta",
        "line 9",
    )
    stored = {
        "same": [_stored(same)],
        "changed": [_stored(_record("changed"))],
        "swapped": [_stored(_record("swapped"))],
    }
    rejection = Rejection("in.fasta", "line 5", "bad", "validate", "no")
    batch = [prepare(r, CONTEXT) for r in (same, changed, new)] + [rejection, prepare(swapped, CONTEXT)]
    outcome = classify(batch, stored, ImportOptions(), budget=None)
    assert [r.name for r in outcome.new] == ["new"]
    assert outcome.counts["unchanged"] == 1 and outcome.counts["conflicting"] == 2
    assert [r.record_name for r in outcome.rejections] == ["changed", "bad", "swapped"]
    assert "other chain labels or types" in outcome.rejections[2].reason


def test_replace_replaces_even_an_unchanged_antibody_and_public_applies_to_stored_ones() -> None:
    same = _record("same")
    stored = {"same": [_stored(same, public=False)]}
    assert [
        r.name for r in classify([prepare(same, CONTEXT)], stored, ImportOptions(replace=True), None).replacing
    ] == ["same"]
    assert classify([prepare(same, CONTEXT)], stored, ImportOptions(public=True), None).visibility == ["same"]
    assert classify([prepare(same, CONTEXT)], stored, ImportOptions(), None).visibility == []


def test_a_budget_of_rejections_cuts_the_batch_right_after_the_last_one_allowed() -> None:
    bad = [Rejection("in.fasta", f"line {i}", f"bad{i}", "validate", "no") for i in range(3)]
    batch = [prepare(_record("a"), CONTEXT), bad[0], prepare(_record("b"), CONTEXT), bad[1], bad[2]]
    outcome = classify(batch, {}, ImportOptions(), budget=1)
    assert [r.name for r in outcome.new] == ["a"] and len(outcome.rejections) == 1


def test_copy_rows_hold_one_line_per_row_in_the_described_columns() -> None:
    prepared = prepare(_record("ab"), CONTEXT)
    tables = dict(zip(COLUMNS, prepared.text, strict=True))
    assert tables["antibody_chains"].count("\n") == 2 and tables["processing_jobs"].count("\n") == 1
    for table, text in tables.items():
        for line in text.splitlines():
            assert len(line.split("\t")) == len(COLUMNS[table]), table


def test_chain_rows_turn_a_numbering_into_a_domain_its_regions_and_features() -> None:
    numbered = tuple((position, "", residue) for position, residue in enumerate(HEAVY, start=1))
    domain = NumberedDomain("H", "human", 0, len(HEAVY) - 1, numbered, ("human", "IGHV3-23*01", 0.97), None, 200.0)
    numbering = ChainNumbering({"imgt": (domain,)})
    rows = chain_rows(uuid.uuid4(), uuid.uuid4(), HEAVY, numbering, "ANARCI", names=("a", "h"))
    assert rows.error is None
    assert [d["domain_type"] for d in rows.domains] == [DomainType.VARIABLE]
    assert {r["region_type"] for r in rows.regions} <= set(RegionType)
    assert [f["value"] for f in rows.features] == ["human", "IGHV3-23", "IGHV3-23*01"]
    assert rows.chain_type is not None and rows.chain_type["chain_type"] is ChainType.HEAVY


def test_chain_rows_say_why_a_t_cell_receptor_has_no_kabat_numbering() -> None:
    rows = chain_rows(
        uuid.uuid4(), uuid.uuid4(), HEAVY, ChainNumbering({"kabat": ()}, {"kabat": ("B",)}), "ANARCI", names=("a", "h")
    )
    assert rows.error is not None and "Kabat and Chothia do not number T-cell receptors" in rows.error


def test_pigeonhole_pieces_cover_the_query_and_one_survives_any_k_edits() -> None:
    import random

    from abdb.domain.search import levenshtein, pigeonhole_pieces

    assert pigeonhole_pieces("ARDRGYSSGWYFDY", 2) == ["ARDR", "GYSSG", "WYFDY"]
    assert pigeonhole_pieces("QQYNSYPLT", 2) == ["QQY", "NSY", "PLT"]
    assert pigeonhole_pieces("QQYNSYPL", 2) is None  # a piece of two residues makes no trigram
    rng = random.Random(5)
    for _ in range(3000):
        query = "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rng.randint(6, 20)))
        k = rng.randint(1, 3)
        pieces = pigeonhole_pieces(query, k)
        if pieces is None:
            continue
        assert "".join(pieces) == query and len(pieces) == k + 1
        other = list(query)
        for _ in range(k):  # k random edits
            at = rng.randrange(len(other) + 1)
            edit = rng.choice("sid")
            if edit == "s" and at < len(other):
                other[at] = rng.choice("ACDEFGHIKLMNPQRSTVWY")
            elif edit == "i":
                other.insert(at, rng.choice("ACDEFGHIKLMNPQRSTVWY"))
            elif at < len(other):
                del other[at]
        edited = "".join(other)
        assert levenshtein(edited, query) <= k
        assert any(piece in edited for piece in pieces), (query, edited, pieces)


def test_a_motif_asks_the_index_for_its_three_rarest_pairs_and_every_rare_one() -> None:
    from abdb.domain.residue_pairs import selective_keys

    keys = [1, 2, 3, 4, 5, 6]
    shares = {1: 0.1, 2: 0.03, 3: 0.035, 4: 0.2, 5: 0.06, 6: 0.08}
    assert selective_keys(keys, shares) == [2, 3, 5]  # the three rarest
    assert selective_keys(keys, {**shares, 3: 0.018, 4: 0.015, 5: 0.019, 6: 0.001}) == [3, 4, 5, 6]  # all under 2%
    assert selective_keys(keys, {1: 0.5, 2: 0.5}) == [3, 4, 5, 6]  # unlisted keys are rarer than any listed
    assert selective_keys(keys, {}) == keys  # no statistics: every key
    assert selective_keys([7, 8], {7: 0.9, 8: 0.5}) == [7, 8]


def test_motif_pairs_are_held_by_every_region_the_motif_matches() -> None:
    """The pair keys a motif asks of the index never exclude a match: checked on random regions and motifs
    cut from them (residues kept or made `.`, `[..]`, `{n}` and `{n,m}` repeats, anchors)."""
    import random
    import re

    from abdb.domain.residue_pairs import motif_pairs, pair_key, residue_pairs
    from abdb.domain.search import motif_regex

    assert motif_pairs(motif_regex("AR.{3}SG")) == sorted(
        {pair_key("A", "R", 1), pair_key("S", "G", 1), pair_key("R", "S", 4), pair_key("A", "S", 5),
         pair_key("R", "G", 5)}
    )  # fmt: skip
    assert motif_pairs(motif_regex("^AX")) == [] and motif_pairs(motif_regex("A.{2,4}G")) == []
    assert motif_pairs(motif_regex("AG{2,3}W")) == sorted(
        {pair_key("A", "G", 1), pair_key("A", "G", 2), pair_key("G", "G", 1), pair_key("G", "W", 1)}
    )
    rng = random.Random(9)
    residues = "ACDEFGHIKLMNPQRSTVWY"
    checked = 0
    for _ in range(4000):
        region = "".join(rng.choice("ARGSYDW") for _ in range(rng.randint(4, 18)))
        start = rng.randrange(len(region) - 2)
        piece = region[start : start + rng.randint(2, 9)]
        motif = ""
        for residue in piece:
            roll = rng.random()
            if roll < 0.2:
                motif += "."
            elif roll < 0.3:
                motif += f"[{residue}{rng.choice(residues)}]"
            elif roll < 0.4:
                motif += f"{residue}{{1,2}}"
            else:
                motif += residue
        motif = ("^" if start == 0 and rng.random() < 0.5 else "") + motif
        regex = motif_regex(motif)
        matches = [r for r in (region, *("".join(rng.choice("ARGSYDW") for _ in range(12)) for _ in range(5)))
                   if re.search(regex, r)]  # fmt: skip
        for match in matches:
            assert set(motif_pairs(regex)) <= set(residue_pairs(match)), (motif, match)
            checked += 1
    assert checked > 4000


def test_residue_pairs_are_every_pair_key_up_to_the_largest_gap_once_and_ascending() -> None:
    import random

    from abdb.domain.residue_pairs import MAX_GAP, pair_key, pairs_text, residue_pairs

    rng = random.Random(4)
    for _ in range(5000):
        residues = "".join(rng.choice("ACDEFGHIKLMNPQRSTVWYX") for _ in range(rng.randint(0, 25)))
        pairs = [(i, gap) for gap in range(1, MAX_GAP + 1) for i in range(len(residues) - gap)]
        expected = sorted({pair_key(residues[i], residues[i + gap], gap) for i, gap in pairs})
        assert residue_pairs(residues) == expected
        assert pairs_text(residues) == "{" + ",".join(map(str, expected)) + "}"
    assert residue_pairs("A") == [] and pairs_text("") == "{}"


def _like_as_regex(pattern: str) -> str:
    """A LIKE pattern of residues, _ and % as the anchored regular expression it means."""
    return "^" + "".join({"_": ".", "%": ".*"}.get(unit, unit) for unit in pattern) + "$"


def test_a_motif_becomes_a_like_pattern_that_matches_the_same_regions_or_lets_through_more() -> None:
    """Motifs of residues, `.` and `{n}` are exactly a LIKE pattern; with classes or `{n,m}` the pattern lets
    through a superset, never fewer: checked on random regions and motifs cut from them."""
    import random
    import re

    from abdb.domain.search import motif_like, motif_regex

    assert motif_like(motif_regex("AR.{3}DY")) == ("%AR___DY%", True)
    assert motif_like(motif_regex("^ARX")) == ("AR_%", True)
    assert motif_like(motif_regex("A{2}$")) == ("%AA", True)
    assert motif_like(motif_regex("W.{2,4}D")) == ("%W__%D%", False)
    assert motif_like(motif_regex("[AG]R")) == ("%_R%", False)
    rng = random.Random(12)
    residues = "ACDEFGHIKLMNPQRSTVWY"
    exact_checked = superset_checked = 0
    for _ in range(3000):
        region = "".join(rng.choice("ARGSYD") for _ in range(rng.randint(4, 16)))
        start = rng.randrange(len(region) - 2)
        motif = ""
        for residue in region[start : start + rng.randint(2, 7)]:
            roll = rng.random()
            motif += (
                "." if roll < 0.25 else f"[{residue}{rng.choice(residues)}]" if roll < 0.3
                else f"{residue}{{2}}" if roll < 0.35 else f"{residue}{{1,2}}" if roll < 0.4 else residue
            )  # fmt: skip
        motif = ("^" if rng.random() < 0.2 else "") + motif + ("$" if rng.random() < 0.2 else "")
        regex = motif_regex(motif)
        pattern, exact = motif_like(regex)
        for candidate in (region, *("".join(rng.choice("ARGSYD") for _ in range(10)) for _ in range(6))):
            by_regex = re.search(regex, candidate) is not None
            by_like = re.match(_like_as_regex(pattern), candidate) is not None
            if exact:
                assert by_regex == by_like, (motif, pattern, candidate)
                exact_checked += 1
            else:
                assert by_like or not by_regex, (motif, pattern, candidate)
                superset_checked += 1
    assert exact_checked > 5000 and superset_checked > 5000
