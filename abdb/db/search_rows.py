"""The search rows (``cdr_search``) of antibodies written through the ORM.

The bulk writers (the import's COPY, the annotation writer) write the search rows of the regions they write.
An antibody added or changed through the ORM — the Python API, ``uow.sequences.add(AntibodySequence(...))``,
renaming a chain — gets its search rows rewritten from the tree at flush, by one DELETE and one INSERT …
SELECT for all the antibodies the flush touched, the residue pairs made by the server's
``abdb_residue_pairs`` (the same keys as abdb.domain.residue_pairs: a test compares them). Rows removed
with their region go by the foreign key's cascade.
"""

from __future__ import annotations

import uuid
from itertools import chain
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session, sessionmaker

from abdb.db.models import AntibodyChain, AntibodyDomain, AntibodyRegion, AntibodySequence

CDRS_OF_VARIABLE_DOMAINS = (
    "SELECT r.antibody_sequence_id, r.id, c.id, r.region_type, d.numbering_scheme, s.name, c.name, r.sequence, "
    "abdb_residue_pairs(r.sequence) FROM antibody_regions r "
    "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
    "JOIN antibody_chains c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id "
    "JOIN antibody_sequences s ON s.id = r.antibody_sequence_id "
    "WHERE r.region_type IN ('CDR1', 'CDR2', 'CDR3') AND d.domain_type = 'VARIABLE' "
    "AND r.antibody_sequence_id = ANY(:antibodies)"
)


def _antibody_of(instance: object) -> uuid.UUID | None:
    if isinstance(instance, AntibodySequence):
        return instance.id
    if isinstance(instance, AntibodyChain | AntibodyDomain | AntibodyRegion):
        return instance.antibody_sequence_id
    return None


def rewrite_search_rows(connection: Connection, antibodies: list[uuid.UUID]) -> tuple[int, int]:
    """Write these antibodies' search rows again from the tree: (rows removed, rows written)."""
    parameters = {"antibodies": antibodies}
    removed = connection.execute(
        text("DELETE FROM cdr_search WHERE antibody_sequence_id = ANY(:antibodies)"), parameters
    )
    # an annotation write committed in between may have written some of them already (the same rows)
    written = connection.execute(
        text(f"INSERT INTO cdr_search {CDRS_OF_VARIABLE_DOMAINS} ON CONFLICT DO NOTHING"), parameters
    )
    return removed.rowcount, written.rowcount


def _rewrite_touched(session: Session, _context: Any) -> None:
    touched = {key for instance in chain(session.new, session.dirty) if (key := _antibody_of(instance)) is not None}
    if touched:
        rewrite_search_rows(session.connection(), sorted(touched))


def keep_search_rows(sessions: sessionmaker[Session]) -> None:
    """Rewrite the search rows of the antibodies each flush of these sessions adds or changes."""
    event.listen(sessions, "after_flush", _rewrite_touched)
