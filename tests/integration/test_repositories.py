"""Repositories and the unit of work against real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL

from abdb import (
    AntibodyChain,
    AntibodyDomain,
    AntibodyRegion,
    AntibodySequence,
    ChainType,
    DomainType,
    FeatureType,
    JobStatus,
    JobType,
    NumberingScheme,
    RegionType,
    SequenceFeature,
    UnitOfWork,
    User,
)
from abdb.config import Settings
from abdb.database import Database
from abdb.errors import ConfigurationError, ConflictError, DatabaseUnreachable, NotFoundError
from abdb.unit_of_work import run_in_unit_of_work

HEAVY = (
    "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAKDRGYSSGWYFDY"
    "WGQGTLVTVSS"
)
REGIONS = [
    (RegionType.FR1, 1, 25),
    (RegionType.CDR1, 26, 33),
    (RegionType.FR2, 34, 50),
    (RegionType.CDR2, 51, 58),
    (RegionType.FR3, 59, 96),
    (RegionType.CDR3, 97, 110),
    (RegionType.FR4, 111, 121),
]


def _antibody(
    name: str, heavy: str = HEAVY, *, public: bool = False, creator: uuid.UUID | None = None
) -> AntibodySequence:
    domain = AntibodyDomain(
        domain_type=DomainType.VARIABLE,
        numbering_scheme=NumberingScheme.IMGT,
        sequence=heavy,
        start_position=1,
        end_position=len(heavy),
        regions=[
            AntibodyRegion(region_type=kind, sequence=heavy[start - 1 : end], start_position=start, end_position=end)
            for kind, start, end in REGIONS
        ],
    )
    chain = AntibodyChain(
        name="heavy", chain_type=ChainType.HEAVY, sequence=heavy, sequence_length=len(heavy), domains=[domain]
    )
    feature = SequenceFeature(feature_type=FeatureType.GENE, name="v_gene", value="IGHV3-23", source="MANUAL")
    return AntibodySequence(
        name=name,
        chains=[chain],
        features=[feature],
        is_public=public,
        created_by=creator,
        content_checksum=f"sum-{name}",
    )


def test_a_committed_antibody_is_read_back_whole(database: Database) -> None:
    with UnitOfWork(database) as uow:
        stored = uow.sequences.add(_antibody("adalimumab-like"))
        uow.jobs.enqueue(stored.id, JobType.ANNOTATION)
        uow.commit()
    with UnitOfWork(database) as uow:
        tree = uow.sequences.get_with_tree(stored.id)
        assert tree is not None
        regions = tree.chains[0].domains[0].regions
        assert [r.region_type for r in regions] == [kind for kind, _, _ in REGIONS]
        assert "".join(r.sequence for r in regions) == HEAVY
        assert regions[5].sequence == "AKDRGYSSGWYFDY"
        assert tree.features[0].value == "IGHV3-23"
        assert tree.jobs[0].status is JobStatus.PENDING
        assert tree.id.version == 7


def test_reading_a_whole_antibody_takes_a_fixed_number_of_queries(database: Database, database_url: URL) -> None:
    with UnitOfWork(database) as uow:
        small = uow.sequences.add(_antibody("small"))
        big = _antibody("big")
        for i in range(5):
            big.chains.append(_antibody(f"extra{i}").chains.pop())
        uow.sequences.add(big)
        uow.commit()
    engine = database.sessions().kw["bind"]
    counts = []
    for antibody in (small, big):
        statements: list[str] = []

        def listener(*args: object, statements: list[str] = statements) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", listener)
        with UnitOfWork(database) as uow:
            tree = uow.sequences.get_with_tree(antibody.id)
            assert tree is not None
            sum(len(d.regions) for c in tree.chains for d in c.domains)
            [f.name for f in tree.features]
            [j.status for j in tree.jobs]
        event.remove(engine, "before_cursor_execute", listener)
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] <= 6


def test_a_unit_of_work_that_raises_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(ZeroDivisionError), UnitOfWork(database) as uow:
        uow.sequences.add(_antibody("doomed"))
        1 / 0  # noqa: B018
    with UnitOfWork(database) as uow:
        assert uow.sequences.count() == 0
        assert uow.chains.count() == 0


def test_a_unit_of_work_without_commit_writes_nothing(database: Database) -> None:
    with UnitOfWork(database) as uow:
        uow.sequences.add(_antibody("forgotten"))
    with UnitOfWork(database) as uow:
        assert uow.sequences.count() == 0


def test_crud_get_many_update_delete_and_count(database: Database) -> None:
    with UnitOfWork(database) as uow:
        a, b, c = uow.sequences.add_all([_antibody("a"), _antibody("b"), _antibody("c", public=True)])
        uow.commit()
    with UnitOfWork(database) as uow:
        assert [s.name for s in uow.sequences.get_many([c.id, a.id])] == ["a", "c"]
        before = a.updated_at
        updated = uow.sequences.update(a.id, description="renamed")
        assert updated.description == "renamed" and updated.updated_at > before
        assert uow.sequences.delete(b.id) is True
        assert uow.sequences.delete(b.id) is False
        assert uow.sequences.count() == 2
        assert uow.sequences.count(is_public=True) == 1
        assert [s.name for s in uow.sequences.list_public()] == ["c"]
        assert uow.chains.count() == 2  # b's chain went with it
        uow.commit()
    with UnitOfWork(database) as uow:
        with pytest.raises(NotFoundError):
            uow.sequences.update(b.id, description="gone")
        with pytest.raises(ConfigurationError, match="no attribute colour"):
            uow.sequences.count(colour="red")


def test_lookups_by_name_checksum_creator_and_cdr3(database: Database) -> None:
    other = HEAVY.replace("AKDRGYSSGWYFDY", "AKDRGYSSGWYFDV")
    with UnitOfWork(database) as uow:
        user = uow.users.add(User(email="Ada@Example.org", username="ada"))
        uow.sequences.add(_antibody("one", creator=user.id))
        uow.sequences.add(_antibody("two", other))
        uow.commit()
    with UnitOfWork(database) as uow:
        assert [s.name for s in uow.sequences.find_by_name("two")] == ["two"]
        assert [s.name for s in uow.sequences.find_by_checksum("sum-one")] == ["one"]
        found_user = uow.users.find_by_email("ada@EXAMPLE.org")
        assert found_user is not None
        assert [s.name for s in uow.sequences.list_by_creator(found_user.id)] == ["one"]
        exact = uow.sequences.search_regions("AKDRGYSSGWYFDY")
        assert [r.domain.chain.antibody_sequence_id for r in exact] == [uow.sequences.find_by_name("one")[0].id]
        assert len(uow.sequences.search_regions("DRGYSSGW", substring=True)) == 2
        assert uow.sequences.search_regions("DRGYSSGW") == []
        assert uow.sequences.search_regions("%", substring=True) == []
        assert len(uow.sequences.search_chains_by_cdr3("WYFD", substring=True)) == 2
        assert len(uow.chains.of_type(ChainType.HEAVY)) == 2


def test_a_duplicate_email_becomes_a_conflict_naming_the_record(database: Database) -> None:
    with UnitOfWork(database) as uow:
        uow.users.add(User(email="ada@example.org", username="ada"))
        uow.commit()
    with pytest.raises(ConflictError, match=r"ada@example\.org"), UnitOfWork(database) as uow:
        uow.users.add(User(email="ADA@example.org", username="ada2"))


def test_pagination_returns_every_row_once_while_rows_are_inserted(database: Database) -> None:
    with UnitOfWork(database) as uow:
        originals = {uow.sequences.add(AntibodySequence(name=f"s{i}")).id for i in range(40)}
        uow.commit()
    seen: list[uuid.UUID] = []
    after = None
    while True:
        with UnitOfWork(database) as reader:
            page = reader.sequences.page(after=after, limit=7)
        seen.extend(s.id for s in page.items)
        with UnitOfWork(database) as writer:
            writer.sequences.add(AntibodySequence(name="inserted meanwhile"))
            writer.commit()
        if page.is_last or len(seen) > 200:
            break
        after = page.next_after
    assert len(seen) == len(set(seen))
    assert originals <= set(seen)
    assert seen == sorted(seen)


def test_two_workers_claiming_at_once_never_get_the_same_job(database: Database) -> None:
    with UnitOfWork(database) as uow:
        sequence = uow.sequences.add(AntibodySequence(name="queue"))
        for _ in range(30):
            uow.jobs.enqueue(sequence.id, JobType.ANNOTATION)
        uow.commit()
    claimed: dict[str, list[uuid.UUID]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        barrier.wait()
        while True:
            with UnitOfWork(database) as uow:
                job = uow.jobs.claim_next(JobType.ANNOTATION)
                if job is None:
                    return
                claimed[name].append(job.id)
                uow.session.execute(text("SELECT pg_sleep(0.005)"))
                uow.jobs.mark_completed(job, {"by": name})
                uow.commit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not set(claimed["a"]) & set(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == 30
    assert claimed["a"] and claimed["b"]
    with UnitOfWork(database) as uow:
        assert uow.jobs.counts_by_status() == {JobStatus.COMPLETED: 30}


def test_job_lifecycle_records_timestamps_errors_and_tool_results(database: Database) -> None:
    with UnitOfWork(database) as uow:
        sequence = uow.sequences.add(AntibodySequence(name="jobs"))
        first = uow.jobs.enqueue(sequence.id, JobType.ANNOTATION, {"scheme": "IMGT"})
        second = uow.jobs.enqueue(sequence.id, JobType.ANNOTATION)
        third = uow.jobs.enqueue(sequence.id, JobType.ALIGNMENT)
        uow.commit()
    with UnitOfWork(database) as uow:
        job = uow.jobs.claim_next(JobType.ANNOTATION)
        assert job is not None and job.id == first.id and job.status is JobStatus.RUNNING
        import datetime as dt

        result = uow.jobs.attach_tool_result(
            job,
            tool_name="ANARCI",
            tool_version="2024.05.21",
            success=True,
            input_data={"scheme": "imgt"},
            output_data={"domains": 1},
            execution_time=dt.timedelta(seconds=1.5),
        )
        uow.jobs.mark_completed(job, {"domains": 1})
        failed = uow.jobs.mark_failed(uow.jobs.get_or_raise(second.id), "not an antibody")
        cancelled = uow.jobs.mark_cancelled(uow.jobs.get_or_raise(third.id))
        uow.commit()
    with UnitOfWork(database) as uow:
        done = uow.jobs.get_or_raise(first.id)
        assert done.completed_at is not None and done.started_at is not None
        assert done.completed_at >= done.started_at
        assert done.tool_results[0].id == result.id
        assert done.tool_results[0].execution_time == dt.timedelta(seconds=1.5)
        assert uow.jobs.get_or_raise(failed.id).error_message == "not an antibody"
        assert uow.jobs.get_or_raise(cancelled.id).status is JobStatus.CANCELLED
        with pytest.raises(ConflictError, match="already COMPLETED"):
            uow.jobs.mark_failed(done, "too late")
        assert [j.id for j in uow.jobs.by_status(JobStatus.FAILED)] == [second.id]


def test_a_unit_of_work_is_retried_after_its_connection_is_killed(database: Database, engine: Engine) -> None:
    attempts: list[int] = []

    def work(uow: UnitOfWork) -> uuid.UUID:
        attempts.append(1)
        sequence = uow.sequences.add(AntibodySequence(name="survivor"))
        if len(attempts) == 1:
            pid = uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            uow.session.execute(text("SELECT 1"))
        uow.commit()
        return sequence.id

    stored = run_in_unit_of_work(work, database, backoff_seconds=0.01)
    assert len(attempts) == 2
    with UnitOfWork(database) as uow:
        assert [s.id for s in uow.sequences.find_by_name("survivor")] == [stored]


def test_an_unreachable_database_is_reported_after_bounded_retries(tmp_path: object) -> None:
    settings = Settings(
        database_url=URL.create(
            "postgresql+psycopg", username="u", password="hidden", host="127.0.0.1", port=1, database="x"
        )
    )
    calls: list[int] = []

    def work(uow: UnitOfWork) -> int:
        calls.append(1)
        return uow.sequences.count()

    with Database(settings) as unreachable, pytest.raises(DatabaseUnreachable) as raised:
        run_in_unit_of_work(work, unreachable, attempts=3, backoff_seconds=0.01)
    assert len(calls) == 3
    assert "hidden" not in str(raised.value) and "abdb db up" in str(raised.value)
