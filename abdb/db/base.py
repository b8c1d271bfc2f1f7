"""Declarative base, naming convention, column types and mixins shared by every table."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, FetchedValue, MetaData, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from abdb.domain import ids
from abdb.domain.vocabulary import VOCABULARY_TABLES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UPDATED_AT_TRIGGER_FUNCTION = "abdb_touch_updated_at"


new_id = ids.new_id  # RFC 9562 UUIDv7 on the server's clock (abdb.domain.ids)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


E = TypeVar("E", bound=StrEnum)


class VocabularyCode(TypeDecorator[E], Generic[E]):
    """A text code referencing a lookup table, read back as its Python enum member."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_class: type[E]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_class(value)


def vocabulary_table_of(enum_class: type[StrEnum]) -> str:
    return next(name for name, cls in VOCABULARY_TABLES.items() if cls is enum_class)


class IdMixin:
    """UUIDv7 primary key: client-side for bulk work, ``uuidv7()`` for rows inserted by plain SQL."""

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=new_id, server_default=text("uuidv7()")
    )


class CreatedAtMixin:
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class TimestampMixin(CreatedAtMixin):
    """``updated_at`` is set by a BEFORE UPDATE trigger, so raw SQL and upserts maintain it too."""

    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), server_onupdate=FetchedValue()
    )


def lookup_tables(metadata: MetaData) -> None:
    """One ``(code, description)`` table per controlled vocabulary."""
    from sqlalchemy import Column, Table

    for table_name in VOCABULARY_TABLES:
        Table(
            table_name,
            metadata,
            Column("code", String(32), primary_key=True),
            Column("description", Text, nullable=True),
        )


lookup_tables(Base.metadata)
