"""Citus's rules, checked on the migrated schema without Citus (abdb.db.distribution; docs/scale-out.md).

R1 the distribution column is NOT NULL and of one type; R2 every primary key and unique index contains it;
R3 every foreign key between co-located tables pairs the two distribution columns at the same position;
R4 no SET NULL/SET DEFAULT on a key that holds the distribution column; R5 distributed tables reference only
co-located or reference tables; R6 reference tables never reference distributed ones; R7 no foreign key to a
reference table that import batches write; R8 only the updated_at trigger; R9 every table is classified.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from abdb.db.distribution import (
    ALLOWED_TRIGGER_FUNCTIONS,
    APART,
    BY_ANTIBODY,
    LOCAL,
    REFERENCE,
    WRITTEN_BY_BATCHES,
    citus_present,
    distribute,
    distribution_column,
)

DISTRIBUTED = {**BY_ANTIBODY, **APART}


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql)))


def _foreign_keys(engine: Engine) -> list[tuple[str, str, list[str], list[str], str, str]]:
    """(table, referenced table, columns, referenced columns, ON DELETE action, name) of every foreign key."""
    return [
        (row[0], row[1], list(row[2]), list(row[3]), row[4], row[5])
        for row in _rows(
            engine,
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, "
            "(SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) "
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), "
            "(SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) "
            " JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), "
            "c.confdeltype, c.conname FROM pg_constraint c WHERE c.contype = 'f' "
            "AND c.connamespace = 'public'::regnamespace",
        )
    ]


def test_r9_every_table_is_classified_once(engine: Engine) -> None:
    tables = {row[0] for row in _rows(engine, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    classes = [set(BY_ANTIBODY), set(APART), set(REFERENCE), set(LOCAL)]
    assert set().union(*classes) == tables
    assert sum(len(c) for c in classes) == len(tables)  # no table in two classes


@pytest.mark.parametrize("table", sorted(DISTRIBUTED))
def test_r1_the_distribution_column_is_not_null_and_of_one_type(engine: Engine, table: str) -> None:
    [(nullable, kind)] = _rows(
        engine,
        f"SELECT is_nullable, data_type FROM information_schema.columns WHERE table_schema = 'public' "
        f"AND table_name = '{table}' AND column_name = '{DISTRIBUTED[table]}'",
    )
    assert nullable == "NO"
    assert kind == ("uuid" if table in BY_ANTIBODY else "smallint")


@pytest.mark.parametrize("table", sorted(DISTRIBUTED))
def test_r2_every_primary_key_and_unique_index_contains_the_distribution_column(engine: Engine, table: str) -> None:
    indexes = _rows(
        engine,
        "SELECT i.indexrelid::regclass::text, (SELECT array_agg(a.attname) FROM pg_attribute a "
        " WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) FROM pg_index i "
        f"WHERE i.indrelid = '{table}'::regclass AND (i.indisunique OR i.indisprimary OR i.indisexclusion)",
    )
    assert indexes, table
    for name, columns in indexes:
        assert DISTRIBUTED[table] in (columns or []), name


def test_r3_foreign_keys_between_colocated_tables_pair_their_distribution_columns(engine: Engine) -> None:
    checked = 0
    for table, parent, columns, parent_columns, _, name in _foreign_keys(engine):
        if table in BY_ANTIBODY and parent in BY_ANTIBODY:
            pairs = list(zip(columns, parent_columns, strict=True))
            assert (BY_ANTIBODY[table], BY_ANTIBODY[parent]) in pairs, name
            checked += 1
    assert checked == 8  # chains, jobs, features → sequences; domains, features → chains; regions; tool results;
    # search rows → regions


def test_r4_no_set_null_or_set_default_on_a_key_that_holds_the_distribution_column(engine: Engine) -> None:
    for table, _, columns, _, action, name in _foreign_keys(engine):
        if distribution_column(table) in columns:
            assert action not in ("n", "d"), name


def test_r5_r6_r7_distributed_tables_reference_only_their_group_or_unwritten_reference_tables(engine: Engine) -> None:
    for table, parent, _, _, _, name in _foreign_keys(engine):
        if table in BY_ANTIBODY:
            assert parent in BY_ANTIBODY or parent in REFERENCE, name  # R5
            assert parent not in WRITTEN_BY_BATCHES, name  # R7
        elif table in APART:
            assert parent in REFERENCE, name  # the queue names only vocabularies
        if table in REFERENCE:
            assert parent not in DISTRIBUTED, name  # R6


def test_r8_only_the_updated_at_trigger_is_on_any_table(engine: Engine) -> None:
    triggers = _rows(
        engine,
        "SELECT t.tgrelid::regclass::text, t.tgname, p.proname FROM pg_trigger t "
        "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal",
    )
    assert triggers
    assert {function for _, _, function in triggers} <= set(ALLOWED_TRIGGER_FUNCTIONS)


def test_the_placement_helper_does_nothing_without_citus(engine: Engine) -> None:
    with engine.begin() as connection:
        assert not citus_present(connection)
        assert distribute(connection) == []


def test_db_status_counts_big_tables_from_statistics_unless_exact(
    settings: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from abdb.db import catalog
    from abdb.services import database as database_service

    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO antibody_sequences (name) SELECT 'ab' || n FROM generate_series(1, 500) n")
        )
        connection.execute(text("ANALYZE antibody_sequences"))
    monkeypatch.setattr(catalog, "EXACT_COUNT_LIMIT", 100)  # as if 500 rows were hundreds of millions
    estimated = database_service.status(settings).row_counts
    assert estimated["antibody_sequences"] == (500, False)  # from pg_class.reltuples, no scan
    assert estimated["antibody_chains"] == (0, True)  # small tables stay exact
    assert database_service.status(settings, exact=True).row_counts["antibody_sequences"] == (500, True)
