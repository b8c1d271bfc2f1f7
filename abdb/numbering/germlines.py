"""Germline assignment as ANARCI does it (same identities, same ties), vectorised with numpy: each segment's
germlines as a matrix, so identity to a query is one comparison instead of ANARCI's per-position loop."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np


def anarci_module() -> Any:
    # ``anarci/__init__`` re-exports a function called ``anarci`` that hides the module of that name.
    importlib.import_module("anarci.anarci")
    return sys.modules["anarci.anarci"]


@dataclass(frozen=True)
class _GermlineTable:
    """Germlines of one segment as a matrix: identity to a query is a vectorised comparison."""

    names: list[tuple[str, str]]  # (species, gene), in ANARCI's iteration order
    residues: np.ndarray  # (genes, 128) uint8 codes
    counted: np.ndarray  # (genes, 128) bool: the germline has a residue there (not '-')
    lengths: np.ndarray  # (genes,) number of counted positions

    @classmethod
    def build(cls, entries: list[tuple[str, str, str]]) -> _GermlineTable:
        residues = np.array([list(sequence.encode("ascii")) for _, _, sequence in entries], dtype=np.uint8).reshape(
            len(entries), 128
        )
        counted = residues != ord("-")
        return cls([(name, gene) for name, gene, _ in entries], residues, counted, counted.sum(axis=1))

    def best(self, state: np.ndarray) -> tuple[tuple[str, str], float] | None:
        if not self.names:
            return None
        matches = ((self.residues == state) & self.counted).sum(axis=1)
        identities = np.where(self.lengths > 0, matches / np.maximum(self.lengths, 1), 0.0)
        index = int(np.argmax(identities))  # the first maximum, as max() over ANARCI's dict
        return self.names[index], float(identities[index])


@cache
def _germline_tables(chain_type: str, species: tuple[str, ...]) -> dict[str, _GermlineTable]:
    germlines = anarci_module().all_germlines
    tables = {}
    for segment in ("V", "J"):
        by_species = germlines[segment].get(chain_type, {})
        entries = [
            (name, gene, sequence)
            for name in (species or tuple(by_species))
            for gene, sequence in by_species.get(name, {}).items()
        ]
        tables[segment] = _GermlineTable.build(entries)
    return tables


def germline_assignment(
    state_vector: list[Any], sequence: str, chain_type: str, species: tuple[str, ...]
) -> dict[str, Any]:
    """ANARCI's ``run_germline_assignment`` (same identities, same ties), vectorised with numpy."""
    genes: dict[str, Any] = {"v_gene": [None, None], "j_gene": [None, None]}
    germlines = anarci_module().all_germlines
    if chain_type not in germlines["V"]:
        return genes
    if species and not all(name in germlines["V"][chain_type] for name in species):
        return {}
    # the residue at each match state 1-128, '-' where there is none: one pass over the alignment, the last
    # entry of a state winning as in ANARCI's dict(state_vector)
    state_sequence = bytearray(b"-" * 128)
    for (number, kind), index in state_vector:
        if kind == "m" and 1 <= number <= 128:
            state_sequence[number - 1] = ord(sequence[index].upper()) if index is not None else ord("-")
    state = np.frombuffer(bytes(state_sequence), dtype=np.uint8)
    best_v = _germline_tables(chain_type, species)["V"].best(state)
    if best_v is None:
        return genes
    genes["v_gene"] = [best_v[0], best_v[1]]
    # ANARCI takes the J gene from the V gene's species
    best_j = _germline_tables(chain_type, (best_v[0][0],))["J"].best(state)
    if best_j is not None:
        genes["j_gene"] = [best_j[0], best_j[1]]
    return genes
