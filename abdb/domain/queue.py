"""The claim queue's buckets: a job's bucket comes from the last byte of its id (random bits of a UUIDv7), the
same in Python and in SQL (``BUCKET_SQL``), so imports, re-queues and the migration agree on it."""

from __future__ import annotations

import uuid

# Enough buckets for many workers to claim from different shards at once; few enough that a claim finds
# work in a handful of statements.
QUEUE_BUCKETS = 64


def bucket_of(job_id: uuid.UUID) -> int:
    return job_id.bytes[15] % QUEUE_BUCKETS


def bucket_of_text(job_id: str) -> int:
    """The bucket of an id in its canonical text form (the COPY encoder's ids are text)."""
    return int(job_id[-2:], 16) % QUEUE_BUCKETS


def bucket_sql(column: str) -> str:
    return f"get_byte(uuid_send({column}), 15) % {QUEUE_BUCKETS}"
