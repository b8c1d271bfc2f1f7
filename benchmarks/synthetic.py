"""Realistic antibodies for fixtures and benchmarks, derived from the published therapeutics.

Region borders come from conserved motifs (IMGT-like: FR1 to three residues after the first Cys, FR2
from two residues before the conserved Trp, FR3 ending at the second Cys, FR4 from the J-region Trp-Gly/Phe-Gly).
This is a
stand-in for the numbering engine, good for generating legacy-shaped test data, not for annotation.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REGIONS = ("FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4")
THERAPEUTICS = Path(__file__).resolve().parents[1] / "fixtures" / "good_therapeutics.fasta"
HEAVY_FR2 = re.compile(r"W[VIF]RQ")
LIGHT_FR2 = re.compile(r"W[YFL][QLR]Q")
HEAVY_FR4 = re.compile(r"WG.G")
LIGHT_FR4 = re.compile(r"FG.G")
CDRS = "ACDEFGHIKLMNPQRSTVWY"


@dataclass(frozen=True)
class VariableDomain:
    chain: str
    regions: tuple[str, ...]  # FR1, CDR1, ..., FR4; their concatenation is the domain

    @property
    def sequence(self) -> str:
        return "".join(self.regions)

    @property
    def start(self) -> int:
        """0-based start of the domain in the chain."""
        return self.chain.index(self.sequence)


def read_fasta(path: Path = THERAPEUTICS) -> dict[str, str]:
    records: dict[str, str] = {}
    name = ""
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = ""
        elif line.strip():
            records[name] += line.strip()
    return records


def split_variable(chain: str, heavy: bool) -> VariableDomain | None:
    """FR/CDR borders of the chain's variable domain, or None when the motifs are not found."""
    fr2 = (HEAVY_FR2 if heavy else LIGHT_FR2).search(chain, 30, 45)
    fr4 = (HEAVY_FR4 if heavy else LIGHT_FR4).search(chain, 90, 130)
    if fr2 is None or fr4 is None:
        return None
    first_cysteine = chain.find("C", 18, 26)
    if first_cysteine == -1:
        return None
    fr1_end = first_cysteine + 4
    fr2_start = fr2.start() - 2
    fr3_length = 38 if heavy else 36
    cysteine = chain.rfind("C", 0, fr4.start() - 3)
    fr3_start = cysteine + 1 - fr3_length
    fr4_end = fr4.start() + (11 if heavy else 10)
    bounds = (0, fr1_end, fr2_start, fr2_start + 17, fr3_start, cysteine + 1, fr4.start(), fr4_end)
    if not all(bounds[i] < bounds[i + 1] for i in range(7)):
        return None
    return VariableDomain(chain, tuple(chain[bounds[i] : bounds[i + 1]] for i in range(7)))


def mutate(domain: VariableDomain, rng: random.Random) -> VariableDomain:
    """A variant: two residues of each CDR changed, so the chain is new but still antibody-like."""
    regions = list(domain.regions)
    for index in (1, 3, 5):
        cdr = list(regions[index])
        for position in rng.sample(range(len(cdr)), min(2, len(cdr))):
            cdr[position] = rng.choice(CDRS)
        regions[index] = "".join(cdr)
    variable = "".join(regions)
    chain = variable + domain.chain[domain.start + len(domain.sequence) :]
    return VariableDomain(chain, tuple(regions))


@dataclass(frozen=True)
class SyntheticAntibody:
    name: str
    heavy: VariableDomain
    light: VariableDomain


def therapeutic_pairs() -> list[tuple[str, VariableDomain, VariableDomain]]:
    chains = read_fasta()
    pairs = []
    for name in sorted({key.split("|")[0] for key in chains}):
        heavy = split_variable(chains[f"{name}|heavy"], heavy=True)
        light = split_variable(chains[f"{name}|light"], heavy=False)
        if heavy and light:
            pairs.append((name, heavy, light))
    return pairs


def generate_antibodies(count: int, seed: int = 7) -> list[SyntheticAntibody]:
    """``count`` distinct antibodies: the therapeutics' variable domains with mutated CDRs."""
    rng = random.Random(seed)
    pairs = therapeutic_pairs()
    antibodies = []
    for index in range(count):
        name, heavy, light = pairs[index % len(pairs)]
        antibodies.append(SyntheticAntibody(f"{name}-v{index:07d}", mutate(heavy, rng), mutate(light, rng)))
    return antibodies


def v2_domain(
    domain: VariableDomain,
    letter: str,
    species: str | None = None,
    shown: Callable[[str, str], str] = lambda residues, _name: residues,
) -> dict[str, object]:
    """A v2 variable domain; ``shown`` formats each region's string (e.g. with numbering gaps)."""
    regions, numbered = [], 0
    for name, residues in zip(REGIONS, domain.regions, strict=True):
        text = shown(residues, name)
        # v2 region positions count the gapped numbering, plus 1: they drift past the domain's real end
        regions.append(
            {
                "name": name,
                "start": numbered + 1,
                "stop": numbered + len(text),
                "features": [{"kind": "sequence", "value": text}],
            }
        )
        numbered += len(text)
    return {
        "domain_type": "V",
        "start": domain.start,
        "stop": domain.start + len(domain.sequence) - 1,
        "sequence": domain.sequence,
        "regions": regions,
        "isotype": letter,
        "species": species,
        "metadata": {},
    }


def v2_document(antibodies: list[SyntheticAntibody]) -> dict[str, object]:
    """An annotation result v2 holding the antibodies' variable domains (one V domain per chain)."""
    return {
        "sequences": [
            {
                "name": antibody.name,
                "original_sequence": antibody.heavy.sequence,
                "chains": [
                    {"name": "heavy", "sequence": antibody.heavy.sequence, "domains": [v2_domain(antibody.heavy, "H")]},
                    {"name": "light", "sequence": antibody.light.sequence, "domains": [v2_domain(antibody.light, "K")]},
                ],
            }
            for antibody in antibodies
        ],
        "numbering_scheme": "imgt",
        "total_sequences": len(antibodies),
    }
