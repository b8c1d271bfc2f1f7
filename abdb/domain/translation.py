"""Telling nucleotide records from protein ones, and translating them in the one open reading frame.

A protein chain is essentially never ≥ 90% A/C/G/T/U/N (the most G-rich real chains, with glycine-serine
linkers, stay near 60%), while a DNA or RNA record is essentially always above it (N and IUPAC codes
aside). Translation looks for the frame whose translation has no stop codon before its end (a final stop is
dropped, an incomplete final codon ignored): the one open frame of the three forward frames, since records
are given on the sense strand; else, when no forward frame is open, the one open frame of the reverse
complement. When no frame, or more than one frame of a strand, is open, the record is rejected rather than
guessed: a V(D)J region of ~360 nucleotides has, in practice, exactly one open frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from Bio.Seq import Seq

NUCLEOTIDE_LETTERS = frozenset("ACGTUN")
NUCLEOTIDE_SHARE = 0.9


class TranslationError(ValueError):
    """No single reading frame translates the record; the message says which frames were tried."""


@dataclass(frozen=True)
class Translation:
    protein: str
    frame: str  # "+1", "+2", "+3", "-1", "-2" or "-3"
    nucleotides: int


def nucleotide_share(sequence: str) -> float:
    """The share of letters that are A, C, G, T, U or N (case-insensitive; other characters not counted)."""
    letters = [letter for letter in sequence.upper() if letter.isalpha()]
    if not letters:
        return 0.0
    return sum(letter in NUCLEOTIDE_LETTERS for letter in letters) / len(letters)


def looks_like_nucleotides(sequence: str) -> bool:
    return nucleotide_share(sequence) >= NUCLEOTIDE_SHARE


def translate(sequence: str) -> Translation:
    """The protein of the single reading frame without an internal stop codon."""
    dna = "".join(sequence.split()).upper().replace("U", "T").replace("-", "").replace(".", "")
    reverse = str(Seq(dna).reverse_complement())  # type: ignore[no-untyped-call]
    open_frames: list[Translation] = []
    for strand, bases in (("+", dna), ("-", reverse)):
        for offset in range(3):
            coding = bases[offset:]
            coding = coding[: len(coding) - len(coding) % 3]
            protein = str(Seq(coding).translate()).removesuffix("*")  # type: ignore[no-untyped-call]
            if protein and "*" not in protein:
                open_frames.append(Translation(protein, f"{strand}{offset + 1}", len(dna)))
    forward = [frame for frame in open_frames if frame.frame.startswith("+")]
    if len(forward) == 1:  # records are usually given on the sense strand
        return forward[0]
    if not forward and len(open_frames) == 1:
        return open_frames[0]
    if not open_frames:
        raise TranslationError("no reading frame (of 3 forward and 3 reverse) is free of stop codons")
    frames = ", ".join(frame.frame for frame in open_frames)
    raise TranslationError(f"{len(open_frames)} reading frames ({frames}) have no stop codon; cannot tell which one")
