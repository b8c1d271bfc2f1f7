"""The one progress bar of long commands: what is done against the total, percentage, elapsed and ETA, on
stderr, and only on a terminal (never in pipes, logs or CI)."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from abdb.cli.context import stderr


def progress_bar(label: str, counter: ProgressColumn, show: bool, *, refresh_thread: bool = True) -> Progress:
    """``label``, the bar, percentage, ``counter`` (what is counted), elapsed time and ETA. Without
    ``refresh_thread`` it is drawn only when updated with ``refresh=True``: for commands that fork, since a
    fork copies a lock the drawing thread may hold at that moment."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        counter,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr,
        disable=not (show and sys.stderr.isatty()),
        auto_refresh=refresh_thread,
    )
