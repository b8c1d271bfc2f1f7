"""The legacy JSON reader without a database: strict JSON, shapes, placement, germline parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abdb.domain.placement import DomainDraft, RegionDraft, place_domains
from abdb.domain.records import AntibodyRecord, RecordError, Rejection
from abdb.domain.vocabulary import DomainType, FeatureType, NumberingScheme, RegionType
from abdb.io.legacy import read_legacy_antibodies
from abdb.io.legacy.convert import germline_features
from abdb.io.legacy.jsonfile import JsonFileError, loads_json_bytes

HEAVY = (
    "QVQLQQSGGELAKPGASVKVSCKASGYTFSSFWMHWVRQAPGQGLEWIGYINPRSGYTEYNEIFRDKATMTTDTSTSTAYMELSSLRSEDTAVYYC"
    "ASFLGRGAMDYWGQGTTVTVSS"
)


def _draft(*regions: RegionDraft, sequence: str | None = None) -> DomainDraft:
    return DomainDraft("domain 1 (V)", DomainType.VARIABLE, NumberingScheme.IMGT, sequence, tuple(regions))


def test_regions_are_placed_by_their_residues_whatever_numbers_the_file_gave() -> None:
    (domain,) = place_domains(
        HEAVY,
        [
            _draft(
                RegionDraft("CDR1", RegionType.CDR1, "GYT--FSSFW", hint=999),
                RegionDraft("FR1", RegionType.FR1, HEAVY[:25]),
            )
        ],
    )
    assert (domain.start, domain.end) == (1, 33)
    assert [(r.region_type, r.sequence, r.start, r.end) for r in domain.regions] == [
        (RegionType.FR1, HEAVY[:25], 1, 25),
        (RegionType.CDR1, "GYTFSSFW", 26, 33),
    ]


def test_a_region_found_twice_is_placed_by_its_stored_start_or_rejected() -> None:
    chain = "A" * 5 + "WGQG" + "C" * 20 + "WGQG" + "D" * 10
    region = RegionDraft("FR4", RegionType.FR4, "WGQG", hint=29)  # 0-based chain start of the second copy
    (domain,) = place_domains(chain, [_draft(region)])
    assert domain.regions[0].start == 30
    with pytest.raises(RecordError, match="occurs 2 times in the chain \\(at 6, 30\\)"):
        place_domains(chain, [_draft(RegionDraft("FR4", RegionType.FR4, "WGQG", hint=None))])


def test_a_region_outside_its_domain_is_rejected_with_both_spans() -> None:
    draft = _draft(RegionDraft("CDR3", RegionType.CDR3, "ASFLGRGAMDY"), sequence=HEAVY[:40])
    with pytest.raises(RecordError, match="CDR3 'ASFLGRGAMDY' is at 97-107 of the chain, outside 1-40"):
        place_domains(HEAVY, [draft])


def test_two_regions_of_one_type_in_a_domain_are_rejected() -> None:
    draft = _draft(RegionDraft("CDR1", RegionType.CDR1, "GYTF"), RegionDraft("CDR1", RegionType.CDR1, "SSFW"))
    with pytest.raises(RecordError, match="has two CDR1 regions"):
        place_domains(HEAVY, [draft])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b'{"a": 1, "a": 2}', "the key 'a' appears twice"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": 1e999}', "the number 1e999 is out of range"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": [1, 2', "it looks truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "NUL byte"),
    ],
)
def test_json_that_would_silently_change_meaning_or_crash_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(JsonFileError, match=message):
        loads_json_bytes(data)


def test_a_byte_order_mark_and_windows_line_endings_are_fine() -> None:
    assert loads_json_bytes(b'\xef\xbb\xbf{\r\n "a": [1]\r\n}\r\n') == {"a": [1]}


def test_germline_literals_are_parsed_without_evaluating_code() -> None:
    features = germline_features("{'v_gene': [('mouse', 'IGHV1-2*02'), 0.75], 'j_gene': [('mouse', None), 0]}", "x")
    assert [(f.feature_type, f.value, f.confidence, f.metadata) for f in features] == [
        (FeatureType.GENE, "IGHV1-2", 0.75, {"species": "mouse"}),
        (FeatureType.ALLELE, "IGHV1-2*02", 0.75, {"species": "mouse"}),
    ]
    with pytest.raises(RecordError, match=r"identity 89\.8 should be a number from 0 to 1"):
        germline_features({"v_gene": [["human", "IGHV3-23*04"], 89.8]}, "x")
    with pytest.raises(RecordError, match="not a readable Python literal"):
        germline_features("__import__('os').system('false')", "x")


def test_wrongly_typed_fields_reject_the_record_and_the_rest_of_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(
        json.dumps(
            {
                "sequences": [
                    {"name": "bad", "chains": [{"name": "h", "sequence": 42}]},
                    {"name": "bad2", "chains": "nope"},
                    {"name": "good", "chains": [{"name": "h", "sequence": HEAVY, "domains": []}]},
                ]
            }
        )
    )
    results = list(read_legacy_antibodies(path))
    assert [r.reason for r in results if isinstance(r, Rejection)] == [
        "chain 1: 'sequence' should be text, not a number",
        "the sequence: 'chains' should be a list, not text",
    ]
    assert [r.name for r in results if isinstance(r, AntibodyRecord)] == ["good"]


def test_an_unknown_chain_letter_keeps_the_letter_and_a_lambda_constant_region_sets_the_locus(tmp_path: Path) -> None:
    light = (
        "QSALTQPASVSGSPGQSITISCTGTSSDVGGYNYVSWYQQHPGKAPKLMIYDVSNRPSGVSNRFSGSKSGNTASLTISGLQAEDEADYYCSSYTSSSTRVFGGGTKLTVL"
    )
    constant = (
        "GQPKAAPSVTLFPPSSEELQANKATLVCLISDFYPGAVTVAWKADSSPVKAGVETTTPSKQSNNKYAASSYLSLTPEQWKSHRSYSCQVTHEGSTVEKTVAPTECS"
    )
    path = tmp_path / "v2.json"
    chain = {
        "name": "light",
        "sequence": light + constant,
        "domains": [
            {"domain_type": "V", "sequence": light, "isotype": "L", "regions": []},
            {"domain_type": "C", "sequence": constant, "isotype": "IGLC2", "regions": [{"name": "CONSTANT"}]},
        ],
    }
    tcr = {"name": "tcr", "sequence": HEAVY, "chain_type": "Z", "domains": []}
    path.write_text(json.dumps({"sequences": [{"name": "l1", "chains": [chain, tcr]}], "numbering_scheme": "imgt"}))
    (record,) = list(read_legacy_antibodies(path))
    assert isinstance(record, AntibodyRecord)
    assert [(c.chain_type.value, c.locus) for c in record.chains] == [("LIGHT", "IGL"), ("UNKNOWN", None)]
    assert record.metadata["legacy"]["unknown_chain_letters"] == {"tcr": "Z"}
    assert record.needs_annotation


def test_seven_regions_that_leave_part_of_their_domain_uncovered_are_rejected() -> None:
    fr = [HEAVY[:25], HEAVY[25:33], HEAVY[33:50], HEAVY[50:58], HEAVY[58:96], HEAVY[96:107], HEAVY[107:116]]
    names = ["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"]
    regions = tuple(RegionDraft(n, RegionType(n), r) for n, r in zip(names, fr, strict=True))
    with pytest.raises(RecordError, match="its seven regions do not cover it exactly"):
        place_domains(HEAVY, [_draft(*regions, sequence=HEAVY)])  # FR4 stops two residues short
    (domain,) = place_domains(HEAVY[:116], [_draft(*regions, sequence=HEAVY[:116])])
    assert [r.end for r in domain.regions][-1] == domain.end == 116


def test_a_request_with_a_misspelt_or_empty_chain_key_is_rejected_not_silently_shortened(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(
        json.dumps(
            {
                "sequences": [
                    {"name": "typo", "heavy_chain": HEAVY, "heavy_chian_2": HEAVY},
                    {"name": "empty", "heavy_chain": HEAVY, "light_chain": " "},
                ]
            }
        )
    )
    reasons = [r.reason for r in read_legacy_antibodies(path) if isinstance(r, Rejection)]
    assert reasons[0].startswith("unknown key(s) 'heavy_chian_2' in the request")
    assert reasons[1] == "light_chain is empty"
