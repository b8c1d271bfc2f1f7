"""A canonical dump of a database's antibodies: every stored column of the tree, the jobs, their tool results
and the queue, with ids replaced by what they point at and timestamps of creation left out, so two databases
holding the same antibodies dump equal whatever their ids. Written in SQL, apart from the export code it
checks. The antibodies' import provenance (``metadata.import``) is left out: it says which file stored them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

# Each antibody is known by name and checksum (names are not unique), each chain by its place in its
# antibody (the order of ids, which is the order of input), each domain by its chain, scheme and start.
_CHAIN = (
    "SELECT c.*, s.name || '/' || coalesce(s.content_checksum, '') AS antibody, "
    "row_number() OVER (PARTITION BY c.antibody_sequence_id ORDER BY c.id) AS place "
    "FROM antibody_chains c JOIN antibody_sequences s ON s.id = c.antibody_sequence_id"
)
QUERIES = {
    "antibody_sequences": (
        "SELECT name, description, is_public, content_checksum, (metadata - 'import')::text, created_by "
        "FROM antibody_sequences"
    ),
    "antibody_chains": (
        f"SELECT antibody, place, name, chain_type, locus, sequence, sequence_length, description, metadata::text "
        f"FROM ({_CHAIN}) c"
    ),
    "antibody_domains": (
        "SELECT c.antibody, c.place, d.domain_type, d.numbering_scheme, d.sequence, d.start_position, "
        f"d.end_position, d.confidence_score, d.numbering::text FROM antibody_domains d JOIN ({_CHAIN}) c "
        "ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id"
    ),
    "antibody_regions": (
        "SELECT c.antibody, c.place, d.numbering_scheme, d.domain_type, d.start_position, r.region_type, "
        "r.sequence, r.start_position, r.end_position, r.confidence_score FROM antibody_regions r "
        "JOIN antibody_domains d ON d.antibody_sequence_id = r.antibody_sequence_id AND d.id = r.domain_id "
        f"JOIN ({_CHAIN}) c ON c.antibody_sequence_id = d.antibody_sequence_id AND c.id = d.chain_id"
    ),
    "sequence_features": (
        "SELECT s.name || '/' || coalesce(s.content_checksum, ''), c.place, f.feature_type, f.name, f.value, "
        "f.start_position, f.end_position, f.confidence_score, f.source, f.metadata::text "
        "FROM sequence_features f JOIN antibody_sequences s ON s.id = f.sequence_id "
        f"LEFT JOIN ({_CHAIN}) c ON c.antibody_sequence_id = f.sequence_id AND c.id = f.chain_id"
    ),
    "processing_jobs": (
        "SELECT s.name || '/' || coalesce(s.content_checksum, ''), j.job_type, j.status, j.input_data::text, "
        "j.output_data::text, j.error_message, j.started_at, j.completed_at "
        "FROM processing_jobs j JOIN antibody_sequences s ON s.id = j.sequence_id"
    ),
    "external_tool_results": (
        "SELECT s.name || '/' || coalesce(s.content_checksum, ''), j.job_type, j.status, t.tool_name, "
        "t.tool_version, t.input_data::text, t.output_data::text, t.execution_time, t.success, "
        "t.error_details::text FROM external_tool_results t "
        "JOIN processing_jobs j ON j.sequence_id = t.antibody_sequence_id AND j.id = t.job_id "
        "JOIN antibody_sequences s ON s.id = t.antibody_sequence_id"
    ),
    "job_queue": (
        "SELECT s.name || '/' || coalesce(s.content_checksum, ''), q.job_type "
        "FROM job_queue q JOIN antibody_sequences s ON s.id = q.sequence_id"
    ),
}


def canonical_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, as sorted tuples."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table, query in QUERIES.items():
            rows = [tuple(row) for row in connection.execute(text(query))]
            dump[table] = sorted(rows, key=repr)
    return dump


def differences(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]], show: int = 3) -> str:
    """What differs between two dumps, a few rows per table: for an assertion message."""
    lines = []
    for table in a.keys() | b.keys():
        left, right = set(a.get(table, [])), set(b.get(table, []))
        if left != right:
            lines.append(f"{table}: {len(left - right)} rows only in the first, {len(right - left)} only in the second")
            lines += [f"  - {row!r}" for row in sorted(left - right, key=repr)[:show]]
            lines += [f"  + {row!r}" for row in sorted(right - left, key=repr)[:show]]
    return "\n".join(lines)


def table_checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row as text, in order) of each table of the public schema: equal only when the
    tables hold exactly the same rows, ids and timestamps included (for backup and restore)."""
    sums: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))
        for table in list(tables.scalars()):
            count, digest = connection.execute(
                text(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                    f'FROM "{table}" t'
                )
            ).one()
            sums[table] = (int(count), str(digest))
    return sums
