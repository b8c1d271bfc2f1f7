"""ANARCI numbering with HMMER run in-process through pyhmmer, not through the ``hmmscan`` program.

Why: the ``hmmscan`` of the PyPI ``hmmer`` wheel renames itself in its output header, which Biopython's
parser rejects (ANARCI then fails with "'<' not supported between instances of 'NoneType' and
'NoneType'"); ANARCI's ``--hmmerpath`` is ignored by its command line; and half of ANARCI's time goes
into writing and parsing hmmscan's text output.

The adapter turns each pyhmmer domain into the object Biopython's parser would have produced (same
fields, E-values and scores rounded as hmmscan prints them) and hands it to ANARCI's own hit selection
(``_parse_hmmer_query``) and numbering (``number_sequences_from_alignment``), so the numbering is
ANARCI's. A test compares it with ANARCI driven by the real ``hmmscan``.

Speed-ups that do not change results: only the allowed species' HMMs are scanned (with the E-value
database size of the full set), falling back to all HMMs exactly when ANARCI would; germline identities are
computed from precomputed tables instead of ANARCI's per-position loop; HMMER runs under flush-to-zero
with its Forward filter threshold set per chain from an exact bound (``hmmer_scan``: ~5x faster).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pyhmmer.easel import Alphabet, TextSequence
from pyhmmer.plan7 import HMM, HMMFile

from abdb.numbering.engine import ChainNumbering, EngineSettings, NumberedDomain
from abdb.numbering.germlines import anarci_module as _anarci_module
from abdb.numbering.germlines import germline_assignment
from abdb.numbering.hmmer_scan import ProfileScanner, reference_scan

ANTIBODY_CHAINS = frozenset("HKL")
ALL_CHAINS = frozenset("HKLABGD")
SCHEMES_FOR_ANTIBODIES_ONLY = frozenset({"kabat", "chothia", "martin"})


@dataclass
class _Hsp:
    """The fields of a Biopython HMMER hsp that ANARCI reads."""

    hit_id: str
    hit_description: str
    evalue: float
    bitscore: float
    bias: float
    query_start: int
    query_end: int
    hit_start: int
    hit_end: int
    aln_annotation: dict[str, str]
    order: int = 0


@dataclass
class _Query:
    hsps: list[_Hsp] = field(default_factory=list)
    seq_len: int = 0


@cache
def _hmms() -> tuple[HMM[Any], ...]:
    path = Path(_anarci_module().__file__).parent / "dat" / "HMMs" / "ALL.hmm"
    with HMMFile(path) as handle:
        hmms: tuple[HMM[Any], ...] = tuple(handle)
    return hmms


class AnarciEngine:
    """``fast`` (the default): HMMER through ``ProfileScanner`` (flush-to-zero unless ``ftz=False``, exact
    per-chain pruning); ``fast=False``: ``pyhmmer.hmmer.hmmscan`` with its defaults, as before (the
    reference of the identity tests and the benchmark). Both number every chain the same."""

    name = "ANARCI"

    def __init__(self, *, fast: bool = True, ftz: bool = True) -> None:
        self.anarci = _anarci_module()
        self.alphabet = Alphabet.amino()
        self.version = f"anarci {metadata.version('anarci')}, pyhmmer {metadata.version('pyhmmer')}"
        self.scanner = ProfileScanner(self.alphabet, len(_hmms()), ftz=ftz) if fast else None
        _hmms()  # load the models now, not inside the first job's timing

    # -- the NumberingEngine interface -------------------------------------------------------------------
    def number(self, sequences: Sequence[str], settings: EngineSettings) -> list[ChainNumbering]:
        named = [(str(index), sequence) for index, sequence in enumerate(sequences)]
        alignments = self.run_hmmer(named, settings.bit_score_threshold, list(settings.species))
        self._check_for_j(named, alignments)
        germlines = [
            [
                self._germlines(state_vector, sequence, detail["chain_type"], settings.species) if state_vector else {}
                for state_vector, detail in zip(alignment[1], alignment[2], strict=True)
            ]
            for (_, sequence), alignment in zip(named, alignments, strict=True)
        ]
        results = [ChainNumbering() for _ in sequences]
        for scheme in settings.schemes:
            allow = set(ANTIBODY_CHAINS if scheme in SCHEMES_FOR_ANTIBODIES_ONLY else ALL_CHAINS)
            numbered, _, _ = self.anarci.number_sequences_from_alignment(
                named, alignments, scheme=scheme, allow=allow, assign_germline=False
            )
            for index, domains in enumerate(numbered):
                # ANARCI numbers the domains whose chain type is allowed, in order: pair them with theirs
                kept = [
                    (detail, germline)
                    for state_vector, detail, germline in zip(
                        alignments[index][1], alignments[index][2], germlines[index], strict=True
                    )
                    if state_vector and detail["chain_type"] in allow
                ]
                results[index].domains[scheme] = tuple(
                    _domain(numbering, detail, germline)
                    for numbering, (detail, germline) in zip(domains or [], kept, strict=True)
                )
                refused = tuple(
                    detail["chain_type"]
                    for state_vector, detail in zip(alignments[index][1], alignments[index][2], strict=True)
                    if state_vector and detail["chain_type"] not in allow
                )
                if refused:
                    results[index].not_numbered[scheme] = refused
        return results

    # -- HMMER through pyhmmer ---------------------------------------------------------------------------
    def run_hmmer(
        self, named: list[tuple[str, str]], bit_score_threshold: float, species: list[str] | None
    ) -> list[Any]:
        """ANARCI's ``run_hmmer``: (hit table, state vectors, details) per sequence."""
        hmms = _hmms()
        wanted = [hmm for hmm in hmms if not species or _name(hmm).split("_")[0] in species]
        results = self._scan(named, wanted, len(hmms), bit_score_threshold, species)
        if species:
            # ANARCI reverts to all species when none of the wanted ones scores over the threshold.
            for index, ((name, sequence), (hit_table, _, _)) in enumerate(zip(named, results, strict=True)):
                if len(hit_table) == 1:
                    results[index] = self._scan(
                        [(name, sequence)], list(hmms), len(hmms), bit_score_threshold, species
                    )[0]
        return results

    def _scan(
        self,
        named: list[tuple[str, str]],
        hmms: list[HMM[Any]],
        database_size: int,
        bit_score_threshold: float,
        species: list[str] | None,
    ) -> list[Any]:
        digital: Any = [
            TextSequence(name=name.encode(), sequence=sequence).digitize(self.alphabet) for name, sequence in named
        ]
        parsed = []
        if self.scanner is not None:
            scanned = self.scanner.scan(digital, hmms, bit_score_threshold)
        else:
            scanned = reference_scan(digital, hmms, database_size)
        for (_, sequence), reported in zip(named, scanned, strict=True):
            query = _Query(seq_len=len(sequence), hsps=[_hsp(hit, domain) for hit, domain in reported])
            # ANARCI prints a note on stdout when it falls back to all species: keep stdout for abdb's output
            with contextlib.redirect_stdout(io.StringIO()):
                parsed.append(
                    self.anarci._parse_hmmer_query(
                        query, bit_score_threshold=bit_score_threshold, hmmer_species=species
                    )
                )
        return parsed

    def _check_for_j(self, named: list[tuple[str, str]], alignments: list[Any]) -> None:
        """ANARCI's ``check_for_j``: rescue very long CDR3s by finding the J region after Cys 104."""
        for index, (name, sequence) in enumerate(named):
            state_vectors = alignments[index][1]
            if len(state_vectors) != 1:
                continue
            alignment = state_vectors[0]
            last_state, last_index = alignment[-1][0][0], alignment[-1][1]
            if last_state >= 120 or last_index + 30 >= len(sequence):
                continue
            cysteine = dict(alignment).get((104, "m"))
            if cysteine is None:
                continue
            cys_at = alignment.index(((104, "m"), cysteine))
            _, rescued, _ = self.run_hmmer([(name, sequence[cysteine + 1 :])], 10, None)[0]
            if not (rescued and rescued[0][-1][0][0] >= 126 and rescued[0][0][0][0] <= 117):
                continue
            j_region = [(state, i + cysteine + 1) for state, i in rescued[0] if state[0] >= 117 and i is not None]
            cdr3, next_state = [], 105
            for position in range(cysteine + 1, j_region[0][1]):
                if next_state >= 116:
                    cdr3.append(((116, "i"), position))
                else:
                    cdr3.append(((next_state, "m"), position))
                    next_state += 1
            alignments[index][1][0] = alignment[: cys_at + 1] + cdr3 + j_region
            alignments[index][2][0]["query_end"] = j_region[-1][1] + 1

    def _germlines(
        self, state_vector: list[Any], sequence: str, chain_type: str, species: Sequence[str]
    ) -> dict[str, tuple[str, str, float]]:
        assigned = germline_assignment(state_vector, sequence, chain_type, tuple(species))
        return {
            key: (value[0][0], value[0][1], float(value[1])) for key, value in assigned.items() if value[0] is not None
        }


def _domain(numbering: Any, detail: dict[str, Any], germline: dict[str, tuple[str, str, float]]) -> NumberedDomain:
    positions, start, end = numbering
    residues = tuple(
        (number, insertion.strip(), residue) for (number, insertion), residue in positions if residue != "-"
    )
    return NumberedDomain(
        chain_letter=detail["chain_type"],
        species=detail["species"],
        start=start,
        end=end,
        numbering=residues,
        v_gene=germline.get("v_gene"),
        j_gene=germline.get("j_gene"),
        bitscore=detail.get("bitscore"),
        evalue=detail.get("evalue"),
    )


def _name(hmm: HMM[Any]) -> str:
    name = hmm.name
    return name.decode() if isinstance(name, bytes) else str(name)


_NOT_INSERTION = re.compile(r"[^.]")


def _reference_line(model_line: str) -> str:
    """hmmscan's RF line of an alignment: 'x' for each model column (match or delete), '.' for insertions
    (a character at a time, this took 4% of the engine's time on full-length chains)."""
    return "x" * len(model_line) if "." not in model_line else _NOT_INSERTION.sub("x", model_line)


def _hsp(hit: Any, domain: Any) -> _Hsp:
    alignment = domain.alignment
    name = hit.name.decode() if isinstance(hit.name, bytes) else str(hit.name)
    description = hit.description
    description = description.decode() if isinstance(description, bytes) else (description or "")
    return _Hsp(
        hit_id=name,
        hit_description=description,
        # as hmmscan prints them, so that ANARCI's sort (and its ties) are the same
        evalue=float(f"{domain.i_evalue:.2g}"),
        bitscore=float(f"{domain.score:.1f}"),
        bias=float(f"{domain.bias:.1f}"),
        query_start=alignment.target_from - 1,
        query_end=alignment.target_to,
        hit_start=alignment.hmm_from - 1,
        hit_end=alignment.hmm_to,
        # hmmscan's RF line: 'x' for model (match or delete) columns, '.' for insertions
        aln_annotation={
            "RF": _reference_line(alignment.hmm_sequence),
            "PP": alignment.posterior_probabilities,
        },
    )
