"""The services' own logic, with a fake database that never connects (cosmicpython's fake unit of work).

A service receives a ``Database`` and opens its units of work through it; here it receives a fake one whose
repositories record what they were asked and whose units of work remember whether they were committed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from abdb.domain.records import AntibodyRecord, ChainRecord, Rejection
from abdb.domain.vocabulary import ChainType, JobStatus, JobType
from abdb.errors import TransientConflict
from abdb.services.annotating.report import AnnotateOptions
from abdb.services.annotating.worker import work
from abdb.services.importing.batch import load_batch
from abdb.services.importing.report import FileReport, ImportOptions, ImportReport, close_stale_runs
from abdb.services.importing.rows import COLUMNS, RowContext, prepare
from abdb.services.jobs import cancel_jobs, retry_jobs

HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
CONTEXT = RowContext(public=False, creator_id=None, run_id=None, sha256="0" * 64)


class Recorder:
    """A repository that records every call and answers from ``answers`` (a value, or a function of the call)."""

    def __init__(self, log: list[tuple[str, tuple[Any, ...]]], prefix: str, **answers: Any) -> None:
        self._log, self._prefix, self._answers = log, prefix, answers

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.append((f"{self._prefix}.{name}", args + tuple(kwargs.items())))
            answer = self._answers.get(name)
            return answer(*args, **kwargs) if callable(answer) else answer

        return call


@dataclass
class FakeUnitOfWork:
    database: FakeDatabase
    committed: bool = False

    def __enter__(self) -> FakeUnitOfWork:
        log = self.database.log
        for name, answers in self.database.answers.items():
            setattr(self, name, Recorder(log, name, **answers))
        return self

    def __exit__(self, *_exc: object) -> None:
        self.database.log.append(("commit" if self.committed else "rollback", ()))

    def commit(self) -> None:
        self.committed = True


@dataclass
class FakeDatabase:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # repository -> method -> answer
    log: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    heads_checked: list[str] = field(default_factory=list)
    url: Any = None

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def require_head(self, what: str) -> None:
        self.heads_checked.append(what)

    def dispose(self) -> None:
        self.log.append(("dispose", ()))

    def calls(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.log if called == name]


def _prepared(name: str, heavy: str = HEAVY) -> Any:
    record = AntibodyRecord(name, (ChainRecord("heavy", ChainType.HEAVY, heavy, labelled=True),), "in.fasta", "line 1")
    return prepare(record, CONTEXT)


def _stored(*records: Any) -> Any:
    return lambda names: [(r.name, r.checksum, False, r.labels) for r in records if r.name in names]


# -- importing: one batch -------------------------------------------------------------------------------
def test_a_batch_copies_new_antibodies_skips_unchanged_ones_and_counts_after_the_commit() -> None:
    known, new = _prepared("known"), _prepared("new")
    database = FakeDatabase({"bulk": {"stored_antibodies": _stored(known)}, "import_runs": {}})
    report, file_report = ImportReport(run_id=uuid.uuid4()), FileReport("in.fasta")
    load_batch(database, [known, new], ImportOptions(), file_report, report)  # type: ignore[arg-type]
    assert database.calls("bulk.lock_imports") == [()]  # the shared lock before the names are compared
    copied = database.calls("bulk.copy_text")
    assert [table for table, _, _ in copied] == [t for t, _ in COLUMNS.items() if new.text[list(COLUMNS).index(t)]]
    assert all("known" not in text for _, _, text in copied)
    assert (file_report.inserted, file_report.unchanged, report.rows) == (1, 1, new.rows)
    [(run_id, counters)] = database.calls("import_runs.record_batch")
    assert run_id == report.run_id and (counters["inserted"], counters["unchanged"], counters["replaced"]) == (1, 1, 0)
    assert database.log[-1] == ("commit", ())


def test_a_dry_run_batch_counts_what_it_would_store_and_commits_nothing() -> None:
    database = FakeDatabase({"bulk": {"stored_antibodies": _stored()}, "import_runs": {}})
    report, file_report = ImportReport(dry_run=True), FileReport("in.fasta")
    load_batch(
        database, [_prepared("a"), _prepared("b", HEAVY + "S")], ImportOptions(dry_run=True), file_report, report
    )  # type: ignore[arg-type]
    assert file_report.inserted == 2
    assert [name for name, _ in database.log if name in ("commit", "rollback")] == ["rollback"]


def test_replace_deletes_the_stored_antibody_in_the_same_unit_of_work_as_the_new_copy() -> None:
    old, changed = _prepared("x"), _prepared("x", HEAVY + "S")
    database = FakeDatabase({"bulk": {"stored_antibodies": _stored(old)}, "import_runs": {}})
    file_report = FileReport("in.fasta")
    load_batch(database, [changed], ImportOptions(replace=True), file_report, ImportReport())  # type: ignore[arg-type]
    order = [name for name, _ in database.log]
    assert order.index("bulk.delete_by_names") < order.index("bulk.copy_text") < order.index("commit")
    assert file_report.replaced == 1 and order.count("commit") == 1


def test_a_batch_of_rejections_alone_takes_no_lock_and_copies_nothing() -> None:
    database = FakeDatabase({"bulk": {}, "import_runs": {}})
    file_report = FileReport("in.fasta")
    rejection = Rejection("in.fasta", "line 3", "bad", "validate", "too short")
    report = ImportReport()
    load_batch(database, [rejection], ImportOptions(), file_report, report)  # type: ignore[arg-type]
    assert not database.calls("bulk.lock_imports") and not database.calls("bulk.copy_text")
    assert file_report.rejected == 1 and report.rejections == [rejection]


def test_a_deadlocked_batch_is_run_again_whole_and_counted_once() -> None:
    attempts: list[int] = []

    def stored(names: set[str]) -> list[Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise TransientConflict("transaction rolled back (40P01): deadlock detected")
        return []

    database = FakeDatabase({"bulk": {"stored_antibodies": stored}, "import_runs": {}})
    file_report = FileReport("in.fasta")
    load_batch(database, [_prepared("a")], ImportOptions(), file_report, ImportReport())  # type: ignore[arg-type]
    assert len(attempts) == 2 and file_report.inserted == 1
    assert [name for name, _ in database.log if name in ("commit", "rollback")] == ["rollback", "commit"]


# -- the job queue seen from the command line ------------------------------------------------------------
def test_retry_and_cancel_check_the_schema_first_and_commit_what_the_queue_did() -> None:
    database = FakeDatabase({"jobs": {"requeue": 3, "cancel_pending": 2}})
    assert retry_jobs(database, failed=False, running_for=dt.timedelta(minutes=5)) == 3  # type: ignore[arg-type]
    assert cancel_jobs(database) == 2  # type: ignore[arg-type]
    assert database.heads_checked == ["`abdb jobs retry`", "`abdb jobs cancel`"]
    assert database.calls("jobs.requeue") == [
        (
            JobType.ANNOTATION,
            ("failed", False),
            ("running_for", dt.timedelta(minutes=5)),
            ("cancelled", False),
            ("completed", False),
        )
    ]
    assert [name for name, _ in database.log].count("commit") == 2


def test_close_stale_runs_returns_what_the_repository_closed_and_commits() -> None:
    closed = [uuid.uuid4()]
    database = FakeDatabase({"import_runs": {"close_stale": closed}})
    assert close_stale_runs(database) == closed  # type: ignore[arg-type]
    assert database.log[-1] == ("commit", ())


# -- annotation: one worker's loop -------------------------------------------------------------------------
class FailingEngine:
    name, version = "fake", "0"

    def number(self, sequences: list[str], settings: Any) -> list[Any]:
        raise RuntimeError("no HMMs here")


def test_a_worker_counts_only_the_jobs_it_still_held_at_the_write() -> None:
    sequence = uuid.uuid4()
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    jobs = [(uuid.uuid4(), sequence, started), (uuid.uuid4(), sequence, started)]
    claims = iter([jobs, []])
    kept = {jobs[0][0]}  # the other job was re-queued by someone else since the claim
    database = FakeDatabase(
        {
            "jobs": {"claim": lambda *_: next(claims), "lock_held": lambda pairs: kept},
            "annotations": {"chains_of": lambda ids: ({sequence: [(uuid.uuid4(), "heavy", HEAVY)]}, {sequence: "ab"})},
        }
    )
    report = work(database, AnnotateOptions(batch_size=5), FailingEngine(), None)  # type: ignore[arg-type]
    assert (report.jobs, report.failed, report.dropped) == (1, 1, 1)
    [finished] = database.calls("jobs.finish")
    assert [(o["job_id"], o["new_status"]) for o in finished[0]] == [(jobs[0][0], JobStatus.FAILED)]
    assert "engine: RuntimeError: no HMMs here" in finished[0][0]["error_message"]


class InterruptedEngine:
    name, version = "fake", "0"

    def number(self, sequences: list[str], settings: Any) -> list[Any]:
        raise KeyboardInterrupt  # Ctrl-C while numbering: the claim is committed, its jobs RUNNING


def test_an_interrupted_worker_puts_its_claim_back_and_reports_the_stop() -> None:
    sequence = uuid.uuid4()
    job = (uuid.uuid4(), sequence, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    database = FakeDatabase(
        {
            "jobs": {"claim": [job], "release": 1},
            "annotations": {"chains_of": lambda ids: ({sequence: [(uuid.uuid4(), "heavy", HEAVY)]}, {sequence: "ab"})},
        }
    )
    report = work(database, AnnotateOptions(), InterruptedEngine(), None)  # type: ignore[arg-type]
    assert report.interrupted and report.jobs == 0
    assert database.calls("jobs.release") == [([job],)]
    assert ("dispose", ()) in database.log  # a fresh connection for the release: the interrupt may have broken one


@pytest.mark.parametrize("limit", [1, 3])
def test_a_worker_claims_no_more_than_its_limit(limit: int) -> None:
    asked: list[int] = []

    def claim(job_type: JobType, wanted: int, run: Any) -> list[Any]:
        asked.append(wanted)
        return [(uuid.uuid4(), uuid.uuid4(), dt.datetime.now(dt.UTC)) for _ in range(wanted)]

    database = FakeDatabase(
        {
            "jobs": {"claim": claim, "lock_held": lambda claims: {job for job, *_ in claims}},
            "annotations": {"chains_of": lambda ids: ({i: [] for i in ids}, dict.fromkeys(ids, "ab"))},
        }
    )
    report = work(database, AnnotateOptions(batch_size=2, limit=limit), FailingEngine(), None)  # type: ignore[arg-type]
    assert sum(asked) == limit and report.jobs == limit


# -- annotating: the parent of several workers ----------------------------------------------------------
def test_the_parent_keeps_every_claim_a_worker_has_not_written_and_releases_them_all_when_it_dies() -> None:
    """A worker numbers batch B while batch A is written, so two claims are outstanding at once; the parent
    used to keep only the last one ("claimed" replaced it, "written" dropped it), and a worker killed then
    left B's jobs RUNNING."""
    from abdb.services.annotating import pool

    first = [(uuid.uuid4(), uuid.uuid4(), dt.datetime.now(dt.UTC))]
    second = [(uuid.uuid4(), uuid.uuid4(), dt.datetime.now(dt.UTC))]
    watch = pool._Watch()
    written: list[int] = []
    for kind, value in (("claimed", first), ("claimed", second), ("written", 1)):
        pool._take(FakeDatabase({}), watch, kind, 0, value, written.append)  # type: ignore[arg-type]
    assert watch.claims[0] == [second] and written == [1]
    released: list[list[Any]] = []

    class Dead:
        pid, exitcode = 4242, -9

    original = pool.release
    pool.release = lambda _database, claims: released.append(claims) or len(claims)  # type: ignore[assignment]
    try:
        pool._check_exits(FakeDatabase({}), [Dead()], watch)  # type: ignore[arg-type]
    finally:
        pool.release = original
    assert released == [second] and "1 job(s) it had claimed are PENDING again" in watch.dead[0]


def test_a_worker_stops_on_the_first_signal_and_a_second_cannot_break_off_its_clean_up() -> None:
    """An annotation worker gets the terminal's Ctrl-C and the one its parent relays; the second, landing
    in the clean-up the first started, used to skip putting the claimed batch back. Also when the first
    arrives inside nested deferred blocks (a claim told to the parent over the pipe), and when a later one
    arrives inside a deferred block (sending the final report)."""
    import os
    import signal

    from abdb.services.stopping import stop_on_the_first_signal_only, stop_signals_deferred

    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop_on_the_first_signal_only()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the relayed one: ignored
        os.kill(os.getpid(), signal.SIGTERM)
        with stop_signals_deferred():  # a later one inside a deferred block: ignored too
            os.kill(os.getpid(), signal.SIGINT)

        stop_on_the_first_signal_only()  # deferred, then delivered: the same, once
        with pytest.raises(KeyboardInterrupt), stop_signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

        stop_on_the_first_signal_only()  # nested: the inner block hands it to the outer, which stops once
        reached = False
        with pytest.raises(KeyboardInterrupt), stop_signals_deferred():
            with stop_signals_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
            reached = True  # the inner block does not raise: the outer one stops, once
        assert reached and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def test_a_stop_arriving_as_a_batch_goes_to_the_writer_counts_the_write_instead_of_releasing_its_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C landing once the writer had the batch, before the worker noted it, used to release jobs that
    the writer went on to store (and the run said they were PENDING again)."""
    import os
    import signal
    from concurrent.futures import Future
    from contextlib import contextmanager

    from abdb.services.annotating import worker
    from abdb.services.annotating.report import AnnotateReport

    sequence = uuid.uuid4()
    job = (uuid.uuid4(), sequence, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    class StoppedWhileHandedOver:
        def submit(self, numbered: list[Any], claimed: list[Any]) -> Future[Any]:
            stored: Future[Any] = Future()
            stored.set_result(({job[0]}, {job[0]: AnnotateReport(completed=1, chains=1)}, 1))
            os.kill(os.getpid(), signal.SIGINT)  # the writer has the batch; the worker has not noted it yet
            return stored

    @contextmanager
    def writer(*_args: Any, **_kwargs: Any) -> Any:
        yield StoppedWhileHandedOver()

    monkeypatch.setattr(worker, "batch_writer", writer)
    claims = iter([[job], []])
    database = FakeDatabase(
        {
            "jobs": {"claim": lambda *_: next(claims), "release": 1},
            "annotations": {"chains_of": lambda ids: ({sequence: [(uuid.uuid4(), "heavy", HEAVY)]}, {sequence: "ab"})},
        }
    )
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # CI runs with Ctrl-C ignored
    try:
        report = work(database, AnnotateOptions(), FailingEngine(), None)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGINT, previous)
    assert report.interrupted and report.completed == 1
    assert database.calls("jobs.release") == []


def test_a_write_is_counted_once_when_the_stop_arrives_while_the_parent_is_told() -> None:
    from concurrent.futures import Future

    from abdb.services.annotating.report import AnnotateReport
    from abdb.services.annotating.worker import _collect, _finish_quietly, _Writing

    job = uuid.uuid4()
    done: Future[Any] = Future()
    done.set_result(({job}, {job: AnnotateReport(completed=1)}, 1))
    writing = _Writing(done, [(job, uuid.uuid4(), dt.datetime.now(dt.UTC))])
    report = AnnotateReport()

    def told(_outcomes: int) -> None:
        raise KeyboardInterrupt  # the stop, delivered as the "written" message leaves

    with pytest.raises(KeyboardInterrupt):
        _collect(writing, report, told)
    _finish_quietly(FakeDatabase({}), writing, report)  # type: ignore[arg-type]
    assert report.completed == 1 and report.jobs == 1 and report.dropped == 0
