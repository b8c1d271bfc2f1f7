"""Which antibodies a command reads: the filters that `abdb export` and `abdb list` share."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from abdb.domain.vocabulary import ChainType, Locus


@dataclass(frozen=True)
class Selection:
    name: str | None = None  # a glob: * any text, ? one character
    import_run_id: uuid.UUID | None = None
    chain_type: ChainType | None = None  # has a chain of this type
    locus: Locus | None = None  # has a chain of this locus
    species: str | None = None  # a SPECIES feature with this value (any case)
    v_gene: str | None = None  # a V gene or allele starting with this (IGHV3, IGHV3-23*01)
    annotated: bool | None = None  # has a variable domain (True) or none (False)
    public: bool | None = None
    since: dt.datetime | None = None  # stored at or after


def like_pattern(glob: str) -> str:
    """A glob as a LIKE pattern (escape character ``\\``)."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")
