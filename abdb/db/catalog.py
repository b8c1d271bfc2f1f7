"""Catalog queries in one place: databases (exist, create, drop), server version, row counts, and the schema
against the models, including what ``alembic check`` misses (vocabulary rows, CHECK constraints, ``uuidv7()``
id defaults, the ``updated_at`` triggers) for ``abdb migrate check`` and ``abdb verify``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from abdb.db.base import Base
from abdb.db.connect import require_server_version, single_use_engine, translate_db_error
from abdb.db.models import TABLES_WITH_UPDATED_AT
from abdb.domain.vocabulary import VOCABULARY_TABLES
from abdb.errors import ConfirmationRequired, ConflictError


def server_version(connection: Connection) -> str:
    return str(connection.execute(text("SHOW server_version")).scalar())


# Past this many rows (by the planner's statistics) a table is counted from its statistics: an exact count
# reads the whole table (minutes at hundreds of millions of rows; on Citus, every shard).
EXACT_COUNT_LIMIT = 1_000_000


def row_counts(connection: Connection, tables: Iterable[str], *, exact: bool = False) -> dict[str, tuple[int, bool]]:
    """(rows, exact?) of each table that exists: exact below EXACT_COUNT_LIMIT rows or when asked, else the
    statistics' estimate (``pg_class.reltuples``, kept by ANALYZE and autovacuum)."""
    existing = set(inspect(connection).get_table_names())
    estimates: dict[str, int] = dict(
        connection.execute(
            text("SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' AND relname = ANY(:tables)"),
            {"tables": list(existing)},
        ).all()
    )
    counts: dict[str, tuple[int, bool]] = {}
    for table in tables:
        if table not in existing:
            continue
        estimate = int(estimates.get(table, -1))
        if not exact and estimate >= EXACT_COUNT_LIMIT:
            counts[table] = (estimate, False)
        else:
            counts[table] = (int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0), True)
    return counts


def _maintenance_url(url: URL) -> URL:
    return url.set(database="postgres")


def _admin_execute(url: URL, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = single_use_engine(_maintenance_url(url)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            require_server_version(connection, url)
            result = connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    except sa_exc.DBAPIError as exc:
        raise translate_db_error(exc, url) from None
    finally:
        engine.dispose()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def ensure_database(url: URL) -> bool:
    """Create the database when it does not exist; return True when it was created."""
    name = url.database or "postgres"
    if _admin_execute(url, "SELECT 1 FROM pg_database WHERE datname = :name", name=name):
        return False
    try:
        _admin_execute(url, f"CREATE DATABASE {_quoted(name)}")
    except ConflictError:  # a concurrent `db up` created it first
        return False
    return True


def drop_database(url: URL) -> None:
    name = url.database or ""
    if name in ("", "postgres", "template0", "template1"):
        raise ConfirmationRequired(f"refusing to drop the system database {name!r}")
    _admin_execute(url, f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


def schema_drift(connection: Connection) -> list[str]:
    """Differences between the models and the database, including what autogenerate cannot see."""
    return [problem for problems in schema_problems(connection).values() for problem in problems]


def schema_problems(connection: Connection) -> dict[str, list[str]]:
    """The differences, by the `abdb verify` check that reports them."""
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return {
        "schema.drift": [f"autogenerate: {describe_diff(diff)}" for diff in compare_metadata(context, Base.metadata)],
        "schema.vocabularies": _vocabulary_drift(connection),
        "schema.check_constraints": _check_constraint_drift(connection),
        "schema.triggers": _trigger_drift(connection),
        "schema.uuidv7_defaults": _uuid_default_drift(connection),
    }


def _check_constraint_drift(connection: Connection) -> list[str]:
    """Autogenerate does not compare CHECK constraints: compare their names with the catalog."""
    expected = {
        str(constraint.name)  # the naming convention has already made it ck_<table>_<name>
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name
    }
    present = set(
        connection.execute(
            text(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'c' AND n.nspname = current_schema()"
            )
        ).scalars()
    )
    return [f"CHECK constraint {name} is missing" for name in sorted(expected - present)]


def _uuid_default_drift(connection: Connection) -> list[str]:
    tables = [table.name for table in Base.metadata.tables.values() if "id" in table.c]
    defaults: dict[str, str | None] = dict(
        connection.execute(
            text(
                "SELECT table_name, column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'id' AND table_name = ANY(:tables)"
            ),
            {"tables": tables},
        ).all()
    )
    return [
        f"{table}.id defaults to {defaults.get(table) or 'nothing'}, not uuidv7()"
        for table in sorted(tables)
        if defaults.get(table) != "uuidv7()"
    ]


def describe_diff(diff: Any) -> str:
    """One readable line for an autogenerate difference (a tuple, or a list of tuples for modifications)."""
    if isinstance(diff, list):
        return "; ".join(describe_diff(item) for item in diff)
    operation = diff[0]
    if operation.startswith("modify_"):
        _, _, table, column, _, database_value, model_value = diff
        return f"{operation} {table}.{column}: database has {_plain(database_value)}, models have {_plain(model_value)}"
    target = diff[-1] if operation.endswith("_column") else diff[1]
    table = getattr(getattr(target, "table", None), "name", None) or (
        diff[2] if operation.endswith("_column") else None
    )
    name = getattr(target, "name", None) or str(target)
    return f"{operation} {f'{table}.' if table else ''}{name}"


def _plain(value: Any) -> str:
    argument = getattr(value, "arg", value)
    return str(getattr(argument, "text", argument))


def _vocabulary_drift(connection: Connection) -> list[str]:
    problems = []
    for table, enum_class in VOCABULARY_TABLES.items():
        stored = set(connection.execute(text(f"SELECT code FROM {table}")).scalars())
        expected = {member.value for member in enum_class}
        if missing := sorted(expected - stored):
            problems.append(f"vocabulary {table}: values in the code but not the database: {missing}")
        if extra := sorted(stored - expected):
            problems.append(f"vocabulary {table}: values in the database but not the code: {extra}")
    return problems


def _trigger_drift(connection: Connection) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE NOT t.tgisinternal AND p.proname = 'abdb_touch_updated_at' AND t.tgenabled <> 'D'"
        )
    ).scalars()
    with_trigger = set(rows)
    return [
        f"table {table}: updated_at trigger missing" for table in TABLES_WITH_UPDATED_AT if table not in with_trigger
    ]
