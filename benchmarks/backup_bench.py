"""Backup and restore of N annotated antibodies: `abdb db backup` / `restore` with --jobs 1 and 2, against
`psql \\copy` of every table in the same run, and the restored rows checked equal.

    .venv/bin/python -m benchmarks.backup_bench [--antibodies 100000]

1. Loads N annotated antibodies (two chains, IMGT domains and regions, features, jobs) with
   ``abdb import legacy-json``.
2. Reference: ``psql \\copy TABLE TO file`` of every table, one after the other (the data out, nothing else).
3. ``abdb db backup``: custom format (one gzip file, one job), directory format with ``--jobs 1`` and ``2``.
4. ``abdb db restore`` of the custom file with ``--jobs 1`` and ``2`` and of the directory with ``--jobs 2``,
   each into an empty database: pg_restore with ANALYZE, and the whole command with ``abdb verify``.
5. Per-table checksums of every row (``tests/canonical_dump.table_checksums``) equal to the source's, and
   verify clean, for every restore.

Uses the embedded PostgreSQL in a temporary folder, or the server of ``ABDB_BENCH_DATABASE_URL`` when set.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.config import Settings
from abdb.db.models import DATA_TABLES
from abdb.services.backup import backup, restore
from benchmarks.export_bench import psql
from benchmarks.import_bench import fresh_database, run_import, server, write_inputs
from tests.canonical_dump import table_checksums


def checksums(url: URL) -> dict[str, tuple[int, str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return table_checksums(engine)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--antibodies", type=int, default=100_000)
    arguments = parser.parse_args()
    with server() as root, tempfile.TemporaryDirectory(prefix="abdb-bench-backup-") as scratch:
        folder = Path(scratch)
        inputs = folder / "inputs"
        inputs.mkdir()
        write_inputs(inputs, arguments.antibodies)
        source = fresh_database(root, "abdb_bench_backup")
        seconds, rows = run_import(source, inputs, 1000)
        print(f"loaded {arguments.antibodies:,} annotated antibodies ({rows:,} rows) in {seconds:.0f} s")
        expected = checksums(source)
        settings = Settings(database_url=source)

        copies = folder / "copies"
        copies.mkdir()
        tables = [*DATA_TABLES, "alembic_version"]
        reference = sum(psql(source, f"\\copy {table} TO '{copies / table}.tsv'") for table in tables)
        copied = sum((copies / f"{table}.tsv").stat().st_size for table in tables)
        print(f"reference, psql \\copy of {len(tables)} tables: {reference:.1f} s ({copied / 1e6:.0f} MB of text)")

        made = {}
        for label, fmt, jobs in (("custom", "custom", 1), ("directory --jobs 1", "directory", 1),
                                 ("directory --jobs 2", "directory", 2)):  # fmt: skip
            started = time.perf_counter()
            report = backup(settings, folder / f"backup-{fmt}-{jobs}", fmt, jobs)
            seconds = time.perf_counter() - started
            made[label] = report.path
            print(f"abdb db backup, {label}: {seconds:.1f} s, {report.bytes / 1e6:.0f} MB "
                  f"(x{seconds / reference:.2f} the reference)")  # fmt: skip

        for label, source_label, jobs in (("custom, --jobs 1", "custom", 1), ("custom, --jobs 2", "custom", 2),
                                          ("directory, --jobs 2", "directory --jobs 2", 2)):  # fmt: skip
            target = fresh_database(root, "abdb_bench_restored", migrated=False)
            started = time.perf_counter()
            restored = restore(Settings(database_url=target), made[source_label], jobs=jobs)
            seconds = time.perf_counter() - started
            clean = restored.verified is not None and not restored.verified.violations
            equal = checksums(target) == expected
            verdict = f"verify {'clean' if clean else 'FAILED'}, rows {'equal' if equal else 'DIFFERENT'}"
            ratio = restored.seconds / reference
            print(f"abdb db restore, {label}: {restored.seconds:.1f} s restore + ANALYZE (x{ratio:.2f} the reference), "
                  f"{seconds:.1f} s with verify; {verdict}")  # fmt: skip
            if not (clean and equal):
                raise SystemExit("a restore did not give back the same rows")


if __name__ == "__main__":
    main()
