"""PostgreSQL 18 in Docker, through ``docker compose -f docker-compose.dev.yml``.

The development environment uses the ``postgres`` service (port 5432), the test environment the
``postgres_test`` service (port 5433).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from abdb.config import Environment, Settings
from abdb.errors import BackendError
from abdb.paths import project_root

COMPOSE_FILE = "docker-compose.dev.yml"
SERVICES = {
    Environment.DEVELOPMENT: "postgres",
    Environment.TEST: "postgres_test",
    Environment.PRODUCTION: "postgres",
}
ENGINE_PROBE_TIMEOUT_SECONDS = 5


def docker_engine_answers() -> bool:
    """True when a Docker client exists and its engine answers (``docker info``)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=ENGINE_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def compose_file() -> Path:
    return project_root() / COMPOSE_FILE


class DockerServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.service = SERVICES[settings.environment]

    def compose_command(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(compose_file()), *args]

    def start(self) -> bool:
        already = self.running()
        if not already:
            self._compose("up", "-d", "--wait", self.service)
        return not already

    def stop(self) -> bool:
        if not self.running():
            return False
        self._compose("stop", self.service)
        return True

    def destroy(self) -> None:
        self._compose("rm", "--stop", "--force", "--volumes", self.service)

    def running(self) -> bool:
        if not docker_engine_answers():
            raise BackendError(
                "the Docker backend was chosen but no Docker engine answers",
                hint="start Docker, or use --backend embedded",
            )
        result = self._compose("ps", "--status", "running", "--quiet", self.service)
        return bool(result.strip())

    def _compose(self, *args: str) -> str:
        env = {**os.environ, "ABDB_DB_PASSWORD": self.settings.docker_password}
        try:
            result = subprocess.run(
                self.compose_command(*args),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            lines = (exc.stderr or exc.stdout or "no output").strip().splitlines() or ["no output"]
            raise BackendError(f"docker compose {args[0]} failed: {self.settings.redact(lines[-1])}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"docker compose {args[0]} failed: {type(exc).__name__}") from None
        return result.stdout
