"""Import throughput against its ceiling, measured in the same run on the same server.

    .venv/bin/python -m benchmarks.import_bench [--antibodies 20000] [--batch-size 1000] [--oas 100000]

1. Generates N realistic antibodies (the published therapeutics' variable domains with mutated CDRs; two
   chains, one variable domain each, seven regions each) as annotation-result v2 JSON files of 1,000.
2. Imports them with the real command, ``abdb import legacy-json`` (a subprocess: parsing, validation,
   position recomputation, checksums, COPY, commit per batch, ANALYZE).
3. The ceiling: ``psql \\copy`` of exactly the same rows, from TSV, into a second database with the same
   schema (keys, foreign keys, indexes), in one transaction.

Prints rows, seconds and rows/s for both and the ratio (target: at least 60% of the ceiling). With
``--oas N``, the same for an OAS paired unit of N antibodies with their ANARCI numbering (``abdb import
oas``; see ``oas_import_case``), and the importer's peak RSS for a 10,000-row unit and the N-row one;
``--antibodies 0`` runs that case alone. Uses the embedded PostgreSQL in a temporary folder, or the server
of ``ABDB_BENCH_DATABASE_URL`` when set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.backends.embedded import EmbeddedServer, binaries_dir
from abdb.config import Settings, parse_url
from abdb.domain.records import AntibodyRecord
from abdb.io.legacy import read_legacy_antibodies
from abdb.services import migrations
from abdb.services.importing.rows import COLUMNS, RowContext, prepare
from benchmarks.synthetic import generate_antibodies, v2_document

FILE_SIZE = 1000


@contextmanager
def server() -> Iterator[URL]:
    external = os.environ.get("ABDB_BENCH_DATABASE_URL")
    if external:
        yield parse_url(external)
        return
    with tempfile.TemporaryDirectory(prefix="abdb-bench-") as folder:
        if os.geteuid() == 0:  # the server runs as a system user: let it through this folder of ours (as the tests do)
            os.chmod(folder, 0o711)
        embedded = EmbeddedServer(Path(folder) / "pgdata")
        embedded.start()
        try:
            yield embedded.url("postgres")
        finally:
            embedded.destroy()


def fresh_database(root: URL, name: str, *, migrated: bool = True) -> URL:
    admin = create_engine(root.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = root.set(database=name)
    if migrated:
        migrations.upgrade(Settings(database_url=url))
    return url


def write_inputs(folder: Path, count: int) -> list[Path]:
    antibodies = generate_antibodies(count)
    paths = []
    for start in range(0, count, FILE_SIZE):
        path = folder / f"results_{start // FILE_SIZE:04d}.json"
        path.write_text(json.dumps(v2_document(antibodies[start : start + FILE_SIZE])))
        paths.append(path)
    return paths


def run_import(url: URL, folder: Path, batch_size: int) -> tuple[float, int]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    command = [sys.executable, "-m", "abdb", "--database-url", url.render_as_string(hide_password=False)]
    started = time.perf_counter()
    completed = subprocess.run(
        [*command, "import", "legacy-json", str(folder), "--json", "--batch-size", str(batch_size)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"import failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return seconds, int(json.loads(completed.stdout)["rows"])


def write_tsv(paths: list[Path], folder: Path) -> dict[str, Path]:
    """Exactly the COPY text the importer sends, one file per table, for psql's \\copy."""
    files = {table: folder / f"{table}.tsv" for table in COLUMNS}
    handles = [path.open("w") for path in files.values()]
    context = RowContext(public=False, creator_id=None, run_id=None, sha256="0" * 64)
    for path in paths:
        for record in read_legacy_antibodies(path):
            if isinstance(record, AntibodyRecord):
                for handle, text_rows in zip(handles, prepare(record, context).text, strict=True):
                    handle.write(text_rows)
    for handle in handles:
        handle.close()
    return files


def psql_environment(url: URL) -> dict[str, str]:
    """The environment that points psql at ``url`` (the password in PGPASSWORD, never on a command line)."""
    environment = dict(os.environ)
    environment.update(
        {
            "PGHOST": str(url.query.get("host") or url.host or ""),
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
            "PGDATABASE": url.database or "",
        }
    )
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    return environment


def run_psql_copy(url: URL, files: dict[str, Path]) -> float:
    script = files["antibody_sequences"].parent / "ceiling.sql"
    lines = [f"\\copy {table} ({', '.join(COLUMNS[table])}) FROM '{path}'" for table, path in files.items()]
    script.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    subprocess.run(
        [str(binaries_dir() / "psql"), "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(script)],
        env=psql_environment(url),
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--antibodies", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--oas", type=int, default=0, help="antibodies of the OAS paired-unit case (0: none)")
    arguments = parser.parse_args()
    with server() as root, tempfile.TemporaryDirectory(prefix="abdb-bench-data-") as scratch:
        folder = Path(scratch)
        if arguments.antibodies:
            legacy_case(root, folder, arguments.antibodies, arguments.batch_size)
        if arguments.oas:
            oas_case(root, folder, arguments.oas)


def legacy_case(root: URL, folder: Path, antibodies: int, batch_size: int) -> None:
    inputs = folder / "inputs"
    inputs.mkdir()
    paths = write_inputs(inputs, antibodies)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    import_url = fresh_database(root, "abdb_bench_import")
    import_seconds, rows = run_import(import_url, inputs, batch_size)
    ceiling_url = fresh_database(root, "abdb_bench_ceiling")
    tsv = write_tsv(paths, folder)
    copy_seconds = run_psql_copy(ceiling_url, tsv)
    import_rate, copy_rate = rows / import_seconds, rows / copy_seconds
    print(f"input: {antibodies:,} antibodies in {len(paths)} legacy JSON files ({megabytes:.1f} MB)")
    print(f"abdb import legacy-json: {rows:,} rows in {import_seconds:.2f} s = {import_rate:,.0f} rows/s (end to end)")
    print(f"psql \\copy ceiling:      {rows:,} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio to the ceiling: {import_rate / copy_rate:.0%} (target: at least 60%)")


def oas_case(root: URL, folder: Path, antibodies: int) -> None:
    from benchmarks.oas_import_case import ceiling_files, import_oas, write_units

    small = min(10_000, antibodies)
    whole, part = write_units(folder, antibodies, small)
    megabytes = whole.stat().st_size / 1e6
    seconds, peak, rows = import_oas(fresh_database(root, "abdb_bench_oas"), whole)
    small_seconds, small_peak, _ = import_oas(fresh_database(root, "abdb_bench_oas_small"), part)
    copy_seconds = run_psql_copy(fresh_database(root, "abdb_bench_oas_ceiling"), ceiling_files(whole, folder))
    rate, copy_rate = rows / seconds, rows / copy_seconds
    print(f"input: one OAS paired unit of {antibodies:,} antibodies with ANARCI numbering ({megabytes:.1f} MB)")
    print(f"abdb import oas: {rows:,} rows in {seconds:.2f} s = {rate:,.0f} rows/s (end to end)")
    print(f"psql \\copy ceiling: {rows:,} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio to the ceiling: {rate / copy_rate:.0%} (target: at least 60%)")
    print(
        f"peak RSS of abdb import oas: {small_peak / 1024:.0f} MB for {small:,} rows ({small_seconds:.1f} s), "
        f"{peak / 1024:.0f} MB for {antibodies:,} rows"
    )


if __name__ == "__main__":
    main()
