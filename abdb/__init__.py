"""abdb: administration and ingest for an antibody-sequence database on PostgreSQL 18.

From Python, the same use cases as the command line, and the unit of work under them::

    from pathlib import Path
    from abdb import Database, ImportOptions, import_fasta, annotate, AnnotateOptions, verify, VerifyOptions

    with Database() as database:        # settings from the environment; the backend is chosen once, here
        report = import_fasta(database, [Path("antibodies.fasta")], ImportOptions())
        annotate(database, AnnotateOptions(import_run_id=report.run_id))
        print(verify(database, VerifyOptions()).violations)
        with database.unit_of_work() as uow:
            print(uow.sequences.count())

Every use case also takes ``Settings`` instead of a Database (it then opens one for the call alone).

Names are imported on first use, so ``import abdb`` itself loads no database code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "abdb.config",
    "Database": "abdb.database",
    "UnitOfWork": "abdb.unit_of_work",
    "run_in_unit_of_work": "abdb.unit_of_work",
    "retry_transient": "abdb.unit_of_work",
    # use cases, with their options and reports
    "import_files": "abdb.services.importing",
    "import_fasta": "abdb.services.importing",
    "import_legacy_json": "abdb.services.importing",
    "InputFormat": "abdb.services.importing",
    "ImportOptions": "abdb.services.importing",
    "ImportReport": "abdb.services.importing",
    "ImportProgress": "abdb.services.importing",
    "recent_runs": "abdb.services.importing",
    "Selection": "abdb.domain.selection",
    "export_fasta": "abdb.services.exporting",
    "export_airr": "abdb.services.exporting",
    "export_json": "abdb.services.exporting",
    "FastaOptions": "abdb.services.exporting",
    "ExportReport": "abdb.services.exporting",
    "list_antibodies": "abdb.services.exporting",
    "show_antibody": "abdb.services.exporting",
    "close_stale_runs": "abdb.services.importing",
    "annotate": "abdb.services.annotating",
    "AnnotateOptions": "abdb.services.annotating",
    "AnnotateReport": "abdb.services.annotating",
    "AnnotateProgress": "abdb.services.annotating",
    "verify": "abdb.services.verify",
    "VerifyOptions": "abdb.services.verify",
    "VerifyReport": "abdb.services.verify",
    "job_overview": "abdb.services.jobs",
    "retry_jobs": "abdb.services.jobs",
    "cancel_jobs": "abdb.services.jobs",
    "AbdbError": "abdb.errors",
    "AntibodySequence": "abdb.db.models",
    "AntibodyChain": "abdb.db.models",
    "AntibodyDomain": "abdb.db.models",
    "AntibodyRegion": "abdb.db.models",
    "SequenceFeature": "abdb.db.models",
    "ProcessingJob": "abdb.db.models",
    "ExternalToolResult": "abdb.db.models",
    "User": "abdb.db.models",
    "ChainType": "abdb.domain.vocabulary",
    "DomainType": "abdb.domain.vocabulary",
    "NumberingScheme": "abdb.domain.vocabulary",
    "RegionType": "abdb.domain.vocabulary",
    "FeatureType": "abdb.domain.vocabulary",
    "JobType": "abdb.domain.vocabulary",
    "JobStatus": "abdb.domain.vocabulary",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'abdb' has no attribute {name!r}")
    return getattr(import_module(module), name)
