"""What happens to the tree: users, processing jobs and their tool results, import runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Interval,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abdb.db.base import Base, CreatedAtMixin, IdMixin, TimestampMixin
from abdb.db.models.columns import fk, keyed, vocab
from abdb.domain.vocabulary import JobStatus, JobType

if TYPE_CHECKING:
    from abdb.db.models.tree import AntibodySequence


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_lower", text("lower(email)"), unique=True),)

    email: Mapped[str] = mapped_column(String(255), nullable=False)
    username: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)


class ProcessingJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "processing_jobs"
    __table_args__ = (
        CheckConstraint(
            "completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at",
            name="completed_after_started",
        ),
        *keyed("processing_jobs", "sequence_id"),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), fk("antibody_sequences.id"), primary_key=True)
    job_type: Mapped[JobType] = vocab(JobType, "job_types", nullable=False)
    status: Mapped[JobStatus] = vocab(
        JobStatus, "job_statuses", nullable=False, default=JobStatus.PENDING, server_default="PENDING"
    )
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
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
    __table_args__ = keyed(
        "external_tool_results", "antibody_sequence_id", ("job_id", "processing_jobs", "sequence_id")
    )

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    tool_name: Mapped[str] = mapped_column(String(100), nullable=False)
    tool_version: Mapped[str | None] = mapped_column(String(50))
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    output_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    execution_time: Mapped[dt.timedelta | None] = mapped_column(Interval)
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))

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
    status: Mapped[JobStatus] = vocab(
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
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), fk("users.id", "SET NULL"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error_message: Mapped[str | None] = mapped_column(Text)


class QueuedJob(Base):
    """A PENDING job's place in the claim queue. On Citus this table is distributed by ``bucket`` (its own
    co-location group), so a claim — ``FOR UPDATE SKIP LOCKED`` on one bucket — locks rows of one shard only;
    the job itself stays with its antibody. ``uow.jobs`` keeps it in step with ``processing_jobs`` (no foreign
    key can span the two distributions); `abdb verify` checks it (jobs.queue)."""

    __tablename__ = "job_queue"

    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, index=True)
    job_type: Mapped[JobType] = vocab(JobType, "job_types", nullable=False)
