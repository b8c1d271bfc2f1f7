"""The race of a dense search's two plans (abdb.repositories.cdr_race): the first to finish answers, the other is
cancelled at once, the search's transaction goes on as if nothing had happened, and the walk sees the search's
snapshot. Slow plans are made with pg_sleep, so that who wins is known."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from abdb.database import Database
from abdb.domain.search import RegionHit, RegionSearch, SearchKind
from abdb.repositories.cdr_race import raced
from tests.integration.test_search import stored  # noqa: F401  (the fixture)

SLOW = "SELECT pg_sleep(30)"  # far longer than any test waits: a plan that ends early was cancelled


def _hits(*names: str) -> list[RegionHit]:
    return cast(list[RegionHit], list(names))


def _slow_walk(session: Session) -> list[RegionHit]:
    session.execute(text(SLOW))
    return _hits("the walk")


def _slow_index(session: Session) -> list[RegionHit]:
    session.execute(text(SLOW))
    return _hits("the index path")


def _once_the_walk_sleeps(session: Session, then: Callable[[], list[RegionHit]]) -> Callable[[], list[RegionHit]]:
    """An index path that answers (``then``) only once the walk's slow statement is running on the server, so
    that the walk is cancelled inside its statement, not before it starts."""

    def index_path() -> list[RegionHit]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            session.execute(text("SELECT pg_stat_clear_snapshot()"))  # the view is read once per transaction
            if session.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE query = :slow AND state = 'active'"), {"slow": SLOW}
            ).scalar_one():
                return then()
            time.sleep(0.01)
        raise AssertionError("the walk never started its statement")

    return index_path


def _backends_sleeping(database: Database) -> int:
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE query = :slow AND state = 'active'"),
                    {"slow": SLOW},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_the_walk_answers_when_it_finishes_first_and_the_index_path_is_cancelled_at_once(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    with database.unit_of_work() as uow:
        started = time.monotonic()
        hits = raced(uow.session, lambda session: _hits("the walk"), lambda: _slow_index(uow.session))
        assert hits == ["the walk"]
        assert time.monotonic() - started < 10
        # the transaction goes on: no error left, no savepoint left (a snapshot can be exported again)
        assert uow.session.execute(text("SELECT pg_export_snapshot() IS NOT NULL")).scalar_one()
    assert _backends_sleeping(database) == 0


def test_the_index_path_answers_when_it_finishes_first_and_the_walk_is_cancelled_at_once(
    database: Database,
    stored: Any,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    with database.unit_of_work() as uow, caplog.at_level(logging.DEBUG, logger="abdb.repositories.cdr_race"):
        started = time.monotonic()
        index_path = _once_the_walk_sleeps(uow.session, lambda: _hits("the index path"))
        assert raced(uow.session, _slow_walk, index_path) == ["the index path"]
        assert time.monotonic() - started < 10
    assert "the index path answered" in caplog.text
    assert _backends_sleeping(database) == 0


def test_many_races_in_one_transaction_leave_it_usable_whoever_wins(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    started = time.monotonic()
    with database.unit_of_work() as uow:
        for round_ in range(12):
            if round_ % 2:
                assert raced(uow.session, lambda s: _hits("walk"), lambda: _slow_index(uow.session)) == ["walk"]
            else:
                assert raced(uow.session, _slow_walk, lambda: _hits("index")) == ["index"]
        assert uow.session.execute(text("SELECT count(*) FROM cdr_search")).scalar_one() > 0
    assert time.monotonic() - started < 20  # every loser stopped at once, none left to sleep its 30 s
    assert _backends_sleeping(database) == 0


def test_a_loser_idle_when_the_first_cancel_lands_is_stopped_before_its_long_statement(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    """The loser is idle when the winner first cancels it (PostgreSQL ignores that cancel), then starts a long
    statement: it never runs (or, sent just as the other won, is cancelled again), whichever plan lost."""

    def idle_then_slow(session: Session, answer: str) -> list[RegionHit]:
        time.sleep(0.3)  # between statements: the first cancel lands here
        session.execute(text(SLOW))
        return _hits(answer)

    with database.unit_of_work() as uow:
        started = time.monotonic()
        assert raced(uow.session, lambda s: _hits("walk"), lambda: idle_then_slow(uow.session, "index")) == ["walk"]
        answer_late = lambda: (time.sleep(0.15), _hits("index"))[1]  # noqa: E731  (the walk has started)
        assert raced(uow.session, lambda s: idle_then_slow(s, "walk"), answer_late) == ["index"]
        assert time.monotonic() - started < 10
    assert _backends_sleeping(database) == 0


def test_the_walk_sees_the_searchs_snapshot_not_rows_committed_since(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    def count_walk(session: Session) -> list[RegionHit]:
        return _hits(str(session.execute(text("SELECT count(*) FROM race_probe")).scalar_one()))

    other = create_engine(database.url)
    try:
        with other.begin() as connection:
            connection.execute(text("CREATE TABLE race_probe (x int)"))
        with database.unit_of_work() as uow:
            uow.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            assert uow.session.execute(text("SELECT count(*) FROM race_probe")).scalar_one() == 0  # the snapshot
            with other.begin() as connection:  # a row committed after it was taken
                connection.execute(text("INSERT INTO race_probe VALUES (1)"))
            assert raced(uow.session, count_walk, lambda: _slow_index(uow.session)) == ["0"]
        with database.unit_of_work() as uow:  # a new search sees it
            assert raced(uow.session, count_walk, lambda: _slow_index(uow.session)) == ["1"]
    finally:
        with other.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS race_probe"))
        other.dispose()


def test_no_race_is_run_where_the_walk_could_not_see_what_the_search_sees(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    def refuse(session: Session) -> list[RegionHit]:
        raise AssertionError("no walk may run")

    with database.unit_of_work() as uow:  # a transaction that has written: a second connection misses its rows
        uow.session.execute(text("CREATE TEMP TABLE written (x int)"))
        assert raced(uow.session, refuse, lambda: _hits("index")) is None
    with database.unit_of_work() as uow:  # SERIALIZABLE: the walk's reads would escape its checks
        uow.session.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
        assert raced(uow.session, refuse, lambda: _hits("index")) is None
    with database.unit_of_work() as uow, uow.session.begin_nested():  # a savepoint: no snapshot can leave it
        assert raced(uow.session, refuse, lambda: _hits("index")) is None
        assert uow.session.execute(text("SELECT 1")).scalar_one() == 1  # and the transaction is fine
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection, Session(bind=connection) as session:  # bound to a connection
            assert raced(session, refuse, lambda: _hits("index")) is None
    finally:
        engine.dispose()


def test_an_error_of_the_index_path_is_raised_and_the_walk_stopped(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    with database.unit_of_work() as uow:
        started = time.monotonic()
        with pytest.raises(DBAPIError, match="division by zero"):
            failing = _once_the_walk_sleeps(uow.session, lambda: uow.session.execute(text("SELECT 1 / 0")).all())  # type: ignore[arg-type,return-value]
            raced(uow.session, _slow_walk, failing)
        assert time.monotonic() - started < 10
    assert _backends_sleeping(database) == 0


def test_a_raced_search_of_a_dense_motif_gives_what_each_plan_gives_alone(
    database: Database,
    stored: Any,  # noqa: F811
) -> None:
    from abdb.domain.search import motif_regex

    for query, kind in (("AR.{2}", SearchKind.MOTIF), ("GYSSG", SearchKind.SUBSTRING), ("W.{2,4}D", SearchKind.MOTIF)):
        search = RegionSearch(query, kind, limit=5)
        regex = motif_regex(query) if kind is SearchKind.MOTIF else None
        with database.unit_of_work() as uow:
            results = [uow.search.regions(search, regex, walk=walk) for walk in (None, 0, 10**9, None)]
        assert results[0] == results[1] == results[2] == results[3] and len(results[0]) == 5, query
