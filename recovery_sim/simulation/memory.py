"""Freed memory goes back to the system at once (glibc), so a big run's peak is its live data.

glibc serves blocks below a threshold from its heap and, each time a large block is freed, raises that
threshold (up to 32 MB). A run's recorder chunks of a few MB then come from the heap and stay there once
freed: a million-customer run kept ~1.5 GB of freed memory resident on top of its frames. A fixed
threshold makes every block above 256 KB a mapping of its own, returned when freed
(docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
THRESHOLD = 256 * 1024


@cache
def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold for this process (once); False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
