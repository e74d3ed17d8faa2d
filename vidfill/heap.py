"""Freed memory handed back to the system between the steps of a long run.

glibc's malloc keeps the memory of freed blocks smaller than its mmap threshold (which grows, up
to 32 MB, each time a bigger block is freed) in its heaps for reuse; a window's tensors of a
few MB each leave those heaps fragmented, so that a long clip's resident memory crept up window
after window: the default preset at 854x480 peaked at 2.39 GB for one window of 60 frames and
2.98 GB for 300 frames, the same windows (benchmarks/README.md, "Long clips").
``malloc_trim(0)`` returns their free pages. Elsewhere (another C library, macOS, Windows)
:func:`release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the process's C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no C library to open, or not glibc (musl has none)
        return None


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc); a no-op elsewhere. Costs
    milliseconds: call it between stages, not inside loops."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
