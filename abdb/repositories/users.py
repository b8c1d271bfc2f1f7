"""Users, found by email case-insensitively (as the unique index compares them)."""

from __future__ import annotations

from sqlalchemy import func, select

from abdb.db.models import User
from abdb.repositories.base import BaseRepository


class UserRepository(BaseRepository[User]):
    model = User

    def find_by_email(self, email: str) -> User | None:
        query = select(User).where(func.lower(User.email) == email.strip().lower())
        return self.session.scalars(query).one_or_none()
