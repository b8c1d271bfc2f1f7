"""The controlled vocabularies of the schema.

Each enum is mirrored by a lookup table (``<name>`` with a text ``code`` primary key) that the columns
reference by foreign key. Adding a value is a routine migration that inserts one row; ``abdb migrate
check`` compares these enums with the tables and reports any difference.
"""

from __future__ import annotations

from enum import StrEnum


class ChainType(StrEnum):
    HEAVY = "HEAVY"
    LIGHT = "LIGHT"
    SINGLE_CHAIN = "SINGLE_CHAIN"
    # Not yet known: FASTA chains whose header does not say, until the annotation step numbers them.
    UNKNOWN = "UNKNOWN"


class DomainType(StrEnum):
    VARIABLE = "VARIABLE"
    CONSTANT = "CONSTANT"
    JOINING = "JOINING"
    # The peptide linking the two variable domains of an scFv (legacy domain type LINKER).
    LINKER = "LINKER"


class NumberingScheme(StrEnum):
    IMGT = "IMGT"
    KABAT = "KABAT"
    CHOTHIA = "CHOTHIA"
    # Legacy annotations also used these three; kept so that no legacy numbering is silently relabelled.
    MARTIN = "MARTIN"
    AHO = "AHO"
    CGG = "CGG"


class RegionType(StrEnum):
    FR1 = "FR1"
    CDR1 = "CDR1"
    FR2 = "FR2"
    CDR2 = "CDR2"
    FR3 = "FR3"
    CDR3 = "CDR3"
    FR4 = "FR4"


class FeatureType(StrEnum):
    GENE = "GENE"
    ALLELE = "ALLELE"
    ISOTYPE = "ISOTYPE"
    MUTATION = "MUTATION"
    POST_TRANSLATIONAL = "POST_TRANSLATIONAL"
    SPECIES = "SPECIES"


class Locus(StrEnum):
    """The gene locus of a chain: keeps kappa vs lambda (and T-cell receptor chains) that HEAVY/LIGHT lose."""

    IGH = "IGH"
    IGK = "IGK"
    IGL = "IGL"
    TRA = "TRA"
    TRB = "TRB"
    TRG = "TRG"
    TRD = "TRD"


class JobType(StrEnum):
    ANNOTATION = "ANNOTATION"
    ALIGNMENT = "ALIGNMENT"
    ANALYSIS = "ANALYSIS"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


VOCABULARY_TABLES: dict[str, type[StrEnum]] = {
    "chain_types": ChainType,
    "domain_types": DomainType,
    "numbering_schemes": NumberingScheme,
    "region_types": RegionType,
    "feature_types": FeatureType,
    "job_types": JobType,
    "job_statuses": JobStatus,
    "loci": Locus,
}
