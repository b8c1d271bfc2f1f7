"""One Settings object: environment, database URL, pool sizes, where the embedded server lives.

Nothing here connects to anything. Passwords are kept out of every rendering: use ``mask_url`` for a URL
and ``Settings.redact`` for any text that might contain one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote, unquote

import platformdirs
import psutil
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from abdb.errors import ConfigurationError

DRIVER = "postgresql+psycopg"
DEFAULT_DOCKER_PASSWORD = "abdb-dev"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class BackendName(StrEnum):
    AUTO = "auto"
    EMBEDDED = "embedded"
    DOCKER = "docker"


@dataclass(frozen=True)
class PoolSettings:
    pool_size: int
    max_overflow: int
    pool_timeout: int
    pool_recycle: int


@dataclass(frozen=True)
class EnvironmentProfile:
    """What the plan's three environments differ in."""

    database: str
    docker_port: int
    pool: PoolSettings


PROFILES: dict[Environment, EnvironmentProfile] = {
    Environment.DEVELOPMENT: EnvironmentProfile("abdb_dev", 5432, PoolSettings(20, 30, 30, 3600)),
    Environment.TEST: EnvironmentProfile("abdb_test", 5433, PoolSettings(5, 10, 30, 3600)),
    Environment.PRODUCTION: EnvironmentProfile("abdb", 5432, PoolSettings(20, 30, 30, 3600)),
}


def default_home() -> Path:
    """Where the embedded server lives unless ABDB_HOME or --home says otherwise: the platform's user data
    folder (``~/.local/share/abdb`` on Linux, honouring XDG_DATA_HOME), the same from every working folder.
    For root, ``/var/lib/abdb``: the server then runs as a system user, which could not enter /root."""
    if os.geteuid() == 0:
        return ROOT_HOME
    return Path(platformdirs.user_data_dir("abdb", appauthor=False)).resolve()


ROOT_HOME = Path("/var/lib/abdb")


_SIZE = re.compile(r"^(\d+)(kB|MB|GB|TB)$")
_UNITS = {"kB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}
MAX_DEFAULT_SHARED_BUFFERS_MB = 4096
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def _memory_bytes() -> int:
    """This machine's memory, or the container's limit (cgroup v2 or v1) when that is lower."""
    total = int(psutil.virtual_memory().total)
    for limit in CGROUP_LIMITS:
        try:
            text = limit.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def embedded_shared_buffers(env: Mapping[str, str] = os.environ, *, configured: bool = False) -> str | None:
    """The embedded server's shared_buffers: ABDB_SHARED_BUFFERS (``512MB``, ``2GB``); else none when the data
    folder's own configuration sets it (``postgresql.conf``, ``ALTER SYSTEM``); else a quarter of the memory
    (the container's, when limited) up to 4 GB. PostgreSQL's own default, 128 MB, makes searches at a million
    antibodies read the tables through the operating system (measured 1.4-1.8 times slower). The server
    takes the memory only as it uses it."""
    chosen = env.get("ABDB_SHARED_BUFFERS", "").strip()
    if chosen:
        size = _SIZE.match(chosen)
        if size is None or int(size.group(1)) * _UNITS[size.group(2)] < 2**20:
            raise ConfigurationError(f"ABDB_SHARED_BUFFERS={chosen!r}: write a size of 1MB or more (512MB, 2GB)")
        return chosen
    if configured:
        return None
    quarter = _memory_bytes() // 4 // 2**20
    return f"{max(128, min(quarter, MAX_DEFAULT_SHARED_BUFFERS_MB))}MB"


OLD_DEFAULT_HOME = Path(".abdb")  # before 0.2 the home was relative to the working folder


def mask_url(url: str | URL) -> str:
    """Render a database URL with its password replaced by ``***``."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return unquote(parsed.render_as_string(hide_password=True))


def parse_url(raw: str) -> URL:
    """Parse a user-given URL and make it use the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigurationError(
            "the database URL cannot be parsed",
            hint="use the form postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        ) from None
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"abdb needs PostgreSQL, not {url.get_backend_name()!r} ({mask_url(url)})",
            hint="use a postgresql:// URL",
        )
    return url.set(drivername=DRIVER)


@dataclass(frozen=True)
class Settings:
    environment: Environment = Environment.DEVELOPMENT
    database_url: URL | None = None
    home: Path = field(default_factory=lambda: default_home())
    backend: BackendName = BackendName.AUTO
    docker_password: str = DEFAULT_DOCKER_PASSWORD
    production_url: URL | None = None
    log_sql: bool = False  # ABDB_LOG_SQL=1 or --debug: every statement and its duration on the abdb.sql logger
    compose_file: Path | None = None  # ABDB_COMPOSE_FILE: a compose file of one's own for the Docker backend

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ABDB_* variables (and the plan's DB_* ones for production); overrides win."""
        env = os.environ if env is None else env
        raw_env = env.get("ABDB_ENV", Environment.DEVELOPMENT.value)
        try:
            environment = Environment(raw_env)
        except ValueError:
            choices = ", ".join(e.value for e in Environment)
            raise ConfigurationError(f"ABDB_ENV={raw_env!r} is not one of {choices}") from None
        raw_backend = env.get("ABDB_BACKEND", BackendName.AUTO.value)
        try:
            backend = BackendName(raw_backend)
        except ValueError:
            choices = ", ".join(b.value for b in BackendName)
            raise ConfigurationError(f"ABDB_BACKEND={raw_backend!r} is not one of {choices}") from None
        raw_url = env.get("ABDB_DATABASE_URL")
        settings = cls(
            environment=environment,
            database_url=parse_url(raw_url) if raw_url else None,
            home=Path(env["ABDB_HOME"]).expanduser().resolve() if env.get("ABDB_HOME") else default_home(),
            backend=backend,
            docker_password=env.get("ABDB_DB_PASSWORD", DEFAULT_DOCKER_PASSWORD),
            production_url=_production_url(env) if environment is Environment.PRODUCTION else None,
            log_sql=env.get("ABDB_LOG_SQL", "").strip().lower() in ("1", "true", "yes", "on"),
            compose_file=Path(env["ABDB_COMPOSE_FILE"]).expanduser().resolve()
            if env.get("ABDB_COMPOSE_FILE")
            else None,
        )
        return settings.with_overrides(**overrides)

    def with_overrides(self, **overrides: object) -> Settings:
        clean = {key: value for key, value in overrides.items() if value is not None}
        if isinstance(clean.get("database_url"), str):
            clean["database_url"] = parse_url(str(clean["database_url"]))
        return replace(self, **clean)  # type: ignore[arg-type]

    @property
    def profile(self) -> EnvironmentProfile:
        return PROFILES[self.environment]

    @property
    def database_name(self) -> str:
        if self.database_url is not None and self.database_url.database:
            return self.database_url.database
        return self.profile.database

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def docker_url(self) -> URL:
        return URL.create(
            DRIVER,
            username="postgres",
            password=self.docker_password,
            host="127.0.0.1",
            port=self.profile.docker_port,
            database=self.profile.database,
        )

    def secrets(self) -> list[str]:
        """Every password this configuration knows of, for redaction."""
        urls = [self.database_url, self.production_url]
        found = [url.password for url in urls if url is not None and url.password]
        found.append(self.docker_password)
        return [str(secret) for secret in found if secret]

    def redact(self, text: str) -> str:
        """Remove every known password (raw and URL-quoted) from text meant for output."""
        for secret in self.secrets():
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                text = text.replace(form, "***")
        return text


def _production_url(env: Mapping[str, str]) -> URL | None:
    """The plan's DB_HOST/DB_PORT/... variables, used when ABDB_DATABASE_URL is not set."""
    if "DB_HOST" not in env:
        return None
    try:
        port = int(env.get("DB_PORT", "5432"))
    except ValueError:
        raise ConfigurationError(f"DB_PORT={env.get('DB_PORT')!r} is not a port number") from None
    return URL.create(
        DRIVER,
        username=env.get("DB_USER", "postgres"),
        password=env.get("DB_PASSWORD") or None,
        host=env["DB_HOST"],
        port=port,
        database=env.get("DB_NAME", PROFILES[Environment.PRODUCTION].database),
    )
