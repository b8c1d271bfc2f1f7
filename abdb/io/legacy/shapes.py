"""The five legacy JSON shapes, recognised and reduced to one neutral form (``RawAntibody``).

Nothing here trusts a field's type: a missing or mistyped field raises RecordError naming the field, so a
bad record is rejected with its reason and the rest of the file still loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from abdb.domain.records import RecordError
from abdb.io.fasta import chain_type_of, locus_of, split_identifier
from abdb.io.legacy.builders import per_sequence, request, result_v1, result_v2
from abdb.io.legacy.raw import (
    REQUEST_CHAIN_KEYS,
    SHAPE_HELP,
    RawAntibody,
    RawChain,
    RawItem,
    Shape,
)


class UnknownShape(ValueError):
    pass


def detect_shape(value: Any) -> Shape:
    if isinstance(value, list):
        if all(isinstance(entry, dict) and ("result" in entry or "fastaContent" in entry) for entry in value):
            return Shape.HISTORY
    elif isinstance(value, dict):
        items = value.get("sequences")
        if isinstance(items, list):
            first = next((item for item in items if isinstance(item, dict)), {})
            if "chains" in first or not items:
                return Shape.RESULT_V2
            if any(key in first for key in (*REQUEST_CHAIN_KEYS, "custom_chains")):
                return Shape.REQUEST
            if "sequence" in first or "regions" in first:
                return Shape.RESULT_V1
        elif isinstance(value.get("chains"), list) and ("name" in value or "id" in value):
            return Shape.PER_SEQUENCE
    raise UnknownShape(f"this JSON is none of the legacy shapes abdb reads: {SHAPE_HELP}")


def raw_items(value: Any, shape: Shape) -> Iterator[RawItem]:
    if shape is Shape.PER_SEQUENCE:
        yield "$", _name_hint(value), lambda: per_sequence(value)
    elif shape is Shape.HISTORY:
        for index, entry in enumerate(value):
            yield from _history_entry(entry, f"$[{index}]")
    else:
        build = {Shape.RESULT_V1: result_v1, Shape.RESULT_V2: result_v2, Shape.REQUEST: request}[shape]
        scheme = value.get("numbering_scheme")
        for index, item in enumerate(value["sequences"]):
            yield f"$.sequences[{index}]", _name_hint(item), _bind(build, item, scheme)


def _bind(build: Callable[[Any, Any], RawAntibody], item: Any, scheme: Any) -> Callable[[], RawAntibody]:
    return lambda: build(item, scheme)


def _name_hint(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else None


# --- typed field access -------------------------------------------------------------------------------------


def _history_entry(entry: Any, where: str) -> Iterator[RawItem]:
    result = entry.get("result") if isinstance(entry, dict) else None
    entry_name = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None
    legacy = {
        "shape": Shape.HISTORY.value,
        "entry_id": entry.get("id"),
        "entry_name": entry_name,
        "timestamp": entry.get("timestamp"),
    }
    scheme = entry.get("numberingScheme")
    if isinstance(result, dict) and isinstance(result.get("sequences"), list):
        scheme = result.get("numbering_scheme") or scheme
        for index, item in enumerate(result["sequences"]):
            yield (
                f"{where}.result.sequences[{index}]",
                _name_hint(item),
                _history_build(item, scheme, entry_name, legacy),
            )
    else:
        fasta = entry.get("fastaContent") if isinstance(entry, dict) else None
        records = _fasta_records(fasta) if isinstance(fasta, str) else []
        if not records:
            yield where, entry_name, lambda: _no_records()
        for index, (identifier, body) in enumerate(records):
            yield (
                f"{where}.fastaContent[{index}]",
                identifier,
                _history_fasta_record(identifier, body, entry_name, legacy),
            )


def _history_build(item: Any, scheme: Any, entry_name: str | None, legacy: dict[str, Any]) -> Callable[[], RawAntibody]:
    def build() -> RawAntibody:
        raw = result_v2(item, scheme)
        raw.name = _qualified(entry_name, raw.name)
        raw.metadata = {"legacy": legacy}
        return raw

    return build


def _qualified(entry_name: str | None, name: str) -> str:
    """History entries reuse generic names (seq1) across runs: qualify them by the entry's name."""
    return f"{entry_name.strip()}/{name}" if entry_name and entry_name.strip() and entry_name.strip() != name else name


def _fasta_records(fasta: str) -> list[tuple[str, str]]:
    records: list[tuple[str, str]] = []
    for block in fasta.split(">")[1:]:
        header, _, body = block.partition("\n")
        records.append((header.strip().split(" ")[0] or f"seq{len(records) + 1}", body))
    return records


def _no_records() -> RawAntibody:
    raise RecordError("the history entry has neither a result nor FASTA records")


def _history_fasta_record(
    identifier: str, body: str, entry_name: str | None, legacy: dict[str, Any]
) -> Callable[[], RawAntibody]:
    """An entry without a result: each FASTA record is a sequence, named as the result would have named it
    (``<entry>/<record id>``), so that the same entry imported later with its result matches."""

    def build() -> RawAntibody:
        _, label = split_identifier(identifier)
        chain = RawChain(label or "chain", body, declared=(chain_type_of(label), locus_of(label)))
        return RawAntibody(_qualified(entry_name, identifier), [chain], {"legacy": legacy})

    return build
