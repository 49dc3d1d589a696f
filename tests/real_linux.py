"""For tests that compare the model with the real machine they run on (Linux 6.18 on this
project's machines and CI): a skip mark that says why the comparison cannot be made."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest


def reason_not_618(readable: str) -> str:
    """Why the real machine cannot be compared with ("" if it can): not Linux 6.18 (a reason
    to skip anywhere), or ``readable`` (a file needing root) unreadable (a reason to skip
    outside CI only: CI runs as root and must compare)."""
    try:
        release = Path("/proc/sys/kernel/osrelease").read_text()
    except OSError:
        return "no /proc/sys/kernel/osrelease: not Linux"
    if not release.startswith("6.18"):
        return f"this machine runs Linux {release.strip()}, not 6.18"
    if not os.access(readable, os.R_OK) and os.environ.get("CI") != "true":
        return f"{readable} is not readable (run as root)"
    return ""


def needs_real_618(readable: str):
    """``@needs_real_618("/proc/slabinfo")``: skip, with the reason, unless it can compare."""
    why = reason_not_618(readable)
    return pytest.mark.skipif(bool(why), reason=why or "real Linux 6.18")


@functools.lru_cache(maxsize=None)
def xstate_size() -> int | None:
    """The CPU's FPU context size as this machine's kernel logged it at boot ("x86/fpu:
    Enabled xstate features 0x18e7, context size is 2472 bytes, ..."), or None (no dmesg,
    not root, or the line has left the ring buffer). Read once: it is the boot's."""
    import re
    import subprocess
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"x86/fpu: Enabled xstate features 0x[0-9a-f]+, context size is (\d+) bytes", out)
    return int(m.group(1)) if m else None
