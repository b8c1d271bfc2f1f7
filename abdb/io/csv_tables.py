"""Curated antibody tables in (``abdb import csv``): a row per antibody, its chains in named columns.

Presets name the columns of the two public tables; ``--name-col``/``--heavy-col``… name them for any other.
A column is found by its name or, failing that, by a header that starts with it (Thera-SAbDab adds release
dates to some names: ``Highest_Clin_Trial (Jan '24)``), ignoring case. ``na``, ``n/a``, ``none``, ``null``
and empty cells are missing values: a VHH has no light chain, a bispecific a second heavy and light. Every
other column goes to the antibody's metadata (missing values left out). Chains are queued for annotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from abdb.domain.records import (
    AntibodyRecord,
    ChainRecord,
    RecordError,
    Rejection,
    check_storable,
    validate_name,
    validate_residues,
)
from abdb.domain.vocabulary import ChainType
from abdb.io.inputs import FileStarted, ReadPosition
from abdb.io.tables import Row, TableFile, each_table

CSV_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class Columns:
    name: str
    heavy: str
    light: str | None = None
    heavy2: str | None = None
    light2: str | None = None


PRESETS = {
    "thera-sabdab": Columns(
        "Therapeutic", "Heavy Sequence", "Light Sequence", "Heavy Sequence (if bispec)", "Light Sequence (if bispec)"
    ),
    "plabdab": Columns("ID", "heavy_sequence", "light_sequence"),
}
CHAINS = (
    ("heavy", ChainType.HEAVY),
    ("light", ChainType.LIGHT),
    ("heavy2", ChainType.HEAVY),
    ("light2", ChainType.LIGHT),
)


@dataclass(frozen=True)
class TableOptions:
    columns: Columns
    allow_x: bool = False
    min_length: int = 20


def find_column(header: list[str], wanted: str) -> str | None:
    """The header's column ``wanted``: the same name, else the one name that starts with it (any case)."""
    lowered = {column.lower(): column for column in header}
    if wanted.lower() in lowered:
        return lowered[wanted.lower()]
    starting = [column for column in header if column.lower().startswith(wanted.lower())]
    return starting[0] if len(starting) == 1 else None


def read_table_files(
    files: Iterable[tuple[Path, str]], options: TableOptions, position: ReadPosition | None = None
) -> Iterator[FileStarted | AntibodyRecord | Rejection]:
    yield from each_table(files, _delimiter, position or ReadPosition(), lambda table: _read_file(table, options))


def _delimiter(path: Path) -> str:
    return "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","


def _read_file(table: TableFile, options: TableOptions) -> Iterator[AntibodyRecord | Rejection]:
    name = table.source
    header = table.header_or_rejection("a header line")
    if isinstance(header, Rejection):
        yield header
        return
    found: dict[str, str | None] = {}
    for role in ("name", "heavy", "light", "heavy2", "light2"):
        column = getattr(options.columns, role)
        found[role] = find_column(header, column) if column else None
        if column and found[role] is None and role in ("name", "heavy"):
            shown = ", ".join(header[:10]) + ("…" if len(header) > 10 else "")
            yield Rejection(
                name,
                "line 1",
                None,
                "parse",
                f"no column {column!r} (--{role}-col, or the preset's) in the header: {shown}",
            )
            return
    used = {column for column in found.values() if column}
    for item in table.rows():
        yield item if isinstance(item, Rejection) else _record(item, name, found, used, options)


def _record(
    row: Row, source: str, found: dict[str, str | None], used: set[str], options: TableOptions
) -> AntibodyRecord | Rejection:
    name_column = found["name"]
    raw_name = row.text(name_column) if name_column else None
    try:
        if raw_name is None:
            raise RecordError(f"the name ({name_column}) is empty")
        name = validate_name(raw_name, "antibody name")
        chains = []
        for role, chain_type in CHAINS:
            column = found.get(role)
            value = row.text(column) if column else None
            if value is None:
                continue
            try:
                residues = validate_residues(
                    "".join(value.split()), allow_x=options.allow_x, min_length=options.min_length
                )
            except RecordError as error:
                raise RecordError(f"{column}: {error}") from None
            chains.append(ChainRecord(role, chain_type, residues))
        if not chains:
            raise RecordError("no chain: the sequence columns are empty")
        metadata = {key: value for key, value in row.values.items() if key not in used and row.text(key) is not None}
        metadata = {key: value.strip() for key, value in metadata.items() if value is not None}
        check_storable(metadata, "the other columns")
        return AntibodyRecord(name, tuple(chains), source, row.location, metadata=metadata)
    except RecordError as error:
        return Rejection(source, row.location, raw_name, "validate", str(error))


def table_columns(
    preset: str | None,
    name_col: str | None,
    heavy_col: str | None,
    light_col: str | None,
    heavy2_col: str | None,
    light2_col: str | None,
) -> Columns:
    """The preset's columns, with any column named on the command line instead."""
    if preset is not None and preset.lower() not in PRESETS:
        raise ValueError(f"--preset {preset}: choose {' or '.join(PRESETS)}, or name the columns")
    base = PRESETS[preset.lower()] if preset else None
    name = name_col or (base.name if base else None)
    heavy = heavy_col or (base.heavy if base else None)
    if name is None or heavy is None:
        raise ValueError("say which columns hold the names and chains: --preset, or --name-col and --heavy-col")
    return Columns(
        name,
        heavy,
        light_col or (base.light if base else None),
        heavy2_col or (base.heavy2 if base else None),
        light2_col or (base.light2 if base else None),
    )
