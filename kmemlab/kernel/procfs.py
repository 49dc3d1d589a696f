"""``/proc`` files, byte for byte in the kernel's formats.

- ``buddyinfo`` and ``pagetypeinfo``: mm/vmstat.c ``frag_show_print()``,
  ``pagetypeinfo_show*()``;
- ``meminfo``: fs/proc/meminfo.c ``meminfo_proc_show()`` (v6.6 field list for an x86
  kernel with CONFIG_HIGHMEM on i386, CONFIG_TRANSPARENT_HUGEPAGE and
  CONFIG_MEMORY_FAILURE, without ZSWAP/CMA), then ``hugetlb_report_meminfo()`` and
  x86's ``arch_report_meminfo()``;
- ``zoneinfo``: mm/vmstat.c ``zoneinfo_show_print()``, every zone with its counters and
  per-CPU pagesets, as each generation prints it.

Fields for things kmemlab does not model (page cache, swap, file-backed user memory)
are printed as 0, so the layout is the real one.

Other subsystems add their files here (``slabinfo``, ``vmallocinfo``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from . import gfp as G
from .boot import THREAD_SIZE
from .buddy import NUMA_STAT_NAMES
from .invariants import _fail
from .layout import GiB, MiB, direct_map_chunks
from .mem_map import K_KMALLOC_LARGE, K_PGTABLE, K_USER
from .slub import SLAB_RECLAIM_ACCOUNT, get_slabinfo
from .sysctl import OVERCOMMIT_RATIO

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
        """``/proc/zoneinfo`` (mm/vmstat.c ``zoneinfo_show_print()``) for every zone of every
        node, as the generation prints it: the node's counters ahead of its first populated
        zone (4.8+), free pages and watermarks (boost 5.14+, promo 5.18+), spanned / present /
        managed, cma, the lowmem reserve ("protection", one entry per zone type), the zone's
        counters, every online CPU's ``per_cpu_pages`` (count, high, batch; 6.7+ high_min and
        high_max) with its vm stats threshold, then node_unreclaimable and start_pfn. Zones
        that are not populated (Movable, Device) stop after "protection" (4.12+; 4.5 left
        them out). Counters kmemlab does not model (LRU, page cache, swap) print 0."""
        k = self._k
        gen = k.gen
        out = []
        per_node = gen.zoneinfo_per_node
        ind = "      " if per_node else "    "
        for nid in range(k.nr_nodes):
            zones = [z for z in k.zones if z.node == nid]
            first = next((z for z in zones if z.populated()), None)
            for z in zones:
                if not z.populated() and not gen.zoneinfo_all_zones:
                    continue
                out.append(f"Node {nid}, zone {z.name:>8}")
                if per_node and z is first:
                    vals = self._node_counters(nid)
                    out.append("\n  per-node stats")
                    out += [f"\n      {n:<12} {vals.get(n, 0)}" for n in gen.zoneinfo_node_stats]
                wm = z.watermark
                out.append(f"\n  pages free     {z.nr_free_pages}"
                           + (f"\n        boost    0" if gen.zoneinfo_boost else "")
                           + f"\n        min      {wm[0]}\n        low      {wm[1]}\n        high     {wm[2]}"
                           + (f"\n        promo    {wm[3]}" if gen.zoneinfo_promo else "")
                           + ("\n        scanned  0" if not per_node else "")
                           + f"\n        spanned  {z.spanned_pages}\n        present  {z.present_pages}"
                           + f"\n        managed  {z.managed_pages}"
                           + ("\n        cma      0" if gen.zoneinfo_cma else ""))
                protection = f"\n        protection: ({', '.join(str(r) for r in z.lowmem_reserve)})"
                if gen.zoneinfo_all_zones:
                    out.append(protection)
                    if not z.populated():
                        out.append("\n")
                        continue
                vals = self._zone_counters(z)
                out += [f"\n{ind}{n:<12} {vals.get(n, 0)}" for n in gen.zoneinfo_zone_stats]
                if not gen.zoneinfo_all_zones:
                    out.append(protection)
                out.append("\n  pagesets")
                for cpu, pcp in enumerate(z.per_cpu_pageset):
                    if gen.zoneinfo_pcp_high_min_max:
                        out.append(f"\n    cpu: {cpu}\n              count:    {pcp.count}"
                                   f"\n              high:     {pcp.high}\n              batch:    {pcp.batch}"
                                   f"\n              high_min: {pcp.high_min}\n              high_max: {pcp.high_max}")
                    else:
                        out.append(f"\n    cpu: {cpu}\n              count: {pcp.count}"
                                   f"\n              high:  {pcp.high}\n              batch: {pcp.batch}")
                    out.append(f"\n  vm stats threshold: {pcp.stat_threshold}")
                if per_node:
                    out.append(f"\n  node_unreclaimable:  0\n  start_pfn:           {z.zone_start_pfn}\n")
                else:
                    # calculate_zone_inactive_ratio(): int_sqrt(10 * GiB of the zone), at least 1
                    gb = z.managed_pages >> (30 - k.profile.page_shift)
                    ratio = max(1, int((10 * gb) ** 0.5)) if gb else 1
                    out.append(f"\n  all_unreclaimable: 0\n  start_pfn:         {z.zone_start_pfn}"
                               f"\n  inactive_ratio:    {ratio}\n")
        return self._text("".join(out))

    def _slab_pages_by(self, key) -> dict:
        """Slab pages per ``key(pfn)`` (a node, a zone id): (reclaimable, unreclaimable)."""
        k = self._k
        slub = getattr(k, "slub", None)
        out: dict = {}
        if slub is None:
            return out
        for slab in slub.slabs.values():
            r, u = out.get(key(slab.pfn), (0, 0))
            n = 1 << slab.order
            out[key(slab.pfn)] = (r + n, u) if slab.cache.flags & SLAB_RECLAIM_ACCOUNT else (r, u + n)
        return out

    def _node_counters(self, nid: int) -> dict:
        """The node counters kmemlab keeps (pages; nr_kernel_stack in kB, as the kernel's)."""
        k = self._k
        vs = k.vmstat
        if k.nr_nodes == 1:
            r, u, pt, stack = (vs["nr_slab_reclaimable"], vs["nr_slab_unreclaimable"],
                               vs["nr_page_table_pages"], vs["nr_kernel_stack_kb"])
        else:        # per node from the pages themselves; kernel stacks are counted on node 0
            mm = k.mem_map
            r, u = self._slab_pages_by(lambda pfn: int(mm.node[pfn])).get(nid, (0, 0))
            pt = int(np.count_nonzero((mm.kind == K_PGTABLE) & (mm.node == nid)))
            stack = vs["nr_kernel_stack_kb"] if nid == 0 else 0
        return {"nr_slab_reclaimable": r, "nr_slab_unreclaimable": u, "nr_page_table_pages": pt,
                "nr_kernel_stack": stack}

    def _zone_counters(self, z) -> dict:
        """The zone counters kmemlab keeps: free pages (and, 6.16+, those in free blocks of a
        pageblock or more), the numa_* events, and on 4.5 (before the node counters) the
        slab, page-table and kernel-stack pages of the zone."""
        k = self._k
        pbo = k.buddy.pageblock_order
        blocks = sum(len(fl) << o for o in range(pbo, k.profile.max_order) for fl in z._lists[o])
        vals = {"nr_free_pages": z.nr_free_pages, "nr_free_pages_blocks": blocks,
                **dict(zip(NUMA_STAT_NAMES, z.vm_numa_event))}
        if not k.gen.zoneinfo_per_node:
            mm = k.mem_map
            r, u = self._slab_pages_by(lambda pfn: int(mm.zone[pfn])).get(z.id, (0, 0))
            lo, hi = z.zone_start_pfn, z.zone_end_pfn
            first = next(y for y in k.zones if y.node == z.node and y.populated())
            vals.update({"nr_slab_reclaimable": r, "nr_slab_unreclaimable": u,
                         "nr_page_table_pages": int(np.count_nonzero(mm.kind[lo:hi] == K_PGTABLE)),
                         # NR_KERNEL_STACK counts THREAD_SIZE (16 KiB) stacks
                         "nr_kernel_stack": k.vmstat["nr_kernel_stack_kb"] // 16 if z is first else 0,
                         "nr_alloc_batch": z.watermark[2] - z.watermark[1]})
        return vals

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
            si = get_slabinfo(s)
            out.append(f"{s.name:<17} {si.active_objs:6d} {si.num_objs:6d} {s.size:6d} {si.objects_per_slab:4d} "
                       f"{1 << si.cache_order:4d} : tunables {si.limit:4d} {si.batchcount:4d} {si.shared:4d} : slabdata "
                       f"{si.active_slabs:6d} {si.num_slabs:6d} {si.shared_avail:6d}\n")
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
    - Slab = the pages of every slab in /proc/slabinfo (num_slabs x pagesperslab), plus
      those of leaked destroyed caches (6.12+: off slab_caches) and, from 5.9 on, large
      kmalloc blocks (NR_SLAB_UNRECLAIMABLE_B, no slabinfo line);
    - VmallocUsed (5.3+) = the pages=N of the vmalloc areas in /proc/vmallocinfo;
    - KernelStack = one THREAD_SIZE per task of a booted machine;
    - Percpu = the per-CPU allocator's populated pages;
    - AnonPages = the user processes' pages.
    """
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
    # a cache kmem_cache_destroy() had to leak (live objects; 6.12+ unlinks it from
    # slab_caches) is in no slabinfo line, but its slabs still count in NR_SLAB_*
    slab_kb += sum(1 << sl.order for s in k.slub.detached_caches for sl in k.slub.slabs_of(s)) * kb
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
        stacks = len(k.boot.tasks) * (THREAD_SIZE[k.profile.bits] >> 10)
        if mi["KernelStack"] != stacks:
            _fail(f"meminfo KernelStack {mi['KernelStack']} kB but {len(k.boot.tasks)} tasks have {stacks} kB")
        if mi["AnonPages"] != k.mem_map.count(K_USER) * kb:
            _fail(f"meminfo AnonPages {mi['AnonPages']} kB is not the user pages")
    if k.gen.meminfo_percpu and k.percpu is not None and mi["Percpu"] != k.percpu.nr_pages() * kb:
        _fail(f"meminfo Percpu {mi['Percpu']} kB is not the per-CPU allocator's pages")
