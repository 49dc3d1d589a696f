"""The kmem tracepoints (include/trace/events/kmem.h) as tracefs prints them.

``with m.trace(events="kmem") as t:`` records ``kmalloc``, ``kmem_cache_alloc``, ``kfree``,
``kmem_cache_free``, ``mm_page_alloc`` and ``mm_page_free`` at the places the kernel fires
them, and ``print(t)`` prints the text ``cat /sys/kernel/tracing/trace`` shows after
``echo 1 > events/kmem/enable`` — header included — so a student can put it next to
what their own kernel recorded (``kmemlab record``). ``t.events`` holds the records.

Per generation (rows in :mod:`kmemlab.kernel.generation`): the TP_printk formats (4.5
prints ``call_site=%lx`` and has separate ``kmalloc_node``/``kmem_cache_alloc_node`` events;
``node=`` and ``accounted=`` came later; 6.18's ``kmem_cache_alloc`` carries ``name=``),
the GFP names (4.5's gfpflags.h spells them without ``__``), pointer hashing (``%p`` prints
a per-boot hash from 4.15 on; kmemlab's hash is keyed by the machine's seed, so it is
stable per machine as it is per boot), the header's flag columns, and 6.11+'s second
``kmalloc`` event for a large kmalloc reached through ``__do_kmalloc_node()``.

Simplified: call sites are the nearest non-inlined traced function (or the notebook's
Python function) with simulated offsets; timestamps come from the simulated clock; the
task is the notebook's (``python3``, its pid); flags are always ``.....`` (process
context, preemptible, nothing pending); events the kernel fires elsewhere (RCU frees,
bulk frees' ``mm_page_free_batched``, other tracepoints) are not modelled.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import NamedTuple

from . import gfp as G

__all__ = ["KmemEvent", "KMEM_EVENTS", "hash_ptr", "format_event", "tracefs_text", "symbol"]

#: the events of ``events/kmem`` that kmemlab fires (``events="kmem"``)
KMEM_EVENTS = ("kmalloc", "kmem_cache_alloc", "kfree", "kmem_cache_free", "mm_page_alloc", "mm_page_free")


class KmemEvent(NamedTuple):
    """One tracepoint hit: ``event`` (``kmalloc``, ...), the TP_STRUCT fields by their
    kernel names, and where and when it fired."""
    event: str
    fields: dict
    cpu: int
    ts_ns: int
    comm: str
    pid: int


def hash_ptr(ptr: int, key: bytes) -> int:
    """``%p``: a 32-bit keyed hash of the pointer (lib/vsprintf.c ptr_to_id() with siphash;
    kmemlab keys blake2b with the machine's seed), NULL stays 0."""
    if not ptr:
        return 0
    return int.from_bytes(hashlib.blake2b(ptr.to_bytes(8, "little"), key=key, digest_size=4).digest(), "little")


def symbol(func: str) -> str:
    """``%pS`` of a kernel function: ``func+0xoff/0xsize`` (offsets simulated, stable per
    name, as in :meth:`KernelState.warn_on`)."""
    if "+" in func:                 # already a symbol (a Python caller)
        return func
    h = zlib.crc32(func.encode())
    size = 0x80 + (h & 0x3f0)
    return f"{func}+{(h >> 12) % size:#x}/{size:#x}"


def _address_of(site: str) -> int:
    """4.5's ``call_site=%lx``: a kernel-text address standing for the call site."""
    return 0xffffffff81000000 + (zlib.crc32(site.encode()) & 0xffffff0)


def format_event(e: KmemEvent, gen, key: bytes) -> str:
    """The text after ``event: `` (TP_printk of the generation)."""
    f = e.fields

    def ptr(name: str) -> str:
        v = f[name]
        return f"{hash_ptr(v, key):016x}" if gen.kmem_ptr_hashed else f"{v:016x}"

    if "call_site" in f:
        site = symbol(f["call_site"]) if gen.kmem_call_site_symbolic else f"{_address_of(f['call_site']):x}"
    else:
        pfn = f"{f['pfn']:#x}" if gen.kmem_pfn_hex else f"{f['pfn']}"
    if e.event in ("kmalloc", "kmem_cache_alloc", "kmalloc_node", "kmem_cache_alloc_node"):
        name = f" name={f['name']}" if e.event.startswith("kmem_cache") and gen.kmem_cache_alloc_name else ""
        out = (f"call_site={site} ptr={ptr('ptr')}{name} bytes_req={f['bytes_req']} "
               f"bytes_alloc={f['bytes_alloc']} gfp_flags={gfp_names(f['gfp_flags'], gen)}")
        if gen.kmem_unified_node or e.event.endswith("_node"):
            out += f" node={f['node']}"
        if gen.kmem_accounted:
            out += f" accounted={'true' if f['accounted'] else 'false'}"
        return out
    if e.event == "kfree":
        return f"call_site={site} ptr={ptr('ptr')}"
    if e.event == "kmem_cache_free":
        return f"call_site={site} ptr={ptr('ptr')}" + (f" name={f['name']}" if gen.kmem_free_name else "")
    if e.event == "mm_page_alloc":
        return (f"page={ptr('page')} pfn={pfn} order={f['order']} migratetype={f['migratetype']} "
                f"gfp_flags={gfp_names(f['gfp_flags'], gen)}")
    if e.event == "mm_page_free":
        return f"page={ptr('page')} pfn={pfn} order={f['order']}"
    raise ValueError(f"no format for event {e.event!r}")


#: 4.5 include/trace/events/gfpflags.h show_gfp_flags(): no "__" on the single bits, and
#: a mask of 0 prints "GFP_NOWAIT"
_GFP_NAMES_45 = [
    (G.GFP_TRANSHUGE, "GFP_TRANSHUGE"), (G.GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (G.GFP_HIGHUSER, "GFP_HIGHUSER"), (G.GFP_USER, "GFP_USER"), (G.GFP_KERNEL, "GFP_KERNEL"),
    (G.GFP_NOFS, "GFP_NOFS"), (G.GFP_ATOMIC, "GFP_ATOMIC"), (G.GFP_NOIO, "GFP_NOIO"),
    (G.F_HIGH, "GFP_HIGH"), (G.F_IO, "GFP_IO"), (G.F_NOWARN, "GFP_NOWARN"),
    (G.F_RETRY_MAYFAIL, "GFP_REPEAT"), (G.F_NOFAIL, "GFP_NOFAIL"), (G.F_NORETRY, "GFP_NORETRY"),
    (G.F_COMP, "GFP_COMP"), (G.F_ZERO, "GFP_ZERO"), (G.F_NOMEMALLOC, "GFP_NOMEMALLOC"),
    (G.F_MEMALLOC, "GFP_MEMALLOC"), (G.F_HARDWALL, "GFP_HARDWALL"), (G.F_THISNODE, "GFP_THISNODE"),
    (G.F_RECLAIMABLE, "GFP_RECLAIMABLE"), (G.F_MOVABLE, "GFP_MOVABLE"),
    (G.F_DIRECT_RECLAIM, "GFP_DIRECT_RECLAIM"), (G.F_KSWAPD_RECLAIM, "GFP_KSWAPD_RECLAIM")]


def gfp_names(flags: int, gen) -> str:
    """``gfp_flags=%s`` (show_gfp_flags()): the names of the generation's table."""
    if gen.mode_pGg:
        return G.flag_names(flags, gen)
    if not flags:
        return "GFP_NOWAIT"
    return G._flag_names(int(flags), [(int(m), n) for m, n in _GFP_NAMES_45])


def _header(gen, nr: int, cpus: int) -> str:
    if gen.tracefs_migrate_disable:
        return (f"# tracer: nop\n#\n# entries-in-buffer/entries-written: {nr}/{nr}   #P:{cpus}\n#\n"
                "#                                _-----=> irqs-off/BH-disabled\n"
                "#                               / _----=> need-resched\n"
                "#                              | / _---=> hardirq/softirq\n"
                "#                              || / _--=> preempt-depth\n"
                "#                              ||| / _-=> migrate-disable\n"
                "#                              |||| /     delay\n"
                "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
                "#              | |         |   |||||     |         |\n")
    return (f"# tracer: nop\n#\n# entries-in-buffer/entries-written: {nr}/{nr}   #P:{cpus}\n#\n"
            "#                              _-----=> irqs-off\n"
            "#                             / _----=> need-resched\n"
            "#                            | / _---=> hardirq/softirq\n"
            "#                            || / _--=> preempt-depth\n"
            "#                            ||| /     delay\n"
            "#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION\n"
            "#              | |       |   ||||       |         |\n")


def tracefs_text(events: list[KmemEvent], gen, key: bytes, cpus: int) -> str:
    """What ``cat /sys/kernel/tracing/trace`` prints for these events."""
    out = [_header(gen, len(events), cpus)]
    for e in events:
        sec, ns = divmod(e.ts_ns, 1_000_000_000)
        if gen.tracefs_migrate_disable:     # "%16s-%-7d [%03d] %c%c%c%c%c %5lu.%06lu: "
            head = f"{e.comm[-16:]:>16}-{e.pid:<7} [{e.cpu:03d}] ..... {sec:5d}.{ns // 1000:06d}: "
        else:                               # 4.x: "%16s-%-5d [%03d] %c%c%c%c %5lu.%06lu: "
            head = f"{e.comm[-16:]:>16}-{e.pid:<5} [{e.cpu:03d}] .... {sec:5d}.{ns // 1000:06d}: "
        out.append(f"{head}{e.event}: {format_event(e, gen, key)}\n")
    return "".join(out)
