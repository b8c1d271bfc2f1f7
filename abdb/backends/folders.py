"""Folders the embedded server uses, made safe on a shared host.

- The socket folder, when the data folder is too deep for a Unix socket path, lives under the temporary
  directory where any local user could create it first: it is created 0700 for the server's user with
  ``mkdir`` (which never follows or reuses an existing path), and any existing path is accepted only if
  ``lstat`` shows a real folder, owned by that user, mode 0700. Otherwise abdb refuses, both to start a
  server there and to connect to one (a planted socket would receive the connection).
- Run as root, the server runs as a system user that must be able to walk down to its data folder and
  binaries. abdb never widens a folder's permissions: it names the folders that block the way and the
  command that would open them. Binaries it cannot reach are copied once into a root-owned 0755 folder
  under ``/var/lib/abdb`` (the same for every home), which needs no permission change anywhere.
- One ``db up``/``db down`` at a time per home: a lock file in the home serialises them.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from abdb.errors import BackendError

SHARED_ROOT = Path("/var/lib/abdb")
LOCK_FILE = ".abdb-server.lock"


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_private_folder(path: Path, uid: int) -> None:
    """Raise unless ``path`` is a real folder (not a link) owned by ``uid`` with mode 0700."""
    info = os.lstat(path)
    problems = []
    if stat.S_ISLNK(info.st_mode):
        problems.append("a symbolic link")
    elif not stat.S_ISDIR(info.st_mode):
        problems.append("not a folder")
    if info.st_uid != uid:
        problems.append(f"owned by {_owner_name(info.st_uid)}")
    if stat.S_IMODE(info.st_mode) != 0o700:
        problems.append(f"mode {stat.S_IMODE(info.st_mode):04o}")
    if problems:
        raise BackendError(
            f"refusing the socket folder {path}: it is {', '.join(problems)}, not a private folder of "
            f"{_owner_name(uid)} (mode 0700); another local user may have created it to take the server over",
            hint=f"remove it (`rm -rf {path}`, as root if needed) and run `abdb db up` again",
        )


def private_folder(path: Path, owner: pwd.struct_passwd | None) -> None:
    """Create ``path`` with mode 0700 for ``owner`` (this process's user when None), or accept an existing
    one only when it is exactly that."""
    uid = owner.pw_uid if owner is not None else os.geteuid()
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        check_private_folder(path, uid)
        return
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner is not None:
            os.fchown(descriptor, owner.pw_uid, owner.pw_gid)
        os.fchmod(descriptor, 0o700)  # whatever the umask
    finally:
        os.close(descriptor)
    check_private_folder(path, uid)


def blocking_folders(path: Path, user: pwd.struct_passwd) -> list[tuple[Path, int]]:
    """The ancestors of ``path`` that ``user`` may not traverse, with their modes, from the root down."""
    groups = {user.pw_gid} | {group.gr_gid for group in grp.getgrall() if user.pw_name in group.gr_mem}
    blocked = []
    for folder in reversed(path.parents):
        info = folder.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            blocked.append((folder, stat.S_IMODE(info.st_mode)))
    return blocked


def require_reachable(path: Path, user: pwd.struct_passwd, what: str) -> None:
    """Raise, naming the folders and the command that would open them, when ``user`` cannot reach ``path``."""
    blocked = blocking_folders(path, user)
    if blocked:
        listed = ", ".join(f"{folder} (mode {mode:04o})" for folder, mode in blocked)
        folders = " ".join(str(folder) for folder, _ in blocked)
        raise BackendError(
            f"the server runs as the system user {user.pw_name}, which cannot reach {what} {path}: {listed} "
            "closed to it. Nothing was changed",
            hint=f"open them for traversal only with `chmod o+x {folders}`, or choose a home it can reach, "
            f"e.g. --home {SHARED_ROOT}",
        )


def reachable_binaries(installed: Path, version: str, user: pwd.struct_passwd) -> Path:
    """The PostgreSQL installation folder (with bin/, lib/, share/) that ``user`` can run: the wheel's own,
    or a copy made once under /var/lib/abdb when the wheel sits behind folders closed to ``user``."""
    if not blocking_folders(installed / "bin" / "postgres", user):
        return installed
    target = SHARED_ROOT / f"postgresql-{version}"
    if (target / "bin" / "postgres").exists():
        _check_shared(target)
        return target
    SHARED_ROOT.mkdir(mode=0o755, exist_ok=True)
    _check_shared(SHARED_ROOT)
    staging = SHARED_ROOT / f".postgresql-{version}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(installed, staging, symlinks=True)
    os.chmod(staging, 0o755)
    try:
        os.rename(staging, target)
    except OSError:  # another `db up` copied it first
        shutil.rmtree(staging, ignore_errors=True)
    _check_shared(target)
    return target


def _check_shared(folder: Path) -> None:
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BackendError(
            f"refusing {folder}: it must be a folder owned by root and writable by root alone",
            hint=f"remove it (`rm -rf {folder}`) and run `abdb db up` again",
        )


@contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold the home's lock file: concurrent `db up`/`db down` of one home take turns."""
    home.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
