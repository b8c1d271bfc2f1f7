"""AIRR Rearrangement TSV (schema 2.0) from stored antibodies, written with the standard library.

One row per chain (per variable domain for a chain with several: scFv), ``cell_id`` the antibody. abdb holds
amino acids only: the nucleotide fields the standard requires (``sequence``, ``sequence_alignment``,
``germline_alignment``, ``junction``, the CIGARs) are present and empty, and so are the ``*_start``/``*_end``
coordinates (positions in the nucleotide sequence); abdb's own amino-acid positions, 1-based and inclusive on
the chain, are in ``abdb_``-prefixed custom columns. ``productive`` stays empty: whether the rearrangement
was productive is a nucleotide question that protein alone does not answer. ``junction_aa`` is the IMGT
junction: the IMGT CDR3 with the conserved residue before it (Cys 104) and after it (Trp/Phe 118).
"""

from __future__ import annotations

from collections.abc import Iterator

from abdb.domain.exported import ExportedAntibody, ExportedChain, ExportedDomain

REGIONS = ("FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4")
AIRR_REGION = {
    "FR1": "fwr1",
    "CDR1": "cdr1",
    "FR2": "fwr2",
    "CDR2": "cdr2",
    "FR3": "fwr3",
    "CDR3": "cdr3",
    "FR4": "fwr4",
}
REQUIRED = (
    "sequence_id", "sequence", "rev_comp", "productive", "v_call", "d_call", "j_call", "sequence_alignment",
    "germline_alignment", "junction", "junction_aa", "v_cigar", "d_cigar", "j_cigar",
)  # fmt: skip
COLUMNS = (
    *REQUIRED,
    "cell_id", "locus", "sequence_aa", "sequence_alignment_aa", "junction_aa_length",
    *(f"{AIRR_REGION[r]}_aa" for r in REGIONS),
    *(f"{AIRR_REGION[r]}_{edge}" for r in REGIONS for edge in ("start", "end")),
    "abdb_antibody_id", "abdb_antibody_name", "abdb_chain_name", "abdb_chain_type", "abdb_scheme",
    "abdb_domain_start", "abdb_domain_end",
    *(f"abdb_{AIRR_REGION[r]}_aa_{edge}" for r in REGIONS for edge in ("start", "end")),
)  # fmt: skip
LOCI = {"HEAVY": "IGH", "LIGHT": None, "SINGLE_CHAIN": None}


def _locus(chain: ExportedChain, v_call: str | None) -> str | None:
    """The chain's locus; for a chain of several domains (scFv), or one stored without, the V call's."""
    if chain.locus and chain.chain_type != "SINGLE_CHAIN":
        return chain.locus
    if v_call and v_call[:3] in ("IGH", "IGK", "IGL", "TRA", "TRB", "TRG", "TRD"):
        return v_call[:3]
    return LOCI.get(chain.chain_type)


def header() -> str:
    return "\t".join(COLUMNS) + "\n"


def _clean(value: object) -> str:
    """AIRR TSV has no quoting: tabs and line breaks in free text become spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "T" if value else "F"
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _junction(chain: ExportedChain, domain: ExportedDomain) -> str:
    cdr3 = next((r for r in domain.regions if r.region_type == "CDR3"), None)
    if cdr3 is None or domain.scheme != "IMGT" or cdr3.start < 2 or cdr3.end >= len(chain.sequence):
        return ""
    return chain.sequence[cdr3.start - 2 : cdr3.end + 1]


def airr_rows(antibody: ExportedAntibody, scheme: str) -> Iterator[str]:
    """One TSV line per variable domain of ``scheme`` (a chain without one gets a row with its sequence)."""
    for chain in antibody.chains:
        variable = [d for d in chain.domains if d.domain_type == "VARIABLE" and d.scheme == scheme]
        domains: list[ExportedDomain | None] = [*variable] or [None]
        for number, domain in enumerate(domains, start=1):
            suffix = f"_{number}" if len(domains) > 1 else ""
            index = number - 1 if len(domains) > 1 else None
            v_call = antibody.feature(chain, "V allele", index) or antibody.feature(chain, "V gene", index)
            row: dict[str, object] = dict.fromkeys(COLUMNS)
            row.update(
                sequence_id=f"{antibody.name}|{chain.name}{suffix}",
                rev_comp=False,
                cell_id=str(antibody.id),
                locus=_locus(chain, v_call),
                sequence_aa=chain.sequence,
                v_call=v_call,
                j_call=antibody.feature(chain, "J allele", index) or antibody.feature(chain, "J gene", index),
                abdb_antibody_id=str(antibody.id),
                abdb_antibody_name=antibody.name,
                abdb_chain_name=chain.name,
                abdb_chain_type=chain.chain_type,
            )
            if domain is not None:
                regions = {region.region_type: region for region in domain.regions}
                junction = _junction(chain, domain)
                row.update(
                    sequence_alignment_aa=domain.sequence,
                    junction_aa=junction,
                    junction_aa_length=len(junction) if junction else None,
                    abdb_scheme=domain.scheme,
                    abdb_domain_start=domain.start,
                    abdb_domain_end=domain.end,
                )
                for region_type, region in regions.items():
                    if region_type in AIRR_REGION:
                        name = AIRR_REGION[region_type]
                        row[f"{name}_aa"] = region.sequence
                        row[f"abdb_{name}_aa_start"], row[f"abdb_{name}_aa_end"] = region.start, region.end
            yield "\t".join(_clean(row[column]) for column in COLUMNS) + "\n"
