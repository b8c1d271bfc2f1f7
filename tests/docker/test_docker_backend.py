"""The Docker backend against a real engine (issue 13): `../shared/tools/docker-engine.sh up` and its DOCKER_HOST.

These tests start and remove the containers and volumes of their own compose project (`abdb-tests`, never
the `abdb` project a user's data lives in), one test at a time.
Without an engine they fail with the command to start one: they are part of the suite, not optional.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from abdb.backends.docker import COMPOSE_FILE
from tests.cli.helpers import ABDB, Run

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"
ENGINE_SCRIPT = REPO.parent / "shared" / "tools" / "docker-engine.sh"
TEST_PROJECT = "abdb-tests"


def _docker_env() -> dict[str, str]:
    # a compose project of the tests' own: they remove its volumes, never those of a real `abdb` project
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")} | {
        "COMPOSE_PROJECT_NAME": TEST_PROJECT
    }
    if "DOCKER_HOST" not in environment and ENGINE_SCRIPT.exists():
        line = subprocess.run(["bash", str(ENGINE_SCRIPT), "env"], capture_output=True, text=True, check=False).stdout
        if "DOCKER_HOST=" in line:
            environment["DOCKER_HOST"] = line.split("DOCKER_HOST=", 1)[1].strip()
    return environment


def _compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), *args],
        env=env or _docker_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module", autouse=True)
def engine() -> Iterator[None]:
    environment = _docker_env()
    probe = subprocess.run(["docker", "info"], env=environment, capture_output=True, text=True, check=False)
    if shutil.which("docker") is None or probe.returncode != 0:
        pytest.fail(
            "no Docker engine answers: run `bash ../shared/tools/docker-engine.sh up` and export the DOCKER_HOST "
            f"that `… env` prints (docker info: {probe.stderr.strip()[:200] if probe else 'no docker'})"
        )
    _compose("down", "--volumes")
    yield
    _compose("down", "--volumes")


@pytest.fixture
def fresh_volumes() -> Iterator[None]:
    _compose("down", "--volumes")
    yield
    _compose("down", "--volumes")


def docker_abdb(*args: str, home: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    environment = _docker_env() | {"ABDB_BACKEND": "docker", "ABDB_HOME": str(home)} | (env or {})
    command = [*ABDB, *args] if cwd is None else [str(cwd / "venv" / "bin" / "abdb"), *args]
    completed = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=300, check=False, cwd=cwd
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def _main_job(home: Path, cwd: Path | None = None) -> None:
    for step in (
        ["db", "up"],
        ["migrate"],
        ["import", "fasta", str(THERAPEUTICS), "--annotate", "--quiet"],
        ["verify"],
    ):
        run = docker_abdb(*step, home=home, cwd=cwd)
        assert run.code == 0, (step, run.output)


def test_the_main_job_runs_on_docker_and_the_data_survives_a_restart(fresh_volumes: None, tmp_path: Path) -> None:
    _main_job(tmp_path)
    again = docker_abdb("db", "up", home=tmp_path)
    assert again.code == 0 and "already running" in again.stdout
    assert docker_abdb("db", "down", home=tmp_path).code == 0
    down = docker_abdb("db", "status", home=tmp_path)
    assert down.code == 3 and len(down.stderr.strip().splitlines()) == 1
    assert docker_abdb("db", "up", home=tmp_path).code == 0
    status = docker_abdb("db", "status", home=tmp_path)
    assert status.code == 0 and re.search(r"antibody_sequences\s+60\b", status.stdout)
    reset = docker_abdb("db", "reset", "--yes", home=tmp_path)
    assert reset.code == 0, reset.output
    status = docker_abdb("db", "status", home=tmp_path)
    assert re.search(r"antibody_sequences\s+0\b", status.stdout)
    assert docker_abdb("db", "down", home=tmp_path).code == 0


def test_db_up_waits_for_a_container_that_is_still_starting(fresh_volumes: None, tmp_path: Path) -> None:
    started = _compose("up", "-d", "postgres", env=_docker_env() | {"ABDB_DB_PASSWORD": "abdb-dev"})
    assert started.returncode == 0, started.stderr
    up = docker_abdb("db", "up", home=tmp_path)  # the first start is still initialising the volume
    assert up.code == 0, up.output
    assert docker_abdb("migrate", home=tmp_path).code == 0


def test_a_slow_initialisation_does_not_break_db_up(fresh_volumes: None, tmp_path: Path) -> None:
    own = tmp_path / "compose"
    shutil.copytree(COMPOSE_FILE.parent, own)
    (own / "initdb" / "00-slow.sh").write_text("sleep 8\n")
    env = {"ABDB_COMPOSE_FILE": str(own / "compose.yml")}
    started = time.monotonic()
    up = docker_abdb("db", "up", home=tmp_path, env=env)
    assert up.code == 0, up.output
    assert time.monotonic() - started > 8
    assert docker_abdb("migrate", home=tmp_path, env=env).code == 0


def test_the_test_environment_uses_its_own_service_and_port(fresh_volumes: None, tmp_path: Path) -> None:
    up = docker_abdb("db", "up", home=tmp_path, env={"ABDB_ENV": "test"})
    assert up.code == 0, up.output
    assert "127.0.0.1:5433/abdb_test" in up.stdout
    assert "postgres_test" in _compose("ps", "--status", "running", "--services").stdout


def test_a_port_already_in_use_gives_a_clear_message(fresh_volumes: None, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 5432))
        taken.listen()
        up = docker_abdb("db", "up", home=tmp_path)
    assert up.code == 3
    assert "port 5432 on 127.0.0.1 is already in use" in up.stderr, up.stderr


def test_a_changed_password_names_the_volume_as_the_reason(fresh_volumes: None, tmp_path: Path) -> None:
    assert docker_abdb("db", "up", home=tmp_path, env={"ABDB_DB_PASSWORD": "first-secret"}).code == 0
    up = docker_abdb("db", "up", home=tmp_path, env={"ABDB_DB_PASSWORD": "second-secret"})
    assert up.code == 3
    said = " ".join(up.stderr.split())
    assert "sets the password only when it creates the data volume" in said and "down --volumes" in said
    assert "ABDB_DATABASE_URL" not in said and "second-secret" not in said and "first-secret" not in said


def test_production_refuses_the_development_password(tmp_path: Path) -> None:
    up = docker_abdb("db", "up", home=tmp_path, env={"ABDB_ENV": "production"})
    assert up.code == 3 and "refuses the Docker service's development password" in up.stderr


def test_without_compose_v2_auto_falls_back_to_embedded_and_docker_says_why(tmp_path: Path) -> None:
    real = shutil.which("docker")
    assert real is not None
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(  # Debian 12's docker.io without the compose plugin answers like this
        "#!/bin/sh\n"
        'if [ "$1" = compose ]; then echo "docker: \'compose\' is not a docker command." >&2; '
        "echo \"See 'docker --help'\" >&2; exit 1; fi\n"
        f'exec {real} "$@"\n'
    )
    (fake / "docker").chmod(0o755)
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    explicit = docker_abdb("db", "up", home=tmp_path, env=env)
    assert explicit.code == 3
    assert "needs Compose v2" in explicit.stderr and "'compose' is not a docker command" in explicit.stderr
    home = tmp_path / "auto"
    auto = docker_abdb("db", "up", home=home, env=env | {"ABDB_BACKEND": "auto"})
    try:
        assert auto.code == 0, auto.output
        assert "embedded server started" in auto.stdout and "Compose v2 is missing" in auto.stderr
    finally:
        docker_abdb("db", "down", home=home, env={"ABDB_BACKEND": "embedded"})


def test_a_wheel_installed_outside_the_checkout_runs_the_main_job_on_docker(
    fresh_volumes: None, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("abdb-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    # the dependencies come from the test environment; abdb itself only from the wheel
    dependencies = next(Path(path) for path in sys.path if path.endswith("site-packages"))
    (site / "dependencies.pth").write_text(f"{dependencies}\n")
    installed = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", "import abdb; print(abdb.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(site) in where and str(REPO) not in where
    _main_job(tmp_path / "home", cwd=tmp_path)
    assert docker_abdb("db", "down", home=tmp_path / "home", cwd=tmp_path).code == 0
    _main_job(tmp_path / "home", cwd=tmp_path)  # again after a restart, with the data kept
    status = docker_abdb("db", "status", home=tmp_path / "home", cwd=tmp_path)
    assert re.search(r"antibody_sequences\s+60\b", status.stdout)
    assert docker_abdb("db", "down", home=tmp_path / "home", cwd=tmp_path).code == 0


def test_a_backup_brings_the_data_back_after_the_volume_is_lost_and_monitor_sees_the_statements(
    fresh_volumes: None, tmp_path: Path
) -> None:
    _main_job(tmp_path)
    backup = docker_abdb("db", "backup", str(tmp_path / "before.dump"), home=tmp_path)
    assert backup.code == 0 and (tmp_path / "before.dump").exists(), backup.output
    monitored = docker_abdb("db", "monitor", "--json", "--top", "100", home=tmp_path)
    assert monitored.code == 0, monitored.output
    report = json.loads(monitored.stdout)
    assert report["statements_enabled"] and any("antibody_sequences" in row["query"] for row in report["slowest"])
    assert docker_abdb("db", "down", home=tmp_path).code == 0
    _compose("down", "--volumes")  # the data is gone
    assert docker_abdb("db", "up", home=tmp_path).code == 0
    restored = docker_abdb("db", "restore", str(tmp_path / "before.dump"), home=tmp_path)
    assert restored.code == 0 and "failed" not in restored.stdout.replace("0 failed", ""), restored.output
    assert docker_abdb("verify", home=tmp_path).code == 0
    status = docker_abdb("db", "status", home=tmp_path)
    assert re.search(r"antibody_sequences\s+60\b", status.stdout), status.output
    assert docker_abdb("db", "down", home=tmp_path).code == 0
