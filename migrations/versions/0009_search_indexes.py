"""CDR search: pg_trgm and fuzzystrmatch, a trigram index on CDR residues and a length index on regions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:00:00

The trigram index is GIN and covers CDR1-CDR3 only (what `abdb search` finds by substring, motif and edit
distance; frameworks are searched exactly by the (region_type, sequence) btree). Never a GiST index beside it
on the same column: measured, the planner then picked GiST for `=` and `LIKE` (0.2 ms -> 55 ms). Both
extensions are trusted (PostgreSQL 13+): a database owner can create them; the embedded server and the
postgres:18 image ship them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CDRS = "region_type IN ('CDR1', 'CDR2', 'CDR3')"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.create_index(
        "ix_antibody_regions_cdr_trigrams",
        "antibody_regions",
        ["sequence"],
        postgresql_using="gin",
        postgresql_ops={"sequence": "gin_trgm_ops"},
        postgresql_where=sa.text(CDRS),
    )
    op.create_index(
        "ix_antibody_regions_region_type_length", "antibody_regions", ["region_type", sa.text("char_length(sequence)")]
    )


def downgrade() -> None:
    # Only indexes and the extensions go: no row changes. An extension something else of the database uses
    # is kept (DROP without CASCADE refuses; the refusal is caught): nothing but abdb's own objects is removed.
    op.drop_index("ix_antibody_regions_region_type_length", table_name="antibody_regions")
    op.drop_index("ix_antibody_regions_cdr_trigrams", table_name="antibody_regions")
    for extension in ("fuzzystrmatch", "pg_trgm"):
        op.execute(
            f"DO $$ BEGIN DROP EXTENSION IF EXISTS {extension}; "
            "EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
        )
