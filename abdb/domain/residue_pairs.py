"""Residue pairs at fixed gaps: the keys of the index that answers motif searches.

A motif such as ``AR.{3}SG`` has no run of three fixed residues, so no trigram can be asked of the trigram
index, and a regular expression over every CDR3 of a million antibodies takes 0.4-0.5 s (measured). What a
motif does fix is residues at known distances from each other: A then R one further, S then G, R then S
four further, A then G six further. Every CDR stores the set of its pairs (first residue, second residue,
gap) for gaps up to ``MAX_GAP``, each pair one small integer; a GIN index over those sets returns the CDRs
holding every pair the motif fixes — a superset of the matches, which the regular expression then checks.
So the keys never lose a match: a string matching the motif has its fixed residues at those gaps.

The server computes the same keys with ``abdb_residue_pairs(text)`` (migration 0010); a test checks that
both agree on every stored CDR.
"""

from __future__ import annotations

import re
from functools import lru_cache

from abdb.domain.vocabulary import RegionType

SEARCHED_REGIONS = frozenset({RegionType.CDR1, RegionType.CDR2, RegionType.CDR3})  # what cdr_search holds
MAX_GAP = 5  # pairs up to five residues apart: `CAR.{3}DY`-like motifs (a gap of four) are covered
_LETTER_OFFSET = 64  # ord("A") - 1: residues become 1..26


def pair_key(first: str, second: str, gap: int) -> int:
    """One pair as a smallint: 256 per first residue, 8 per second, the gap in the low three bits."""
    return (ord(first) - _LETTER_OFFSET) * 256 + (ord(second) - _LETTER_OFFSET) * 8 + gap - 1


_OFFSETS = tuple(gap - 1 - _LETTER_OFFSET * 256 - _LETTER_OFFSET * 8 for gap in range(1, MAX_GAP + 1))


def residue_pairs(residues: str) -> list[int]:
    """The distinct pair keys of a region's residues, ascending (as the server's function makes them)."""
    codes = residues.encode("ascii")  # residues are checked letters; bytes iterate as their codes
    keys: set[int] = set()
    for gap, offset in enumerate(_OFFSETS, start=1):  # pair_key, with the letters' offsets folded in
        keys.update([first * 256 + second * 8 + offset for first, second in zip(codes, codes[gap:], strict=False)])
    return sorted(keys)


@lru_cache(maxsize=1 << 16)
def pairs_text(residues: str) -> str:
    """The keys as a PostgreSQL array literal, for COPY. Cached: CDR1 and CDR2 come from the germline genes
    and repeat across a repertoire."""
    return "{" + ",".join(map(str, residue_pairs(residues))) + "}"


_TOKEN = re.compile(r"\[\^?[A-Z]+\]|[A-Z.]|\{(\d+)(,(\d*))?\}|\^|\$")


def motif_pairs(regex: str) -> list[int]:
    """The pair keys every string matching ``regex`` holds (``regex`` as ``motif_regex`` writes it:
    residues, ``.``, ``[..]``, ``{n}``, ``{n,m}``, ``^``, ``$``); empty when the motif fixes no two residues
    within MAX_GAP of each other at a known distance (the index cannot help then)."""
    segments: list[list[str | None]] = [[]]  # positions of known offset from each other; None: any residue
    for token in _TOKEN.finditer(regex):
        value = token.group()
        if value in ("^", "$"):
            continue
        if value.startswith("{"):  # the previous position, repeated: `low` times at least
            low, high = int(token.group(1)), token.group(3)
            current = segments[-1]
            repeated = current.pop()  # motif_regex allows a repeat only after a residue, `.` or a class
            current += [repeated] * low
            if token.group(2) is not None and (not high or int(high) != low):
                # a variable count: what follows is at an unknown distance, but right after a repetition
                segments.append([repeated] if low else [])
            continue
        single = len(value) == 1 and value != "."
        one_letter_class = value.startswith("[") and not value.startswith("[^") and len(set(value[1:-1])) == 1
        segments[-1].append(value if single else value[1] if one_letter_class else None)
    keys = set()
    for segment in segments:
        fixed = [(offset, residue) for offset, residue in enumerate(segment) if residue is not None]
        for index, (offset, residue) in enumerate(fixed):
            for later, other in fixed[index + 1 :]:
                if later - offset <= MAX_GAP:
                    keys.add(pair_key(residue, other, later - offset))
    return sorted(keys)


# Each key asked of the index is a posting list to read, and the common ones are long (`AR` one residue apart:
# 8% of all rows); what a motif's rarest keys let through, its commoner ones rarely remove. Measured at a
# million antibodies on 33 motifs, from memory: the three rarest keys and every key under 2% of the rows
# took 690 ms in all against 850 ms for every key (`AR.{3}SG` 41 -> 28 ms, `AR.{3}YY` 78 -> 69 ms); two keys
# let through many times the candidates (`AR.{3}YY`: 131 ms), and dropping the short lists can cost more
# than reading them (`VK.{3}IT`: 18 ms on its three rarest keys, 4 ms with a fourth held by 1% of the rows).
FEWEST_KEYS = 3
CHEAP_SHARE = 0.02


def selective_keys(keys: list[int], frequency: dict[int, float]) -> list[int]:
    """The keys worth asking of the index: the FEWEST_KEYS rarest and every key held by under CHEAP_SHARE of
    the rows; ``frequency`` is each key's share of the rows (the planner's statistics: a key they do not
    list is rarer than any they do). Any subset of a motif's keys is held by every match, so which keys are
    asked changes the speed, never the result."""
    ranked = sorted(keys, key=lambda key: frequency.get(key, 0.0))
    cheap = {key for key in keys if frequency.get(key, 0.0) < CHEAP_SHARE}
    return sorted(cheap.union(ranked[:FEWEST_KEYS]))
