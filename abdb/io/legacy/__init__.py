"""Reading AbSequenceAlign's legacy JSON files: the five shapes and how each maps is in docs/importing.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from abdb.domain.records import DEFAULT_MIN_LENGTH, AntibodyRecord, RecordError, Rejection
from abdb.io.legacy.convert import build_record
from abdb.io.legacy.jsonfile import JsonFileError, load_json_file
from abdb.io.legacy.raw import Shape
from abdb.io.legacy.shapes import UnknownShape, detect_shape, raw_items

JSON_SUFFIXES = (".json",)

__all__ = ["JSON_SUFFIXES", "Shape", "read_legacy_antibodies"]


def read_legacy_antibodies(
    path: Path, *, allow_x: bool = False, min_length: int = DEFAULT_MIN_LENGTH, display_name: str | None = None
) -> Iterator[AntibodyRecord | Rejection]:
    """Whole antibodies from one legacy JSON file; a broken file or record becomes a Rejection."""
    source = display_name or str(path)
    try:
        value = load_json_file(path)
    except JsonFileError as error:
        yield Rejection(source, error.location, None, "parse", str(error))
        return
    try:
        shape = detect_shape(value)
    except UnknownShape as error:
        yield Rejection(source, "$", None, "shape", str(error))
        return
    seen: dict[str, tuple[str, str]] = {}
    for location, name_hint, build in raw_items(value, shape):
        try:
            record = build_record(build(), shape, source, location, allow_x=allow_x, min_length=min_length)
        except RecordError as error:
            yield Rejection(source, location, name_hint, "validate", str(error))
            continue
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
            # A shape we did not foresee inside a record: reject it, never crash the import.
            yield Rejection(source, location, name_hint, "validate", f"unexpected structure ({error})")
            continue
        earlier = seen.get(record.name)
        if earlier is not None and earlier[0] != record.checksum:
            yield Rejection(
                source,
                location,
                record.name,
                "validate",
                f"the name {record.name!r} was used at {earlier[1]} in this file for other chains; rename one",
            )
            continue
        seen.setdefault(record.name, (record.checksum, location))
        yield record
