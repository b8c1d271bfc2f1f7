"""The package's public names: each resolves, and importing abdb loads no database code."""

from __future__ import annotations

import subprocess
import sys

import abdb


def test_every_public_name_resolves() -> None:
    for name in abdb.__all__:
        assert getattr(abdb, name) is not None, name


def test_the_use_cases_of_the_command_line_are_public() -> None:
    for name in ("import_files", "import_fasta", "import_legacy_json", "annotate", "verify", "retry_jobs"):
        assert callable(getattr(abdb, name))


def test_importing_abdb_loads_no_database_code() -> None:
    probe = "import sys, abdb; print(any(m.split('.')[0] in {'sqlalchemy', 'psycopg'} for m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
