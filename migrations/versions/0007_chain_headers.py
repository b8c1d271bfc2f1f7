"""chains keep their own FASTA header: description and metadata per chain

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("antibody_chains", sa.Column("description", sa.Text(), nullable=True))
    op.add_column(
        "antibody_chains",
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )


def downgrade() -> None:
    # Loses each chain's own header description and metadata (the antibody keeps its first record's).
    op.drop_column("antibody_chains", "metadata")
    op.drop_column("antibody_chains", "description")
