"""From an engine's numbering of one chain to the rows that describe it: domains, regions, features."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from abdb.db.rows import row
from abdb.domain.ids import new_id
from abdb.domain.residue_pairs import SEARCHED_REGIONS, residue_pairs
from abdb.domain.vocabulary import ChainType, DomainType, FeatureType, Locus, NumberingScheme
from abdb.numbering.engine import ChainNumbering, NumberedDomain
from abdb.numbering.regions import regions_of

_new_id = new_id  # client-side UUIDv7: domains and their regions link without a round trip


# ANARCI's letters: here L is lambda (unlike legacy files, where L could be any light chain).
LETTERS: dict[str, tuple[ChainType, Locus]] = {
    "H": (ChainType.HEAVY, Locus.IGH),
    "K": (ChainType.LIGHT, Locus.IGK),
    "L": (ChainType.LIGHT, Locus.IGL),
    "A": (ChainType.LIGHT, Locus.TRA),
    "G": (ChainType.LIGHT, Locus.TRG),
    "B": (ChainType.HEAVY, Locus.TRB),
    "D": (ChainType.HEAVY, Locus.TRD),
}


@dataclass
class ChainRows:
    domains: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)  # cdr_search: the variable domains' CDRs
    chain_type: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def chain_rows(
    sequence_id: uuid.UUID,
    chain_id: uuid.UUID,
    sequence: str,
    numbering: ChainNumbering,
    source: str,
    *,
    names: tuple[str, str],
) -> ChainRows:
    """Rows for one chain under every scheme numbered; ``error`` says why a chain could not be numbered.
    ``names``: the antibody's and the chain's, which the search rows of its CDRs carry."""
    rows = ChainRows()
    first_scheme = next(iter(numbering.domains), None)
    found = numbering.domains.get(first_scheme, ()) if first_scheme else ()
    if not found:
        receptors = numbering.not_numbered.get(first_scheme or "", ())
        if receptors:
            loci = ", ".join(str(LETTERS[letter][1]) for letter in receptors)
            rows.error = (
                f"a T-cell receptor chain ({loci}): {first_scheme} numbers antibodies only; Kabat and Chothia do "
                "not number T-cell receptors (annotate it with --scheme imgt)"
            )
            return rows
        rows.error = f"no antibody variable domain found in {len(sequence)} residues" + (
            " (too short to hold one)" if len(sequence) < 70 else ""
        )
        return rows
    for scheme, domains in numbering.domains.items():
        previous_end: int | None = None
        for domain in domains:
            if len(domain.numbering) != domain.end - domain.start + 1:
                rows.error = f"the {scheme} numbering does not cover its domain contiguously"
                return rows
            if previous_end is not None and domain.start > previous_end + 1:
                rows.domains.append(
                    _linker(sequence_id, chain_id, scheme, sequence, previous_end + 1, domain.start - 1)
                )
            _add_variable(rows, (sequence_id, chain_id), names, scheme, sequence, domain)
            previous_end = domain.end
    rows.features = _features(sequence_id, chain_id, found, source)
    letters = [domain.chain_letter for domain in found]
    chain_type, locus = (ChainType.SINGLE_CHAIN, None) if len(found) >= 2 else LETTERS[letters[0]]
    rows.chain_type = {"sequence_id": sequence_id, "chain_id": chain_id, "chain_type": chain_type, "locus": locus}
    rows.summary = {
        "domains": len(found),
        "chain_letters": letters,
        "species": [domain.species for domain in found],
        "spans": [[domain.start + 1, domain.end + 1] for domain in found],
    }
    return rows


def _linker(
    sequence_id: uuid.UUID, chain_id: uuid.UUID, scheme: str, sequence: str, start: int, end: int
) -> dict[str, Any]:
    return row(
        "antibody_domains",
        id=_new_id(),
        antibody_sequence_id=sequence_id,
        chain_id=chain_id,
        domain_type=DomainType.LINKER,
        numbering_scheme=NumberingScheme(scheme.upper()),
        sequence=sequence[start : end + 1],
        start_position=start + 1,
        end_position=end + 1,
        numbering=None,
        confidence_score=None,
    )


def _add_variable(
    rows: ChainRows,
    keys: tuple[uuid.UUID, uuid.UUID],
    names: tuple[str, str],
    scheme: str,
    sequence: str,
    domain: NumberedDomain,
) -> None:
    sequence_id, chain_id = keys
    domain_id = _new_id()
    numbering_scheme = NumberingScheme(scheme.upper())
    rows.domains.append(
        row(
            "antibody_domains",
            id=domain_id,
            antibody_sequence_id=sequence_id,
            chain_id=chain_id,
            domain_type=DomainType.VARIABLE,
            numbering_scheme=numbering_scheme,
            sequence=sequence[domain.start : domain.end + 1],
            start_position=domain.start + 1,
            end_position=domain.end + 1,
            numbering=domain.numbering,  # (number, insertion, residue) tuples: JSON arrays, as lists would be
            confidence_score=None,
        )
    )
    for span in regions_of(domain.numbering, scheme, domain.chain_letter):
        region_id = _new_id()
        rows.regions.append(
            row(
                "antibody_regions",
                id=region_id,
                antibody_sequence_id=sequence_id,
                domain_id=domain_id,
                region_type=span.region_type,
                sequence=span.sequence,
                start_position=domain.start + span.first + 1,
                end_position=domain.start + span.last + 1,
                confidence_score=None,
            )
        )
        if span.region_type in SEARCHED_REGIONS:
            rows.searches.append(
                row(
                    "cdr_search",
                    antibody_sequence_id=sequence_id,
                    region_id=region_id,
                    chain_id=chain_id,
                    region_type=span.region_type,
                    numbering_scheme=numbering_scheme,
                    antibody_name=names[0],
                    chain_name=names[1],
                    sequence=span.sequence,
                    residue_pairs=residue_pairs(span.sequence),
                )
            )


def _features(
    sequence_id: uuid.UUID, chain_id: uuid.UUID, domains: tuple[NumberedDomain, ...], source: str
) -> list[dict[str, Any]]:
    features = []
    for index, domain in enumerate(domains):
        span = {"start_position": domain.start + 1, "end_position": domain.end + 1}
        common = {"sequence_id": sequence_id, "chain_id": chain_id, "source": source, **span}
        species = domain.v_gene[0] if domain.v_gene else domain.species
        features.append(
            row(
                "sequence_features",
                id=_new_id(),
                **common,
                feature_type=FeatureType.SPECIES,
                name="species",
                value=species,
                confidence_score=None,
                metadata={"domain": index, "hmm_species": domain.species},
            )
        )
        for segment, gene in (("V", domain.v_gene), ("J", domain.j_gene)):
            if gene is None:
                continue
            gene_species, allele, identity = gene
            confidence = Decimal(str(round(identity, 3)))
            meta = {"domain": index, "species": gene_species}
            for feature_type, name, value in (
                (FeatureType.GENE, f"{segment} gene", allele.split("*", 1)[0]),
                (FeatureType.ALLELE, f"{segment} allele", allele),
            ):
                features.append(
                    row(
                        "sequence_features",
                        id=_new_id(),
                        **common,
                        feature_type=feature_type,
                        name=name,
                        value=value,
                        confidence_score=confidence,
                        metadata=meta,
                    )
                )
    return features
