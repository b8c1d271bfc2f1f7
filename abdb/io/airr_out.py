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

from abdb.domain.exported import AirrChain

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


def _locus(chain: AirrChain) -> str:
    """The chain's locus; for a chain of several domains (scFv), or one stored without, the V call's."""
    if chain.locus and chain.chain_type != "SINGLE_CHAIN":
        return chain.locus
    if chain.v_call and chain.v_call[:3] in ("IGH", "IGK", "IGL", "TRA", "TRB", "TRG", "TRD"):
        return chain.v_call[:3]
    return LOCI.get(chain.chain_type) or ""


def header() -> str:
    return "\t".join(COLUMNS) + "\n"


def _clean(value: str | None) -> str:
    """AIRR TSV has no quoting: tabs and line breaks in free text become spaces."""
    if value is None:
        return ""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _junction(chain: AirrChain) -> str:
    """The IMGT junction: the CDR3 with one residue either side (Cys 104, Trp/Phe 118)."""
    if chain.cdr3 is None or chain.scheme != "IMGT" or chain.cdr3_start is None or chain.cdr3_end is None:
        return ""
    if chain.cdr3_start < 2 or chain.cdr3_end >= len(chain.chain_sequence):
        return ""
    return chain.chain_sequence[chain.cdr3_start - 2 : chain.cdr3_end + 1]


def _text(value: int | str | None) -> str:
    return "" if value is None else str(value)


def airr_line(chain: AirrChain) -> str:
    """The TSV line of one chain and variable domain (``chain.domains`` 0: the chain alone, no regions).

    Only free text (names, calls) is cleaned: residues, codes and numbers hold no tab or line break."""
    name = _clean(chain.antibody_name)
    chain_name = _clean(chain.chain_name)
    suffix = f"_{chain.place + 1}" if chain.domains > 1 else ""
    identifier = str(chain.antibody_id)
    junction = _junction(chain)
    regions = [
        (chain.fr1, chain.fr1_start, chain.fr1_end),
        (chain.cdr1, chain.cdr1_start, chain.cdr1_end),
        (chain.fr2, chain.fr2_start, chain.fr2_end),
        (chain.cdr2, chain.cdr2_start, chain.cdr2_end),
        (chain.fr3, chain.fr3_start, chain.fr3_end),
        (chain.cdr3, chain.cdr3_start, chain.cdr3_end),
        (chain.fr4, chain.fr4_start, chain.fr4_end),
    ]
    fields = [
        f"{name}|{chain_name}{suffix}",  # sequence_id
        "",  # sequence (nucleotides: none)
        "F",  # rev_comp
        "",  # productive
        _clean(chain.v_call),
        "",  # d_call
        _clean(chain.j_call),
        "",  # sequence_alignment
        "",  # germline_alignment
        "",  # junction
        junction,
        "",  # v_cigar
        "",  # d_cigar
        "",  # j_cigar
        identifier,  # cell_id
        _locus(chain),
        chain.chain_sequence,  # sequence_aa
        _text(chain.domain_sequence),  # sequence_alignment_aa
        str(len(junction)) if junction else "",
        *(_text(residues) for residues, _, _ in regions),
        *([""] * (2 * len(regions))),  # *_start/_end: nucleotide positions
        identifier,
        name,
        chain_name,
        chain.chain_type,
        _text(chain.scheme),
        _text(chain.domain_start),
        _text(chain.domain_end),
    ]
    for _, start, end in regions:
        fields += (_text(start), _text(end))
    return "\t".join(fields) + "\n"
