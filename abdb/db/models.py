"""The tables of the antibody database.

Positions (``start_position``/``end_position``) on domains, regions and features are 1-based, inclusive
and relative to the *chain's* sequence: a region ``start_position=27, end_position=38`` is
``chain.sequence[26:38]``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Interval,
    Numeric,
    String,
    Text,
    case,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abdb.db.base import Base, CreatedAtMixin, IdMixin, TimestampMixin, VocabularyCode
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

CONFIDENCE = Numeric(4, 3)


def _confidence_check() -> CheckConstraint:
    return CheckConstraint("confidence_score BETWEEN 0 AND 1", name="confidence_score_range")


def _span_checks(nullable: bool = False) -> tuple[CheckConstraint, CheckConstraint]:
    if nullable:
        return (
            CheckConstraint("start_position IS NULL OR start_position >= 1", name="start_position_positive"),
            CheckConstraint(
                "end_position IS NULL OR start_position IS NULL OR end_position >= start_position",
                name="end_after_start",
            ),
        )
    return (
        CheckConstraint("start_position >= 1", name="start_position_positive"),
        CheckConstraint("end_position >= start_position", name="end_after_start"),
    )


def _fk(target: str, ondelete: str = "CASCADE") -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


def _vocab(enum_class: Any, table: str, **kwargs: Any) -> Mapped[Any]:
    return mapped_column(VocabularyCode(enum_class), ForeignKey(f"{table}.code"), index=True, **kwargs)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_lower", text("lower(email)"), unique=True),)

    email: Mapped[str] = mapped_column(String(255), nullable=False)
    username: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)


class AntibodySequence(IdMixin, TimestampMixin, Base):
    __tablename__ = "antibody_sequences"

    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _fk("users.id", "SET NULL"), index=True)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="false")
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # sha256 of the normalised chains (abdb.domain.checksum): the identity of the content, for re-imports.
    content_checksum: Mapped[str | None] = mapped_column(String(64), index=True)
    # The import run that created this row (NULL for rows created otherwise).
    import_run_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), _fk("import_runs.id", "SET NULL"), index=True
    )

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
    __table_args__ = (CheckConstraint("sequence_length = char_length(sequence)", name="sequence_length_matches"),)

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), _fk("antibody_sequences.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    chain_type: Mapped[ChainType] = _vocab(ChainType, "chain_types", nullable=False)
    # IGK vs IGL (and T-cell receptor loci), which chain_type LIGHT does not say; NULL when unknown.
    locus: Mapped[Locus | None] = _vocab(Locus, "loci")
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
    __table_args__ = (*_span_checks(), _confidence_check())

    chain_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), _fk("antibody_chains.id"), nullable=False, index=True
    )
    domain_type: Mapped[DomainType] = _vocab(DomainType, "domain_types", nullable=False)
    numbering_scheme: Mapped[NumberingScheme] = _vocab(NumberingScheme, "numbering_schemes", nullable=False)
    sequence: Mapped[str] = mapped_column(Text, nullable=False)
    start_position: Mapped[int] = mapped_column(Integer, nullable=False)
    end_position: Mapped[int] = mapped_column(Integer, nullable=False)
    confidence_score: Mapped[Decimal | None] = mapped_column(CONFIDENCE)
    # The numbering engine's positions, [[number, insertion code, residue], ...] in sequence order, so that
    # regions can be recomputed under another border table without rerunning the engine.
    numbering: Mapped[list[list[Any]] | None] = mapped_column(JSONB)

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
        *_span_checks(),
        _confidence_check(),
        Index("ix_antibody_regions_region_type_sequence", "region_type", "sequence"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), _fk("antibody_domains.id"), nullable=False, index=True
    )
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
    __table_args__ = (*_span_checks(nullable=True), _confidence_check())

    sequence_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), _fk("antibody_sequences.id"), nullable=False, index=True
    )
    # Not in the plan: positions are chain coordinates, so a positioned feature names its chain.
    chain_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _fk("antibody_chains.id"), index=True)
    feature_type: Mapped[FeatureType] = _vocab(FeatureType, "feature_types", nullable=False)
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


class ProcessingJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "processing_jobs"
    __table_args__ = (
        CheckConstraint(
            "completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at",
            name="completed_after_started",
        ),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), _fk("antibody_sequences.id"), nullable=False, index=True
    )
    job_type: Mapped[JobType] = _vocab(JobType, "job_types", nullable=False)
    status: Mapped[JobStatus] = _vocab(
        JobStatus, "job_statuses", nullable=False, default=JobStatus.PENDING, server_default="PENDING"
    )
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    antibody_sequence: Mapped[AntibodySequence] = relationship(back_populates="jobs")
    tool_results: Mapped[list[ExternalToolResult]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ExternalToolResult.id",
    )


class ExternalToolResult(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "external_tool_results"

    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), _fk("processing_jobs.id"), nullable=False, index=True)
    tool_name: Mapped[str] = mapped_column(String(100), nullable=False)
    tool_version: Mapped[str | None] = mapped_column(String(50))
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    execution_time: Mapped[dt.timedelta | None] = mapped_column(Interval)
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    job: Mapped[ProcessingJob] = relationship(back_populates="tool_results")


class ImportRun(IdMixin, TimestampMixin, Base):
    """One ``abdb import`` run: what it read, with which options, and what it did.

    Counters are updated in the same transaction as each batch they describe, so they stay exact even
    when a run is killed (its status then stays RUNNING).
    """

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(
            "inserted >= 0 AND unchanged >= 0 AND conflicting >= 0 AND rejected >= 0 AND replaced >= 0",
            name="counts_not_negative",
        ),
    )

    command: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[JobStatus] = _vocab(
        JobStatus, "job_statuses", nullable=False, default=JobStatus.RUNNING, server_default="RUNNING"
    )
    options: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # [{path, sha256, inserted, unchanged, conflicting, rejected, replaced, seconds}, ...]
    files: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    inserted: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    conflicting: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    replaced: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), _fk("users.id", "SET NULL"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error_message: Mapped[str | None] = mapped_column(Text)


TABLES_WITH_UPDATED_AT: tuple[str, ...] = tuple(
    mapper.local_table.name  # type: ignore[attr-defined]
    for mapper in Base.registry.mappers
    if "updated_at" in mapper.local_table.c
)
DATA_TABLES: tuple[str, ...] = (
    "users",
    "import_runs",
    "antibody_sequences",
    "antibody_chains",
    "antibody_domains",
    "antibody_regions",
    "sequence_features",
    "processing_jobs",
    "external_tool_results",
)
