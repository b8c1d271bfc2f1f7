"""Streaming FASTA: lines, headers and entries, and the rules that read a chain label out of an id.

Headers: the id ends at the first white space of any kind (space or tab); the rest is the description,
whose ``key=value`` pairs go to metadata. RCSB/SAbDab headers (``>6ULE_H|Chains H|heavy chain|Homo
sapiens``) have spaces inside their bar-separated fields: there the id is the first field and the other
fields are the description.

Ids: ``NAME|LABEL`` (``>mAb1|heavy``, more bar fields after the label are kept in the chain's metadata) or
``NAME_H``-style suffixes name a chain of antibody NAME. Any other id (``>lcl|Query_1``, ``>donor1|seq000``,
``>sp|P01857|IGHG1_HUMAN``) is a name of its own: an antibody of one chain. Which records form one antibody
is decided in ``abdb.io.pairing``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from abdb.domain.records import Rejection
from abdb.domain.vocabulary import ChainType, Locus

MAX_LINE_LENGTH = 1_000_000
GZIP_MAGIC = b"\x1f\x8b"
FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas")

LABELS = {
    **dict.fromkeys(("heavy", "h", "hc", "vh", "vhh"), ChainType.HEAVY),
    **dict.fromkeys(("light", "l", "lc", "vl", "vk", "kappa", "k", "lambda"), ChainType.LIGHT),
    "scfv": ChainType.SINGLE_CHAIN,
}
LOCI = {
    **dict.fromkeys(("heavy", "h", "hc", "vh", "vhh"), Locus.IGH),
    **dict.fromkeys(("kappa", "k", "vk"), Locus.IGK),
    "lambda": Locus.IGL,
}
# A label may carry a number, for the second pair of a bispecific: heavy2, light_2, H1, L2.
LABEL = re.compile(r"^(?P<base>[a-z]+?)(?:[_\-]?\d{1,2})?$", re.IGNORECASE)
SUFFIX = re.compile(r"^(?P<base>.+?)[_\-](?P<label>H|L|HC|LC|VH|VL|K)$", re.IGNORECASE)
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w.\-]*)=(?P<value>\"[^\"]*\"|\S+)")
RCSB_CHAINS = re.compile(r"^[^|\s]+\|Chains? ", re.IGNORECASE)


@dataclass
class FastaEntry:
    identifier: str
    description: str
    source: str
    line: int
    residues: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"line {self.line}"


def open_text(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(the stream to read, the raw file under it): the raw file's position tells how far reading got."""
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def parse_header(line: str) -> tuple[str, str]:
    """(id, description) of a header line without its '>'."""
    text = line.strip()
    if RCSB_CHAINS.match(text):
        identifier, _, rest = text.partition("|")
        return identifier, rest.strip()
    parts = text.split(maxsplit=1)
    return (parts[0] if parts else ""), (parts[1].strip() if len(parts) > 1 else "")


def read_entries(stream: IO[bytes], source: str) -> Iterator[FastaEntry | Rejection]:
    """FASTA entries one at a time; a broken stretch of input becomes a Rejection and reading goes on.

    A truncated gzip stream ends with a Rejection of stage "read"; the entry being read is dropped."""
    entry: FastaEntry | None = None
    line_number = 0
    try:
        for line_number, raw in enumerate(_lines(stream), start=1):
            if isinstance(raw, Rejection):
                yield Rejection(source, f"line {line_number}", raw.record_name, raw.stage, raw.reason)
                continue
            line = raw.rstrip("\r\n")
            if line_number == 1:
                line = line.lstrip("\ufeff")
            if line.startswith(">"):
                if entry is not None:
                    yield entry
                identifier, description = parse_header(line[1:])
                entry = FastaEntry(identifier, description, source, line_number)
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


def is_label(text: str) -> bool:
    match = LABEL.match(text.strip())
    return bool(match) and match.group("base").lower() in LABELS  # type: ignore[union-attr]


def split_identifier(identifier: str) -> tuple[str, str | None]:
    """(antibody name, chain label): ``mAb1|heavy`` and ``mAb1_H`` name a chain of ``mAb1``; any other id
    is the name of an antibody of its own (label None)."""
    if "|" in identifier:
        parts = identifier.split("|")
        if is_label(parts[1]):
            return parts[0], parts[1].strip()
        return identifier, None
    match = SUFFIX.match(identifier)
    if match:
        return match.group("base"), match.group("label")
    return identifier, None


def extra_id_fields(identifier: str) -> list[str]:
    """Bar fields after the label (``abc|heavy|IGHV3-66`` → ``["IGHV3-66"]``), kept in the chain's metadata."""
    parts = identifier.split("|")
    return [part for part in parts[2:] if part] if len(parts) > 2 and is_label(parts[1]) else []


def chain_type_of(label: str | None) -> ChainType:
    match = LABEL.match((label or "").strip())
    return LABELS.get(match.group("base").lower(), ChainType.UNKNOWN) if match else ChainType.UNKNOWN


def locus_of(label: str | None) -> Locus | None:
    match = LABEL.match((label or "").strip())
    return LOCI.get(match.group("base").lower()) if match else None


def header_metadata(description: str) -> tuple[str | None, dict[str, str]]:
    """``key=value`` pairs go to metadata; the remaining words are the description."""
    metadata = {m.group("key"): m.group("value").strip('"') for m in KEY_VALUE.finditer(description)}
    rest = " ".join(KEY_VALUE.sub(" ", description).split())
    return (rest or None), metadata
