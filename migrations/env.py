"""Alembic environment: the URL and the metadata come from abdb, never from this file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from abdb.backends import database_url
from abdb.config import Settings
from abdb.db.base import VocabularyCode
from abdb.db.connect import single_use_engine
from abdb.db.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render vocabulary columns as plain strings: migrations must not import application types."""
    if type_ == "type" and isinstance(obj, VocabularyCode):
        return "sa.String(length=32)"
    return False


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        render_item=render_item,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    url = config.attributes.get("url") or database_url(Settings.from_environment())
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    # Plain `alembic` invocations (not through abdb) resolve the URL like abdb does.
    url = config.attributes.get("url") or database_url(Settings.from_environment())
    engine = single_use_engine(url)
    with engine.connect() as new_connection:
        _run_with(new_connection)
        new_connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
