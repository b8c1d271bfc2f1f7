"""Engines and session factories, built on first use and cached per URL and environment."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from abdb.config import Settings
from abdb.db.engine import build_engine

_lock = threading.Lock()
_factories: dict[tuple[str, str], sessionmaker[Session]] = {}


def session_factory(settings: Settings, url: URL) -> sessionmaker[Session]:
    key = (url.render_as_string(hide_password=False), settings.environment.value)
    with _lock:
        factory = _factories.get(key)
        if factory is None:
            engine = build_engine(settings, url)
            factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
            _factories[key] = factory
        return factory


def dispose_all() -> None:
    """Close every pooled connection (tests, and processes that fork)."""
    with _lock:
        for factory in _factories.values():
            engine = factory.kw["bind"]
            if isinstance(engine, Engine):
                engine.dispose()
        _factories.clear()
