"""The one row description per table (abdb/db/rows.py) against the models, and its use by both writers."""

from __future__ import annotations

import pytest

from abdb.db.base import Base
from abdb.db.rows import IMPORTED_TABLES, ROWS, row
from abdb.services.importing.rows import COLUMNS


@pytest.mark.parametrize("table", sorted(ROWS))
def test_every_described_column_exists_and_every_required_one_is_written(table: str) -> None:
    model = Base.metadata.tables[table]
    assert set(ROWS[table]) <= set(model.c.keys()), set(ROWS[table]) - set(model.c.keys())
    required = {
        column.name
        for column in model.c
        if not column.nullable and column.default is None and column.server_default is None
    }
    assert required <= set(ROWS[table]), required - set(ROWS[table])


def test_the_copy_encoder_loads_exactly_the_described_columns_parents_first() -> None:
    assert list(COLUMNS) == list(IMPORTED_TABLES)
    assert all(COLUMNS[table] == ROWS[table] for table in IMPORTED_TABLES)


def test_a_row_with_a_missing_or_unknown_column_is_refused() -> None:
    values = dict.fromkeys(ROWS["antibody_regions"], 1)
    assert row("antibody_regions", **values) == values
    with pytest.raises(ValueError, match="lacks \\['sequence'\\]"):
        row("antibody_regions", **{k: v for k, v in values.items() if k != "sequence"})
    with pytest.raises(ValueError, match="no column for \\['colour'\\]"):
        row("antibody_regions", **values, colour="red")
