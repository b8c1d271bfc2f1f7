"""legacy JSON import: loci, linker domains, extra schemes, species features, import runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED_CODES = {
    "domain_types": ["LINKER"],
    "numbering_schemes": ["MARTIN", "AHO", "CGG"],
    "feature_types": ["SPECIES"],
}
LOCI = ["IGH", "IGK", "IGL", "TRA", "TRB", "TRG", "TRD"]


def upgrade() -> None:
    for table, codes in ADDED_CODES.items():
        lookup = sa.table(table, sa.column("code", sa.String))
        op.bulk_insert(lookup, [{"code": code} for code in codes])

    op.create_table(
        "loci",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_loci")),
    )
    op.bulk_insert(sa.table("loci", sa.column("code", sa.String)), [{"code": code} for code in LOCI])
    op.add_column("antibody_chains", sa.Column("locus", sa.String(length=32), nullable=True))
    op.create_foreign_key(op.f("fk_antibody_chains_locus_loci"), "antibody_chains", "loci", ["locus"], ["code"])
    op.create_index(op.f("ix_antibody_chains_locus"), "antibody_chains", ["locus"], unique=False)

    op.create_table(
        "import_runs",
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), server_default="RUNNING", nullable=False),
        sa.Column(
            "options", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "files", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("inserted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("conflicting", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("replaced", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "inserted >= 0 AND unchanged >= 0 AND conflicting >= 0 AND rejected >= 0 AND replaced >= 0",
            name=op.f("ck_import_runs_counts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_import_runs_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["status"], ["job_statuses.code"], name=op.f("fk_import_runs_status_job_statuses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_index(op.f("ix_import_runs_created_by"), "import_runs", ["created_by"], unique=False)
    op.create_index(op.f("ix_import_runs_status"), "import_runs", ["status"], unique=False)
    op.execute(
        "CREATE TRIGGER trg_import_runs_updated_at BEFORE UPDATE ON import_runs "
        "FOR EACH ROW EXECUTE FUNCTION abdb_touch_updated_at()"
    )

    op.add_column("antibody_sequences", sa.Column("import_run_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f("fk_antibody_sequences_import_run_id_import_runs"),
        "antibody_sequences",
        "import_runs",
        ["import_run_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_antibody_sequences_import_run_id"), "antibody_sequences", ["import_run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_antibody_sequences_import_run_id"), table_name="antibody_sequences")
    op.drop_constraint(
        op.f("fk_antibody_sequences_import_run_id_import_runs"), "antibody_sequences", type_="foreignkey"
    )
    op.drop_column("antibody_sequences", "import_run_id")
    op.drop_table("import_runs")  # drops its trigger and indexes with it
    op.drop_index(op.f("ix_antibody_chains_locus"), table_name="antibody_chains")
    op.drop_constraint(op.f("fk_antibody_chains_locus_loci"), "antibody_chains", type_="foreignkey")
    op.drop_column("antibody_chains", "locus")
    op.drop_table("loci")
    # Rows still using a value make this fail loudly (foreign key) rather than lose data.
    for table, codes in ADDED_CODES.items():
        op.execute(sa.text(f"DELETE FROM {table} WHERE code = ANY(:codes)").bindparams(codes=codes))


USES = {
    "domain_types": ("antibody_domains", "domain_type", "domain(s) of type {codes} (scFv linkers)"),
    "numbering_schemes": ("antibody_domains", "numbering_scheme", "domain(s) numbered under {codes}"),
    "feature_types": ("sequence_features", "feature_type", "feature(s) of type {codes}"),
}


def downgrade_blockers(connection: sa.Connection) -> list[str]:
    """Rows using the vocabulary this revision added: the older schema has no place for them."""
    found = []
    for vocabulary, codes in ADDED_CODES.items():
        table, column, what = USES[vocabulary]
        count = connection.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE {column} = ANY(:codes)"), {"codes": codes}
        ).scalar()
        if count:
            found.append(f"{count} {what.format(codes='/'.join(codes))}")
    return found
