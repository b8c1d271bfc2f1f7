"""Rows of delimited tables (AIRR TSV, OAS and other CSV), streamed with the standard library's ``csv``.

A row comes as a mapping from column name to text (``None`` where the row is shorter than the header) with its
line number; a line that cannot be a row (more fields than the header, a NUL byte) becomes a Rejection and
reading goes on; a broken gzip stream or invalid UTF-8 ends the file with a Rejection saying so.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from abdb.domain.records import Rejection
from abdb.io.fasta import open_text
from abdb.io.inputs import FileStarted, ReadPosition

T = TypeVar("T")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a numbering or an alignment can be a long field


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str | None]

    def text(self, column: str) -> str | None:
        """The stripped value, or None when the column is missing, empty or a table's "missing" word."""
        value = self.values.get(column)
        if value is None:
            return None
        value = value.strip()
        return value if value and value.lower() not in MISSING else None

    @property
    def location(self) -> str:
        return f"line {self.line}"


MISSING = frozenset({"na", "n/a", "nan", "none", "null"})


class TableFile:
    """One table file opened for reading: ``lines`` before the header can be taken first (OAS's metadata)."""

    def __init__(self, path: Path, source: str, delimiter: str) -> None:
        self.source = source
        self.delimiter = delimiter
        stream, self.raw = open_text(path)
        self.text: IO[str] = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        self.line = 0  # physical lines read so far
        self.header: list[str] = []
        self._reader: Any = None
        self._offset = 0
        self._first = 0

    def close(self) -> None:
        self.text.close()

    def next_line(self) -> str:
        """One raw line (for what precedes the header)."""
        self.line += 1
        return self.text.readline()

    def _records(self) -> Iterator[list[str]]:
        if self._reader is None:
            if self.delimiter == "\t":  # AIRR TSV has no quoting: a " is a character like any other
                self._reader = csv.reader(self.text, delimiter="\t", quoting=csv.QUOTE_NONE)
            else:
                self._reader = csv.reader(self.text, delimiter=self.delimiter)
            self._offset = self.line  # lines taken before, with next_line
        for fields in self._reader:
            self._first = self.line + 1  # where this record begins (a quoted field may span lines)
            self.line = self._offset + self._reader.line_num
            yield fields

    def read_header(self) -> list[str] | None:
        """The column names (None for an empty file); TableError when the file cannot be read."""
        try:
            for fields in self._records():
                if any(field.strip() for field in fields):
                    self.header = [name.strip() for name in fields]
                    return self.header
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise TableError(f"the gzip stream is truncated or corrupt ({error})") from None
        except UnicodeDecodeError:
            raise TableError("invalid UTF-8 in the header; save the file as UTF-8") from None
        except csv.Error as error:
            raise TableError(f"unreadable table: {error}") from None
        return None

    def header_or_rejection(self, expected: str) -> list[str] | Rejection:
        """The column names, or the Rejection of a file without them (unreadable, or empty: ``expected``
        says what it should have begun with)."""
        try:
            header = self.read_header()
        except TableError as error:
            return Rejection(self.source, "line 1", None, "read", str(error))
        if header is None:
            return Rejection(self.source, "line 1", None, "parse", f"the file is empty: expected {expected}")
        return header

    def rows(self) -> Iterator[Row | Rejection]:
        """Every row after the header, as Row or Rejection."""
        header = self.header
        try:
            for fields in self._records():
                first = self._first
                if not any(field.strip() for field in fields):
                    continue
                if len(fields) > len(header):
                    yield Rejection(
                        self.source,
                        f"line {first}",
                        None,
                        "parse",
                        f"{len(fields)} fields where the header has {len(header)} (a {_name(self.delimiter)} "
                        "inside a value?)",
                    )
                    continue
                if any("\x00" in field for field in fields):
                    yield Rejection(self.source, f"line {first}", None, "parse", "NUL byte: not a text table")
                    continue
                yield Row(first, dict(zip(header, fields, strict=False)))
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            yield Rejection(
                self.source,
                f"line {self.line + 1}",
                None,
                "read",
                f"the gzip stream is truncated or corrupt ({error}); the rows after it are missing",
            )
        except UnicodeDecodeError:
            yield Rejection(
                self.source,
                f"line {self.line + 1}",
                None,
                "read",
                "invalid UTF-8; save the file as UTF-8 (the rows from here on were not read)",
            )
        except csv.Error as error:
            yield Rejection(self.source, f"line {self.line + 1}", None, "parse", f"unreadable table: {error}")


class TableError(ValueError):
    """The file as a whole cannot be read as a table."""


def _name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def each_table(
    files: Iterable[tuple[Path, str]],
    delimiter: Callable[[Path], str],
    position: ReadPosition,
    read: Callable[[TableFile], Iterator[T]],
) -> Iterator[FileStarted | Rejection | T]:
    """``read(table)`` of every file, each announced, opened (gzip or not) and closed, bytes counted."""
    for path, name in files:
        yield FileStarted(path, name)
        try:
            table = TableFile(path, name, delimiter(path))
        except OSError as error:
            yield Rejection(name, "file", None, "read", f"cannot read the file: {error.strerror}")
            continue
        position.follow(table.raw)
        try:
            yield from read(table)
        finally:
            table.close()
            position.finished += path.stat().st_size if path.exists() else 0
            position.follow(None)
