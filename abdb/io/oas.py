"""Observed Antibody Space data units in (``abdb import oas``): ``.csv`` or ``.csv.gz``, unpaired or paired.

Line 1 is the unit's metadata (a JSON object inside one CSV-quoted field), line 2 the header, then a row per
sequence (unpaired: AIRR fields, ``ANARCI_numbering``, ``ANARCI_status``, ``Redundancy``) or per pair (the
same fields with ``_heavy``/``_light`` suffixes; 198 columns in most units, 180 in older ones). Units have no
``sequence_id`` worth a name, so each antibody is named ``<unit>:<line>`` (the file name without
``.csv[.gz]``, and the line of its row): stable for a given unit file.

``ANARCI_numbering`` — a Python dict literal, read with ``ast.literal_eval`` (never ``eval``) — becomes the
chain's IMGT variable domain with its numbering; its regions are recomputed from the position numbers by
abdb's own IMGT border table, never copied, so they agree with what `abdb annotate` would store. Such chains
need no annotation. The unit's metadata goes to each antibody's metadata (``oas``) and to the import run's
file entry; its ``Species`` becomes each chain's SPECIES feature.
"""

from __future__ import annotations

import ast
import csv
import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abdb.domain.records import AntibodyRecord, DomainRecord, FeatureRecord, RecordError, RegionRecord, Rejection
from abdb.domain.vocabulary import DomainType, FeatureType, NumberingScheme
from abdb.io.airr_chain import MAPPED, ReadChain, chain_of
from abdb.io.airr_in import antibody_of
from abdb.io.inputs import FileNote, FileStarted, ReadPosition
from abdb.io.tables import Row, TableError, TableFile, each_table
from abdb.numbering.regions import regions_of

OAS_SUFFIXES = (".csv",)
SOURCE = "OAS"
REGION_KEYS = ("fw{}1", "cdr{}1", "fw{}2", "cdr{}2", "fw{}3", "cdr{}3", "fw{}4")
MAX_NUMBERING_LENGTH = 20_000
OAS_FIELDS = frozenset({"ANARCI_numbering", "ANARCI_status", "Redundancy"})


@dataclass(frozen=True)
class OasOptions:
    allow_x: bool = False
    min_length: int = 20
    species: str | None = None  # only units of this species
    productive_only: bool = False
    min_redundancy: int | None = None


def unit_name(path_name: str) -> str:
    name = Path(path_name).name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name


def read_oas_files(
    files: Iterable[tuple[Path, str]], options: OasOptions, position: ReadPosition | None = None
) -> Iterator[FileStarted | FileNote | AntibodyRecord | Rejection]:
    yield from each_table(files, lambda _: ",", position or ReadPosition(), lambda table: _read_unit(table, options))


def _read_unit(table: TableFile, options: OasOptions) -> Iterator[FileNote | AntibodyRecord | Rejection]:
    name = table.source
    try:
        metadata = _metadata(table.next_line())
        header = table.read_header()
    except (TableError, RecordError, UnicodeDecodeError) as error:
        yield Rejection(name, "line 1", None, "parse", f"not an OAS data unit: {error}")
        return
    if header is None:
        yield Rejection(name, "line 2", None, "parse", "not an OAS data unit: no header after the metadata line")
        return
    yield FileNote(metadata=metadata)
    species = str(metadata.get("Species") or "")
    if options.species is not None and species.lower() != options.species.lower():
        # the whole unit is of another species: filtered out, by request (its rows counted, not parsed)
        yield FileNote(filtered=sum(1 for item in table.rows() if not isinstance(item, Rejection)))
        return
    paired = "sequence_alignment_aa_heavy" in header or "sequence_heavy" in header
    if not paired and not any(column in header for column in ("sequence_alignment_aa", "sequence_aa", "sequence")):
        yield Rejection(name, "line 2", None, "parse", "not an OAS data unit: no sequence columns in the header")
        return
    unit = unit_name(name)
    for item in table.rows():
        if isinstance(item, Rejection):
            yield item
        else:
            record = _record(item, name, unit, metadata, paired, options)
            yield FileNote(filtered=1) if record is None else record


def _metadata(line: str) -> dict[str, Any]:
    fields = next(csv.reader([line]), [])
    if len(fields) != 1:
        raise RecordError("line 1 should be the unit's metadata: one quoted field holding a JSON object")
    try:
        value = json.loads(fields[0])
    except ValueError as error:
        raise RecordError(f"line 1 is not JSON metadata ({error})") from None
    if not isinstance(value, dict):
        raise RecordError("line 1 should hold a JSON object")
    return value


def _record(
    row: Row, source: str, unit: str, metadata: dict[str, Any], paired: bool, options: OasOptions
) -> AntibodyRecord | Rejection | None:
    name = f"{unit}:{row.line}"
    suffixes = ("_heavy", "_light") if paired else ("",)
    chains: list[ReadChain] = []
    try:
        for suffix in suffixes:

            def get(field: str, suffix: str = suffix) -> str | None:
                return row.text(field + suffix)

            if paired and not (get("sequence_alignment_aa") or get("sequence_aa") or get("sequence")):
                continue  # a pair with one chain missing
            if options.productive_only and (get("productive") or "").upper() not in ("T", "TRUE"):
                return None
            redundancy = _integer(get("Redundancy"))
            if options.min_redundancy is not None and (redundancy or 0) < options.min_redundancy:
                return None
            chains.append(_chain(row, get, suffix, source, metadata, options))
        if not chains:
            raise RecordError("the row holds no chain")
        return antibody_of(name, chains, source, row.location, {"oas": metadata})
    except RecordError as error:
        return Rejection(source, row.location, name, "validate", str(error))


def _chain(row: Row, get: Any, suffix: str, source: str, metadata: dict[str, Any], options: OasOptions) -> ReadChain:
    values = row.values
    extra = {
        short: text for key, short in _extra_columns(tuple(values), suffix) if (text := (values[key] or "").strip())
    }

    def domain(residues: str, letter: str) -> DomainRecord | None:
        return numbered_domain(get("ANARCI_numbering"), residues, letter)

    read = chain_of(get, extra, source=SOURCE, allow_x=options.allow_x, min_length=options.min_length, domain=domain)
    species = metadata.get("Species")
    if isinstance(species, str) and species.strip():
        span = (read.chain.domains[0].start, read.chain.domains[0].end) if read.chain.domains else (None, None)
        species_feature = FeatureRecord(FeatureType.SPECIES, "species", species.strip().lower(), SOURCE, 0, *span)
        return ReadChain(read.chain, (*read.features, species_feature))
    return read


@functools.lru_cache(maxsize=64)
def _extra_columns(header: tuple[str, ...], suffix: str) -> tuple[tuple[str, str], ...]:
    """(column, name without the suffix) of a chain's columns that the tree does not hold: once per unit."""
    names = {field + suffix for field in MAPPED | {"ANARCI_numbering"}}
    return tuple(
        (key, key.removesuffix(suffix)) for key in header if (not suffix or key.endswith(suffix)) and key not in names
    )


def numbered_domain(literal: str | None, residues: str, letter: str) -> DomainRecord | None:
    """The IMGT variable domain that an ``ANARCI_numbering`` literal numbers, placed in the chain."""
    if literal is None:
        return None
    numbering = parse_numbering(literal)
    if not numbering:
        return None
    domain_residues = "".join(residue for _, _, residue in numbering)
    start = residues.find(domain_residues)
    if start == -1:
        raise RecordError("the residues of ANARCI_numbering are not a stretch of the chain's sequence")
    regions = tuple(
        RegionRecord(span.region_type, span.sequence, start + span.first + 1, start + span.last + 1)
        for span in regions_of(numbering, "imgt", letter)
    )
    return DomainRecord(
        DomainType.VARIABLE,
        NumberingScheme.IMGT,
        domain_residues,
        start + 1,
        start + len(domain_residues),
        regions,
        numbering=numbering,
    )


# OAS writes the literal one way: {'fwh1': {'1 ': 'Q', '2 ': 'V', …}, 'cdrh1': {…}, …}. Read so by two regular
# expressions (measured: 8 times faster than ast.literal_eval, which compiles every literal); anything else is
# read by ast.literal_eval, which never runs code either.
_BLOCK = re.compile(r"\s*'([a-z]{2,3}[hkl][1-4])'\s*:\s*\{([^{}]*)\}\s*,?")
_ENTRY = re.compile(r"'(\d+)([A-Z]?) ?'\s*:\s*'([A-Za-z-])'")


def parse_numbering(literal: str) -> tuple[tuple[int, str, str], ...]:
    """``{'fwh1': {'1 ': 'Q', …}, 'cdrh1': {…}, …}`` → ((1, '', 'Q'), …) in region then sequence order."""
    if len(literal) > MAX_NUMBERING_LENGTH:
        raise RecordError(f"ANARCI_numbering is {len(literal):,} characters long; that is not a numbering")
    regions = _regular(literal)
    if regions is None:
        regions = _literal(literal)
    letters = {key[-2] for key in regions}
    if len(letters) != 1 or not letters <= {"h", "k", "l"}:
        raise RecordError(f"ANARCI_numbering's regions {sorted(regions)[:7]} are not fwh1…fwh4 / fwk… / fwl…")
    letter = letters.pop()
    known = [template.format(letter) for template in REGION_KEYS]
    unknown = set(regions) - set(known)
    if unknown:
        raise RecordError(f"ANARCI_numbering has regions abdb does not know: {', '.join(sorted(unknown))}")
    return tuple(residue for key in known for residue in regions.get(key, ()))


def _regular(literal: str) -> dict[str, list[tuple[int, str, str]]] | None:
    text = literal.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    regions: dict[str, list[tuple[int, str, str]]] = {}
    at, end = 1, len(text) - 1
    while at < end:
        block = _BLOCK.match(text, at, end)
        if block is None:
            return None if text[at:end].strip() else regions
        body = block.group(2)
        entries = _ENTRY.findall(body)
        if _ENTRY.sub("", body).replace(",", "").strip() or block.group(1) in regions:  # else: the slow way
            return None
        regions[block.group(1)] = [
            (int(number), insertion, residue.upper()) for number, insertion, residue in entries if residue != "-"
        ]
        at = block.end()
    return regions


def _literal(literal: str) -> dict[str, list[tuple[int, str, str]]]:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise RecordError(f"ANARCI_numbering is not a Python dict literal ({type(error).__name__})") from None
    if not isinstance(value, dict):
        raise RecordError("ANARCI_numbering should be a dict of regions ({'fwh1': {'1 ': 'Q', …}, …})")
    regions: dict[str, list[tuple[int, str, str]]] = {}
    for key, positions in value.items():
        if not isinstance(key, str) or not isinstance(positions, dict):
            raise RecordError(f"ANARCI_numbering {key!r} should map positions to residues")
        entries = regions[key] = []
        for position, residue in positions.items():
            if not (isinstance(position, str) and isinstance(residue, str) and len(residue) == 1):
                raise RecordError(f"ANARCI_numbering {key}: {position!r}: {residue!r} is not a position and a residue")
            digits = position.strip()
            number = digits.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if not number.isdigit():
                raise RecordError(f"ANARCI_numbering {key}: position {position!r} is not a number")
            if residue != "-":
                entries.append((int(number), digits[len(number) :], residue.upper()))  # "" when no insertion
    return regions


def _integer(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise RecordError(f"Redundancy {text!r} is not a number") from None
