"""PostgreSQL 18 in Docker, through ``docker compose`` with the compose file shipped in the package.

The development environment uses the ``postgres`` service (port 5432), the test environment the
``postgres_test`` service (port 5433). ``ABDB_COMPOSE_FILE`` names a compose file of one's own (extra init
scripts, another image) with the same services.

What the real engine taught (issue 13): the image's first start runs a socket-only temporary server for
its init scripts, so health is checked over TCP and ``db up`` then waits until it can really log in;
``compose up --wait`` is run every time (it is idempotent and also waits for a container still starting);
Compose v2 (``docker compose``) is probed, not assumed; and the image applies the password only when it
creates the volume.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from abdb.config import DEFAULT_DOCKER_PASSWORD, Environment, Settings
from abdb.errors import BackendError

COMPOSE_FILE = Path(__file__).resolve().parent / "compose" / "compose.yml"
SERVICES = {
    Environment.DEVELOPMENT: "postgres",
    Environment.TEST: "postgres_test",
    Environment.PRODUCTION: "postgres",
}
ENGINE_PROBE_TIMEOUT_SECONDS = 5
READY_TIMEOUT_SECONDS = 120


def _probe(*command: str) -> subprocess.CompletedProcess[str] | None:
    if shutil.which("docker") is None:
        return None
    try:
        return subprocess.run(
            ["docker", *command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ENGINE_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def docker_engine_answers() -> bool:
    """True when a Docker client exists and its engine answers (``docker info``)."""
    result = _probe("info", "--format", "{{.ServerVersion}}")
    return result is not None and result.returncode == 0


def compose_v2_problem() -> str | None:
    """None when ``docker compose`` (Compose v2) works, else what ``docker compose version`` said."""
    result = _probe("compose", "version")
    if result is None:
        return "no docker command"
    if result.returncode != 0:
        return meaningful_line(result.stderr or result.stdout)
    return None


def docker_unusable_reason() -> str | None:
    """Why the Docker backend cannot be used here (None when it can): for `auto` to say why it chose embedded."""
    if not docker_engine_answers():
        return "no Docker engine answers"
    problem = compose_v2_problem()
    if problem is not None:
        return f"Docker answers but Compose v2 is missing (`docker compose version`: {problem})"
    return None


def meaningful_line(output: str) -> str:
    """The line of docker's output that says what went wrong (not "Run 'docker --help'" or usage)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    noise = ("run 'docker", "see 'docker", "usage:", "for more information")
    useful = [line for line in lines if not line.lower().startswith(noise)]
    errors = [line for line in useful if "error" in line.lower()]
    return (errors or useful or lines or ["no output"])[0]


def compose_file(settings: Settings) -> Path:
    return settings.compose_file or COMPOSE_FILE


class DockerServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.service = SERVICES[settings.environment]
        self.port = settings.profile.docker_port

    def compose_command(self, *args: str) -> list[str]:
        return ["docker", "compose", "-f", str(compose_file(self.settings)), *args]

    def start(self) -> bool:
        """Start the service (or wait for one still starting) until it accepts a login; True when it was not
        running before."""
        self._require_production_password()
        already = self.running()
        self._compose("up", "-d", "--wait", self.service)
        self._wait_until_it_accepts_logins()
        return not already

    def stop(self) -> bool:
        if not self.running():
            return False
        self._compose("stop", self.service)
        return True

    def destroy(self) -> None:
        """Remove the container; its named volume (the data) stays, as Compose keeps named volumes."""
        self._compose("rm", "--stop", "--force", self.service)

    def running(self) -> bool:
        if not docker_engine_answers():
            raise BackendError(
                "the Docker backend was chosen but no Docker engine answers",
                hint="start Docker, or use --backend embedded",
            )
        problem = compose_v2_problem()
        if problem is not None:
            raise BackendError(
                f"the Docker backend needs Compose v2 (`docker compose`), which is missing: {problem}",
                hint="install Docker's compose plugin (Debian: docker-compose-plugin or docker-compose-v2), or use "
                "--backend embedded",
            )
        result = self._compose("ps", "--status", "running", "--quiet", self.service)
        return bool(result.strip())

    # -- helpers ----------------------------------------------------------------------------------
    def _require_production_password(self) -> None:
        if self.settings.environment is Environment.PRODUCTION and (
            self.settings.docker_password == DEFAULT_DOCKER_PASSWORD
        ):
            raise BackendError(
                "ABDB_ENV=production refuses the Docker service's development password",
                hint='export ABDB_DB_PASSWORD="$(openssl rand -base64 24)" before the first `abdb db up` (the '
                "image sets it when it creates the volume)",
            )

    def _wait_until_it_accepts_logins(self) -> None:
        """`compose --wait` trusts the health check; a login proves the real server (not the image's
        socket-only initialisation server) is up and that the password is the volume's."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="postgres",
                    password=self.settings.docker_password,
                    dbname="postgres",
                    connect_timeout=5,
                ).close()
                return
            except psycopg.OperationalError as error:
                text = str(error)
                if "password authentication failed" in text:
                    raise BackendError(
                        f"the {self.service} container refuses ABDB_DB_PASSWORD: the image sets the password only "
                        "when it creates the data volume, and this volume was created with another one",
                        hint="use the password the volume was created with, or remove the volume (all its data is "
                        f"lost): docker compose -f {compose_file(self.settings)} down --volumes, then abdb db up",
                    ) from None
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"the {self.service} container did not accept a login within {READY_TIMEOUT_SECONDS} s: "
                        f"{self.settings.redact(meaningful_line(text))}",
                        hint=f"docker compose -f {compose_file(self.settings)} logs {self.service}",
                    ) from None
                time.sleep(0.5)

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
            said = meaningful_line(exc.stderr or exc.stdout or "")
            if "address already in use" in said or "port is already allocated" in said:
                raise BackendError(
                    f"port {self.port} on 127.0.0.1 is already in use, so the {self.service} container cannot "
                    f"publish it ({self.settings.redact(said)})",
                    hint="stop what listens there (another PostgreSQL?), or use --backend embedded",
                ) from None
            raise BackendError(f"docker compose {args[0]} failed: {self.settings.redact(said)}") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"docker compose {args[0]} failed: {type(exc).__name__}") from None
        return result.stdout
