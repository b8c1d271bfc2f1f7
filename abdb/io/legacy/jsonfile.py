"""Strict JSON loading with errors that say where the file is broken.

Legacy files are small (one sequence, one API response, at most 50 history entries), so each file is
read whole; memory grows with the largest single file, not with the number of files. Stricter than
``json.loads``: duplicate keys, ``NaN``/``Infinity`` and numbers out of float range are errors, because
each silently changes what the file says.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from pathlib import Path
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


class JsonFileError(ValueError):
    """The file as a whole cannot be read; ``location`` says where (line and column when known)."""

    def __init__(self, message: str, location: str = "file") -> None:
        super().__init__(message)
        self.location = location


def load_json_file(path: Path) -> Any:
    try:
        data = path.read_bytes()
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:  # BadGzipFile is an OSError: first
        raise JsonFileError(f"the gzip stream is truncated or corrupt ({error})") from None
    except OSError as error:
        raise JsonFileError(f"cannot read the file: {error.strerror or error}") from None
    return loads_json_bytes(data)


def loads_json_bytes(data: bytes) -> Any:
    if not data.strip():
        raise JsonFileError("the file is empty; expected a JSON object or array", "line 1")
    nul = data.find(b"\x00")
    if nul != -1:
        raise JsonFileError("NUL byte: this looks like a binary file, not JSON", _byte_location(data, nul))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise JsonFileError("invalid UTF-8; save the file as UTF-8", _byte_location(data, error.start)) from None
    try:
        return json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant, parse_float=_float
        )
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            raise JsonFileError(
                f"the file ends in the middle of a JSON value ({error.msg.lower()}): it looks truncated", where
            ) from None
        looks_fasta = text.lstrip().startswith(">")
        hint = " (this looks like FASTA: use `abdb import fasta`)" if looks_fasta else ""
        raise JsonFileError(f"malformed JSON: {error.msg}{hint}", where) from None
    except RecursionError:
        raise JsonFileError("the JSON is nested too deeply to be a legacy record") from None
    except ValueError as error:  # from the hooks below, or an integer too long to convert
        raise JsonFileError(str(error)) from None


def strict_loads(text: str) -> Any:
    """``json.loads`` refusing duplicate keys, NaN/Infinity and numbers out of float range (ValueError)."""
    return json.loads(
        text, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant, parse_float=_float
    )


def _byte_location(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: only then look for the culprit
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one JSON object; keep one")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; write a number or null")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value
