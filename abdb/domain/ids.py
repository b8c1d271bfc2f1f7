"""Client-side UUIDv7 ids (RFC 9562; the ``uuid7`` package is not: see README), on the server's clock.

Ids are made here so that a parent and its children link without a round trip, but their time part must
agree with the rows' ``created_at``, which the server sets: a client clock minutes off would make every row
look inconsistent to ``abdb verify`` (a verdict that then changes as time passes). Commands that write
measure the skew at start (``measure_clock_skew``) and, beyond a second, make ids on the server's time by
adding the offset; forked readers and workers inherit it.
"""

from __future__ import annotations

import time
import uuid

import uuid_utils
import uuid_utils.compat

OFFSET_THRESHOLD_NS = 1_000_000_000  # below a second, the client's own clock is used as it is
_offset_ns = 0


def set_clock_offset(offset_ns: int) -> None:
    """Make ids ``offset_ns`` later than this machine's clock (the server's time minus ours)."""
    global _offset_ns
    _offset_ns = offset_ns if abs(offset_ns) >= OFFSET_THRESHOLD_NS else 0


def clock_offset_ns() -> int:
    return _offset_ns


def new_id() -> uuid.UUID:
    if _offset_ns:
        return uuid_utils.compat.uuid7(nanoseconds=time.time_ns() + _offset_ns)
    return uuid_utils.compat.uuid7()


def new_id_text() -> str:
    """The same, as text for COPY (without building a ``uuid.UUID``: measured cheaper on the import path)."""
    if _offset_ns:
        return str(uuid_utils.uuid7(nanoseconds=time.time_ns() + _offset_ns))
    return str(uuid_utils.uuid7())
