"""Bulk writes with COPY, for imports: client-side UUIDv7 ids link parents and children in one pass."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


class BulkLoader:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_names(self, names: Iterable[str]) -> None:
        """Serialise concurrent imports of the same names until this transaction ends (sorted: no deadlock)."""
        self.session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT DISTINCT hashtextextended(n, 7) AS k FROM unnest(CAST(:names AS text[])) AS n ORDER BY k) s"
            ),
            {"names": sorted(set(names))},
        )

    def existing_checksums(self, names: Iterable[str]) -> dict[str, set[str | None]]:
        rows = self.session.execute(
            text("SELECT name, content_checksum FROM antibody_sequences WHERE name = ANY(CAST(:names AS text[]))"),
            {"names": list(set(names))},
        )
        found: dict[str, set[str | None]] = {}
        for name, checksum in rows:
            found.setdefault(name, set()).add(checksum)
        return found

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """COPY rows into a table through the session's own connection and transaction."""
        connection = self.session.connection().connection.driver_connection
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def analyze(self, tables: Iterable[str]) -> None:
        for table in tables:
            self.session.execute(text(f"ANALYZE {table}"))
