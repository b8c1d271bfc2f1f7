"""Engine construction. Nothing connects at import time; callers build an engine from Settings."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.db.sql_log import log_statements

CONNECT_TIMEOUT_SECONDS = 5


def build_engine(settings: Settings, url: URL) -> Engine:
    pool = settings.profile.pool
    engine = create_engine(
        url,
        pool_size=pool.pool_size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.pool_timeout,
        pool_recycle=pool.pool_recycle,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "abdb"},
    )
    if settings.log_sql:
        log_statements(engine)
    return engine
