"""abdb: administration and ingest for an antibody-sequence database on PostgreSQL 18."""

__version__ = "0.1.0"
