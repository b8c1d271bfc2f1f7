"""Which FASTA records form one antibody: chains are paired by name across the whole input.

A record whose id names a chain (``mAb1|heavy``, ``mAb1_L``) joins the other chains of ``mAb1`` wherever
they are: next to it, further down the file, or in another file of the same command (heavy chains in one
file, light chains in another). Consecutive records of one name always stay together. When the name
changes, an antibody that has both a heavy and a light chain (or an scFv) is complete and goes out at once;
one that lacks a partner waits in a buffer until its partner arrives or the input ends. Records with ids
that name no chain are antibodies of one chain and go out at once.

Memory: the buffer holds at most ``max_unpaired`` chains (default 50,000, about 50 MB of typical chains).
When it is full, the longest-waiting antibody goes out as it is; a partner that arrives later is rejected
with that reason (re-import the pair with ``--replace`` from a file that keeps pairs closer together).
A file of VHHs (heavy chains only) therefore streams with a delay of ``max_unpaired`` records.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from abdb.domain.records import (
    DEFAULT_MIN_LENGTH,
    MAX_CHAIN_NAME_LENGTH,
    AntibodyRecord,
    ChainRecord,
    Pairing,
    RecordError,
    Rejection,
    check_storable,
    validate_name,
    validate_residues,
)
from abdb.domain.translation import TranslationError, looks_like_nucleotides, nucleotide_share, translate
from abdb.domain.vocabulary import ChainType
from abdb.io.fasta import (
    FastaEntry,
    chain_type_of,
    extra_id_fields,
    header_metadata,
    locus_of,
    open_text,
    read_entries,
    split_identifier,
)
from abdb.io.inputs import FileStarted, ReadPosition

DEFAULT_MAX_UNPAIRED = 50_000


@dataclass(frozen=True)
class FastaOptions:
    allow_x: bool = False
    min_length: int = DEFAULT_MIN_LENGTH
    translate: bool = False
    max_unpaired: int = DEFAULT_MAX_UNPAIRED


@dataclass
class _Group:
    name: str
    entries: list[FastaEntry] = field(default_factory=list)
    apart: bool = False  # a record joined it after records of other names

    @property
    def complete(self) -> bool:
        types = {chain_type_of(split_identifier(e.identifier)[1]) for e in self.entries}
        return ChainType.SINGLE_CHAIN in types or {ChainType.HEAVY, ChainType.LIGHT} <= types


class ChainPairer:
    """Feed it entries in input order; it hands out whole antibodies (or rejections) when they are ready."""

    def __init__(self, options: FastaOptions) -> None:
        self.options = options
        self.waiting: OrderedDict[str, _Group] = OrderedDict()
        self.waiting_chains = 0
        self.current: _Group | None = None
        self.done: dict[str, str] = {}  # name of every antibody sent out -> the file of its first chain
        self.sent_alone: set[str] = set()  # went out unpaired because the buffer was full

    def add(self, entry: FastaEntry) -> Iterator[AntibodyRecord | Rejection]:
        name, label = split_identifier(entry.identifier)
        if self.current is not None and (self.current.name != name or label is None):
            yield from self._leave_current()
        if label is None:
            yield (
                self._again(entry, name)
                if name in self.done or name in self.waiting
                else self._build(_Group(name, [entry]))
            )
            return
        group = self.current or self.waiting.get(name)
        if name in self.done or (group is not None and any(label == _label(e) for e in group.entries)):
            yield self._again(entry, name)  # first use wins
            return
        if self.current is None:
            resumed = self.waiting.pop(name, None)
            if resumed is not None:
                self.waiting_chains -= len(resumed.entries)
                resumed.apart = True
            self.current = resumed or _Group(name)
        self.current.entries.append(entry)

    def break_off(self, reason: Rejection) -> Iterator[Rejection]:
        """The stream broke inside the current antibody: part of it is missing, so none of it loads."""
        if self.current is not None:
            first = self.current.entries[0]
            yield Rejection(
                first.source,
                first.location,
                self.current.name,
                "read",
                "the file ends inside this antibody; none of it was loaded",
            )
            self.done[self.current.name] = self.current.entries[0].source
            self.current = None
        yield reason

    def end_of_file(self) -> Iterator[AntibodyRecord | Rejection]:
        """A file ended: its last antibody goes out if complete, or waits for its partner in the next files."""
        yield from self._leave_current()

    def finish(self) -> Iterator[AntibodyRecord | Rejection]:
        """The input has ended: every antibody goes out, with or without its partner."""
        yield from self._leave_current()
        while self.waiting:
            _, group = self.waiting.popitem(last=False)
            yield self._build(group)
        self.waiting_chains = 0

    def _leave_current(self) -> Iterator[AntibodyRecord | Rejection]:
        group, self.current = self.current, None
        if group is None:
            return
        if group.complete:
            yield self._build(group)
            return
        self.waiting[group.name] = group
        self.waiting_chains += len(group.entries)
        while self.waiting_chains > self.options.max_unpaired and self.waiting:
            _, oldest = self.waiting.popitem(last=False)
            self.waiting_chains -= len(oldest.entries)
            self.sent_alone.add(oldest.name)
            yield self._build(oldest)

    def sources_of(self, name: str) -> set[str]:
        group = self.current if self.current is not None and self.current.name == name else self.waiting.get(name)
        return {e.source for e in group.entries} if group else {self.done[name]} if name in self.done else set()

    def _again(self, entry: FastaEntry, name: str) -> Rejection:
        if name in self.sent_alone:
            reason = (
                f"its partner chain(s) of {name!r} came more than {self.options.max_unpaired:,} chains earlier and "
                "were loaded alone; keep pairs closer together, or re-import them with --replace"
            )
        else:
            where = "this file" if entry.source in self.sources_of(name) else "another file of this import"
            reason = f"the name {name!r} appears again in {where} (first use wins; rename one)"
        return Rejection(entry.source, entry.location, name, "validate", reason)

    def _build(self, group: _Group) -> AntibodyRecord | Rejection:
        self.done[group.name] = group.entries[0].source
        try:
            return _antibody(group, self.options)
        except _Rejected as rejected:
            return rejected.rejection


class _Rejected(Exception):
    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection


def _label(entry: FastaEntry) -> str | None:
    return split_identifier(entry.identifier)[1]


def _rejected(entry: FastaEntry, antibody: str, reason: str) -> _Rejected:
    return _Rejected(Rejection(entry.source, entry.location, antibody, "validate", reason))


def _antibody(group: _Group, options: FastaOptions) -> AntibodyRecord:
    """The antibody's description and metadata are its first record's header (as read); each labelled
    chain also keeps its own header's description, ``key=value`` pairs and extra id fields."""
    first = group.entries[0]
    try:
        name = validate_name(group.name, "name")
        description, metadata = header_metadata(first.description)
        check_storable(description, "the description")
        check_storable(metadata, "the header's key=value metadata")
    except RecordError as error:
        raise _rejected(first, group.name, str(error)) from None
    chains = []
    seen_labels: set[str] = set()
    for entry in group.entries:
        label = split_identifier(entry.identifier)[1]
        chain_name = label or "chain"
        if len(chain_name) > MAX_CHAIN_NAME_LENGTH:
            raise _rejected(entry, name, f"chain label longer than {MAX_CHAIN_NAME_LENGTH}")
        if chain_name in seen_labels:
            raise _rejected(entry, name, f"chain {chain_name!r} appears twice for {name!r}")
        seen_labels.add(chain_name)
        chains.append(_chain(entry, name, label, first.source, options))
    sources = {entry.source for entry in group.entries}
    pairing = Pairing.ACROSS_FILES if len(sources) > 1 else Pairing.APART if group.apart else Pairing.AS_READ
    return AntibodyRecord(name, tuple(chains), first.source, first.location, description, metadata, (), pairing)


def _chain(
    entry: FastaEntry, antibody: str, label: str | None, antibody_source: str, options: FastaOptions
) -> ChainRecord:
    chain_name = label or "chain"
    # alignment gaps (IMGT-gapped or aligned FASTA) are not residues; a trailing "*" is a translation's stop
    raw = "".join(entry.residues).replace("-", "").replace(".", "").removesuffix("*")
    metadata: dict[str, object] = {}
    try:
        if looks_like_nucleotides(raw):
            if not options.translate:
                raise RecordError(
                    f"looks like nucleotides ({nucleotide_share(raw):.0%} A/C/G/T/U/N), not protein; use "
                    "--translate to translate it in its open reading frame"
                )
            translation = translate(raw)
            raw = translation.protein
            metadata["translation"] = {"frame": translation.frame, "nucleotides": translation.nucleotides}
        residues = validate_residues(raw, allow_x=options.allow_x, min_length=options.min_length)
        if label is None:  # the record is the whole antibody: its header is the antibody's
            return ChainRecord(chain_name, ChainType.UNKNOWN, residues, None, metadata=metadata)
        description, header_pairs = header_metadata(entry.description)
        metadata.update(header_pairs)
        if fields := extra_id_fields(entry.identifier):
            metadata["id_fields"] = fields
        if entry.source != antibody_source:
            metadata["import"] = {"file": entry.source, "record": entry.location}
        check_storable(description, "the description")
        check_storable(metadata, "the header's key=value metadata")
    except (RecordError, TranslationError) as error:
        raise _rejected(entry, antibody, f"chain {chain_name!r}: {error}") from None
    return ChainRecord(
        chain_name,
        chain_type_of(label),
        residues,
        locus_of(label),
        labelled=True,
        description=description,
        metadata=metadata,
    )


def read_fasta_files(
    files: Iterable[tuple[Path, str]], options: FastaOptions, position: ReadPosition | None = None
) -> Iterator[FileStarted | AntibodyRecord | Rejection]:
    """Antibodies from every file of one command, paired by name across all of them.

    ``files`` gives each path with the name reports show; ``position`` follows the bytes read."""
    pairer = ChainPairer(options)
    position = position or ReadPosition()
    for path, name in files:
        yield FileStarted(path, name)
        try:
            stream, raw = open_text(path)
        except OSError as error:
            yield Rejection(name, "file", None, "read", f"cannot read the file: {error.strerror}")
            continue
        anything = False
        with stream, raw:
            position.follow(raw)
            for item in read_entries(stream, name):
                anything = True
                if isinstance(item, Rejection):
                    yield from (pairer.break_off(item) if item.stage == "read" else [item])
                else:
                    yield from pairer.add(item)
            # an antibody complete at the end of a file belongs to it (and is counted with it)
            yield from pairer.end_of_file()
            position.finished += _size(path)
            position.follow(None)
        if not anything:
            yield Rejection(name, "line 1", None, "parse", "the file holds no FASTA records (it is empty or blank)")
    yield from pairer.finish()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_antibodies(
    path: Path,
    *,
    allow_x: bool = False,
    min_length: int = DEFAULT_MIN_LENGTH,
    display_name: str | None = None,
    translate: bool = False,
) -> Iterator[AntibodyRecord | Rejection]:
    """Whole antibodies from one FASTA file."""
    options = FastaOptions(allow_x=allow_x, min_length=min_length, translate=translate)
    for item in read_fasta_files([(path, display_name or str(path))], options):
        if not isinstance(item, FileStarted):
            yield item
