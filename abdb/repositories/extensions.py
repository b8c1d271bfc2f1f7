"""Whether a PostgreSQL extension is installed in this database, and whether this role may install it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def extension_installed(session: Session, name: str) -> bool:
    return bool(
        session.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = :name)"), {"name": name}
        ).scalar_one()
    )


def extension_can_be_created(session: Session, name: str) -> bool:
    """Whether this role may create an untrusted extension: a superuser, with the extension's files installed."""
    return bool(
        session.execute(
            text(
                "SELECT rolsuper AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = :name) "
                "FROM pg_roles WHERE rolname = current_user"
            ),
            {"name": name},
        ).scalar()
    )
