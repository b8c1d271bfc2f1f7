"""How every table is placed on a Citus cluster, and the helper that places them.

The data is a forest of small independent trees, Citus's multi-tenant pattern with the antibody as tenant:
every table of the tree is distributed by its antibody's id and co-located with ``antibody_sequences``, so one
antibody's rows (and the foreign keys between them) live on one shard. The claim queue is distributed by its
bucket, apart. Users, import runs and the vocabularies are reference tables (a copy on every node).
``tests/integration/test_distribution.py`` checks Citus's rules against the migrated schema; the rules and
the deployment are in ``docs/scale-out.md``.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from abdb.domain.vocabulary import VOCABULARY_TABLES

ANCHOR = "antibody_sequences"
# table -> its distribution column (the antibody's id), parents before children
BY_ANTIBODY: dict[str, str] = {
    "antibody_sequences": "id",
    "antibody_chains": "antibody_sequence_id",
    "processing_jobs": "sequence_id",
    "antibody_domains": "antibody_sequence_id",
    "antibody_regions": "antibody_sequence_id",
    "cdr_search": "antibody_sequence_id",
    "sequence_features": "sequence_id",
    "external_tool_results": "antibody_sequence_id",
}
# distributed by their own column, not co-located with the tree
APART: dict[str, str] = {"job_queue": "bucket"}
REFERENCE: tuple[str, ...] = ("users", "import_runs", *VOCABULARY_TABLES)
LOCAL: tuple[str, ...] = ("alembic_version",)  # the coordinator's own
# reference tables that an import batch writes after its multi-shard statements: no distributed table may
# have a foreign key to them ("cannot modify table … because there was a parallel operation")
WRITTEN_BY_BATCHES: tuple[str, ...] = ("import_runs",)
# the one trigger function allowed on Citus tables (it touches only the new row: safe with
# citus.enable_unsafe_triggers)
ALLOWED_TRIGGER_FUNCTIONS: tuple[str, ...] = ("abdb_touch_updated_at",)


def distribution_column(table: str) -> str | None:
    return BY_ANTIBODY.get(table) or APART.get(table)


def citus_present(connection: Connection) -> bool:
    return connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).first() is not None


def distribute(connection: Connection) -> list[str]:
    """On a Citus coordinator, make the reference tables and distribute the others (those not placed yet);
    elsewhere do nothing. Returns what it did, one line per table. Migrations that add tables call it."""
    if not citus_present(connection):
        return []
    placed = {row[0] for row in connection.execute(text("SELECT logicalrelid::regclass::text FROM pg_dist_partition"))}
    done = []
    for table in REFERENCE:
        if table not in placed:
            connection.execute(text("SELECT create_reference_table(:table)"), {"table": table})
            done.append(f"{table}: reference table")
    for table, column in BY_ANTIBODY.items():
        if table not in placed:
            colocate = "none" if table == ANCHOR else ANCHOR
            connection.execute(
                text("SELECT create_distributed_table(:table, :column, colocate_with => :colocate)"),
                {"table": table, "column": column, "colocate": colocate},
            )
            done.append(f"{table}: distributed by {column}")
    for table, column in APART.items():
        if table not in placed:
            connection.execute(
                text("SELECT create_distributed_table(:table, :column, colocate_with => 'none')"),
                {"table": table, "column": column},
            )
            done.append(f"{table}: distributed by {column}, apart from the tree")
    return done
