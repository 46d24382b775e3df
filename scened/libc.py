"""The C library, for the few calls Python's standard library does not wrap.

``renameat2`` (the compare-and-swap write, :mod:`scened.metadata.atomic`) and
``vsnprintf`` (libtiff's messages, :mod:`scened.library_noise`).  Loaded once, with
``errno`` kept for ``ctypes.get_errno``; None where there is no C library to load.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None
