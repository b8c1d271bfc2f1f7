"""What a search asks and finds, and the pure parts of answering it exactly: motifs, distances, and the
pieces of a query that let an index narrow an edit-distance search without losing a match (see
pigeonhole_pieces).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from abdb.domain.vocabulary import ChainType, Locus, RegionType

AMINO_ACIDS = frozenset("ACDEFGHIKLMNPQRSTVWY")
MAX_LEVENSHTEIN = 255  # fuzzystrmatch refuses longer strings
MAX_EDITS = 5


class SearchKind(StrEnum):
    EXACT = "exact"
    SUBSTRING = "substring"
    MOTIF = "motif"
    EDITS = "edits"  # Levenshtein: substitutions, insertions, deletions
    SUBSTITUTIONS = "substitutions"  # Hamming: same length


class SearchError(ValueError):
    """The search cannot be run as asked; the message says why and what to write instead."""


@dataclass(frozen=True)
class RegionSearch:
    query: str
    kind: SearchKind = SearchKind.EXACT
    max_distance: int = 0
    region: RegionType = RegionType.CDR3
    scheme: str = "IMGT"
    chain_type: ChainType | None = None  # None: any chain
    v_gene: str | None = None  # prefix of the V gene or allele
    j_gene: str | None = None
    locus: Locus | None = None
    species: str | None = None
    length: tuple[int, int] | None = None  # of the region, inclusive
    limit: int = 100


@dataclass(frozen=True)
class RegionHit:
    antibody_id: uuid.UUID
    antibody_name: str
    chain_name: str
    chain_type: str
    scheme: str
    region: str
    sequence: str
    distance: int
    v_gene: str | None
    j_gene: str | None


def clean_query(query: str, what: str = "the query") -> str:
    residues = "".join(query.split()).upper()
    if not residues:
        raise SearchError(f"{what} is empty")
    unexpected = sorted(set(residues) - AMINO_ACIDS - {"X"})
    if unexpected:
        raise SearchError(
            f"{what} {query!r} holds {', '.join(map(repr, unexpected))}, which are not amino acids "
            "(for patterns use --motif, e.g. 'AR.{3}DY')"
        )
    return residues


_MOTIF_TOKEN = re.compile(r"\[\^?[A-Z]+\]|[A-Z.]|\{\d+(,\d*)?\}|\^|\$")


def motif_regex(motif: str) -> str:
    """The motif as a POSIX regular expression, or SearchError naming the first character it does not allow.

    Allowed: residues, ``.`` or ``X`` for any residue, ``[AG]`` (one of) and ``[^P]`` (any but), ``{3}`` and
    ``{2,4}`` repeats of what precedes, ``^`` and ``$`` to anchor at the region's ends."""
    text = "".join(motif.split()).upper()
    if not text:
        raise SearchError("the motif is empty")
    parts: list[str] = []
    at = 0
    while at < len(text):
        token = _MOTIF_TOKEN.match(text, at)
        repeat_of_nothing = (
            token is not None
            and token.group().startswith("{")
            and (not parts or parts[-1] in ("^", "$") or parts[-1].startswith("{"))
        )
        if token is None or repeat_of_nothing:
            raise SearchError(
                f"motif {motif!r}: {text[at]!r} at position {at + 1} is not allowed; write residues, . or X for "
                "any residue, [AG] for one of, [^P] for any but, {3} or {2,4} for repeats, ^ and $ for the ends"
            )
        value = token.group()
        if value.startswith("[") and set(value.strip("[^]")) - AMINO_ACIDS:
            raise SearchError(f"motif {motif!r}: {value} holds letters that are not amino acids")
        if value.startswith("{"):
            low, _, high = value.strip("{}").partition(",")
            if high and int(high) < int(low):
                raise SearchError(f"motif {motif!r}: {value} repeats from {low} to fewer ({high})")
        if (value == "^" and at != 0) or (value == "$" and at != len(text) - 1):
            raise SearchError(f"motif {motif!r}: {value} belongs at the {'start' if value == '^' else 'end'}")
        parts.append("." if value == "X" else value)
        at = token.end()
    return "".join(parts)


_LIKE_TOKEN = re.compile(r"\[\^?[A-Z]+\]|[A-Z.]|\{(\d+)(,\d*)?\}|\^|\$")


def motif_like(regex: str) -> tuple[str, bool]:
    """(a LIKE pattern every CDR matching the motif ``regex`` matches, whether matching it is the same as
    matching the motif). ``regex`` as motif_regex writes it. LIKE is checked about 20 times faster than a
    regular expression (measured: 1 ms against 22 ms on 50,000 CDRs): a motif of residues, ``.`` and
    ``{n}`` repeats is exactly a LIKE pattern (``AR.{3}DY`` is ``%AR___DY%``); one with ``[AG]`` or ``{2,4}``
    has a LIKE pattern that lets through a superset (``%AR%DY%``), and the regular expression decides."""
    units: list[str] = []
    exact = True
    for token in _LIKE_TOKEN.finditer(regex):
        value = token.group()
        if value in ("^", "$"):
            continue
        if value.startswith("{"):  # the previous unit, repeated: at least `low` times
            repeated, low = units.pop(), int(token.group(1))
            units += [repeated] * low
            if token.group(2) is not None:  # a variable count: anything may follow the least
                units.append("%")
                exact = False
            continue
        if value.startswith("["):
            exact = False
        units.append("_" if value == "." or value.startswith("[") else value)
    start = "" if regex.startswith("^") else "%"
    end = "" if regex.endswith("$") else "%"
    return re.sub("%+", "%", start + "".join(units) + end), exact


MIN_PIECE = 3  # pg_trgm makes no trigram of an unanchored piece shorter than this


def pigeonhole_pieces(query: str, edits: int) -> list[str] | None:
    """``edits + 1`` disjoint pieces covering the query, as even in length as they can be; every string
    within ``edits`` edits (or substitutions) of the query contains one of them unchanged (see above). None
    when a piece would be shorter than MIN_PIECE residues."""
    count = edits + 1
    if len(query) < MIN_PIECE * count:
        return None
    size, longer = divmod(len(query), count)
    pieces, start = [], 0
    for index in range(count):
        length = size + (index >= count - longer)  # the spare residues go to the last pieces
        pieces.append(query[start : start + length])
        start += length
    return pieces


def hamming(a: str, b: str) -> int | None:
    """Substitutions between two strings of the same length (None for different lengths)."""
    if len(a) != len(b):
        return None
    return sum(x != y for x, y in zip(a, b, strict=True))


def levenshtein(a: str, b: str) -> int:
    """Edits (substitutions, insertions, deletions) between two strings: the reference the tests compare with."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]
