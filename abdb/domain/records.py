"""What an import produces before it touches the database: whole antibodies, or reasons to reject one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from abdb.domain.checksum import content_checksum
from abdb.domain.vocabulary import ChainType

STANDARD_RESIDUES = frozenset("ACDEFGHIKLMNPQRSTVWY")
DEFAULT_MIN_LENGTH = 20


class RecordError(ValueError):
    """One record is invalid; the message says why and how to fix it."""


@dataclass(frozen=True)
class ChainRecord:
    name: str
    chain_type: ChainType
    sequence: str


@dataclass(frozen=True)
class AntibodyRecord:
    name: str
    chains: tuple[ChainRecord, ...]
    source: str
    location: str
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        return content_checksum((chain.chain_type.value, chain.sequence) for chain in self.chains)


@dataclass(frozen=True)
class Rejection:
    source: str
    location: str
    record_name: str | None
    stage: str
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "file": self.source,
            "location": self.location,
            "record": self.record_name,
            "stage": self.stage,
            "reason": self.reason,
        }


def validate_residues(sequence: str, *, allow_x: bool, min_length: int) -> str:
    """Return the upper-cased sequence, or raise RecordError naming the first bad residue."""
    residues = sequence.upper()
    if not residues:
        raise RecordError("the sequence is empty")
    allowed = STANDARD_RESIDUES | {"X"} if allow_x else STANDARD_RESIDUES
    for position, residue in enumerate(residues, start=1):
        if residue not in allowed:
            extra = " (and X with --allow-x)" if not allow_x else ""
            shown = residue if residue.isprintable() else repr(residue)
            raise RecordError(
                f"{shown!r} at position {position} is not an amino acid; allowed residues are "
                f"{''.join(sorted(STANDARD_RESIDUES))}{extra}"
            )
    if len(residues) < min_length:
        raise RecordError(f"only {len(residues)} residues long; the minimum is {min_length} (--min-length)")
    return residues
