"""The antibody tree: sequences, their chains, domains, regions and features.

Positions (``start_position``/``end_position``) on domains, regions and features are 1-based, inclusive
and relative to the *chain's* sequence: a region ``start_position=27, end_position=38`` is
``chain.sequence[26:38]``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    case,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abdb.db.base import Base, IdMixin, TimestampMixin, VocabularyCode
from abdb.db.models.columns import CONFIDENCE, confidence_check, fk, keyed, span_checks, vocab
from abdb.domain.vocabulary import ChainType, DomainType, FeatureType, Locus, NumberingScheme, RegionType

if TYPE_CHECKING:
    from abdb.db.models.operations import ProcessingJob


class AntibodySequence(IdMixin, TimestampMixin, Base):
    __tablename__ = "antibody_sequences"

    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), fk("users.id", "SET NULL"), index=True)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # sha256 of the normalised chains (abdb.domain.checksum): the identity of the content, for re-imports.
    content_checksum: Mapped[str | None] = mapped_column(String(64), index=True)
    # The import run that created this row (NULL for rows created otherwise). No foreign key: on Citus a batch
    # updates its run's counters after its multi-shard COPY, which a key to the reference table would refuse;
    # `abdb verify` checks for runs that do not exist instead (provenance.orphans).
    import_run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)

    chains: Mapped[list[AntibodyChain]] = relationship(
        back_populates="antibody_sequence",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AntibodyChain.id",
    )
    features: Mapped[list[SequenceFeature]] = relationship(
        back_populates="antibody_sequence",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SequenceFeature.id",
    )
    jobs: Mapped[list[ProcessingJob]] = relationship(
        back_populates="antibody_sequence",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ProcessingJob.id",
    )


def _scheme_rank(column: Any) -> Any:
    return case(*[(column == scheme, rank) for rank, scheme in enumerate(NumberingScheme)], else_=len(NumberingScheme))


class AntibodyChain(IdMixin, TimestampMixin, Base):
    __tablename__ = "antibody_chains"
    __table_args__ = (
        *keyed("antibody_chains", "antibody_sequence_id"),
        CheckConstraint("sequence_length = char_length(sequence)", name="sequence_length_matches"),
    )

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), fk("antibody_sequences.id"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    chain_type: Mapped[ChainType] = vocab(ChainType, "chain_types", nullable=False)
    # IGK vs IGL (and T-cell receptor loci), which chain_type LIGHT does not say; NULL when unknown.
    locus: Mapped[Locus | None] = vocab(Locus, "loci")
    sequence: Mapped[str] = mapped_column(Text, nullable=False)
    sequence_length: Mapped[int] = mapped_column(Integer, nullable=False)
    # The chain's own FASTA header (description, key=value pairs, extra id fields), when it had one.
    description: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )

    antibody_sequence: Mapped[AntibodySequence] = relationship(back_populates="chains")
    # A fixed order: by scheme in vocabulary order (IMGT, Kabat, Chothia, ...), then along the chain.
    domains: Mapped[list[AntibodyDomain]] = relationship(
        back_populates="chain",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by=lambda: [_scheme_rank(AntibodyDomain.numbering_scheme), AntibodyDomain.start_position],
    )


class AntibodyDomain(IdMixin, TimestampMixin, Base):
    __tablename__ = "antibody_domains"
    __table_args__ = (
        *keyed("antibody_domains", "antibody_sequence_id", ("chain_id", "antibody_chains", "antibody_sequence_id")),
        *span_checks(),
        confidence_check(),
    )

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    chain_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    domain_type: Mapped[DomainType] = vocab(DomainType, "domain_types", nullable=False)
    numbering_scheme: Mapped[NumberingScheme] = vocab(NumberingScheme, "numbering_schemes", nullable=False)
    sequence: Mapped[str] = mapped_column(Text, nullable=False)
    start_position: Mapped[int] = mapped_column(Integer, nullable=False)
    end_position: Mapped[int] = mapped_column(Integer, nullable=False)
    confidence_score: Mapped[Decimal | None] = mapped_column(CONFIDENCE)
    # The numbering engine's positions, [[number, insertion code, residue], ...] in sequence order, so that
    # regions can be recomputed under another border table without rerunning the engine.
    numbering: Mapped[list[list[Any]] | None] = mapped_column(JSONB(none_as_null=True))

    chain: Mapped[AntibodyChain] = relationship(back_populates="domains")
    regions: Mapped[list[AntibodyRegion]] = relationship(
        back_populates="domain",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AntibodyRegion.start_position",
    )


class AntibodyRegion(IdMixin, TimestampMixin, Base):
    __tablename__ = "antibody_regions"
    __table_args__ = (
        *keyed("antibody_regions", "antibody_sequence_id", ("domain_id", "antibody_domains", "antibody_sequence_id")),
        *span_checks(),
        confidence_check(),
        Index("ix_antibody_regions_region_type_sequence", "region_type", "sequence"),
        # edit-distance searches of regions too short for trigrams, and of frameworks (CDRs: cdr_search)
        Index("ix_antibody_regions_region_type_length", "region_type", text("char_length(sequence)")),
    )

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    domain_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # Indexed by the (region_type, sequence) index above, which CDR searches use.
    region_type: Mapped[RegionType] = mapped_column(
        VocabularyCode(RegionType), ForeignKey("region_types.code"), nullable=False
    )
    sequence: Mapped[str] = mapped_column(Text, nullable=False)
    start_position: Mapped[int] = mapped_column(Integer, nullable=False)
    end_position: Mapped[int] = mapped_column(Integer, nullable=False)
    confidence_score: Mapped[Decimal | None] = mapped_column(CONFIDENCE)

    domain: Mapped[AntibodyDomain] = relationship(back_populates="regions")


class SequenceFeature(IdMixin, TimestampMixin, Base):
    __tablename__ = "sequence_features"
    __table_args__ = (
        *keyed("sequence_features", "sequence_id", ("chain_id", "antibody_chains", "antibody_sequence_id")),
        *span_checks(nullable=True),
        confidence_check(),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), fk("antibody_sequences.id"), primary_key=True)
    # Not in the plan: positions are chain coordinates, so a positioned feature names its chain (the key
    # (sequence_id, chain_id) is checked only when chain_id is set: MATCH SIMPLE).
    chain_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    feature_type: Mapped[FeatureType] = vocab(FeatureType, "feature_types", nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[str | None] = mapped_column(Text)
    start_position: Mapped[int | None] = mapped_column(Integer)
    end_position: Mapped[int | None] = mapped_column(Integer)
    confidence_score: Mapped[Decimal | None] = mapped_column(CONFIDENCE)
    source: Mapped[str | None] = mapped_column(String(100))
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )

    antibody_sequence: Mapped[AntibodySequence] = relationship(back_populates="features")
