"""Place domains and regions in their chain from their residues, never from stored position numbers.

Legacy files changed their coordinate convention several times (0- or 1-based, inclusive or exclusive,
domain- or chain-relative, counting numbering gaps), so stored numbers are only *hints*: every domain and
region is located by searching its gap-stripped sequence in the chain, in order, each inside its parent
and after its predecessor. A stored number is consulted only to choose between several equally good
matches; when it cannot, the record is rejected rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from abdb.domain.checksum import normalise_residues
from abdb.domain.records import DomainRecord, RecordError, RegionRecord
from abdb.domain.vocabulary import DomainType, NumberingScheme, RegionType

REGION_ORDER = {region_type: index for index, region_type in enumerate(RegionType)}


@dataclass(frozen=True)
class RegionDraft:
    label: str
    region_type: RegionType
    sequence: str | None
    hint: int | None = None


@dataclass(frozen=True)
class DomainDraft:
    label: str
    domain_type: DomainType
    numbering_scheme: NumberingScheme
    sequence: str | None
    regions: tuple[RegionDraft, ...] = ()
    hint: int | None = None


residues_of = normalise_residues  # upper-case residues without whitespace or alignment gaps


def place_domains(chain: str, drafts: Sequence[DomainDraft]) -> tuple[DomainRecord, ...]:
    """Domains with 1-based inclusive chain positions, in chain order, or RecordError saying what does not fit."""
    placed: list[DomainRecord] = []
    cursor = 0
    for draft in drafts:
        residues = residues_of(draft.sequence or "")
        if residues:
            start = _locate(chain, residues, cursor, len(chain), draft.hint, 0, f"{draft.label}")
            end = start + len(residues)
            regions = _place_regions(chain, draft, start, end)
        else:
            regions = _place_regions(chain, draft, cursor, len(chain))
            if not regions:
                raise RecordError(f"{draft.label} has neither a sequence nor regions, so it cannot be placed")
            start, end = regions[0].start - 1, regions[-1].end
        if draft.domain_type is DomainType.VARIABLE and len(regions) == len(RegionType):
            _check_tiling(draft.label, regions, start + 1, end)
        placed.append(
            DomainRecord(draft.domain_type, draft.numbering_scheme, chain[start:end], start + 1, end, regions)
        )
        cursor = end
    return tuple(placed)


def _check_tiling(label: str, regions: tuple[RegionRecord, ...], start: int, end: int) -> None:
    """All seven regions of a variable domain must cover it exactly, as `abdb verify` requires."""
    gaps = [f"{a.region_type.value}-{b.region_type.value}" for a, b in pairwise(regions) if b.start != a.end + 1]
    if gaps or regions[0].start != start or regions[-1].end != end:
        raise RecordError(
            f"{label}: its seven regions do not cover it exactly (regions {regions[0].start}-{regions[-1].end}, "
            f"domain {start}-{end}{', gaps between ' + ', '.join(gaps) if gaps else ''})"
        )


def _place_regions(chain: str, draft: DomainDraft, low: int, high: int) -> tuple[RegionRecord, ...]:
    seen: set[RegionType] = set()
    for region in draft.regions:
        if region.region_type in seen:
            raise RecordError(f"{draft.label} has two {region.region_type.value} regions")
        seen.add(region.region_type)
    placed: list[RegionRecord] = []
    cursor = low
    for region in sorted(draft.regions, key=lambda r: REGION_ORDER[r.region_type]):
        residues = residues_of(region.sequence or "")
        if not residues:
            raise RecordError(f"{draft.label} {region.label} has no residues, so its position cannot be recomputed")
        start = _locate(chain, residues, cursor, high, region.hint, low, f"{draft.label} {region.label}")
        placed.append(RegionRecord(region.region_type, residues, start + 1, start + len(residues)))
        cursor = start + len(residues)
    return tuple(placed)


def _locate(chain: str, needle: str, low: int, high: int, hint: int | None, parent_start: int, what: str) -> int:
    """0-based start of ``needle`` in ``chain[low:high]``: the only match, the one at ``low``, or the hinted one."""
    matches = _occurrences(chain, needle, low, high)
    if not matches:
        raise RecordError(_not_found(chain, needle, low, high, what))
    if len(matches) == 1 or matches[0] == low:
        return matches[0]
    if hint is not None:
        # Stored starts were 0- or 1-based, relative to the chain or to the parent domain.
        readings = {hint, hint - 1, parent_start + hint, parent_start + hint - 1}
        hinted = [start for start in matches if start in readings]
        if len(hinted) == 1:
            return hinted[0]
    shown = ", ".join(str(start + 1) for start in matches[:5])
    raise RecordError(
        f"{what} {_short(needle)} occurs {len(matches)} times in the chain (at {shown}) and its stored "
        "position does not say which; give it a longer sequence or fix the position"
    )


def _occurrences(chain: str, needle: str, low: int, high: int) -> list[int]:
    found = []
    start = chain.find(needle, low, high)
    while start != -1:
        found.append(start)
        start = chain.find(needle, start + 1, high)
    return found


def _not_found(chain: str, needle: str, low: int, high: int, what: str) -> str:
    elsewhere = chain.find(needle)
    if elsewhere == -1:
        return f"{what} {_short(needle)} is not part of the chain's sequence"
    return (
        f"{what} {_short(needle)} is at {elsewhere + 1}-{elsewhere + len(needle)} of the chain, outside "
        f"{low + 1}-{high} where it must lie (inside its domain, after the previous region or domain)"
    )


def _short(residues: str) -> str:
    return repr(residues if len(residues) <= 24 else f"{residues[:10]}...{residues[-10:]}")
