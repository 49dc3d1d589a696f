"""The running Linux machine, read-only: ``km.host()`` (see :mod:`kmemlab.host.host`)."""

from .errors import HostError, HostFileMissing, HostParseError, HostPermissionError, NotLinux
from .host import PROC_FILES, Host, HostSource, host

__all__ = ["host", "Host", "HostSource", "PROC_FILES", "HostError", "NotLinux", "HostFileMissing",
           "HostPermissionError", "HostParseError"]
