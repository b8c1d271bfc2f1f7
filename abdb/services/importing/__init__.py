"""Importing antibodies, by role: ``run`` (the use case: files in, runs recorded), ``batch`` (one transaction of
whole antibodies), ``rows`` (records as COPY text), ``report`` (options, what was done, past runs)."""

from abdb.services.importing.report import (
    FileReport,
    ImportOptions,
    ImportReport,
    ImportRunSummary,
    close_stale_runs,
    recent_runs,
)
from abdb.services.importing.run import (
    ImportProgress,
    InputFormat,
    import_fasta,
    import_files,
    import_legacy_json,
    refuse_outputs_among_inputs,
)

__all__ = [
    "FileReport",
    "ImportOptions",
    "ImportProgress",
    "ImportReport",
    "ImportRunSummary",
    "InputFormat",
    "close_stale_runs",
    "import_fasta",
    "import_files",
    "import_legacy_json",
    "recent_runs",
    "refuse_outputs_among_inputs",
]
