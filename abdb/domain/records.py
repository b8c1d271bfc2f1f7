"""What an import produces before it touches the database: whole antibodies, or reasons to reject one."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from abdb.domain.checksum import content_checksum, sequence_digest
from abdb.domain.vocabulary import (
    ChainType,
    DomainType,
    FeatureType,
    JobStatus,
    JobType,
    Locus,
    NumberingScheme,
    RegionType,
)

STANDARD_RESIDUES = frozenset("ACDEFGHIKLMNPQRSTVWY")
ALLOWED_WITH_X = STANDARD_RESIDUES | {"X"}
_DELETE_STANDARD = str.maketrans("", "", "".join(STANDARD_RESIDUES))
_DELETE_X = str.maketrans("", "", "".join(ALLOWED_WITH_X))
DEFAULT_MIN_LENGTH = 20
# ANARCI refuses longer sequences, and real antibody chains stay under ~1,000 residues.
MAX_RESIDUES = 10_000


class RecordError(ValueError):
    """One record is invalid; the message says why and how to fix it."""


class Pairing(StrEnum):
    """How a record's chains came together: in the order read, from records apart, or from several files."""

    AS_READ = "as read"
    APART = "apart"
    ACROSS_FILES = "across files"


@dataclass(frozen=True)
class RegionRecord:
    """Positions are 1-based, inclusive, in chain coordinates."""

    region_type: RegionType
    sequence: str
    start: int
    end: int
    confidence: float | None = None


@dataclass(frozen=True)
class DomainRecord:
    """Positions are 1-based, inclusive, in chain coordinates."""

    domain_type: DomainType
    numbering_scheme: NumberingScheme
    sequence: str
    start: int
    end: int
    regions: tuple[RegionRecord, ...] = ()
    confidence: float | None = None
    # the engine's positions, ((number, insertion code, residue), ...), when the input carries them
    numbering: tuple[tuple[int, str, str], ...] | None = None


@dataclass(frozen=True)
class FeatureRecord:
    feature_type: FeatureType
    name: str
    value: str | None
    source: str | None
    chain_index: int | None = None
    start: int | None = None
    end: int | None = None
    confidence: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainRecord:
    name: str
    chain_type: ChainType
    sequence: str
    locus: Locus | None = None
    domains: tuple[DomainRecord, ...] = ()
    # True when the input itself named the chain (a FASTA label such as ``|heavy`` or ``_L``): then its name
    # and type are part of what "the same antibody" means on re-import (see ``labels``).
    labelled: bool = False
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolResultRecord:
    tool_name: str
    tool_version: str | None
    input_data: Any
    output_data: Any
    execution_seconds: float | None
    success: bool
    error_details: Any


@dataclass(frozen=True)
class JobRecord:
    """A processing job as an abdb JSON export carries it (timestamps as ISO 8601 text)."""

    job_type: JobType
    status: JobStatus
    input_data: Any = None
    output_data: Any = None
    error_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    tool_results: tuple[ToolResultRecord, ...] = ()


@dataclass(frozen=True)
class AntibodyRecord:
    name: str
    chains: tuple[ChainRecord, ...]
    source: str
    location: str
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    features: tuple[FeatureRecord, ...] = ()
    pairing: Pairing = Pairing.AS_READ
    # None: an annotation job is queued when the record needs annotation; a tuple (abdb JSON): exactly these
    jobs: tuple[JobRecord, ...] | None = None
    # where the record was first imported, when it comes from an export (kept as metadata.import.origin)
    origin: dict[str, Any] | None = None
    public: bool | None = None  # the input's own visibility (abdb JSON), used unless --public/--private

    @property
    def needs_annotation(self) -> bool:
        """True unless every chain has a variable domain with all seven regions: legacy files often hold
        ``"domains": []``, ``"regions": {}`` or only some CDRs, and those chains still need numbering."""
        return not all(
            any(d.domain_type is DomainType.VARIABLE and len(d.regions) == len(RegionType) for d in chain.domains)
            for chain in self.chains
        )

    @cached_property  # asked by the reader, the duplicate check and the row builder
    def checksum(self) -> str:
        return content_checksum(chain.sequence for chain in self.chains)

    @property
    def labels(self) -> frozenset[tuple[str, str, str]]:
        """(sequence digest, chain name, chain type) of every chain the input labelled itself: a stored
        antibody with the same checksum is only "unchanged" when it holds each of these too."""
        return frozenset(
            (sequence_digest(chain.sequence), chain.name, str(chain.chain_type))
            for chain in self.chains
            if chain.labelled
        )


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
    if len(residues) > MAX_RESIDUES:
        raise RecordError(f"{len(residues):,} residues long; no antibody chain is longer than {MAX_RESIDUES:,}")
    unexpected = residues.translate(_DELETE_X if allow_x else _DELETE_STANDARD)  # C speed: no per-residue loop
    if unexpected:
        position = residues.index(unexpected[0]) + 1
        extra = " (and X with --allow-x)" if not allow_x else ""
        shown = unexpected[0] if unexpected[0].isprintable() else repr(unexpected[0])
        raise RecordError(
            f"{shown!r} at position {position} is not an amino acid; allowed residues are "
            f"{''.join(sorted(STANDARD_RESIDUES))}{extra}"
        )
    if len(residues) < min_length:
        raise RecordError(f"only {len(residues)} residues long; the minimum is {min_length} (--min-length)")
    return residues


MAX_NAME_LENGTH = 255
MAX_CHAIN_NAME_LENGTH = 100


def validate_name(name: str, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """The stripped name, or RecordError when it is empty, too long or holds a NUL byte."""
    cleaned = name.strip()
    if not cleaned:
        raise RecordError(f"the {what} is empty")
    if len(cleaned) > max_length:
        raise RecordError(f"the {what} is {len(cleaned):,} characters long; the limit is {max_length}")
    check_storable(cleaned, f"the {what}")
    return cleaned


def check_storable(value: Any, what: str) -> None:
    """PostgreSQL text and JSONB cannot hold NUL characters: reject them instead of failing the batch."""
    if isinstance(value, str):
        if "\x00" in value:
            raise RecordError(f"{what} contains a NUL character, which the database cannot store")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, what)
            check_storable(item, what)
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable(item, what)
