"""Column and constraint helpers shared by the tables: vocabulary codes, spans, confidence, foreign keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Numeric,
    PrimaryKeyConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from abdb.db.base import VocabularyCode

CONFIDENCE = Numeric(4, 3)


def confidence_check() -> CheckConstraint:
    return CheckConstraint("confidence_score BETWEEN 0 AND 1", name="confidence_score_range")


def span_checks(nullable: bool = False) -> tuple[CheckConstraint, CheckConstraint]:
    if nullable:
        return (
            CheckConstraint("start_position IS NULL OR start_position >= 1", name="start_position_positive"),
            CheckConstraint(
                "end_position IS NULL OR start_position IS NULL OR end_position >= start_position",
                name="end_after_start",
            ),
        )
    return (
        CheckConstraint("start_position >= 1", name="start_position_positive"),
        CheckConstraint("end_position >= start_position", name="end_after_start"),
    )


def keyed(table: str, key: str, parent: tuple[str, str, str] | None = None) -> tuple[Any, ...]:
    """The table arguments that co-locate a table of the tree with its antibody (abdb.db.distribution): the
    primary key leads with the antibody key, and a child names its parent by ``(key, parent id)``, so that on
    Citus both rows live on one shard and the foreign key is checked there. The primary key's leading key
    column also serves the foreign key's lookups (cascades): an antibody has a handful of rows per table, so
    no index of its own is needed for ``(key, parent id)``. The ORM's identity is the same
    ``(key, id)``, so its own UPDATEs and DELETEs name the key too (repositories look rows up by ``id``).

    ``parent`` is ``(column naming the parent, parent table, the parent's key column)``.
    """
    arguments: list[Any] = [PrimaryKeyConstraint(key, "id", name=f"pk_{table}")]
    if parent is not None:
        column, parent_table, parent_key = parent
        arguments.append(
            ForeignKeyConstraint(
                [key, column],
                [f"{parent_table}.{parent_key}", f"{parent_table}.id"],
                ondelete="CASCADE",
                name=f"fk_{table}_{column}_{parent_table}",
            )
        )
    return tuple(arguments)


def fk(target: str, ondelete: str = "CASCADE") -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


def vocab(enum_class: Any, table: str, **kwargs: Any) -> Mapped[Any]:
    return mapped_column(VocabularyCode(enum_class), ForeignKey(f"{table}.code"), index=True, **kwargs)
