"""OAS data units for fixtures and benchmarks: the columns of a unit, and a unit's row made from a numbered
chain (its fields, IMGT regions and ANARCI numbering literal as OAS writes them)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from abdb.numbering.engine import NumberedDomain
from abdb.numbering.regions import regions_of

OAS_BASE = [
    "sequence", "locus", "stop_codon", "vj_in_frame", "v_frameshift", "productive", "rev_comp", "complete_vdj",
    "v_call", "d_call", "j_call", "sequence_alignment", "germline_alignment", "sequence_alignment_aa",
    "germline_alignment_aa", "v_alignment_start", "v_alignment_end", "d_alignment_start", "d_alignment_end",
    "j_alignment_start", "j_alignment_end", "v_sequence_alignment", "v_sequence_alignment_aa",
    "v_germline_alignment", "v_germline_alignment_aa", "d_sequence_alignment", "d_sequence_alignment_aa",
    "d_germline_alignment", "d_germline_alignment_aa", "j_sequence_alignment", "j_sequence_alignment_aa",
    "j_germline_alignment", "j_germline_alignment_aa", "fwr1", "fwr1_aa", "cdr1", "cdr1_aa", "fwr2", "fwr2_aa",
    "cdr2", "cdr2_aa", "fwr3", "fwr3_aa", "fwr4", "fwr4_aa", "cdr3", "cdr3_aa", "junction", "junction_length",
    "junction_aa", "junction_aa_length", "v_score", "d_score", "j_score", "v_cigar", "d_cigar", "j_cigar",
    "v_support", "d_support", "j_support", "v_identity", "d_identity", "j_identity", "v_sequence_start",
    "v_sequence_end", "v_germline_start", "v_germline_end", "d_sequence_start", "d_sequence_end",
    "d_germline_start", "d_germline_end", "j_sequence_start", "j_sequence_end", "j_germline_start",
    "j_germline_end", "fwr1_start", "fwr1_end", "cdr1_start", "cdr1_end", "fwr2_start", "fwr2_end", "cdr2_start",
    "cdr2_end", "fwr3_start", "fwr3_end", "fwr4_start", "fwr4_end", "cdr3_start", "cdr3_end", "np1", "np1_length",
    "np2", "np2_length", "c_region", "Redundancy", "ANARCI_numbering", "ANARCI_status", "Isotype",
]  # fmt: skip
# what the 17 older paired units (180 columns) lack
OLD_UNIT_LACKS = {
    "fwr4",
    "fwr4_aa",
    "fwr4_start",
    "fwr4_end",
    "complete_vdj",
    "v_frameshift",
    "c_region",
    "Redundancy",
    "Isotype",
}
PAIRED_HEADER = [
    "sequence_id_heavy",
    "sequence_id_light",
    *(f"{column}_heavy" for column in OAS_BASE),
    *(f"{column}_light" for column in OAS_BASE),
]
OLD_PAIRED_HEADER = [column for column in PAIRED_HEADER if column.rsplit("_", 1)[0] not in OLD_UNIT_LACKS]
REGION_FIELDS = ("fwr1_aa", "cdr1_aa", "fwr2_aa", "cdr2_aa", "fwr3_aa", "cdr3_aa", "fwr4_aa")
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def anarci_literal(domain: NumberedDomain) -> str:
    """The numbering as OAS writes it: a Python dict literal of regions with IMGT position keys ('1 ', '111A')."""
    letter = {"H": "h", "K": "k", "L": "l"}[domain.chain_letter]
    keys = [template.format(letter) for template in ("fw{}1", "cdr{}1", "fw{}2", "cdr{}2", "fw{}3", "cdr{}3", "fw{}4")]
    value: dict[str, dict[str, str]] = {}
    for key, span in zip(keys, regions_of(domain.numbering, "imgt", domain.chain_letter), strict=True):
        value[key] = {f"{n}{ins or ' '}": residue for n, ins, residue in domain.numbering[span.first : span.last + 1]}
    return repr(value)


def chain_fields(domain: NumberedDomain, redundancy: int, productive: str = "T") -> dict[str, Any]:
    """A unit's fields of one chain, from its numbered variable domain (the residues are the numbering's)."""
    spans = regions_of(domain.numbering, "imgt", domain.chain_letter)
    residues = "".join(residue for _, _, residue in domain.numbering)
    cdr3, before, after = spans[5], spans[4], spans[6]
    return {
        **{field: span.sequence for field, span in zip(REGION_FIELDS, spans, strict=True)},
        "locus": domain.chain_letter,
        "v_call": domain.v_gene[1] if domain.v_gene else "",
        "j_call": domain.j_gene[1] if domain.j_gene else "",
        "productive": productive,
        "stop_codon": "F",
        "vj_in_frame": "T",
        "sequence_alignment_aa": residues,
        "junction_aa": before.sequence[-1] + cdr3.sequence + after.sequence[0],
        "ANARCI_numbering": anarci_literal(domain),
        "ANARCI_status": "|||||",
        "Redundancy": redundancy,
        "Isotype": "IGHG" if domain.chain_letter == "H" else "",
    }


def mutated(domain: NumberedDomain, rng: random.Random, changes: int = 3) -> NumberedDomain:
    """The domain with ``changes`` CDR residues substituted (a new chain, numbered the same way)."""
    spans = regions_of(domain.numbering, "imgt", domain.chain_letter)
    cdr_places = [index for span in spans[1::2] for index in range(span.first, span.last + 1)]
    numbering = list(domain.numbering)
    for index in rng.sample(cdr_places, min(changes, len(cdr_places))):
        number, insertion, _ = numbering[index]
        numbering[index] = (number, insertion, rng.choice(RESIDUES))
    return dataclasses.replace(domain, numbering=tuple(numbering))


def paired_row(heavy: NumberedDomain, light: NumberedDomain, identifier: str, redundancy: int = 1) -> dict[str, Any]:
    row: dict[str, Any] = {"sequence_id_heavy": f"{identifier}_contig_1", "sequence_id_light": f"{identifier}_contig_2"}
    for suffix, domain in (("heavy", heavy), ("light", light)):
        row.update({f"{key}_{suffix}": value for key, value in chain_fields(domain, redundancy).items()})
    return row


def write_unit(path: Path, metadata: dict[str, Any], header: list[str], rows: Iterable[dict[str, Any]]) -> None:
    """A unit file: the metadata as one CSV-quoted JSON field, the header, the rows."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([json.dumps(metadata)])
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])


def unit_text(metadata: dict[str, Any], header: list[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([json.dumps(metadata)])
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()
