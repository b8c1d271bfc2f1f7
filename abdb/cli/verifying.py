"""``abdb verify``: prove that what is stored is consistent; for terminals and for CI."""

from __future__ import annotations

import json
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from xml.etree import ElementTree

import typer
from rich.table import Table

from abdb.cli.context import database_of, open_for_writing, stderr, stdout, write_output
from abdb.domain.checks import CHECKS, Severity
from abdb.errors import VerificationFailed
from abdb.services.verify import Status, VerifyOptions, VerifyReport, verify


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"


STATUS_STYLE = {Status.PASSED: "green", Status.FAILED: "red", Status.SKIPPED: "dim"}


def verify_command(
    ctx: typer.Context,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table (terminal), json, or junit (XML for CI).")
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the report to this file (JSON for --format table) instead of stdout."
        ),
    ] = None,
    check: Annotated[
        list[str] | None, typer.Option("--check", help="Run only this check or group (repeatable).")
    ] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip this check or group (repeatable).")] = None,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Exit 10 on violations of this severity or worse.")
    ] = Severity.ERROR,
    stuck_after: Annotated[
        int, typer.Option("--stuck-after", min=1, help="Minutes after which a RUNNING job or import run is stuck.")
    ] = 60,
    list_checks: Annotated[bool, typer.Option("--list", help="List the checks and exit.")] = False,
) -> None:
    """Check the database read-only: schema at head and without drift, UUIDv7 ids, the sequence → chain →
    domain → region hierarchy, features, jobs, duplicates and import provenance. Exit 0 when clean, 10 when
    violations are found, 3 or 4 when verification could not run (unreachable, not migrated).

    Example: abdb verify --format junit --output verify.xml
    """
    if list_checks:
        table = Table("check", "severity", "what it proves")
        for item in CHECKS:
            table.add_row(item.name, item.severity.value, item.description)
        stdout.print(table)
        return
    options = VerifyOptions(tuple(check or ()), tuple(skip or ()), fail_on, timedelta(minutes=stuck_after))
    target = open_for_writing(output, "--output") if output is not None else None
    report = verify(database_of(ctx), options)
    rendered = {OutputFormat.JSON: _json, OutputFormat.JUNIT: _junit}.get(output_format)
    if target is not None and output is not None:
        text = rendered(report) if rendered else _json(report)
        write_output(target, output, "--output", [text], "verification itself ran")
    if output is not None:
        failed = len(report.violations)
        stderr.print(f"verify: {failed} check(s) failed; report written to {output}", markup=False)
    elif rendered is None:
        _table(report)
    else:
        stdout.out(rendered(report), highlight=False)
    if report.violations:
        names = ", ".join(r.check.name for r in report.violations)
        raise VerificationFailed(f"{len(report.violations)} check(s) failed: {names}")


def _table(report: VerifyReport) -> None:
    skipped = sum(r.status is Status.SKIPPED for r in report.results)
    title = f"abdb verify ({report.seconds:.2f} s{f', {skipped} checks skipped' if skipped else ''})"
    table = Table("check", "status", "count", title=title)
    table.add_column("examples", overflow="fold")
    for result in report.results:
        if result.status is Status.SKIPPED:
            continue
        status = result.status.value if result.status is not Status.FAILED else f"FAILED ({result.check.severity})"
        table.add_row(
            result.check.name,
            f"[{STATUS_STYLE[result.status]}]{status}[/]",
            str(result.count),
            ", ".join(result.examples)
            + (f" (fix: {result.check.fix})" if result.status is Status.FAILED and result.check.fix else ""),
        )
    stdout.print(table)


def _json(report: VerifyReport) -> str:
    return json.dumps(
        {
            "seconds": round(report.seconds, 3),
            "fail_on": report.fail_on.value,
            "clean": not report.violations,
            "analyzed": report.analyzed,
            "checks": [
                {
                    "name": r.check.name,
                    "description": r.check.description,
                    "fix": r.check.fix,
                    "severity": r.check.severity.value,
                    "status": r.status.value,
                    "count": r.count,
                    "examples": list(r.examples),
                    "seconds": round(r.seconds, 3),
                }
                for r in report.results
            ],
        },
        indent=2,
    )


def _junit(report: VerifyReport) -> str:
    """One test case per check: violations at --fail-on or worse are failures, lesser ones stay visible."""
    failing = {id(r) for r in report.violations}
    suite = ElementTree.Element(
        "testsuite",
        name="abdb verify",
        tests=str(len(report.results)),
        failures=str(len(failing)),
        skipped=str(sum(r.status is Status.SKIPPED for r in report.results)),
        time=f"{report.seconds:.3f}",
    )
    for result in report.results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"abdb.verify.{result.check.group}",
            name=result.check.name,
            time=f"{result.seconds:.3f}",
        )
        message = f"{result.count} violation(s) of: {result.check.description}"
        detail = "examples: " + ", ".join(result.examples)
        if result.status is Status.SKIPPED:
            ElementTree.SubElement(case, "skipped")
        elif id(result) in failing:
            failure = ElementTree.SubElement(case, "failure", message=message, type=result.check.severity.value)
            failure.text = detail
        elif result.fails:
            ElementTree.SubElement(case, "system-out").text = f"{result.check.severity.value}: {message}; {detail}"
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
