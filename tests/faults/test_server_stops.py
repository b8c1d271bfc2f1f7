"""The PostgreSQL server stops in the middle of an import: one clear line, nothing partial, a re-run completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from abdb.backends.embedded import EmbeddedServer
from abdb.config import Settings
from abdb.services import migrations
from tests.faults.helpers import BROKEN_ANTIBODIES, antibodies, scalar, start_abdb, wait_for, write_v2

ANTIBODIES = 3000


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[EmbeddedServer, URL]]:
    """A server of this test's own: stopping it must not disturb the other tests."""
    server = EmbeddedServer(tmp_path / "pgdata")
    server.start()
    engine = create_engine(server.url("postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE DATABASE abdb_fault"))
    engine.dispose()
    url = server.url("abdb_fault")
    migrations.upgrade(Settings(database_url=url))
    try:
        yield server, url
    finally:
        server.destroy()


def test_a_server_that_stops_mid_import_gives_one_line_and_a_rerun_completes(
    own_server: tuple[EmbeddedServer, URL], tmp_path: Path
) -> None:
    server, url = own_server
    path = write_v2(tmp_path / "many.json", antibodies(ANTIBODIES, seed=31))
    process = start_abdb(url, "import", "legacy-json", str(path), "--batch-size", "50")
    wait_for(url, "SELECT count(*) FROM antibody_sequences", 200, process)
    server.stop()
    _, stderr = process.communicate(timeout=60)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert process.returncode == 3, stderr
    # the stop lands between statements (unreachable) or during a COMMIT (outcome unknown): one line either way
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: database not reachable") or "failed during COMMIT" in lines[0], stderr
    assert "Traceback" not in stderr

    server.start()
    stored = scalar(url, "SELECT count(*) FROM antibody_sequences")
    assert 0 < stored < ANTIBODIES and stored % 50 == 0
    # and how far it got, as for Ctrl-C (a batch whose COMMIT was cut off may or may not be among them)
    said = int(lines[0].split("the import stopped after 1 file(s): ")[1].split(" antibodies stored")[0])
    assert said in (stored, stored - 50)
    assert scalar(url, BROKEN_ANTIBODIES) == 0
    rerun = start_abdb(url, "import", "legacy-json", str(path), "--batch-size", "50", "--quiet")
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert f"{ANTIBODIES - stored} inserted, {stored} unchanged" in stdout
    assert scalar(url, "SELECT count(*) FROM antibody_sequences") == ANTIBODIES
