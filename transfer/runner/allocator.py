"""Keep glibc from handing large freed buffers back to the kernel at once.

Streaming allocates a fresh buffer of up to ``chunk_size`` for every piece read and frees it a
moment later.  glibc serves such sizes from the heap top and trims the heap whenever more than
``M_TRIM_THRESHOLD`` lies free there, so the next piece faults its pages in again: measured on
3 × 512 MiB nginx → nginx, ~400,000 page faults (one per 4 KiB moved) and ~0.6 CPU s/GB of
system time.  Raising the trim and mmap thresholds to 64 MiB keeps those pages for reuse;
memory is still bounded by what is in flight at once (the formula in
:class:`transfer.settings.TransferSettings`), it is only returned to the kernel later.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["RETAIN_BYTES", "keep_freed_memory"]

RETAIN_BYTES = 64 * 1024 * 1024
"""Free heap kept before trimming, and the size from which glibc maps a block on its own."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(retain: int = RETAIN_BYTES) -> bool:
    """Set glibc's trim and mmap thresholds to ``retain`` bytes; ``False`` where there is no
    glibc (macOS, musl) or it refused, and nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the C library this process already runs on: finding it by name runs `ldconfig -p`
        # in a child process at every start (migrate's and each copy process's)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, retain)) and bool(mallopt(_M_MMAP_THRESHOLD, retain))
