"""The schema against the models, including what ``alembic check`` misses: vocabulary rows, CHECK
constraints, ``uuidv7()`` id defaults and the ``updated_at`` triggers (``abdb migrate check``, ``abdb verify``)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, text

from abdb.db.base import Base
from abdb.db.models import TABLES_WITH_UPDATED_AT
from abdb.domain.vocabulary import VOCABULARY_TABLES


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
