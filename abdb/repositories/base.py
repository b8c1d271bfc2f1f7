"""CRUD and keyset pagination shared by every repository."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abdb.db.base import Base
from abdb.errors import ConfigurationError, NotFoundError

M = TypeVar("M", bound=Base)

MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of rows in id order; pass ``next_after`` as ``after`` to get the next one."""

    items: list[M]
    next_after: uuid.UUID | None

    @property
    def is_last(self) -> bool:
        return self.next_after is None


class BaseRepository(Generic[M]):
    model: ClassVar[type[Any]]

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, id_: uuid.UUID) -> M | None:
        """The row with this id. Ids are UUIDv7, unique by themselves; the primary key of a table of the tree is
        ``(antibody key, id)``, so this reads by ``id`` alone (on Citus: every shard)."""
        return self.session.scalars(select(self.model).where(self.model.id == id_)).one_or_none()

    def get_or_raise(self, id_: uuid.UUID) -> M:
        found = self.get(id_)
        if found is None:
            raise NotFoundError(f"no {self.model.__tablename__} row with id {id_}")
        return found

    def get_many(self, ids: Iterable[uuid.UUID]) -> list[M]:
        wanted = list(ids)
        if not wanted:
            return []
        rows = self.session.scalars(select(self.model).where(self.model.id.in_(wanted)).order_by(self.model.id))
        return list(rows)

    def add(self, instance: M) -> M:
        self.session.add(instance)
        self.session.flush()
        return instance

    def add_all(self, instances: Sequence[M]) -> list[M]:
        self.session.add_all(instances)
        self.session.flush()
        return list(instances)

    def update(self, id_: uuid.UUID, **values: Any) -> M:
        instance = self.get_or_raise(id_)
        self._check_columns(values)
        for key, value in values.items():
            setattr(instance, key, value)
        self.session.flush()
        self.session.refresh(instance, ["updated_at"] if hasattr(instance, "updated_at") else None)
        return instance

    def delete(self, id_: uuid.UUID) -> bool:
        instance = self.get(id_)
        if instance is None:
            return False
        self.session.delete(instance)
        self.session.flush()
        return True

    def count(self, **filters: Any) -> int:
        query = select(func.count()).select_from(self.model).filter_by(**self._check_columns(filters))
        return int(self.session.scalar(query) or 0)

    def filter_by(self, **filters: Any) -> list[M]:
        query = select(self.model).filter_by(**self._check_columns(filters)).order_by(self.model.id)
        return list(self.session.scalars(query))

    def page(self, *, after: uuid.UUID | None = None, limit: int = 100, **filters: Any) -> Page[M]:
        """Keyset pagination by id; UUIDv7 ids are time-ordered, so this is creation order."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ConfigurationError(f"page size must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
        query = select(self.model).filter_by(**self._check_columns(filters))
        if after is not None:
            query = query.where(self.model.id > after)
        rows = list(self.session.scalars(query.order_by(self.model.id).limit(limit + 1)))
        has_more = len(rows) > limit
        items = rows[:limit]
        return Page(items, items[-1].id if has_more else None)

    def _check_columns(self, values: dict[str, Any]) -> dict[str, Any]:
        known = set(self.model.__mapper__.attrs.keys())
        if unknown := sorted(set(values) - known):
            raise ConfigurationError(f"{self.model.__name__} has no attribute {', '.join(unknown)}")
        return values
