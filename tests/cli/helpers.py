"""Running the real `abdb` executable in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ABDB = [sys.executable, "-m", "abdb"]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def abdb(
    *args: str,
    home: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> Run:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    environment["ABDB_BACKEND"] = "embedded"
    environment["ABDB_SHARED_BUFFERS"] = os.environ.get("ABDB_SHARED_BUFFERS", "128MB")  # many small servers
    if home is not None:
        environment["ABDB_HOME"] = str(home)
    environment.update(env or {})
    completed = subprocess.run(
        [*ABDB, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
