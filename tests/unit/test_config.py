"""Settings: environments, overrides, and passwords that never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from abdb.config import Environment, Settings, mask_url
from abdb.errors import ConfigurationError


def test_a_masked_url_keeps_everything_but_the_password() -> None:
    masked = mask_url("postgresql+psycopg://alice:s3cr%3At@db.example.org:6543/abdb")
    assert masked == "postgresql+psycopg://alice:***@db.example.org:6543/abdb"
    assert "s3cr" not in masked


def test_redact_removes_the_password_in_raw_and_url_quoted_form() -> None:
    settings = Settings.from_environment({"ABDB_DATABASE_URL": "postgresql://bob:p%40ss%2Fword@h/db"})
    text = "failed for p@ss/word and for p%40ss%2Fword"
    assert settings.redact(text) == "failed for *** and for ***"


def test_an_explicit_url_is_switched_to_the_psycopg_3_driver() -> None:
    settings = Settings.from_environment({"ABDB_DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url is not None
    assert settings.database_url.drivername == "postgresql+psycopg"


def test_a_url_for_another_database_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment({"ABDB_DATABASE_URL": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("environment", "database", "pool_size", "port"),
    [("development", "abdb_dev", 20, 5432), ("test", "abdb_test", 5, 5433), ("production", "abdb", 20, 5432)],
)
def test_each_environment_has_the_plans_database_pool_and_port(
    environment: str, database: str, pool_size: int, port: int
) -> None:
    settings = Settings.from_environment({"ABDB_ENV": environment})
    assert settings.environment is Environment(environment)
    assert settings.database_name == database
    assert settings.profile.pool.pool_size == pool_size
    assert settings.docker_url().port == port


def test_an_unknown_environment_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="staging"):
        Settings.from_environment({"ABDB_ENV": "staging"})


def test_production_reads_the_plans_db_variables() -> None:
    settings = Settings.from_environment(
        {"ABDB_ENV": "production", "DB_HOST": "db.internal", "DB_PASSWORD": "pw", "DB_NAME": "ab"}
    )
    assert settings.production_url is not None
    assert mask_url(settings.production_url) == "postgresql+psycopg://postgres:***@db.internal:5432/ab"
    assert settings.redact("pw") == "***"


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment({"ABDB_HOME": "/nowhere"}, home=tmp_path, database_url="postgresql://x@y/z")
    assert settings.home == tmp_path
    assert settings.database_name == "z"


def test_the_embedded_server_gets_a_quarter_of_the_memory_up_to_4_gb_unless_told(tmp_path: Path) -> None:
    import psutil

    from abdb.backends.embedded import EmbeddedServer
    from abdb.config import embedded_shared_buffers

    quarter = psutil.virtual_memory().total // 4 // 2**20
    assert int(embedded_shared_buffers({}).removesuffix("MB")) <= max(128, min(quarter, 4096))  # type: ignore[union-attr]
    assert embedded_shared_buffers({"ABDB_SHARED_BUFFERS": "512MB"}) == "512MB"
    assert embedded_shared_buffers({}, configured=True) is None  # the data folder's own setting stands
    assert embedded_shared_buffers({"ABDB_SHARED_BUFFERS": "2GB"}, configured=True) == "2GB"
    for bad in ("lots", "0MB", "512kB", "2 GB"):
        with pytest.raises(ConfigurationError, match="ABDB_SHARED_BUFFERS"):
            embedded_shared_buffers({"ABDB_SHARED_BUFFERS": bad})
    server = EmbeddedServer(tmp_path / "pgdata")
    (tmp_path / "pgdata").mkdir()
    conf, auto = tmp_path / "pgdata" / "postgresql.conf", tmp_path / "pgdata" / "postgresql.auto.conf"
    conf.write_text("max_connections = 100\nshared_buffers = 128MB\t\t\t# min 128kB\n\t\t# based on shared_buffers\n")
    assert not server._configures("shared_buffers")  # initdb's own line
    auto.write_text("shared_buffers = '4GB'\n")
    assert server._configures("shared_buffers")  # ALTER SYSTEM
    auto.write_text("")
    conf.write_text("shared_buffers = 1GB\n")
    assert server._configures("shared_buffers")  # edited by hand
