"""Importing antibodies: stream records, validate, and load whole antibodies in batches with COPY.

Each batch is one transaction: an antibody's sequence, chains and annotation job are written together or
not at all. Names in a batch are locked (advisory transaction locks) before they are compared with the
database, so concurrent imports of the same file create no duplicates. Re-importing unchanged content adds
nothing; the same name with other content is a conflict and is reported, not overwritten.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uuid_utils

from abdb.config import Settings
from abdb.domain.records import AntibodyRecord, Rejection
from abdb.domain.vocabulary import JobStatus, JobType
from abdb.errors import ConfigurationError, InputError
from abdb.io.fasta import FASTA_SUFFIXES, read_antibodies
from abdb.unit_of_work import UnitOfWork

SEQUENCE_COLUMNS = ("id", "name", "description", "is_public", "metadata", "content_checksum", "created_by")
CHAIN_COLUMNS = ("id", "antibody_sequence_id", "name", "chain_type", "sequence", "sequence_length")
JOB_COLUMNS = ("id", "sequence_id", "job_type", "status", "input_data")
LOADED_TABLES = ("antibody_sequences", "antibody_chains", "processing_jobs")


@dataclass(frozen=True)
class ImportOptions:
    allow_x: bool = False
    min_length: int = 20
    batch_size: int = 1000
    dry_run: bool = False
    public: bool = False
    created_by: str | None = None
    max_errors: int | None = None


@dataclass
class FileReport:
    path: str
    sha256: str = ""
    inserted: int = 0
    unchanged: int = 0
    conflicting: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return self.inserted + self.unchanged + self.conflicting + self.rejected


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    stopped_early: bool = False

    def total(self, attribute: str) -> int:
        return sum(int(getattr(report, attribute)) for report in self.files)

    @property
    def clean(self) -> bool:
        return not self.rejections

    @property
    def records_per_second(self) -> float:
        return self.total("records") / self.seconds if self.seconds else 0.0


def expand_paths(paths: Iterable[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files as given; folders searched recursively for the suffixes (optionally .gz)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.name.lower().removesuffix(".gz").endswith(suffixes)
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
    settings: Settings,
    paths: Iterable[Path],
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    if options.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    report = ImportReport(dry_run=options.dry_run)
    started = time.perf_counter()
    creator_id = _creator(settings, options.created_by)
    for path in expand_paths(paths, FASTA_SUFFIXES):
        file_report = FileReport(str(path), sha256=_sha256(path))
        report.files.append(file_report)
        file_started = time.perf_counter()
        records = read_antibodies(path, allow_x=options.allow_x, min_length=options.min_length)
        for batch in _batches(records, options.batch_size):
            _load_batch(settings, batch, options, creator_id, file_report, report)
            if on_progress:
                on_progress(len(batch))
            if options.max_errors is not None and len(report.rejections) > options.max_errors:
                report.stopped_early = True
                break
        file_report.seconds = time.perf_counter() - file_started
        if report.stopped_early:
            break
    if not options.dry_run and report.total("inserted"):
        with UnitOfWork(settings) as uow:
            uow.bulk.analyze(LOADED_TABLES)
            uow.commit()
    report.seconds = time.perf_counter() - started
    return report


def _batches(items: Iterator[AntibodyRecord | Rejection], size: int) -> Iterator[list[AntibodyRecord | Rejection]]:
    batch: list[AntibodyRecord | Rejection] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load_batch(
    settings: Settings,
    batch: list[AntibodyRecord | Rejection],
    options: ImportOptions,
    creator_id: object,
    file_report: FileReport,
    report: ImportReport,
) -> None:
    records = [item for item in batch if isinstance(item, AntibodyRecord)]
    for item in batch:
        if isinstance(item, Rejection):
            report.rejections.append(item)
            file_report.rejected += 1
    if not records:
        return
    with UnitOfWork(settings) as uow:
        uow.bulk.lock_names(record.name for record in records)
        existing = uow.bulk.existing_checksums(record.name for record in records)
        new: list[AntibodyRecord] = []
        for record in records:
            stored = existing.get(record.name)
            if stored is None:
                new.append(record)
            elif record.checksum in stored:
                file_report.unchanged += 1
            else:
                file_report.conflicting += 1
                report.rejections.append(
                    Rejection(
                        record.source,
                        record.location,
                        record.name,
                        "conflict",
                        f"a different antibody named {record.name!r} is already stored; not overwritten",
                    )
                )
        _copy(uow, new, options, creator_id, file_report.sha256)
        file_report.inserted += len(new)
        if not options.dry_run:
            uow.commit()


def _copy(
    uow: UnitOfWork, records: list[AntibodyRecord], options: ImportOptions, creator_id: object, sha256: str
) -> None:
    sequences, chains, jobs = [], [], []
    for record in records:
        sequence_id = uuid_utils.uuid7()
        provenance = {"import": {"file": record.source, "sha256": sha256, "record": record.location}}
        sequences.append(
            (
                str(sequence_id),
                record.name,
                record.description,
                options.public,
                json.dumps({**record.metadata, **provenance}),
                record.checksum,
                creator_id,
            )
        )
        for chain in record.chains:
            chains.append(
                (
                    str(uuid_utils.uuid7()),
                    str(sequence_id),
                    chain.name,
                    chain.chain_type.value,
                    chain.sequence,
                    len(chain.sequence),
                )
            )
        jobs.append(
            (
                str(uuid_utils.uuid7()),
                str(sequence_id),
                JobType.ANNOTATION.value,
                JobStatus.PENDING.value,
                json.dumps({"source": record.source, "record": record.location}),
            )
        )
    uow.bulk.copy_rows("antibody_sequences", SEQUENCE_COLUMNS, sequences)
    uow.bulk.copy_rows("antibody_chains", CHAIN_COLUMNS, chains)
    uow.bulk.copy_rows("processing_jobs", JOB_COLUMNS, jobs)


def _creator(settings: Settings, email: str | None) -> object:
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
