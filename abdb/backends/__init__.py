"""Choosing the backend that runs PostgreSQL, and the URL to reach the database.

``auto`` prefers the backend that ``abdb db up`` last used (recorded in ``$ABDB_HOME/backend``), then
Docker when an engine answers and Compose v2 works, else the embedded server (saying why it passed Docker over).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.engine import URL

from abdb.backends.docker import DockerServer, docker_engine_answers, docker_unusable_reason
from abdb.backends.embedded import EmbeddedServer
from abdb.config import BackendName, Settings

BACKEND_STATE_FILE = "backend"


class LocalServer(Protocol):
    def start(self) -> bool: ...
    def stop(self) -> bool: ...
    def destroy(self) -> None: ...


def recorded_backend(settings: Settings) -> BackendName | None:
    try:
        return BackendName((settings.home / BACKEND_STATE_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def record_backend(settings: Settings, backend: BackendName) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / BACKEND_STATE_FILE).write_text(backend.value + "\n")


def choose_backend(settings: Settings) -> BackendName:
    return resolve_backend(settings)[0]


def resolve_backend(settings: Settings) -> tuple[BackendName, str | None]:
    """The backend, and why `auto` passed Docker over when an engine answers but cannot be used."""
    if settings.backend is not BackendName.AUTO:
        return settings.backend, None
    recorded = recorded_backend(settings)
    if recorded is not None:
        return recorded, None
    if not docker_engine_answers():
        return BackendName.EMBEDDED, None
    reason = docker_unusable_reason()
    if reason is not None:
        return BackendName.EMBEDDED, f"{reason}; using the embedded server"
    return BackendName.DOCKER, None


def local_server(settings: Settings, backend: BackendName) -> LocalServer:
    if backend is BackendName.DOCKER:
        return DockerServer(settings)
    return EmbeddedServer(settings.pgdata)


def database_url(settings: Settings) -> URL:
    """The URL of the application database: explicit URL first, else the local backend's."""
    if settings.database_url is not None:
        return settings.database_url
    if settings.production_url is not None:
        return settings.production_url
    if choose_backend(settings) is BackendName.DOCKER:
        return settings.docker_url()
    return EmbeddedServer(settings.pgdata).url(settings.database_name)
