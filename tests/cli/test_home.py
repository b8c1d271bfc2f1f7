"""Where the embedded server lives: one home whatever the working folder, paths with spaces and quotes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abdb.config import ROOT_HOME, Settings
from tests.cli.helpers import abdb


def test_the_default_home_does_not_depend_on_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    homes = set()
    for folder in (tmp_path / "a", tmp_path / "b"):
        folder.mkdir()
        monkeypatch.chdir(folder)
        homes.add(Settings.from_environment({}).home)
    # root's server runs as a system user, which could not enter /root: its home is /var/lib/abdb
    assert homes == {ROOT_HOME if os.geteuid() == 0 else tmp_path / "data" / "abdb"}


def test_an_unreachable_server_names_the_home_it_looked_in(tmp_path: Path) -> None:
    home = tmp_path / "never started"
    run = abdb("db", "status", home=home)
    assert run.code == 3
    assert f"abdb home: {home}" in " ".join(run.stderr.split())


def test_a_home_with_spaces_quotes_and_non_ascii_starts_and_reports_itself(tmp_path: Path) -> None:
    home = tmp_path / "dir with space 'quoted' é ü"
    try:
        up = abdb("db", "up", home=home, timeout=180)
        assert up.code == 0, up.output
        status = abdb("db", "status", home=home)
        assert status.code == 0, status.output
        assert f"home:      {home}" in status.stdout
        assert abdb("migrate", home=home).code == 0
        assert os.path.isdir(home / "pgdata")
    finally:
        abdb("db", "down", home=home)


def test_a_home_whose_path_the_server_shell_would_expand_is_refused_with_the_reason(tmp_path: Path) -> None:
    home = tmp_path / "$(touch pwned)"
    run = abdb("db", "up", home=home)
    assert run.code == 3 and "'$'" in run.stderr and "cannot pass to its shell safely" in " ".join(run.stderr.split())
    assert not (home / "pgdata" / "PG_VERSION").exists()
