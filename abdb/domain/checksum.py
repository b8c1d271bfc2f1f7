"""The content checksum of an antibody: what makes two records 'the same antibody'."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def normalise_residues(sequence: str) -> str:
    """Upper case, no whitespace and no alignment gaps."""
    return "".join(sequence.split()).replace("-", "").replace(".", "").upper()


def content_checksum(chains: Iterable[tuple[str, str]]) -> str:
    """sha256 over (chain type, normalised sequence) pairs, independent of their order and names."""
    parts = sorted(f"{chain_type.upper()}:{normalise_residues(sequence)}" for chain_type, sequence in chains)
    return hashlib.sha256("\n".join(parts).encode("ascii", errors="replace")).hexdigest()
