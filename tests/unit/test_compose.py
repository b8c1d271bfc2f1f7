"""The compose files, statically: what abdb runs (shipped in the package) and the checkout's copy for running
compose by hand (the Docker backend itself is tested against a real engine in tests/docker/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from abdb.backends.docker import COMPOSE_FILE, SERVICES
from abdb.config import PROFILES, Environment

CHECKOUT_COPY = Path(__file__).resolve().parents[2] / "docker-compose.dev.yml"
COMPOSE = COMPOSE_FILE


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_the_checkouts_compose_file_is_the_packaged_one_but_for_where_the_init_scripts_are() -> None:
    shipped = COMPOSE.read_text().replace("./initdb:", "./abdb/backends/compose/initdb:")
    assert yaml.safe_load(CHECKOUT_COPY.read_text()) == yaml.safe_load(shipped)
    assert (CHECKOUT_COPY.parent / "abdb" / "backends" / "compose" / "initdb").resolve() == (
        COMPOSE.parent / "initdb"
    ).resolve()


def test_health_is_checked_over_tcp_not_the_socket_of_the_initialisation_server(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        assert "-h 127.0.0.1" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
def test_each_service_runs_postgres_18_with_the_database_and_port_abdb_expects(
    compose: dict[str, Any], environment: Environment
) -> None:
    service = compose["services"][SERVICES[environment]]
    profile = PROFILES[environment]
    assert service["image"] == "postgres:18"
    assert service["environment"]["POSTGRES_DB"] == profile.database
    assert service["ports"] == [f"127.0.0.1:{profile.docker_port}:5432"]
    assert profile.database in " ".join(service["healthcheck"]["test"])


def test_services_take_their_password_from_the_environment(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        assert service["environment"]["POSTGRES_PASSWORD"].startswith("${ABDB_DB_PASSWORD:-")


def test_data_volumes_are_mounted_where_postgres_18_images_keep_their_data(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        data_mounts = [v for v in service["volumes"] if not v.startswith("./")]
        assert [m.split(":")[1] for m in data_mounts] == ["/var/lib/postgresql"]


def test_the_plans_mistakes_are_gone(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        # the plan preloaded uuid-ossp (an extension, not a library); pg_stat_statements and pg_prewarm are
        assert "uuid-ossp" not in service.get("command", "")
        assert "-c shared_preload_libraries=pg_stat_statements,pg_prewarm" in service.get("command", "")
    init_scripts = (COMPOSE.parent / "initdb").glob("*")
    for script in init_scripts:
        assert "uuid_generate_v7" not in script.read_text()
        assert "uuid-ossp" not in script.read_text()
