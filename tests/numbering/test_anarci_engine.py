"""The in-process adapter gives ANARCI's exact numbering: compared with ANARCI driven by the real hmmscan."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from abdb.numbering.anarci_engine import AnarciEngine, _anarci_module, _hmms
from abdb.numbering.engine import EngineSettings
from abdb.numbering.regions import regions_of
from benchmarks.synthetic import read_fasta
from tests.numbering.identity_corpus import identity_corpus

ANARCI = _anarci_module()
HMMSCAN = Path(sys.executable).parent / "hmmscan"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _hmmscan_run_hmmer(
    sequence_list: list[tuple[str, str]],
    hmm_database: str = "ALL",
    hmmerpath: str = "",
    ncpu: int | None = None,
    bit_score_threshold: float = 80,
    hmmer_species: list[str] | None = None,
) -> Any:
    """ANARCI's run_hmmer with the hmmer wheel's program, whose renamed header is put back for Biopython."""
    hmm = Path(ANARCI.__file__).parent / "dat" / "HMMs" / f"{hmm_database}.hmm"
    with tempfile.TemporaryDirectory() as folder:
        fasta, output = Path(folder) / "in.fasta", Path(folder) / "out.txt"
        with fasta.open("w") as handle:
            ANARCI.write_fasta(sequence_list, handle)
        subprocess.run([str(HMMSCAN), "-o", str(output), str(hmm), str(fasta)], check=True, capture_output=True)
        output.write_text(re.sub(r"^# \S+ :: ", "# hmmscan :: ", output.read_text(), count=1))
        return ANARCI.parse_hmmer_output(str(output), bit_score_threshold, hmmer_species)


@pytest.fixture(scope="module")
def chains() -> list[tuple[str, str]]:
    therapeutics = list(read_fasta().items())
    extra = [(f"extra{i}", s) for i, s in enumerate(_fasta_sequences(FIXTURES / "annotate_chains.fasta"))]
    return therapeutics + extra


def _fasta_sequences(path: Path) -> list[str]:
    return [s.replace("\n", "") for s in re.split(r"^>.*$", path.read_text(), flags=re.M)[1:]]


@pytest.mark.parametrize("scheme", ["imgt", "kabat", "chothia"])
def test_the_adapter_numbers_exactly_as_anarci_with_hmmscan(
    chains: list[tuple[str, str]], scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbered = _assert_numbered_as_with_hmmscan(chains, scheme, monkeypatch)
    assert numbered >= 120  # every therapeutic chain, the VHH and both scFv domains


def test_the_adapter_numbers_the_identity_corpus_exactly_as_anarci_with_hmmscan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = [(f"c{i}", chain) for i, (_, chain) in enumerate(identity_corpus())]  # hmmscan wants plain names
    assert len(corpus) >= 2000 and _assert_numbered_as_with_hmmscan(corpus, "imgt", monkeypatch) >= 1900


def _assert_numbered_as_with_hmmscan(
    chains: list[tuple[str, str]], scheme: str, monkeypatch: pytest.MonkeyPatch
) -> int:
    """Compare every chain's domains with ANARCI's through the real hmmscan; return how many it numbered."""
    assert HMMSCAN.exists(), "the test extra installs the hmmer wheel"
    monkeypatch.setattr(ANARCI, "run_hmmer", _hmmscan_run_hmmer)
    numbered, details, _ = ANARCI.anarci(
        chains, scheme=scheme, assign_germline=True, allowed_species=["human", "mouse"]
    )
    ours = []
    engine = AnarciEngine()
    for start in range(0, len(chains), 64):
        ours += engine.number([s for _, s in chains[start : start + 64]], EngineSettings(schemes=(scheme,)))
    for (name, _), reference, reference_details, mine in zip(chains, numbered, details, ours, strict=True):
        expected = [
            (
                tuple((n, i.strip(), a) for (n, i), a in numbering if a != "-"),
                start,
                end,
                detail["chain_type"],
                detail["species"],
                detail["germlines"]["v_gene"][0][1],
                round(detail["germlines"]["v_gene"][1], 12),
                detail["germlines"]["j_gene"][0][1] if detail["germlines"]["j_gene"][0] else None,
            )
            for (numbering, start, end), detail in zip(reference or [], reference_details or [], strict=True)
        ]
        actual = [
            (
                d.numbering,
                d.start,
                d.end,
                d.chain_letter,
                d.species,
                d.v_gene[1] if d.v_gene else None,
                round(d.v_gene[2], 12) if d.v_gene else None,
                d.j_gene[1] if d.j_gene else None,
            )
            for d in mine.domains[scheme]
        ]
        assert actual == expected, name
    return sum(1 for n in numbered if n)


def test_only_the_allowed_species_are_scanned_unless_none_fits() -> None:
    names = {hmm.name if isinstance(hmm.name, str) else hmm.name.decode() for hmm in _hmms()}
    assert {"human_H", "mouse_K", "alpaca_H", "rhesus_K"} <= names
    (numbering,) = AnarciEngine().number([read_fasta()["abituzumab|light"]], EngineSettings(species=("human",)))
    assert numbering.domains["imgt"][0].species == "human"


def test_regions_tile_each_domain_under_every_scheme(chains: list[tuple[str, str]]) -> None:
    results = AnarciEngine().number([s for _, s in chains], EngineSettings(schemes=("imgt", "kabat", "chothia")))
    for (name, sequence), result in zip(chains, results, strict=True):
        for scheme, domains in result.domains.items():
            for domain in domains:
                spans = regions_of(domain.numbering, scheme, domain.chain_letter)
                assert "".join(s.sequence for s in spans) == sequence[domain.start : domain.end + 1], (name, scheme)
                assert [s.region_type.value for s in spans] == ["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"]


def test_a_protein_that_is_not_an_antibody_and_a_short_peptide_get_no_domain() -> None:
    ubiquitin = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
    results = AnarciEngine().number([ubiquitin, "GSHMASMTGGQQMGRGSEFELRRQ"], EngineSettings())
    assert [r.domains["imgt"] for r in results] == [(), ()]
