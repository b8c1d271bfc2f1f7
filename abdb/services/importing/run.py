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
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from abdb.config import Settings
from abdb.database import Database, using
from abdb.db.connect import advisory_lock_held
from abdb.domain.records import AntibodyRecord, Rejection
from abdb.domain.vocabulary import JobStatus
from abdb.errors import AbdbError, CommitOutcomeUnknown, ConfigurationError, DatabaseUnreachable, Interrupted
from abdb.io import inputs
from abdb.io.abdb_json import JSONL_SUFFIXES, read_abdb_json
from abdb.io.airr_in import AIRR_SUFFIXES, AirrOptions, read_airr_files
from abdb.io.csv_tables import CSV_SUFFIXES, PRESETS, Columns, TableOptions, read_table_files
from abdb.io.csv_tables import table_columns as _table_columns
from abdb.io.fasta import FASTA_SUFFIXES
from abdb.io.inputs import FileNote, FileStarted, ReadPosition
from abdb.io.legacy import JSON_SUFFIXES, read_legacy_antibodies
from abdb.io.oas import OAS_SUFFIXES, OasOptions, read_oas_files
from abdb.io.pairing import FastaOptions, read_fasta_files
from abdb.io.prefetch import prefetched
from abdb.repositories.import_runs import run_lock_key
from abdb.services.clock import align_ids_with_server
from abdb.services.importing.batch import Item, load_batch
from abdb.services.importing.report import FileReport, ImportOptions, ImportReport
from abdb.services.importing.rows import LOADED_TABLES, RowContext, prepare
from abdb.services.stopping import describe, signal_of
from abdb.unit_of_work import analyze_tables

__all__ = [
    "PRESETS",
    "FileReport",
    "ImportOptions",
    "ImportProgress",
    "ImportReport",
    "InputFormat",
    "import_fasta",
    "import_files",
    "import_legacy_json",
]
logger = logging.getLogger(__name__)
Event = FileStarted | FileNote | AntibodyRecord | Rejection
Reader = Callable[[list[tuple[Path, str]], ImportOptions, ReadPosition], Iterator[Event]]


class InputFormat(StrEnum):
    FASTA = "fasta"
    LEGACY_JSON = "legacy-json"
    JSON = "json"  # abdb's own JSON Lines, from `abdb export json`
    AIRR = "airr"  # AIRR Rearrangement TSV
    OAS = "oas"  # Observed Antibody Space data units
    CSV = "csv"  # tables of a row per antibody (Thera-SAbDab, PLAbDab, others)


@dataclass(frozen=True)
class ImportProgress:
    records: int  # records (antibodies and rejections) just handled
    bytes_read: int
    bytes_total: int


def _read_fasta(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    fasta = FastaOptions(allow_x=options.allow_x, min_length=options.min_length, translate=options.translate)
    return read_fasta_files(files, fasta, position)


def _read_legacy(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    for path, name in files:
        yield FileStarted(path, name)
        yield from read_legacy_antibodies(
            path, allow_x=options.allow_x, min_length=options.min_length, display_name=name
        )
        position.finished += path.stat().st_size if path.exists() else 0


def _read_abdb_json(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    for path, name in files:
        yield FileStarted(path, name)
        yield from read_abdb_json(path, name, position)
        position.finished += path.stat().st_size if path.exists() else 0


def _read_airr(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    airr = AirrOptions(allow_x=options.allow_x, min_length=options.min_length, productive_only=options.productive_only)
    return read_airr_files(files, airr, position)


def _read_oas(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    oas = OasOptions(
        allow_x=options.allow_x,
        min_length=options.min_length,
        species=options.species,
        productive_only=options.productive_only,
        min_redundancy=options.min_redundancy,
    )
    return read_oas_files(files, oas, position)


def _read_csv(files: list[tuple[Path, str]], options: ImportOptions, position: ReadPosition) -> Iterator[Event]:
    if options.columns is None:
        raise ConfigurationError(
            "say which columns hold the name and the chains: --preset, or --name-col and --heavy-col"
        )
    table = TableOptions(options.columns, allow_x=options.allow_x, min_length=options.min_length)
    return read_table_files(files, table, position)


READERS: dict[InputFormat, tuple[Reader, tuple[str, ...]]] = {
    InputFormat.FASTA: (_read_fasta, FASTA_SUFFIXES),
    InputFormat.LEGACY_JSON: (_read_legacy, JSON_SUFFIXES),
    InputFormat.JSON: (_read_abdb_json, JSONL_SUFFIXES),
    InputFormat.AIRR: (_read_airr, AIRR_SUFFIXES),
    InputFormat.OAS: (_read_oas, OAS_SUFFIXES),
    InputFormat.CSV: (_read_csv, CSV_SUFFIXES),
}


def table_columns(
    preset: str | None,
    name: str | None,
    heavy: str | None,
    light: str | None = None,
    heavy2: str | None = None,
    light2: str | None = None,
) -> Columns:
    """The columns `abdb import csv` reads: a preset's (of PRESETS), with any column named instead; exit 2
    when neither names the name and heavy chain columns."""
    try:
        return _table_columns(preset, name, heavy, light, heavy2, light2)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def refuse_outputs_among_inputs(input_format: InputFormat, paths: Iterable[Path], outputs: Mapping[str, Path]) -> None:
    """Exit 2 before anything is opened when an output file (``{"--errors": path}``) is also an input."""
    inputs.refuse_outputs_among_inputs(paths, READERS[input_format][1], outputs)


def import_fasta(
    database: Database | Settings,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    return import_files(database, InputFormat.FASTA, paths, options, on_progress)


def import_legacy_json(
    database: Database | Settings,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    return import_files(database, InputFormat.LEGACY_JSON, paths, options, on_progress)


def import_files(
    target: Database | Settings,
    input_format: InputFormat,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[ImportProgress], None] | None = None,
    stdin: IO[bytes] | None = None,
) -> ImportReport:
    """Import every file (``-`` is standard input, or ``stdin``); the run is recorded in ``import_runs``
    (except for a dry run). ``target`` is the Database to load into, or Settings to resolve one from."""
    if options.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    if options.max_errors is not None and options.max_errors < 1:
        raise ConfigurationError("--max-errors must be at least 1 (leave it out to never stop early)")
    if input_format is InputFormat.CSV and options.columns is None:
        raise ConfigurationError(
            "say which columns hold the name and the chains: --preset, or --name-col and --heavy-col"
        )
    with using(target) as database:  # the backend is decided once, not per batch
        return _import(database, input_format, paths, options, on_progress, stdin)


def _import(
    database: Database,
    input_format: InputFormat,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[ImportProgress], None] | None,
    stdin: IO[bytes] | None,
) -> ImportReport:
    reader, suffixes = READERS[input_format]
    database.require_head("an import")
    skew = align_ids_with_server(database)
    with inputs.gathered_inputs(paths, suffixes, stdin) as found:
        report = ImportReport(dry_run=options.dry_run, skipped_files=[str(p) for p in found.skipped])
        report.hidden_files = found.hidden
        report.clock_skew_seconds = skew
        started = time.perf_counter()
        creator_id = _creator(database, options.created_by)
        if not options.dry_run:
            with database.unit_of_work() as uow:
                report.run_id = uow.import_runs.start(input_format.value, asdict(options), creator_id)
                uow.commit()
        alive = advisory_lock_held(database.url, run_lock_key(report.run_id)) if report.run_id else nullcontext()
        try:
            with alive:  # `abdb import runs --close-stale` tells a live run from a dead one by this lock
                _load_all(database, reader, found, options, creator_id, report, on_progress)
                if not options.dry_run and report.total("inserted") + report.total("replaced"):
                    analyze_tables(database, LOADED_TABLES)
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM
            number = signal_of(stop)
            _finish_run(database, report, JobStatus.CANCELLED, f"interrupted ({describe(number)})")
            raise Interrupted(
                f"interrupted {_how_far(report)}",
                hint="run the same command again: what is stored is skipped",
                signal_number=number,
            ) from None
        except (DatabaseUnreachable, CommitOutcomeUnknown) as error:  # the server stopped (a PANIC on a full
            # disk, say) or the connection went: say how far the import got, as for Ctrl-C
            _finish_run(database, report, JobStatus.FAILED, error.message)
            raise type(error)(f"{error.message}; the import stopped {_how_far(report)}", hint=error.hint) from None
        except BaseException as error:
            _finish_run(database, report, JobStatus.FAILED, str(error) or type(error).__name__)
            raise
    report.seconds = time.perf_counter() - started
    stopped = f"stopped after {len(report.rejections)} rejections (--max-errors)" if report.stopped_early else None
    _finish_run(database, report, JobStatus.FAILED if stopped else JobStatus.COMPLETED, stopped)
    return report


def _how_far(report: ImportReport) -> str:
    stored = report.total("inserted") + report.total("replaced")
    verb = "checked" if report.dry_run else "stored"
    return (
        f"after {len(report.files)} file(s): {stored} antibodies {verb}, "
        f"{report.total('unchanged')} unchanged, {report.total('rejected')} rejected; "
        "the batch in progress was rolled back"
    )


def _load_all(
    database: Database,
    reader: Reader,
    found: inputs.InputFiles,
    options: ImportOptions,
    creator_id: str | None,
    report: ImportReport,
    on_progress: Callable[[ImportProgress], None] | None,
) -> None:
    """Load every batch; a reader process parses one batch ahead, from file to file."""
    file_report: FileReport | None = None
    file_started = time.perf_counter()
    run_id = str(report.run_id) if report.run_id else None
    total_bytes = found.total_bytes
    batches = _file_batches(reader, found.files, options, creator_id, run_id)
    for name, sha256, batch, bytes_read, note in prefetched(batches):
        if file_report is None or file_report.path != name:
            file_report = next((f for f in report.files if f.path == name), None) or FileReport(name, sha256=sha256)
            if file_report not in report.files:
                report.files.append(file_report)
            file_started = time.perf_counter()
        file_report.filtered += note.filtered
        if note.metadata is not None:
            file_report.metadata = note.metadata
        if batch:
            budget = None if options.max_errors is None else options.max_errors - len(report.rejections)
            load_batch(database, batch, options, file_report, report, budget)
        file_report.seconds += time.perf_counter() - file_started
        file_started = time.perf_counter()
        if on_progress:
            on_progress(ImportProgress(len(batch), bytes_read, total_bytes))
        if options.max_errors is not None and len(report.rejections) >= options.max_errors:
            report.stopped_early = True
            return


def _file_batches(
    reader: Reader,
    files: list[tuple[Path, str]],
    options: ImportOptions,
    creator_id: str | None,
    run_id: str | None,
) -> Iterator[tuple[str, str, list[Item], int, FileNote]]:
    """(file name, its sha256, a batch, bytes read so far) for every batch; an empty batch announces each
    file. A batch belongs to the file being read when it fills (chains paired across files included).

    Runs in the reader process: records are parsed, validated and turned into COPY text here.
    """
    position = ReadPosition()
    sha256s: dict[str, str] = {}
    current = ("", "")
    batch: list[Item] = []
    metadata: dict[str, object] | None = None
    filtered = 0

    def note() -> FileNote:
        nonlocal metadata, filtered
        taken, metadata, filtered = FileNote(metadata, filtered), None, 0
        return taken

    for event in reader(files, options, position):
        if isinstance(event, FileStarted):
            if batch or metadata is not None or filtered:
                yield *current, batch, position.bytes_read, note()
                batch = []
            current = (event.name, sha256s.setdefault(event.name, _sha256(event.path)))
            yield *current, [], position.bytes_read, note()
            continue
        if isinstance(event, FileNote):
            metadata = event.metadata if event.metadata is not None else metadata
            filtered += event.filtered
            continue
        if isinstance(event, Rejection):
            batch.append(event)
        else:
            context = RowContext(options.public, creator_id, run_id, sha256s.get(event.source, ""))
            batch.append(prepare(event, context))
        if len(batch) >= options.batch_size:
            yield *current, batch, position.bytes_read, note()
            batch = []
    if batch or metadata is not None or filtered:
        yield *current, batch, position.bytes_read, note()


def _finish_run(database: Database, report: ImportReport, status: JobStatus, message: str | None) -> None:
    if report.run_id is None:
        return
    try:
        with database.unit_of_work() as uow:
            uow.import_runs.finish(report.run_id, status, report.files_as_dicts(), message)
            uow.commit()
    except AbdbError:  # the database went away: the run stays RUNNING, which `abdb verify` reports
        logger.debug("could not record the end of import run %s", report.run_id, exc_info=True)


def _creator(database: Database, email: str | None) -> str | None:
    if email is None:
        return None
    with database.unit_of_work() as uow:
        user = uow.users.find_by_email(email)
        if user is None:
            raise ConfigurationError(f"--created-by {email}: no user with that email")
        return str(user.id)


def _sha256(path: Path) -> str:
    """The file's sha256, or "" when it cannot be read (the reader then rejects the file with the reason)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()
