"""`abdb search warm`: the search tables and their indexes read into the server's memory.

After a bulk import, an index build or a server restart, the first searches read their pages from disk or from
the operating system's cache: at a million antibodies a dense substring or motif search took 100-500 ms the
first time and 10-50 ms from memory. Warming reads every page once, in large sequential chunks (pg_prewarm),
so the first searches answer like the later ones. Into shared buffers while they fit (keeping a tenth of them
for everything else); what does not fit is read into the operating system's cache instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from abdb.config import Settings
from abdb.database import Database, using
from abdb.errors import ConfigurationError, DatabaseError
from abdb.repositories.warming import PREWARM_LIBRARY, WarmingQueries

CHUNK_BLOCKS = 2048  # blocks per statement (16 MB of 8 kB blocks): progress to follow, a Ctrl-C that lands soon
BUFFER_SHARE = 0.9  # of shared_buffers the warmed pages may take
SHARED_BUFFERS = "shared buffers"
OS_CACHE = "operating system cache"


@dataclass(frozen=True)
class WarmedRelation:
    name: str
    kind: str  # "index" or "table"
    bytes: int
    place: str  # SHARED_BUFFERS or OS_CACHE


@dataclass(frozen=True)
class WarmReport:
    relations: list[WarmedRelation]
    shared_buffers: int  # bytes
    seconds: float
    note: str | None  # the extension this run created, if it did

    @property
    def total(self) -> int:
        return sum(relation.bytes for relation in self.relations)

    def bytes_in(self, place: str) -> int:
        return sum(relation.bytes for relation in self.relations if relation.place == place)


def _install_prewarm(queries: WarmingQueries) -> str | None:
    if queries.prewarm_installed():
        return None
    if not queries.prewarm_can_be_created():
        raise DatabaseError(
            f"this database has no {PREWARM_LIBRARY} extension, and this role may not create it",
            hint=f"ask a superuser to run CREATE EXTENSION {PREWARM_LIBRARY} in this database (it ships with "
            "PostgreSQL)",
        )
    queries.create_prewarm()
    return f"created the {PREWARM_LIBRARY} extension in this database (functions only; no data changed)"


def warm_search(target: Database | Settings, progress: Callable[[int, int], None] | None = None) -> WarmReport:
    """Read the search tables and their indexes into memory; ``progress(bytes done, bytes in all)`` after each
    chunk. Changes no data (it may create the pg_prewarm extension, which the report then says)."""
    with using(target) as database:
        database.require_head("`abdb search warm`")
        with database.unit_of_work() as uow:
            queries = uow.warming
            if queries.on_citus():
                raise ConfigurationError(
                    "on a Citus coordinator the search tables' rows live in the workers' shards",
                    hint=f"run pg_prewarm on each worker, e.g. SELECT run_command_on_shards('cdr_search', "
                    f"$$SELECT {PREWARM_LIBRARY}('%s')$$)",
                )
            note = _install_prewarm(queries)
            if note is not None:
                uow.commit()
            started = time.perf_counter()
            shared_buffers = queries.shared_buffers()
            room = int(shared_buffers * BUFFER_SHARE)
            relations = queries.search_relations()
            total, done, warmed = sum(r.bytes for r in relations), 0, []
            for relation in relations:
                fits = relation.bytes <= room
                room -= relation.bytes if fits else 0
                for first in range(0, relation.blocks, CHUNK_BLOCKS):
                    last = min(first + CHUNK_BLOCKS, relation.blocks) - 1
                    queries.prewarm(relation, "buffer" if fits else "read", first, last)
                    done += (last - first + 1) * relation.block_size
                    if progress is not None:
                        progress(done, total)
                place = SHARED_BUFFERS if fits else OS_CACHE
                warmed.append(WarmedRelation(relation.name, relation.kind, relation.bytes, place))
            return WarmReport(warmed, shared_buffers, time.perf_counter() - started, note)
