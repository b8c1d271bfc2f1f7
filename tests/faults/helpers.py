"""Shared pieces of the fault tests: running abdb as a real process, and the state checks after a fault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from benchmarks.synthetic import SyntheticAntibody, generate_antibodies, v2_document


def start_abdb(url: URL, *arguments: str) -> subprocess.Popen[str]:
    """`abdb` in its own session, so a test can signal its whole process group as a terminal would; Ctrl-C
    back to its default, as a shell gives a foreground command (a test run started in the background, as
    CI scripts are, inherits SIGINT ignored, and abdb rightly keeps it so)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    command = [sys.executable, "-m", "abdb", "--database-url", url.render_as_string(hide_password=False)]
    return subprocess.Popen(
        [*command, *arguments],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_ctrl_c_by_default,
    )


def _ctrl_c_by_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def process_running(pid: int) -> bool:
    """Alive and not a zombie (nobody reaps orphans here, so a dead child can linger as one)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def scalar(url: URL, sql: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def wait_for(url: URL, sql: str, at_least: int, process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while scalar(url, sql) < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{sql} never reached {at_least}"
        time.sleep(0.01)


def wait_for_its_connections_to_end(url: URL, timeout: float = 30) -> None:
    """After a client was killed: wait until the server has closed every other connection to the database.
    A COMMIT the client sent just before it died is still completed by the server, and two counts read while
    it lands would disagree (seen in CI: 325 antibodies, then counters of 350)."""
    deadline = time.monotonic() + timeout
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    while scalar(url, others):
        assert time.monotonic() < deadline, "the killed client's connections never closed"
        time.sleep(0.01)


def write_v2(path: Path, antibodies: list[SyntheticAntibody]) -> Path:
    path.write_text(json.dumps(v2_document(antibodies)))
    return path


def write_heavy_fasta(path: Path, antibodies: list[SyntheticAntibody]) -> Path:
    path.write_text("".join(f">{a.name}|heavy\n{a.heavy.sequence}\n" for a in antibodies))
    return path


def antibodies(count: int, seed: int) -> list[SyntheticAntibody]:
    return generate_antibodies(count, seed=seed)


BROKEN_ANTIBODIES = """
    SELECT count(*) FROM antibody_sequences s
    WHERE (SELECT count(*) FROM antibody_chains c WHERE c.antibody_sequence_id = s.id) <> 2
       OR EXISTS (SELECT 1 FROM antibody_chains c WHERE c.antibody_sequence_id = s.id
                  AND (SELECT count(*) FROM antibody_domains d WHERE d.chain_id = c.id) <> 1)
       OR EXISTS (SELECT 1 FROM antibody_chains c JOIN antibody_domains d ON d.chain_id = c.id
                  WHERE c.antibody_sequence_id = s.id
                  AND (SELECT count(*) FROM antibody_regions r WHERE r.domain_id = d.id) <> 7)
"""
