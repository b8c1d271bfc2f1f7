"""The database itself refuses bad rows, generates UUIDv7 ids and maintains updated_at."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
import uuid_utils.compat
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from abdb.db.models import DATA_TABLES, TABLES_WITH_UPDATED_AT

SEQUENCE = "QVQLVQSGAEVKKPGASVKVSCKASGYTFT"


def _insert_tree(connection: Connection) -> dict[str, uuid.UUID]:
    ids = {}
    ids["user"] = connection.execute(
        text("INSERT INTO users (email, username) VALUES ('Ada@Example.org', 'ada') RETURNING id")
    ).scalar_one()
    ids["import_run"] = connection.execute(
        text("INSERT INTO import_runs (command, created_by) VALUES ('fasta', :u) RETURNING id"), {"u": ids["user"]}
    ).scalar_one()
    ids["sequence"] = connection.execute(
        text("INSERT INTO antibody_sequences (name, created_by, import_run_id) VALUES ('mAb1', :u, :r) RETURNING id"),
        {"u": ids["user"], "r": ids["import_run"]},
    ).scalar_one()
    ids["chain"] = connection.execute(
        text(
            "INSERT INTO antibody_chains (antibody_sequence_id, name, chain_type, sequence, sequence_length) "
            "VALUES (:s, 'heavy', 'HEAVY', :seq, :n) RETURNING id"
        ),
        {"s": ids["sequence"], "seq": SEQUENCE, "n": len(SEQUENCE)},
    ).scalar_one()
    ids["domain"] = connection.execute(
        text(
            "INSERT INTO antibody_domains (antibody_sequence_id, chain_id, domain_type, numbering_scheme, sequence, "
            "start_position, end_position) VALUES (:s, :c, 'VARIABLE', 'IMGT', :seq, 1, :n) RETURNING id"
        ),
        {"s": ids["sequence"], "c": ids["chain"], "seq": SEQUENCE, "n": len(SEQUENCE)},
    ).scalar_one()
    ids["region"] = connection.execute(
        text(
            "INSERT INTO antibody_regions (antibody_sequence_id, domain_id, region_type, sequence, start_position, "
            "end_position) VALUES (:s, :d, 'FR1', 'QVQLV', 1, 5) RETURNING id"
        ),
        {"s": ids["sequence"], "d": ids["domain"]},
    ).scalar_one()
    ids["feature"] = connection.execute(
        text(
            "INSERT INTO sequence_features (sequence_id, chain_id, feature_type, name, value, source) "
            "VALUES (:s, :c, 'GENE', 'v_gene', 'IGHV1-2', 'MANUAL') RETURNING id"
        ),
        {"s": ids["sequence"], "c": ids["chain"]},
    ).scalar_one()
    ids["job"] = connection.execute(
        text("INSERT INTO processing_jobs (sequence_id, job_type) VALUES (:s, 'ANNOTATION') RETURNING id"),
        {"s": ids["sequence"]},
    ).scalar_one()
    ids["tool_result"] = connection.execute(
        text(
            "INSERT INTO external_tool_results (antibody_sequence_id, job_id, tool_name, success) "
            "VALUES (:s, :j, 'ANARCI', true) RETURNING id"
        ),
        {"s": ids["sequence"], "j": ids["job"]},
    ).scalar_one()
    return ids


BAD_ROWS = {
    "domain starting at position 0": "UPDATE antibody_domains SET start_position = 0",
    "domain ending before it starts": "UPDATE antibody_domains SET end_position = 0, start_position = 1",
    "region starting at position 0": "UPDATE antibody_regions SET start_position = 0",
    "region ending before it starts": "UPDATE antibody_regions SET start_position = 5, end_position = 4",
    "feature ending before it starts": "UPDATE sequence_features SET start_position = 9, end_position = 3",
    "feature starting at position 0": "UPDATE sequence_features SET start_position = 0",
    "chain length that is not the sequence length": "UPDATE antibody_chains SET sequence_length = 3",
    "domain confidence above 1": "UPDATE antibody_domains SET confidence_score = 1.5",
    "region confidence below 0": "UPDATE antibody_regions SET confidence_score = -0.1",
    "feature confidence above 1": "UPDATE sequence_features SET confidence_score = 1.01",
    "job completed before it started": "UPDATE processing_jobs SET started_at = now(), "
    "completed_at = now() - interval '1 minute'",
    "unknown chain type": "UPDATE antibody_chains SET chain_type = 'HEAVVY'",
    "unknown region type": "UPDATE antibody_regions SET region_type = 'CDR4'",
    "unknown job status": "UPDATE processing_jobs SET status = 'DONE'",
    "unknown numbering scheme": "UPDATE antibody_domains SET numbering_scheme = 'imgt'",
    "second user with the same email in other case": "INSERT INTO users (email, username) "
    "VALUES ('ada@EXAMPLE.org', 'ada2')",
    "second user with the same username": "INSERT INTO users (email, username) VALUES ('b@example.org', 'ada')",
    "chain of a sequence that does not exist": "INSERT INTO antibody_chains (antibody_sequence_id, name, "
    "chain_type, sequence, sequence_length) VALUES (uuidv7(), 'x', 'HEAVY', 'A', 1)",
    "sequence without a name": "INSERT INTO antibody_sequences (name) VALUES (NULL)",
}


@pytest.mark.parametrize("statement", BAD_ROWS.values(), ids=list(BAD_ROWS))
def test_the_database_refuses_a_bad_row(engine: Engine, statement: str) -> None:
    with engine.connect() as connection:
        _insert_tree(connection)
        with pytest.raises(IntegrityError):
            connection.execute(text(statement))


def test_rows_inserted_by_plain_sql_get_version_7_ids_that_carry_their_creation_time(engine: Engine) -> None:
    with engine.begin() as connection:
        ids = _insert_tree(connection)
    with engine.connect() as connection:
        for table in DATA_TABLES:
            rows = connection.execute(
                text(f"SELECT id, uuid_extract_version(id), uuid_extract_timestamp(id), created_at FROM {table}")
            ).all()
            assert rows, table
            for row_id, version, embedded, created_at in rows:
                assert version == 7, (table, row_id)
                assert abs((embedded - created_at).total_seconds()) < 5, table
    assert len(set(ids.values())) == len(ids)


def test_client_side_ids_are_rfc_9562_version_7_with_the_current_time(engine: Engine) -> None:
    client_id = uuid_utils.compat.uuid7()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO antibody_sequences (id, name) VALUES (:id, 'client')"), {"id": client_id})
        embedded, created_at = connection.execute(
            text("SELECT uuid_extract_timestamp(id), created_at FROM antibody_sequences WHERE id = :id"),
            {"id": client_id},
        ).one()
    assert client_id.version == 7
    assert abs((embedded - created_at).total_seconds()) < 5
    assert embedded.year == dt.datetime.now(dt.UTC).year


@pytest.mark.parametrize("table", TABLES_WITH_UPDATED_AT)
def test_the_trigger_moves_updated_at_on_a_raw_sql_update(engine: Engine, table: str) -> None:
    with engine.begin() as connection:
        _insert_tree(connection)
    with engine.begin() as connection:
        before = connection.execute(text(f"SELECT updated_at FROM {table}")).scalar_one()
    time.sleep(0.01)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {table} SET created_at = created_at"))
        after = connection.execute(text(f"SELECT updated_at FROM {table}")).scalar_one()
    assert after > before


def test_the_trigger_moves_updated_at_on_an_upsert(engine: Engine) -> None:
    with engine.begin() as connection:
        ids = _insert_tree(connection)
        before = connection.execute(text("SELECT updated_at FROM users")).scalar_one()
    time.sleep(0.01)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, username) VALUES (:id, 'x@example.org', 'ada') "
                "ON CONFLICT (username) DO UPDATE SET email = excluded.email"
            ),
            {"id": uuid.uuid4()},
        )
        after = connection.execute(text("SELECT updated_at FROM users WHERE id = :id"), {"id": ids["user"]})
    assert after.scalar_one() > before


def test_deleting_a_sequence_cascades_down_the_whole_hierarchy(engine: Engine) -> None:
    with engine.begin() as connection:
        ids = _insert_tree(connection)
        connection.execute(text("DELETE FROM antibody_sequences WHERE id = :id"), {"id": ids["sequence"]})
        for table in DATA_TABLES:
            count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert count == (1 if table in ("users", "import_runs") else 0), table


def test_deleting_a_user_keeps_their_sequences_with_no_creator(engine: Engine) -> None:
    with engine.begin() as connection:
        ids = _insert_tree(connection)
        connection.execute(text("DELETE FROM users"))
        creator = connection.execute(
            text("SELECT created_by FROM antibody_sequences WHERE id = :id"), {"id": ids["sequence"]}
        ).one()
    assert creator == (None,)


def test_every_foreign_key_is_covered_by_an_index(engine: Engine) -> None:
    query = text(
        """
        SELECT c.conrelid::regclass::text, a.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND NOT EXISTS (
            SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
        )
        """
    )
    with engine.connect() as connection:
        assert connection.execute(query).all() == []


def test_the_metadata_columns_keep_their_name(engine: Engine) -> None:
    with engine.connect() as connection:
        tables = (
            connection.execute(
                text(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = 'metadata' "
                    "ORDER BY table_name"
                )
            )
            .scalars()
            .all()
        )
    assert tables == ["antibody_chains", "antibody_sequences", "sequence_features"]
