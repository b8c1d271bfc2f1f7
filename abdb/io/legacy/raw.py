"""The neutral form every legacy shape is reduced to (``RawAntibody`` and its parts), and the checks that read a
field of untrusted JSON: a missing or mistyped field raises RecordError naming it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from abdb.domain.records import RecordError
from abdb.domain.vocabulary import ChainType, Locus


class Shape(StrEnum):
    PER_SEQUENCE = "per-sequence file"
    RESULT_V1 = "annotation result v1"
    RESULT_V2 = "annotation result v2"
    HISTORY = "browser history export"
    REQUEST = "annotation request"


SHAPE_HELP = (
    'per-sequence file {"id", "name", "chains": [...]}; annotation result v2 {"sequences": [{"chains": [...]}]}; '
    'annotation result v1 {"sequences": [{"sequence", "chain_type", "regions"}]}; browser history export '
    '[{"fastaContent", "result"}, ...]; annotation request {"sequences": [{"name", "heavy_chain", "light_chain"}]}'
)

REQUEST_CHAIN_KEYS: dict[str, tuple[ChainType, Locus | None]] = {
    "heavy_chain": (ChainType.HEAVY, Locus.IGH),
    "light_chain": (ChainType.LIGHT, None),
    "scfv": (ChainType.SINGLE_CHAIN, None),
    **{f"heavy_chain_{n}": (ChainType.HEAVY, Locus.IGH) for n in range(1, 5)},
    **{f"light_chain_{n}": (ChainType.LIGHT, None) for n in range(1, 5)},
}


REQUEST_KEYS = frozenset({"name", "description", "id", "custom_chains", *REQUEST_CHAIN_KEYS})


@dataclass
class RawRegion:
    label: str
    sequence: str | None
    hint: int | None = None
    domain_type: str | None = None


@dataclass
class RawDomain:
    kind: str
    sequence: str | None
    scheme: str | None
    regions: list[RawRegion] = field(default_factory=list)
    isotype: str | None = None
    species: str | None = None
    hint: int | None = None


@dataclass
class RawChain:
    name: str
    sequence: str
    letter: str | None = None
    domains: list[RawDomain] = field(default_factory=list)
    declared: tuple[ChainType, Locus | None] | None = None


@dataclass
class RawAntibody:
    name: str
    chains: list[RawChain]
    metadata: dict[str, Any] = field(default_factory=dict)
    species: str | None = None
    germline: Any = None


# (location, best-known record name, a function building the record: raises RecordError when it cannot)
RawItem = tuple[str, str | None, Callable[[], RawAntibody]]


def object_at(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{what} should be a JSON object, not {kind_of(value)}")
    return value


def list_at(container: dict[str, Any], key: str, what: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{what}: {key!r} should be a list, not {kind_of(value)}")
    return value


def text_at(container: dict[str, Any], key: str, what: str, *, required: bool = False) -> str | None:
    value = container.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordError(f"{what} has no {key!r}")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{what}: {key!r} should be text, not {kind_of(value)}")
    return value


def hint_at(container: dict[str, Any], key: str) -> int | None:
    value = container.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def name_at(item: dict[str, Any], what: str) -> str:
    name = text_at(item, "name", what) or text_at(item, "id", what)
    if name is None:
        raise RecordError(f'{what} has no "name"; add one')
    return name


# --- the shapes -----------------------------------------------------------------------------------------------
