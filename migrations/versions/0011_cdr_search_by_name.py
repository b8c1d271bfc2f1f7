"""CDR search rows in name order: an index a dense search walks and stops early on

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00

A motif or substring that matches tens of thousands of CDRs (``QQ.{3}WP``: 50,500 of the 2,000,000 CDR3s
of a million antibodies) had every match read from the residue-pair index and visited in the table before
the first 100 by name were known: 146 ms. The matches of such a search are dense enough that walking the
CDRs in name order finds the first 100 after a few tens of thousands of entries; this index holds what the
walk checks (the residues) and returns (the antibody's key), so it never visits the table: 11 ms for the
same motif (abdb.repositories.cdr_walk says when a search walks). No row changes either way.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cdr_search_by_name",
        "cdr_search",
        ["region_type", "numbering_scheme", "antibody_name", "chain_name", "region_id"],
        postgresql_include=["antibody_sequence_id", "sequence"],
    )


def downgrade() -> None:
    op.drop_index("ix_cdr_search_by_name", table_name="cdr_search")
