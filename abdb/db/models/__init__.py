"""The tables of the antibody database: the tree (``tree``) and what happens to it (``operations``)."""

from __future__ import annotations

from abdb.db.base import Base
from abdb.db.models.operations import ExternalToolResult, ImportRun, ProcessingJob, QueuedJob, User
from abdb.db.models.search import CdrSearchRow
from abdb.db.models.tree import (
    AntibodyChain,
    AntibodyDomain,
    AntibodyRegion,
    AntibodySequence,
    SequenceFeature,
)

__all__ = [
    "DATA_TABLES",
    "TABLES_WITH_UPDATED_AT",
    "AntibodyChain",
    "AntibodyDomain",
    "AntibodyRegion",
    "AntibodySequence",
    "CdrSearchRow",
    "ExternalToolResult",
    "ImportRun",
    "ProcessingJob",
    "QueuedJob",
    "SequenceFeature",
    "User",
]

TABLES_WITH_UPDATED_AT: tuple[str, ...] = tuple(
    mapper.local_table.name  # type: ignore[attr-defined]
    for mapper in Base.registry.mappers
    if "updated_at" in mapper.local_table.c
)
DATA_TABLES: tuple[str, ...] = (
    "users",
    "import_runs",
    "antibody_sequences",
    "antibody_chains",
    "antibody_domains",
    "antibody_regions",
    "sequence_features",
    "processing_jobs",
    "external_tool_results",
)  # the tables of rows with ids (job_queue's rows are derived from PENDING jobs)
