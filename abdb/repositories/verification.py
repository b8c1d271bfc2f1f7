"""The data checks of ``abdb verify`` as set-based SQL: a few scans, each answering several checks at once.

Every query returns, per check, the number of offending rows and up to five of their ids
(``count(*) FILTER (WHERE …)`` and ``array_agg(…) FILTER (WHERE …)``): one pass over a table serves all of
its checks, and nothing is looped over in Python.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from abdb.domain.queue import bucket_sql
from abdb.domain.vocabulary import RegionType

Findings = dict[str, tuple[int, list[str]]]
EXAMPLES = 5
PAIRS_SAMPLE = 20_000  # search rows whose residue pairs verify recomputes
# joins and windows on the antibody key first: on Citus each runs inside one shard
_CHAIN_OF_DOMAIN = "c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id"
_DOMAIN_OF_REGION = "d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id"
_REGION_DOMAIN = "r.antibody_sequence_id, r.domain_id"
REGION_RANK = "CASE r.region_type " + " ".join(f"WHEN '{t.value}' THEN {i}" for i, t in enumerate(RegionType)) + " END"


def _flags(conditions: dict[str, str], key: str = "id") -> str:
    """count and example ids per named condition, as select-list items."""
    items = []
    for name, condition in conditions.items():
        alias = name.replace(".", "__")
        items.append(f"count(*) FILTER (WHERE {condition}) AS {alias}__n")
        items.append(f"(array_agg({key}::text) FILTER (WHERE {condition}))[1:{EXAMPLES}] AS {alias}__ex")
    return ", ".join(items)


def _findings(row: Any, names: list[str]) -> Findings:
    mapping = row._mapping
    found: Findings = {}
    for name in names:
        alias = name.replace(".", "__")
        found[name] = (int(mapping[f"{alias}__n"]), list(mapping[f"{alias}__ex"] or []))
    return found


class VerificationQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _one(self, sql: str, names: list[str], **params: Any) -> Findings:
        return _findings(self.session.execute(text(sql), params).one(), names)

    def begin_snapshot(self, work_memory: str) -> None:
        """One consistent, read-only view for every check, with room for the big sorts and hashes."""
        self.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        self.session.execute(text(f"SET LOCAL work_mem = '{work_memory}'"))

    def tables_without_statistics(self, tables: list[str]) -> list[str]:
        rows = self.session.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:tables) AND relkind = 'r' AND reltuples < 0"),
            {"tables": tables},
        )
        return [row[0] for row in rows]

    def identity(self, tables: tuple[str, ...], tolerance: timedelta) -> Findings:
        """One aggregate per table (on Citus each runs on every shard at once; a UNION ALL of all ids would
        pull them to the coordinator), added up here."""
        conditions = {
            "identity.uuid_version": "uuid_extract_version(id) IS DISTINCT FROM 7",
            "identity.uuid_time": "uuid_extract_timestamp(id) > now() + :tolerance "
            "OR uuid_extract_timestamp(id) < created_at - :tolerance",
        }
        total: Findings = {name: (0, []) for name in conditions}
        for table in tables:
            key = f"'{table}:' || id::text"
            found = self._one(f"SELECT {_flags(conditions, key)} FROM {table}", list(conditions), tolerance=tolerance)
            for name, (count, examples) in found.items():
                count_so_far, examples_so_far = total[name]
                total[name] = (count_so_far + count, (examples_so_far + examples)[:EXAMPLES])
        return total

    def chains(self) -> Findings:
        conditions = {
            "chains.sequence_length": "sequence_length IS DISTINCT FROM char_length(sequence)",
            "chains.alphabet": "sequence !~ '^[ACDEFGHIKLMNPQRSTVWYX]+$'",
        }
        return self._one(f"SELECT {_flags(conditions)} FROM antibody_chains", list(conditions))

    def domains(self) -> Findings:
        conditions = {
            "domains.inside_chain": "d.start_position < 1 OR d.end_position > char_length(c.sequence) "
            "OR d.end_position < d.start_position",
            "domains.sequence": "d.sequence IS DISTINCT FROM "
            "substr(c.sequence, d.start_position, d.end_position - d.start_position + 1)",
        }
        sql = (
            f"SELECT {_flags(conditions, 'd.id')} FROM antibody_domains d JOIN antibody_chains c ON {_CHAIN_OF_DOMAIN}"
        )
        return self._one(sql, list(conditions))

    def region_sequences(self) -> Findings:
        conditions = {
            "regions.inside_domain": "r.start_position < d.start_position OR r.end_position > d.end_position",
            "regions.sequence": "r.sequence IS DISTINCT FROM "
            "substr(c.sequence, r.start_position, r.end_position - r.start_position + 1)",
        }
        sql = (
            f"SELECT {_flags(conditions, 'r.id')} FROM antibody_regions r "
            f"JOIN antibody_domains d ON {_DOMAIN_OF_REGION} JOIN antibody_chains c ON {_CHAIN_OF_DOMAIN}"
        )
        return self._one(sql, list(conditions))

    def region_layout(self) -> Findings:
        """Overlap, order and tiling: a window over each domain's regions in position order."""
        conditions = {
            "regions.overlap": "previous_end IS NOT NULL AND start_position <= previous_end",
            "regions.order": "previous_rank IS NOT NULL AND rank <= previous_rank",
            "regions.tiling": "complete AND ((previous_end IS NULL AND start_position <> domain_start) "
            "OR (previous_end IS NOT NULL AND start_position <> previous_end + 1) "
            "OR (next_start IS NULL AND end_position <> domain_end))",
        }
        sql = f"""
            SELECT {_flags(conditions)} FROM (
                SELECT r.id, r.start_position, r.end_position, {REGION_RANK} AS rank,
                       lag(r.end_position) OVER w AS previous_end,
                       lag({REGION_RANK}) OVER w AS previous_rank,
                       lead(r.start_position) OVER w AS next_start,
                       d.start_position AS domain_start, d.end_position AS domain_end,
                       d.domain_type = 'VARIABLE' AND count(*) OVER (PARTITION BY {_REGION_DOMAIN}) = 7 AS complete
                FROM antibody_regions r JOIN antibody_domains d ON {_DOMAIN_OF_REGION}
                WINDOW w AS (PARTITION BY {_REGION_DOMAIN} ORDER BY r.start_position, r.end_position)
            ) ordered"""
        return self._one(sql, list(conditions))

    def search_rows(self) -> Findings:
        """cdr_search against the CDRs of the tree, row by row (the residue pairs: search_pairs, on a sample of
        a big table, since recomputing them all would take minutes at a million antibodies)."""
        expected = (
            "SELECT r.antibody_sequence_id, r.id AS region_id, c.id AS chain_id, r.region_type, "
            "d.numbering_scheme, s.name AS antibody_name, c.name AS chain_name, r.sequence "
            f"FROM antibody_regions r JOIN antibody_domains d ON {_DOMAIN_OF_REGION} "
            f"JOIN antibody_chains c ON {_CHAIN_OF_DOMAIN} JOIN antibody_sequences s ON s.id = r.antibody_sequence_id "
            "WHERE r.region_type IN ('CDR1', 'CDR2', 'CDR3') AND d.domain_type = 'VARIABLE'"
        )
        columns = "chain_id, region_type, numbering_scheme, antibody_name, chain_name, sequence"
        conditions = {
            "search.rows": "e.region_id IS NULL OR x.region_id IS NULL "
            f"OR ({', '.join(f'e.{c}' for c in columns.split(', '))}) "
            f"IS DISTINCT FROM ({', '.join(f'x.{c}' for c in columns.split(', '))})"
        }
        sql = (
            f"SELECT {_flags(conditions, 'coalesce(e.region_id, x.region_id)')} FROM ({expected}) e "
            "FULL JOIN cdr_search x ON x.antibody_sequence_id = e.antibody_sequence_id AND x.region_id = e.region_id"
        )
        return self._one(sql, list(conditions))

    def search_pairs(self, sample: int = PAIRS_SAMPLE) -> Findings:
        """The stored residue pairs against the server's abdb_residue_pairs (about 40 µs a row: every row of a
        small table, a sample of pages of a big one)."""
        rows = self.session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'cdr_search'")).scalar_one()
        percent = 100.0 if rows <= sample else max(100.0 * sample / rows, 0.001)
        conditions = {"search.pairs": "x.residue_pairs IS DISTINCT FROM abdb_residue_pairs(x.sequence)"}
        sql = f"SELECT {_flags(conditions, 'x.region_id')} FROM cdr_search x TABLESAMPLE SYSTEM (:percent)"
        return self._one(sql, list(conditions), percent=percent)

    def features(self) -> Findings:
        conditions = {
            "features.inside_chain": "f.start_position IS NOT NULL AND (f.start_position < 1 "
            "OR f.end_position > coalesce(char_length(c.sequence), longest.length))",
            "features.chain_of_sequence": "f.chain_id IS NOT NULL AND c.id IS NULL",
            "features.confidence": "f.confidence_score < 0 OR f.confidence_score > 1",
        }
        sql = (
            f"SELECT {_flags(conditions, 'f.id')} FROM sequence_features f "
            "LEFT JOIN antibody_chains c ON c.antibody_sequence_id = f.sequence_id AND c.id = f.chain_id "
            "LEFT JOIN (SELECT antibody_sequence_id, max(sequence_length) AS length FROM antibody_chains "
            "GROUP BY antibody_sequence_id) longest ON longest.antibody_sequence_id = f.sequence_id"
        )
        return self._one(sql, list(conditions))

    def jobs(self, stuck_after: timedelta) -> Findings:
        conditions = {
            "jobs.completed_at": "status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND completed_at IS NULL",
            "jobs.error_message": "status = 'FAILED' AND coalesce(error_message, '') = ''",
            "jobs.stuck": "status = 'RUNNING' AND started_at < now() - :stuck_after",
        }
        sql = f"SELECT {_flags(conditions)} FROM processing_jobs"
        found = self._one(sql, list(conditions), stuck_after=stuck_after)
        output = {"jobs.annotation_output": "TRUE"}
        found |= self._one(
            f"SELECT {_flags(output, 'j.id')} FROM processing_jobs j WHERE j.job_type = 'ANNOTATION' "
            "AND j.status = 'COMPLETED' AND NOT EXISTS (SELECT 1 FROM antibody_chains c "
            "JOIN antibody_domains d ON d.antibody_sequence_id = c.antibody_sequence_id AND d.chain_id = c.id "
            "WHERE c.antibody_sequence_id = j.sequence_id)",
            list(output),
        )
        # results of earlier runs were created before the job's latest start; this run's may number one
        runs = {"jobs.tool_results": "TRUE"}
        found |= self._one(
            f"SELECT {_flags(runs, 'j.id')} FROM processing_jobs j WHERE j.status IN ('COMPLETED', 'FAILED') "
            "AND (SELECT count(*) FROM external_tool_results t WHERE t.antibody_sequence_id = j.sequence_id "
            "AND t.job_id = j.id AND t.created_at >= j.started_at) > 1",
            list(runs),
        )
        # the queue is distributed apart from the jobs on Citus: this one check joins across (a repartition)
        queue = {"jobs.queue": "TRUE"}
        found |= self._one(
            f"SELECT {_flags(queue, 'j.id')} FROM processing_jobs j WHERE j.status = 'PENDING' "
            f"AND NOT EXISTS (SELECT 1 FROM job_queue q WHERE q.bucket = {bucket_sql('j.id')} AND q.job_id = j.id)",
            list(queue),
        )
        return found

    def duplicates(self) -> Findings:
        by_name = {"duplicates.name": "TRUE"}
        found = self._one(
            f"SELECT {_flags(by_name, 'name')} FROM (SELECT name FROM antibody_sequences "
            "WHERE content_checksum IS NOT NULL GROUP BY name HAVING count(DISTINCT content_checksum) > 1) names",
            list(by_name),
        )
        by_content = {"duplicates.content": "TRUE"}
        found |= self._one(
            f"SELECT {_flags(by_content, 'names')} FROM (SELECT array_to_string((array_agg(DISTINCT name))[1:3], "
            "' = ') || CASE WHEN count(DISTINCT name) > 3 THEN ' = …' ELSE '' END AS names "
            "FROM antibody_sequences WHERE content_checksum IS NOT NULL GROUP BY content_checksum "
            "HAVING count(DISTINCT name) > 1) contents",
            list(by_content),
        )
        return found

    def provenance(self, stuck_after: timedelta) -> Findings:
        conditions = {
            "provenance.counts": "coalesce(stored.n, 0) > r.inserted + r.replaced",
            "provenance.missing": "coalesce(stored.n, 0) < r.inserted + r.replaced",
            "provenance.stuck": "r.status = 'RUNNING' AND r.started_at < now() - :stuck_after",
        }
        sql = (
            f"SELECT {_flags(conditions, 'r.id')} FROM import_runs r LEFT JOIN (SELECT import_run_id, count(*) AS n "
            "FROM antibody_sequences WHERE import_run_id IS NOT NULL GROUP BY import_run_id) stored "
            "ON stored.import_run_id = r.id"
        )
        found = self._one(sql, list(conditions), stuck_after=stuck_after)
        orphans = {"provenance.orphans": "TRUE"}
        found |= self._one(
            f"SELECT {_flags(orphans, 's.id')} FROM antibody_sequences s WHERE s.import_run_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM import_runs r WHERE r.id = s.import_run_id)",
            list(orphans),
        )
        return found
