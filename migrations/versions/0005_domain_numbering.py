"""annotation: the numbered positions of each domain (JSONB), so regions can be recomputed offline

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("antibody_domains", sa.Column("numbering", postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("antibody_domains", "numbering")
