"""One builder per legacy shape but the history export: an item of the file in, a ``RawAntibody`` out, or a
RecordError that names the field at fault."""

from __future__ import annotations

from typing import Any

from abdb.domain.records import RecordError
from abdb.domain.vocabulary import ChainType
from abdb.io.legacy.raw import (
    REQUEST_CHAIN_KEYS,
    REQUEST_KEYS,
    RawAntibody,
    RawChain,
    RawDomain,
    RawRegion,
    Shape,
    hint_at,
    kind_of,
    list_at,
    name_at,
    object_at,
    text_at,
)


def per_sequence(value: Any) -> RawAntibody:
    item = object_at(value, "the record")
    chains = []
    for index, chain_value in enumerate(list_at(item, "chains", "the record")):
        chain = object_at(chain_value, f"chain {index + 1}")
        what = f"chain {index + 1}"
        domains = []
        for position, domain_value in enumerate(list_at(chain, "domains", what)):
            domain = object_at(domain_value, f"{what} domain {position + 1}")
            regions = _regions(domain.get("regions"), f"{what} domain {position + 1}")
            scheme = text_at(domain, "numbering_scheme", what)
            domains.append(
                RawDomain(
                    text_at(domain, "domain_type", what) or "V", text_at(domain, "sequence", what), scheme, regions
                )
            )
        chains.append(_raw_chain(chain, index, what, domains))
    stored = item.get("metadata")
    metadata: dict[str, Any] = stored if isinstance(stored, dict) else {}
    legacy = {"shape": Shape.PER_SEQUENCE.value, "id": item.get("id"), "created_at": item.get("created_at")}
    return RawAntibody(name_at(item, "the record"), chains, {**metadata, "legacy": legacy})


def _raw_chain(chain: dict[str, Any], index: int, what: str, domains: list[RawDomain]) -> RawChain:
    return RawChain(
        text_at(chain, "name", what) or f"chain_{index + 1}",
        text_at(chain, "sequence", what, required=True) or "",
        text_at(chain, "chain_type", what),
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
        raise RecordError(f"{what}: 'regions' should be an object, not {kind_of(value)}")
    regions = []
    for key, region_value in entries:
        region = object_at(region_value, f"{what} region {key or ''}".rstrip())
        label = text_at(region, "region_type", what) or text_at(region, "name", what) or key
        if label is None:
            raise RecordError(f"{what}: a region has no name or region_type")
        boundary = region.get("boundary")
        hint = hint_at(boundary, "start") if isinstance(boundary, dict) else hint_at(region, "start")
        regions.append(RawRegion(label, text_at(region, "sequence", what), hint, text_at(region, "domain_type", what)))
    return regions


def result_v2(value: Any, scheme: Any) -> RawAntibody:
    item = object_at(value, "the sequence")
    default_scheme = scheme if isinstance(scheme, str) else None
    chains = []
    for index, chain_value in enumerate(list_at(item, "chains", "the sequence")):
        what = f"chain {index + 1}"
        chain = object_at(chain_value, what)
        domains = []
        for position, domain_value in enumerate(list_at(chain, "domains", what)):
            where = f"{what} domain {position + 1}"
            domain = object_at(domain_value, where)
            regions = []
            for region_value in list_at(domain, "regions", where):
                region = object_at(region_value, f"{where} region")
                label = text_at(region, "name", where, required=True) or ""
                regions.append(RawRegion(label, _v2_region_sequence(region, where), hint_at(region, "start")))
            domains.append(
                RawDomain(
                    text_at(domain, "domain_type", where) or "V",
                    text_at(domain, "sequence", where),
                    text_at(domain, "numbering_scheme", where) or default_scheme,
                    regions,
                    isotype=text_at(domain, "isotype", where),
                    species=text_at(domain, "species", where),
                    hint=hint_at(domain, "start"),
                )
            )
        chains.append(_raw_chain(chain, index, what, domains))
    if not chains:
        raise RecordError("the sequence has no chains")
    return RawAntibody(name_at(item, "the sequence"), chains, {"legacy": {"shape": Shape.RESULT_V2.value}})


def _v2_region_sequence(region: dict[str, Any], what: str) -> str | None:
    direct = text_at(region, "sequence", what)
    if direct is not None:
        return direct
    for feature_value in list_at(region, "features", what):
        feature = object_at(feature_value, f"{what} feature")
        if feature.get("kind") == "sequence":
            return text_at(feature, "value", what)
    return None


def result_v1(value: Any, scheme: Any) -> RawAntibody:
    item = object_at(value, "the sequence")
    default_scheme = scheme if isinstance(scheme, str) else None
    letter = text_at(item, "chain_type", "the sequence")
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
        text_at(item, "sequence", "the sequence", required=True) or "",
        letter,
        domains,
    )
    return RawAntibody(
        name_at(item, "the sequence"),
        [chain],
        {"legacy": {"shape": Shape.RESULT_V1.value}},
        species=text_at(item, "species", "the sequence"),
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


def request(value: Any, scheme: Any) -> RawAntibody:
    item = object_at(value, "the request")
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
        sequence = text_at(item, key, "the request")
        if sequence is not None:
            chains.append(RawChain(key, sequence, declared=declared))
    custom = item.get("custom_chains")
    if custom is not None:
        for label, sequence in object_at(custom, "custom_chains").items():
            if not isinstance(sequence, str):
                raise RecordError(f"custom chain {label!r} should be text, not {kind_of(sequence)}")
            chains.append(RawChain(label, sequence, declared=(ChainType.UNKNOWN, None)))
    if not chains:
        raise RecordError(
            "the request has no chains; expected heavy_chain, light_chain, scfv, heavy_chain_1..4, "
            "light_chain_1..4 or custom_chains"
        )
    return RawAntibody(name_at(item, "the request"), chains, {"legacy": {"shape": Shape.REQUEST.value}})
