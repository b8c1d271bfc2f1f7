"""The README's backup section, run as written on the embedded backend: back up, lose the data folder,
restore, verify; every row comes back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import abdb

REPO = Path(__file__).resolve().parents[2]
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"


def _backup_section() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Backing up and restoring", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)
    return str(block)


def test_the_readme_backup_steps_bring_every_row_back_after_the_data_folder_is_lost(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for step in (["db", "up"], ["migrate"], ["import", "fasta", str(THERAPEUTICS), "--annotate", "--quiet"]):
        run = abdb(*step, home=home, timeout=600)
        assert run.code == 0, (step, run.output)
    before = json.loads(abdb("db", "status", "--json", "--exact", home=home).stdout)["tables"]
    assert before["antibody_sequences"]["rows"] == 60 and before["antibody_regions"]["rows"] > 0
    # `abdb` in the block is this checkout's, run by this interpreter
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "abdb").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m abdb "$@"\n')
    (shim / "abdb").chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")} | {
        "ABDB_HOME": str(home),
        "ABDB_BACKEND": "embedded",
        "PATH": f"{shim}:{os.environ['PATH']}",
    }
    work = tmp_path / "work"
    work.mkdir()
    script = "set -eu\n" + _backup_section()
    completed = subprocess.run(
        ["sh", "-c", script], cwd=work, env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "checks passed, 0 failed" in completed.stdout
    assert len(list((work / "backups").glob("abdb-*.dump"))) == 1
    after = json.loads(abdb("db", "status", "--json", "--exact", home=home).stdout)["tables"]
    assert after == before
    assert abdb("db", "down", home=home).code == 0
