"""The kernel log (``printk`` / ``dmesg``) and the simulated clock behind its timestamps.

Lines carry a log level as the kernel's do (``KERN_ERR`` ... ``KERN_DEBUG``) and a
timestamp from the machine's clock, which advances with the work the model does (never
with wall time), so the same seed gives the same log.

Simplification: the kernel rate-limits allocation-failure reports (``warn_alloc``: one
per 10 s); kmemlab prints every one, because a student calls the failing line on purpose.
"""

from __future__ import annotations

__all__ = ["Log", "Clock", "LEVELS"]

#: include/linux/kern_levels.h
LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warn": 4, "notice": 5, "info": 6, "debug": 7}


class Clock:
    """Monotonic simulated time in nanoseconds since boot (``local_clock()``)."""

    __slots__ = ("ns",)

    def __init__(self):
        self.ns = 0

    def advance(self, ns: int) -> None:
        self.ns += ns


class Log:
    """The printk ring buffer: a list of (time_ns, level, text)."""

    def __init__(self, clock: Clock, capacity: int = 16384):
        self.clock = clock
        self.capacity = capacity
        self.records: list[tuple[int, int, str]] = []
        #: sequence number of the next record (``prb_next_seq()``): counts every record
        #: ever logged, also the ones dropped or cleared since
        self.next_seq = 0

    def printk(self, level: str, text: str) -> None:
        lvl = LEVELS[level]
        t = self.clock.ns
        lines = text.split("\n")
        for line in lines:
            self.records.append((t, lvl, line))
        self.next_seq += len(lines)
        if len(self.records) > self.capacity:
            del self.records[: len(self.records) - self.capacity]

    def info(self, text: str) -> None:
        self.printk("info", text)

    def warn(self, text: str) -> None:
        self.printk("warn", text)

    def err(self, text: str) -> None:
        self.printk("err", text)

    def text(self, level=None, clear: bool = False) -> str:
        """``dmesg`` output; ``level`` keeps lines at least that important ("warn" keeps
        emerg..warn), like ``dmesg --level=emerg,...,warn``."""
        if level is None:
            maxlvl = 7
        elif isinstance(level, str) and level in LEVELS:
            maxlvl = LEVELS[level]
        else:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        out = "".join(f"[{t // 1_000_000_000:5d}.{(t // 1000) % 1_000_000:06d}] {s}\n"
                      for t, lvl, s in self.records if lvl <= maxlvl)
        if clear:
            self.records.clear()
        return out
