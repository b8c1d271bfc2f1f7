"""Antibodies as they come back out of the database: plain, immutable values the writers of ``abdb.io``
turn into FASTA (and other formats) without knowing about the database."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


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
