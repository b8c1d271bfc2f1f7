"""The files an import reads: folders expanded, streams copied, outputs kept apart from inputs.

Standard input (``-``) and paths that are not regular files (``<(…)`` process substitution, ``/dev/stdin``,
named pipes) can be read only once, but an import reads each input twice (its sha256 first, for
provenance, then its records): they are copied, streamed, into a private temporary folder (mode 0700,
removed afterwards whatever happens) and shown under the name the user gave.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from abdb.errors import ConfigurationError, InputError

STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class FileStarted:
    """Reading moved on to this file (``name`` is how reports show it)."""

    path: Path
    name: str


@dataclass(frozen=True)
class FileNote:
    """What a reader learnt of the file it reads: its own metadata (an OAS unit's first line), rows it left
    out because a filter asked so."""

    metadata: dict[str, Any] | None = None
    filtered: int = 0


class ReadPosition:
    """How many bytes of the input have been read: finished files plus the current file's position."""

    def __init__(self) -> None:
        self.finished = 0
        self._current: IO[bytes] | None = None

    def follow(self, raw: IO[bytes] | None) -> None:
        self._current = raw

    @property
    def bytes_read(self) -> int:
        try:
            return self.finished + (self._current.tell() if self._current is not None else 0)
        except (OSError, ValueError):
            return self.finished


@dataclass
class InputFiles:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path to read, name shown in reports)
    skipped: list[Path] = field(default_factory=list)  # files in folders whose suffix is not the format's
    hidden: int = 0  # hidden files and folders inside folders, never read

    @property
    def total_bytes(self) -> int:
        return sum(_size(path) for path, _ in self.files)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _matches(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(suffixes)


def _is_stream(path: Path) -> bool:
    """Pipes, character devices and the like: they exist but cannot be read twice."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _folder_files(folder: Path, suffixes: tuple[str, ...], found: InputFiles) -> None:
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            found.hidden += 1
        elif _matches(path, suffixes):
            found.files.append((path, str(path)))
        else:
            found.skipped.append(path)


@contextmanager
def gathered_inputs(
    paths: Iterable[Path], suffixes: tuple[str, ...], stdin: IO[bytes] | None = None
) -> Iterator[InputFiles]:
    """Files as given (whatever their suffix), folders searched recursively for the suffixes (optionally
    .gz; hidden ones skipped), ``-`` and streams copied to a private temporary folder removed at the end."""
    paths = list(paths)
    found = InputFiles()
    spool: Path | None = None
    try:
        for path in paths:
            if str(path) == STDIN or _is_stream(path):
                if spool is None:
                    spool = Path(tempfile.mkdtemp(prefix="abdb-input-"))  # 0700, ours alone
                source = (stdin or sys.stdin.buffer) if str(path) == STDIN else None
                copy = spool / f"{len(found.files)}{suffixes[0]}"
                _copy_stream(path, source, copy)
                found.files.append((copy, STDIN_NAME if str(path) == STDIN else str(path)))
            elif path.is_dir():
                _folder_files(path, suffixes, found)
            elif path.is_file():
                found.files.append((path, str(path)))
            else:
                raise InputError(f"{path}: no such file or folder")
        if not found.files:
            listed = f" ({len(found.skipped)} other file(s) skipped, e.g. {found.skipped[0]})" if found.skipped else ""
            raise InputError(f"no {'/'.join(suffixes)} files found in {', '.join(map(str, paths))}{listed}")
        yield found
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)


def _copy_stream(path: Path, source: IO[bytes] | None, copy: Path) -> None:
    try:
        with copy.open("xb") as target:
            if source is not None:
                shutil.copyfileobj(source, target)  # streamed: a large input never sits in memory
            else:
                with path.open("rb") as stream:
                    shutil.copyfileobj(stream, target)
    except OSError as error:
        where = STDIN_NAME if source is not None else str(path)
        raise InputError(f"{where}: could not copy the input to {copy.parent}: {error.strerror}") from None


def refuse_outputs_among_inputs(paths: Iterable[Path], suffixes: tuple[str, ...], outputs: Mapping[str, Path]) -> None:
    """Exit 2 when an output file (``{"--errors": path}``) is one of the inputs, under any path: opening it
    for writing would empty the input before it is read."""
    inputs = [path for path in paths if str(path) != STDIN]
    for option, output in outputs.items():
        for given in inputs:
            if given.is_dir():
                if _is_inside(output, given) and _matches(output, suffixes):
                    raise ConfigurationError(
                        f"{option} {output}: it is inside the input folder {given} and would be read as input; "
                        "choose a file elsewhere"
                    )
            elif _same_file(output, given):
                raise ConfigurationError(
                    f"{option} {output}: that is the input file {given}; writing it would empty it before it "
                    "is read (choose another file)"
                )


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
