"""The client's clock against the server's, so that client-made ids carry the server's time."""

from __future__ import annotations

import time

from sqlalchemy import text

from abdb.database import Database
from abdb.db.connect import connection_to
from abdb.domain.ids import clock_offset_ns, set_clock_offset


def align_ids_with_server(database: Database) -> float:
    """Measure how far the server's clock is ahead of ours and make ids on its time; return the offset in
    seconds as used (0 when under a second)."""
    with connection_to(database.url) as connection:
        before = time.time_ns()
        server = int(
            connection.execute(text("SELECT (extract(epoch FROM clock_timestamp()) * 1e9)::bigint")).scalar_one()
        )
        after = time.time_ns()
    set_clock_offset(server - (before + after) // 2)
    return clock_offset_ns() / 1e9
