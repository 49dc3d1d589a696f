"""``/proc`` files, byte for byte in the kernel's formats.

- ``buddyinfo`` and ``pagetypeinfo``: mm/vmstat.c ``frag_show_print()``,
  ``pagetypeinfo_show*()``;
- ``meminfo``: fs/proc/meminfo.c ``meminfo_proc_show()`` (v6.6 field list for an x86
  kernel with CONFIG_HIGHMEM on i386, CONFIG_TRANSPARENT_HUGEPAGE and
  CONFIG_MEMORY_FAILURE, without ZSWAP/CMA), then ``hugetlb_report_meminfo()`` and
  x86's ``arch_report_meminfo()``;
- ``zoneinfo``: the watermark part of ``zoneinfo_show_print()``.

Fields for things kmemlab does not model (page cache, swap, file-backed user memory)
are printed as 0, so the layout is the real one.

Other subsystems add their files here (``slabinfo``, ``vmallocinfo``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from . import gfp as G
from .layout import GiB, MiB, direct_map_chunks
from .mem_map import K_USER

if TYPE_CHECKING:
    from .machine import Text

__all__ = ["ProcFS", "PROC_FILES", "register_procfs", "check_proc_files"]

#: the /proc files the model shows: each is the ProcFS method of that name
PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo", "slabinfo", "vmallocinfo")


class _State:
    """A ProcFS reads ``machine._k``; this stands for a machine when only the state is at hand."""

    __slots__ = ("_k",)

    def __init__(self, k):
        self._k = k


def register_procfs(vfs) -> None:
    """``proc_create_single()`` of each of :data:`PROC_FILES`."""
    for name in PROC_FILES:
        vfs.register(f"/proc/{name}", lambda k, _n=name: str(getattr(ProcFS(_State(k)), _n)()))


class ProcFS:
    """``m.proc``: each method returns a file's text as ``cat /proc/<name>`` shows it."""

    def __init__(self, machine):
        self._m = machine

    @property
    def _k(self):
        return self._m._k           # follow restore(), which replaces the state

    def _text(self, s: str):
        from .machine import Text
        return Text(s)

    def buddyinfo(self) -> Text:
        """``/proc/buddyinfo``: free blocks per order for every populated zone."""
        out = []
        for z in self._k.zones:
            if not z.populated():
                continue
            out.append(f"Node {z.node}, zone {z.name:>8} "
                       + "".join(f"{fa.nr_free:6d} " for fa in z.free_area) + "\n")
        return self._text("".join(out))

    def pagetypeinfo(self) -> Text:
        """``/proc/pagetypeinfo``: free blocks per order and migratetype, and pageblocks
        per migratetype."""
        k = self._k
        buddy = k.buddy
        pbo = buddy.pageblock_order
        norders = k.profile.max_order
        out = []
        for nid in range(k.nr_nodes):
            zones = [z for z in k.zones if z.node == nid and z.populated()]
            if not zones:
                continue
            out.append(f"Page block order: {pbo}\nPages per block:  {1 << pbo}\n\n")
            out.append(f"{'Free pages count per migrate type at order':<43} "
                       + "".join(f"{o:6d} " for o in range(norders)) + "\n")
            for z in zones:
                for mt in range(G.MIGRATE_TYPES):
                    cells = []
                    for o in range(norders):
                        n = len(z._lists[o][mt])
                        cells.append(f">{100000:6d} " if n >= 100000 else f"{n:6d} ")
                    out.append(f"Node {nid:4d}, zone {z.name:>8}, type {G.MIGRATETYPE_NAMES[mt]:>12} "
                               + "".join(cells) + "\n")
            out.append(f"\n{'Number of blocks type ':<23}"
                       + "".join(f"{name:>12} " for name in G.MIGRATETYPE_NAMES) + "\n")
            for z in zones:
                counts = [0] * G.MIGRATE_TYPES
                for pfn in range(z.zone_start_pfn, z.zone_end_pfn, 1 << pbo):
                    if k.mem_map.zone[pfn] == z.id:
                        counts[int(buddy.pageblock_mt[pfn >> pbo])] += 1
                out.append(f"Node {nid}, zone {z.name:>8} " + "".join(f"{c:12d} " for c in counts) + "\n")
        return self._text("".join(out))

    def zoneinfo(self) -> Text:
        """The head of each zone's ``/proc/zoneinfo`` block: free pages, watermarks,
        spanned/present/managed and the lowmem reserve ("protection"); ``boost`` (5.0+),
        ``promo`` (5.18+) and ``cma`` (5.18+) as the generation prints them."""
        gen = self._k.gen
        out = []
        for z in self._k.zones:
            out.append(f"Node {z.node}, zone {z.name:>8}\n")
            out.append(f"  pages free     {z.nr_free_pages}\n"
                       + ("        boost    0\n" if gen.zoneinfo_boost else "")
                       + f"        min      {z.watermark[0]}\n"
                       f"        low      {z.watermark[1]}\n"
                       f"        high     {z.watermark[2]}\n"
                       + (f"        promo    {z.watermark[3]}\n" if gen.zoneinfo_promo else "")
                       + f"        spanned  {z.spanned_pages}\n"
                       f"        present  {z.present_pages}\n"
                       f"        managed  {z.managed_pages}\n"
                       + ("        cma      0\n" if gen.zoneinfo_cma else "")
                       + f"        protection: ({', '.join(str(r) for r in z.lowmem_reserve)})\n")
            out.append(f"  start_pfn:           {z.zone_start_pfn}\n")
        return self._text("".join(out))

    def slabinfo(self) -> Text:
        """``/proc/slabinfo`` (mm/slab_common.c ``slab_show()`` + SLUB's ``get_slabinfo()``):
        newest cache first; objects on CPU slabs count as active, only the free objects of
        node partial slabs as inactive."""
        slub = self._k.slub
        out = ["slabinfo - version: 2.1\n",
               "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
               " : tunables <limit> <batchcount> <sharedfactor>"
               " : slabdata <active_slabs> <num_slabs> <sharedavail>\n"]
        for s in reversed(slub.slab_caches):
            nr_slabs = nr_objs = nr_free = 0
            for n in s.node:
                nr_slabs += n.nr_slabs
                nr_objs += n.total_objects
                nr_free += sum(sl.objects - sl.inuse for sl in n.partial.values())
            out.append(f"{s.name:<17} {nr_objs - nr_free:6d} {nr_objs:6d} {s.size:6d} {s.objects:4d} "
                       f"{1 << s.order:4d} : tunables {0:4d} {0:4d} {0:4d} : slabdata "
                       f"{nr_slabs:6d} {nr_slabs:6d} {0:6d}\n")
        return self._text("".join(out))

    def meminfo(self) -> Text:
        """``/proc/meminfo``."""
        k = self._k
        prof = k.profile
        kb = prof.page_size >> 10
        vs = k.vmstat
        totalram = sum(z.managed_pages for z in k.zones)
        free = sum(z.nr_free_pages for z in k.zones)
        sreclaim = vs["nr_slab_reclaimable"]
        sunreclaim = vs["nr_slab_unreclaimable"]
        # si_mem_available()
        wmark_low = sum(z.watermark[1] for z in k.zones)
        available = free - k.buddy.totalreserve_pages()
        available += sreclaim - min(sreclaim // 2, wmark_low)
        available = max(available, 0)
        ht = hf = 0
        highmem = prof.has_zone("HighMem")
        if highmem:
            high = [z for z in k.zones if z.name == "HighMem"]
            ht = sum(z.managed_pages for z in high)
            hf = sum(z.nr_free_pages for z in high)
        huge_kb = (2 * MiB if prof.bits == 64 else 4 * MiB) >> 10
        # fields in pages (the rest print 0: kmemlab has no page cache, swap or file pages)
        from .sysctl import OVERCOMMIT_RATIO
        anon = k.boot.user_pages() if k.boot is not None else 0
        pages = {"MemTotal": totalram, "MemFree": free, "MemAvailable": available,
                 "HighTotal": ht, "HighFree": hf, "LowTotal": totalram - ht, "LowFree": free - hf,
                 # new anon pages start on the inactive list (lru_cache_add_inactive_or_unevictable)
                 "Inactive": anon, "Inactive(anon)": anon, "AnonPages": anon,
                 "KReclaimable": sreclaim, "Slab": sreclaim + sunreclaim, "SReclaimable": sreclaim,
                 "SUnreclaim": sunreclaim, "PageTables": vs["nr_page_table_pages"],
                 "CommitLimit": totalram * OVERCOMMIT_RATIO // 100,
                 "VmallocUsed": vs["nr_vmalloc"] if k.gen.meminfo_vmalloc_used else 0,   # 0 in 4.4-5.2
                 "Percpu": k.percpu.nr_pages() if k.percpu is not None else 0}
        kb_fields = {"KernelStack": vs["nr_kernel_stack_kb"], "Hugepagesize": huge_kb,
                     "VmallocTotal": ((prof.vmalloc_end - 1) - k.vmalloc_start) >> 10}
        lines = []
        for name in k.gen.meminfo_fields(highmem):
            if name.startswith("HugePages_"):
                lines.append(f"{name + ':':<19}{0:5d}\n")        # "HugePages_Total:   %5lu": a count
            elif name == "HardwareCorrupted":
                lines.append(f"HardwareCorrupted: {0:5d} kB\n")
            else:
                kbv = kb_fields[name] if name in kb_fields else pages.get(name, 0) * kb
                lines.append(f"{name + ':':<16}{kbv:8d} kB\n")
        lines += self._directmap_lines()
        return self._text("".join(lines))

    def _directmap_lines(self) -> list[str]:
        """arch/x86/mm/pat/set_memory.c arch_report_meminfo()."""
        k = self._k
        prof = k.profile
        lowmem = [(s, min(e, k.max_low_pfn << prof.page_shift)) for s, e in k.ram_ranges
                  if s < k.max_low_pfn << prof.page_shift]
        if prof.bits == 32:
            chunks = direct_map_chunks(lowmem, gbpages=False, large=4 * MiB)
            sizes = [("4k", 4096), ("4M", 4 * MiB)]
        else:
            chunks = direct_map_chunks(lowmem)
            sizes = [("4k", 4096), ("2M", 2 * MiB), ("1G", GiB)]
        totals = {ps: 0 for _, ps in sizes}
        for s, e, ps in chunks:
            totals[ps] += e - s
        return [f"{'DirectMap' + name + ':':<16}{totals[ps] >> 10:8d} kB\n" for name, ps in sizes]

    def vmallocinfo(self) -> Text:
        """``/proc/vmallocinfo`` (as root: full addresses), areas in address order."""
        return self._text(self._k.vmalloc.vmallocinfo())


def check_proc_files(k) -> None:
    """The /proc files agree with each other, read as a user reads them (the text, parsed):

    - MemFree = the free blocks of /proc/buddyinfo (pages on per-CPU lists are in neither);
    - MemTotal = the zones' managed pages;
    - Slab = the pages of every slab in /proc/slabinfo (num_slabs x pagesperslab), plus, from
      5.9 on, large kmalloc blocks (NR_SLAB_UNRECLAIMABLE_B, no slabinfo line);
    - VmallocUsed (5.3+) = the pages=N of the vmalloc areas in /proc/vmallocinfo;
    - KernelStack = one THREAD_SIZE per task of a booted machine;
    - Percpu = the per-CPU allocator's populated pages;
    - AnonPages = the user processes' pages.
    """
    from .invariants import _fail
    from .mem_map import K_KMALLOC_LARGE
    proc = ProcFS(_State(k))
    kb = k.profile.page_size >> 10
    mi = {m.group(1): int(m.group(2)) for m in re.finditer(r"^([\w()]+): +(\d+)", proc.meminfo(), re.M)}
    buddy_kb = 0
    for line in proc.buddyinfo().splitlines():
        counts = [int(x) for x in line.split()[4:]]
        buddy_kb += sum(c << o for o, c in enumerate(counts)) * kb
    if mi["MemFree"] != buddy_kb:
        _fail(f"meminfo MemFree {mi['MemFree']} kB but buddyinfo holds {buddy_kb} kB")
    if mi["MemTotal"] != sum(z.managed_pages for z in k.zones) * kb:
        _fail(f"meminfo MemTotal {mi['MemTotal']} kB is not the zones' managed pages")
    slab_kb = 0
    for line in proc.slabinfo().splitlines()[2:]:
        f = line.split()
        slab_kb += int(f[14]) * int(f[5]) * kb
    if k.gen.kmalloc_large_accounted:
        mm = k.mem_map
        heads = np.flatnonzero((mm.kind == K_KMALLOC_LARGE) & (mm.order >= 0))
        slab_kb += int(sum(1 << int(o) for o in mm.order[heads])) * kb
    if mi["Slab"] != slab_kb or mi["Slab"] != mi["SReclaimable"] + mi["SUnreclaim"]:
        _fail(f"meminfo Slab {mi['Slab']} kB but slabinfo's slabs hold {slab_kb} kB")
    if k.gen.meminfo_vmalloc_used:
        vm_kb = sum(int(m.group(1)) for m in re.finditer(r" pages=(\d+) vmalloc", proc.vmallocinfo())) * kb
        if mi["VmallocUsed"] != vm_kb:
            _fail(f"meminfo VmallocUsed {mi['VmallocUsed']} kB but vmallocinfo's vmalloc areas hold {vm_kb} kB")
    if k.boot is not None:
        from .boot import THREAD_SIZE
        stacks = len(k.boot.tasks) * (THREAD_SIZE[k.profile.bits] >> 10)
        if mi["KernelStack"] != stacks:
            _fail(f"meminfo KernelStack {mi['KernelStack']} kB but {len(k.boot.tasks)} tasks have {stacks} kB")
        if mi["AnonPages"] != k.mem_map.count(K_USER) * kb:
            _fail(f"meminfo AnonPages {mi['AnonPages']} kB is not the user pages")
    if k.gen.meminfo_percpu and k.percpu is not None and mi["Percpu"] != k.percpu.nr_pages() * kb:
        _fail(f"meminfo Percpu {mi['Percpu']} kB is not the per-CPU allocator's pages")
