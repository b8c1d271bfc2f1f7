"""`abdb db backup` and `abdb db restore`: the wheel's ``pg_dump``/``pg_restore`` 18 on the database.

A backup is written under a temporary name (``.NAME.partial``) and renamed only when ``pg_dump`` has
finished; its sidecar ``NAME.abdb.json`` records abdb's version, the schema revision, the format and the
sha256 of the dump, and is written before the rename, so a file that looks complete always has one. A
failed or killed ``pg_dump`` leaves nothing under the final name. The password goes to the tools in
``PGPASSWORD``: never on a command line, in a file name or in a message.

A restore checks the sidecar's checksum, reads the revision from the dump itself (its ``alembic_version``
table), refuses a revision this abdb does not know (exit 4), restores into an empty database (a non-empty
one is dropped and created again only when confirmed), runs ``ANALYZE`` (PostgreSQL 18's ``pg_dump`` writes
no statistics by default) and ``abdb verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL

from abdb import __version__
from abdb.backends import database_url
from abdb.config import Settings, mask_url
from abdb.db import catalog
from abdb.db.connect import connection_to
from abdb.db.models import DATA_TABLES
from abdb.db.revisions import alembic_config, current_revision, head_revision
from abdb.errors import AbdbError, BackendError, ConfigurationError, ConfirmationRequired, MigrationError
from abdb.services.database import client_environment
from abdb.services.dump_tools import TableProgress, restore_items, run_tool, tool
from abdb.services.verify import VerifyOptions, VerifyReport, verify

FORMATS = {"custom": "c", "directory": "d"}
SIDECAR = ".abdb.json"


class BackupError(AbdbError):
    exit_code = 5


@dataclass(frozen=True)
class BackupReport:
    path: Path
    format: str
    revision: str | None
    bytes: int
    seconds: float
    sha256: str


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    revision: str
    head: str
    replaced: bool  # a non-empty database was dropped first
    seconds: float
    verified: VerifyReport | None  # None when the revision is older than head (verify needs head)

    @property
    def needs_migrate(self) -> bool:
        return self.revision != self.head


def _redacted(message: str, url: URL) -> str:
    return message.replace(str(url.password), "***") if url.password else message


def default_name(database: str, fmt: str, now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"abdb-{database}-{stamp}" + (".dump" if fmt == "custom" else ".dir")


def _digest(path: Path) -> str:
    """sha256 of a file, or of a directory's files (names and contents, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _target(destination: Path | str | None, name: str) -> Path:
    if destination is None:
        destination = Path.cwd()
    folder_meant = str(destination).endswith(("/", os.sep))  # Path() would drop the slash that says so
    path = Path(destination).expanduser()
    if folder_meant and not path.exists():
        path.mkdir(mode=0o700, parents=True)  # a backup holds every row: not for other local users to read
    if not path.is_dir():
        return path
    stem, dot, extension = name.rpartition(".")
    candidates = (f"{stem}-{n}{dot}{extension}" if n else name for n in range(1000))
    return next(path / candidate for candidate in candidates if not (path / candidate).exists())  # same second


def backup(
    settings: Settings,
    destination: Path | str | None = None,
    fmt: str = "custom",
    jobs: int = 1,
    on_progress: TableProgress | None = None,
) -> BackupReport:
    """Dump the database to ``destination``: a new file (or directory, for that format); an existing folder or
    a name ending in ``/`` gets a timestamped backup in it (a missing one is created, private to the user);
    none: the current folder."""
    if fmt not in FORMATS:
        raise ConfigurationError(f"--format {fmt}: choose custom or directory")
    if jobs < 1 or (jobs > 1 and fmt != "directory"):
        raise ConfigurationError("--jobs above 1 needs --format directory (pg_dump writes one file otherwise)")
    url = database_url(settings)
    with connection_to(url) as connection:
        revision = current_revision(connection)
        tables = connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one()
    name = default_name(url.database or "abdb", fmt)
    target = _target(destination, name)
    if target.exists():
        raise ConfigurationError(f"{target} exists; choose a new name (a backup never overwrites)")
    partial = target.with_name(f".{target.name}.partial")
    sidecar = target.with_name(target.name + SIDECAR)
    command = [tool("pg_dump"), f"--format={FORMATS[fmt]}", "--file", str(partial), "--no-password"]
    if fmt == "directory":
        command += ["--jobs", str(jobs)]
    started = time.perf_counter()
    try:
        code, errors = run_tool(command, client_environment(settings, url), int(tables), on_progress)
    except OSError as error:
        _remove(partial)
        raise BackendError(f"could not run pg_dump: {error.strerror}") from None
    except BaseException:  # Ctrl-C, SIGTERM: the half-written dump goes
        _remove(partial)
        raise
    if code != 0:
        _remove(partial)
        why = errors.splitlines()[-1] if errors else f"exit {code}"
        raise BackupError(f"pg_dump failed ({_redacted(why, url)}); no backup was written", hint="nothing to clean up")
    sha256 = _digest(partial)
    record = {
        "abdb": __version__,
        "revision": revision,
        "format": fmt,
        "database": url.database,
        "server": mask_url(url),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "sha256": sha256,
    }
    sidecar.write_text(json.dumps(record, indent=2) + "\n")
    partial.rename(target)
    size = sum(p.stat().st_size for p in target.rglob("*")) if target.is_dir() else target.stat().st_size
    return BackupReport(target, fmt, revision, size, time.perf_counter() - started, sha256)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def dump_revision(settings: Settings, source: Path) -> str | None:
    """The schema revision a dump holds (its alembic_version row), read with pg_restore."""
    command = [tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(source)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BackupError(f"{source} is not a backup pg_restore can read: {completed.stderr.strip()[:300]}")
    found = re.search(r"COPY public\.alembic_version \(version_num\) FROM stdin;\n(\w+)\n", completed.stdout)
    return found.group(1) if found else None


def _known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config(URL.create("postgresql")))
    return any(entry.revision == revision for entry in script.walk_revisions())


def restore(
    settings: Settings,
    source: Path,
    *,
    confirmed: bool = False,
    jobs: int = 1,
    on_progress: TableProgress | None = None,
) -> RestoreReport:
    """Restore a backup into the database (empty, or emptied when ``confirmed``), then ANALYZE and verify."""
    if not source.exists():
        raise ConfigurationError(f"{source}: no such backup")
    sidecar = source.with_name(source.name + SIDECAR)
    if sidecar.exists():
        recorded = json.loads(sidecar.read_text())
        if recorded.get("sha256") and recorded["sha256"] != _digest(source):
            raise BackupError(
                f"{source} does not match the checksum its {sidecar.name} recorded: corrupt or incomplete"
            )
    revision = dump_revision(settings, source)
    if revision is None:
        raise BackupError(f"{source} holds no abdb schema revision (alembic_version): not an abdb backup")
    head = head_revision()
    if not _known(revision):
        raise MigrationError(
            f"the backup is at revision {revision}, which this abdb (head {head}) does not know: it comes from a "
            "newer abdb; nothing was changed",
            hint="upgrade abdb, then restore",
        )
    url = database_url(settings)
    catalog.ensure_database(url)
    contents = _contents(url)
    if contents == "data" and not confirmed:
        raise ConfirmationRequired(
            f"the database {url.database} holds data; restoring replaces all of it",
            hint="add --yes to replace it",
        )
    if contents != "nothing":  # pg_restore needs a database without abdb's tables: start from an empty one
        catalog.drop_database(url)
        catalog.ensure_database(url)
    replaced = contents == "data"
    started = time.perf_counter()
    command = [
        tool("pg_restore"),
        "--exit-on-error",
        "--no-owner",
        "--dbname",
        url.database or "",
        "--jobs",
        str(jobs),
    ]
    environment = client_environment(settings, url)
    total = restore_items(str(source), environment)
    code, errors = run_tool([*command, str(source)], environment, total, on_progress)
    if code != 0:
        why = errors.splitlines()[-1] if errors else f"exit {code}"
        raise BackupError(
            f"pg_restore failed ({_redacted(why, url)}); the database is partly restored",
            hint="run `abdb db restore` again with --yes",
        )
    if on_progress is not None:
        on_progress(total, total, "ANALYZE")
    with connection_to(url) as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    seconds = time.perf_counter() - started
    if on_progress is not None and revision == head:
        on_progress(total, total, "abdb verify")
    report = verify(settings, VerifyOptions()) if revision == head else None
    return RestoreReport(source, revision, head, replaced, seconds, report)


def _contents(url: URL) -> str:
    """ "nothing" (no table), "schema" (abdb's tables, no rows in them) or "data"."""
    with connection_to(url) as connection:
        tables = set(connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        if not tables:
            return "nothing"
        for table in DATA_TABLES:
            if table in tables and connection.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar_one():
                return "data"
        return "schema"
