"""Chains and domains."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from abdb.db.models import AntibodyChain, AntibodyDomain
from abdb.domain.vocabulary import ChainType
from abdb.repositories.base import BaseRepository


class AntibodyChainRepository(BaseRepository[AntibodyChain]):
    model = AntibodyChain

    def of_sequence(self, sequence_id: uuid.UUID) -> list[AntibodyChain]:
        return self.filter_by(antibody_sequence_id=sequence_id)

    def of_type(
        self, chain_type: ChainType, *, limit: int = 100, after: uuid.UUID | None = None
    ) -> list[AntibodyChain]:
        return self.page(after=after, limit=limit, chain_type=chain_type).items


class AntibodyDomainRepository(BaseRepository[AntibodyDomain]):
    model = AntibodyDomain

    def of_chain(self, chain_id: uuid.UUID) -> list[AntibodyDomain]:
        query = (
            select(AntibodyDomain)
            .where(AntibodyDomain.chain_id == chain_id)
            .options(selectinload(AntibodyDomain.regions))
            .order_by(AntibodyDomain.start_position)
        )
        return list(self.session.scalars(query))
