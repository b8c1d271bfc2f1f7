"""One description per table of the rows abdb writes in bulk: the column list that the COPY encoder (imports)
and the annotation writer both use, in COPY order. ``tests/unit/test_rows.py`` checks it against the models:
every column exists, and every NOT NULL column without a default is written."""

from __future__ import annotations

from typing import Any

ROWS: dict[str, tuple[str, ...]] = {
    "antibody_sequences": (
        "id",
        "name",
        "description",
        "is_public",
        "metadata",
        "content_checksum",
        "created_by",
        "import_run_id",
    ),
    "antibody_chains": (
        "id",
        "antibody_sequence_id",
        "name",
        "chain_type",
        "locus",
        "sequence",
        "sequence_length",
        "description",
        "metadata",
    ),
    "antibody_domains": (
        "id",
        "antibody_sequence_id",
        "chain_id",
        "domain_type",
        "numbering_scheme",
        "sequence",
        "start_position",
        "end_position",
        "numbering",
        "confidence_score",
    ),
    "antibody_regions": (
        "id",
        "antibody_sequence_id",
        "domain_id",
        "region_type",
        "sequence",
        "start_position",
        "end_position",
        "confidence_score",
    ),
    "sequence_features": (
        "id",
        "sequence_id",
        "chain_id",
        "feature_type",
        "name",
        "value",
        "start_position",
        "end_position",
        "confidence_score",
        "source",
        "metadata",
    ),
    "processing_jobs": (
        "id",
        "sequence_id",
        "job_type",
        "status",
        "input_data",
        "output_data",
        "error_message",
        "started_at",
        "completed_at",
    ),
    "job_queue": ("bucket", "job_id", "sequence_id", "job_type"),
    "cdr_search": (
        "antibody_sequence_id",
        "region_id",
        "chain_id",
        "region_type",
        "numbering_scheme",
        "antibody_name",
        "chain_name",
        "sequence",
        "residue_pairs",
    ),
    "external_tool_results": (
        "antibody_sequence_id",
        "job_id",
        "tool_name",
        "tool_version",
        "input_data",
        "output_data",
        "execution_time",
        "success",
        "error_details",
    ),
}
# what an import writes, parents first
IMPORTED_TABLES = (
    "antibody_sequences",
    "antibody_chains",
    "antibody_domains",
    "antibody_regions",
    "cdr_search",  # derived: each CDR of a variable domain again, as searches read it
    "sequence_features",
    "processing_jobs",
    "external_tool_results",  # only from abdb JSON, which carries the jobs' results
    "job_queue",
)
_COLUMN_SETS = {table: frozenset(columns) for table, columns in ROWS.items()}


def row(table: str, **values: Any) -> dict[str, Any]:
    """A row for a Core insert, refused unless it has exactly the table's described columns."""
    if values.keys() != _COLUMN_SETS[table]:
        missing, extra = _COLUMN_SETS[table] - values.keys(), values.keys() - _COLUMN_SETS[table]
        raise ValueError(f"a {table} row lacks {sorted(missing)} and has no column for {sorted(extra)}")
    return values
