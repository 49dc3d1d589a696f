"""Replay a real kernel's kmem trace on a simulated machine: ``km.replay(trace)``.

Think of a piano roll: the real kernel played a piece (every ``kmalloc``, ``kfree``,
``kmem_cache_alloc``, ``kmem_cache_free``, ``mm_page_alloc``, ``mm_page_free`` it did,
recorded by ``kmemlab record`` or any tracefs user), and the model plays it again, call
by call, so the views show what the real allocator's memory went through.

Input: the text tracefs prints (``cat trace``, ``trace_pipe``, a ``kmemlab record``
file with its ``#`` header) or ``trace-cmd report`` output, read as a stream — a
line at a time, never the whole file — so a recording of any size replays in bounded
memory (beyond what the replayed allocations themselves hold).

What is replayed, and how:

- ``kmalloc``: ``kmalloc_node(bytes_req, gfp_flags, node)``; ``kmem_cache_alloc``: the
  cache called ``name`` — taken from the machine, else created from the recording's
  header (its geometry and flags as ``/sys/kernel/slab`` showed them), else from the
  event itself (``bytes_req`` as the object size, aligned so the stride is
  ``bytes_alloc``); each on the CPU the event ran on.
- ``kfree`` / ``kmem_cache_free``: paired with their allocation by the pointer, which
  the kernel prints as a per-boot hash (``%p``), stable within one boot; trace-cmd prints
  the real address — either works.
- ``mm_page_alloc`` / ``mm_page_free``: ``alloc_pages(gfp, order)`` and its free,
  paired by pfn.

What cannot be replayed is skipped and counted by reason (``report.skipped``):
``kfree(NULL)``; frees of objects allocated before the recording began; the second
``kmalloc`` event 6.18 emits for one large kmalloc (same pointer, the first with the
allocator's own call site ``__kmalloc…``/``__kvmalloc…``); an allocation the model
refuses or fails; lines that are not kmem events. An allocation whose pointer is still
live means the old object was freed without an event (RCU frees, bulk frees) or two
pointers hash alike: the old object is freed then (``report.implied_frees``).
Where the model chose differently (a kmalloc's recorded ``bytes_alloc`` against the
model's ``ksize``, a cache's stride) ``report.differences`` counts it.

The kernel traces the pages SLUB takes for a new slab (and kmalloc_large's block) as an
``mm_page_alloc`` just before the object's event on the same CPU. A page allocation is
therefore held until the next event: when that is an allocation on the same CPU for
which the model's allocator took pages of its own, the recorded one was the
allocator's and is not done twice (``report.slab_pages``), and its ``mm_page_free`` is
the allocator's business too. The model's own ``m.trace(events="kmem")`` output replayed
on a twin machine gives the very same buddy lists and slabinfo (the tests check it for
every generation).

Simplifications: where the model's SLUB needs no new slab while the real one took
pages (their slab states differ), the page allocation is replayed as ``alloc_pages``;
pages freed in batches (``mm_page_free_batched``) are freed when that event is present,
and stay allocated when it was not recorded; GFP bits the model does not know are
dropped (counted); an event without ``name=`` (before v6.x) uses the machine's cache of
that object size and stride, or a ``cache-<size>-<stride>`` made for it.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote

from .kernel import gfp as G
from .kernel.errors import KernelError
from .kernel.helpers import for_each_slab_cache
from .kernel.machine import Machine, Text
from .kernel.slub import SLAB_KMALLOC, SLAB_USER_FLAGS

__all__ = ["replay", "Replayer", "ReplayReport", "parse_header", "iter_events", "sample_recording",
           "nearest_generation", "KMEM_EVENTS"]

KMEM_EVENTS = ("kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free", "mm_page_alloc",
               "mm_page_free", "mm_page_free_batched")
#: a line longer than this is not a trace line (read in pieces, never whole)
MAX_LINE = 1 << 16
#: ``TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS`` (tracefs) and trace-cmd report's
#: ``[INSTANCE:] TASK-PID [CPU] TIMESTAMP: EVENT: FIELDS``; an optional ``(TGID)`` column
_LINE = re.compile(r"(?:[^\s:]+:\s+)?\s*.+?-\d+\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+"
                   r"(?:\S+\s+)?(\d+\.\d+):\s+(\w+):\s*")
_NULL_PTRS = frozenset(("0000000000000000", "00000000", "(nil)", "(null)", "0x0", "0"))
_NO_PFN = 0xffffffffffffffff
_GFP_BY_NAME = {name: int(mask) for mask, name in G.GFP_NAMES}
_GFP_BY_NAME["none"] = 0
# 4.x gfpflags.h spells the single bits without "__" (GFP_NOWARN, GFP_COMP) and
# __GFP_RETRY_MAYFAIL as GFP_REPEAT
for _name, _v in list(_GFP_BY_NAME.items()):
    if _name.startswith("__GFP_"):
        _GFP_BY_NAME.setdefault(_name[2:], _v)
_GFP_BY_NAME.setdefault("GFP_REPEAT", int(getattr(G, "__GFP_RETRY_MAYFAIL")))
del _name, _v
_NOWARN = G.F_NOWARN
#: the events after which a held page allocation may turn out to be the allocator's own
_ALLOCS = frozenset(("kmalloc", "kmalloc_node", "kmem_cache_alloc", "kmem_cache_alloc_node"))
_GFP_VALID = int(getattr(G, "__GFP_BITS_MASK")) & ~0x200     # the bits check_gfp() accepts


# -- the recording's header -----------------------------------------------------------------

def parse_header(lines) -> dict:
    """The ``# key: value`` lines of a ``kmemlab record`` header -> dict; ``slab`` holds
    one dict per cache (name, object_size, size, align, objects, order, flags, ctor)."""
    head: dict = {"slab": {}}
    for line in lines:
        if not line.startswith("# "):
            continue
        key, sep, val = line[2:].partition(": ")
        if not sep:
            continue
        if key == "slab":
            f = val.split()
            if len(f) < 8:
                continue
            try:
                head["slab"][unquote(f[0])] = {
                    "name": unquote(f[0]), "object_size": int(f[1]), "size": int(f[2]),
                    "align": int(f[3]), "objects": int(f[4]), "order": int(f[5]),
                    "flags": int(f[6], 16), "ctor": f[7] == "1"}
            except ValueError:
                continue
        elif key in ("cpus", "nodes", "mem_total_kb", "present_kb", "page_size"):
            try:
                head[key] = int(val)
            except ValueError:
                pass
        else:
            head[key] = val.strip()
    return head


# -- reading ------------------------------------------------------------------------------------

def _open(trace):
    """(binary line source, total bytes or None, name, close?) for a path, text, file or lines."""
    if isinstance(trace, (bytes, bytearray)):
        return io.BytesIO(bytes(trace)), len(trace), "<bytes>", True
    if isinstance(trace, str) and ("\n" in trace or not trace.strip()):
        data = trace.encode()
        return io.BytesIO(data), len(data), "<text>", True
    if isinstance(trace, (str, os.PathLike)):
        path = os.fspath(trace)
        try:
            size = os.path.getsize(path)
            f = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
        except FileNotFoundError:
            raise FileNotFoundError(f"no trace file {path!r}") from None
        except IsADirectoryError:
            raise ValueError(f"{path!r} is a directory, not a trace file") from None
        return f, (None if path.endswith(".gz") else size), path, True
    if hasattr(trace, "read"):
        return trace, None, getattr(trace, "name", "<file>"), False
    if hasattr(trace, "__iter__"):
        return _LineSource(trace), None, "<lines>", False
    raise TypeError("replay() takes a trace file path, the trace text, an open file or an "
                    f"iterable of lines, got {type(trace).__name__}")


class _LineSource:
    """An iterable of lines as a binary file's read()."""

    def __init__(self, lines):
        self._it = iter(lines)

    def read(self, n=-1):
        out = []
        size = 0
        for line in self._it:
            if isinstance(line, str):
                line = line.encode("utf-8", "replace")
            if not line.endswith(b"\n"):
                line += b"\n"
            out.append(line)
            size += len(line)
            if size >= n > 0:
                break
        return b"".join(out)

    def close(self):
        pass


class _Reader:
    """The lines of a trace, a megabyte at a time: ``lines`` is the current chunk's list
    (None stands for a line longer than MAX_LINE, whose bytes are dropped as they come, so
    memory stays bounded whatever the input), ``i`` the next line to take, ``nbytes`` the
    chunk's size and ``before`` the bytes of the chunks before it."""

    def __init__(self, src):
        self._read = getattr(src, "read1", None) or src.read
        self._text_mode = isinstance(src, io.TextIOBase)
        self._tail = ""
        self._dropping = False
        self._eof = False
        self.lines: list = []
        self.i = 0
        self.nbytes = 0
        self.before = 0

    def fill(self) -> bool:
        """Move on to the next chunk's lines; False at the end of the trace."""
        self.before += self.nbytes
        self.lines, self.i, self.nbytes = [], 0, 0
        while not self._eof:
            chunk = self._read(1 << 20)
            if not chunk:
                self._eof = True
                tail, self._tail = self._tail, ""
                if tail and not self._dropping:
                    self.lines = [tail if len(tail) <= MAX_LINE else None]
                    self.nbytes = len(tail)
                    return True
                return False
            if self._text_mode:
                n = len(chunk.encode("utf-8", "replace"))
                text = chunk
            else:
                n = len(chunk)
                text = chunk.decode("utf-8", "replace")
            parts = text.split("\n")
            if self._dropping:
                if len(parts) == 1:
                    self.before += n
                    continue
                del parts[0]                      # the end of the long line
                self._dropping = False
            elif self._tail:
                parts[0] = self._tail + parts[0]
            tail = parts.pop()
            if len(tail) > MAX_LINE:
                tail = ""
                self._dropping = True
                parts.append(None)
            self._tail = tail
            if parts and (max(map(len, filter(None, parts)), default=0) > MAX_LINE or "\r" in text):
                parts = [None if line is None or len(line) > MAX_LINE
                         else line[:-1] if line.endswith("\r") else line for line in parts]
            if not parts:
                self.before += n
                continue
            self.lines, self.nbytes = parts, n
            return True
        return False


def _lines(src):
    """Decoded lines (without the newline) and the bytes each took (see :class:`_Reader`)."""
    rd = _Reader(src)
    while rd.fill():
        per = rd.nbytes // len(rd.lines)
        for line in rd.lines:
            yield line, per


def iter_events(trace):
    """Parse a trace: yields ``(event, cpu, timestamp, fields)`` for each kmem event line
    (``fields`` the ``key=value`` dict) and ``(None, reason, None, line)`` for each line
    that is not one (a comment, another tracer's output, another event, a garbled line)."""
    src, _, _, close = _open(trace)
    try:
        for line, _ in _lines(src):
            got = _split(line)
            if isinstance(got, str):
                yield None, got, None, line
                continue
            ev, cpu, ts, end = got
            yield ev, int(cpu), float(ts), _fields(line[end:])
    finally:
        if close:
            src.close()


def _split(line):
    """``(event, cpu, timestamp, match end)`` of a kmem event line (the fields start at
    the match end), or why the line is not one."""
    if line is None:
        return "line too long"
    if not line or line[0] == "#":
        return "comment"
    mo = _LINE.match(line)
    if mo is None:
        if line.startswith("CPU:") and "[LOST" in line:
            return "lost events"
        return "not a trace line"
    cpu, ts, ev = mo.groups()
    if ev in _LAYOUTS:
        return ev, cpu, ts, mo.end()
    return f"other event ({ev})"


def _fields(rest: str) -> dict:
    """``key=value`` pairs; a token without ``=`` continues the previous value
    (``call_site=f+0x1/0x2 [module]``); trace-cmd's leading ``(func+0x1)`` is dropped."""
    d = {}
    key = None
    for tok in rest.split():
        k, eq, v = tok.partition("=")
        if eq:
            d[k] = v
            key = k
        elif key is not None:
            d[key] += " " + tok
    return d


_PRE = r"\s*(?:\(\S*\)\s+)?"                      # trace-cmd's "(func+0x1c) "
_CS = _PRE + r"call_site=(\S+)(?:\s+\[[^\]]*\])?"       # "call_site=f+0x1/0x2 [module]"
_CS0 = _PRE + r"call_site=\S+(?:\s+\[[^\]]*\])?"
#: per event: the fields a replay needs, and a regex for them in the kernel's own order
#: (v6.x; older layouts and other tools fall back to the generic key=value parse); fields
#: are apart by any whitespace, as str.split() on the fast path takes them
_LAYOUTS = {
    "kmalloc": (("call_site", "ptr", "bytes_req", "bytes_alloc", "gfp_flags", "node"),
                re.compile(_CS + r"\s+ptr=(\S+)\s+bytes_req=(\d+)\s+bytes_alloc=(\d+)\s+gfp_flags=(\S+)(?:\s+node=(-?\d+))?")),
    "kmem_cache_alloc": (("call_site", "ptr", "name", "bytes_req", "bytes_alloc", "gfp_flags", "node"),
                         re.compile(_CS + r"\s+ptr=(\S+)(?:\s+name=(\S+))?\s+bytes_req=(\d+)\s+bytes_alloc=(\d+)\s+"
                                    r"gfp_flags=(\S+)(?:\s+node=(-?\d+))?")),
    "kfree": (("ptr",), re.compile(_CS0 + r"\s+ptr=(\S+)")),
    "kmem_cache_free": (("ptr", "name"), re.compile(_CS0 + r"\s+ptr=(\S+)(?:\s+name=(\S+))?")),
    "mm_page_alloc": (("page", "pfn", "order", "gfp_flags"),
                      re.compile(r"\s*page=(\S+)\s+pfn=(0x[0-9a-fA-F]+|\d+)\s+order=(-?\d+)\s+migratetype=-?\d+\s+gfp_flags=(\S+)")),
    "mm_page_free": (("page", "pfn", "order"), re.compile(r"\s*page=(\S+)\s+pfn=(0x[0-9a-fA-F]+|\d+)\s+order=(-?\d+)")),
    "mm_page_free_batched": (("page", "pfn", "order"), re.compile(r"\s*page=(\S+)\s+pfn=(0x[0-9a-fA-F]+|\d+)(?:\s+order=(-?\d+))?")),
}
# older event names (v4.x-5.x) with the same fields
_LAYOUTS["kmalloc_node"] = _LAYOUTS["kmalloc"]
_LAYOUTS["kmem_cache_alloc_node"] = _LAYOUTS["kmem_cache_alloc"]


def _values(ev: str, rest: str):
    """The fields ``ev`` needs from its text, as a tuple of strings (None: absent)."""
    keys, rx = _LAYOUTS[ev]
    mo = rx.match(rest)
    if mo is not None:
        return mo.groups()
    f = _fields(rest)
    return tuple(f.get(k) for k in keys)


# The fast path: a line in tracefs's own layout (``comm-pid [cpu] flags ts: event: key=value
# ...`` with v6.x's fields in the kernel's order, one space apart) is matched by two
# compiled regexes: one for the line's head (cpu, timestamp, event name), then the
# event's own for its fields, from where the head ended; anything else (trace-cmd, older
# layouts, a module's call site, a comm with spaces, a garbled line) takes the regex path
# above, which gives the same values (tests/test_replay_fast.py checks both on every
# shipped line and on mutated ones). Each field regex is stricter than its layout regex in
# _LAYOUTS (single spaces, every field present, ASCII digits), so what it accepts the
# slow path reads alike. Measured on the 60k recording: 0.87x the cost of one regex for
# the whole line with an alternative per event (whose match.groups() built a tuple of
# every event's groups, 30 of them, for each line), itself 0.63x the str.split() path.

_FAST_EVENTS = {
    "kmem_cache_alloc": r"call_site=(\S+) ptr=(\S+) name=(\S+) bytes_req=(\d+) bytes_alloc=(\d+) "
                        r"gfp_flags=(\S+) node=(-?\d+)",
    "kmem_cache_free": r"call_site=\S+ ptr=(\S+) name=(\S+)",
    "kfree": r"call_site=\S+ ptr=(\S+)",
    "mm_page_alloc": r"page=(\S+) pfn=(0x[0-9a-fA-F]+) order=(\d+) migratetype=-?\d+ gfp_flags=(\S+)",
    "mm_page_free": r"page=(\S+) pfn=(0x[0-9a-fA-F]+) order=(\d+)",
    "kmalloc": r"call_site=(\S+) ptr=(\S+) bytes_req=(\d+) bytes_alloc=(\d+) gfp_flags=(\S+) node=(-?\d+)",
}
#: ``comm-pid [cpu] flags timestamp: event: `` (the event's fields follow)
_FAST_HEAD = re.compile(r"\s*\S+-\d+\s+\[(\d+)\]\s+\S+\s+(\d+\.\d+):\s+(\w+): ", re.ASCII)
#: event -> the match of its fields' regex (``match(line, pos)``)
_FAST_FIELDS = {ev: re.compile(rx, re.ASCII).match for ev, rx in _FAST_EVENTS.items()}
#: the fast path's head match (Replayer._step has _parse_fast() written out with it)
_fast_match = _FAST_HEAD.match


def _parse_fast(line: str, _match=_FAST_HEAD.match, _fields=_FAST_FIELDS):
    """``(event, cpu, timestamp, values)`` of a line in tracefs's v6.x layout, or None."""
    mo = _match(line)
    if mo is None:
        return None
    cpu, ts, ev = mo.groups()
    fm = _fields.get(ev)
    if fm is None:
        return None
    f = fm(line, mo.end())
    if f is None:
        return None
    return ev, cpu, ts, f.groups()


def _parse_slow(line):
    """``(event, cpu, timestamp, values)`` by the regexes, or why the line is not a kmem event."""
    got = _split(line)
    if type(got) is str:
        return got
    ev, cpu, ts, end = got
    mo = _LAYOUTS[ev][1].match(line, end)
    return ev, cpu, ts, (mo.groups() if mo is not None else _values(ev, line[end:]))


# -- the report ---------------------------------------------------------------------------------

@dataclass
class ReplayReport:
    """What a replay did. ``events`` kmem event lines were read; ``replayed`` of them
    were done on ``machine``; ``skipped`` says why the rest were not (reason -> count).
    ``ignored`` counts the lines that are not kmem events, ``differences`` where the
    model's choice differs from the recorded one ((what, recorded, model) -> count)."""
    machine: Machine = None
    source: str = ""
    header: dict = field(default_factory=dict)
    lines: int = 0
    events: int = 0
    replayed: int = 0
    skipped: Counter = field(default_factory=Counter)
    ignored: Counter = field(default_factory=Counter)
    differences: Counter = field(default_factory=Counter)
    implied_frees: int = 0
    null_frees: int = 0
    slab_pages: int = 0
    lost: int = 0
    caches_created: dict = field(default_factory=dict)
    gfp_dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    trace_seconds: float = 0.0
    by_event: Counter = field(default_factory=Counter)

    @property
    def fraction_replayed(self) -> float:
        return self.replayed / self.events if self.events else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def _rows(self):
        yield f"replayed {self.replayed} of {self.events} kmem events ({self.fraction_replayed:.1%}) from {self.source}"
        if self.header.get("uname"):
            yield f"recorded on {self.header['uname']} ({self.header.get('date', '?')})"
        yield (f"{self.trace_seconds:.3f} s of recorded time replayed in {self.seconds:.2f} s "
               f"({self.events_per_second:,.0f} events/s) on {self.machine!r}")
        for ev, n in sorted(self.by_event.items()):
            yield f"  {ev:<18} {n:8d}"
        if self.skipped:
            yield "skipped:"
            for why, n in self.skipped.most_common():
                yield f"  {n:8d}  {why}"
        if self.null_frees:
            yield f"{self.null_frees} of the replayed events are kfree(NULL): a no-op, in the kernel and in the model"
        if self.slab_pages:
            yield (f"{self.slab_pages} page events were the real SLUB's (or kmalloc_large's) own; "
                   "the model's allocator took and freed its own pages there")
        if self.implied_frees:
            yield (f"{self.implied_frees} objects were freed without an event (RCU or bulk frees, "
                   "or a pointer hash collision): freed when their pointer came back")
        if self.lost:
            yield f"{self.lost} events were lost by the tracer (its buffer overflowed)"
        if self.caches_created:
            src = Counter(self.caches_created.values())
            yield "caches created: " + ", ".join(f"{n} from {w}" for w, n in src.items())
        if self.differences:
            yield "where the model chose differently (recorded -> model):"
            for (what, rec, mod), n in self.differences.most_common(8):
                yield f"  {n:8d}  {what}: {rec} -> {mod}"
        if self.gfp_dropped:
            yield "GFP bits the model does not know, dropped: " + ", ".join(
                f"{k} ({n})" for k, n in self.gfp_dropped.most_common())
        if self.ignored:
            yield "lines that are not kmem events: " + ", ".join(
                f"{why} {n}" for why, n in self.ignored.most_common())

    def __str__(self):
        return "\n".join(self._rows())

    def __repr__(self):
        return (f"<ReplayReport {self.replayed}/{self.events} events replayed, "
                f"{sum(self.skipped.values())} skipped>")

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        import html
        rows = list(self._rows())
        body = "".join(f"<div>{html.escape(r)}</div>" if not r.startswith("  ")
                       else f"<div style='padding-left:2em;font-family:monospace'>{html.escape(r.strip())}</div>"
                       for r in rows[1:])
        return f'<div class="kmemlab-replay"><b>{html.escape(rows[0])}</b>{body}</div>'


# -- replaying ------------------------------------------------------------------------------------

def nearest_generation(release: str | None) -> str:
    """The kernel generation kmemlab follows that is nearest to a ``uname -r``: the newest
    one not newer than it (``6.19.2`` -> ``6.18``, ``6.10.3`` -> ``6.8``), the oldest for
    an older kernel, the default when the release is unknown."""
    from .kernel.generation import DEFAULT_KERNEL, GENERATIONS, parse_release
    mo = re.match(r"(\d+)\.(\d+)", release or "")
    if mo is None:
        return DEFAULT_KERNEL
    want = (int(mo.group(1)), int(mo.group(2)))
    older = [g for g in GENERATIONS if parse_release(g) <= want]
    return max(older, key=parse_release) if older else min(GENERATIONS, key=parse_release)


def _release(head: dict) -> str | None:
    f = head.get("uname", "").split()
    return f[2] if len(f) > 2 else None


def _machine_for(head: dict) -> Machine:
    """A machine shaped like the recording's host: RAM, CPUs, nodes, and the kernel
    generation nearest to its ``uname -r``."""
    from .kernel.layout import get_profile
    from .twin import _FIRST_MIB_HOLES
    prof = get_profile("x86_64")
    if "present_kb" in head:                 # the RAM itself (kmemlab record, 2026-12 on)
        mem = (head["present_kb"] << 10) + _FIRST_MIB_HOLES
    else:                                    # MemTotal: RAM less what the host reserved
        mem = head.get("mem_total_kb", 4 << 20) << 10
    mem = min(max(mem, prof.min_mem), prof.max_mem)
    mem = (mem + (1 << 20) - 1) >> 20 << 20
    cpus = min(max(head.get("cpus", 4), 1), 512)
    nodes = min(max(head.get("nodes", 1), 1), 8, cpus)
    # slab_nomerge: every cache the recording names is a root of its own there (the
    # recording does not say which were unmergeable, e.g. by a usercopy region)
    return Machine("x86_64", mem=mem, cpus=cpus, nodes=nodes, kernel=nearest_generation(_release(head)),
                   slab_nomerge=True)


class Replayer:
    """The replay of one trace on one machine, an event at a time, like a video player:

    - ``step(n)`` does the next ``n`` events (at once), ``run()`` the rest (at ``speed``
      times the recorded pace, or as fast as it can; it blocks) — ``km.replay()`` is
      ``Replayer(...).run()``;
    - ``play(speed=...)`` plays in the background of a notebook (on the kernel's event
      loop, a slice of events at a time, so a ``pause()`` click is seen at once) and
      returns; without an event loop (a script) it plays to the end before returning;
      ``speed=1.0`` plays in recorded time, None as fast as the model goes;
    - ``state`` ("ready", "playing", "paused", "finished"), ``fraction`` (how far, by
      bytes read; None when the size is unknown), ``position`` (seconds of recorded time
      replayed) and ``report`` say where it is; ``subscribe(callback)`` calls
      ``callback(replayer)`` after each slice and on every change of state;
    - ``control()`` is a play/pause/step widget for a dashboard
      (:class:`kmemlab.widgets.replaycontrol.ReplayControl`).

    A dashboard subscribed to the machine animates as the events are done (its redraws
    are coalesced). Between two slices the machine is the notebook's: its current CPU is
    restored after every step."""

    #: states
    READY, PLAYING, PAUSED, FINISHED = "ready", "playing", "paused", "finished"
    #: wall-clock seconds one slice of a background play may take (the UI stays responsive)
    SLICE = 0.04

    def __init__(self, trace, machine: Machine | None = None, speed: float | None = None,
                 progress: bool = True):
        if machine is not None and not isinstance(machine, Machine):
            raise TypeError(f"machine must be a km.Machine (or None: one shaped like the recording's "
                            f"host), got {type(machine).__name__}")
        if speed is not None:
            if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0:
                raise ValueError(f"speed must be a number > 0 (1.0: the recorded pace) or None, got {speed!r}")
        self.speed = speed
        self._src, self._total, name, self._close = _open(trace)
        self._rd = rd = _Reader(self._src)
        self.report = r = ReplayReport(source=name)
        # read the header (the leading '#' lines) before anything is replayed
        head_lines: list[str] = []
        while rd.fill():
            lines = rd.lines
            j = 0
            while j < len(lines) and lines[j] is not None and lines[j].startswith("#"):
                j += 1
            head_lines += lines[:j]
            rd.i = j
            if j < len(lines) or len(head_lines) > 100000:
                break
        r.lines += len(head_lines)
        if head_lines:
            r.ignored["comment"] += len(head_lines)
        r.header = parse_header(head_lines)
        self.m = machine if machine is not None else _machine_for(r.header)
        r.machine = self.m
        self._progress = _Progress(self._total) if progress else None
        self._live: dict[str, tuple] = {}        # ptr -> (addr, cache or None, call_site, bytes_req)
        self._pages: dict[int, tuple] = {}       # recorded pfn -> (Page, order)
        self._gfp_cache: dict[str, int] = {}
        #: a page allocation waiting for the next event (see step): (pfn, cpu, order, fields)
        self._held = None
        self._hold = True
        #: recorded pfns of pages the real SLUB took, which the model's SLUB took itself
        self._slab_pfns: dict[int, int] = {}
        self._caches: dict[str, object] = {}
        self._strides: dict[object, str] = {}     # cache -> its stride as the trace prints it
        # the Machine's calls made once per event, bound (see _bind)
        self._mem_map = None
        self._bind()
        self._cpu_ctx = None
        self._cpu = None
        self._cpu_text = None
        self._t0 = None
        self._wall0 = None
        self._last_ts = None
        self.finished = False
        self._t_start = time.perf_counter()
        self.state = self.READY
        self.error: BaseException | None = None
        self._subscribers: list = []
        self._task = None
        self._play_speed = speed
        self._batch = 256

    # -- driving --------------------------------------------------------------------------

    def run(self) -> ReplayReport:
        """Replay everything left (at ``speed``, blocking); returns the report."""
        self._set_state(self.PLAYING)
        try:
            while self._src is not None and self._step(4096, None, self.speed is not None):
                self._notify()
        finally:
            self.close()
        return self.report

    def step(self, n: int = 1, until: float | None = None) -> int:
        """Replay the next ``n`` events (lines that are not events do not count); returns
        how many were done, 0 at the end of the trace. ``until``: stop before the first
        event recorded more than ``until`` seconds after the recording's first one."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"step() takes a number of events >= 0, got {n!r}")
        if until is not None and (isinstance(until, bool) or not isinstance(until, (int, float))):
            raise TypeError(f"until must be seconds of recorded time (a number) or None, got {until!r}")
        if self._src is None:
            return 0                      # closed
        n = self._step(n, until, self.speed is not None and until is None)
        self._notify()
        return n

    def _step(self, n: int, until, paced: bool) -> int:
        self._bind()                      # a restore() between two steps replaced the kernel
        done = 0
        r = self.report
        handlers = _HANDLERS
        # _parse_fast() written into the loop (a call and a tuple less per event)
        match = _fast_match
        fields = _FAST_FIELDS
        slow = _parse_slow
        by_event = r.by_event
        skipped = r.skipped
        ignored = r.ignored
        prog = self._progress
        rd = self._rd
        lines = rd.lines
        i = start = rd.i
        end = len(lines)
        replayed = 0
        ts = None
        last_ts = None
        zones = None                      # the machine's zones, fetched once per step
        t_in = time.perf_counter()
        try:
            while done < n:
                if i >= end:
                    r.lines += i - start
                    rd.i = i
                    if not rd.fill():
                        start = i = end = 0
                        lines = rd.lines
                        self.finished = True
                        if self._held is not None:
                            self._flush_held()
                        break
                    lines = rd.lines
                    i = start = 0
                    end = len(lines)
                line = lines[i]
                i += 1
                if line is None:
                    ignored["line too long"] += 1
                    continue
                mo = match(line)
                if mo is not None:
                    cpu, ts, ev = mo.groups()
                    fm = fields.get(ev)
                    if fm is not None:
                        mo = fm(line, mo.end())
                    else:
                        mo = None
                if mo is not None:
                    vals = mo.groups()
                else:
                    got = slow(line)
                    if type(got) is str:
                        ignored[got] += 1
                        if got == "lost events":
                            try:
                                r.lost += int(line.split("[LOST", 1)[1].split()[0])
                            except (ValueError, IndexError):
                                pass
                        continue
                    ev, cpu, ts, vals = got
                if until is not None and self._t0 is not None:
                    t = self._ts(ts)
                    if t is not None and t - self._t0 > until:
                        i -= 1                    # not due yet: the next step starts with it
                        ts = last_ts
                        break
                last_ts = ts
                done += 1
                by_event[ev] += 1
                if self._t0 is None:
                    self._t0 = self._ts(ts)
                    if self._t0 is None:
                        done -= 1
                        by_event[ev] -= 1
                        ignored["not a trace line"] += 1
                        continue
                if paced:
                    self._pace(ts)
                if cpu != self._cpu_text:
                    self._on_cpu(cpu)
                held = self._held
                if held is not None:
                    # a page allocation waited for the next event: if that is an
                    # allocation on the same CPU for which the model's allocator takes
                    # pages of its own, the recorded one was the real SLUB's (a new slab)
                    # or kmalloc_large's, which the kernel traces before the object
                    self._held = None
                    if ev in _ALLOCS and cpu == held[1]:
                        if zones is None:
                            zones = self.m.zones
                        before = _free_and_pcp(zones)
                        why = self._do(handlers[ev], vals)
                        if before - _free_and_pcp(zones) >= 1 << held[2]:
                            self._absorb(held)
                            replayed += 1
                        else:
                            replayed, skipped = self._count(self._do(Replayer._page_alloc, held[3]),
                                                            replayed, skipped)
                        replayed, skipped = self._count(why, replayed, skipped)
                        continue
                    self._on_cpu(held[1])
                    replayed, skipped = self._count(self._do(Replayer._page_alloc, held[3]), replayed, skipped)
                    self._on_cpu(cpu)
                if ev == "mm_page_alloc" and self._hold:
                    try:
                        self._held = (_pfn(vals[1]), cpu, int(vals[2]), vals)
                        continue
                    except (TypeError, ValueError):
                        pass                           # malformed: the handler says so
                try:
                    why = handlers[ev](self, vals)
                except KernelError as e:          # the machine is unchanged (it validates first)
                    why = f"the model reports a kernel bug ({type(e).__name__})"
                if why is None:
                    replayed += 1
                else:
                    skipped[why] += 1
                if prog is not None and not done & 1023:
                    prog.update(rd.before + rd.nbytes * i // max(end, 1), r.events + done)
        finally:
            r.events += done
            r.replayed += replayed
            r.lines += i - start
            rd.i = i
            self._leave_cpu()             # between steps the machine runs on its own CPU
            if ts is not None:
                last = self._ts(ts)
                if last is not None and self._t0 is not None:
                    r.trace_seconds = max(r.trace_seconds, last - self._t0)
            r.seconds += time.perf_counter() - t_in
        if self.finished and self.state != self.FINISHED:
            self._set_state(self.FINISHED)
        return done

    # -- playing ------------------------------------------------------------------------

    @property
    def fraction(self) -> float | None:
        """How much of the trace is done (0..1, by bytes read), or None when its size is
        not known (an open file, an iterable of lines)."""
        if self.finished:
            return 1.0
        if not self._total:
            return None
        return min(1.0, self.bytes_read / self._total)

    @property
    def position(self) -> float:
        """Seconds of recorded time replayed (from the recording's first event)."""
        return self.report.trace_seconds

    def subscribe(self, callback):
        """Call ``callback(replayer)`` after each step or slice and on each change of
        state; returns a function that unsubscribes."""
        if not callable(callback):
            raise TypeError(f"subscribe() takes a callable(replayer), got {type(callback).__name__}")
        self._subscribers.append(callback)

        def unsubscribe():
            if callback in self._subscribers:
                self._subscribers.remove(callback)
        return unsubscribe

    def _notify(self) -> None:
        for cb in list(self._subscribers):
            try:
                cb(self)
            except Exception:             # a broken view must not stop the replay
                import traceback
                traceback.print_exc(file=sys.stderr)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._notify()

    def play(self, speed: float | None | str = "same") -> "Replayer":
        """Play from where the replay is: in the background when a notebook's event loop
        runs (returns at once), else to the end. ``speed``: 1.0 the recorded pace, 10.0
        ten times faster, None as fast as possible (default: the replayer's ``speed``)."""
        if speed != "same":
            self.speed = self._check_speed(speed)
        if self.state == self.FINISHED or self._src is None:
            return self
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._wall0 = None                # pacing restarts from here
        self._set_state(self.PLAYING)
        if loop is None:
            while self.state == self.PLAYING and self._slice():
                pass
            if self.state == self.PLAYING and not self.finished:
                self._set_state(self.PAUSED)
            return self
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._play_loop())
        return self

    def control(self, lang: str | None = None):
        """A play/pause/step bar for this replay (an ipywidgets widget; see
        :mod:`kmemlab.widgets.replaycontrol`)."""
        from .widgets.replaycontrol import ReplayControl
        return ReplayControl(self, lang=lang)

    def pause(self) -> "Replayer":
        """Stop playing after the current slice (``play()`` goes on from there)."""
        if self.state == self.PLAYING:
            self._set_state(self.PAUSED)
        return self

    @staticmethod
    def _check_speed(speed):
        if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0):
            raise ValueError(f"speed must be a number > 0 (1.0: the recorded pace) or None, got {speed!r}")
        return None if speed is None else float(speed)

    def _slice(self) -> bool:
        """One slice of a play: events for about SLICE seconds (as fast as possible), or
        the events due by now (at a pace); False at the end."""
        now = time.perf_counter()
        if self.speed is None:
            t = now
            done = self._step(self._batch, None, False)
            took = time.perf_counter() - t
            # size the next slice to take SLICE seconds
            if took > 0:
                self._batch = max(16, min(200_000, int(self._batch * self.SLICE / took) or 16))
        else:
            if self._wall0 is None:
                self._wall0, self._rec0 = now, self.report.trace_seconds
            due = self._rec0 + (now - self._wall0) * self.speed
            done = self._step(200_000, due, False)
        self._notify()
        return not self.finished

    async def _play_loop(self) -> None:
        try:
            while self.state == self.PLAYING:
                if not self._slice():
                    break
                # yield to the kernel (widget clicks, redraw timers); at a pace, wake at
                # the next frame
                await asyncio.sleep(0 if self.speed is None else 1 / 60)
        except Exception as e:            # shown by the control, not lost in a task
            self.error = e
            self._set_state(self.PAUSED)
            raise

    @property
    def bytes_read(self) -> int:
        """How far into the trace the replay is, in bytes (approximately, within a chunk)."""
        rd = self._rd
        return rd.before + (rd.nbytes * rd.i // len(rd.lines) if rd.lines else 0)

    def _do(self, handler, vals):
        try:
            return handler(self, vals)
        except KernelError as e:          # the machine is unchanged (it validates first)
            return f"the model reports a kernel bug ({type(e).__name__})"

    @staticmethod
    def _count(why, replayed, skipped):
        if why is None:
            return replayed + 1, skipped
        skipped[why] += 1
        return replayed, skipped

    def _absorb(self, held) -> None:
        """A recorded page allocation the model's SLUB did itself: its free is the SLUB's too."""
        self._slab_pfns[held[0]] = held[2]
        self.report.slab_pages += 1

    def _flush_held(self) -> None:
        """The page allocation still waiting at the end of the trace: replay it."""
        held, self._held = self._held, None
        if held is not None:
            r = self.report
            self._on_cpu(held[1])
            r.replayed, r.skipped = self._count(self._do(Replayer._page_alloc, held[3]), r.replayed, r.skipped)

    @staticmethod
    def _ts(text: str):
        try:
            return float(text)
        except ValueError:
            return None

    def close(self) -> None:
        """Stop reading (the machine keeps what was replayed)."""
        if self._src is None:
            return
        self._bind()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._held is not None:
            self._flush_held()
        self._leave_cpu()
        if self._progress is not None:
            self._progress.done(self.bytes_read, self.report.events)
            self._progress = None
        if self._close and self._src is not None:
            self._src.close()
        self._src = None
        self.finished = True
        self._set_state(self.FINISHED)

    def _pace(self, text: str) -> None:
        ts = self._ts(text)
        if ts is None:
            return
        if self._wall0 is None:
            self._wall0 = time.perf_counter()
            self._pace_t0 = ts
            return
        ahead = (ts - self._pace_t0) / self.speed - (time.perf_counter() - self._wall0)
        if ahead > 0.002:
            time.sleep(ahead)

    # -- one event --------------------------------------------------------------------------

    def _bind(self) -> None:
        """Bind the Machine calls the replay makes once per event, and after a
        ``restore()`` (which replaces the whole state: ``m.mem_map`` is another object)
        take the replay's caches and held pages from the restored state: the same caches
        by their ``id``, the same pages by their pfn (the objects' caches need nothing:
        the Machine API finds an old cache object's restored self by its id). Called at
        each step."""
        mm = self.m.mem_map
        if mm is self._mem_map:
            return
        restored = self._mem_map is not None
        self._mem_map = mm
        if restored:
            by_id = {c.id: c for c in for_each_slab_cache(self.m)}
            for name, c in list(self._caches.items()):
                new = by_id.get(c.id)
                if new is not None and new.name == c.name and new is not c:
                    self._caches[name] = new
                    self._strides[new] = self._strides.pop(c, str(new.size))
            self._pages = {pfn: (self.m.pfn_to_page(pg.pfn), order) for pfn, (pg, order) in self._pages.items()}
        self._cache_alloc = self.m.kmem_cache_alloc
        self._cache_free = self.m.kmem_cache_free
        self._kfree_model = self.m.kfree

    def _on_cpu(self, text: str) -> None:
        """Run what follows on the CPU the event ran on (modulo the machine's CPUs)."""
        cpu = int(text) % self.m.cpus
        self._cpu_text = text
        if cpu != self._cpu:
            self._leave_cpu()
            self._cpu_ctx = self.m.on_cpu(cpu)
            self._cpu_ctx.__enter__()
            self._cpu = cpu
        self._cpu_text = text

    def _leave_cpu(self) -> None:
        if self._cpu_ctx is not None:
            self._cpu_ctx.__exit__(None, None, None)
            self._cpu_ctx = None
            self._cpu = None
            self._cpu_text = None

    def _gfp(self, text: str | None) -> int:
        """The model's gfp mask for a printed one (``GFP_KERNEL|__GFP_ZERO``), with
        ``__GFP_NOWARN``; cached per text. Always within the bits ``check_gfp()`` accepts
        (known names, hex masks cut to ``_GFP_VALID``): the kernel functions take it as it is."""
        g = self._gfp_cache.get(text)
        if g is not None:
            return g
        g = 0
        for part in (text or "none").split("|"):
            v = _GFP_BY_NAME.get(part)
            if v is None:
                if part.startswith("0x"):
                    try:
                        v = int(part, 16) & _GFP_VALID
                    except ValueError:
                        v = 0
                else:
                    self.report.gfp_dropped[part] += 1
                    v = 0
            g |= v
        if g & G.F_DMA and g & (G.F_DMA32 | G.F_HIGHMEM):
            g &= ~(G.F_DMA32 | G.F_HIGHMEM)
        # the model stays quiet where it fails: the failure is counted, not logged
        g |= _NOWARN
        self._gfp_cache[text] = g
        return g

    def _free_model(self, rec) -> None:
        addr, cache = rec[0], rec[1]
        if cache is None:
            self._kfree_model(addr)
        else:
            self._cache_free(cache, addr)

    def _kmalloc(self, v):
        call_site, ptr, req, alloc, gfp, node = v
        if ptr is None or req is None or alloc is None:
            return "malformed event"
        try:
            req = int(req)
            alloc = int(alloc)
        except ValueError:
            return "malformed event"
        live = self._live
        old = live.get(ptr)
        if old is not None and old[1] is None and old[3] == req and old[2].startswith("__k"):
            # 6.18: __kmalloc_large_node / kvmalloc report the block, then the caller does
            live[ptr] = (old[0], None, call_site or "", req)
            return "second event of one large kmalloc (6.18)"
        if ptr in _NULL_PTRS:
            return "kmalloc returned NULL"
        m = self.m
        try:
            p = m.kmalloc_node(req, self._gfp(gfp), _node(node, m.nodes))
        except (ValueError, TypeError):
            return "the model refuses these arguments"
        if not p:
            return "the model's allocation failed"
        if req and alloc != (model := m.ksize(p)):
            self.report.differences[("kmalloc bytes_alloc", alloc, model)] += 1
        if old is not None:
            self._free_model(old)
            self.report.implied_frees += 1
        live[ptr] = (p.real, None, call_site or "", req)    # a plain int, as the kernel functions take
        return None

    def _kmem_cache_alloc(self, v):
        call_site, ptr, name, req, alloc, gfp, node = v
        if ptr is None or req is None:
            return "malformed event"
        if ptr in _NULL_PTRS:
            return "kmem_cache_alloc returned NULL"
        cache = self._caches.get(name) if name else None
        if cache is None:
            try:
                ireq = int(req)
                ialloc = int(alloc or 0)
            except ValueError:
                return "malformed event"
            if not name:                  # before v6.x the event does not name its cache
                name = self._unnamed(ireq, ialloc)
            cache = self._caches.get(name) or self._cache(name, ireq, ialloc)
            if cache is None:
                return "the model cannot create this cache"
        elif not req.isdigit() or (alloc is not None and not alloc.isdigit()):
            return "malformed event"
        g = self._gfp_cache.get(gfp)
        if g is None:
            g = self._gfp(gfp)
        try:
            p = self._cache_alloc(cache, g)
        except (ValueError, TypeError):
            return "the model refuses these arguments"
        if not p:
            return "the model's allocation failed"
        if alloc and alloc != self._strides[cache]:
            self.report.differences[(f"{name} stride", int(alloc), cache.size)] += 1
        live = self._live
        old = live.get(ptr)
        if old is not None:
            self._free_model(old)
            self.report.implied_frees += 1
        live[ptr] = (p, cache, call_site, None)
        return None

    def _unnamed(self, req: int, alloc: int) -> str:
        """A cache for an event without ``name=``: the machine's own (not kmalloc) cache of
        that object size and stride if it has one, else ``cache-<req>-<alloc>``."""
        key = f"cache-{req}-{alloc}"
        if key not in self._caches:
            for c in for_each_slab_cache(self.m):
                if c.object_size == req and c.size == alloc and not c.flags & SLAB_KMALLOC:
                    self._caches[key] = c
                    self._strides[c] = str(c.size)
                    break
        return key

    def _cache(self, name: str, req: int, alloc: int):
        c = self.m.find_cache(name)
        how = None
        if c is None:
            spec = self.report.header.get("slab", {}).get(name)
            if spec is not None:
                from .twin import create_cache_like
                c = create_cache_like(self.m, name, spec["object_size"], spec["align"], spec["flags"],
                                      spec["ctor"], spec["size"])[0]
                how = "the recording's header"
            if c is None and req > 0:
                c = self._create_from_event(name, req, alloc)
                how = "the events' bytes_req/bytes_alloc"
            if c is not None:
                self.report.caches_created[name] = how
        if c is not None:
            self._caches[name] = c
            self._strides[c] = str(c.size)
        return c

    def _create(self, name, size, align, flags, ctor):
        flags &= SLAB_USER_FLAGS
        if align & (align - 1):
            align = 0
        try:
            return self.m.kmem_cache_create(name, size, align, flags, (lambda addr: None) if ctor else None)
        except (ValueError, TypeError):
            return None

    def _create_from_event(self, name, req, alloc):
        """The cache that would give the recorded stride: try no alignment, then
        HWCACHE_ALIGN, then power-of-two alignments; fall back to the stride as size."""
        from .kernel.slub import SLAB_HWCACHE_ALIGN
        tries = [(req, 0, 0), (req, 0, SLAB_HWCACHE_ALIGN)] + [(req, a, 0) for a in (16, 32, 64, 128)]
        for size, align, flags in tries:
            c = self._create(name, size, align, flags, False)
            if c is None:
                break
            if not alloc or c.size == alloc:
                return c
            self.m.kmem_cache_destroy(c)
        return self._create(name, alloc or req, 0, 0, False)

    def _kfree(self, v):
        ptr = v[0]
        if ptr is None:
            return "malformed event"
        if ptr in _NULL_PTRS:
            self.m.kfree(0)                       # a no-op, in the kernel and in the model
            self.report.null_frees += 1
            return None
        rec = self._live.pop(ptr, None)
        if rec is None:
            return "free of an object allocated before the recording began"
        if rec[1] is None:
            self._kfree_model(rec[0])
        else:
            self._cache_free(rec[1], rec[0])
        return None

    def _kmem_cache_free(self, v):
        ptr, name = v
        if ptr is None:
            return "malformed event"
        rec = self._live.get(ptr)
        if rec is None:
            return ("kmem_cache_free(NULL)" if ptr in _NULL_PTRS
                    else "free of an object allocated before the recording began")
        if name and rec[1] is not None and rec[1].name != name:
            return "pointer hash collision (the free names another cache)"
        del self._live[ptr]
        if rec[1] is None:
            self._kfree_model(rec[0])
        else:
            self._cache_free(rec[1], rec[0])
        return None

    def _page_alloc(self, v):
        page, pfn, order, gfp = v
        try:
            pfn = _pfn(pfn)
            order = int(order)
        except (TypeError, ValueError):
            return "malformed event"
        if pfn == _NO_PFN or page in _NULL_PTRS:
            return "alloc_pages failed on the host"
        try:
            pg = self.m.alloc_pages(self._gfp(gfp), order)
        except (ValueError, TypeError):
            return "the model refuses these arguments"
        if pg is None:
            return "the model's allocation failed"
        old = self._pages.get(pfn)
        if old is not None:
            self.m.free_pages(old[0], old[1])
            self.report.implied_frees += 1
        self._pages[pfn] = (pg, order)
        return None

    def _page_free(self, v):
        try:
            pfn = _pfn(v[1])
        except (TypeError, ValueError):
            return "malformed event"
        rec = self._pages.pop(pfn, None)
        if rec is None:
            if self._slab_pfns.pop(pfn, None) is not None:
                self.report.slab_pages += 1
                return None                     # the model's SLUB frees its own slab pages
            return "free of pages allocated before the recording began"
        self.m.free_pages(rec[0], rec[1])
        return None


def _free_and_pcp(zones) -> int:
    """Free pages of ``zones`` (``m.zones``), the per-cpu lists included: the allocator's
    own pages may come from the CPU's pcp list, which NR_FREE_PAGES leaves out. (What
    ``nr_free_pages(m) + sum(z.nr_pcp_pages ...)`` gives, in one pass: it runs twice for
    every page allocation followed by an object's.)"""
    return sum([z.nr_free_pages + sum([p.count for p in z.per_cpu_pageset]) for z in zones])


def _pfn(text: str) -> int:
    """``pfn=0x%lx`` (v5.x on) or ``pfn=%lu`` (v4.x)."""
    return int(text, 16) if text.startswith("0x") else int(text)


def _node(text, nodes: int) -> int:
    try:
        n = int(text)
    except (TypeError, ValueError):
        return -1
    return n if 0 <= n < nodes else -1


_HANDLERS = {"kmalloc": Replayer._kmalloc, "kmalloc_node": Replayer._kmalloc,
             "kmem_cache_alloc": Replayer._kmem_cache_alloc,
             "kmem_cache_alloc_node": Replayer._kmem_cache_alloc,
             "kfree": Replayer._kfree, "kmem_cache_free": Replayer._kmem_cache_free,
             "mm_page_alloc": Replayer._page_alloc, "mm_page_free": Replayer._page_free,
             "mm_page_free_batched": Replayer._page_free}


class _Progress:
    """A progress line on a terminal's stderr, or an ipywidgets bar in a notebook (if
    ipywidgets is importable); shown only once a replay has run for half a second."""

    #: seconds before anything is shown, and between updates
    DELAY = 0.5
    EVERY = 0.25

    def __init__(self, total: int | None):
        self.total = total
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.widget = None
        self.kind = None
        self.shown = False

    def _start(self):
        try:
            from IPython import get_ipython
            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            try:
                import ipywidgets as W
                from IPython.display import display
            except ImportError:
                self.kind = "none"
                return
            self.widget = W.FloatProgress(min=0.0, max=1.0, description="replay")
            self.label = W.Label("")
            display(W.HBox([self.widget, self.label]))
            self.kind = "widget"
        elif getattr(sys.stderr, "isatty", lambda: False)():
            self.kind = "text"
        else:
            self.kind = "none"

    def update(self, nbytes: int, events: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.EVERY or now - self.t0 < self.DELAY:
            return
        self.last = now
        if self.kind is None:
            self._start()
        frac = nbytes / self.total if self.total else None
        rate = events / (now - self.t0)
        text = (f"{events:,} events" + (f", {frac:.0%}" if frac is not None else "")
                + f", {rate:,.0f} events/s")
        if self.kind == "widget":
            self.widget.value = frac if frac is not None else 0.0
            self.label.value = text
        elif self.kind == "text":
            sys.stderr.write(f"\rreplay: {text}   ")
            sys.stderr.flush()
        self.shown = self.kind in ("widget", "text")

    def done(self, nbytes: int, events: int) -> None:
        if self.kind == "text" and self.shown:
            sys.stderr.write("\n")
        elif self.kind == "widget":
            self.widget.value = 1.0
            self.label.value = f"{events:,} events"


def replay(trace, machine: Machine | None = None, speed: float | None = None,
           progress: bool = True) -> ReplayReport:
    """Replay a kmem trace on ``machine`` (default: a new Machine shaped like the
    recording's host: its RAM, CPUs and nodes) and return a :class:`ReplayReport`.

    ``trace``: a file path (``.gz`` too), the trace text, an open file or an iterable of
    lines. ``speed``: None replays as fast as possible; 1.0 at the recorded pace (a
    lecture), 0.1 ten times slower. ``progress``: a progress line/bar on long replays.

    >>> r = km.replay(km.sample_recording())
    >>> print(r)                 # replayed N of M kmem events, skipped: ...
    >>> r.machine.proc.slabinfo()
    """
    return Replayer(trace, machine, speed, progress).run()


def sample_recording() -> str:
    """The path of the small real recording kmemlab ships (``kmemlab record`` of a shell
    workload on a 2-CPU Linux 6.18 VM; see its README), for machines that cannot trace."""
    here = os.path.dirname(os.path.abspath(__file__))
    # a wheel ships it as package data (setup.py); a checkout has it in tests/data
    for cand in (os.path.join(here, "share", "recordings"),
                 os.path.join(os.path.dirname(here), "tests", "data", "recordings")):
        path = os.path.join(cand, "shell-loop-6.18.trace")
        if os.path.exists(path):
            return path
    raise FileNotFoundError("the sample recording is not installed (tests/data/recordings/shell-loop-6.18.trace)")


# -- the command line ---------------------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("trace", nargs="?", help="the trace file (kmemlab record, cat trace, trace-cmd report)")
    p.add_argument("--sample", action="store_true", help="replay the recording kmemlab ships")
    p.add_argument("--mem", default=None, help="RAM of the machine replayed on (default: the recording's)")
    p.add_argument("--cpus", type=int, default=None, help="CPUs of that machine (default: the recording's)")
    p.add_argument("--speed", type=float, default=None, help="1.0: the recorded pace (default: as fast as possible)")
    p.add_argument("--show", action="append", default=[], choices=["buddyinfo", "slabinfo", "meminfo", "dmesg"],
                   help="print this file of the machine afterwards (repeatable)")


def run_cli(args) -> int:
    path = sample_recording() if args.sample else args.trace
    if not path:
        print("kmemlab replay: give a trace file, or --sample", file=sys.stderr)
        return 2
    machine = None
    if args.mem or args.cpus:
        head = {}
        try:
            src, _, _, close = _open(path)
            head_lines = []
            for line, _ in _lines(src):
                if line is None or not line.startswith("#"):
                    break
                head_lines.append(line)
            if close:
                src.close()
            head = parse_header(head_lines)
        except FileNotFoundError:
            pass
        machine = Machine("x86_64", mem=args.mem or ((head.get("mem_total_kb", 4 << 20) + 1023) >> 10 << 20),
                          cpus=args.cpus or head.get("cpus", 4), kernel=nearest_generation(_release(head)),
                          slab_nomerge=True)
    try:
        r = replay(path, machine, speed=args.speed)
    except FileNotFoundError as e:
        print(f"kmemlab replay: {e}", file=sys.stderr)
        return 1
    print(r)
    for name in args.show:
        print(f"$ cat /proc/{name}" if name != "dmesg" else "$ dmesg")
        print(getattr(r.machine.proc, name)() if name != "dmesg" else r.machine.dmesg(), end="")
    return 0
