"""Column and constraint helpers shared by the tables: vocabulary codes, spans, confidence, foreign keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Numeric,
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


def fk(target: str, ondelete: str = "CASCADE") -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


def vocab(enum_class: Any, table: str, **kwargs: Any) -> Mapped[Any]:
    return mapped_column(VocabularyCode(enum_class), ForeignKey(f"{table}.code"), index=True, **kwargs)
