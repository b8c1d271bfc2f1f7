"""Antibodies as they come back out of the database: plain, immutable values the writers of ``abdb.io``
turn into FASTA (and other formats) without knowing about the database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import NamedTuple

DOCUMENT_FORMAT = "abdb/1"  # the shape of `abdb export json` lines (docs/exporting.md); bump it on any change


@dataclass(frozen=True)
class ExportedRegion:
    region_type: str
    sequence: str
    start: int  # 1-based, inclusive, on the chain
    end: int


@dataclass(frozen=True)
class ExportedDomain:
    domain_type: str
    scheme: str
    sequence: str
    start: int
    end: int
    regions: tuple[ExportedRegion, ...] = ()


@dataclass(frozen=True)
class ExportedFeature:
    chain_id: uuid.UUID | None
    feature_type: str
    name: str
    value: str | None
    source: str | None
    domain: int | None = None  # which variable domain of the chain (0, 1 for an scFv) the engine said it of


@dataclass(frozen=True)
class ExportedChain:
    id: uuid.UUID
    name: str
    chain_type: str
    locus: str | None
    sequence: str
    domains: tuple[ExportedDomain, ...] = ()


@dataclass(frozen=True)
class ExportedAntibody:
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    is_public: bool
    chains: tuple[ExportedChain, ...]
    features: tuple[ExportedFeature, ...] = ()

    def feature(self, chain: ExportedChain, name: str, domain: int | None = None) -> str | None:
        """The value of the chain's first feature of that name (``V gene``, ``species``), if any; with
        ``domain``, of that variable domain (features that name none count for every domain)."""
        return next(
            (
                f.value
                for f in self.features
                if f.chain_id == chain.id and f.name == name and (domain is None or f.domain in (None, domain))
            ),
            None,
        )


class AirrChain(NamedTuple):
    """One chain and one of its variable domains of a scheme (or none), with the domain's regions and the
    chain's V and J calls for that domain: what one AIRR row needs, read by one statement per page."""

    antibody_id: uuid.UUID
    antibody_name: str
    chain_name: str
    chain_type: str
    locus: str | None
    chain_sequence: str
    domains: int  # the chain's variable domains of the scheme (2 for an scFv)
    place: int  # this domain's place among them, from 0
    scheme: str | None
    domain_sequence: str | None
    domain_start: int | None
    domain_end: int | None
    fr1: str | None
    fr1_start: int | None
    fr1_end: int | None
    cdr1: str | None
    cdr1_start: int | None
    cdr1_end: int | None
    fr2: str | None
    fr2_start: int | None
    fr2_end: int | None
    cdr2: str | None
    cdr2_start: int | None
    cdr2_end: int | None
    fr3: str | None
    fr3_start: int | None
    fr3_end: int | None
    cdr3: str | None
    cdr3_start: int | None
    cdr3_end: int | None
    fr4: str | None
    fr4_start: int | None
    fr4_end: int | None
    v_call: str | None  # the V allele, else the V gene
    j_call: str | None
