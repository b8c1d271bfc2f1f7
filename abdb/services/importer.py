"""Importing antibodies: stream records, validate, and load whole antibodies in batches with COPY.

Each batch is one transaction: an antibody's sequence, chains, domains, regions, features and annotation
job are written together or not at all, with the run's counters. Each batch takes one advisory transaction
lock (shared by all imports) before it compares its names with the database, so concurrent imports of the
same file create no duplicates. Re-importing unchanged content adds nothing; the same name with other
content is a conflict and is reported, not overwritten (unless ``replace`` is chosen).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

from abdb.config import Settings
from abdb.domain.records import AntibodyRecord, Rejection
from abdb.domain.vocabulary import JobStatus
from abdb.errors import AbdbError, ConfigurationError, InputError, Interrupted
from abdb.io.fasta import FASTA_SUFFIXES, read_antibodies
from abdb.io.legacy import JSON_SUFFIXES, read_legacy_antibodies
from abdb.services.import_batches import Item, load_batch
from abdb.services.import_reports import FileReport, ImportOptions, ImportReport
from abdb.services.import_rows import LOADED_TABLES, RowContext, prepare
from abdb.services.prefetch import prefetched
from abdb.unit_of_work import UnitOfWork

__all__ = [
    "FileReport",
    "ImportOptions",
    "ImportReport",
    "InputFormat",
    "import_fasta",
    "import_files",
    "import_legacy_json",
]
logger = logging.getLogger(__name__)
Reader = Callable[..., Iterator[AntibodyRecord | Rejection]]


class InputFormat(StrEnum):
    FASTA = "fasta"
    LEGACY_JSON = "legacy-json"


READERS: dict[InputFormat, tuple[Reader, tuple[str, ...]]] = {
    InputFormat.FASTA: (read_antibodies, FASTA_SUFFIXES),
    InputFormat.LEGACY_JSON: (read_legacy_antibodies, JSON_SUFFIXES),
}


def expand_paths(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files as given; folders searched recursively for the suffixes (optionally .gz)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.name.lower().removesuffix(".gz").endswith(suffixes)
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)  # hidden: skipped
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not found:
        raise InputError(f"no {'/'.join(suffixes)} files found in {', '.join(map(str, paths))}")
    return found


def import_fasta(
    settings: Settings, paths: Iterable[Path], options: ImportOptions, on_progress: Callable[[int], None] | None = None
) -> ImportReport:
    return import_files(settings, InputFormat.FASTA, paths, options, on_progress)


def import_legacy_json(
    settings: Settings, paths: Iterable[Path], options: ImportOptions, on_progress: Callable[[int], None] | None = None
) -> ImportReport:
    return import_files(settings, InputFormat.LEGACY_JSON, paths, options, on_progress)


def import_files(
    settings: Settings,
    input_format: InputFormat,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
    display_names: Mapping[Path, str] | None = None,
) -> ImportReport:
    """Import every file; the run is recorded in ``import_runs`` (except for a dry run).

    ``display_names`` names files in reports and provenance (``<stdin>`` for a temporary copy of stdin).
    """
    if options.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    reader, suffixes = READERS[input_format]
    files = expand_paths(paths, suffixes)
    report = ImportReport(dry_run=options.dry_run)
    started = time.perf_counter()
    creator_id = _creator(settings, options.created_by)
    if not options.dry_run:
        with UnitOfWork(settings) as uow:
            report.run_id = uow.import_runs.start(input_format.value, asdict(options), creator_id)
            uow.commit()
    try:
        _load_all(settings, reader, files, options, creator_id, report, on_progress, display_names or {})
        if not options.dry_run and report.total("inserted") + report.total("replaced"):
            with UnitOfWork(settings) as uow:
                uow.bulk.analyze(LOADED_TABLES)
                uow.commit()
    except KeyboardInterrupt:
        _finish_run(settings, report, JobStatus.CANCELLED, "interrupted (Ctrl-C)")
        raise Interrupted(_how_far(report), hint="run the same command again: what is stored is skipped") from None
    except BaseException as error:
        _finish_run(settings, report, JobStatus.FAILED, str(error) or type(error).__name__)
        raise
    report.seconds = time.perf_counter() - started
    stopped = f"stopped after {len(report.rejections)} rejections (--max-errors)" if report.stopped_early else None
    _finish_run(settings, report, JobStatus.FAILED if stopped else JobStatus.COMPLETED, stopped)
    return report


def _how_far(report: ImportReport) -> str:
    stored = report.total("inserted") + report.total("replaced")
    verb = "checked" if report.dry_run else "stored"
    return (
        f"interrupted after {len(report.files)} file(s): {stored} antibodies {verb}, "
        f"{report.total('unchanged')} unchanged, {report.total('rejected')} rejected; "
        "the batch in progress was rolled back"
    )


def _load_all(
    settings: Settings,
    reader: Reader,
    files: list[Path],
    options: ImportOptions,
    creator_id: str | None,
    report: ImportReport,
    on_progress: Callable[[int], None] | None,
    display_names: Mapping[Path, str],
) -> None:
    """Load every file's batches; a reader process parses one batch ahead, from file to file."""
    file_report: FileReport | None = None
    file_started = time.perf_counter()
    run_id = str(report.run_id) if report.run_id else None
    batches = _file_batches(reader, files, options, creator_id, run_id, display_names)
    for name, sha256, batch in prefetched(batches):
        if file_report is None or file_report.path != name:
            file_report = FileReport(name, sha256=sha256)
            report.files.append(file_report)
            file_started = time.perf_counter()
        if batch:
            load_batch(settings, batch, options, file_report, report)
        file_report.seconds = time.perf_counter() - file_started
        if on_progress:
            on_progress(len(batch))
        if options.max_errors is not None and len(report.rejections) >= options.max_errors:
            report.stopped_early = True
            return


def _file_batches(
    reader: Reader,
    files: list[Path],
    options: ImportOptions,
    creator_id: str | None,
    run_id: str | None,
    display_names: Mapping[Path, str],
) -> Iterator[tuple[str, str, list[Item]]]:
    """(file name, its sha256, a batch) for every batch of every file; an empty batch announces each file.

    Runs in the reader process: records are parsed, validated and turned into COPY text here.
    """
    for path in files:
        name = display_names.get(path, str(path))
        try:
            sha256 = _sha256(path)
        except OSError as error:
            yield name, "", []
            yield name, "", [Rejection(name, "file", None, "read", f"cannot read the file: {error.strerror}")]
            continue
        yield name, sha256, []
        context = RowContext(options.public, creator_id, run_id, sha256)
        records = reader(path, allow_x=options.allow_x, min_length=options.min_length, display_name=name)
        prepared = (item if isinstance(item, Rejection) else prepare(item, context) for item in records)
        for batch in _batches(prepared, options.batch_size):
            yield name, sha256, batch


def _finish_run(settings: Settings, report: ImportReport, status: JobStatus, message: str | None) -> None:
    if report.run_id is None:
        return
    try:
        with UnitOfWork(settings) as uow:
            uow.import_runs.finish(report.run_id, status, report.files_as_dicts(), message)
            uow.commit()
    except AbdbError:  # the database went away: the run stays RUNNING, which `abdb verify` reports
        logger.debug("could not record the end of import run %s", report.run_id, exc_info=True)


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _creator(settings: Settings, email: str | None) -> str | None:
    if email is None:
        return None
    with UnitOfWork(settings) as uow:
        user = uow.users.find_by_email(email)
        if user is None:
            raise ConfigurationError(f"--created-by {email}: no user with that email")
        return str(user.id)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
