"""content checksum of a sequence's chains, indexed for lookups and idempotent re-imports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("antibody_sequences", sa.Column("content_checksum", sa.String(length=64), nullable=True))
    op.create_index(
        op.f("ix_antibody_sequences_content_checksum"), "antibody_sequences", ["content_checksum"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_antibody_sequences_content_checksum"), table_name="antibody_sequences")
    op.drop_column("antibody_sequences", "content_checksum")
