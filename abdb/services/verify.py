"""``abdb verify``: run the consistency checks, read-only, and say which hold.

Schema checks compare the live catalog with the models (as ``abdb migrate check`` does, plus CHECK
constraints and ``uuidv7()`` defaults); data checks are set-based SQL in one READ ONLY transaction. Tables
that were never analysed are analysed first: without statistics the planner picks nested loops that turn
seconds into minutes (measured: an orphan check went from over 10 minutes to 60 ms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from abdb.config import Settings
from abdb.database import Database, using
from abdb.db.catalog import schema_problems
from abdb.db.connect import connection_to
from abdb.db.models import DATA_TABLES
from abdb.db.revisions import current_revision, head_revision
from abdb.domain.checks import CHECKS, Check, Severity
from abdb.errors import ConfigurationError, MigrationError
from abdb.repositories.verification import Findings, VerificationQueries
from abdb.unit_of_work import analyze_tables

IDENTITY_TOLERANCE = timedelta(minutes=10)
WORK_MEMORY = "256MB"


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class VerifyOptions:
    only: tuple[str, ...] = ()  # check names or group prefixes ("regions"); empty: all
    skip: tuple[str, ...] = ()
    fail_on: Severity = Severity.ERROR
    stuck_after: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: Status
    count: int = 0
    examples: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def fails(self) -> bool:
        return self.status is Status.FAILED


@dataclass
class VerifyReport:
    results: list[CheckResult] = field(default_factory=list)
    fail_on: Severity = Severity.ERROR
    seconds: float = 0.0
    analyzed: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[CheckResult]:
        """Failed checks at or above the --fail-on severity."""
        threshold = {Severity.WARNING: 0, Severity.ERROR: 1}
        return [r for r in self.results if r.fails and threshold[r.check.severity] >= threshold[self.fail_on]]


def _selected(check: Check, options: VerifyOptions) -> bool:
    def matches(patterns: tuple[str, ...]) -> bool:
        return any(check.name == p or check.group == p for p in patterns)

    return (not options.only or matches(options.only)) and not matches(options.skip)


def _check_names(options: VerifyOptions) -> None:
    known = {c.name for c in CHECKS} | {c.group for c in CHECKS}
    unknown = [name for name in (*options.only, *options.skip) if name not in known]
    if unknown:
        raise ConfigurationError(
            f"unknown check {', '.join(unknown)}", hint="abdb verify --list shows every check and group"
        )


def verify(target: Database | Settings, options: VerifyOptions) -> VerifyReport:
    _check_names(options)
    with using(target) as database:
        return _verify(database, options)


def _verify(database: Database, options: VerifyOptions) -> VerifyReport:
    started = time.perf_counter()
    report = VerifyReport(fail_on=options.fail_on)
    selected = [check for check in CHECKS if _selected(check, options)]
    findings: dict[str, tuple[int, list[str], float]] = {}
    findings |= _schema(database, selected)
    report.analyzed = _analyze_if_needed(database)
    groups = {check.group for check in selected if check.group != "schema"}
    with database.unit_of_work() as uow:
        queries = uow.verification
        queries.begin_snapshot(WORK_MEMORY)
        for group, runs in _queries(queries, options).items():
            if group in groups:
                for run in runs:
                    began = time.perf_counter()
                    result = run()
                    elapsed = time.perf_counter() - began
                    findings |= {name: (count, examples, elapsed) for name, (count, examples) in result.items()}
    for check in CHECKS:
        if check not in selected:
            report.results.append(CheckResult(check, Status.SKIPPED))
            continue
        count, examples, seconds = findings[check.name]
        status = Status.FAILED if count else Status.PASSED
        report.results.append(CheckResult(check, status, count, tuple(examples), seconds))
    report.seconds = time.perf_counter() - started
    return report


def _queries(queries: VerificationQueries, options: VerifyOptions) -> dict[str, list[Callable[[], Findings]]]:
    return {
        "identity": [lambda: queries.identity(DATA_TABLES, IDENTITY_TOLERANCE)],
        "chains": [queries.chains],
        "domains": [queries.domains],
        "regions": [queries.region_sequences, queries.region_layout],
        "features": [queries.features],
        "search": [queries.search_rows, queries.search_pairs],
        "jobs": [lambda: queries.jobs(options.stuck_after)],
        "duplicates": [queries.duplicates],
        "provenance": [lambda: queries.provenance(options.stuck_after)],
    }


def _schema(database: Database, selected: list[Check]) -> dict[str, tuple[int, list[str], float]]:
    """Schema checks; a database that is not at head cannot be verified at all (exit 4)."""
    began = time.perf_counter()
    head = head_revision()
    with connection_to(database.url) as connection:
        current = current_revision(connection)
        if current != head:
            raise MigrationError(
                f"verification could not run: the database is at {current or 'no revision'}, head is {head}",
                hint="run `abdb migrate` first",
            )
        problems = schema_problems(connection) if any(c.group == "schema" for c in selected) else {}
    elapsed = time.perf_counter() - began
    found: dict[str, tuple[int, list[str], float]] = {"schema.revision": (0, [], elapsed)}
    found |= {name: (len(items), items[:5], elapsed) for name, items in problems.items()}
    return found


def _analyze_if_needed(database: Database) -> list[str]:
    """ANALYZE tables that have no statistics yet (statistics only: no data changes)."""
    with database.unit_of_work() as uow:
        missing = uow.verification.tables_without_statistics(list(DATA_TABLES))
    analyze_tables(database, missing)
    return missing
