"""Annotation writes: claim jobs, replace a chain's domains/regions/features for a scheme, finish jobs.

Set-based Core statements: an annotation batch writes a few thousand small rows, and the ORM's
per-object bookkeeping would cost more than the numbering itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, tuple_, update
from sqlalchemy.orm import Session

from abdb.db.models import (
    AntibodyChain,
    AntibodyDomain,
    AntibodyRegion,
    AntibodySequence,
    CdrSearchRow,
    ExternalToolResult,
    SequenceFeature,
)
from abdb.domain.vocabulary import DomainType
from abdb.repositories.bulk import copy_rows

# Core tables: plain executemany, without the ORM's per-row bookkeeping.
DOMAINS: Table = AntibodyDomain.__table__  # type: ignore[assignment]
REGIONS: Table = AntibodyRegion.__table__  # type: ignore[assignment]
FEATURES: Table = SequenceFeature.__table__  # type: ignore[assignment]
CHAINS: Table = AntibodyChain.__table__  # type: ignore[assignment]
TOOL_RESULTS: Table = ExternalToolResult.__table__  # type: ignore[assignment]
SEARCHES: Table = CdrSearchRow.__table__  # type: ignore[assignment]


class AnnotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def chains_of(
        self, sequence_ids: Sequence[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]], dict[uuid.UUID, str]]:
        """Each antibody's chains (id, name, residues), and each antibody's name."""
        rows = self.session.execute(
            select(
                AntibodyChain.antibody_sequence_id,
                AntibodyChain.id,
                AntibodyChain.name,
                AntibodyChain.sequence,
                AntibodySequence.name,
            )
            .join(AntibodySequence, AntibodySequence.id == AntibodyChain.antibody_sequence_id)
            .where(AntibodyChain.antibody_sequence_id.in_(sequence_ids))
            .order_by(AntibodyChain.id)
        ).all()
        found: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {sequence_id: [] for sequence_id in sequence_ids}
        names = dict.fromkeys(sequence_ids, "")
        for sequence_id, chain_id, name, sequence, antibody_name in rows:
            found[sequence_id].append((chain_id, name, sequence))
            names[sequence_id] = antibody_name
        return found, names

    def replace_domains(
        self,
        chain_keys: Iterable[tuple[uuid.UUID, uuid.UUID]],
        schemes: Iterable[str],
        domains: list[dict[str, Any]],
        regions: list[dict[str, Any]],
        searches: list[dict[str, Any]],
    ) -> None:
        """Delete the chains' domains of these schemes (their regions and search rows go by cascade), then insert
        the new ones. Chains are named by (antibody id, chain id): on Citus each antibody's shard."""
        self.session.execute(
            delete(DOMAINS).where(
                tuple_(DOMAINS.c.antibody_sequence_id, DOMAINS.c.chain_id).in_(list(chain_keys)),
                DOMAINS.c.numbering_scheme.in_(list(schemes)),
                # what the engine produces; constant domains (from legacy files) are not its to replace
                DOMAINS.c.domain_type.in_([DomainType.VARIABLE.value, DomainType.LINKER.value]),
            )
        )
        copy_rows(self.session, DOMAINS, domains)  # COPY: a third of a worker's writing time went to INSERTs
        copy_rows(self.session, REGIONS, regions)
        copy_rows(self.session, SEARCHES, searches)

    def replace_features(
        self, chain_keys: Iterable[tuple[uuid.UUID, uuid.UUID]], source: str, features: list[dict[str, Any]]
    ) -> None:
        self.session.execute(
            delete(FEATURES).where(
                tuple_(FEATURES.c.sequence_id, FEATURES.c.chain_id).in_(list(chain_keys)), FEATURES.c.source == source
            )
        )
        copy_rows(self.session, FEATURES, features)

    def set_chain_types(self, changes: list[dict[str, Any]]) -> None:
        """[{sequence_id, chain_id, chain_type, locus}, ...] in one executemany, each row by its antibody key."""
        if changes:
            self.session.execute(
                update(CHAINS)
                .where(CHAINS.c.antibody_sequence_id == bindparam("sequence_id"), CHAINS.c.id == bindparam("chain_id"))
                .values(chain_type=bindparam("chain_type"), locus=bindparam("locus")),
                changes,
            )

    def add_tool_results(self, results: list[dict[str, Any]]) -> None:
        copy_rows(self.session, TOOL_RESULTS, results)
