"""Alembic's command API behind abdb's own verbs: upgrade, downgrade (refused when rows would be lost), history,
and ``check`` (drift itself is in ``schema_drift``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from abdb.backends import database_url
from abdb.config import Settings
from abdb.db.catalog import schema_drift
from abdb.db.connect import connection_to
from abdb.db.revisions import alembic_config, current_revision, head_revision
from abdb.errors import MigrationError


@dataclass(frozen=True)
class RevisionState:
    url: str
    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class HistoryEntry:
    revision: str
    down_revision: str | None
    message: str
    is_head: bool
    is_current: bool


@dataclass(frozen=True)
class CheckReport:
    state: RevisionState
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def revision_state(settings: Settings) -> RevisionState:
    url = database_url(settings)
    with connection_to(url) as connection:
        current = current_revision(connection)
    return RevisionState(url=settings.redact(str(url)), current=current, head=head_revision())


# An arbitrary constant naming abdb's migration lock among advisory locks ("abdm" in ASCII).
MIGRATION_LOCK_KEY = 0x6162646D


def _lock_migrations(connection: Connection) -> None:
    """One migration at a time: a second `abdb migrate` waits here, then finds the work done."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade(settings: Settings, target: str = "head") -> tuple[str | None, str | None]:
    url = database_url(settings)
    with connection_to(url) as connection:
        _lock_migrations(connection)
        before = current_revision(connection)
        _run_alembic(lambda cfg: command.upgrade(cfg, target), url, connection)
        after = current_revision(connection)
    return before, after


@dataclass(frozen=True)
class MigrationOutcome:
    before: str | None
    after: str | None
    message: str


def migrate_to(settings: Settings, target: str = "head") -> MigrationOutcome:
    """``abdb migrate``: upgrade, saying plainly when the database is already there or beyond the target."""
    url = database_url(settings)
    script = ScriptDirectory.from_config(alembic_config(url))
    with connection_to(url) as connection:
        current = current_revision(connection)
    wanted = _revision_id(script, target)
    if current is not None and current != wanted and _is_ancestor(script, wanted, current):
        return MigrationOutcome(
            current,
            current,
            f"the database is at {current}, newer than {wanted}; nothing to do (to go back: "
            f"`abdb migrate down {wanted}`)",
        )
    before, after = upgrade(settings, target)
    if before == after:
        return MigrationOutcome(before, after, f"already at {after}; nothing to do")
    return MigrationOutcome(before, after, f"upgraded {before or 'empty database'} -> {after}")


def migrate_down(settings: Settings, target: str) -> MigrationOutcome:
    """``abdb migrate down``: refuse (exit 4, nothing changed) when rows would not fit the older schema."""
    url = database_url(settings)
    script = ScriptDirectory.from_config(alembic_config(url))
    with connection_to(url) as connection:
        current = current_revision(connection)
        if current is None:
            return MigrationOutcome(None, None, "nothing to downgrade: the database has no abdb schema (it is at base)")
        try:
            steps = list(script.iterate_revisions(current, target))
        except Exception as error:  # alembic's own words for a target that is not below the current revision
            raise MigrationError(f"cannot downgrade from {current} to {target}: {error}") from None
        blockers = [
            f"{step.revision}: {item}"
            for step in steps
            for item in getattr(step.module, "downgrade_blockers", lambda _c: [])(connection)
        ]
    if blockers:
        raise MigrationError(
            f"downgrade from {current} to {target} refused; nothing was changed. These rows have no place in the "
            f"older schema: {'; '.join(blockers)}",
            hint="delete those antibodies first (or stay at this revision); docs/database.md, 'What a downgrade "
            "does to data'",
        )
    before, after = downgrade(settings, target)
    return MigrationOutcome(before, after, f"downgraded {before} -> {after or 'base (no abdb schema left)'}")


def _revision_id(script: ScriptDirectory, target: str) -> str:
    from alembic.util import CommandError

    if target == "head":
        return head_revision()
    try:
        found = script.get_revision(target)
    except CommandError as error:
        raise MigrationError(f"--to {target}: {error}") from None
    if found is None:
        raise MigrationError(f"--to {target}: no such revision", hint="`abdb migrate history` lists them")
    return found.revision


def _is_ancestor(script: ScriptDirectory, older: str, newer: str) -> bool:
    return any(rev.revision == older for rev in script.iterate_revisions(newer, "base"))


def downgrade(settings: Settings, target: str) -> tuple[str | None, str | None]:
    url = database_url(settings)
    with connection_to(url) as connection:
        _lock_migrations(connection)
        before = current_revision(connection)
        _run_alembic(lambda cfg: command.downgrade(cfg, target), url, connection)
        after = current_revision(connection)
    return before, after


def history(settings: Settings, *, with_current: bool = True) -> list[HistoryEntry]:
    current = revision_state(settings).current if with_current else None
    script = ScriptDirectory.from_config(alembic_config(URL.create("postgresql")))
    heads = set(script.get_heads())
    entries = []
    for rev in script.walk_revisions():
        down = rev.down_revision if isinstance(rev.down_revision, str) or rev.down_revision is None else None
        entries.append(
            HistoryEntry(
                revision=rev.revision,
                down_revision=down,
                message=rev.doc or "",
                is_head=rev.revision in heads,
                is_current=rev.revision == current,
            )
        )
    return entries


def check(settings: Settings) -> CheckReport:
    url = database_url(settings)
    head = head_revision()
    with connection_to(url) as connection:
        current = current_revision(connection)
        state = RevisionState(url=settings.redact(str(url)), current=current, head=head)
        if current != head:
            return CheckReport(state, [f"database is at {current or 'no revision'}, head is {head}"])
        problems = schema_drift(connection)
    return CheckReport(state, problems)


def _run_alembic(action: object, url: URL, connection: Connection) -> None:
    from alembic.util import CommandError

    try:
        action(alembic_config(url, connection))  # type: ignore[operator]
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
    except sa_exc.IntegrityError as exc:  # the whole migration runs in one transaction: it is rolled back
        detail = getattr(getattr(exc.orig, "diag", None), "message_detail", None) or str(exc.orig).splitlines()[0]
        raise MigrationError(
            f"the migration was refused by the database and nothing was changed: {detail}",
            hint="rows use values the target revision does not know; delete them first or stay at this revision",
        ) from None
