"""co-location keys: every table of the tree keyed by its antibody, a claim queue by bucket (Citus-ready)

Every table of an antibody's tree carries the antibody's id and leads its primary key with it; children name
their parent by (antibody id, parent id). On Citus the whole tree then shards on the antibody, and each
foreign key is checked on one shard. Claims come from ``job_queue``, which Citus distributes by bucket. The
tree no longer has a foreign key to ``import_runs`` (a batch updates its run after its multi-shard COPY);
verify checks for orphans instead. Rows are kept: the new columns are filled from the parents.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from abdb.db.distribution import distribute

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_BUCKETS = 64  # abdb.repositories.jobs.QUEUE_BUCKETS when this revision was written
# (table, key column, column naming the parent, parent table, parent key) — parents first
CHILDREN = (
    ("antibody_domains", "antibody_sequence_id", "chain_id", "antibody_chains", "antibody_sequence_id"),
    ("antibody_regions", "antibody_sequence_id", "domain_id", "antibody_domains", "antibody_sequence_id"),
    ("sequence_features", "sequence_id", "chain_id", "antibody_chains", "antibody_sequence_id"),
    ("external_tool_results", "antibody_sequence_id", "job_id", "processing_jobs", "sequence_id"),
)
KEYED = (
    ("antibody_chains", "antibody_sequence_id"),
    ("processing_jobs", "sequence_id"),
    ("antibody_domains", "antibody_sequence_id"),
    ("antibody_regions", "antibody_sequence_id"),
    ("sequence_features", "sequence_id"),
    ("external_tool_results", "antibody_sequence_id"),
)
NEW_KEY_COLUMNS = ("antibody_domains", "antibody_regions", "external_tool_results")
# single-column indexes that a composite primary key now leads with
PREFIXED = (
    ("antibody_chains", "antibody_sequence_id"),
    ("processing_jobs", "sequence_id"),
    ("sequence_features", "sequence_id"),
)


def upgrade() -> None:
    op.drop_constraint("fk_antibody_sequences_import_run_id_import_runs", "antibody_sequences", type_="foreignkey")
    for table, _, column, parent, _ in CHILDREN:
        op.drop_constraint(f"fk_{table}_{column}_{parent}", table, type_="foreignkey")
    for table in NEW_KEY_COLUMNS:
        op.add_column(table, sa.Column("antibody_sequence_id", postgresql.UUID(as_uuid=True), nullable=True))
    # parents first: a domain's key comes from its chain, a region's from its (now keyed) domain
    op.execute(
        "UPDATE antibody_domains d SET antibody_sequence_id = c.antibody_sequence_id "
        "FROM antibody_chains c WHERE c.id = d.chain_id"
    )
    op.execute(
        "UPDATE antibody_regions r SET antibody_sequence_id = d.antibody_sequence_id "
        "FROM antibody_domains d WHERE d.id = r.domain_id"
    )
    op.execute(
        "UPDATE external_tool_results t SET antibody_sequence_id = j.sequence_id "
        "FROM processing_jobs j WHERE j.id = t.job_id"
    )
    for table in NEW_KEY_COLUMNS:
        op.alter_column(table, "antibody_sequence_id", nullable=False)
    for table, key in KEYED:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, [key, "id"])
    for table, key, column, parent, parent_key in CHILDREN:
        # the primary key (key, id) leads with the key: it serves the new foreign key's lookups too
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.create_foreign_key(
            f"fk_{table}_{column}_{parent}", table, parent, [key, column], [parent_key, "id"], ondelete="CASCADE"
        )
    for table, column in PREFIXED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    op.create_table(
        "job_queue",
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("job_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sequence_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["job_type"], ["job_types.code"], name="fk_job_queue_job_type_job_types"),
        sa.PrimaryKeyConstraint("bucket", "job_id", name="pk_job_queue"),
    )
    op.create_index("ix_job_queue_job_type", "job_queue", ["job_type"])
    op.create_index("ix_job_queue_sequence_id", "job_queue", ["sequence_id"])
    op.execute(
        "INSERT INTO job_queue (bucket, job_id, sequence_id, job_type) "
        f"SELECT get_byte(uuid_send(id), 15) % {QUEUE_BUCKETS}, id, sequence_id, job_type "
        "FROM processing_jobs WHERE status = 'PENDING'"
    )
    # On a Citus coordinator, place every table (nothing happens on a plain PostgreSQL).
    distribute(op.get_bind())


def downgrade() -> None:
    # Keeps every row: the queue is derived from PENDING jobs, and the keys of domains, regions and tool
    # results from their parents. Run ids that no longer exist are set to NULL so the key can come back.
    op.drop_table("job_queue")
    for table, column in PREFIXED:
        op.create_index(f"ix_{table}_{column}", table, [column])
    for table, _key, column, parent, _ in reversed(CHILDREN):
        op.drop_constraint(f"fk_{table}_{column}_{parent}", table, type_="foreignkey")
        op.create_index(f"ix_{table}_{column}", table, [column])
    for table, _ in KEYED:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["id"])
    for table, _, column, parent, _ in CHILDREN:
        op.create_foreign_key(f"fk_{table}_{column}_{parent}", table, parent, [column], ["id"], ondelete="CASCADE")
    for table in NEW_KEY_COLUMNS:
        op.drop_column(table, "antibody_sequence_id")
    op.execute(
        "UPDATE antibody_sequences s SET import_run_id = NULL WHERE import_run_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM import_runs r WHERE r.id = s.import_run_id)"
    )
    op.create_foreign_key(
        "fk_antibody_sequences_import_run_id_import_runs",
        "antibody_sequences",
        "import_runs",
        ["import_run_id"],
        ["id"],
        ondelete="SET NULL",
    )
