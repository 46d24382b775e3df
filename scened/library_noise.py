"""What C libraries print about damaged files goes to the debug log, not to stderr.

libtiff (linked into Pillow) reports every oddity of a TIFF, DNG or TIFF-based RAW
file on stderr ("TIFFFetchNormalTag: ... tag is not read from file") through its
global warning and error handlers, even when the image decodes fine: raw lines
between scened's own, under systemd one journal line per photo.  scened already
says in one line what is wrong with a photo it cannot read (from the exception
Pillow raises), so both handlers are pointed at the ``scened.libtiff`` logger at
debug level (``-vv`` shows them).  The message is formatted with the C library's
``vsnprintf`` where the ``va_list`` is a plain pointer (x86-64, AArch64), else the
format string alone is logged.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import platform
from pathlib import Path
from typing import Any

from scened.libc import libc

log = logging.getLogger("scened.libtiff")

# void handler(const char *module, const char *fmt, va_list ap)
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_VA_LIST_IS_A_POINTER = platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64")
_MESSAGE_BYTES = 1024


def _loaded_libtiff() -> Path | None:
    """The libtiff this process has mapped (Pillow's own copy in a wheel, or the system's)."""
    import PIL._imaging  # noqa: F401  (maps the libtiff it is linked against)

    try:
        with Path("/proc/self/maps").open(encoding="utf-8", errors="replace") as maps:
            for line in maps:
                name = line.rsplit(None, 1)[-1]
                if "/libtiff" in name and ".so" in name:
                    return Path(name)
    except OSError:
        return None
    return None


def _format(fmt: bytes | None, ap: int | None) -> str:
    if not fmt:
        return ""
    if _VA_LIST_IS_A_POINTER and ap:
        c = libc()
        if c is not None:
            buffer = ctypes.create_string_buffer(_MESSAGE_BYTES)
            c.vsnprintf(buffer, _MESSAGE_BYTES, fmt, ctypes.c_void_p(ap))
            return buffer.value.decode("utf-8", "replace")
    return fmt.decode("utf-8", "replace")


def _make_handler(level: str) -> Any:
    def handler(module: bytes | None, fmt: bytes | None, ap: int | None) -> None:
        try:
            where = (module or b"libtiff").decode("utf-8", "replace")
            log.debug("%s %s: %s", level, where, _format(fmt, ap))
        except Exception:  # never let a log line raise into C
            pass

    return _HANDLER(handler)


#: Kept alive for as long as libtiff may call them.
_HANDLERS: list[Any] = []


@functools.cache
def route_libtiff_messages() -> bool:
    """Point libtiff's warning and error handlers at the debug log; whether it worked."""
    path = _loaded_libtiff()
    if path is None:
        return False
    try:
        libtiff = ctypes.CDLL(str(path))
        warning, error = _make_handler("warning"), _make_handler("error")
        libtiff.TIFFSetWarningHandler.restype = ctypes.c_void_p
        libtiff.TIFFSetErrorHandler.restype = ctypes.c_void_p
        libtiff.TIFFSetWarningHandler(warning)
        libtiff.TIFFSetErrorHandler(error)
    except (OSError, AttributeError):
        log.debug("cannot route libtiff's messages (%s)", path, exc_info=True)
        return False
    _HANDLERS.extend((warning, error))
    return True
