"""What the co-location keys (migration 0008) cost on one machine: bytes per antibody, COPY speed and the
verify window, the previous schema (0007) against head, measured in the same run on the same server.

    .venv/bin/python -m benchmarks.schema_cost [--antibodies 20000] [--rounds 3]

Two databases, one migrated to 0007 and one to head, get exactly the same antibodies (the realistic synthetic
ones of ``synthetic.py``, fully annotated: two chains, a variable domain and seven regions each, as
annotation-result JSON gives them: no pending job) as the COPY text the importer sends: head's rows carry
the antibody key on domains and regions; 0007's rows are the same lines without it. Rounds alternate
(0007, head, 0007, head, …) into emptied tables; the ratio head ÷ 0007 of each round is printed, then the
median. Bytes are ``pg_total_relation_size`` of every table of the tree (indexes and TOAST included) after
VACUUM ANALYZE. The verify window is the region-layout query of each schema's ``abdb verify``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterable

import psycopg
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.db.rows import IMPORTED_TABLES, ROWS
from abdb.domain.records import AntibodyRecord
from abdb.io.legacy import read_legacy_antibodies
from abdb.services import migrations
from abdb.services.importing.rows import RowContext, prepare
from benchmarks.import_bench import fresh_database, server, write_inputs

KEY = "antibody_sequence_id"
TREE = IMPORTED_TABLES  # external_tool_results included
WINDOW = {  # the region-layout window of verify, as each revision runs it
    "0007": "SELECT count(*) FROM (SELECT lag(r.end_position) OVER (PARTITION BY r.domain_id ORDER BY "
    "r.start_position) FROM antibody_regions r JOIN antibody_domains d ON d.id = r.domain_id) w",
    "head": "SELECT count(*) FROM (SELECT lag(r.end_position) OVER (PARTITION BY r.antibody_sequence_id, "
    "r.domain_id ORDER BY r.start_position) FROM antibody_regions r JOIN antibody_domains d "
    "ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id) w",
}


def copy_text(antibodies: int, folder: str) -> dict[str, dict[str, str]]:
    """{revision: {table: COPY text}} for the same antibodies under both schemas."""
    from pathlib import Path

    context = RowContext(public=False, creator_id=None, run_id=None, sha256="0" * 64)
    head: dict[str, list[str]] = {table: [] for table in IMPORTED_TABLES}
    for path in write_inputs(Path(folder), antibodies):
        for record in read_legacy_antibodies(path):
            if isinstance(record, AntibodyRecord):
                for table, lines in zip(IMPORTED_TABLES, prepare(record, context).text, strict=True):
                    head[table].append(lines)
    texts = {"head": {table: "".join(lines) for table, lines in head.items()}}
    old: dict[str, str] = {}
    for table, text_rows in texts["head"].items():
        columns = ROWS[table]
        if table == "job_queue":
            continue
        if KEY in columns and table in ("antibody_domains", "antibody_regions"):
            drop = columns.index(KEY)
            rows = (
                "\t".join(f for i, f in enumerate(line.split("\t")) if i != drop) for line in text_rows.splitlines()
            )
            old[table] = "".join(f"{row}\n" for row in rows)
        else:
            old[table] = text_rows
    texts["0007"] = old
    return texts


def columns_of(revision: str, table: str) -> tuple[str, ...]:
    columns = ROWS[table]
    if revision == "0007" and table in ("antibody_domains", "antibody_regions"):
        return tuple(c for c in columns if c != KEY)
    return columns


def load(url: URL, revision: str, tables: dict[str, str]) -> float:
    """Empty the tree, then COPY every table in one transaction; seconds for the COPYs and the commit."""
    with psycopg.connect(_dsn(url), autocommit=False) as connection:
        connection.execute("TRUNCATE antibody_sequences CASCADE")
        if revision == "head":
            connection.execute("TRUNCATE job_queue")
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for table, text_rows in tables.items():
                with cursor.copy(f"COPY {table} ({', '.join(columns_of(revision, table))}) FROM STDIN") as copy:
                    copy.write(text_rows)
        connection.commit()
        return time.perf_counter() - started


def measure(url: URL, tables: Iterable[str], window: str) -> tuple[int, float]:
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        size = sum(
            int(connection.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0])  # type: ignore[index]
            for table in tables
        )
        started = time.perf_counter()
        connection.execute(window).fetchone()
        return size, time.perf_counter() - started


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--antibodies", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="abdb-schema-cost-") as folder, server() as root:
        texts = copy_text(arguments.antibodies, folder)
        urls = {"0007": fresh_database(root, "abdb_bench_0007"), "head": fresh_database(root, "abdb_bench_head")}
        migrations.downgrade(Settings(database_url=urls["0007"]), "0007")
        rows = {revision: sum(t.count("\n") for t in tables.values()) for revision, tables in texts.items()}
        tree = {"0007": [t for t in TREE if t != "job_queue"], "head": list(TREE)}
        copy_ratios, window_ratios = [], []
        for round_number in range(1, arguments.rounds + 1):
            seconds = {revision: load(urls[revision], revision, texts[revision]) for revision in ("0007", "head")}
            sizes = {revision: measure(urls[revision], tree[revision], WINDOW[revision]) for revision in seconds}
            copy_ratio = seconds["head"] / seconds["0007"]
            window_ratio = sizes["head"][1] / sizes["0007"][1]
            copy_ratios.append(copy_ratio)
            window_ratios.append(window_ratio)
            print(
                f"round {round_number}: COPY 0007 {rows['0007'] / seconds['0007']:,.0f} rows/s, head "
                f"{rows['head'] / seconds['head']:,.0f} rows/s (head/0007 time x{copy_ratio:.2f}); verify window "
                f"0007 {sizes['0007'][1]:.2f} s, head {sizes['head'][1]:.2f} s (x{window_ratio:.2f})",
                flush=True,
            )
        per = {revision: sizes[revision][0] / arguments.antibodies for revision in sizes}
        print(
            f"bytes per antibody (tables, indexes, TOAST): 0007 {per['0007']:,.0f}, head {per['head']:,.0f} "
            f"(x{per['head'] / per['0007']:.3f})"
        )
        print(
            f"median over {arguments.rounds} rounds: COPY time head/0007 x{statistics.median(copy_ratios):.2f}, "
            f"verify window x{statistics.median(window_ratios):.2f}"
        )


if __name__ == "__main__":
    main()
