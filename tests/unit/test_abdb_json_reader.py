"""The abdb JSON reader refuses, with a reason that names the place, what the database would store wrongly."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from abdb.domain.records import RecordError
from abdb.io.abdb_json import record_of

HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
DOCUMENT: dict[str, Any] = {
    "format": "abdb/1",
    "name": "example",
    "public": True,
    "chains": [
        {
            "name": "heavy",
            "chain_type": "HEAVY",
            "locus": "IGH",
            "sequence": HEAVY,
            "domains": [
                {
                    "scheme": "IMGT",
                    "domain_type": "VARIABLE",
                    "start": 1,
                    "end": 25,
                    "sequence": HEAVY[:25],
                    "confidence": None,
                    "numbering": [[n, " ", residue] for n, residue in enumerate(HEAVY[:25], start=1)],
                    "regions": [{"region_type": "FR1", "start": 1, "end": 25, "sequence": HEAVY[:25]}],
                }
            ],
        }
    ],
    "features": [{"chain": 0, "feature_type": "GENE", "name": "V gene", "value": "IGHV3-23", "confidence": 0.9}],
    "jobs": [{"job_type": "ANNOTATION", "status": "COMPLETED", "completed_at": "2026-12-04T10:00:00+00:00"}],
}


def _edited(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    change(document)
    return document


def test_a_whole_document_becomes_a_record_with_its_numbering_features_jobs_and_visibility() -> None:
    record = record_of(DOCUMENT, "f.jsonl", "line 1")
    domain = record.chains[0].domains[0]
    assert domain.numbering is not None and domain.numbering[0] == (1, " ", "E") and len(domain.numbering) == 25
    assert record.features[0].chain_index == 0 and record.features[0].confidence == 0.9
    assert record.jobs is not None and record.jobs[0].status == "COMPLETED" and record.public is True
    assert record.chains[0].labelled and record.needs_annotation  # FR1 alone: not fully numbered
    assert record.origin == {"id": None, "created_at": None}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(format="abdb/2"), "this abdb reads 'abdb/1'"),
        (lambda d: d["chains"][0].update(chain_type="HEAVYISH"), "chain_type 'HEAVYISH' is not one of HEAVY"),
        (lambda d: d["chains"][0]["domains"][0].update(end=400), "must lie within 1-"),
        (lambda d: d["chains"][0]["domains"][0]["regions"][0].update(sequence="EVQ"), "is not residues 1-25"),
        (lambda d: d["chains"][0]["domains"][0].update(numbering=[[1, " "]]), "is not [number, insertion, residue]"),
        (lambda d: d["features"][0].update(chain=3), "chain 3 does not exist"),
        (lambda d: d["features"][0].update(confidence=7), "confidence must be a number from 0 to 1"),
        (lambda d: d["jobs"][0].update(completed_at="yesterday"), "is not an ISO 8601 time"),
        (lambda d: d["jobs"][0].update(started_at="2026-12-04T10:00:00"), "has no time zone"),
        (lambda d: d.update(checksum="0" * 64), 'remove "checksum" to accept the edit'),
        (lambda d: d["chains"][0].update(sequence=HEAVY.replace("E", "J", 1)), "'J' at position 1"),
        (lambda d: d.update(chains=[]), "has no chains"),
        (lambda d: d["chains"][0].update(metadata={"note": "a\x00b"}), "NUL"),
    ],
)
def test_a_broken_document_is_refused_with_what_and_where(change: Any, reason: str) -> None:
    with pytest.raises(RecordError, match=None) as refused:
        record_of(_edited(change), "f.jsonl", "line 1")
    assert reason in str(refused.value)
