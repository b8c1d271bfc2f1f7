"""FASTA from stored antibodies, with headers that `abdb import fasta` reads back into the same antibodies.

Chains: ``>NAME|LABEL`` with the chain's own name when it is a label the importer knows (heavy, light, H,
kappa, …, scfv, with a number: heavy2), else the label of its chain type; an antibody of one unlabelled chain
is ``>NAME`` alone. Domains and regions (``what``): one record per variable domain or region of a scheme,
``>NAME|LABEL scheme=IMGT domain=VARIABLE start=1 end=121`` (``region=CDR3`` for regions) — the key=value
pairs become the chain's metadata when read back. White space in a name would end the id, so it is written
as ``_`` (and counted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from abdb.domain.exported import ExportedAntibody, ExportedChain
from abdb.io.fasta import is_label

TYPE_LABELS = {"HEAVY": "heavy", "LIGHT": "light", "SINGLE_CHAIN": "scfv"}
LOCUS_LABELS = {"IGK": "kappa", "IGL": "lambda"}
WHAT_CHAINS, WHAT_VDOMAINS = "chains", "vdomains"
WHITE_SPACE = re.compile(r"\s+")


@dataclass
class FastaCounts:
    renamed: int = 0  # antibodies whose name had white space


def _label(chain: ExportedChain) -> str | None:
    if chain.name != "chain" and is_label(chain.name):
        return chain.name
    if chain.chain_type == "LIGHT" and chain.locus in LOCUS_LABELS:
        return LOCUS_LABELS[chain.locus]
    return TYPE_LABELS.get(chain.chain_type)


def _identifier(name: str, chain: ExportedChain, alone: bool) -> str:
    label = _label(chain)
    if alone and (chain.name == "chain" or label is None):
        return name
    return f"{name}|{label or chain.name}"


def fasta_records(antibody: ExportedAntibody, what: str, counts: FastaCounts) -> Iterator[str]:
    """The antibody's records as FASTA text: ``what`` is ``chains``, ``vdomains`` or a region type (CDR3)."""
    name = WHITE_SPACE.sub("_", antibody.name)
    if name != antibody.name:
        counts.renamed += 1
    alone = len(antibody.chains) == 1
    for chain in antibody.chains:
        identifier = _identifier(name, chain, alone)
        if what == WHAT_CHAINS:
            yield f">{identifier}\n{chain.sequence}\n"
            continue
        for domain in chain.domains:
            if domain.domain_type != "VARIABLE":
                continue
            where = f"scheme={domain.scheme} domain={domain.domain_type}"
            if what == WHAT_VDOMAINS:
                yield f">{identifier} {where} start={domain.start} end={domain.end}\n{domain.sequence}\n"
                continue
            for region in domain.regions:
                if region.region_type == what:
                    yield (
                        f">{identifier} {where} region={region.region_type} start={region.start} end={region.end}\n"
                        f"{region.sequence}\n"
                    )
