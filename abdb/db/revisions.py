"""Which schema revision a database is at, against the head of the migrations shipped with this abdb."""

from __future__ import annotations

import functools

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from abdb.config import mask_url
from abdb.db.connect import connection_to
from abdb.errors import MigrationError
from abdb.paths import migrations_dir


def alembic_config(url: URL, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache  # the migrations shipped with this abdb do not change while it runs
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config(URL.create("postgresql"))).get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the migrations have {len(heads)} heads: {', '.join(heads)}")
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def require_head(url: URL, what: str) -> None:
    """Refuse to read or write data in a database that is not at head (exit 4), before touching anything.

    An older schema lacks columns and vocabulary that the code relies on; worse, an import compares
    checksums that older revisions computed differently, and would take every stored antibody for a
    conflict (and ``--replace`` would then delete their annotations).
    """
    head = head_revision()
    with connection_to(url) as connection:
        current = current_revision(connection)
    if current != head:
        raise MigrationError(
            f"{what} needs the schema at {head}; the database at {mask_url(url)} is at "
            f"{current or 'no revision (empty)'}; nothing was read or changed",
            hint="run `abdb migrate`",
        )
