"""Opening connections, and turning driver errors into abdb errors that name the (masked) URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import mask_url
from abdb.db.engine import CONNECT_TIMEOUT_SECONDS
from abdb.errors import (
    AbdbError,
    ConflictError,
    DatabaseError,
    DatabaseUnreachable,
    MigrationError,
    ServerTooOld,
    TransientConflict,
)

UNIQUE_VIOLATION = "23505"
UNDEFINED_TABLE = "42P01"
TRANSIENT_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
UNREACHABLE_SQLSTATES = {"08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03", "3D000"}


def single_use_engine(url: URL) -> Engine:
    """An engine without a pool, for administrative commands that connect once."""
    return create_engine(
        url,
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "abdb"},
    )


def translate_db_error(exc: sa_exc.DBAPIError, url: URL) -> AbdbError:
    """Map a driver error to the abdb error a user can act on. Never includes a password."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    first_line = _first_line(exc.orig)
    message = str(exc.orig or "")
    # Errors raised while connecting carry no SQLSTATE in psycopg 3: recognise them by their text.
    if sqlstate == "3D000" or f'database "{url.database}" does not exist' in message:
        return DatabaseUnreachable(
            f"database {url.database!r} does not exist at {mask_url(url)}",
            hint="run `abdb db up` (or `abdb db reset --yes`) to create it",
        )
    if sqlstate in ("28P01", "28000") or "authentication failed" in message:
        return DatabaseUnreachable(
            f"authentication failed at {mask_url(url)}: {first_line}",
            hint="check the user and password in ABDB_DATABASE_URL",
        )
    if isinstance(exc, sa_exc.OperationalError) and (sqlstate is None or sqlstate in UNREACHABLE_SQLSTATES):
        return DatabaseUnreachable(f"database not reachable at {mask_url(url)}: {first_line}", hint="run `abdb db up`")
    if sqlstate == UNDEFINED_TABLE:
        return MigrationError(
            f"the database at {mask_url(url)} has no abdb schema yet ({first_line})", hint="run `abdb migrate`"
        )
    if sqlstate in TRANSIENT_SQLSTATES:
        return TransientConflict(f"transaction rolled back ({sqlstate}): {first_line}", hint="run it again")
    if sqlstate == UNIQUE_VIOLATION:
        diag = getattr(exc.orig, "diag", None)
        table = getattr(diag, "table_name", None) or "the table"
        detail = getattr(diag, "message_detail", None) or first_line
        return ConflictError(f"conflict: {table} already holds that record ({detail})")
    return DatabaseError(f"database error ({sqlstate or 'no SQLSTATE'}): {first_line}")


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


MINIMUM_SERVER_VERSION = 180000  # uuidv7(), and the catalog and planner behaviour abdb relies on


def require_server_version(connection: Connection, url: URL) -> None:
    """Exit 3 in one line on a PostgreSQL older than 18, before anything fails further in."""
    number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    if number < MINIMUM_SERVER_VERSION:
        shown = connection.execute(text("SHOW server_version")).scalar_one()
        raise ServerTooOld(
            f"the server at {mask_url(url)} runs PostgreSQL {shown}; abdb needs PostgreSQL 18 or newer "
            "(uuidv7() ids among others)",
            hint="upgrade the server, or use `abdb db up` for a PostgreSQL 18 of abdb's own",
        )


@contextmanager
def connection_to(url: URL) -> Iterator[Connection]:
    """A connection to PostgreSQL 18 or newer, in a transaction that commits on success; driver errors
    become abdb errors."""
    engine = single_use_engine(url)
    try:
        with engine.begin() as connection:
            require_server_version(connection, url)
            yield connection
    except sa_exc.DBAPIError as exc:
        raise translate_db_error(exc, url) from None
    finally:
        engine.dispose()


@contextmanager
def advisory_lock_held(url: URL, key: int) -> Iterator[None]:
    """Hold a session-level advisory lock on a connection of its own for the whole block: others can tell
    with ``pg_try_advisory_lock`` whether its holder is still alive (the server drops it with the process)."""
    engine = single_use_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            yield
    except sa_exc.DBAPIError as exc:
        raise translate_db_error(exc, url) from None
    finally:
        engine.dispose()
