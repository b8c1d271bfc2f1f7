"""What the fault tests share: a fresh database at head for each test, under the name they use."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL


@pytest.fixture
def fresh(database_url: URL) -> URL:
    return database_url
