"""content checksums without chain types: the same chains are the same antibody, however they were labelled

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# abdb.domain.checksum.content_checksum in SQL: stored chain sequences are already normalised (upper-case
# residues, no gaps), and COLLATE "C" sorts them by code point as Python's sorted() does.
RECOMPUTE = """
UPDATE antibody_sequences s SET content_checksum = (
    SELECT encode(sha256(convert_to(string_agg({part}, E'\\n' ORDER BY {part} COLLATE "C"), 'UTF8')), 'hex')
    FROM antibody_chains c WHERE c.antibody_sequence_id = s.id
)
WHERE s.content_checksum IS NOT NULL
"""


def upgrade() -> None:
    op.execute(RECOMPUTE.format(part="c.sequence"))


def downgrade() -> None:
    # the old form prefixed each sequence with its chain type (as stored now)
    op.execute(RECOMPUTE.format(part="(c.chain_type || ':' || c.sequence)"))
