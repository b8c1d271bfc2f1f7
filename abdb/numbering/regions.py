"""FR/CDR regions from a numbering: a border table per scheme and chain type.

Borders are the first position number of each region (the usual definitions: IMGT for both chain types;
Kabat and Chothia differ between heavy and light chains). Insertion codes stay with their position number
(Kabat 35A is CDR-H1, IMGT 111A and 112A are CDR3), and the numbering is already in sequence order (IMGT's
reversed insertions before 33, 61 and 112 come out of ANARCI as 32A..., 111A, 112A, 112), so each region
is a run of consecutive residues and the seven regions tile the domain.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

from abdb.domain.vocabulary import RegionType
from abdb.numbering.engine import NumberedResidue

# First position of FR1, CDR1, FR2, CDR2, FR3, CDR3, FR4.
BORDERS: dict[tuple[str, str], tuple[int, ...]] = {
    ("imgt", "H"): (1, 27, 39, 56, 66, 105, 118),
    ("imgt", "L"): (1, 27, 39, 56, 66, 105, 118),
    ("kabat", "H"): (1, 31, 36, 50, 66, 95, 103),
    ("kabat", "L"): (1, 24, 35, 50, 57, 89, 98),
    ("chothia", "H"): (1, 26, 33, 52, 57, 95, 103),
    ("chothia", "L"): (1, 24, 35, 50, 57, 89, 98),
}
# T-cell receptor chains: VDJ chains (beta, delta) are numbered like heavy chains, VJ chains like light ones.
BORDER_CLASS = {"H": "H", "B": "H", "D": "H", "K": "L", "L": "L", "A": "L", "G": "L"}
REGIONS = tuple(RegionType)


@dataclass(frozen=True)
class RegionSpan:
    region_type: RegionType
    sequence: str
    first: int  # index of the first residue in the numbering
    last: int  # index of the last residue in the numbering, inclusive


def regions_of(numbering: tuple[NumberedResidue, ...], scheme: str, chain_letter: str) -> list[RegionSpan]:
    """The regions present in the numbering, in order; together they cover every residue."""
    borders = BORDERS[(scheme, BORDER_CLASS[chain_letter])]
    numbers = [position for position, _, _ in numbering]
    if numbers != sorted(numbers):  # never from ANARCI; then each residue is placed on its own
        return _regions_residue_by_residue(numbering, borders)
    residues = "".join(residue for _, _, residue in numbering)
    # numbers only grow along the chain, so each region is the slice between two borders' places
    places = [0, *(bisect_left(numbers, border) for border in borders[1:]), len(numbers)]
    return [
        RegionSpan(REGIONS[region], residues[first:last], first, last - 1)
        for region, (first, last) in enumerate(pairwise(places))
        if last > first
    ]


def _regions_residue_by_residue(numbering: tuple[NumberedResidue, ...], borders: tuple[int, ...]) -> list[RegionSpan]:
    spans: list[RegionSpan] = []
    current: int | None = None
    first = 0
    residues: list[str] = []
    for index, (position, _insertion, residue) in enumerate(numbering):
        region = _region_index(position, borders)
        if region != current:
            if current is not None:
                spans.append(RegionSpan(REGIONS[current], "".join(residues), first, index - 1))
            current, first, residues = region, index, []
        residues.append(residue)
    if current is not None:
        spans.append(RegionSpan(REGIONS[current], "".join(residues), first, len(numbering) - 1))
    return spans


def _region_index(position: int, borders: tuple[int, ...]) -> int:
    """The last region whose first position is at or before ``position`` (the first region before all)."""
    return max(bisect_right(borders, position) - 1, 0)
