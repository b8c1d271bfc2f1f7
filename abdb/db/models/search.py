"""What CDR searches read: one narrow row per CDR of a variable domain, derived from the tree.

Searches rank their matches by antibody and chain name; measured at a million antibodies, reaching those
names through the tree (region → domain → chain → antibody, four pages per match in a 1.9 GB table) made a
5-residue substring with 9,000 matches take 183 ms, and a motif 2 s. Here each match is one row of names,
scheme and residues, with the residue pairs that answer motifs (``abdb.domain.residue_pairs``). Every writer
of regions writes these rows beside them (the import's COPY, the annotation writer); a region's row goes
with it (cascade); `abdb verify` checks that both say the same (search.rows).
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKeyConstraint, Index, PrimaryKeyConstraint, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from abdb.db.base import Base, VocabularyCode
from abdb.domain.vocabulary import NumberingScheme, RegionType


class CdrSearchRow(Base):
    __tablename__ = "cdr_search"
    __table_args__ = (
        PrimaryKeyConstraint("antibody_sequence_id", "region_id", name="pk_cdr_search"),
        ForeignKeyConstraint(
            ["antibody_sequence_id", "region_id"],
            ["antibody_regions.antibody_sequence_id", "antibody_regions.id"],
            ondelete="CASCADE",
            name="fk_cdr_search_region_id_antibody_regions",
        ),
        # substring and edit-distance candidates; never a GiST trigram index beside it (the planner then picks
        # GiST for LIKE, 100-200 times slower: measured)
        Index(
            "ix_cdr_search_trigrams", "sequence", postgresql_using="gin", postgresql_ops={"sequence": "gin_trgm_ops"}
        ),
        Index("ix_cdr_search_residue_pairs", "residue_pairs", postgresql_using="gin"),
        # dense searches walk it in result order and stop early, never visiting the table (cdr_walk)
        Index(
            "ix_cdr_search_by_name",
            "region_type",
            "numbering_scheme",
            "antibody_name",
            "chain_name",
            "region_id",
            postgresql_include=["antibody_sequence_id", "sequence"],
        ),
    )

    antibody_sequence_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    region_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    chain_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    region_type: Mapped[RegionType] = mapped_column(VocabularyCode(RegionType), nullable=False)
    numbering_scheme: Mapped[NumberingScheme] = mapped_column(VocabularyCode(NumberingScheme), nullable=False)
    antibody_name: Mapped[str] = mapped_column(String(255), nullable=False)
    chain_name: Mapped[str] = mapped_column(String(100), nullable=False)
    sequence: Mapped[str] = mapped_column(Text, nullable=False)
    residue_pairs: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), nullable=False)
