"""The consistency checks of ``abdb verify``: stable names, what each proves, how serious a violation is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    severity: Severity = Severity.ERROR
    fix: str | None = None  # what the user runs when the check fails, shown with its examples

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]


E, W = Severity.ERROR, Severity.WARNING

CHECKS: tuple[Check, ...] = (
    Check("schema.revision", "the database is at the newest Alembic revision"),
    Check("schema.drift", "tables, columns, types, indexes, foreign keys and server defaults match the models"),
    Check("schema.vocabularies", "every lookup table holds exactly the codes of its Python enum"),
    Check("schema.check_constraints", "every CHECK constraint of the models exists in the database"),
    Check("schema.triggers", "every table with updated_at has its enabled updated_at trigger"),
    Check("schema.uuidv7_defaults", "every id column defaults to uuidv7()"),
    Check("identity.uuid_version", "every primary key is a version-7 UUID"),
    Check("identity.uuid_time", "ids' embedded times are not in the future nor long before the row's created_at"),
    Check("chains.sequence_length", "sequence_length equals the length of the chain's sequence"),
    Check("chains.alphabet", "chain sequences use the 20 standard residues (and X)"),
    Check("domains.inside_chain", "every domain lies inside its chain"),
    Check("domains.sequence", "a domain's sequence is its chain's residues at its positions"),
    Check("regions.inside_domain", "every region lies inside its domain"),
    Check("regions.sequence", "a region's sequence is its chain's residues at its positions"),
    Check("regions.overlap", "regions of a domain do not overlap"),
    Check("regions.order", "regions of a domain appear in the order FR1, CDR1, FR2, CDR2, FR3, CDR3, FR4"),
    Check("regions.tiling", "the seven regions of a complete variable domain tile it exactly"),
    Check("features.inside_chain", "positioned features lie inside the chain (or the longest chain) they describe"),
    Check("features.chain_of_sequence", "a feature's chain is a chain of the feature's own antibody"),
    Check("features.confidence", "confidence scores lie between 0 and 1"),
    Check("jobs.completed_at", "COMPLETED, FAILED and CANCELLED jobs have completed_at"),
    Check("jobs.error_message", "FAILED jobs say why in error_message"),
    Check(
        "jobs.stuck",
        "no job has been RUNNING for longer than the threshold (its worker probably died)",
        W,
        fix="`abdb jobs retry` puts them back to PENDING",
    ),
    Check("jobs.annotation_output", "every COMPLETED annotation job left domains on its sequence"),
    Check(
        "jobs.tool_results",
        "no finished job run has more than one tool result (a worker wrote for a job it no longer held)",
    ),
    Check(
        "jobs.queue",
        "every PENDING job has its place in the claim queue (a job PENDING by plain SQL has none)",
        W,
        fix="`abdb annotate` queues such jobs before it claims",
    ),
    Check(
        "search.rows",
        "every CDR of a variable domain has its search row (cdr_search), with the same residues, names and scheme, "
        "and no search row outlives its region",
        fix="`abdb search rebuild` writes the search rows again from the tree",
    ),
    Check(
        "search.pairs",
        "search rows hold the residue pairs of their residues, which motif searches rely on (every row up to "
        "20,000 rows; past that a sample of about 20,000)",
        fix="`abdb search rebuild` writes the search rows again from the tree",
    ),
    Check("duplicates.name", "one name, one content: no name holds antibodies with different chains"),
    Check("duplicates.content", "the same chains are not stored under several names", W),
    Check("provenance.counts", "no import run has more sequences than it recorded inserting"),
    Check("provenance.missing", "import runs still have the sequences they recorded (fewer: deleted or replaced)", W),
    Check("provenance.orphans", "antibodies name only import runs that exist (no foreign key keeps it so)"),
    Check(
        "provenance.stuck",
        "no import run has been RUNNING for longer than the threshold (killed, or its server stopped)",
        W,
        fix="`abdb import runs --close-stale` closes the runs whose import is gone; run the import again",
    ),
)
CHECKS_BY_NAME = {check.name: check for check in CHECKS}
