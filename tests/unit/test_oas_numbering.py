"""OAS's ANARCI numbering literal is read the same by the fast reader and by ``ast.literal_eval``, and a
literal that is code is refused, never run."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from abdb.domain.records import RecordError
from abdb.io.oas import REGION_KEYS, parse_numbering

UNITS = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "oas").glob("SRR*.csv"))


def _literals() -> list[str]:
    found = []
    for unit in UNITS:
        rows = list(csv.reader(unit.read_text().splitlines()))
        header = rows[1]
        for row in rows[2:]:
            found += [value for column, value in zip(header, row, strict=True) if column.startswith("ANARCI_numbering")]
    return found


def _by_literal_eval(literal: str) -> tuple[tuple[int, str, str], ...]:
    value = ast.literal_eval(literal)
    letter = next(iter(value))[-2]
    numbered = []
    for key in (template.format(letter) for template in REGION_KEYS):
        for position, residue in value.get(key, {}).items():
            digits = position.strip()
            number = digits.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            numbered.append((int(number), digits[len(number) :], residue))
    return tuple(numbered)


def test_every_fixture_numbering_reads_as_literal_eval_reads_it() -> None:
    literals = _literals()
    assert len(literals) >= 24  # 6 unpaired, 6 + 3 pairs
    for literal in literals:
        assert parse_numbering(literal) == _by_literal_eval(literal)
        assert parse_numbering(literal.replace("'", '"')) == _by_literal_eval(literal)  # the slow path


def test_insertions_and_region_order_are_kept() -> None:
    literal = "{'cdrh3': {'110 ': 'A', '111A': 'G', '112A': 'Y', '112 ': 'D'}, 'fwh1': {'1 ': 'Q', '2 ': 'V'}}"
    assert parse_numbering(literal) == (
        (1, "", "Q"),
        (2, "", "V"),
        (110, "", "A"),
        (111, "A", "G"),
        (112, "A", "Y"),
        (112, "", "D"),
    )


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("__import__('os').system('touch /tmp/abdb-hacked')", "not a Python dict literal"),
        ("{'fwx1': {'1 ': 'Q'}}", "are not fwh1"),
        ("{'fwh1': {'1 ': 'Q'}, 'loop9': {'2 ': 'V'}}", "not fwh1"),
        ("{'fwh1': {'one': 'Q'}}", "is not a number"),
        ("[1, 2]", "should be a dict of regions"),
    ],
)
def test_a_literal_that_is_not_a_numbering_is_refused_with_the_reason(literal: str, reason: str) -> None:
    with pytest.raises(RecordError) as refused:
        parse_numbering(literal)
    assert reason in str(refused.value)
    assert not Path("/tmp/abdb-hacked").exists()


def test_regions_by_border_places_are_the_regions_residue_by_residue() -> None:
    from abdb.numbering.regions import BORDER_CLASS, BORDERS, _regions_residue_by_residue, regions_of

    for literal in _literals():
        numbering = parse_numbering(literal)
        letter = {"h": "H", "k": "K", "l": "L"}[literal[4]]  # {'fwh1': …
        for scheme in ("imgt", "kabat", "chothia"):
            borders = BORDERS[(scheme, BORDER_CLASS[letter])]
            assert regions_of(numbering, scheme, letter) == _regions_residue_by_residue(numbering, borders)
    shuffled = ((30, "", "A"), (1, "", "Q"), (120, "", "S"))  # not in order: placed residue by residue
    assert [span.region_type.value for span in regions_of(shuffled, "imgt", "H")] == ["CDR1", "FR1", "FR4"]


def test_anything_between_the_entries_sends_the_literal_to_the_strict_reader() -> None:
    with pytest.raises(RecordError, match="not a Python dict literal"):
        parse_numbering("{'fwh1': {'1 ': 'Q', __import__('os'), '2 ': 'V'}}")
