"""Streaming FASTA reader and the rules that pair chains into antibodies.

Pairing: consecutive records whose ids share a base name form one antibody. The base name and the
chain label are taken, in this order, from ``NAME|LABEL`` (``>mAb1|heavy``), or a ``_H``/``_L``/``_HC``/
``_LC``/``_VH``/``_VL``/``_K`` suffix (``>mAb1_H``); otherwise the whole id is the name and the record is an
antibody of one chain. Labels ``heavy/H/HC/VH`` make a HEAVY chain, ``light/L/LC/VL/kappa/K/lambda`` a LIGHT
chain, ``scfv`` a SINGLE_CHAIN; any other chain is UNKNOWN until annotation decides.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from abdb.domain.records import (
    MAX_CHAIN_NAME_LENGTH,
    AntibodyRecord,
    ChainRecord,
    RecordError,
    Rejection,
    check_storable,
    validate_name,
    validate_residues,
)
from abdb.domain.vocabulary import ChainType, Locus

MAX_LINE_LENGTH = 1_000_000
GZIP_MAGIC = b"\x1f\x8b"
FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas")

LABELS = {
    "heavy": ChainType.HEAVY,
    "h": ChainType.HEAVY,
    "hc": ChainType.HEAVY,
    "vh": ChainType.HEAVY,
    "light": ChainType.LIGHT,
    "l": ChainType.LIGHT,
    "lc": ChainType.LIGHT,
    "vl": ChainType.LIGHT,
    "kappa": ChainType.LIGHT,
    "k": ChainType.LIGHT,
    "lambda": ChainType.LIGHT,
    "scfv": ChainType.SINGLE_CHAIN,
}
LOCI = {
    **dict.fromkeys(("heavy", "h", "hc", "vh"), Locus.IGH),
    **dict.fromkeys(("kappa", "k"), Locus.IGK),
    "lambda": Locus.IGL,
}
SUFFIX = re.compile(r"^(?P<base>.+?)[_\-](?P<label>H|L|HC|LC|VH|VL|K)$", re.IGNORECASE)
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w.\-]*)=(?P<value>\"[^\"]*\"|\S+)")


@dataclass
class FastaEntry:
    identifier: str
    description: str
    line: int
    residues: list[str] = field(default_factory=list)


def open_text(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def read_entries(stream: IO[bytes], source: str) -> Iterator[FastaEntry | Rejection]:
    """FASTA entries one at a time; a broken stretch of input becomes a Rejection and reading goes on."""
    entry: FastaEntry | None = None
    line_number = 0
    try:
        for line_number, raw in enumerate(_lines(stream), start=1):
            if isinstance(raw, Rejection):
                yield _located(raw, source, line_number)
                continue
            line = raw.rstrip("\r\n")
            if line_number == 1:
                line = line.lstrip("\ufeff")
            if line.startswith(">"):
                if entry is not None:
                    yield entry
                identifier, _, description = line[1:].strip().partition(" ")
                entry = FastaEntry(identifier.strip(), description.strip(), line_number)
                if not entry.identifier:
                    yield Rejection(source, f"line {line_number}", None, "parse", "header has no id after '>'")
                    entry = None
            elif line.strip():
                if entry is None:
                    yield Rejection(source, f"line {line_number}", None, "parse", "sequence line before any '>' header")
                    continue
                entry.residues.append("".join(line.split()))
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        yield Rejection(
            source,
            f"line {line_number + 1}",
            None,
            "read",
            f"the gzip stream is truncated or corrupt ({error}); the record being read and any after it are missing",
        )
        entry = None  # incomplete: never load a half-read sequence
    if entry is not None:
        yield entry


def _lines(stream: IO[bytes]) -> Iterator[str | Rejection]:
    while True:
        raw = stream.readline(MAX_LINE_LENGTH + 2)
        if not raw:
            return
        if len(raw) > MAX_LINE_LENGTH and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the over-long line
                raw = stream.readline(MAX_LINE_LENGTH)
            yield Rejection("", "", None, "parse", f"line longer than {MAX_LINE_LENGTH:,} characters")
            continue
        if b"\x00" in raw:
            yield Rejection("", "", None, "parse", "NUL byte: this looks like a binary file, not FASTA")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield Rejection("", "", None, "parse", f"invalid UTF-8 at byte {error.start + 1} of the line")
            continue
        if "\r" in text.rstrip("\r\n"):  # old Mac line endings: CR alone ends a line
            yield from text.replace("\r\n", "\n").split("\r")
        else:
            yield text


def _located(rejection: Rejection, source: str, line: int) -> Rejection:
    return Rejection(source, f"line {line}", rejection.record_name, rejection.stage, rejection.reason)


def split_identifier(identifier: str) -> tuple[str, str | None]:
    """(antibody name, chain label): ``mAb1|heavy`` and ``mAb1_H`` pair; a database id such as
    ``sp|P01857|IGHG1_HUMAN`` (three or more parts, the second not a chain label) is a name of its own."""
    if "|" in identifier:
        parts = identifier.split("|")
        if len(parts) == 2 or parts[1].strip().lower() in LABELS:
            return parts[0], parts[1].strip() or None
        return identifier, None
    match = SUFFIX.match(identifier)
    if match:
        return match.group("base"), match.group("label")
    return identifier, None


def chain_type_of(label: str | None) -> ChainType:
    return LABELS.get((label or "").lower(), ChainType.UNKNOWN)


def locus_of(label: str | None) -> Locus | None:
    return LOCI.get((label or "").lower())


def header_metadata(description: str) -> tuple[str | None, dict[str, str]]:
    """``key=value`` pairs go to metadata; the remaining words are the description."""
    metadata = {m.group("key"): m.group("value").strip('"') for m in KEY_VALUE.finditer(description)}
    rest = " ".join(KEY_VALUE.sub(" ", description).split())
    return (rest or None), metadata


def read_antibodies(
    path: Path, *, allow_x: bool = False, min_length: int = 20, display_name: str | None = None
) -> Iterator[AntibodyRecord | Rejection]:
    """Whole antibodies from a FASTA file, consecutive records with one base name forming one antibody."""
    with open_text(path) as stream:
        yield from antibodies_from_stream(stream, display_name or str(path), allow_x=allow_x, min_length=min_length)


def antibodies_from_stream(
    stream: IO[bytes], source: str, *, allow_x: bool = False, min_length: int = 20
) -> Iterator[AntibodyRecord | Rejection]:
    seen: set[str] = set()
    group: list[FastaEntry] = []
    anything = False
    for item in read_entries(stream, source):
        anything = True
        if isinstance(item, Rejection):
            if item.stage == "read" and group:
                # The stream broke inside this antibody: part of it is missing, so none of it loads.
                name = split_identifier(group[0].identifier)[0]
                yield Rejection(
                    source,
                    f"line {group[0].line}",
                    name,
                    "read",
                    "the file ends inside this antibody; none of it was loaded",
                )
                group = []
            yield item
            continue
        if group and split_identifier(item.identifier)[0] != split_identifier(group[0].identifier)[0]:
            yield _antibody(group, source, seen, allow_x, min_length)
            group = []
        group.append(item)
    if group:
        yield _antibody(group, source, seen, allow_x, min_length)
    if not anything:
        yield Rejection(source, "line 1", None, "parse", "the file holds no FASTA records (it is empty or blank)")


def _antibody(
    group: list[FastaEntry], source: str, seen: set[str], allow_x: bool, min_length: int
) -> AntibodyRecord | Rejection:
    name = split_identifier(group[0].identifier)[0]
    location = f"line {group[0].line}"
    if name in seen:
        return Rejection(
            source,
            location,
            name,
            "validate",
            f"the name {name!r} appears again in this file (first use wins; rename one)",
        )
    seen.add(name)
    try:
        name = validate_name(name, "name")
        description, metadata = header_metadata(group[0].description)
        check_storable(description, "the description")
        check_storable(metadata, "the header's key=value metadata")
    except RecordError as error:
        return Rejection(source, location, name, "validate", str(error))
    chains = []
    labels: set[str] = set()
    for entry in group:
        _, label = split_identifier(entry.identifier)
        chain_name = label or "chain"
        if len(chain_name) > MAX_CHAIN_NAME_LENGTH:
            return Rejection(
                source, f"line {entry.line}", name, "validate", f"chain label longer than {MAX_CHAIN_NAME_LENGTH}"
            )
        if label is None and len(group) > 1:
            return Rejection(
                source,
                f"line {entry.line}",
                name,
                "validate",
                f"the name {name!r} appears twice in a row in this file; rename one",
            )
        if chain_name in labels:
            return Rejection(
                source, f"line {entry.line}", name, "validate", f"chain {chain_name!r} appears twice for {name!r}"
            )
        labels.add(chain_name)
        try:
            # a trailing "*" is the stop codon of a translated sequence, not a residue
            residues = validate_residues(
                "".join(entry.residues).removesuffix("*"), allow_x=allow_x, min_length=min_length
            )
        except RecordError as error:
            return Rejection(source, f"line {entry.line}", name, "validate", f"chain {chain_name!r}: {error}")
        chains.append(ChainRecord(chain_name, chain_type_of(label), residues, locus_of(label)))
    return AntibodyRecord(name, tuple(chains), source, location, description, metadata)
