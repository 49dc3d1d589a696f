"""Errors of ``km.host()``: what went wrong reading the running kernel, said plainly.

Each is a :class:`HostError` and also the built-in exception a Python programmer would
catch (``PermissionError``, ``FileNotFoundError``, ``ValueError``); a read the source
cannot answer at all is also a :class:`~kmemlab.NotAvailable`.
"""

from __future__ import annotations

from ..kernel.helpers import NotAvailable

__all__ = ["HostError", "NotLinux", "HostFileMissing", "HostPermissionError", "HostParseError"]


class HostError(Exception):
    """Reading the host failed; ``path`` is the file involved (or "")."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.path = path


class NotLinux(HostError, NotAvailable):
    """``km.host()`` on a system without Linux's ``/proc`` and ``/sys`` (macOS, Windows)."""


class HostFileMissing(HostError, NotAvailable, FileNotFoundError):
    """The file does not exist on this kernel (too old, configured out, or not mounted)."""


class HostPermissionError(HostError, NotAvailable, PermissionError):
    """The file is readable by root only (``/proc/slabinfo``, ``vmallocinfo``,
    ``pagetypeinfo`` are mode 0400)."""


class HostParseError(HostError, ValueError):
    """The file is not in the format the kernel prints (garbled or from another tool)."""
