"""abdb's own JSON Lines (``"format": "abdb/1"``, docs/exporting.md): one whole antibody per line, written by
`abdb export json` and read back by `abdb import json`.

Reading is as strict as the legacy JSON reader (duplicate keys, NaN and out-of-range numbers are errors)
and checks what the database would otherwise refuse late: every domain and region must be the stretch of
its chain that its positions say, every vocabulary code must exist, and the checksum, when present, must be
that of the chains (an edited sequence with a stale checksum is refused; remove ``checksum`` to accept it).
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from abdb.domain.exported import DOCUMENT_FORMAT
from abdb.domain.records import (
    MAX_CHAIN_NAME_LENGTH,
    AntibodyRecord,
    ChainRecord,
    DomainRecord,
    FeatureRecord,
    JobRecord,
    RecordError,
    RegionRecord,
    Rejection,
    ToolResultRecord,
    check_storable,
    validate_name,
    validate_residues,
)
from abdb.domain.vocabulary import (
    ChainType,
    DomainType,
    FeatureType,
    JobStatus,
    JobType,
    Locus,
    NumberingScheme,
    RegionType,
)
from abdb.io.fasta import open_text
from abdb.io.inputs import ReadPosition
from abdb.io.legacy.jsonfile import strict_loads

JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_LINE_BYTES = 64 << 20  # a document of three schemes is ~20 kB; a longer line is not one of ours
E = TypeVar("E", bound=StrEnum)


def read_abdb_json(
    path: Path, display_name: str | None = None, position: ReadPosition | None = None
) -> Iterator[AntibodyRecord | Rejection]:
    """Whole antibodies from one abdb JSON Lines file (optionally gzip-compressed); a broken line becomes a
    Rejection naming its line, and reading goes on."""
    source = display_name or str(path)
    try:
        stream, raw = open_text(path)
    except OSError as error:
        yield Rejection(source, "file", None, "read", f"cannot read the file: {error.strerror or error}")
        return
    if position is not None:
        position.follow(raw)
    number = 0
    try:
        with stream:
            for number, line in enumerate(_lines(stream), start=1):
                if isinstance(line, str):
                    yield Rejection(source, f"line {number}", None, "parse", line)
                    continue
                if not line.strip():
                    continue
                yield _parsed(line, source, f"line {number}")
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        yield Rejection(
            source,
            f"line {number + 1}",
            None,
            "read",
            f"the gzip stream is truncated or corrupt ({error}); the line being read and any after it are missing",
        )
    finally:
        if position is not None:
            position.follow(None)


def _lines(stream: Any) -> Iterator[bytes | str]:
    """Lines as bytes, or the reason (a str) a line cannot be one of ours."""
    while True:
        raw: bytes = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE_BYTES)
            yield f"line longer than {MAX_LINE_BYTES:,} bytes: not an abdb JSON document"
            continue
        yield raw


def _parsed(line: bytes, source: str, location: str) -> AntibodyRecord | Rejection:
    try:
        document = strict_loads(line.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        return Rejection(source, location, None, "parse", f"invalid UTF-8 at byte {error.start + 1}")
    except RecursionError:
        return Rejection(source, location, None, "parse", "the JSON is nested too deeply")
    except ValueError as error:  # JSONDecodeError too
        return Rejection(source, location, None, "parse", f"malformed JSON: {error}")
    name = document.get("name") if isinstance(document, dict) else None
    try:
        return record_of(document, source, location)
    except RecordError as error:
        return Rejection(source, location, name if isinstance(name, str) else None, "validate", str(error))
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
        return Rejection(source, location, name if isinstance(name, str) else None, "validate", f"unexpected ({error})")


def record_of(document: Any, source: str, location: str) -> AntibodyRecord:
    """The AntibodyRecord of one document, or RecordError saying what is wrong and where."""
    if not isinstance(document, dict):
        raise RecordError("a line must hold one JSON object (one antibody)")
    given = document.get("format")
    if given != DOCUMENT_FORMAT:
        raise RecordError(f"format {given!r}: this abdb reads {DOCUMENT_FORMAT!r}, written by `abdb export json`")
    name = validate_name(_text(document, "name", "the antibody"), "antibody name")
    chains_given = _list(document, "chains", "the antibody")
    if not chains_given:
        raise RecordError("the antibody has no chains")
    chains = tuple(_chain(chain, index) for index, chain in enumerate(chains_given))
    features = tuple(_feature(feature, index, chains) for index, feature in enumerate(_list(document, "features")))
    jobs = tuple(_job(job, index) for index, job in enumerate(_list(document, "jobs")))
    metadata = _object(document, "metadata", "the antibody")
    metadata.pop("import", None)  # provenance is the new import's; the original is kept as the origin
    record = AntibodyRecord(
        name,
        chains,
        source,
        location,
        description=_optional_text(document, "description", "the antibody"),
        metadata=metadata,
        features=features,
        jobs=jobs,
        origin=_origin(document),
        public=_optional_bool(document, "public", "the antibody"),
    )
    checksum = document.get("checksum")
    if checksum is not None and checksum != record.checksum:
        raise RecordError(
            'its checksum is not that of its chains (a sequence was edited?); remove "checksum" to accept the edit'
        )
    return record


def _origin(document: dict[str, Any]) -> dict[str, Any]:
    """Where the antibody was first stored: the export's own origin when it has one (a copy of a copy)."""
    provenance = document.get("provenance")
    if isinstance(provenance, dict) and isinstance(provenance.get("origin"), dict):
        return dict(provenance["origin"])
    origin = {"id": document.get("id"), "created_at": document.get("created_at")}
    if isinstance(provenance, dict):
        origin.update(provenance)
    check_storable(origin, "the provenance")
    return origin


def _chain(chain: Any, index: int) -> ChainRecord:
    where = f"chain {index + 1}"
    if not isinstance(chain, dict):
        raise RecordError(f"{where} is not a JSON object")
    name = validate_name(_text(chain, "name", where), f"{where} name", MAX_CHAIN_NAME_LENGTH)
    where = f"chain {name!r}"
    locus = chain.get("locus")
    # X and short chains are accepted: they were, when the source database first stored them
    try:
        sequence = validate_residues(_text(chain, "sequence", where), allow_x=True, min_length=1)
    except RecordError as error:
        raise RecordError(f"{where}: {error}") from None
    domains = tuple(
        _domain(domain, sequence, f"{where} domain {number}")
        for number, domain in enumerate(_list(chain, "domains", where), start=1)
    )
    return ChainRecord(
        name,
        _code(ChainType, chain, "chain_type", where),
        sequence,
        None if locus is None else _code(Locus, chain, "locus", where),
        domains,
        labelled=True,  # the file names every chain and its type: both are part of "unchanged"
        description=_optional_text(chain, "description", where),
        metadata=_object(chain, "metadata", where),
    )


def _domain(domain: Any, chain_sequence: str, where: str) -> DomainRecord:
    if not isinstance(domain, dict):
        raise RecordError(f"{where} is not a JSON object")
    start, end, sequence = _span(domain, chain_sequence, 1, len(chain_sequence), where)
    regions = tuple(
        _region(region, chain_sequence, start, end, f"{where} region {number}")
        for number, region in enumerate(_list(domain, "regions", where), start=1)
    )
    return DomainRecord(
        _code(DomainType, domain, "domain_type", where),
        _code(NumberingScheme, domain, "scheme", where),
        sequence,
        start,
        end,
        regions,
        confidence=_confidence(domain, where),
        numbering=_numbering(domain.get("numbering"), where),
    )


def _region(region: Any, chain_sequence: str, first: int, last: int, where: str) -> RegionRecord:
    if not isinstance(region, dict):
        raise RecordError(f"{where} is not a JSON object")
    start, end, sequence = _span(region, chain_sequence, first, last, where)
    return RegionRecord(
        _code(RegionType, region, "region_type", where), sequence, start, end, confidence=_confidence(region, where)
    )


def _span(item: dict[str, Any], chain_sequence: str, first: int, last: int, where: str) -> tuple[int, int, str]:
    start, end = _integer(item, "start", where), _integer(item, "end", where)
    if start is None or end is None or not first <= start <= end <= last:
        raise RecordError(f"{where}: start {start} and end {end} must lie within {first}-{last}")
    sequence = chain_sequence[start - 1 : end]
    if item.get("sequence") != sequence:
        raise RecordError(f"{where}: its sequence is not residues {start}-{end} of the chain ({sequence})")
    return start, end, sequence


def _numbering(value: Any, where: str) -> tuple[tuple[int, str, str], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RecordError(f"{where}: numbering must be a list of [number, insertion, residue]")
    numbered = []
    for entry in value:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], int)
            and not isinstance(entry[0], bool)
            and isinstance(entry[1], str)
            and isinstance(entry[2], str)
        ):
            raise RecordError(f"{where}: numbering entry {entry!r} is not [number, insertion, residue]")
        numbered.append((entry[0], entry[1], entry[2]))
    check_storable([list(n) for n in numbered], f"{where} numbering")
    return tuple(numbered)


def _feature(feature: Any, index: int, chains: tuple[ChainRecord, ...]) -> FeatureRecord:
    where = f"feature {index + 1}"
    if not isinstance(feature, dict):
        raise RecordError(f"{where} is not a JSON object")
    chain = _integer(feature, "chain", where)
    if chain is not None and not 0 <= chain < len(chains):
        raise RecordError(f"{where}: chain {chain} does not exist (chains are counted from 0)")
    start, end = _integer(feature, "start", where), _integer(feature, "end", where)
    if start is not None or end is not None:
        limit = len(chains[chain].sequence) if chain is not None else 0
        if start is None or end is None or not 1 <= start <= end <= limit:
            raise RecordError(f"{where}: start {start} and end {end} must lie within its chain (1-{limit})")
    return FeatureRecord(
        _code(FeatureType, feature, "feature_type", where),
        validate_name(_text(feature, "name", where), f"{where} name"),
        _optional_text(feature, "value", where),
        _optional_text(feature, "source", where),
        chain_index=chain,
        start=start,
        end=end,
        confidence=_confidence(feature, where),
        metadata=_object(feature, "metadata", where),
    )


def _job(job: Any, index: int) -> JobRecord:
    where = f"job {index + 1}"
    if not isinstance(job, dict):
        raise RecordError(f"{where} is not a JSON object")
    results = []
    for number, result in enumerate(_list(job, "tool_results", where), start=1):
        at = f"{where} tool result {number}"
        if not isinstance(result, dict):
            raise RecordError(f"{at} is not a JSON object")
        seconds = result.get("execution_seconds")
        if seconds is not None and (not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0):
            raise RecordError(f"{at}: execution_seconds must be a number of seconds or null")
        success = _optional_bool(result, "success", at)
        results.append(
            ToolResultRecord(
                validate_name(_text(result, "tool_name", at), f"{at} tool name"),
                _optional_text(result, "tool_version", at),
                _storable(result.get("input_data"), at),
                _storable(result.get("output_data"), at),
                None if seconds is None else float(seconds),
                success is True,
                _storable(result.get("error_details"), at),
            )
        )
    return JobRecord(
        _code(JobType, job, "job_type", where),
        _code(JobStatus, job, "status", where),
        _storable(job.get("input_data"), where),
        _storable(job.get("output_data"), where),
        _optional_text(job, "error_message", where),
        _timestamp(job, "started_at", where),
        _timestamp(job, "completed_at", where),
        tuple(results),
    )


# -- typed fields ------------------------------------------------------------------------------------


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise RecordError(f"{where}: {key!r} must be text")
    return value


def _optional_text(item: dict[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{where}: {key!r} must be text or null")
    check_storable(value, f"{where} {key}")
    return value


def _optional_bool(item: dict[str, Any], key: str, where: str) -> bool | None:
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise RecordError(f"{where}: {key!r} must be true, false or null")
    return value


def _integer(item: dict[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise RecordError(f"{where}: {key!r} must be a whole number or null")
    return value


def _confidence(item: dict[str, Any], where: str) -> float | None:
    value = item.get("confidence")
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise RecordError(f"{where}: confidence must be a number from 0 to 1, or null")
    return float(value)


def _list(item: dict[str, Any], key: str, where: str = "the antibody") -> list[Any]:
    value = item.get(key, [])
    if not isinstance(value, list):
        raise RecordError(f"{where}: {key!r} must be a list")
    return value


def _object(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise RecordError(f"{where}: {key!r} must be a JSON object")
    check_storable(value, f"{where} {key}")
    return dict(value)


def _storable(value: Any, where: str) -> Any:
    check_storable(value, where)
    return value


def _code(vocabulary: type[E], item: dict[str, Any], key: str, where: str) -> E:
    value = item.get(key)
    try:
        return vocabulary(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in vocabulary)
        raise RecordError(f"{where}: {key} {value!r} is not one of {allowed}") from None


def _timestamp(item: dict[str, Any], key: str, where: str) -> str | None:
    value = _optional_text(item, key, where)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{where}: {key} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise RecordError(f"{where}: {key} {value!r} has no time zone")
    return moment.isoformat()
