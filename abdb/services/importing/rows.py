"""COPY text from whole antibody records, linked by client-side UUIDv7 ids (no RETURNING round trips).

The text is made where the records are parsed (a separate process when possible), so the loading process
only streams finished text to PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from abdb.db.rows import IMPORTED_TABLES, ROWS
from abdb.domain.ids import new_id_text
from abdb.domain.queue import bucket_of_text
from abdb.domain.records import AntibodyRecord, Pairing
from abdb.domain.residue_pairs import SEARCHED_REGIONS, pairs_text
from abdb.domain.vocabulary import DomainType, JobStatus, JobType
from abdb.repositories.bulk import copy_escaped

COLUMNS = {table: ROWS[table] for table in IMPORTED_TABLES}  # COPY's column lists, in load order
LOADED_TABLES = tuple(COLUMNS)
# str(member) of a StrEnum is its value, read without Enum's slow attribute machinery (measured: the
# `.value` lookups alone took 10% of an import).
ANNOTATION, PENDING = str(JobType.ANNOTATION), str(JobStatus.PENDING)


@dataclass(frozen=True)
class PreparedRecord:
    """An antibody ready for COPY: its identity, and its rows as COPY text, one string per table."""

    name: str
    checksum: str
    source: str
    location: str
    text: tuple[str, ...]  # in COLUMNS order
    rows: int
    labels: frozenset[tuple[str, str, str]] = frozenset()  # AntibodyRecord.labels
    pairing: Pairing = Pairing.AS_READ


@dataclass(frozen=True)
class RowContext:
    """What every row of one file shares."""

    public: bool | None  # --public/--private; None: the record's own visibility (abdb JSON), else private
    creator_id: str | None
    run_id: str | None
    sha256: str


_escaped = copy_escaped  # free text in COPY's text format


def _optional(text: str | None) -> str:
    return "\\N" if text is None else _escaped(text)


def _number(value: float | int | None) -> str:
    return "\\N" if value is None else str(value)


_id = new_id_text


def _json(value: object) -> str:
    return "\\N" if value is None else _escaped(json.dumps(value))


def prepare(record: AntibodyRecord, context: RowContext) -> PreparedRecord:
    """The record's rows, linked by client-side UUIDv7 ids, as COPY text.

    Ids, vocabulary codes, numbers and residues (validated upper-case letters) need no escaping; only free
    text goes through ``_escaped``.
    """
    sequence_id = _id()
    provenance: dict[str, object] = {"file": record.source, "sha256": context.sha256, "record": record.location}
    if record.origin is not None:
        provenance["origin"] = record.origin
    metadata = _escaped(json.dumps({**record.metadata, "import": provenance}))
    public = "t" if _public(record, context) else "f"
    sequences = [
        f"{sequence_id}\t{_escaped(record.name)}\t{_optional(record.description)}\t{public}"
        f"\t{metadata}\t{record.checksum}\t{_optional(context.creator_id)}\t{_optional(context.run_id)}\n"
    ]
    chains: list[str] = []
    domains: list[str] = []
    regions: list[str] = []
    searches: list[str] = []
    antibody_name = _escaped(record.name)
    chain_ids = []
    for chain in record.chains:
        chain_id = _id()
        chain_ids.append(chain_id)
        chain_name = _escaped(chain.name)
        locus = str(chain.locus) if chain.locus else "\\N"
        chain_metadata = _escaped(json.dumps(chain.metadata)) if chain.metadata else "{}"
        chains.append(
            f"{chain_id}\t{sequence_id}\t{_escaped(chain.name)}\t{chain.chain_type}\t{locus}\t{chain.sequence}"
            f"\t{len(chain.sequence)}\t{_optional(chain.description)}\t{chain_metadata}\n"
        )
        for domain in chain.domains:
            domain_id = _id()
            numbering = "\\N" if domain.numbering is None else _json([list(n) for n in domain.numbering])
            domains.append(
                f"{domain_id}\t{sequence_id}\t{chain_id}\t{domain.domain_type}\t{domain.numbering_scheme}"
                f"\t{domain.sequence}\t{domain.start}\t{domain.end}\t{numbering}\t{_number(domain.confidence)}\n"
            )
            searched = domain.domain_type is DomainType.VARIABLE
            for region in domain.regions:
                region_id = _id()
                regions.append(
                    f"{region_id}\t{sequence_id}\t{domain_id}\t{region.region_type}\t{region.sequence}\t{region.start}"
                    f"\t{region.end}\t{_number(region.confidence)}\n"
                )
                if searched and region.region_type in SEARCHED_REGIONS:
                    searches.append(
                        f"{sequence_id}\t{region_id}\t{chain_id}\t{region.region_type}\t{domain.numbering_scheme}"
                        f"\t{antibody_name}\t{chain_name}\t{region.sequence}\t{pairs_text(region.sequence)}\n"
                    )
    features = [
        f"{_id()}\t{sequence_id}\t{_optional(None if feature.chain_index is None else chain_ids[feature.chain_index])}"
        f"\t{feature.feature_type}\t{_escaped(feature.name)}\t{_optional(feature.value)}\t{_number(feature.start)}"
        f"\t{_number(feature.end)}\t{_number(_rounded(feature.confidence))}\t{_optional(feature.source)}"
        f"\t{_escaped(json.dumps(feature.metadata))}\n"
        for feature in record.features
    ]
    jobs, results, queue = _job_rows(record, sequence_id)
    tables = (sequences, chains, domains, regions, searches, features, jobs, results, queue)
    return PreparedRecord(
        record.name,
        record.checksum,
        record.source,
        record.location,
        tuple("".join(lines) for lines in tables),
        # rows of the antibody; its queue and search rows are bookkeeping
        sum(len(lines) for lines in tables) - len(queue) - len(searches),
        record.labels,
        record.pairing,
    )


def _public(record: AntibodyRecord, context: RowContext) -> bool:
    return context.public if context.public is not None else record.public is True


def _rounded(confidence: float | None) -> float | None:
    return None if confidence is None else round(confidence, 3)


def _job_rows(record: AntibodyRecord, sequence_id: str) -> tuple[list[str], list[str], list[str]]:
    """An annotation job when the record needs one, or (abdb JSON) exactly the jobs it carries; a PENDING job
    is queued. A job that was RUNNING when exported comes back PENDING: no worker holds it here."""
    jobs: list[str] = []
    results: list[str] = []
    queue: list[str] = []
    if record.jobs is None:
        if record.needs_annotation:
            input_data = _escaped(json.dumps({"source": record.source, "record": record.location}))
            job_id = _id()
            jobs.append(f"{job_id}\t{sequence_id}\t{ANNOTATION}\t{PENDING}\t{input_data}\t\\N\t\\N\t\\N\t\\N\n")
            queue.append(f"{bucket_of_text(job_id)}\t{job_id}\t{sequence_id}\t{ANNOTATION}\n")
        return jobs, results, queue
    for job in record.jobs:
        job_id = _id()
        running = job.status is JobStatus.RUNNING
        status = PENDING if running else str(job.status)
        started = None if running else job.started_at
        jobs.append(
            f"{job_id}\t{sequence_id}\t{job.job_type}\t{status}\t{_json(job.input_data)}\t{_json(job.output_data)}"
            f"\t{_optional(job.error_message)}\t{_optional(started)}\t{_optional(job.completed_at)}\n"
        )
        if status == PENDING:
            queue.append(f"{bucket_of_text(job_id)}\t{job_id}\t{sequence_id}\t{job.job_type}\n")
        for result in job.tool_results:
            seconds = "\\N" if result.execution_seconds is None else f"{result.execution_seconds:.6f} seconds"
            results.append(
                f"{sequence_id}\t{job_id}\t{_escaped(result.tool_name)}\t{_optional(result.tool_version)}"
                f"\t{_json(result.input_data)}\t{_json(result.output_data)}\t{seconds}"
                f"\t{'t' if result.success else 'f'}\t{_json(result.error_details)}\n"
            )
    return jobs, results, queue
