"""Reading antibodies back out: a selection of antibody ids in keyset pages, and whole antibodies loaded by
their key (one statement per table for a page; on Citus each goes to the page's shards)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.domain.exported import ExportedAntibody, ExportedChain, ExportedDomain, ExportedFeature, ExportedRegion
from abdb.domain.selection import Selection, like_pattern


class ExportQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def begin_snapshot(self) -> None:
        """One consistent view for the whole export: an import running meanwhile is either in it or not."""
        self.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))

    def count(self, where: str, params: dict[str, Any]) -> int:
        return int(
            self.session.execute(text(f"SELECT count(*) FROM antibody_sequences s WHERE {where}"), params).scalar_one()
        )

    def ids(self, where: str, params: dict[str, Any], after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """The next ``limit`` selected antibody ids after ``after``, in id (creation) order."""
        keyset = "AND s.id > :after " if after is not None else ""
        return list(
            self.session.scalars(
                text(f"SELECT s.id FROM antibody_sequences s WHERE {where} {keyset}ORDER BY s.id LIMIT :limit"),
                {**params, "after": after, "limit": limit},
            )
        )

    def by_name_or_id(self, wanted: str) -> list[uuid.UUID]:
        try:
            as_id: uuid.UUID | None = uuid.UUID(wanted)
        except ValueError:
            as_id = None
        return list(
            self.session.scalars(
                text("SELECT id FROM antibody_sequences WHERE name = :name OR id = :id ORDER BY id"),
                {"name": wanted, "id": as_id},
            )
        )

    def load(self, ids: list[uuid.UUID], scheme: str | None) -> list[ExportedAntibody]:
        """The antibodies with their chains, domains (of ``scheme``, or all), regions and features, in the
        order of ``ids``."""
        if not ids:
            return []
        keys = {"ids": ids, "scheme": scheme}
        scheme_filter = "AND d.numbering_scheme = :scheme " if scheme else ""
        regions: dict[uuid.UUID, list[ExportedRegion]] = defaultdict(list)
        for domain_id, *values in self.session.execute(
            text(
                "SELECT r.domain_id, r.region_type, r.sequence, r.start_position, r.end_position "
                "FROM antibody_regions r JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id "
                f"AND d.id = r.domain_id WHERE r.antibody_sequence_id = ANY(:ids) {scheme_filter}"
                "ORDER BY r.start_position"
            ),
            keys,
        ):
            regions[domain_id].append(ExportedRegion(*values))
        domains: dict[uuid.UUID, list[ExportedDomain]] = defaultdict(list)
        for domain_id, chain_id, *values in self.session.execute(
            text(
                "SELECT d.id, d.chain_id, d.domain_type, d.numbering_scheme, d.sequence, d.start_position, "
                f"d.end_position FROM antibody_domains d WHERE d.antibody_sequence_id = ANY(:ids) {scheme_filter}"
                "ORDER BY d.numbering_scheme, d.start_position"
            ),
            keys,
        ):
            kind, scheme_code, residues, start, end = values
            domains[chain_id].append(
                ExportedDomain(kind, scheme_code, residues, start, end, regions=tuple(regions[domain_id]))
            )
        chains: dict[uuid.UUID, list[ExportedChain]] = defaultdict(list)
        for sequence_id, chain_id, name, chain_type, locus, sequence in self.session.execute(
            text(
                "SELECT antibody_sequence_id, id, name, chain_type, locus, sequence FROM antibody_chains "
                "WHERE antibody_sequence_id = ANY(:ids) ORDER BY id"
            ),
            keys,
        ):
            chains[sequence_id].append(
                ExportedChain(chain_id, name, chain_type, locus, sequence, tuple(domains[chain_id]))
            )
        features: dict[uuid.UUID, list[ExportedFeature]] = defaultdict(list)
        for sequence_id, *values in self.session.execute(
            text(
                "SELECT sequence_id, chain_id, feature_type, name, value, source, (metadata->>'domain')::int "
                "FROM sequence_features "
                "WHERE sequence_id = ANY(:ids) ORDER BY id"
            ),
            keys,
        ):
            features[sequence_id].append(ExportedFeature(*values))
        found = {
            row[0]: ExportedAntibody(row[0], row[1], row[2], row[3], tuple(chains[row[0]]), tuple(features[row[0]]))
            for row in self.session.execute(
                text("SELECT id, name, created_at, is_public FROM antibody_sequences WHERE id = ANY(:ids)"), keys
            )
        }
        return [found[antibody_id] for antibody_id in ids if antibody_id in found]


def where_of(selection: Selection) -> tuple[str, dict[str, Any]]:
    """The selection as a WHERE clause over ``antibody_sequences s`` (every subquery keyed by the antibody)."""
    clauses: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if selection.name is not None:
        clauses.append("s.name LIKE :name ESCAPE '\\'")
        params["name"] = like_pattern(selection.name)
    if selection.import_run_id is not None:
        clauses.append("s.import_run_id = :run")
        params["run"] = selection.import_run_id
    if selection.chain_type is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM antibody_chains c WHERE c.antibody_sequence_id = s.id "
            "AND c.chain_type = :chain_type)"
        )
        params["chain_type"] = selection.chain_type.value
    if selection.locus is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM antibody_chains c WHERE c.antibody_sequence_id = s.id AND c.locus = :locus)"
        )
        params["locus"] = selection.locus.value
    if selection.species is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM sequence_features f WHERE f.sequence_id = s.id AND f.feature_type = 'SPECIES' "
            "AND lower(f.value) = lower(:species))"
        )
        params["species"] = selection.species
    if selection.v_gene is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM sequence_features f WHERE f.sequence_id = s.id "
            "AND f.feature_type IN ('GENE', 'ALLELE') AND f.name LIKE 'V %' AND f.value LIKE :v_gene ESCAPE '\\')"
        )
        params["v_gene"] = like_pattern(selection.v_gene) + "%"
    if selection.annotated is not None:
        variable = (
            "EXISTS (SELECT 1 FROM antibody_domains d WHERE d.antibody_sequence_id = s.id "
            "AND d.domain_type = 'VARIABLE')"
        )
        clauses.append(variable if selection.annotated else f"NOT {variable}")
    if selection.public is not None:
        clauses.append("s.is_public = :public")
        params["public"] = selection.public
    if selection.since is not None:
        clauses.append("s.created_at >= :since")
        params["since"] = selection.since
    return " AND ".join(clauses), params
