"""Bulk writes with COPY, for imports and annotation: client-side UUIDv7 ids link parents and children in one
pass."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import psycopg
from sqlalchemy import Table, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

# An arbitrary constant identifying abdb's import lock among advisory locks ("abdb" in ASCII).
IMPORT_LOCK_KEY = 0x61626462


class BulkLoader:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_imports(self) -> None:
        """Serialise the check-then-insert of concurrent imports until this transaction ends.

        One lock for all names: locking each name (measured) cost ~45 ms per 1,000-antibody batch, and
        batches are short, so concurrent imports lose little by taking turns at this step.
        """
        self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})

    def stored_antibodies(
        self, names: Iterable[str]
    ) -> list[tuple[str, str | None, bool, frozenset[tuple[str, str, str]]]]:
        """(name, content checksum, is_public, {(md5 of sequence, chain name, chain type)}) of each stored
        antibody with one of these names; md5 spares sending the residues back."""
        rows = self.session.execute(
            text(
                "SELECT s.id, s.name, s.content_checksum, s.is_public, md5(c.sequence), c.name, c.chain_type "
                "FROM antibody_sequences s LEFT JOIN antibody_chains c ON c.antibody_sequence_id = s.id "
                "WHERE s.name = ANY(CAST(:names AS text[]))"
            ),
            {"names": list(set(names))},
        )
        found: dict[object, tuple[str, str | None, bool, set[tuple[str, str, str]]]] = {}
        for sequence_id, name, checksum, is_public, digest, chain_name, chain_type in rows:
            labels = found.setdefault(sequence_id, (name, checksum, is_public, set()))[3]
            if digest is not None:
                labels.add((digest, chain_name, chain_type))
        return [(name, checksum, public, frozenset(labels)) for name, checksum, public, labels in found.values()]

    def set_public(self, names: Iterable[str], public: bool) -> int:
        """--public/--private on antibodies already stored: visibility is metadata, not content."""
        result = self.session.execute(
            text(
                "UPDATE antibody_sequences SET is_public = :public "
                "WHERE name = ANY(CAST(:names AS text[])) AND is_public <> :public"
            ),
            {"names": list(set(names)), "public": public},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete_by_names(self, names: Iterable[str]) -> int:
        """Delete antibodies (and, by cascade, everything under them) by name: for ``--replace``. Their queue
        rows go too (the queue has no foreign key: it is distributed apart from the tree on Citus)."""
        names = list(set(names))
        self.session.execute(
            text(
                "DELETE FROM job_queue WHERE sequence_id IN "
                "(SELECT id FROM antibody_sequences WHERE name = ANY(CAST(:names AS text[])))"
            ),
            {"names": names},
        )
        result = self.session.execute(
            text("DELETE FROM antibody_sequences WHERE name = ANY(CAST(:names AS text[]))"), {"names": names}
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def copy_text(self, table: str, columns: Sequence[str], text_rows: str) -> None:
        """COPY rows already in PostgreSQL's text format (one line per row)."""
        with self._copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(text_rows)

    def _copy(self, statement: str) -> AbstractContextManager[Any]:
        return copy_on(self.session, statement)

    def analyze(self, tables: Iterable[str]) -> None:
        for table in tables:
            self.session.execute(text(f"ANALYZE {table}"))


@contextmanager
def copy_on(session: Session, statement: str) -> Iterator[Any]:
    """psycopg's COPY on the session's connection, in its transaction; its errors wrapped as SQLAlchemy's, like
    any statement's, so that the unit of work translates them (a server shutting down mid-COPY is 'unreachable')."""
    connection = session.connection().connection.driver_connection
    try:
        with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            yield copy
    except psycopg.Error as error:
        raise sa_exc.DBAPIError.instance(statement, None, error, psycopg.Error) from error


def copy_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows (dicts with the same keys, as ``abdb.db.rows.row`` makes them) into ``table``: what an
    executemany INSERT does, without SQLAlchemy's per-value processing. The rows become COPY text here, in
    one string per table: psycopg's ``write_row`` adapted every value one by one (17 µs a row, measured,
    holding the GIL the engine's thread wants). Vocabulary members go as their codes, JSONB columns as JSON
    (None as SQL NULL, as the models store it), arrays as array literals."""
    if not rows:
        return
    columns = list(rows[0])
    kinds = [_kind(table.c[name].type) for name in columns]
    pairs = list(zip(columns, kinds, strict=True))
    lines = ["\t".join([_copy_text(values[name], kind) for name, kind in pairs]) for values in rows]
    with copy_on(session, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("\n".join(lines) + "\n")


_PLAIN, _JSON, _ARRAY = 0, 1, 2


def _kind(column_type: Any) -> int:
    if isinstance(column_type, JSONB):
        return _JSON
    return _ARRAY if isinstance(column_type, ARRAY) else _PLAIN


def copy_escaped(text: str) -> str:
    """Text in COPY's text format (the check first: most text needs no escaping)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_text(value: Any, kind: int) -> str:
    if kind == _PLAIN:  # the commonest values first, by exact type (a vocabulary StrEnum is a str subclass)
        exact = type(value)
        if exact is str:
            return copy_escaped(value)
        if exact is uuid.UUID or exact is int:
            return str(value)
    if value is None:
        return "\\N"
    if kind == _JSON:
        return copy_escaped(json.dumps(value))
    if kind == _ARRAY:
        return "{" + ",".join(map(str, value)) + "}"  # of numbers: nothing to quote
    if isinstance(value, Enum):
        return copy_escaped(str(value.value))
    if isinstance(value, str):
        return copy_escaped(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.6f} seconds"
    if isinstance(value, int | float | Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"no COPY text for {type(value).__name__} {value!r}")
