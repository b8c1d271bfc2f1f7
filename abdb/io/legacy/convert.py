"""From a legacy record's neutral form to a validated, fully placed AntibodyRecord.

Vocabulary decisions (the README's "Legacy JSON" section explains them):
- domain ``V``/``C``/``LINKER`` → VARIABLE / CONSTANT / LINKER (a domain type added for scFv linkers; the
  plan's JOINING means a J segment, not a linker);
- regions ``CONSTANT`` and ``LINKER`` are not stored as regions: each spans its whole domain, which the
  domain row already records;
- chain letters: ``H`` HEAVY/IGH, ``K`` LIGHT/IGK, ``L`` LIGHT with unknown locus (light *or* lambda in
  legacy data); T-cell receptor ``B``/``D`` (VDJ chains, like heavy) HEAVY/TRB, TRD and ``A``/``G``
  (VJ chains, like light) LIGHT/TRA, TRG; ``E Z T I`` UNKNOWN, the letter kept in metadata;
- a chain holding two or more variable domains is SINGLE_CHAIN.
"""

from __future__ import annotations

import ast
from typing import Any

from abdb.domain.placement import DomainDraft, RegionDraft, place_domains, residues_of
from abdb.domain.records import (
    MAX_CHAIN_NAME_LENGTH,
    AntibodyRecord,
    ChainRecord,
    DomainRecord,
    FeatureRecord,
    RecordError,
    check_storable,
    validate_name,
    validate_residues,
)
from abdb.domain.vocabulary import ChainType, DomainType, FeatureType, Locus, NumberingScheme, RegionType
from abdb.io.fasta import LABELS
from abdb.io.legacy.raw import RawAntibody, RawChain, RawDomain, Shape

DOMAIN_TYPES = {
    "V": DomainType.VARIABLE,
    "VARIABLE": DomainType.VARIABLE,
    "C": DomainType.CONSTANT,
    "CONSTANT": DomainType.CONSTANT,
    "LINKER": DomainType.LINKER,
}
REGION_TYPES = {str(member): member for member in RegionType}
WHOLE_DOMAIN_REGIONS = frozenset({"CONSTANT", "LINKER"})
CHAIN_LETTERS: dict[str, tuple[ChainType, Locus | None]] = {
    "H": (ChainType.HEAVY, Locus.IGH),
    "K": (ChainType.LIGHT, Locus.IGK),
    "L": (ChainType.LIGHT, None),
    "A": (ChainType.LIGHT, Locus.TRA),
    "G": (ChainType.LIGHT, Locus.TRG),
    "B": (ChainType.HEAVY, Locus.TRB),
    "D": (ChainType.HEAVY, Locus.TRD),
}
ISOTYPE_LOCI = {
    "IGH": (ChainType.HEAVY, Locus.IGH),
    "IGK": (ChainType.LIGHT, Locus.IGK),
    "IGL": (ChainType.LIGHT, Locus.IGL),
}
MAX_GERMLINE_LENGTH = 10_000


def build_record(
    raw: RawAntibody, shape: Shape, source: str, location: str, *, allow_x: bool, min_length: int
) -> AntibodyRecord:
    name = validate_name(raw.name, "name")
    provenance = f"legacy {shape.value}"
    chains: list[ChainRecord] = []
    features: list[FeatureRecord] = []
    unknown_letters: dict[str, str] = {}
    for index, raw_chain in enumerate(raw.chains):
        chain_name = validate_name(raw_chain.name, f"name of chain {index + 1}", MAX_CHAIN_NAME_LENGTH)
        if any(chain.name == chain_name for chain in chains):
            raise RecordError(f"two chains are named {chain_name!r}; chain names must differ within a record")
        try:
            chain, chain_features = _chain(raw_chain, chain_name, index, provenance, allow_x, min_length)
        except RecordError as error:
            raise RecordError(f"chain {chain_name!r}: {error}") from None
        if chain.chain_type is ChainType.UNKNOWN and raw_chain.letter:
            unknown_letters[chain_name] = raw_chain.letter
        chains.append(chain)
        features.extend(chain_features)
    if not chains:
        raise RecordError("the record has no chains")
    if raw.species:
        features.append(_species(raw.species, 0, chains[0], provenance))
    features.extend(germline_features(raw.germline, provenance))
    metadata = dict(raw.metadata)
    if unknown_letters:
        metadata.setdefault("legacy", {})["unknown_chain_letters"] = unknown_letters
    check_storable(metadata, "the record's metadata")
    for feature in features:
        check_storable([feature.name, feature.value, feature.metadata], "a feature")
    return AntibodyRecord(name, tuple(chains), source, location, None, metadata, tuple(features))


def _chain(
    raw: RawChain, name: str, index: int, provenance: str, allow_x: bool, min_length: int
) -> tuple[ChainRecord, list[FeatureRecord]]:
    residues = validate_residues(residues_of(raw.sequence), allow_x=allow_x, min_length=min_length)
    drafts = [_draft(domain, position) for position, domain in enumerate(raw.domains, start=1)]
    domains = place_domains(residues, drafts)
    chain_type, locus = _chain_type(raw, domains)
    chain = ChainRecord(name, chain_type, residues, locus, domains)
    features = []
    for raw_domain, domain in zip(raw.domains, domains, strict=True):
        if raw_domain.species and domain.domain_type is DomainType.VARIABLE:
            features.append(_species(raw_domain.species, index, chain, provenance, domain))
        if raw_domain.isotype and domain.domain_type is DomainType.CONSTANT:
            features.append(
                FeatureRecord(
                    FeatureType.ISOTYPE,
                    "constant region isotype",
                    raw_domain.isotype.strip(),
                    provenance,
                    index,
                    domain.start,
                    domain.end,
                )
            )
    return chain, features


def _draft(raw: RawDomain, position: int) -> DomainDraft:
    label = f"domain {position} ({raw.kind})"
    domain_type = DOMAIN_TYPES.get(raw.kind.strip().upper())
    if domain_type is None:
        raise RecordError(f"{label}: unknown domain type {raw.kind!r}; known: V, C, LINKER")
    regions = []
    for region in raw.regions:
        code = region.label.strip().upper()
        if code in WHOLE_DOMAIN_REGIONS:
            continue
        region_type = REGION_TYPES.get(code)
        if region_type is None:
            raise RecordError(f"{label}: unknown region {region.label!r}; known: FR1-FR4, CDR1-CDR3, CONSTANT, LINKER")
        regions.append(RegionDraft(region.label, region_type, region.sequence, region.hint))
    return DomainDraft(label, domain_type, _scheme(raw.scheme, label), raw.sequence, tuple(regions), raw.hint)


def _scheme(value: str | None, label: str) -> NumberingScheme:
    if value is None:
        raise RecordError(f"{label} has no numbering_scheme, and the file gives none")
    code = value.strip().upper()
    if code not in NumberingScheme.__members__:
        known = ", ".join(member.value.lower() for member in NumberingScheme)
        raise RecordError(f"{label}: numbering scheme {value!r} is not one of {known}")
    return NumberingScheme(code)


def _chain_type(raw: RawChain, domains: tuple[DomainRecord, ...]) -> tuple[ChainType, Locus | None]:
    if raw.declared is not None and raw.declared[0] is not ChainType.UNKNOWN:
        return raw.declared
    if sum(domain.domain_type is DomainType.VARIABLE for domain in domains) >= 2:
        return ChainType.SINGLE_CHAIN, None
    letters = {d.isotype.strip().upper() for d in raw.domains if d.isotype and len(d.isotype.strip()) == 1}
    letter = (raw.letter or (letters.pop() if len(letters) == 1 else "")).strip()
    chain_type, locus = CHAIN_LETTERS.get(letter.upper(), (LABELS.get(letter.lower(), ChainType.UNKNOWN), None))
    for domain in raw.domains:
        isotype = (domain.isotype or "").strip().upper()
        inferred = ISOTYPE_LOCI.get(isotype[:3]) if len(isotype) > 3 else None
        if inferred and chain_type in (ChainType.UNKNOWN, inferred[0]):
            chain_type, locus = inferred[0], locus or inferred[1]
    return chain_type, locus


def _species(
    species: str, index: int, chain: ChainRecord, provenance: str, domain: DomainRecord | None = None
) -> FeatureRecord:
    if domain is None:
        variable = [d for d in chain.domains if d.domain_type is DomainType.VARIABLE]
        domain = variable[0] if len(variable) == 1 else None
    return FeatureRecord(
        FeatureType.SPECIES,
        "species",
        species.strip(),
        provenance,
        index,
        domain.start if domain else None,
        domain.end if domain else None,
    )


def germline_features(value: Any, provenance: str) -> list[FeatureRecord]:
    """V/D/J genes and alleles from v1's ``germline``: a Python literal, read with ``ast.literal_eval``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    parsed = _literal(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise RecordError("germline should be a mapping like {'v_gene': [('human', 'IGHV3-23*04'), 0.898]}")
    features = []
    for key, segment in (("v_gene", "V"), ("d_gene", "D"), ("j_gene", "J")):
        entry = parsed.get(key)
        if entry is None:
            continue
        species, allele, identity = _assignment(entry, key)
        if allele is None:
            continue
        metadata = {"species": species} if species else {}
        gene = allele.split("*", 1)[0]
        features.append(
            FeatureRecord(
                FeatureType.GENE, f"{segment} gene", gene, provenance, 0, confidence=identity, metadata=metadata
            )
        )
        if gene != allele:
            features.append(
                FeatureRecord(
                    FeatureType.ALLELE,
                    f"{segment} allele",
                    allele,
                    provenance,
                    0,
                    confidence=identity,
                    metadata=metadata,
                )
            )
    return features


def _literal(text: str) -> Any:
    if len(text) > MAX_GERMLINE_LENGTH:
        raise RecordError(f"germline is {len(text):,} characters long; that is not a germline assignment")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise RecordError(
            f"germline is not a readable Python literal ({type(error).__name__}); expected something like "
            "\"{'v_gene': [('human', 'IGHV3-23*04'), 0.898]}\""
        ) from None


def _assignment(entry: Any, key: str) -> tuple[str | None, str | None, float | None]:
    """``[(species, allele), identity]`` → its three parts, checked."""
    if not (isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], list | tuple)):
        raise RecordError(f"germline {key} should look like [('human', 'IGHV3-23*04'), 0.898]")
    if len(entry[0]) != 2:
        raise RecordError(f"germline {key} should name a species and an allele")
    species, allele = entry[0]
    identity = entry[1]
    if not (species is None or isinstance(species, str)) or not (allele is None or isinstance(allele, str)):
        raise RecordError(f"germline {key}: species and allele should be text")
    if identity is not None:
        if isinstance(identity, bool) or not isinstance(identity, int | float) or not 0 <= identity <= 1:
            raise RecordError(f"germline {key}: identity {identity!r} should be a number from 0 to 1")
        identity = float(identity)
    return species, (allele.strip() or None) if allele else None, identity
