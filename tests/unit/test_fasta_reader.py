"""The FASTA reader: pairing, headers, and one specific message per defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from abdb.domain.records import AntibodyRecord, Rejection
from abdb.domain.vocabulary import ChainType
from abdb.io.pairing import read_antibodies

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _read(name: str) -> tuple[list[AntibodyRecord], list[Rejection]]:
    items = list(read_antibodies(FIXTURES / name))
    return [i for i in items if isinstance(i, AntibodyRecord)], [i for i in items if isinstance(i, Rejection)]


def test_the_therapeutics_pair_into_sixty_two_chain_antibodies() -> None:
    records, rejections = _read("good_therapeutics.fasta")
    assert rejections == []
    assert len(records) == 60
    first = records[0]
    assert first.name == "abituzumab"
    assert [(c.name, c.chain_type) for c in first.chains] == [("heavy", ChainType.HEAVY), ("light", ChainType.LIGHT)]
    assert first.chains[0].sequence.startswith("QVQLQQSGGELAKPGASVKVSCKASGYTFSSFWMH")
    assert len(first.chains[0].sequence) == 447 and len(first.chains[1].sequence) == 214


def test_a_bom_and_windows_line_endings_simply_work_and_headers_give_metadata() -> None:
    records, rejections = _read("good_bom_crlf.fasta")
    assert rejections == []
    (record,) = records
    assert record.name == "crlf1"
    assert [c.chain_type for c in record.chains] == [ChainType.HEAVY, ChainType.LIGHT]
    assert record.description == "description with words"
    assert record.metadata == {"lab": "ours"}
    assert all("\r" not in c.sequence for c in record.chains)


DEFECTS = {
    "bad_alphabet.fasta": ("bad1", "'B' at position 11 is not an amino acid", 1),
    "bad_empty_record.fasta": ("empty1", "the sequence is empty", 2),
    "bad_duplicate_name.fasta": ("dup1", "appears again in this file", 2),
    "bad_too_short.fasta": ("short1", "only 7 residues long; the minimum is 20", 1),
    "bad_sequence_without_header.fasta": (None, "sequence line before any '>' header", 1),
    "bad_invalid_utf8.fasta": (None, "invalid UTF-8", 1),
    "bad_truncated.fasta.gz": (None, "gzip stream is truncated", None),
}


@pytest.mark.parametrize(("fixture", "expected"), DEFECTS.items(), ids=list(DEFECTS))
def test_each_defect_gives_its_own_message_and_the_good_records_still_load(
    fixture: str, expected: tuple[str | None, str, int | None]
) -> None:
    name, reason, good = expected
    records, rejections = _read(fixture)
    assert any(reason in r.reason for r in rejections), rejections
    if name is not None:
        assert any(r.record_name == name for r in rejections)
    assert all(r.source.endswith(fixture) and r.location.startswith("line ") for r in rejections)
    if good is not None:
        assert len(records) == good


def test_a_truncated_gzip_never_yields_a_half_read_record() -> None:
    records, rejections = _read("bad_truncated.fasta.gz")
    complete, _ = _read("good_therapeutics.fasta")
    by_name = {r.name: r for r in complete}
    assert records, "the records before the cut should load"
    for record in records:
        assert record.checksum == by_name[record.name].checksum
    assert {r.stage for r in rejections} == {"read"}


def test_a_binary_file_is_rejected_without_records() -> None:
    records, rejections = _read("bad_binary.fasta")
    assert records == []
    assert any("binary file" in r.reason or "invalid UTF-8" in r.reason for r in rejections)


def test_database_identifiers_with_several_bars_are_names_and_known_labels_still_pair(tmp_path: Path) -> None:
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSA"
    path = tmp_path / "uniprot.fasta"
    path.write_text(
        f">sp|P01857|IGHG1_HUMAN Immunoglobulin heavy constant gamma 1\n{heavy}\n"
        f">sp|P01834|IGKC_HUMAN Immunoglobulin kappa constant\n{heavy}\n"
        f">mAbE|heavy|IgG1|human\n{heavy}\n>mAbE|light|kappa\n{heavy}\n"
    )
    records = [r for r in read_antibodies(path) if isinstance(r, AntibodyRecord)]
    assert [(r.name, [c.name for c in r.chains]) for r in records] == [
        ("sp|P01857|IGHG1_HUMAN", ["chain"]),
        ("sp|P01834|IGKC_HUMAN", ["chain"]),
        ("mAbE", ["heavy", "light"]),
    ]


def test_old_mac_line_endings_are_read_as_lines(tmp_path: Path) -> None:
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSA"
    path = tmp_path / "mac.fasta"
    path.write_bytes(f">mac1|heavy\r{heavy[:25]}\r{heavy[25:]}\r>mac1|light\r{heavy}\r".encode())
    (record,) = list(read_antibodies(path))
    assert isinstance(record, AntibodyRecord)
    assert [(c.name, c.sequence) for c in record.chains] == [("heavy", heavy), ("light", heavy)]


def test_a_trailing_stop_codon_is_dropped_and_an_inner_one_rejected(tmp_path: Path) -> None:
    heavy = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSA"
    path = tmp_path / "stops.fasta"
    path.write_text(f">end|heavy\n{heavy}*\n>inner|heavy\n{heavy[:20]}*{heavy[20:]}\n")
    first, second = list(read_antibodies(path))
    assert isinstance(first, AntibodyRecord) and first.chains[0].sequence == heavy
    assert isinstance(second, Rejection) and "'*' at position 21 is not an amino acid" in second.reason
