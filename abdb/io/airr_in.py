"""AIRR Rearrangement TSV in (``abdb import airr``): a row per chain; rows that share a ``cell_id`` are the
chains of one antibody named by the cell, rows without one are antibodies of one chain named by
``sequence_id``. How a row becomes a chain is in ``abdb.io.airr_chain``.

Rows of a cell may be anywhere in the input, across files too (heavy chains in one file, light in another):
open cells wait, at most ``MAX_OPEN_CELLS`` of them; past that the oldest is loaded as it is, and a later row
of that cell is rejected with the reason (sort such inputs by ``cell_id``). Every cell goes out when the
input ends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from abdb.domain.records import (
    MAX_CHAIN_NAME_LENGTH,
    AntibodyRecord,
    ChainRecord,
    FeatureRecord,
    Pairing,
    RecordError,
    Rejection,
    validate_name,
)
from abdb.io.airr_chain import MAPPED, ReadChain, chain_of, reindexed
from abdb.io.inputs import FileNote, FileStarted, ReadPosition
from abdb.io.tables import Row, TableFile, each_table

AIRR_SUFFIXES = (".tsv", ".airr", ".airr.tsv")
REQUIRED = (
    "sequence_id", "sequence", "rev_comp", "productive", "v_call", "d_call", "j_call", "sequence_alignment",
    "germline_alignment", "junction", "junction_aa", "v_cigar", "d_cigar", "j_cigar",
)  # fmt: skip
SEQUENCE_FIELDS = ("sequence_aa", "sequence_alignment_aa", "sequence_alignment", "sequence")
MAX_OPEN_CELLS = 50_000
SOURCE = "AIRR"


@dataclass(frozen=True)
class AirrOptions:
    allow_x: bool = False
    min_length: int = 20
    productive_only: bool = False
    max_open_cells: int = MAX_OPEN_CELLS


@dataclass
class _Cell:
    name: str
    source: str
    location: str
    chains: list[ReadChain] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    apart: bool = False


class CellPairer:
    def __init__(self, options: AirrOptions) -> None:
        self.options = options
        self.open: OrderedDict[str, _Cell] = OrderedDict()
        self.done: set[str] = set()
        self.sent_early: set[str] = set()
        self.last: str | None = None

    def add(self, cell_id: str, row: Row, source: str, chain: ReadChain) -> Iterator[AntibodyRecord | Rejection]:
        if cell_id in self.done:
            why = (
                f"the other rows of cell {cell_id!r} came more than {self.options.max_open_cells:,} cells earlier "
                "and were loaded without it; sort the input by cell_id"
                if cell_id in self.sent_early
                else f"cell {cell_id!r} was already loaded"
            )
            yield Rejection(source, row.location, cell_id, "validate", why)
            return
        cell = self.open.get(cell_id)
        if cell is None:
            cell = self.open[cell_id] = _Cell(cell_id, source, row.location)
        elif self.last != cell_id:
            cell.apart = True
        cell.chains.append(chain)
        cell.sources.add(source)
        self.last = cell_id
        while len(self.open) > self.options.max_open_cells:
            _, oldest = self.open.popitem(last=False)
            self.sent_early.add(oldest.name)
            yield self._build(oldest)

    def finish(self) -> Iterator[AntibodyRecord | Rejection]:
        while self.open:
            _, cell = self.open.popitem(last=False)
            yield self._build(cell)

    def _build(self, cell: _Cell) -> AntibodyRecord | Rejection:
        self.done.add(cell.name)
        try:
            return antibody_of(
                cell.name,
                cell.chains,
                cell.source,
                cell.location,
                {"cell_id": cell.name},
                pairing=(
                    Pairing.ACROSS_FILES if len(cell.sources) > 1 else Pairing.APART if cell.apart else Pairing.AS_READ
                ),
            )
        except RecordError as error:
            return Rejection(cell.source, cell.location, cell.name, "validate", str(error))


def antibody_of(
    name: str,
    chains: list[ReadChain],
    source: str,
    location: str,
    metadata: dict[str, object],
    pairing: Pairing = Pairing.AS_READ,
) -> AntibodyRecord:
    """Chains named by their locus (heavy, light, heavy2 …) into one antibody."""
    antibody = validate_name(name, "antibody name")
    named: list[ChainRecord] = []
    features: list[FeatureRecord] = []
    counts: dict[str, int] = {}
    for index, read in enumerate(chains):
        base = read.chain.name
        counts[base] = counts.get(base, 0) + 1
        chain_name = base if counts[base] == 1 else f"{base}{counts[base]}"
        if len(chain_name) > MAX_CHAIN_NAME_LENGTH:
            raise RecordError(f"chain name {chain_name[:40]!r}… is too long")
        c = read.chain
        named.append(
            ChainRecord(chain_name, c.chain_type, c.sequence, c.locus, c.domains, False, c.description, c.metadata)
        )
        features += reindexed(read.features, index)
    return AntibodyRecord(antibody, tuple(named), source, location, None, metadata, tuple(features), pairing)


def read_airr_files(
    files: Iterable[tuple[Path, str]], options: AirrOptions, position: ReadPosition | None = None
) -> Iterator[FileStarted | FileNote | AntibodyRecord | Rejection]:
    """Antibodies from every AIRR TSV file of one command, cells paired across all of them."""
    pairer = CellPairer(options)
    yield from each_table(files, lambda _: "\t", position or ReadPosition(), lambda t: _read_file(t, options, pairer))
    yield from pairer.finish()


def _read_file(
    table: TableFile, options: AirrOptions, pairer: CellPairer
) -> Iterator[AntibodyRecord | Rejection | FileNote]:
    name = table.source
    header = table.header_or_rejection("an AIRR TSV header")
    if isinstance(header, Rejection):
        yield header
        return
    if "sequence_id" not in header or not any(column in header for column in SEQUENCE_FIELDS):
        yield Rejection(
            name,
            "line 1",
            None,
            "parse",
            "not an AIRR Rearrangement TSV: the header needs sequence_id and one of "
            f"{', '.join(SEQUENCE_FIELDS)} (found: {', '.join(header[:8])}{'…' if len(header) > 8 else ''})",
        )
        return
    for item in table.rows():
        if isinstance(item, Rejection):
            yield item
        else:
            yield from _row(item, name, options, pairer)


def _row(
    row: Row, source: str, options: AirrOptions, pairer: CellPairer
) -> Iterator[AntibodyRecord | Rejection | FileNote]:
    sequence_id = row.text("sequence_id")
    if sequence_id is None:
        yield Rejection(source, row.location, None, "validate", "sequence_id is empty; every row needs one")
        return
    productive = (row.text("productive") or "").upper()
    if options.productive_only and productive not in ("T", "TRUE"):
        yield FileNote(filtered=1)  # left out, by request
        return
    extra = {key: value for key, value in row.values.items() if key not in MAPPED and value and value.strip()}
    try:
        chain = chain_of(row.text, extra, source=SOURCE, allow_x=options.allow_x, min_length=options.min_length)
    except RecordError as error:
        yield Rejection(source, row.location, sequence_id, "validate", str(error))
        return
    cell_id = row.text("cell_id")
    if cell_id is None:
        try:
            yield antibody_of(sequence_id, [chain], source, row.location, {})
        except RecordError as error:
            yield Rejection(source, row.location, sequence_id, "validate", str(error))
        return
    yield from pairer.add(cell_id, row, source, chain)
