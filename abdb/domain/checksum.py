"""The content checksum of an antibody: what makes two records 'the same antibody'."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def normalise_residues(sequence: str) -> str:
    """Upper case, no whitespace and no alignment gaps."""
    return "".join(sequence.split()).replace("-", "").replace(".", "").upper()


def content_checksum(sequences: Iterable[str]) -> str:
    """sha256 over the normalised chain sequences, independent of their order, names and chain types.

    Chain types are left out on purpose: a FASTA chain imported as UNKNOWN, later typed by the annotation
    step, or the same chains labelled differently by another file are still the same antibody. Migration
    0006 computes exactly this in SQL for stored rows.
    """
    parts = sorted(normalise_residues(sequence) for sequence in sequences)
    return hashlib.sha256("\n".join(parts).encode("ascii", errors="replace")).hexdigest()


def sequence_digest(sequence: str) -> str:
    """md5 of the normalised residues: the same value as PostgreSQL's ``md5(sequence)`` of a stored chain,
    so chains are compared without sending their residues (equality only; md5 is no protection here)."""
    return hashlib.md5(
        normalise_residues(sequence).encode("ascii", errors="replace"), usedforsecurity=False
    ).hexdigest()
