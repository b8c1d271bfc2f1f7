"""FASTA as real users write it: database ids, RCSB headers, tabs, pairs apart or in two files, DNA."""

from __future__ import annotations

from pathlib import Path

import pytest

from abdb.domain.records import AntibodyRecord, Pairing, Rejection
from abdb.domain.translation import TranslationError, looks_like_nucleotides, translate
from abdb.domain.vocabulary import ChainType
from abdb.io.inputs import FileStarted
from abdb.io.pairing import FastaOptions, read_antibodies, read_fasta_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HEAVY = (  # trastuzumab VH
    "EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSRWGGDGFYAMDYWGQG"
    "TLVTVSS"
)
LIGHT = "DIQMTQSPSSLSASVGDRVTITCRASQDVNTAVAWYQQKPGKAPKLLIYSASFLYSGVPSRFSGSRSGTDFTLTISSLQPEDFATYYCQQHYTTPPTFGQGTKVEIK"
# one codon per amino acid, as a codon-usage table might choose them (real DNA: the other frames have stops)
CODONS = {
    "A": "GCT", "C": "TGT", "D": "GAT", "E": "GAA", "F": "TTT", "G": "GGA", "H": "CAT", "I": "ATT", "K": "AAA",
    "L": "CTG", "M": "ATG", "N": "AAT", "P": "CCA", "Q": "CAA", "R": "AGA", "S": "TCA", "T": "ACA", "V": "GTA",
    "W": "TGG", "Y": "TAT",
}  # fmt: skip


def _write(tmp_path: Path, text: str, name: str = "in.fasta") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _read(path: Path, **options: object) -> tuple[list[AntibodyRecord], list[Rejection]]:
    items = list(read_antibodies(path, **options))  # type: ignore[arg-type]
    return [i for i in items if isinstance(i, AntibodyRecord)], [i for i in items if isinstance(i, Rejection)]


def back_translate(protein: str) -> str:
    return "".join(CODONS[residue] for residue in protein)


def test_blast_style_database_ids_are_antibodies_of_their_own_not_chains_of_one(tmp_path: Path) -> None:
    text = "".join(f">lcl|Query_{i}\n{HEAVY}\n" for i in (1, 2)) + "".join(
        f">donor1|seq{i:03d}\n{LIGHT}\n" for i in range(30)
    )
    records, rejections = _read(_write(tmp_path, text))
    assert rejections == []
    assert len(records) == 32
    assert [r.name for r in records[:3]] == ["lcl|Query_1", "lcl|Query_2", "donor1|seq000"]
    assert all(len(r.chains) == 1 and r.chains[0].chain_type is ChainType.UNKNOWN for r in records)


def test_each_chain_keeps_its_own_description_metadata_and_extra_id_fields(tmp_path: Path) -> None:
    text = (
        f">mAb|heavy Herceptin heavy isotype=IgG1\n{HEAVY}\n>mAb|light Herceptin kappa isotype=kappa\n{LIGHT}\n"
        f">abc|heavy|IGHV3-66\n{HEAVY}\n>abc|light|IGKV1-39 lab=ours\n{LIGHT}\n"
    )
    (mab, abc), rejections = _read(_write(tmp_path, text))
    assert rejections == []
    assert mab.description == "Herceptin heavy" and mab.metadata == {"isotype": "IgG1"}
    heavy, light = mab.chains
    assert (heavy.description, heavy.metadata) == ("Herceptin heavy", {"isotype": "IgG1"})
    assert (light.description, light.metadata) == ("Herceptin kappa", {"isotype": "kappa"})
    assert abc.chains[0].metadata == {"id_fields": ["IGHV3-66"]}
    assert abc.chains[1].metadata == {"id_fields": ["IGKV1-39"], "lab": "ours"}


def test_rcsb_headers_with_spaces_in_bar_fields_pair_by_their_chain_ids(tmp_path: Path) -> None:
    text = (
        f">6ULE_H|Chains H|heavy chain|Homo sapiens\n{HEAVY}\n>6ULE_L|Chains L|light chain|Homo sapiens\n{LIGHT}\n"
        f">tab_H\tdescription after a tab\n{HEAVY}\n>tab_L\tkappa\tchain\n{LIGHT}\n"
    )
    (rcsb, tabbed), rejections = _read(_write(tmp_path, text))
    assert rejections == []
    assert rcsb.name == "6ULE" and [c.chain_type for c in rcsb.chains] == [ChainType.HEAVY, ChainType.LIGHT]
    assert rcsb.chains[0].description == "Chains H|heavy chain|Homo sapiens"
    assert tabbed.name == "tab" and tabbed.chains[1].description == "kappa chain"


def test_pairs_that_are_not_adjacent_are_paired_by_name(tmp_path: Path) -> None:
    text = f">A_H\n{HEAVY}\n>B_H\n{HEAVY}K\n>A_L\n{LIGHT}\n>B_L\n{LIGHT}R\n"
    records, rejections = _read(_write(tmp_path, text))
    assert rejections == []
    assert sorted((r.name, len(r.chains)) for r in records) == [("A", 2), ("B", 2)]
    assert {r.pairing for r in records} == {Pairing.APART}


def test_heavy_chains_in_one_file_pair_with_light_chains_in_another(tmp_path: Path) -> None:
    heavy = _write(tmp_path, "".join(f">ab{i}|heavy\n{HEAVY}\n" for i in range(5)), "heavy.fasta")
    light = _write(tmp_path, "".join(f">ab{i}|light\n{LIGHT}\n" for i in reversed(range(5))), "light.fasta")
    items = list(read_fasta_files([(heavy, "heavy.fasta"), (light, "light.fasta")], FastaOptions()))
    records = [i for i in items if isinstance(i, AntibodyRecord)]
    assert [type(i).__name__ for i in items[:1]] == ["FileStarted"]
    assert sum(isinstance(i, FileStarted) for i in items) == 2
    assert sorted(r.name for r in records) == [f"ab{i}" for i in range(5)]
    assert all([c.chain_type for c in r.chains] == [ChainType.HEAVY, ChainType.LIGHT] for r in records)
    assert all(r.pairing is Pairing.ACROSS_FILES and r.source == "heavy.fasta" for r in records)
    ab0 = next(r for r in records if r.name == "ab0")
    assert ab0.chains[1].metadata == {"import": {"file": "light.fasta", "record": "line 9"}}


def test_the_buffer_of_unpaired_chains_is_bounded_and_a_late_partner_is_told_why(tmp_path: Path) -> None:
    text = (
        f">late|heavy\n{HEAVY}\n" + "".join(f">vhh{i}|heavy\n{HEAVY}\n" for i in range(5)) + f">late|light\n{LIGHT}\n"
    )
    items = list(read_fasta_files([(_write(tmp_path, text), "in")], FastaOptions(max_unpaired=3)))
    records = [i for i in items if isinstance(i, AntibodyRecord)]
    (rejection,) = [i for i in items if isinstance(i, Rejection)]
    assert records[0].name == "late" and len(records[0].chains) == 1  # went out when the buffer overflowed
    assert len(records) == 6
    assert "came more than 3 chains earlier and were loaded alone" in rejection.reason


def test_nucleotide_records_are_rejected_unless_translated_in_their_open_frame(tmp_path: Path) -> None:
    dna = back_translate(HEAVY)
    assert looks_like_nucleotides(dna) and not looks_like_nucleotides(HEAVY)
    path = _write(tmp_path, f">tras|heavy\n{dna}\n>tras|light\n{LIGHT}\n")
    records, rejections = _read(path)
    assert records == []
    assert "looks like nucleotides (100% A/C/G/T/U/N), not protein; use --translate" in rejections[0].reason
    (record,), rejections = _read(path, translate=True)
    assert rejections == []
    assert record.chains[0].sequence == HEAVY and record.chains[1].sequence == LIGHT
    assert record.chains[0].metadata["translation"] == {"frame": "+1", "nucleotides": len(dna)}


def test_translation_finds_the_reverse_strand_and_refuses_to_guess() -> None:
    from Bio.Seq import Seq

    reverse = str(Seq(back_translate(HEAVY) + "TAA").reverse_complement())
    assert translate(reverse).protein == HEAVY and translate(reverse).frame.startswith("-")
    with pytest.raises(TranslationError, match="no reading frame"):
        translate("CTAA" * 15)  # a stop in every frame of both strands
    with pytest.raises(TranslationError, match="have no stop codon"):
        translate("GCCGCCGCCGCCGCCGCCGCC")


def test_a_repeated_chain_of_one_name_is_rejected_and_the_first_use_wins(tmp_path: Path) -> None:
    records, rejections = _read(_write(tmp_path, f">d|heavy\n{HEAVY}\n>o|heavy\n{HEAVY}\n>d|heavy\n{HEAVY}K\n"))
    assert sorted(r.name for r in records) == ["d", "o"]
    assert "appears again in this file" in rejections[0].reason and rejections[0].location == "line 5"


def test_aligned_fasta_loses_its_gaps_and_keeps_its_residues(tmp_path: Path) -> None:
    gapped = HEAVY[:10] + "-." + HEAVY[10:50] + "...." + HEAVY[50:]
    (record,), rejections = _read(_write(tmp_path, f">gapped\n{gapped}\n"))
    assert rejections == [] and record.chains[0].sequence == HEAVY
