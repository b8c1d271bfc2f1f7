"""The five legacy JSON shapes, recognised and reduced to one neutral form (``RawAntibody``).

Nothing here trusts a field's type: a missing or mistyped field raises RecordError naming the field, so a
bad record is rejected with its reason and the rest of the file still loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from abdb.domain.records import RecordError
from abdb.domain.vocabulary import ChainType, Locus
from abdb.io.fasta import chain_type_of, locus_of, split_identifier


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
        yield "$", _name_hint(value), lambda: _per_sequence(value)
    elif shape is Shape.HISTORY:
        for index, entry in enumerate(value):
            yield from _history_entry(entry, f"$[{index}]")
    else:
        build = {Shape.RESULT_V1: _result_v1, Shape.RESULT_V2: _result_v2, Shape.REQUEST: _request}[shape]
        scheme = value.get("numbering_scheme")
        for index, item in enumerate(value["sequences"]):
            yield f"$.sequences[{index}]", _name_hint(item), _bind(build, item, scheme)


def _bind(build: Callable[[Any, Any], RawAntibody], item: Any, scheme: Any) -> Callable[[], RawAntibody]:
    return lambda: build(item, scheme)


def _name_hint(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else None


# --- typed field access -------------------------------------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{what} should be a JSON object, not {_kind(value)}")
    return value


def _list(container: dict[str, Any], key: str, what: str) -> list[Any]:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{what}: {key!r} should be a list, not {_kind(value)}")
    return value


def _text(container: dict[str, Any], key: str, what: str, *, required: bool = False) -> str | None:
    value = container.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordError(f"{what} has no {key!r}")
        return None
    if not isinstance(value, str):
        raise RecordError(f"{what}: {key!r} should be text, not {_kind(value)}")
    return value


def _hint(container: dict[str, Any], key: str) -> int | None:
    value = container.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _name(item: dict[str, Any], what: str) -> str:
    name = _text(item, "name", what) or _text(item, "id", what)
    if name is None:
        raise RecordError(f'{what} has no "name"; add one')
    return name


# --- the shapes -----------------------------------------------------------------------------------------------


def _per_sequence(value: Any) -> RawAntibody:
    item = _object(value, "the record")
    chains = []
    for index, chain_value in enumerate(_list(item, "chains", "the record")):
        chain = _object(chain_value, f"chain {index + 1}")
        what = f"chain {index + 1}"
        domains = []
        for position, domain_value in enumerate(_list(chain, "domains", what)):
            domain = _object(domain_value, f"{what} domain {position + 1}")
            regions = _regions(domain.get("regions"), f"{what} domain {position + 1}")
            scheme = _text(domain, "numbering_scheme", what)
            domains.append(
                RawDomain(_text(domain, "domain_type", what) or "V", _text(domain, "sequence", what), scheme, regions)
            )
        chains.append(_raw_chain(chain, index, what, domains))
    stored = item.get("metadata")
    metadata: dict[str, Any] = stored if isinstance(stored, dict) else {}
    legacy = {"shape": Shape.PER_SEQUENCE.value, "id": item.get("id"), "created_at": item.get("created_at")}
    return RawAntibody(_name(item, "the record"), chains, {**metadata, "legacy": legacy})


def _raw_chain(chain: dict[str, Any], index: int, what: str, domains: list[RawDomain]) -> RawChain:
    return RawChain(
        _text(chain, "name", what) or f"chain_{index + 1}",
        _text(chain, "sequence", what, required=True) or "",
        _text(chain, "chain_type", what),
        domains,
    )


def _regions(value: Any, what: str) -> list[RawRegion]:
    """Per-sequence regions: an object keyed by region name (a list is accepted too); boundary is a hint."""
    if value is None:
        return []
    entries = (
        list(value.items())
        if isinstance(value, dict)
        else [(None, v) for v in value]
        if isinstance(value, list)
        else None
    )
    if entries is None:
        raise RecordError(f"{what}: 'regions' should be an object, not {_kind(value)}")
    regions = []
    for key, region_value in entries:
        region = _object(region_value, f"{what} region {key or ''}".rstrip())
        label = _text(region, "region_type", what) or _text(region, "name", what) or key
        if label is None:
            raise RecordError(f"{what}: a region has no name or region_type")
        boundary = region.get("boundary")
        hint = _hint(boundary, "start") if isinstance(boundary, dict) else _hint(region, "start")
        regions.append(RawRegion(label, _text(region, "sequence", what), hint, _text(region, "domain_type", what)))
    return regions


def _result_v2(value: Any, scheme: Any) -> RawAntibody:
    item = _object(value, "the sequence")
    default_scheme = scheme if isinstance(scheme, str) else None
    chains = []
    for index, chain_value in enumerate(_list(item, "chains", "the sequence")):
        what = f"chain {index + 1}"
        chain = _object(chain_value, what)
        domains = []
        for position, domain_value in enumerate(_list(chain, "domains", what)):
            where = f"{what} domain {position + 1}"
            domain = _object(domain_value, where)
            regions = []
            for region_value in _list(domain, "regions", where):
                region = _object(region_value, f"{where} region")
                label = _text(region, "name", where, required=True) or ""
                regions.append(RawRegion(label, _v2_region_sequence(region, where), _hint(region, "start")))
            domains.append(
                RawDomain(
                    _text(domain, "domain_type", where) or "V",
                    _text(domain, "sequence", where),
                    _text(domain, "numbering_scheme", where) or default_scheme,
                    regions,
                    isotype=_text(domain, "isotype", where),
                    species=_text(domain, "species", where),
                    hint=_hint(domain, "start"),
                )
            )
        chains.append(_raw_chain(chain, index, what, domains))
    if not chains:
        raise RecordError("the sequence has no chains")
    return RawAntibody(_name(item, "the sequence"), chains, {"legacy": {"shape": Shape.RESULT_V2.value}})


def _v2_region_sequence(region: dict[str, Any], what: str) -> str | None:
    direct = _text(region, "sequence", what)
    if direct is not None:
        return direct
    for feature_value in _list(region, "features", what):
        feature = _object(feature_value, f"{what} feature")
        if feature.get("kind") == "sequence":
            return _text(feature, "value", what)
    return None


def _result_v1(value: Any, scheme: Any) -> RawAntibody:
    item = _object(value, "the sequence")
    default_scheme = scheme if isinstance(scheme, str) else None
    letter = _text(item, "chain_type", "the sequence")
    domains: list[RawDomain] = []
    current: RawDomain | None = None
    for region in _regions(item.get("regions"), "the sequence"):
        kind = _v1_region_kind(region)
        if kind in ("LINKER", "CONSTANT"):
            domains.append(RawDomain("LINKER" if kind == "LINKER" else "C", region.sequence, default_scheme, []))
            current = None
            continue
        if current is None or any(r.label.upper() == region.label.upper() for r in current.regions):
            current = RawDomain("V", None, default_scheme, [])
            domains.append(current)
        current.regions.append(region)
    names = {"H": "heavy", "K": "kappa", "L": "light"}
    variable_domains = sum(domain.kind == "V" for domain in domains)
    chain = RawChain(
        "scfv" if variable_domains >= 2 else names.get((letter or "").upper(), "chain"),
        _text(item, "sequence", "the sequence", required=True) or "",
        letter,
        domains,
    )
    return RawAntibody(
        _name(item, "the sequence"),
        [chain],
        {"legacy": {"shape": Shape.RESULT_V1.value}},
        species=_text(item, "species", "the sequence"),
        germline=item.get("germline"),
    )


def _v1_region_kind(region: RawRegion) -> str:
    """v1 has no domains: LINKER and CONSTANT regions (by name or their domain_type) stand for whole domains."""
    for label in (region.label.upper(), (region.domain_type or "").upper()):
        if label.startswith("LINKER"):
            return "LINKER"
        if label.startswith("CONSTANT") or label == "C":
            return "CONSTANT"
    return "V"


def _request(value: Any, scheme: Any) -> RawAntibody:
    item = _object(value, "the request")
    unknown = sorted(set(item) - REQUEST_KEYS)
    if unknown:
        raise RecordError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in the request; chain keys are heavy_chain, "
            "light_chain, scfv, heavy_chain_1..4, light_chain_1..4 and custom_chains"
        )
    chains = []
    for key, declared in REQUEST_CHAIN_KEYS.items():
        if key in item and isinstance(item[key], str) and not item[key].strip():
            raise RecordError(f"{key} is empty")
        sequence = _text(item, key, "the request")
        if sequence is not None:
            chains.append(RawChain(key, sequence, declared=declared))
    custom = item.get("custom_chains")
    if custom is not None:
        for label, sequence in _object(custom, "custom_chains").items():
            if not isinstance(sequence, str):
                raise RecordError(f"custom chain {label!r} should be text, not {_kind(sequence)}")
            chains.append(RawChain(label, sequence, declared=(ChainType.UNKNOWN, None)))
    if not chains:
        raise RecordError(
            "the request has no chains; expected heavy_chain, light_chain, scfv, heavy_chain_1..4, "
            "light_chain_1..4 or custom_chains"
        )
    return RawAntibody(_name(item, "the request"), chains, {"legacy": {"shape": Shape.REQUEST.value}})


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
        raw = _result_v2(item, scheme)
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
