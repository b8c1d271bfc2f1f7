"""The database a command (or a notebook) works on, resolved once: its URL and one lazily built engine.

    database = Database(Settings.from_environment())
    with database.unit_of_work() as uow:
        print(uow.sequences.count())
    database.dispose()

Which backend runs the server (embedded or Docker: a ``docker info`` probe when ``auto`` has nothing recorded)
is decided here, once; every unit of work of a use case then shares the same engine. Services receive a
``Database`` as their unit-of-work factory, so tests can hand them a fake one that never connects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from abdb.backends import database_url
from abdb.config import Settings
from abdb.db.engine import build_engine
from abdb.db.revisions import require_head
from abdb.db.search_rows import keep_search_rows

if TYPE_CHECKING:
    from abdb.unit_of_work import UnitOfWork


HEAD_CHECK_SECONDS = 2.0  # how long a passed schema check is trusted (a migration in between is seconds away)


class Database:
    def __init__(self, settings: Settings | None = None, *, url: URL | str | None = None) -> None:
        settings = settings or Settings.from_environment()
        if url is not None:
            settings = settings.with_overrides(database_url=url)
        self.url: URL = database_url(settings)
        # The URL is part of the settings from now on: workers started from them never ask again.
        self.settings = settings.with_overrides(database_url=self.url)
        self._lock = threading.Lock()
        self._sessions: sessionmaker[Session] | None = None
        self._head_checked_at = -HEAD_CHECK_SECONDS

    def sessions(self) -> sessionmaker[Session]:
        """The session factory, with its engine built on first use (nothing connects before)."""
        with self._lock:
            if self._sessions is None:
                engine = build_engine(self.settings, self.url)
                self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
                keep_search_rows(self._sessions)
            return self._sessions

    def unit_of_work(self) -> UnitOfWork:
        from abdb.unit_of_work import UnitOfWork  # the unit of work imports this module for its default

        return UnitOfWork(self)

    def require_head(self, what: str) -> None:
        """Exit 4 before ``what`` reads or writes anything when the schema is not at head. A check that
        passed is trusted for HEAD_CHECK_SECONDS: a search service calling this per query spent 85% of
        its time opening a connection for it (measured: 14 of 16 ms)."""
        now = time.monotonic()
        if now - self._head_checked_at < HEAD_CHECK_SECONDS:
            return
        require_head(self.url, what)
        self._head_checked_at = now

    def dispose(self) -> None:
        """Close every pooled connection: at the end of a command, and before forking workers (no connection
        may cross a fork; the engine opens new ones when used again)."""
        with self._lock:
            if self._sessions is not None:
                engine = self._sessions.kw["bind"]
                if isinstance(engine, Engine):
                    engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    def __getstate__(self) -> dict[str, Any]:
        """A spawned worker receives the settings and URL and builds an engine of its own."""
        return {"settings": self.settings, "url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings, self.url = state["settings"], state["url"]
        self._lock = threading.Lock()
        self._sessions = None
        self._head_checked_at = -HEAD_CHECK_SECONDS

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


@contextmanager
def using(target: Database | Settings | None) -> Iterator[Database]:
    """The given database (or anything that serves as one: a test's fake), or one resolved from settings for
    this block alone and disposed after it: library callers of the use cases may pass either."""
    if target is not None and not isinstance(target, Settings):
        yield target
        return
    with Database(target) as database:
        yield database


_shared_lock = threading.Lock()
_shared: dict[tuple[str, str], Database] = {}


def shared_database(settings: Settings) -> Database:
    """One Database per URL and profile for callers that hand a unit of work ``Settings`` (the convenience of
    ``UnitOfWork(settings)``); commands and use cases build their own and dispose of it."""
    url = database_url(settings)
    key = (url.render_as_string(hide_password=False), settings.environment.value)
    with _shared_lock:
        database = _shared.get(key)
        if database is None:
            database = _shared[key] = Database(settings, url=url)
        return database
