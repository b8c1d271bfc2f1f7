"""One chain from the fields of an AIRR rearrangement (AIRR TSV rows, and OAS units, which use its names).

- **Residues**: ``sequence_aa``; else ``sequence_alignment_aa``; else the translation (Biopython) of
  ``sequence_alignment`` (in frame from its first base: ``sequence_alignment_aa`` is defined as its
  translation), or of ``sequence`` — reverse-complemented first when ``rev_comp`` is T, as AIRR coordinates
  then are — in the frame of ``junction_start`` (the junction opens with the codon of Cys 104), or without
  it in the one open reading frame. Alignment gaps (``.``, ``-``) are dropped, and a final ``*``; a stop
  codon inside is a rejection (the chain is not productive as given).
- **Chain type**: ``locus`` (IGH/IGK/IGL/TR*, or OAS's H/K/L), else the V call's first three letters.
- **Regions**: when all seven of ``fwr1_aa``…``fwr4_aa``/``cdr1_aa``…``cdr3_aa`` are given (IMGT, by the
  standard), they are placed in the chain as the legacy importer places regions (located by their residues,
  never by the nucleotide ``*_start``/``*_end``; seven regions must tile their domain) into an IMGT variable
  domain; with fewer, no domain is made and the chain is queued for annotation. OAS's ANARCI numbering,
  when given, makes the domain instead (``abdb.io.oas``).
- **Calls**: ``v_call``/``d_call``/``j_call`` become GENE and ALLELE features of the chain, ``c_call`` an
  ISOTYPE feature. Several calls (``IGHV1-2*02,IGHV1-2*04``) are ambiguity: the first (the aligner's best)
  is the feature's value and all of them are kept in its ``metadata.calls``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from Bio.Seq import Seq

from abdb.domain.placement import DomainDraft, RegionDraft, place_domains
from abdb.domain.records import ChainRecord, DomainRecord, FeatureRecord, RecordError, check_storable, validate_residues
from abdb.domain.translation import TranslationError, translate
from abdb.domain.vocabulary import ChainType, DomainType, FeatureType, Locus, NumberingScheme, RegionType

Field = Callable[[str], "str | None"]  # an AIRR field's value, None when empty or missing

LOCI: dict[str, tuple[ChainType, Locus, str]] = {  # locus -> chain type, locus, chain name
    "IGH": (ChainType.HEAVY, Locus.IGH, "heavy"),
    "IGK": (ChainType.LIGHT, Locus.IGK, "light"),
    "IGL": (ChainType.LIGHT, Locus.IGL, "light"),
    "TRA": (ChainType.LIGHT, Locus.TRA, "alpha"),
    "TRB": (ChainType.HEAVY, Locus.TRB, "beta"),
    "TRG": (ChainType.LIGHT, Locus.TRG, "gamma"),
    "TRD": (ChainType.HEAVY, Locus.TRD, "delta"),
}
SHORT_LOCI = {"H": "IGH", "K": "IGK", "L": "IGL"}  # OAS writes the locus as one letter
REGION_FIELDS = (
    ("fwr1_aa", RegionType.FR1),
    ("cdr1_aa", RegionType.CDR1),
    ("fwr2_aa", RegionType.FR2),
    ("cdr2_aa", RegionType.CDR2),
    ("fwr3_aa", RegionType.FR3),
    ("cdr3_aa", RegionType.CDR3),
    ("fwr4_aa", RegionType.FR4),
)
# fields the tree holds: everything else of a row is kept in the chain's metadata
MAPPED = frozenset(
    {"sequence_aa", "locus", "v_call", "d_call", "j_call", "c_call", *(field for field, _ in REGION_FIELDS)}
)
CALLS = (("v_call", "V"), ("d_call", "D"), ("j_call", "J"))


@dataclass(frozen=True)
class ReadChain:
    """A chain and its features (``chain_index`` 0: renumbered when chains are put together)."""

    chain: ChainRecord
    features: tuple[FeatureRecord, ...]


def locus_of(given: str | None, v_call: str | None) -> tuple[ChainType, Locus | None, str]:
    if given is not None:
        code = SHORT_LOCI.get(given.upper(), given.upper())
        if code not in LOCI:
            raise RecordError(f"locus {given!r} is not one of {', '.join(LOCI)} (or H, K, L)")
        return LOCI[code]
    if v_call and v_call[:3].upper() in LOCI:
        return LOCI[v_call[:3].upper()]
    return ChainType.UNKNOWN, None, "chain"


def residues_of(get: Field) -> tuple[str, dict[str, object]]:
    """The chain's amino acids, and how they were obtained when they had to be translated."""
    for field in ("sequence_aa", "sequence_alignment_aa"):
        value = get(field)
        if value:
            return _protein(value, field), {}
    alignment = get("sequence_alignment")
    if alignment:  # in frame by definition: sequence_alignment_aa is its translation
        bases = _bases(alignment)
        protein = _translated(bases, 0, "sequence_alignment")
        return protein, {"translation": {"from": "sequence_alignment", "frame": "+1", "nucleotides": len(bases)}}
    sequence = get("sequence")
    if not sequence:
        raise RecordError("no sequence: sequence_aa, sequence_alignment_aa, sequence_alignment and sequence are empty")
    bases = _bases(sequence)
    how: dict[str, object] = {"from": "sequence", "nucleotides": len(bases)}
    if (get("rev_comp") or "").upper() in ("T", "TRUE"):  # coordinates are then on the reverse complement
        bases = str(Seq(bases).reverse_complement())  # type: ignore[no-untyped-call]
        how["reverse_complemented"] = True
    junction_start = _position(get("junction_start"), "junction_start")
    if junction_start is not None:  # the junction begins with the codon of Cys 104: its frame is the chain's
        offset = (junction_start - 1) % 3
        how["frame"] = f"+{offset + 1} (junction_start)"
        return _translated(bases, offset, "sequence"), {"translation": how}
    try:
        translation = translate(bases)
    except TranslationError as error:
        raise RecordError(f"sequence cannot be translated: {error} (junction_start would say)") from None
    how["frame"] = translation.frame
    return translation.protein, {"translation": how}


def _bases(text: str) -> str:
    return "".join(text.split()).replace(".", "").replace("-", "").upper().replace("U", "T")


def _position(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise RecordError(f"{field} {text!r} is not a position") from None
    if value < 1:
        raise RecordError(f"{field} {value} is not a position (they start at 1)")
    return value


def _translated(bases: str, offset: int, field: str) -> str:
    coding = bases[offset:]
    coding = coding[: len(coding) - len(coding) % 3]
    protein = str(Seq(coding).translate())  # type: ignore[no-untyped-call]
    return _protein(protein, f"the translation of {field}")


def _protein(value: str, field: str) -> str:
    residues = "".join(value.split()).replace(".", "").replace("-", "").upper().removesuffix("*")
    stop = residues.find("*")
    if stop != -1:
        raise RecordError(f"{field} has a stop codon (*) at residue {stop + 1}: the chain is not productive as given")
    return residues


def chain_of(
    get: Field,
    extra: dict[str, str],
    *,
    source: str,
    allow_x: bool,
    min_length: int,
    domain: Callable[[str, str], DomainRecord | None] | None = None,
    name: str | None = None,
) -> ReadChain:
    """The chain of one rearrangement; ``extra`` (the row's other fields) goes to its metadata under "airr";
    ``domain(residues, chain_letter)`` makes the variable domain when the input numbers it itself (OAS)."""
    v_call = get("v_call")
    chain_type, locus, default_name = locus_of(get("locus"), v_call)
    protein, how = residues_of(get)
    residues = validate_residues(protein, allow_x=allow_x, min_length=min_length)
    letter = {"IGH": "H", "IGK": "K", "IGL": "L"}.get(str(locus), "H")
    variable = domain(residues, letter) if domain is not None else _given_regions(residues, get)
    metadata: dict[str, object] = {**how}
    if extra:
        metadata["airr"] = extra
    check_storable(metadata, "the row's other fields")
    chain = ChainRecord(
        name or default_name,
        chain_type,
        residues,
        locus,
        (variable,) if variable is not None else (),
        metadata=metadata,
    )
    span = (variable.start, variable.end) if variable is not None else (None, None)
    features = [feature for field, segment in CALLS for feature in call_features(get(field), segment, source, span)]
    isotype = get("c_call")
    if isotype:
        features.append(FeatureRecord(FeatureType.ISOTYPE, "isotype", _first(isotype), source, 0))
    return ReadChain(chain, tuple(features))


def _given_regions(residues: str, get: Field) -> DomainRecord | None:
    given = [(field, region, get(field)) for field, region in REGION_FIELDS]
    if not all(value for _, _, value in given):
        return None  # fewer than seven: no domain; the chain is numbered by `abdb annotate`
    draft = DomainDraft(
        "the AIRR regions",
        DomainType.VARIABLE,
        NumberingScheme.IMGT,
        None,
        tuple(RegionDraft(field, region, value) for field, region, value in given),
    )
    return place_domains(residues, [draft])[0]


def _first(calls: str) -> str:
    return next((call.strip() for call in calls.split(",") if call.strip()), calls.strip())


def call_features(
    value: str | None, segment: str, source: str, span: tuple[int | None, int | None]
) -> list[FeatureRecord]:
    """GENE (and ALLELE, when the call names one) features of one V/D/J call."""
    if not value:
        return []
    calls = [call.strip() for call in value.split(",") if call.strip()]
    if not calls:
        return []
    first = calls[0]
    metadata: dict[str, object] = {"calls": calls} if len(calls) > 1 else {}
    check_storable(calls, f"the {segment} call")
    start, end = span
    features = [
        FeatureRecord(
            FeatureType.GENE, f"{segment} gene", first.split("*", 1)[0], source, 0, start, end, metadata=metadata
        )
    ]
    if "*" in first:
        features.append(
            FeatureRecord(FeatureType.ALLELE, f"{segment} allele", first, source, 0, start, end, metadata=metadata)
        )
    return features


def reindexed(features: Iterable[FeatureRecord], index: int) -> list[FeatureRecord]:
    """The features of a chain that is the ``index``-th of its antibody."""
    return [
        FeatureRecord(f.feature_type, f.name, f.value, f.source, index, f.start, f.end, f.confidence, f.metadata)
        for f in features
    ]
