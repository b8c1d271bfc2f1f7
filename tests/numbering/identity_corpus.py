"""More than 2,000 chains on which the fast scan must number exactly as the reference: every path of the
engine (one domain, several, none; the J rescue; the all-species fallback) and every shape users bring."""

from __future__ import annotations

import random
import re
from pathlib import Path

from benchmarks.synthetic import generate_antibodies, read_fasta

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
LINKER = "GGGGS" * 3
TAG = "GSHHHHHHEQKLISEEDL"
UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
HUMAN_KAPPA_CONSTANT = (
    "RTVAAPSVFIFPPSDEQLKSGTASVVCLLNNFYPREAKVQWKVDNALQSGNSQESVTEQDSKDSTYSLSSTLTLSKADYEKHKVYACEVTHQGLSSPVTKSFNRGEC"
)


def _fixture_chains() -> list[str]:
    text = (FIXTURES / "annotate_chains.fasta").read_text()
    return [s.replace("\n", "") for s in re.split(r"^>.*$", text, flags=re.M)[1:]]


def identity_corpus() -> list[tuple[str, str]]:
    """(label, chain) pairs, deterministic."""
    rng = random.Random(2370)
    corpus = [(f"therapeutic {name}", chain) for name, chain in read_fasta().items()]
    corpus += [(f"fixture {i}", chain) for i, chain in enumerate(_fixture_chains())]
    full = generate_antibodies(800, seed=11)
    for antibody in full:
        corpus += [(f"{antibody.name} heavy", antibody.heavy.chain), (f"{antibody.name} light", antibody.light.chain)]
    for antibody in generate_antibodies(200, seed=12):
        corpus += [(f"{antibody.name} VH", antibody.heavy.sequence), (f"{antibody.name} VL", antibody.light.sequence)]
    pairs = generate_antibodies(60, seed=13)
    for i, antibody in enumerate(pairs[:25]):
        vh, vl = antibody.heavy.sequence, antibody.light.sequence
        corpus += [(f"scFv VH-VL {i}", vh + LINKER + vl), (f"scFv VL-VH {i}", vl + LINKER + vh)]
    for i, antibody in enumerate(pairs[25:35]):
        corpus.append((f"tagged scFv {i}", "MA" + antibody.heavy.sequence + LINKER + antibody.light.sequence + TAG))
    for i in range(10):  # four domains in tandem: two scFv joined
        a, b = pairs[35 + 2 * i], pairs[36 + 2 * i]
        tandem = LINKER.join([a.heavy.sequence, a.light.sequence, b.heavy.sequence, b.light.sequence])
        corpus.append((f"tandem {i}", tandem))
    for i, antibody in enumerate(generate_antibodies(100, seed=14)):
        regions = list(antibody.heavy.regions)
        extra = "".join(rng.choice(RESIDUES) for _ in range(8 + (i * 52) // 99))  # 8 to 60 more in CDR3
        regions[5] = regions[5][:3] + extra + regions[5][3:]
        domain = "".join(regions)
        constant = antibody.heavy.chain[antibody.heavy.start + len(antibody.heavy.sequence) :]
        corpus.append((f"long CDR3 +{len(extra)} {i}", domain + constant))
    for i in range(30):
        length = rng.randrange(60, 400)
        corpus.append((f"random protein {i}", "".join(rng.choice(RESIDUES) for _ in range(length))))
    corpus += [
        ("ubiquitin", UBIQUITIN),
        ("kappa constant only", HUMAN_KAPPA_CONSTANT),
        ("tag", TAG),
        ("short", "EVQLV"),
    ]
    for i, antibody in enumerate(generate_antibodies(20, seed=15)):
        heavy = antibody.heavy.sequence
        cut = rng.randrange(30, 70)
        corpus.append((f"truncated start {i}", heavy[cut:]))
        corpus.append((f"truncated end {i}", heavy[: len(heavy) - cut]))
    for i, antibody in enumerate(generate_antibodies(10, seed=16)):
        chain = list(antibody.light.chain)
        for at in rng.sample(range(len(chain)), 3):
            chain[at] = "X"
        corpus.append((f"with X {i}", "".join(chain)))
        mixed = list(antibody.heavy.sequence)
        mixed[rng.randrange(len(mixed))] = rng.choice("BZJ")
        corpus.append((f"ambiguity code {i}", "".join(mixed)))
    return corpus
