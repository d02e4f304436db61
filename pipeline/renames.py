"""Exchanging two paths in one atomic step: Linux's ``renameat2(RENAME_EXCHANGE)``, called
through ctypes (``exchange``), so a published folder is never missing, even for a moment; where
the system has no such call, ``exchange`` says so and the caller renames in steps."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = None


def _renameat2():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
                _libc = lib if hasattr(lib, "renameat2") else False
            except OSError:
                _libc = False
    return _libc or None


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot."""
    lib = _renameat2()
    if lib is None:
        return False
    result = lib.renameat2(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: file system or kernel without it
        return False
    raise OSError(errno, os.strerror(errno), str(a))
