"""The first searches after a restart: cold, after ``abdb search warm``, and after a restart with autoprewarm.

    .venv/bin/python -m benchmarks.search_first_pass --pgdata DIR [--database abdb_bench_search] [--queries 40]

Needs an embedded server's data folder holding a loaded database (``benchmarks.search_bench`` makes one), and
root, to empty the operating system's page cache (``/proc/sys/vm/drop_caches``). For each way of starting,
stops the server, empties the page cache, starts it, and times a first pass of exact, substring, motif and
``--max-edits 1`` searches; reports p50/p95/max and each p95 against the cold start's, measured in the same
run (the reference):
- ``cold``: nothing done (the autoprewarm file removed, so nothing is reloaded either);
- ``warm``: ``abdb search warm`` run after the start (its time is reported; no autoprewarm file either);
- ``autoprewarm``: what was in shared buffers at the end of ``warm`` (the pages ``abdb search warm`` read, and
  the searches') is written down at shutdown and read back at the start; the searches begin when the server's
  autoprewarm worker is done.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL

from abdb.backends.embedded import EmbeddedServer
from abdb.config import Settings
from abdb.database import Database
from abdb.services.searching import search_regions
from benchmarks.search_bench import abdb, percentile, searches

KINDS = ("exact", "substring", "motif", "edits 1")


def _wait_for_autoprewarm(connection: Connection) -> None:
    """Until the worker reading the pages of the last shutdown back in has started (its leader launches it
    a moment after the server accepts connections; at most 10 s) and exited."""
    started = time.perf_counter()
    workers = text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autoprewarm worker'")
    seen = False
    while (running := connection.execute(workers).scalar_one()) or (not seen and time.perf_counter() - started < 10):
        seen = seen or bool(running)
        time.sleep(0.05)
    took = time.perf_counter() - started
    print(f"autoprewarm {'done' if seen else 'not seen'} {took:.1f} s after the first connection")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pgdata", type=Path, required=True)
    parser.add_argument("--database", default="abdb_bench_search")
    parser.add_argument("--queries", type=int, default=40)
    arguments = parser.parse_args()
    socket = {"host": str(arguments.pgdata)}
    url = URL.create("postgresql+psycopg", "postgres", database=arguments.database, query=socket)
    server = EmbeddedServer(arguments.pgdata)
    reference: dict[str, float] = {}
    server.start()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")  # autocommit: pg_stat_activity read anew each time
    with engine.connect() as connection:  # the queries, picked once: their pages are read here
        cdr3s = list(connection.execute(text("SELECT sequence FROM cdr_search WHERE region_type = 'CDR3' "
                                             "AND numbering_scheme = 'IMGT' LIMIT 200000")).scalars())  # fmt: skip
    engine.dispose()  # no pooled connection is to outlive a restart
    for way in ("cold", "warm", "autoprewarm"):
        server.stop()  # autoprewarm writes down what is in shared buffers
        if way != "autoprewarm":
            (arguments.pgdata / "autoprewarm.blocks").unlink(missing_ok=True)  # nothing to reload: cold
        subprocess.run("sync && echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
        server.start()
        if way == "warm":
            started = time.perf_counter()
            abdb(url, "search", "warm")
            print(f"abdb search warm: {time.perf_counter() - started:.1f} s")
        if way == "autoprewarm":
            with engine.connect() as connection:
                _wait_for_autoprewarm(connection)
            engine.dispose()
        database = Database(Settings(database_url=url))
        for kind, group in searches(cdr3s, arguments.queries, random.Random(17)).items():
            if kind not in KINDS:
                continue
            timings = []
            for search in group:
                started = time.perf_counter()
                search_regions(database, search)
                timings.append((time.perf_counter() - started) * 1000)
            p95 = percentile(timings, 0.95)
            reference.setdefault(kind, p95)
            print(f"{way:>11} {kind:>9}: p50 {statistics.median(timings):6.1f} ms, p95 {p95:6.1f} ms, "
                  f"max {max(timings):7.1f} ms; p95 {p95 / reference[kind]:.2f} of cold")  # fmt: skip
        database.dispose()
    print("the server is left running", file=sys.stderr)


if __name__ == "__main__":
    main()
