"""A substring or motif search of a CDR races its two plans, and the first to finish answers.

The index path (residue-pair or trigram candidates, every match visited and ranked: about 2 µs a match) and
the walk in name order (``cdr_walk``: about 0.2-0.3 µs an entry, ending at the ``limit``-th match) give the
same result, and which is faster depends on how many matches there are and where they fall in name order,
which nothing cheap predicts well: matches cluster (a template's variants share a name prefix and their
CDRs), so a sample of pages mispredicted walks both ways (measured at a million antibodies: ``AR.{3}YW``
walked to its bound and then took the index path, 98 ms against 49 for the walk alone; ``AR.{3}YY`` took
the index path, 62 ms against 29). Racing costs a second server process for the length of the faster plan
and answers in the time of the faster plan.

The walk runs on a second connection in a thread, in the search transaction's snapshot
(``pg_export_snapshot``: under REPEATABLE READ both plans see the same rows; under READ COMMITTED, as any
two statements would, they can differ only by what commits during the search); the index path runs on the
search's own connection inside a savepoint. The first to finish cancels the other, again every 5 ms until
the other is out of its plan: a cancel that reaches a server process between two statements is ignored by
PostgreSQL (it is not running one), so one cancel can be lost. Cancels are sent only while the other is
inside its plan, under a lock it must take to leave it, so no statement after the plan can be hit.

No race is run, and the index path answers alone, when the session is bound to a connection rather than an
engine (the walk needs a connection of its own), inside a savepoint SQLAlchemy opened (no snapshot can be
exported from one; a SAVEPOINT sent as plain SQL cannot be seen, and makes the search fail), in a
SERIALIZABLE transaction (the walk's reads would escape its checks), when the transaction has written
(another connection would not see its rows), on a standby (no snapshot can be exported) or on a Citus
coordinator (its ``cdr_search`` is an empty shell).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from psycopg.errors import QueryCanceled
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from abdb.domain.search import RegionHit

_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")  # what pg_export_snapshot returns, e.g. 00000003-0000001B-1
CANCEL_AGAIN_SECONDS = 0.005
STOP_SECONDS = 30.0  # past this the loser is left to end alone (a server that no longer answers)
_log = logging.getLogger(__name__)
Plan = Callable[[Session], list[RegionHit]]


class _Lost(Exception):
    """Raised in a plan about to send a statement after the other plan has won."""


class _Race:
    """Who is inside a plan, who won, and the cancels that follow; every change under one lock, and a cancel
    sent while holding it, so that a plan that has left the race is never cancelled afterwards."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.connections: dict[str, Any] = {}  # plan -> its psycopg connection, from when it entered the race
        self.running: set[str] = set()  # the plans inside the race
        self.winner: str | None = None
        self.walked: list[RegionHit] = []

    def entered(self, plan: str, connection: Any) -> bool:
        """Mark ``plan`` as running on ``connection``; False when the other has already won."""
        with self.changed:
            if self.winner is not None:
                return False
            self.connections[plan] = connection
            self.running.add(plan)
            return True

    def stop_if_lost(self, plan: str) -> Callable[..., None]:
        """A ``before_cursor_execute`` listener for ``plan``'s connection: once the other plan has won, no
        further statement is sent (a cancel can only stop the statement running when it lands)."""

        def check(*_: object) -> None:
            if self.winner not in (None, plan):
                raise _Lost(plan)

        return check

    def finished(self, plan: str, hits: list[RegionHit] | None) -> None:
        """``plan`` is out of its plan; with ``hits`` it answered, and wins unless the other already has:
        the other is then cancelled from the winner's own connection (no new connection for a cancel
        request: cancel_safe took 1-9 ms on a busy machine, pg_cancel_backend a fraction of one) until it is
        out of its plan too."""
        with self.changed:
            self.running.discard(plan)
            self.changed.notify_all()
            if hits is None or self.winner is not None:
                return
            self.winner = plan
            if plan == "walk":
                self.walked = hits
            own = self.connections[plan]
            self._stop_others(lambda loser: own.execute("SELECT pg_cancel_backend(%s)", [loser.info.backend_pid]))

    def abandon(self) -> bool:
        """The search is over whatever happened (an answer, an error, an interrupt): stop the walk if it still
        runs (with a cancel request: the search's own connection may be unusable now). Whether the walk ever
        started (it cannot start after this: its connection, still being taken from the pool, goes back
        unused)."""
        with self.changed:
            if self.winner is None:
                self.winner = "index"
            self._stop_others(lambda loser: loser.cancel_safe())
            return "walk" in self.connections

    def _stop_others(self, cancel: Callable[[Any], object]) -> None:
        """Cancel every plan still running, again every CANCEL_AGAIN_SECONDS until it has left (a cancel that
        lands between two of its statements is ignored), at most STOP_SECONDS in all."""
        deadline = time.monotonic() + STOP_SECONDS
        while self.running and time.monotonic() < deadline:
            for loser in list(self.running):
                try:
                    cancel(self.connections[loser])
                except Exception:  # a cancel that cannot be sent: the loser runs on, its answer ignored
                    _log.debug("could not cancel the %s of a search", loser, exc_info=True)
                    return
            self.changed.wait(CANCEL_AGAIN_SECONDS)


def raced(session: Session, walk: Plan, index_path: Callable[[], list[RegionHit]]) -> list[RegionHit] | None:
    """The hits of whichever of ``walk`` (run on a second connection: any number of hits, as it walks to the
    end of the table when fewer than the limit match) and ``index_path`` (on ``session``) finishes first;
    None when no race can be run here (the caller takes the index path)."""
    engine = session.get_bind()
    if not isinstance(engine, Engine) or session.in_nested_transaction():  # no snapshot leaves a savepoint
        return None
    snapshot = session.execute(
        text(
            "SELECT CASE WHEN pg_relation_size('cdr_search') > 0 AND NOT pg_is_in_recovery() "
            "AND pg_current_xact_id_if_assigned() IS NULL "
            "AND current_setting('transaction_isolation') <> 'serializable' THEN pg_export_snapshot() END"
        )
    ).scalar_one()
    if snapshot is None:
        return None
    race = _Race()
    walker = threading.Thread(target=_walk, args=(race, engine, str(snapshot), walk), name="abdb-walk", daemon=True)
    hits: list[RegionHit] | None = None
    try:
        walker.start()
        # a savepoint of its own, released either way (SQLAlchemy's begin_nested would leave one behind after
        # ROLLBACK TO, and no snapshot can be exported from inside it for the transaction's next race)
        session.execute(text("SAVEPOINT abdb_index_path"))
        connection = session.connection()
        stop_if_lost = race.stop_if_lost("index")
        event.listen(connection, "before_cursor_execute", stop_if_lost)
        try:
            try:
                if race.entered("index", connection.connection.driver_connection):
                    try:
                        hits = index_path()
                    finally:
                        race.finished("index", hits)
            finally:  # before the savepoint's own statements, which must run whoever won
                event.remove(connection, "before_cursor_execute", stop_if_lost)
        except (DBAPIError, _Lost) as error:
            cancelled = isinstance(error, _Lost) or isinstance(error.orig, QueryCanceled)
            if not (cancelled and race.winner == "walk"):
                raise
            session.execute(text("ROLLBACK TO SAVEPOINT abdb_index_path"))
        session.execute(text("RELEASE SAVEPOINT abdb_index_path"))
    finally:
        if race.abandon():
            walker.join(STOP_SECONDS)  # its connection back in the pool before the search's transaction ends
    _log.debug("the %s answered the search", "walk in name order" if race.winner == "walk" else "index path")
    return race.walked if race.winner == "walk" else hits


def _walk(race: _Race, engine: Engine, snapshot: str, walk: Plan) -> None:
    """The walk's side of the race, in its own connection and the search's snapshot. Its errors end its
    part only: the index path answers alone."""
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # it is written into the statement: SET takes no parameters
        return
    try:
        with engine.connect() as connection:
            if not race.entered("walk", connection.connection.driver_connection):
                return
            event.listen(connection, "before_cursor_execute", race.stop_if_lost("walk"))
            hits: list[RegionHit] | None = None
            try:
                connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                with Session(bind=connection) as walk_session:
                    hits = walk(walk_session)
            finally:
                race.finished("walk", hits)
    except Exception:  # a connection refused, a pool exhausted, the snapshot gone: the index path answers
        _log.debug("the walk of a search ended early", exc_info=True)
