"""``km.compare(host, twin)``: which numbers of a real kernel and its simulated twin agree,
and why the others do not — an honest report card.

Like comparing a building with its architect's model: the floor plan (zone spans, cache
geometry, the size of the vmalloc area) should match to the centimetre; the furniture
(free memory, the page cache, objects in use) cannot, because nobody lives in the model.
Each row gives the two values, a verdict — ``agrees``, ``close`` (within 1 %), ``differs``,
or ``not shown`` (a file the reader may not read) — and for every row that is not equal,
the reason: what the model does not simulate (user space, the page cache, reclaim,
transparent hugepages, devices, tasks), what the host's kernel configures differently,
or what its boot reserved.

Everything is read through the drgn-style helpers (:mod:`kmemlab.helpers`), so either
side may be a ``km.Machine``, a ``km.host()`` or a ``km.host(root=...)`` tree:
``km.compare(m1, m2)`` compares two simulated machines as well.

>>> h = km.host(); m = km.Machine.like_host(h)
>>> km.compare(h, m)            # a table in a notebook, text in a terminal
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass, field

from .kernel import helpers as H
from .kernel.helpers import NotAvailable

__all__ = ["compare", "Comparison", "Row", "REASONS"]

AGREES, CLOSE, DIFFERS, NOT_SHOWN = "agrees", "close", "differs", "not shown"
#: relative difference up to which two totals are "close"
CLOSE_FRACTION = 0.01

#: why a number of a real kernel and of the model differ (the rows cite these)
REASONS = {
    "userspace": "the model runs no user space: no process memory, no anonymous pages, no page tables of "
                 "processes, nothing committed",
    "page_cache": "the model has no page cache: files read and written on the host stay in its memory "
                  "(Buffers, Cached, Dirty) until reclaim",
    "free": "free memory is what user space, the page cache and kernel objects leave; the twin has run nothing",
    "slab_use": "the host's caches hold the objects its kernel uses (dentries, inodes, ...); the twin's are "
                "empty until a notebook (or a replay) allocates",
    "reserved": "the real kernel's boot reserves memory the model does not (its image and its config, initrd, "
                "ACPI and firmware tables, early page tables, per-CPU areas, crash kernels); the model reserves "
                "the first MiB, a fixed kernel image and mem_map",
    "wmarks": "watermarks follow min_free_kbytes and each zone's share of the managed pages "
              "(__setup_per_zone_wmarks()); low and high add watermark_scale_factor of the zone's pages",
    "protection": "lowmem_reserve[] is the higher zones' managed pages / sysctl_lowmem_reserve_ratio "
                  "(setup_per_zone_lowmem_reserve()); it differs where the managed pages do",
    "thp": "khugepaged raised min_free_kbytes for transparent hugepages to 11 pageblocks per populated zone "
           "(set_recommended_min_free_kbytes(), mm/khugepaged.c); a Machine does the same unless it boots "
           "with transparent_hugepage=\"never\", which keeps init_per_zone_wmark_min()'s int_sqrt(16 x lowmem kB)",
    "min_free_admin": "min_free_kbytes was set on the host (vm.min_free_kbytes, or by the kernel from a different "
                      "amount of low memory); the model computes init_per_zone_wmark_min()",
    "directmap": "the real direct map is split where firmware holes are and where set_memory_*() changed "
                 "permissions (kernel text, BPF JIT, ...); the model maps RAM in 1 GiB and 2 MiB pages and "
                 "splits only at its holes",
    "kernel_stack": "the model runs no tasks: no kernel stacks",
    "percpu": "per-CPU areas: the host's modules and subsystems allocate more than the model does",
    "vmalloc_use": "vmalloc users the model does not have (task stacks, BPF programs, modules, device "
                   "mappings, per-CPU chunks)",
    "commit": "CommitLimit = MemTotal x overcommit_ratio (50 %) + swap: it follows MemTotal",
    "zones_config": "the host's kernel is configured with zones the model does not have (ZONE_MOVABLE, "
                    "ZONE_DEVICE): empty unless memory is hot-plugged or a device maps its own",
    "in_use": "counts of what is in use depend on what ran; the twin has run nothing",
    "generation": "the twin follows another kernel generation than the host runs",
    "swap": "the model has no swap",
    "hugetlb": "the model has no hugetlbfs pages",
    "unknown": "the model lays this out differently; if the host is a release kmemlab follows, this is a bug "
               "worth reporting",
}

#: /proc/vmallocinfo callers (function names) -> what they are, for the areas only one side has
_VMALLOC_USERS = (
    (r"kernel_clone|copy_process|alloc_thread_stack_node|dup_task_struct|fork_idle", "task stacks (16 KiB + a guard page)"),
    (r"irq_init_percpu_irqstack", "the per-CPU IRQ stacks"),
    (r"^pcpu_", "per-CPU chunks"),
    (r"bpf", "BPF programs and their JIT pages"),
    (r"module|load_module|execmem", "loadable modules"),
    (r"acpi|pci|iomem|ioremap|memremap|vp_modern|msix|devm_", "device and firmware mappings (ioremap)"),
    (r"n_tty|tty", "terminals (n_tty buffers)"),
)


@dataclass
class Row:
    """One line of the report card."""
    section: str
    what: str
    host: object
    twin: object
    verdict: str
    why: str = ""
    unit: str = ""

    def _fmt(self, v) -> str:
        if v is None:
            return "-"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}" + (f" {self.unit}" if self.unit else "")
        if isinstance(v, (list, tuple)):
            return ", ".join(str(x) for x in v) or "-"
        return str(v)


@dataclass
class Comparison:
    """The report card of ``km.compare(a, b)``: ``rows`` (:class:`Row`), grouped in
    sections; ``agrees``/``differs``/... list the rows of each verdict."""
    names: tuple[str, str]
    rows: list[Row] = field(default_factory=list)

    def _by(self, verdict):
        return [r for r in self.rows if r.verdict == verdict]

    @property
    def agrees(self) -> list[Row]:
        return self._by(AGREES)

    @property
    def close(self) -> list[Row]:
        return self._by(CLOSE)

    @property
    def differs(self) -> list[Row]:
        return self._by(DIFFERS)

    @property
    def not_shown(self) -> list[Row]:
        return self._by(NOT_SHOWN)

    def row(self, section: str, what: str) -> Row:
        """The row called ``what`` in ``section`` (KeyError if there is none)."""
        for r in self.rows:
            if r.section == section and r.what == what:
                return r
        raise KeyError(f"no row {what!r} in section {section!r}")

    def sections(self) -> list[str]:
        out = []
        for r in self.rows:
            if r.section not in out:
                out.append(r.section)
        return out

    def summary(self) -> str:
        return (f"{len(self.agrees)} agree, {len(self.close)} close (within {CLOSE_FRACTION:.0%}), "
                f"{len(self.differs)} differ" + (f", {len(self.not_shown)} not shown" if self.not_shown else ""))

    def __str__(self):
        a, b = self.names
        lines = [f"{a} vs {b}: {self.summary()}"]
        width = max([len(r.what) for r in self.rows] + [10])
        vw = max([len(r._fmt(r.host)) for r in self.rows] + [len(a)])
        tw = max([len(r._fmt(r.twin)) for r in self.rows] + [len(b)])
        vw, tw, width = min(vw, 28), min(tw, 28), min(width, 34)
        mark = {AGREES: "=", CLOSE: "~", DIFFERS: "!", NOT_SHOWN: "?"}
        for sec in self.sections():
            lines.append("")
            lines.append(f"{sec}  ({a} | {b})")
            rows = [r for r in self.rows if r.section == sec]
            for i, r in enumerate(rows):
                lines.append(f"  {mark[r.verdict]} {_cut(r.what, width):<{width}}  {_cut(r._fmt(r.host), vw):>{vw}}  "
                             f"{_cut(r._fmt(r.twin), tw):>{tw}}  {r.verdict}")
                nxt = rows[i + 1] if i + 1 < len(rows) else None
                # a reason shared by consecutive rows is printed once, after the last of them
                if (r.why and r.verdict != AGREES
                        and not (nxt is not None and nxt.why == r.why and nxt.verdict != AGREES)):
                    lines.extend(textwrap.wrap(r.why, 96, initial_indent="      ", subsequent_indent="      "))
        lines.append("")
        lines.append("= agrees  ~ close  ! differs  ? not shown")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Comparison {self.names[0]} vs {self.names[1]}: {self.summary()}>"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        a, b = self.names
        color = {AGREES: "#1a7f37", CLOSE: "#7d6608", DIFFERS: "#b42318", NOT_SHOWN: "#555"}
        sign = {AGREES: "=", CLOSE: "&asymp;", DIFFERS: "&ne;", NOT_SHOWN: "?"}
        e = html.escape
        out = [f"<div class='kmemlab-compare' style='max-width:100%;overflow-x:auto'>"
               f"<b>{e(a)} vs {e(b)}</b>: {e(self.summary())}",
               "<table style='border-collapse:collapse;font-size:0.9em;width:100%'>",
               f"<tr style='text-align:left'><th style='text-align:left'>what</th><th style='text-align:right'>{e(a)}</th>"
               f"<th style='text-align:right'>{e(b)}</th><th></th><th style='text-align:left;width:40%'>why</th></tr>"]
        for sec in self.sections():
            # text-align: the notebook front ends right-align table cells (JupyterLab, Voilà)
            out.append(f"<tr><td colspan='5' style='padding-top:0.6em;border-bottom:1px solid #ccc;text-align:left'>"
                       f"<b>{e(sec)}</b></td></tr>")
            for r in self.rows:
                if r.section != sec:
                    continue
                c = color[r.verdict]
                why = e(r.why) if r.verdict != AGREES else ""
                out.append(f"<tr><td style='text-align:left'>{e(r.what)}</td><td style='text-align:right;font-family:monospace'>"
                           f"{e(r._fmt(r.host))}</td><td style='text-align:right;font-family:monospace'>"
                           f"{e(r._fmt(r.twin))}</td><td style='color:{c};font-weight:bold;white-space:nowrap'"
                           f" title='{r.verdict}'>{sign[r.verdict]} {r.verdict}</td>"
                           f"<td style='color:#444;text-align:left;min-width:14em;overflow-wrap:anywhere'>{why}</td></tr>")
        out.append("</table></div>")
        return "".join(out)


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n - 1] + "…"


def _verdict(a, b, tolerance: float = 0.0) -> str:
    if a is None or b is None:
        return NOT_SHOWN
    if a == b:
        return AGREES
    if tolerance and isinstance(a, int) and isinstance(b, int) and max(abs(a), abs(b)):
        if abs(a - b) <= tolerance * max(abs(a), abs(b)):
            return CLOSE
    return DIFFERS


def _try(fn, *args):
    try:
        return fn(*args)
    except (NotAvailable, ValueError, KeyError):
        return None


def _name(prog) -> str:
    u = _try(H.utsname, prog)
    if u is None:
        return type(prog).__name__
    from .kernel.machine import Machine
    if isinstance(prog, Machine):
        return ("twin" if getattr(prog, "twin", None) is not None else "machine") + f" ({u.release})"
    return f"host {u.nodename} ({u.release})"


def compare(host, twin) -> Comparison:
    """The report card of ``host`` against ``twin`` (any two programs the helpers read:
    a ``km.host()``, a ``km.Machine``). See the module docstring."""
    for p, what in ((host, "host"), (twin, "twin")):
        try:
            H.utsname(p)
        except TypeError:
            raise TypeError(f"compare() takes two programs (km.host(), km.Machine), got {type(p).__name__} "
                            f"for {what}") from None
    c = Comparison((_name(host), _name(twin)))
    ctx = _Context(host, twin)
    _machine(c, ctx)
    _zones(c, ctx)
    _memory(c, ctx)
    _slab(c, ctx)
    _vmalloc(c, ctx)
    return c


class _Context:
    """What several sections need, read once."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.zones_a = _try(lambda: list(H.for_each_zone(a))) or []
        self.zones_b = _try(lambda: list(H.for_each_zone(b))) or []
        self.mi_a = _try(H.meminfo, a) or {}
        self.mi_b = _try(H.meminfo, b) or {}
        self.mfk_a = _try(H.min_free_kbytes, a)
        self.mfk_b = _try(H.min_free_kbytes, b)
        self.page_a = _try(H.PAGE_SIZE, a) or 4096
        self.page_b = _try(H.PAGE_SIZE, b) or 4096

    @staticmethod
    def managed(zones) -> int:
        return sum(z.managed_pages for z in zones)

    def deferred(self, side: str) -> int:
        """Pages MemTotal counts that the zones do not manage yet (deferred struct-page
        initialisation handing memory to the zones late), on side "a" or "b"."""
        mi, zones, page = (self.mi_a, self.zones_a, self.page_a) if side == "a" else (self.mi_b, self.zones_b, self.page_b)
        if "MemTotal" not in mi or not zones:
            return 0
        return max(0, (mi["MemTotal"] * 1024 // page) - self.managed(zones))


def _gen_of(release: str) -> str:
    from .replay import nearest_generation
    return nearest_generation(release)


def _machine(c: Comparison, x: _Context) -> None:
    sec = "machine"
    a, b = x.a, x.b
    ua, ub = _try(H.utsname, a), _try(H.utsname, b)
    if ua and ub:
        ga, gb = _gen_of(ua.release), _gen_of(ub.release)
        c.rows.append(Row(sec, "kernel (generation kmemlab follows)", f"{ua.release} ({ga})", f"{ub.release} ({gb})",
                          AGREES if ga == gb else DIFFERS, REASONS["generation"]))
        c.rows.append(Row(sec, "architecture", ua.machine, ub.machine, _verdict(ua.machine, ub.machine),
                          "kmemlab models x86 only"))
    for what, fn in (("CPUs online", H.num_online_cpus), ("NUMA nodes", H.nr_node_ids),
                     ("page size", H.PAGE_SIZE), ("buddy orders (NR_PAGE_ORDERS)", H.NR_PAGE_ORDERS),
                     ("pageblock order", H.pageblock_order)):
        va, vb = _try(fn, a), _try(fn, b)
        why = "/proc/pagetypeinfo is readable by root only" if va is None or vb is None else \
            "the twin was booted with other values (like_host(...) overrides)"
        c.rows.append(Row(sec, what, va, vb, _verdict(va, vb), why, "bytes" if what == "page size" else ""))
    pa = sum(z.present_pages for z in x.zones_a) if x.zones_a else None
    pb = sum(z.present_pages for z in x.zones_b) if x.zones_b else None
    c.rows.append(Row(sec, "RAM (present pages)", pa, pb, _verdict(pa, pb, CLOSE_FRACTION),
                      "the zones' present pages are the RAM the firmware reports; the twin's RAM was set "
                      "differently (an override, or clamped to what the profile supports)", "pages"))


def _zkey(z):
    return (z.node, z.name)


def _zones(c: Comparison, x: _Context) -> None:
    za = {_zkey(z): z for z in x.zones_a}
    zb = {_zkey(z): z for z in x.zones_b}
    empty_only = []
    defer_a = x.deferred("a")
    for key in list(za) + [k for k in zb if k not in za]:
        z1, z2 = za.get(key), zb.get(key)
        populated = [z for z in (z1, z2) if z is not None and z.present_pages]
        if not populated:
            if (z1 is None) != (z2 is None):
                empty_only.append(f"{key[1]} (node {key[0]})")
            continue
        sec = f"zone {key[1]} (node {key[0]})"
        if z1 is None or z2 is None:
            c.rows.append(Row(sec, "zone", "present" if z1 else "none", "present" if z2 else "none", DIFFERS,
                              "the two have different RAM or NUMA layouts"))
            continue
        for what, attr in (("start_pfn", "zone_start_pfn"), ("spanned", "spanned_pages"), ("present", "present_pages")):
            v1, v2 = getattr(z1, attr), getattr(z2, attr)
            c.rows.append(Row(sec, what, v1, v2, _verdict(v1, v2),
                              "the firmware's memory map (holes, the PCI hole's size) or the NUMA split differ; "
                              "the model puts the PCI hole at 3-4 GiB and splits nodes evenly",
                              "" if what == "start_pfn" else "pages"))
        m1, m2 = z1.managed_pages, z2.managed_pages
        why = REASONS["reserved"]
        if defer_a and _verdict(m1, m2, CLOSE_FRACTION) == DIFFERS and m1 < m2:
            why = (f"the host's MemTotal counts {defer_a:,} pages more than its zones manage: memory still waiting "
                   "for deferred struct-page initialisation (CONFIG_DEFERRED_STRUCT_PAGE_INIT), which the host "
                   "hands to its zones as they need it; the model's zones get all their memory at boot. " + why)
        c.rows.append(Row(sec, "managed", m1, m2, _verdict(m1, m2, CLOSE_FRACTION), why, "pages"))
        wm_why = REASONS["wmarks"]
        if x.mfk_a != x.mfk_b:
            wm_why = f"min_free_kbytes differs ({x.mfk_a} vs {x.mfk_b} kB; see below); " + wm_why
        if m1 != m2:
            wm_why += "; the managed pages differ"
        for i, what in enumerate(("min", "low", "high")):
            v1, v2 = H.wmark_pages(z1, i), H.wmark_pages(z2, i)
            c.rows.append(Row(sec, f"watermark {what}", v1, v2, _verdict(v1, v2), wm_why, "pages"))
        lr1, lr2 = list(z1.lowmem_reserve), list(z2.lowmem_reserve)
        n = min(len(lr1), len(lr2))
        why = REASONS["protection"]
        if len(lr1) != len(lr2):
            why += f"; the host has {len(lr1)} zone types, the twin {len(lr2)} (" + REASONS["zones_config"] + ")"
        c.rows.append(Row(sec, "protection (lowmem_reserve)", lr1[:n], lr2[:n], _verdict(lr1[:n], lr2[:n]), why))
        f1, f2 = z1.nr_free_pages, z2.nr_free_pages
        c.rows.append(Row(sec, "free pages", f1, f2, _verdict(f1, f2, CLOSE_FRACTION), REASONS["free"], "pages"))
    if empty_only:
        c.rows.append(Row("zones", "empty zones on one side only", ", ".join(empty_only), "-", DIFFERS,
                          REASONS["zones_config"]))


#: meminfo fields shown, in /proc/meminfo's order, with the reason they may differ and
#: the tolerance of a "close" verdict
_MEMINFO = (
    ("MemTotal", "reserved", CLOSE_FRACTION), ("MemFree", "free", 0), ("MemAvailable", "free", 0),
    ("Buffers", "page_cache", 0), ("Cached", "page_cache", 0), ("SwapCached", "swap", 0),
    ("AnonPages", "userspace", 0), ("Mapped", "page_cache", 0), ("Shmem", "userspace", 0),
    ("Slab", "slab_use", 0), ("SReclaimable", "slab_use", 0), ("SUnreclaim", "slab_use", 0),
    ("KernelStack", "kernel_stack", 0), ("PageTables", "userspace", 0), ("Percpu", "percpu", 0),
    ("SwapTotal", "swap", 0), ("CommitLimit", "commit", CLOSE_FRACTION), ("Committed_AS", "userspace", 0),
    ("VmallocTotal", "unknown", 0), ("VmallocUsed", "vmalloc_use", 0), ("AnonHugePages", "thp", 0),
    ("HugePages_Total", "hugetlb", 0), ("Hugepagesize", "unknown", 0),
    ("DirectMap4k", "directmap", 0), ("DirectMap2M", "directmap", 0), ("DirectMap1G", "directmap", 0),
)


def _memory(c: Comparison, x: _Context) -> None:
    sec = "memory totals (/proc/meminfo)"
    ma, mb = x.mi_a, x.mi_b
    defer_a = x.deferred("a")
    for key, reason, tol in _MEMINFO:
        if key not in ma and key not in mb:
            continue
        va, vb = ma.get(key), mb.get(key)
        why = REASONS[reason]
        if key == "AnonHugePages":
            why = "transparent hugepages back user memory on the host; the model has neither"
        if key == "MemTotal" and defer_a:
            why = (f"totalram_pages() counts the {defer_a * x.page_a >> 10:,} kB the host's zones do not manage "
                   "yet (deferred struct-page initialisation) as the twin counts all its memory; what remains: "
                   + why)
        if va is None or vb is None:
            why = f"{'the first' if va is None else 'the second'} kernel's /proc/meminfo has no {key} line " \
                  "(another release or configuration)"
            c.rows.append(Row(sec, key, va, vb, DIFFERS, why, "kB" if not key.startswith("HugePages_") else ""))
            continue
        c.rows.append(Row(sec, key, va, vb, _verdict(va, vb, tol), why, "" if key.startswith("HugePages_") else "kB"))
    ka, kb = x.mfk_a, x.mfk_b
    why = REASONS["min_free_admin"]
    if ka is not None and ka == _thp_min_free_kbytes(x.a, x.zones_a, x.page_a):
        why = REASONS["thp"]
    c.rows.append(Row(sec, "min_free_kbytes", ka, kb, _verdict(ka, kb), why, "kB"))


def _thp_min_free_kbytes(prog, zones, page: int) -> int | None:
    """What set_recommended_min_free_kbytes() (mm/khugepaged.c) sets: pageblock_nr_pages x
    nr_zones x (2 + MIGRATE_PCPTYPES^2) pages, at most 5 % of lowmem, where nr_zones are the
    populated zones up to ZONE_NORMAL (gfp_zone(GFP_USER))."""
    pbo = _try(H.pageblock_order, prog)
    if pbo is None:
        pbo = 9 if page == 4096 else None          # x86: HUGETLB_PAGE_ORDER
    if pbo is None or not zones:
        return None
    nr = sum(1 for z in zones if z.present_pages and z.name in ("DMA", "DMA32", "Normal"))
    pages = (1 << pbo) * nr * (2 + 3 * 3)
    lowmem = sum(z.managed_pages - H.high_wmark_pages(z) for z in zones if z.name in ("DMA", "DMA32", "Normal"))
    pages = min(pages, max(lowmem, 0) // 20)
    return pages * page >> 10


def _geometry(s):
    return (s.size, s.objects, s.order)


def _slab(c: Comparison, x: _Context) -> None:
    sec = "slab caches"
    ca = _try(lambda: list(H.for_each_slab_cache(x.a)))
    cb = _try(lambda: list(H.for_each_slab_cache(x.b)))
    if ca is None or cb is None:
        c.rows.append(Row(sec, "caches", None if ca is None else len(ca), None if cb is None else len(cb), NOT_SHOWN,
                          "the slab caches could not be listed (no /sys/kernel/slab, or not SLUB)"))
        return
    by_a = {s.name: s for s in ca}
    by_b = {s.name: s for s in cb}
    for s in ca:                           # a cache merged into another on one side: its alias names
        for al in getattr(s, "alias_names", ()):
            by_a.setdefault(al, s)
    c.rows.append(Row(sec, "caches", len(ca), len(cb), _verdict(len(ca), len(cb)),
                      "the host's kernel creates caches for what it runs (file systems, network protocols, "
                      "drivers, modules) and merges compatible caches; the twin has its boot's caches and the "
                      "ones like_host() created"))
    both = [n for n in by_b if n in by_a]
    same, diff = [], []
    for n in both:
        try:
            (same if _geometry(by_a[n]) == _geometry(by_b[n]) else diff).append(n)
        except (NotAvailable, ValueError):
            continue
    c.rows.append(Row(sec, "geometry (stride, objects/slab, order) of the caches on both",
                      f"{len(same) + len(diff)} caches", f"{len(same)} agree", AGREES if not diff else DIFFERS,
                      f"{len(diff)} differ: see their rows"))
    for n in diff:
        s1, s2 = by_a[n], by_b[n]
        why = REASONS["unknown"]
        try:
            if s1.object_size != s2.object_size:
                why = (f"object_size {s1.object_size} vs {s2.object_size}: "
                       + ("other caches were merged into the host's (it grows to the largest user)"
                          if H.slab_cache_is_merged(s1) else "the cache was created with another size"))
            elif s1.align != s2.align or s1.flags != s2.flags:
                why = (f"align {s1.align} vs {s2.align}, flags {s1.flags:#x} vs {s2.flags:#x}: created with other "
                       "arguments (or debugging flags, slub_debug=)")
        except (NotAvailable, ValueError):
            pass
        c.rows.append(Row(sec, f"kmem_cache {n}", "/".join(map(str, _geometry(s1))), "/".join(map(str, _geometry(s2))),
                          DIFFERS, why))
    only_a = sorted(n for n, s in by_a.items() if n not in by_b and s.name == n)
    only_b = sorted(n for n in by_b if n not in by_a)
    if only_a:
        c.rows.append(Row(sec, "caches only the first has", _few(only_a), "-", DIFFERS,
                          "created by kernel code the twin never ran (like_host() creates them: here it was not "
                          "used, or the host listed them later)"))
    if only_b:
        c.rows.append(Row(sec, "caches only the second has", "-", _few(only_b), DIFFERS,
                          "the host's kernel is configured without them, or merged them into other caches "
                          "(slab_merge; /sys/kernel/slab shows them as links)"))
    ua = _usage_total(ca)
    ub = _usage_total(cb)
    c.rows.append(Row(sec, "objects in use (all caches)", ua, ub, _verdict(ua, ub), REASONS["slab_use"]))


def _few(names, n: int = 6) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _usage_total(caches):
    total = 0
    for s in caches:
        try:
            total += H.slab_cache_usage(s).active_objs
        except NotAvailable:
            return None
    return total


def _caller_fn(caller) -> str:
    if not caller:
        return "?"
    return re.split(r"[+ ]", str(caller), 1)[0]


def _vmalloc(c: Comparison, x: _Context) -> None:
    sec = "vmalloc"
    va = _try(lambda: list(H.for_each_vmap_area(x.a)))
    vb = _try(lambda: list(H.for_each_vmap_area(x.b)))
    if va is None or vb is None:
        c.rows.append(Row(sec, "vmap areas", None if va is None else len(va), None if vb is None else len(vb),
                          NOT_SHOWN, "/proc/vmallocinfo is readable by root only"))
        return
    c.rows.append(Row(sec, "vmap areas in use", len(va), len(vb), _verdict(len(va), len(vb)), REASONS["vmalloc_use"]))
    ga, gb = _by_caller(va), _by_caller(vb)
    for fn in sorted(set(ga) & set(gb)):
        sa, sb = sorted(set(ga[fn])), sorted(set(gb[fn]))
        c.rows.append(Row(sec, f"area sizes of {fn}()", _sizes(sa), _sizes(sb), _verdict(sa, sb),
                          "the same caller asked for other sizes (a different config or workload)"))
    only = sorted(set(ga) - set(gb), key=lambda f: -len(ga[f]))
    for fn in only[:8]:
        sizes = ga[fn]
        what = next((w for rx, w in _VMALLOC_USERS if re.search(rx, fn)), "a vmalloc user the model does not have")
        c.rows.append(Row(sec, f"areas of {fn}()", f"{len(sizes)} x {_sizes(sorted(set(sizes)))}", "none", DIFFERS,
                          what + " (the model does not simulate them)"))
    if len(only) > 8:
        rest = sum(len(ga[f]) for f in only[8:])
        c.rows.append(Row(sec, f"areas of {len(only) - 8} more callers", rest, 0, DIFFERS, REASONS["vmalloc_use"]))
    la = _try(lambda: list(H.for_each_purge_vmap_area(x.a)))
    lb = _try(lambda: list(H.for_each_purge_vmap_area(x.b)))
    if la is not None and lb is not None:
        c.rows.append(Row(sec, "lazily freed areas (unpurged)", len(la), len(lb), _verdict(len(la), len(lb)),
                          "vfree()d areas wait to be purged in batches (lazy_max_pages()); how many depends on "
                          "what was freed since the last purge"))


def _by_caller(areas) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for va in areas:
        if va.vm is None:
            continue
        out.setdefault(_caller_fn(va.vm.caller), []).append(va.va_end - va.va_start)
    return out


def _sizes(sizes) -> str:
    def one(n):
        return f"{n >> 10}K" if n % 1024 == 0 else str(n)
    return ", ".join(one(s) for s in sizes[:4]) + (" ..." if len(sizes) > 4 else "")

