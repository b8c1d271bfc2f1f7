"""``abdb db monitor``: render the monitoring report (registered on the ``db`` group by abdb.cli.db)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from abdb.cli.context import settings_of, stderr, stdout
from abdb.repositories.monitoring import StatementStats
from abdb.services.monitoring import LONG_TRANSACTION_SECONDS, monitor


def _statements(title: str, rows: list[StatementStats]) -> Table:
    table = Table("calls", "total ms", "mean ms", "max ms", "rows", "database", title=title, box=None)
    table.add_column("statement", min_width=48, overflow="fold")
    for row in rows:
        statement = " ".join(row.query.split())
        table.add_row(
            f"{row.calls:,}",
            f"{row.total_ms:,.1f}",
            f"{row.mean_ms:,.2f}",
            f"{row.max_ms:,.1f}",
            f"{row.rows:,}",
            row.database,
            Text(statement if len(statement) <= 160 else statement[:157] + "..."),
        )
    return table


def monitor_command(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="The report as JSON (documented keys, only ever added).")
    ] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows per list.")] = 10,
    long_seconds: Annotated[
        float, typer.Option("--long", min=0, help="Seconds after which an open transaction is listed.")
    ] = LONG_TRANSACTION_SECONDS,
    every_database: Annotated[
        bool, typer.Option("--all-databases", help="Statements of every database of the server, not this one's.")
    ] = False,
) -> None:
    """Show the slowest and the most frequent statements of this database (pg_stat_statements),
    the largest tables and indexes, dead rows per table (bloat a VACUUM reclaims), transactions open longer
    than --long seconds and sessions waiting on locks, with who blocks them.

    abdb's embedded and Docker servers load pg_stat_statements; on another server the report says what to
    enable and shows the rest. Statement texts are the server's normalised ones: values appear as $1, $2.

    Example: abdb db monitor --top 5
    """
    report = monitor(settings_of(ctx), top=top, long_transaction_seconds=long_seconds, every_database=every_database)
    if as_json:
        stdout.print_json(json.dumps(report.as_json()))
        return
    if report.statements_note:
        stderr.print(f"note: {report.statements_note}", markup=False)
    stdout.print(f"database: {report.url}", markup=False)
    if report.statements_enabled:
        stdout.print(_statements("slowest statements (total time)", report.slowest))
        stdout.print(_statements("most frequent statements", report.most_frequent))
    sizes = Table("relation", "of table", "size", title="largest tables and indexes", box=None)
    for relation in report.largest:
        estimated = "" if relation.exact else " (locked: from the catalog)"
        sizes.add_row(relation.name, relation.table, f"{relation.bytes / 1e6:,.1f} MB{estimated}")
    stdout.print(sizes)
    dead = Table("table", "live rows", "dead rows", "last vacuum", title="dead rows (bloat)", box=None)
    for counted in report.dead_rows:
        dead.add_row(counted.table, f"{counted.live:,}", f"{counted.dead:,}", counted.last_vacuum or "never")
    stdout.print(dead)
    if not report.long_transactions:
        stdout.print(f"no transaction open longer than {report.long_transaction_seconds:g} s, no lock waits")
        return
    sessions = Table("pid", "state", "open s", "waiting for", "blocked by", "statement", title="long or waiting")
    for entry in report.long_transactions:
        blocked = ", ".join(map(str, entry.blocked_by)) or "-"
        sessions.add_row(
            str(entry.pid),
            entry.state,
            f"{entry.seconds:,.0f}",
            entry.waiting_for or "-",
            blocked,
            Text(entry.query[:120]),
        )
    stdout.print(sessions)
