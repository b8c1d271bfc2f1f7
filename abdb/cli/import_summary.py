"""What an import says when it ends: per file and in total, the first rejections, and the notes (skipped
files, pairing, visibility, clock) that the counts alone do not tell."""

from __future__ import annotations

import json
from typing import Any

from abdb.cli.context import stderr, stdout
from abdb.domain.records import Pairing
from abdb.services.importing import ImportReport

MAX_FILE_LINES = 20


def render_import(report: ImportReport, as_json: bool, quiet: bool) -> None:
    """The summary on stdout (or JSON), the first rejections on stderr, and what counts alone do not say."""
    if as_json:
        summary: dict[str, Any] = {
            "dry_run": report.dry_run,
            "run_id": str(report.run_id) if report.run_id else None,
            "seconds": round(report.seconds, 3),
            "rows": report.rows,
            "files": report.files_as_dicts(),
            "skipped_files": report.skipped_files,
            "hidden_files": report.hidden_files,
            "pairings": {str(kind): count for kind, count in report.pairings.items()},
            "visibility_changed": report.total("visibility_changed"),
            "rejections": [r.as_dict() for r in report.rejections],
        }
        stdout.print_json(json.dumps(summary))
        return
    if not quiet:
        for rejection in report.rejections[:20]:
            name = f' "{rejection.record_name}"' if rejection.record_name else ""
            stderr.print(f"{rejection.source}: {rejection.location}{name}: {rejection.reason}", markup=False)
        if len(report.rejections) > 20:
            stderr.print(f"... and {len(report.rejections) - 20} more (see --errors FILE)", markup=False)
    prefix = "dry run, nothing stored: " if report.dry_run else ""
    shown = (
        report.files
        if len(report.files) <= MAX_FILE_LINES
        else [f for f in report.files if f.rejected or f.conflicting]
    )
    if len(shown) < len(report.files):
        stdout.print(
            f"{len(report.files):,} files read; only those with rejections or conflicts are listed", markup=False
        )
    for f in shown[:MAX_FILE_LINES]:
        replaced = f", {f.replaced} replaced" if f.replaced else ""
        filtered = f", {f.filtered} filtered out" if f.filtered else ""
        stdout.print(
            f"{prefix}{f.path}: {f.inserted} inserted, {f.unchanged} unchanged, {f.conflicting} "
            f"conflicting, {f.rejected} rejected{replaced}{filtered} in {f.seconds:.2f} s",
            markup=False,
        )
    for note in import_notes(report):
        stdout.print(f"{prefix}{note}", markup=False)
    replaced_total = f", {report.total('replaced')} replaced" if report.total("replaced") else ""
    stdout.print(
        f"{prefix}total: {report.total('inserted')} inserted, {report.total('unchanged')} unchanged, "
        f"{report.total('conflicting')} conflicting, {report.total('rejected')} rejected{replaced_total}; "
        f"{report.records_per_second:,.0f} records/s, {report.rows:,} rows in {report.seconds:.2f} s",
        markup=False,
    )


def import_notes(report: ImportReport) -> list[str]:
    """What the counts alone do not say: files passed over, how chains were paired, visibility changes."""
    notes = []
    if report.skipped_files:
        shown = ", ".join(report.skipped_files[:3]) + (", ..." if len(report.skipped_files) > 3 else "")
        notes.append(
            f"skipped {len(report.skipped_files)} file(s) in the folders whose names do not end in the format's "
            f"suffixes: {shown} (name a file to import it whatever its name)"
        )
    if report.hidden_files:
        notes.append(f"skipped {report.hidden_files} hidden file(s) in the folders")
    apart = report.pairings[Pairing.APART] + report.pairings[Pairing.ACROSS_FILES]
    if apart:
        across = report.pairings[Pairing.ACROSS_FILES]
        notes.append(
            f"paired {apart} antibod{'y' if apart == 1 else 'ies'} from chains that were not next to each other"
            + (f" ({across} across files)" if across else "")
        )
    if report.clock_skew_seconds:
        ahead = "behind" if report.clock_skew_seconds > 0 else "ahead of"
        notes.append(
            f"this machine's clock is {abs(report.clock_skew_seconds):,.0f} s {ahead} the server's; the new ids "
            "carry the server's time (set the clock right: timedatectl, NTP)"
        )
    if changed := report.total("visibility_changed"):
        notes.append(
            f"changed the visibility (--public/--private) of {changed} stored antibod{'y' if changed == 1 else 'ies'}"
        )
    return notes
