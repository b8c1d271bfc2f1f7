"""The CPU's flush-to-zero mode around HMMER, as the ``hmmscan`` program sets it at start-up.

pyhmmer never calls HMMER's ``impl_Init``, so Forward, Backward and Decoding of a strongly matching chain run
into subnormal floats, which x86-64 computes ~5x slower (one strong comparison: 1.46 ms without, 0.29 ms with).
``hmmscan`` — the reference the tests compare with — runs with MXCSR's FTZ bit set, so setting it reproduces
the reference's own arithmetic. The mode is per thread; it is set for the block and the previous mode restored.

Only on x86-64 Linux (glibc's ``fenv_t`` keeps MXCSR at byte 28); elsewhere the block runs unchanged
(correct, slower)."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_FENV_BYTES = 32  # sizeof(fenv_t) on x86-64 glibc: the x87 environment (28 bytes), then MXCSR
_MXCSR_AT = 28
_FTZ_BIT = 0x8000
_EXCEPTIONS_MASKED = 0x1F80  # as in every process Python runs (floating-point errors give inf/nan)


def _libm() -> ctypes.CDLL | None:
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")  # fegetenv/fesetenv live in libm
        probe = ctypes.create_string_buffer(_FENV_BYTES)
        if libm.fegetenv(probe) != 0:
            return None
    except (OSError, AttributeError):  # no libm, or one without fegetenv
        return None
    mxcsr = int.from_bytes(probe.raw[_MXCSR_AT : _MXCSR_AT + 4], "little")
    if mxcsr > 0xFFFF or mxcsr & _EXCEPTIONS_MASKED != _EXCEPTIONS_MASKED:
        return None  # not an MXCSR where this module expects one: leave the mode alone
    return libm


_LIBM = _libm()
AVAILABLE = _LIBM is not None


def current_mxcsr() -> int | None:
    """MXCSR as glibc reports it (None where this module does not apply)."""
    if _LIBM is None:
        return None
    state = ctypes.create_string_buffer(_FENV_BYTES)
    _LIBM.fegetenv(state)
    return int.from_bytes(state.raw[_MXCSR_AT : _MXCSR_AT + 4], "little")


@contextmanager
def flush_to_zero(enabled: bool = True) -> Iterator[bool]:
    """Run the block with FTZ on (yields whether it is); the mode before is restored on the way out."""
    if not enabled or _LIBM is None:
        yield False
        return
    saved = ctypes.create_string_buffer(_FENV_BYTES)
    if _LIBM.fegetenv(saved) != 0:
        yield False
        return
    changed = ctypes.create_string_buffer(saved.raw, _FENV_BYTES)
    mxcsr = int.from_bytes(saved.raw[_MXCSR_AT : _MXCSR_AT + 4], "little") | _FTZ_BIT
    ctypes.memmove(ctypes.addressof(changed) + _MXCSR_AT, mxcsr.to_bytes(4, "little"), 4)
    _LIBM.fesetenv(changed)
    try:
        yield True
    finally:
        _LIBM.fesetenv(saved)
