"""What a numbering engine gives back, and the small interface another engine would implement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# (position number, insertion code or "", residue)
NumberedResidue = tuple[int, str, str]


@dataclass(frozen=True)
class NumberedDomain:
    """One variable domain found in a chain, numbered under one scheme.

    ``start``/``end`` are 0-based, inclusive indices in the chain; ``numbering`` holds one entry per
    residue from ``start`` to ``end`` (no gaps), in sequence order.
    """

    chain_letter: str  # H, K, L (or A, B, G, D for T-cell receptors)
    species: str
    start: int
    end: int
    numbering: tuple[NumberedResidue, ...]
    v_gene: tuple[str, str, float] | None = None  # (species, allele, identity)
    j_gene: tuple[str, str, float] | None = None
    bitscore: float | None = None
    evalue: float | None = None


@dataclass(frozen=True)
class ChainNumbering:
    """Per scheme, the domains found in one chain (empty when the chain is not an antibody)."""

    domains: dict[str, tuple[NumberedDomain, ...]] = field(default_factory=dict)
    # Per scheme, the chain letters of domains found but not numbered because the scheme does not number
    # that kind of chain (Kabat and Chothia number antibodies only, not T-cell receptors A/B/G/D).
    not_numbered: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineSettings:
    schemes: tuple[str, ...] = ("imgt",)
    species: tuple[str, ...] = ("human", "mouse")
    bit_score_threshold: float = 80.0


class NumberingEngine(Protocol):
    name: str
    version: str

    def number(self, sequences: Sequence[str], settings: EngineSettings) -> list[ChainNumbering]:
        """Number every sequence under every scheme of ``settings``; never raises for a non-antibody."""
        ...
