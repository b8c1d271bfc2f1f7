"""Antibody sequences: the aggregate root, read whole with a fixed number of queries."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.orm import selectinload

from abdb.db.models import AntibodyChain, AntibodyDomain, AntibodyRegion, AntibodySequence
from abdb.domain.vocabulary import NumberingScheme, RegionType
from abdb.repositories.base import BaseRepository

FULL_TREE = (
    selectinload(AntibodySequence.chains).selectinload(AntibodyChain.domains).selectinload(AntibodyDomain.regions),
    selectinload(AntibodySequence.features),
    selectinload(AntibodySequence.jobs),
)


class AntibodySequenceRepository(BaseRepository[AntibodySequence]):
    model = AntibodySequence

    def get_with_tree(self, id_: uuid.UUID) -> AntibodySequence | None:
        """The sequence with chains, domains, regions, features and jobs: six queries, whatever the size."""
        query = select(AntibodySequence).where(AntibodySequence.id == id_).options(*FULL_TREE)
        return self.session.scalars(query).one_or_none()

    def delete(self, id_: uuid.UUID) -> bool:
        """Delete the antibody and its tree (by cascade), and its jobs' queue rows (no key reaches them)."""
        self.session.execute(text("DELETE FROM job_queue WHERE sequence_id = :id"), {"id": id_})
        return super().delete(id_)

    def find_by_name(self, name: str) -> list[AntibodySequence]:
        return self.filter_by(name=name)

    def find_by_checksum(self, checksum: str) -> list[AntibodySequence]:
        return self.filter_by(content_checksum=checksum)

    def list_public(self, *, limit: int = 100, after: uuid.UUID | None = None) -> list[AntibodySequence]:
        return self.page(after=after, limit=limit, is_public=True).items

    def list_by_creator(self, user_id: uuid.UUID) -> list[AntibodySequence]:
        return self.filter_by(created_by=user_id)

    def search_regions(
        self,
        residues: str,
        *,
        region_type: RegionType = RegionType.CDR3,
        substring: bool = False,
        scheme: NumberingScheme | None = None,
        limit: int = 100,
    ) -> list[AntibodyRegion]:
        """Regions of a type whose sequence equals (or, with ``substring``, contains) ``residues``; with
        ``scheme``, only regions numbered under that scheme (a CDR differs between IMGT, Kabat and Chothia).

        Exact matches use the (region_type, sequence) index; substring matches scan that region type.
        """
        wanted = residues.strip().upper()
        condition = (
            AntibodyRegion.sequence.contains(wanted, autoescape=True)
            if substring
            else AntibodyRegion.sequence == wanted
        )
        query = (
            select(AntibodyRegion)
            .where(AntibodyRegion.region_type == region_type, condition)
            .options(selectinload(AntibodyRegion.domain).selectinload(AntibodyDomain.chain))
            .order_by(AntibodyRegion.id)
            .limit(limit)
        )
        if scheme is not None:
            query = query.where(
                AntibodyRegion.domain_id.in_(select(AntibodyDomain.id).where(AntibodyDomain.numbering_scheme == scheme))
            )
        return list(self.session.scalars(query))

    def search_chains_by_cdr3(
        self, residues: str, *, substring: bool = False, scheme: NumberingScheme | None = None, limit: int = 100
    ) -> list[AntibodyChain]:
        regions = self.search_regions(residues, substring=substring, scheme=scheme, limit=limit)
        seen: dict[uuid.UUID, AntibodyChain] = {}
        for region in regions:
            seen.setdefault(region.domain.chain.id, region.domain.chain)
        return list(seen.values())
