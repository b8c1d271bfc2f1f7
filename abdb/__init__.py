"""abdb: administration and ingest for an antibody-sequence database on PostgreSQL 18.

From Python::

    from abdb import UnitOfWork
    with UnitOfWork() as uow:
        print(uow.sequences.count())

Names are imported on first use, so ``import abdb`` (and ``abdb --help``) loads no database code.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "abdb.config",
    "UnitOfWork": "abdb.unit_of_work",
    "run_in_unit_of_work": "abdb.unit_of_work",
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
