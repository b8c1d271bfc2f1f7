"""Every SQL statement with its duration, for `--debug` and ABDB_LOG_SQL=1, on the ``abdb.sql`` logger.

Parameters are never logged, only counted: they hold the user's data and could hold secrets. abdb writes
values into statements only as bound parameters (vocabulary codes and identifiers excepted), so the text
logged is the code's own. Bulk loads through COPY bypass the driver's execute and are not listed."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, event

logger = logging.getLogger("abdb.sql")
_STARTED = "abdb.sql.started"


def _parameters(parameters: Any, executemany: bool) -> str:
    if executemany:
        return f" [{len(parameters)} parameter sets redacted]"
    count = len(parameters) if isinstance(parameters, dict | list | tuple) else 0
    return f" [{count} parameters redacted]" if count else ""


def log_statements(engine: Engine) -> None:
    """Log each statement ``engine`` runs when it finishes (or fails), with its duration in ms."""

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        _log(conn, statement, parameters, executemany, "")

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        if context.connection is not None and context.statement is not None:
            _log(context.connection, context.statement, context.parameters, bool(context.is_disconnect), " FAILED")


def _log(conn: Any, statement: str, parameters: Any, executemany: bool, outcome: str) -> None:
    started = conn.info.get(_STARTED) or [time.perf_counter()]
    milliseconds = (time.perf_counter() - started.pop()) * 1000
    text = " ".join(statement.split())
    logger.info("%.1f ms%s  %s%s", milliseconds, outcome, text, _parameters(parameters or {}, executemany))
