"""The transaction boundary: a unit of work owns one session and one transaction.

    with database.unit_of_work() as uow:     # or UnitOfWork(settings), one shared engine per URL
        uow.sequences.add(...)
        uow.commit()          # nothing is written unless this is called

Leaving the block without ``commit()`` rolls back, and so does any exception. Database errors leave as
``AbdbError`` subclasses. ``run_in_unit_of_work`` retries a whole unit of work after a transient connection
failure, but never one whose commit was under way: its outcome is unknown, so it is reported instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from abdb.config import Settings, mask_url
from abdb.db.connect import translate_db_error
from abdb.errors import AbdbError, CommitOutcomeUnknown, DatabaseUnreachable, TransientConflict
from abdb.repositories import (
    AnnotationRepository,
    AntibodyChainRepository,
    AntibodyDomainRepository,
    AntibodySequenceRepository,
    BulkLoader,
    ImportRunRepository,
    ProcessingJobRepository,
    UserRepository,
)
from abdb.repositories.cdr_search import SearchRowQueries
from abdb.repositories.documents import DocumentQueries
from abdb.repositories.exports import ExportQueries
from abdb.repositories.monitoring import MonitorQueries
from abdb.repositories.search import SearchQueries
from abdb.repositories.statistics import StatisticsQueries
from abdb.repositories.verification import VerificationQueries
from abdb.repositories.warming import WarmingQueries

if TYPE_CHECKING:
    from abdb.database import Database

T = TypeVar("T")
logger = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5


class UnitOfWork:
    """One session and one transaction on ``database``: a ``Database``, or ``Settings`` (then the process
    shares one engine per URL: the convenience of a notebook; commands pass the Database they resolved)."""

    def __init__(self, database: Database | Settings | None = None, *, url: URL | str | None = None) -> None:
        from abdb.database import Database, shared_database  # the Database builds units of work of this class

        if not isinstance(database, Database):
            settings = database or Settings.from_environment()
            database = shared_database(settings.with_overrides(database_url=url) if url is not None else settings)
        self.database = database
        self.settings = database.settings
        self.url = database.url
        self._session: Session | None = None
        self._committed = False

    # -- context manager --------------------------------------------------------------------------
    def __enter__(self) -> UnitOfWork:
        self._session = self.database.sessions()()
        event.listen(self._session, "after_flush", _remember_write)
        self._committed = False
        self.users = UserRepository(self._session)
        self.sequences = AntibodySequenceRepository(self._session)
        self.chains = AntibodyChainRepository(self._session)
        self.domains = AntibodyDomainRepository(self._session)
        self.jobs = ProcessingJobRepository(self._session)
        self.bulk = BulkLoader(self._session)
        self.import_runs = ImportRunRepository(self._session)
        self.annotations = AnnotationRepository(self._session)
        self.verification = VerificationQueries(self._session)
        self.exports = ExportQueries(self._session)
        self.documents = DocumentQueries(self._session)
        self.search = SearchQueries(self._session)
        self.search_rows = SearchRowQueries(self._session)
        self.statistics = StatisticsQueries(self._session)
        self.monitoring = MonitorQueries(self._session)
        self.warming = WarmingQueries(self._session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if not self._committed:
                if not session.info.get(WROTE) and not (session.new or session.dirty or session.deleted):
                    # A read-only unit of work: keep what it loaded usable after the block.
                    session.expunge_all()
                session.rollback()
        except sa_exc.DBAPIError:
            logger.debug("rollback failed on a broken connection", exc_info=True)
        finally:
            session.close()
            self._session = None
        if isinstance(exc, sa_exc.DBAPIError):
            raise translate_db_error(exc, self.url) from None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    # -- transaction ------------------------------------------------------------------------------
    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        session = self.session
        session.flush()
        try:
            session.commit()
        except sa_exc.DBAPIError as error:
            if _is_transient(error):
                raise CommitOutcomeUnknown(
                    f"the connection to {mask_url(self.url)} failed during COMMIT; the changes may or may not "
                    "be stored",
                    hint="check with `abdb db status` before running it again",
                ) from None
            raise
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()


WROTE = "abdb.wrote"


def _remember_write(session: Session, _flush_context: object) -> None:
    session.info[WROTE] = True


def run_in_unit_of_work(
    work: Callable[[UnitOfWork], T],
    database: Database | Settings | None = None,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_seconds: float = RETRY_BACKOFF_SECONDS,
) -> T:
    """Run ``work`` in a fresh unit of work, again (up to ``attempts`` times) after a lost connection.

    ``work`` calls ``uow.commit()`` itself when it writes. A failure before the commit rolled everything
    back, so running the whole function again is safe; a failure during the commit is never retried.
    """
    for attempt in range(1, attempts + 1):
        try:
            with UnitOfWork(database) as uow:
                return work(uow)
        except DatabaseUnreachable:
            if attempt == attempts:
                raise
            logger.info("connection lost; retrying the unit of work (attempt %d of %d)", attempt + 1, attempts)
            time.sleep(backoff_seconds * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


TRANSIENT_ATTEMPTS = 4
TRANSIENT_BACKOFF_SECONDS = 0.05


def retry_transient(
    work: Callable[[], T], *, attempts: int = TRANSIENT_ATTEMPTS, backoff_seconds: float = TRANSIENT_BACKOFF_SECONDS
) -> T:
    """Run ``work`` (which opens and commits its own unit of work) again after a deadlock or serialisation
    failure: the server rolled the whole transaction back, so nothing of it happened and it is safe to repeat."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except TransientConflict:
            if attempt == attempts:
                raise
            time.sleep(backoff_seconds * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def analyze_tables(database: Database, tables: Iterable[str]) -> None:
    """ANALYZE each table in a transaction of its own: several ANALYZEs in one transaction hold their tables'
    locks together, and two such transactions over the same tables in another order deadlock (seen in CI:
    an import's ANALYZE against a concurrent verify's)."""
    for table in tables:

        def analyze(table: str = table) -> None:
            with database.unit_of_work() as uow:
                uow.bulk.analyze([table])
                uow.commit()

        retry_transient(analyze)


def _is_transient(error: sa_exc.DBAPIError) -> bool:
    return isinstance(translate_db_error(error, URL.create("postgresql")), DatabaseUnreachable)


__all__ = [
    "AbdbError",
    "CommitOutcomeUnknown",
    "UnitOfWork",
    "analyze_tables",
    "retry_transient",
    "run_in_unit_of_work",
]
