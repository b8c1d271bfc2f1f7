"""vocabulary for imports: chain type UNKNOWN, for chains whose type the annotation step will decide

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = {"chain_types": "UNKNOWN"}


def upgrade() -> None:
    for table, code in ADDED.items():
        op.execute(f"INSERT INTO {table} (code) VALUES ('{code}')")


def downgrade() -> None:
    # Rows still using a value make this fail loudly (foreign key) rather than lose data.
    for table, code in ADDED.items():
        op.execute(f"DELETE FROM {table} WHERE code = '{code}'")


def downgrade_blockers(connection: sa.Connection) -> list[str]:
    """Rows the downgrade cannot keep: chains of type UNKNOWN (imported FASTA chains not yet annotated)."""
    count = connection.execute(sa.text("SELECT count(*) FROM antibody_chains WHERE chain_type = 'UNKNOWN'")).scalar()
    return [f"{count} chain(s) of type UNKNOWN (not annotated yet)"] if count else []
