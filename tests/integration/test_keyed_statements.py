"""Every statement about given antibodies, chains or jobs names the antibody key (on Citus: their shards).

The statements are captured with an event hook while a user's main paths run — import, annotate (one and
two workers), an interrupted claim released, retry, cancel, a tree read, a replacing import, a Python API job
lifecycle — and each one that picks rows of a table of the tree by id must filter on that table's
distribution column too. Scans that pick nothing by id (counts, verify, `jobs retry` by status) may fan out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from abdb.database import Database
from abdb.db.distribution import APART, BY_ANTIBODY
from abdb.domain.vocabulary import JobType
from abdb.services.annotating.run import AnnotateOptions, annotate
from abdb.services.annotating.worker import release
from abdb.services.importing.run import ImportOptions, import_fasta
from abdb.services.jobs import cancel_jobs, retry_jobs
from tests.writer_thread import another_thread_running

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
KEYED = {**BY_ANTIBODY, **APART}
TARGET = re.compile(r"^\s*(?:UPDATE|DELETE FROM|SELECT .*? FROM)\s+(\w+)", re.IGNORECASE | re.DOTALL)
# a row picked by id: `x.id = %(p)s`, `id IN (`, `chain_id = ANY(`, or a tuple that holds an id column
BY_ID = re.compile(
    r"(?<!NOT \()(?<![\w.])(?:(?:\w+\.)?(?:id|chain_id|domain_id|job_id)\s*(?:=\s*(?:%\(|ANY)|IN\s*\())"
    r"|\(([\w., ]*\b(?:id|chain_id|domain_id|job_id)\b[\w., ]*)\)\s*IN",
    re.IGNORECASE,
)


def _where(statement: str) -> str:
    match = re.search(r"\bWHERE\b(.*)", statement, re.IGNORECASE | re.DOTALL)
    return match.group(1) if match else ""


def offending(statement: str) -> str | None:
    """The table whose rows the statement picks by id without its distribution column, if any."""
    target = TARGET.match(statement)
    if target is None or target.group(1) not in KEYED or statement.lstrip().upper().startswith("COPY"):
        return None
    table = target.group(1)
    where = _where(statement.split(" RETURNING ")[0])
    if not BY_ID.search(where):
        return None
    return None if re.search(rf"\b{KEYED[table]}\b", where) else table


def test_the_rule_tells_keyed_statements_from_unkeyed_ones() -> None:
    assert offending("UPDATE processing_jobs SET status = 'X' WHERE processing_jobs.id = %(job_id)s") == (
        "processing_jobs"
    )
    assert offending("DELETE FROM antibody_domains WHERE antibody_domains.chain_id IN (%(c_1)s)") == (
        "antibody_domains"
    )
    assert (
        offending(
            "UPDATE processing_jobs SET s = 1 WHERE processing_jobs.sequence_id = %(a)s AND processing_jobs.id = %(b)s"
        )
        is None
    )
    assert (
        offending(
            "DELETE FROM antibody_domains WHERE (antibody_domains.antibody_sequence_id, antibody_domains.chain_id) "
            "IN (__[POSTCOMPILE_param_1])"
        )
        is None
    )
    assert offending("SELECT count(*) FROM processing_jobs WHERE status = 'PENDING'") is None
    assert offending("SELECT j.id FROM processing_jobs j WHERE NOT (j.id = ANY(CAST(%(p)s AS uuid[])))") is None


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    captured: list[str] = []
    engine = database.sessions().kw["bind"]

    def capture(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        captured.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    yield captured
    event.remove(engine, "before_cursor_execute", capture)


def test_the_main_paths_name_the_antibody_key_whenever_they_pick_rows_by_id(
    database: Database, statements: list[str]
) -> None:
    report = import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions())
    with another_thread_running():  # the worker's writes made here, where the statements are captured
        annotate(database, AnnotateOptions(limit=2, schemes=("imgt", "kabat")))
        with database.unit_of_work() as uow:  # a worker that claims and is interrupted
            claimed = uow.jobs.claim(JobType.ANNOTATION, 1)
            uow.commit()
        release(database, claimed)
        annotate(database, AnnotateOptions(workers=1, import_run_id=report.run_id))
    retry_jobs(database, failed=True)
    cancel_jobs(database)
    import_fasta(database, [FIXTURES / "annotate_chains.fasta"], ImportOptions(replace=True))
    with database.unit_of_work() as uow:
        antibody = uow.sequences.page(limit=1).items[0]
        tree = uow.sequences.get_with_tree(antibody.id)
        assert tree is not None and tree.chains
        job = uow.jobs.enqueue(antibody.id, JobType.ANNOTATION)
        uow.jobs.mark_running(job)
        uow.jobs.attach_tool_result(job, tool_name="by hand", tool_version=None, success=True)
        uow.jobs.mark_completed(job, {"note": "by hand"})
        uow.commit()
    by_id = [s for s in statements if TARGET.match(s) and BY_ID.search(_where(s))]
    assert len(by_id) > 20  # the paths above did pick rows by id
    assert [(offending(s), s) for s in statements if offending(s)] == []
