"""initial schema: the plan's tables, lookup-table vocabularies, updated_at triggers

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:54:57.374855
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VOCABULARIES: dict[str, list[str]] = {
    "chain_types": ["HEAVY", "LIGHT", "SINGLE_CHAIN"],
    "domain_types": ["VARIABLE", "CONSTANT", "JOINING"],
    "numbering_schemes": ["IMGT", "KABAT", "CHOTHIA"],
    "region_types": ["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"],
    "feature_types": ["GENE", "ALLELE", "ISOTYPE", "MUTATION", "POST_TRANSLATIONAL"],
    "job_types": ["ANNOTATION", "ALIGNMENT", "ANALYSIS"],
    "job_statuses": ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"],
}
TABLES_WITH_UPDATED_AT = [
    "users",
    "antibody_sequences",
    "antibody_chains",
    "antibody_domains",
    "antibody_regions",
    "sequence_features",
    "processing_jobs",
]
TOUCH_FUNCTION = """
CREATE FUNCTION abdb_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "chain_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_chain_types")),
    )
    op.create_table(
        "domain_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_domain_types")),
    )
    op.create_table(
        "feature_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_feature_types")),
    )
    op.create_table(
        "job_statuses",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_job_statuses")),
    )
    op.create_table(
        "job_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_job_types")),
    )
    op.create_table(
        "numbering_schemes",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_numbering_schemes")),
    )
    op.create_table(
        "region_types",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region_types")),
    )
    op.create_table(
        "users",
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index("uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "antibody_sequences",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_antibody_sequences_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antibody_sequences")),
    )
    op.create_index(op.f("ix_antibody_sequences_created_by"), "antibody_sequences", ["created_by"], unique=False)
    op.create_index(op.f("ix_antibody_sequences_name"), "antibody_sequences", ["name"], unique=False)
    op.create_table(
        "antibody_chains",
        sa.Column("antibody_sequence_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("chain_type", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Text(), nullable=False),
        sa.Column("sequence_length", sa.Integer(), nullable=False),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "sequence_length = char_length(sequence)", name=op.f("ck_antibody_chains_sequence_length_matches")
        ),
        sa.ForeignKeyConstraint(
            ["antibody_sequence_id"],
            ["antibody_sequences.id"],
            name=op.f("fk_antibody_chains_antibody_sequence_id_antibody_sequences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chain_type"], ["chain_types.code"], name=op.f("fk_antibody_chains_chain_type_chain_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antibody_chains")),
    )
    op.create_index(
        op.f("ix_antibody_chains_antibody_sequence_id"),
        "antibody_chains",
        ["antibody_sequence_id"],
        unique=False,
    )
    op.create_index(op.f("ix_antibody_chains_chain_type"), "antibody_chains", ["chain_type"], unique=False)
    op.create_table(
        "processing_jobs",
        sa.Column("sequence_id", sa.UUID(), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), server_default="PENDING", nullable=False),
        sa.Column("input_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("output_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at",
            name=op.f("ck_processing_jobs_completed_after_started"),
        ),
        sa.ForeignKeyConstraint(["job_type"], ["job_types.code"], name=op.f("fk_processing_jobs_job_type_job_types")),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["antibody_sequences.id"],
            name=op.f("fk_processing_jobs_sequence_id_antibody_sequences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["status"], ["job_statuses.code"], name=op.f("fk_processing_jobs_status_job_statuses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_jobs")),
    )
    op.create_index(op.f("ix_processing_jobs_job_type"), "processing_jobs", ["job_type"], unique=False)
    op.create_index(op.f("ix_processing_jobs_sequence_id"), "processing_jobs", ["sequence_id"], unique=False)
    op.create_index(op.f("ix_processing_jobs_status"), "processing_jobs", ["status"], unique=False)
    op.create_table(
        "antibody_domains",
        sa.Column("chain_id", sa.UUID(), nullable=False),
        sa.Column("domain_type", sa.String(length=32), nullable=False),
        sa.Column("numbering_scheme", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Text(), nullable=False),
        sa.Column("start_position", sa.Integer(), nullable=False),
        sa.Column("end_position", sa.Integer(), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("confidence_score BETWEEN 0 AND 1", name=op.f("ck_antibody_domains_confidence_score_range")),
        sa.CheckConstraint("end_position >= start_position", name=op.f("ck_antibody_domains_end_after_start")),
        sa.CheckConstraint("start_position >= 1", name=op.f("ck_antibody_domains_start_position_positive")),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["antibody_chains.id"],
            name=op.f("fk_antibody_domains_chain_id_antibody_chains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["domain_type"], ["domain_types.code"], name=op.f("fk_antibody_domains_domain_type_domain_types")
        ),
        sa.ForeignKeyConstraint(
            ["numbering_scheme"],
            ["numbering_schemes.code"],
            name=op.f("fk_antibody_domains_numbering_scheme_numbering_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antibody_domains")),
    )
    op.create_index(op.f("ix_antibody_domains_chain_id"), "antibody_domains", ["chain_id"], unique=False)
    op.create_index(op.f("ix_antibody_domains_domain_type"), "antibody_domains", ["domain_type"], unique=False)
    op.create_index(
        op.f("ix_antibody_domains_numbering_scheme"), "antibody_domains", ["numbering_scheme"], unique=False
    )
    op.create_table(
        "external_tool_results",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("tool_name", sa.String(length=100), nullable=False),
        sa.Column("tool_version", sa.String(length=50), nullable=True),
        sa.Column("input_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("output_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("execution_time", sa.Interval(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["processing_jobs.id"],
            name=op.f("fk_external_tool_results_job_id_processing_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tool_results")),
    )
    op.create_index(op.f("ix_external_tool_results_job_id"), "external_tool_results", ["job_id"], unique=False)
    op.create_table(
        "sequence_features",
        sa.Column("sequence_id", sa.UUID(), nullable=False),
        sa.Column("chain_id", sa.UUID(), nullable=True),
        sa.Column("feature_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("start_position", sa.Integer(), nullable=True),
        sa.Column("end_position", sa.Integer(), nullable=True),
        sa.Column("confidence_score", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "confidence_score BETWEEN 0 AND 1", name=op.f("ck_sequence_features_confidence_score_range")
        ),
        sa.CheckConstraint(
            "end_position IS NULL OR start_position IS NULL OR end_position >= start_position",
            name=op.f("ck_sequence_features_end_after_start"),
        ),
        sa.CheckConstraint(
            "start_position IS NULL OR start_position >= 1",
            name=op.f("ck_sequence_features_start_position_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["antibody_chains.id"],
            name=op.f("fk_sequence_features_chain_id_antibody_chains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_type"],
            ["feature_types.code"],
            name=op.f("fk_sequence_features_feature_type_feature_types"),
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["antibody_sequences.id"],
            name=op.f("fk_sequence_features_sequence_id_antibody_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_features")),
    )
    op.create_index(op.f("ix_sequence_features_chain_id"), "sequence_features", ["chain_id"], unique=False)
    op.create_index(op.f("ix_sequence_features_feature_type"), "sequence_features", ["feature_type"], unique=False)
    op.create_index(op.f("ix_sequence_features_sequence_id"), "sequence_features", ["sequence_id"], unique=False)
    op.create_table(
        "antibody_regions",
        sa.Column("domain_id", sa.UUID(), nullable=False),
        sa.Column("region_type", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Text(), nullable=False),
        sa.Column("start_position", sa.Integer(), nullable=False),
        sa.Column("end_position", sa.Integer(), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=4, scale=3), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("confidence_score BETWEEN 0 AND 1", name=op.f("ck_antibody_regions_confidence_score_range")),
        sa.CheckConstraint("end_position >= start_position", name=op.f("ck_antibody_regions_end_after_start")),
        sa.CheckConstraint("start_position >= 1", name=op.f("ck_antibody_regions_start_position_positive")),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["antibody_domains.id"],
            name=op.f("fk_antibody_regions_domain_id_antibody_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_type"], ["region_types.code"], name=op.f("fk_antibody_regions_region_type_region_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_antibody_regions")),
    )
    op.create_index(op.f("ix_antibody_regions_domain_id"), "antibody_regions", ["domain_id"], unique=False)
    op.create_index(
        "ix_antibody_regions_region_type_sequence",
        "antibody_regions",
        ["region_type", "sequence"],
        unique=False,
    )
    for table, codes in VOCABULARIES.items():
        lookup = sa.table(table, sa.column("code", sa.String))
        op.bulk_insert(lookup, [{"code": code} for code in codes])
    op.execute(TOUCH_FUNCTION)
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION abdb_touch_updated_at()"
        )


def downgrade() -> None:
    op.drop_index("ix_antibody_regions_region_type_sequence", table_name="antibody_regions")
    op.drop_index(op.f("ix_antibody_regions_domain_id"), table_name="antibody_regions")
    op.drop_table("antibody_regions")
    op.drop_index(op.f("ix_sequence_features_sequence_id"), table_name="sequence_features")
    op.drop_index(op.f("ix_sequence_features_feature_type"), table_name="sequence_features")
    op.drop_index(op.f("ix_sequence_features_chain_id"), table_name="sequence_features")
    op.drop_table("sequence_features")
    op.drop_index(op.f("ix_external_tool_results_job_id"), table_name="external_tool_results")
    op.drop_table("external_tool_results")
    op.drop_index(op.f("ix_antibody_domains_numbering_scheme"), table_name="antibody_domains")
    op.drop_index(op.f("ix_antibody_domains_domain_type"), table_name="antibody_domains")
    op.drop_index(op.f("ix_antibody_domains_chain_id"), table_name="antibody_domains")
    op.drop_table("antibody_domains")
    op.drop_index(op.f("ix_processing_jobs_status"), table_name="processing_jobs")
    op.drop_index(op.f("ix_processing_jobs_sequence_id"), table_name="processing_jobs")
    op.drop_index(op.f("ix_processing_jobs_job_type"), table_name="processing_jobs")
    op.drop_table("processing_jobs")
    op.drop_index(op.f("ix_antibody_chains_chain_type"), table_name="antibody_chains")
    op.drop_index(op.f("ix_antibody_chains_antibody_sequence_id"), table_name="antibody_chains")
    op.drop_table("antibody_chains")
    op.drop_index(op.f("ix_antibody_sequences_name"), table_name="antibody_sequences")
    op.drop_index(op.f("ix_antibody_sequences_created_by"), table_name="antibody_sequences")
    op.drop_table("antibody_sequences")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_table("users")
    op.drop_table("region_types")
    op.drop_table("numbering_schemes")
    op.drop_table("job_types")
    op.drop_table("job_statuses")
    op.drop_table("feature_types")
    op.drop_table("domain_types")
    op.drop_table("chain_types")
    op.execute("DROP FUNCTION abdb_touch_updated_at()")
