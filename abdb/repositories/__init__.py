"""Repositories: one per aggregate, the only home of queries."""

from abdb.repositories.annotations import AnnotationRepository
from abdb.repositories.base import BaseRepository, Page
from abdb.repositories.bulk import BulkLoader
from abdb.repositories.chains import AntibodyChainRepository, AntibodyDomainRepository
from abdb.repositories.import_runs import ImportRunRepository
from abdb.repositories.jobs import ProcessingJobRepository
from abdb.repositories.sequences import AntibodySequenceRepository
from abdb.repositories.users import UserRepository

__all__ = [
    "AnnotationRepository",
    "AntibodyChainRepository",
    "AntibodyDomainRepository",
    "AntibodySequenceRepository",
    "BaseRepository",
    "BulkLoader",
    "ImportRunRepository",
    "Page",
    "ProcessingJobRepository",
    "UserRepository",
]
