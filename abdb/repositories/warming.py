"""Reading the relations searches use into memory with pg_prewarm, a chunk of blocks per statement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.db.distribution import citus_present
from abdb.repositories.extensions import extension_can_be_created, extension_installed

PREWARM_LIBRARY = "pg_prewarm"
SEARCH_TABLES = ("cdr_search", "antibody_chains")  # what a CDR search reads: its rows, then each hit's chain


@dataclass(frozen=True)
class Relation:
    oid: int
    name: str
    kind: str  # "index" or "table"
    blocks: int
    block_size: int

    @property
    def bytes(self) -> int:
        return self.blocks * self.block_size


class WarmingQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def prewarm_installed(self) -> bool:
        return extension_installed(self.session, PREWARM_LIBRARY)

    def prewarm_can_be_created(self) -> bool:
        return extension_can_be_created(self.session, PREWARM_LIBRARY)

    def create_prewarm(self) -> None:
        self.session.execute(text(f"CREATE EXTENSION IF NOT EXISTS {PREWARM_LIBRARY}"))

    def shared_buffers(self) -> int:
        """The server's shared buffers, in bytes."""
        return int(
            self.session.execute(
                text("SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'shared_buffers'")
            ).scalar_one()
        )

    def search_relations(self) -> list[Relation]:
        """The search tables' indexes (what every search reads first), then the tables, each in the order of
        SEARCH_TABLES, largest index first."""
        rows = self.session.execute(
            text(
                "SELECT c.oid, c.relname, CASE WHEN c.relkind = 'i' THEN 'index' ELSE 'table' END, "
                "pg_relation_size(c.oid) / current_setting('block_size')::int, current_setting('block_size')::int "
                "FROM unnest(CAST(:tables AS text[])) WITH ORDINALITY AS t(name, rank) "
                "JOIN pg_class r ON r.oid = to_regclass(t.name) "
                "JOIN pg_class c ON c.oid = r.oid OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = r.oid) "
                "ORDER BY c.relkind = 'r', t.rank, pg_relation_size(c.oid) DESC, c.relname"
            ),
            {"tables": list(SEARCH_TABLES)},
        )
        return [Relation(oid, name, kind, int(blocks), int(size)) for oid, name, kind, blocks, size in rows]

    def prewarm(self, relation: Relation, mode: str, first: int, last: int) -> int:
        """Read blocks ``first``..``last`` of ``relation`` (fewer if it has shrunk since it was measured): into
        shared buffers (``buffer``) or the operating system's cache (``read``). The blocks read."""
        return int(
            self.session.execute(
                text(
                    "SELECT coalesce((SELECT pg_prewarm(CAST(:oid AS oid), :mode, 'main', :first, last) FROM "
                    "(SELECT least(:last, pg_relation_size(CAST(:oid AS oid)) / current_setting('block_size')::int "
                    "- 1) AS last) AS r WHERE last >= :first), 0)"
                ),
                {"oid": relation.oid, "mode": mode, "first": first, "last": last},
            ).scalar_one()
        )

    def on_citus(self) -> bool:
        return citus_present(self.session.connection())
