"""The page allocator: zones, ``free_area[order]``, the per-CPU page lists, ``__alloc_pages()``
and ``__free_pages()``.

Models mm/page_alloc.c, one Python function per kernel function (a kernel name that starts
with ``__`` is spelled with one ``_`` here, because Python mangles ``__names`` inside a
class: ``__rmqueue_smallest()`` is :meth:`BuddyAllocator._rmqueue_smallest`). The orders
run 0..10 on x86 in every generation (4 KiB .. 4 MiB).

Allocation, outermost first (each generation's names come from :mod:`.generation`)::

    __alloc_pages()                        the entry (alloc_pages() wraps it)
      get_page_from_freelist()             first zone of the zonelist above its watermark
        rmqueue()
          rmqueue_pcplist()                order 0 (5.14+: orders 0-3 and the THP order)
            __rmqueue_pcplist()            the CPU's list; empty: rmqueue_bulk() refills it
          rmqueue_buddy()                  other orders (6.1+)
            __rmqueue()
              __rmqueue_smallest()         the smallest order with a block, expand() splits
              __rmqueue_fallback()         steal from another migratetype
      __alloc_pages_slowpath()             the min watermark, reserves for __GFP_HIGH/atomic

Freeing: ``__free_pages()`` gives a pcp order to the CPU's list (``free_unref_page()``;
4.5 ``free_hot_cold_page()``; 6.14+ ``free_frozen_pages()``), which goes back to the buddy
lists past ``high`` (``free_pcppages_bulk()``); other orders go to ``__free_pages_ok()``.
Both end in ``__free_one_page()``: merge with the buddy at ``pfn ^ (1 << order)`` while it
is a free block of the same order, then add the block at the list head, or at the tail
when ``buddy_merge_likely()`` (the next-larger buddy is free).

- ``zone->free_area[order].free_list[migratetype]`` with ``nr_free``; a free block is known
  by its first frame (``PageBuddy`` + ``buddy_order`` in the kernel).
- ``zone->per_cpu_pageset``: one :class:`~kmemlab.kernel.pcp.PerCpuPages` per CPU, sized as
  the generation sizes it (:mod:`.pcp`). Pages on them are not free in ``NR_FREE_PAGES``
  (``/proc/meminfo`` MemFree, zoneinfo "pages free") nor in ``/proc/buddyinfo``, as in the
  kernel; ``drain_all_pages()`` gives them back.
- Watermarks: ``calculate_min_free_kbytes()``, raised by ``set_recommended_min_free_kbytes()``
  when transparent huge pages are configured (x86_64: khugepaged does it at boot),
  ``__setup_per_zone_wmarks()`` and ``setup_per_zone_lowmem_reserve()``.

A trace (``m.trace()``) records the same functions, traced or not: each function enters
and leaves its frame behind one ``tracer is not None`` test.

Simplifications: no reclaim, compaction or OOM killer (kmemlab has no page cache to
reclaim), so an allocation that fails the min watermark fails; no CMA, no HIGHATOMIC
reserves; ``move_freepages_block`` counts no movable pages when it decides to claim a
pageblock (kmemlab has no page migration); pcp sizing as :mod:`.pcp` says; the page checks
of ``free_pages_prepare()`` are always on (a distribution kernel only runs them with
CONFIG_DEBUG_VM or ``init_on_free``), so a bad free is reported before anything changes.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np

from . import gfp as G
from .errors import KernelBug
from .mem_map import K_FREE, K_PCP, PG_head, PG_reserved, PG_slab, PG_tail
from .pcp import (MIGRATE_PCPTYPES, MIN_PERCPU_PAGELIST_HIGH_FRACTION, PAGE_ALLOC_COSTLY_ORDER,
                  PCP_BATCH_SCALE_MAX, PCPF_PREV_FREE_HIGH_ORDER, PerCpuPages, calculate_normal_threshold,
                  zone_batchsize, zone_highsize)

__all__ = ["Zone", "FreeArea", "BuddyAllocator", "WMARK_MIN", "WMARK_LOW", "WMARK_HIGH",
           "NUMA_STAT_NAMES"]

WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO = 0, 1, 2, 3
F_ZERO = G.F_ZERO
#: mm/page_alloc.c fallbacks[]: where each migratetype steals from, in order
FALLBACKS = {
    G.MIGRATE_UNMOVABLE: (G.MIGRATE_RECLAIMABLE, G.MIGRATE_MOVABLE),
    G.MIGRATE_MOVABLE: (G.MIGRATE_RECLAIMABLE, G.MIGRATE_UNMOVABLE),
    G.MIGRATE_RECLAIMABLE: (G.MIGRATE_UNMOVABLE, G.MIGRATE_MOVABLE),
}
#: mm/page_alloc.c sysctl_lowmem_reserve_ratio[] by zone name (Device has no entry: 0)
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, "HighMem": 0, "Movable": 0, "Device": 0}
SWAP_CLUSTER_MAX = 32
#: the fields of a struct per_cpu_pages besides its lists (Buddy.pcp_checkpoint())
_PCP_SCALARS = tuple(f for f in PerCpuPages.__slots__ if f != "lists")
#: enum numa_stat_item: zoneinfo's numa_* lines, the order of Zone.vm_numa_event
NUMA_STAT_NAMES = ("numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other")
NUMA_HIT, NUMA_MISS, NUMA_FOREIGN, NUMA_INTERLEAVE, NUMA_LOCAL, NUMA_OTHER = range(6)

# alloc_flags (mm/internal.h), the ones kmemlab models
ALLOC_WMARK_MIN, ALLOC_WMARK_LOW, ALLOC_WMARK_HIGH = WMARK_MIN, WMARK_LOW, WMARK_HIGH
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1
ALLOC_MIN_RESERVE = 0x08    # __GFP_HIGH
ALLOC_NON_BLOCK = 0x10      # cannot sleep: GFP_ATOMIC, GFP_NOWAIT
#: the chain a trace shows for a block the pcp lists take, by the chain of one they do not
_PCP_CHAIN = {"free_pages_chain": "free_pages_pcp_chain", "free_slab_pages_chain": "free_slab_pages_pcp_chain"}
_ALLOC_FLAG_NAMES = {ALLOC_WMARK_MIN: "ALLOC_WMARK_MIN", ALLOC_WMARK_LOW: "ALLOC_WMARK_LOW",
                     ALLOC_WMARK_HIGH: "ALLOC_WMARK_HIGH"}


class FreeArea:
    """``struct free_area``: the free blocks of one order in one zone."""

    def __init__(self, zone: "Zone", order: int):
        self._zone = zone
        self.order = order

    @property
    def nr_free(self) -> int:
        """Number of free blocks of this order (``free_area->nr_free``)."""
        return sum(len(fl) for fl in self._zone._lists[self.order])

    def free_list(self, migratetype: int = G.MIGRATE_MOVABLE) -> list[int]:
        """pfns of the free blocks on ``free_list[migratetype]``, list head first."""
        return list(reversed(self._zone._lists[self.order][migratetype]))

    def __repr__(self):
        return f"<free_area[{self.order}] nr_free={self.nr_free}>"


class Zone:
    """``struct zone``: a range of frames of one node with its own free lists."""

    def __init__(self, node: int, zone_idx: int, name: str, start_pfn: int, end_pfn: int,
                 max_order: int, zone_id: int):
        self.node = node
        self.zone_idx = zone_idx          # enum zone_type
        self.id = zone_id                 # index in the machine's zone list (mem_map.zone)
        self.name = name
        self.zone_start_pfn = start_pfn
        self.spanned_pages = max(0, end_pfn - start_pfn)
        self.present_pages = 0
        self.managed_pages = 0
        self.nr_free_pages = 0            # NR_FREE_PAGES: the free lists, not the pcp lists
        self.max_order = max_order
        # free_list[order][migratetype]: OrderedDict pfn -> None, stored *reversed*: the
        # OrderedDict's last item is the list head. add_to_free_list() (the common case)
        # is then a plain store and taking the head a plain popitem(); only
        # add_to_free_list_tail() pays a move_to_end(last=False). Read the lists in list
        # order with reversed() (FreeArea.free_list does).
        self._lists = [[OrderedDict() for _ in range(G.MIGRATE_TYPES)] for _ in range(max_order)]
        # every free block head: pfn -> (order << 3) | migratetype
        self._head: dict[int, int] = {}
        self.watermark = [0, 0, 0, 0]
        self.lowmem_reserve: list[int] = []
        self.free_area = [FreeArea(self, o) for o in range(max_order)]
        #: zone->per_cpu_pageset: one struct per_cpu_pages per CPU (empty while unpopulated)
        self.per_cpu_pageset: list[PerCpuPages] = []
        self.pageset_batch = 0            # zone->pageset_batch / pageset_high(_min, _max)
        self.pageset_high_min = 0
        self.pageset_high_max = 0
        self.below_high = False           # ZONE_BELOW_HIGH in zone->flags (6.7+)
        #: the zone's numa_* event counters (zone_statistics()), NUMA_STAT_NAMES order
        self.vm_numa_event = [0, 0, 0, 0, 0, 0]

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        return self.present_pages > 0

    def free_order(self, pfn: int):
        v = self._head.get(pfn)
        return None if v is None else v >> 3

    @property
    def nr_pcp_pages(self) -> int:
        """Pages on this zone's per-CPU lists, all CPUs (not in NR_FREE_PAGES)."""
        return sum(p.count for p in self.per_cpu_pageset)

    def __repr__(self):
        return (f"<zone {self.name} node {self.node}: pfn {self.zone_start_pfn:#x}-{self.zone_end_pfn:#x} "
                f"managed {self.managed_pages} free {self.nr_free_pages}>")


def recommended_min_free_kbytes(nr_zones: int, pageblock_order: int, nr_free_buffer_pages: int,
                                page_shift: int) -> int:
    """The kB mm/khugepaged.c ``set_recommended_min_free_kbytes()`` asks for, given the
    populated zones up to gfp_zone(GFP_USER) and ``nr_free_buffer_pages()``: two free
    pageblocks per zone plus MIGRATE_PCPTYPES squared per zone, at most 5 % of the pages.
    :meth:`BuddyAllocator.set_recommended_min_free_kbytes` applies it; ``km.compare()``
    recognises it in a host's ``min_free_kbytes``."""
    pb = 1 << pageblock_order
    recommended = pb * nr_zones * 2 + pb * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended = min(recommended, nr_free_buffer_pages // 20)
    return recommended << (page_shift - 10)


class BuddyAllocator:
    """The page allocator of one machine: ``alloc_pages()`` and ``__free_pages()``.

    Other subsystems call :meth:`alloc` (``__alloc_pages()``), :meth:`free`
    (``__free_pages()``), :meth:`check_free` (``free_pages_prepare()``'s checks),
    :meth:`alloc_bulk` and :meth:`free_bulk`; ``pcp=False`` boots with every per-CPU list
    disabled the way ``zone_pcp_disable()`` leaves them (high 0, batch 1: each page passes
    through the list and straight back), for lessons on the buddy lists alone."""

    def __init__(self, machine_state, pcp: bool = True):
        k = machine_state
        self.k = k
        self.mem_map = k.mem_map
        self.zones: list[Zone] = k.zones
        self.max_order = k.profile.max_order
        self.pageblock_order = k.profile.pageblock_order
        # pageblock migratetypes (get_pfnblock_migratetype); memmap_init marks every
        # pageblock MIGRATE_MOVABLE at boot
        self.pageblock_mt = np.full((k.mem_map.max_pfn >> self.pageblock_order) + 1,
                                    G.MIGRATE_MOVABLE, np.uint8)
        self.pageblock_mt_mv = memoryview(self.pageblock_mt)
        self._zonelists: dict[tuple[int, int, bool], list[Zone]] = {}
        self._plans: dict[int, tuple] = {}        # (gfp << 10) | node -> _plan()
        self.mem_map.free_order = self.free_order
        self.min_free_kbytes = 0
        self.pcp_enabled = pcp
        gen = k.gen
        # CONFIG_TRANSPARENT_HUGEPAGE: x86 has it where a PMD maps a huge page (x86_64; not
        # the 2-level i386 without PAE). HPAGE_PMD_ORDER is pageblock_order there.
        self.thp = any(name == "pmd" for name, _, _ in k.profile.levels)
        # pcp_allowed_order() for every order, and order_to_pindex() for order 0 is the
        # migratetype: the lists are MIGRATE_PCPTYPES per low order, then the THP lists
        self.pcp_high_order = gen.pcp_high_order
        self.nr_pcp_lists = MIGRATE_PCPTYPES
        allowed = [False] * self.max_order
        allowed[0] = True
        if self.pcp_high_order:
            self.nr_pcp_lists = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
            for o in range(1, PAGE_ALLOC_COSTLY_ORDER + 1):
                allowed[o] = True
            if self.thp:
                allowed[self.pageblock_order] = True
                self.nr_pcp_lists += gen.pcp_thp_lists
        self._pcp_ok = allowed
        self.tuning = gen.pcp_tuning
        #: order_to_pindex() worked out once: _pindex[order][migratetype] for the pcp orders
        #: (a list index on the hot paths instead of a call)
        self._pindex = [[self.order_to_pindex(mt, o) for mt in range(MIGRATE_PCPTYPES)] if ok else None
                        for o, ok in enumerate(allowed)]
        #: pindex_to_order() for every list, and the migratetype a low-order list caches
        #: (None for the THP lists): what free_pcppages_bulk() asks for each list it drains
        self._pindex_order = [self.pindex_to_order(i) for i in range(self.nr_pcp_lists)]
        self._pindex_mt = [i % MIGRATE_PCPTYPES if o <= PAGE_ALLOC_COSTLY_ORDER else None
                           for i, o in enumerate(self._pindex_order)]
        self.single_node = k.nr_nodes == 1
        #: 6.10+: free_pcppages_bulk() frees to the pageblock's migratetype, not the list's
        self.drain_pageblock_mt = gen.pcp_drain_pageblock_mt

    # -- look-ups ------------------------------------------------------------------

    def zone_of(self, pfn: int) -> Zone | None:
        z = int(self.mem_map.zone[pfn]) if 0 <= pfn < self.mem_map.max_pfn else -1
        return self.zones[z] if z >= 0 else None

    def free_order(self, pfn: int):
        """Order of the free block starting at ``pfn``, or None (``PageBuddy``)."""
        z = self.zone_of(pfn)
        return None if z is None else z.free_order(pfn)

    def pcp_allowed_order(self, order: int) -> bool:
        """``pcp_allowed_order()``: orders the per-CPU lists hold (order 0 before 5.14;
        then up to PAGE_ALLOC_COSTLY_ORDER and the THP order)."""
        return 0 <= order < self.max_order and self._pcp_ok[order]

    def order_to_pindex(self, migratetype: int, order: int) -> int:
        """``order_to_pindex()``: which of ``pcp->lists[]`` holds blocks of this order and
        type (one THP list before 6.10; after, one for movable and one for the others)."""
        if order > PAGE_ALLOC_COSTLY_ORDER:
            base = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
            return base + (migratetype == G.MIGRATE_MOVABLE if self.k.gen.pcp_thp_lists == 2 else 0)
        return MIGRATE_PCPTYPES * order + migratetype

    def pindex_to_order(self, pindex: int) -> int:
        """``pindex_to_order()``."""
        order = pindex // MIGRATE_PCPTYPES
        return self.pageblock_order if order > PAGE_ALLOC_COSTLY_ORDER else order

    def zonelist(self, node: int, highest_zoneidx: int, thisnode: bool = False) -> list[Zone]:
        """build_zonelists(): the node's zones from the highest down, then the other
        nodes' in distance order, keeping zones up to ``highest_zoneidx``."""
        key = (node, highest_zoneidx, thisnode)
        zl = self._zonelists.get(key)
        if zl is None:
            n = self.k.nr_nodes
            order = [node] if thisnode else [node] + [(node + i) % n for i in range(1, n)]
            zl = []
            for nid in order:
                zs = [z for z in self.zones if z.node == nid and z.populated()
                      and z.zone_idx <= highest_zoneidx]
                zl.extend(sorted(zs, key=lambda z: -z.zone_idx))
            self._zonelists[key] = zl
        return zl

    def _plan(self, gfp: int, node: int):
        """What a gfp mask means, worked out once per (gfp, node): the zonelist, the
        highest zone index (gfp_zone) and the migratetype (gfp_migratetype)."""
        highest = self.k.zone_type_index(G.gfp_zone(gfp, self.k.profile))
        return (self.zonelist(node, highest, bool(gfp & G.F_THISNODE)), highest,
                G.gfp_migratetype(gfp))

    # -- watermarks and per-CPU list sizes (boot and sysctl time) ---------------------

    def setup_watermarks(self) -> None:
        """What boot runs after ``memblock_free_all()``: ``setup_per_cpu_pageset()``, then
        ``init_per_zone_wmark_min()`` (``calculate_min_free_kbytes()``,
        ``setup_per_zone_wmarks()``, ``refresh_zone_stat_thresholds()``,
        ``setup_per_zone_lowmem_reserve()``), then khugepaged's
        ``set_recommended_min_free_kbytes()`` where THP is configured (it raises
        ``min_free_kbytes`` to keep pageblocks free for huge pages: a 24 GiB x86_64 box with
        three populated zones gets 67584 kB; not with ``transparent_hugepage=never``, where
        khugepaged does not start)."""
        self.setup_per_cpu_pageset()
        self.calculate_min_free_kbytes()
        self.setup_per_zone_wmarks()
        self.refresh_zone_stat_thresholds()
        self.setup_per_zone_lowmem_reserve()
        if self.thp and self.k.transparent_hugepage != "never":     # start_stop_khugepaged()
            self.set_recommended_min_free_kbytes()

    def nr_free_buffer_pages(self) -> int:
        """``nr_free_buffer_pages()``: the pages above the high watermark in the zones
        GFP_USER may use (``nr_free_zone_pages(gfp_zone(GFP_USER))``: not HighMem)."""
        highest = self.k.zone_type_index(G.gfp_zone(G.GFP_USER, self.k.profile))
        return sum(max(z.managed_pages - z.watermark[WMARK_HIGH], 0)
                   for z in self.zonelist(0, highest))

    def calculate_min_free_kbytes(self) -> None:
        """``calculate_min_free_kbytes()``: ``int_sqrt(lowmem_kbytes * 16)`` clamped to
        128 .. 64 MiB (256 MiB from 5.7)."""
        lowmem_kbytes = self.nr_free_buffer_pages() * (self.k.profile.page_size >> 10)
        mfk = int(np.sqrt(lowmem_kbytes * 16))
        while mfk * mfk > lowmem_kbytes * 16:     # int_sqrt rounds down; a float sqrt may not
            mfk -= 1
        self.min_free_kbytes = min(max(mfk, 128), self.k.gen.min_free_kbytes_max)

    def set_recommended_min_free_kbytes(self) -> None:
        """mm/khugepaged.c ``set_recommended_min_free_kbytes()``: two free pageblocks per
        zone, plus MIGRATE_PCPTYPES squared pageblocks per zone so a fallback finds a
        pageblock of its own type, at most 5 % of ``nr_free_buffer_pages()``; only ever
        raises ``min_free_kbytes``. Counts the populated zones up to gfp_zone(GFP_USER)
        (4.5 counted every populated zone: the same on every profile with THP)."""
        highest = self.k.zone_type_index(G.gfp_zone(G.GFP_USER, self.k.profile))
        nr_zones = sum(1 for z in self.zones if z.populated() and z.zone_idx <= highest)
        recommended = recommended_min_free_kbytes(nr_zones, self.pageblock_order, self.nr_free_buffer_pages(),
                                                  self.k.profile.page_shift)
        if recommended > self.min_free_kbytes:
            self.min_free_kbytes = recommended
        self.setup_per_zone_wmarks()

    def setup_per_zone_wmarks(self) -> None:
        """``__setup_per_zone_wmarks()``: ``min_free_kbytes`` shared out by managed pages;
        HighMem and Movable get a small fixed min (managed / 1024, 32 .. 128); low, high
        and promo are each ``max(min / 4, managed * watermark_scale_factor / 10000)`` above
        the one before. Then ``zone_pcp_update()``: pcp high follows the low watermark."""
        pages_min = self.min_free_kbytes >> (self.k.profile.page_shift - 10)
        lowmem_pages = sum(z.managed_pages for z in self.zones if z.name not in ("HighMem", "Movable"))
        for z in self.zones:
            tmp = pages_min * z.managed_pages // lowmem_pages if lowmem_pages else 0
            if z.name in ("HighMem", "Movable"):
                wmin = min(max(z.managed_pages // 1024, SWAP_CLUSTER_MAX), 128)
            else:
                wmin = tmp
            tmp = max(tmp >> 2, z.managed_pages * 10 // 10000)   # watermark_scale_factor 10
            z.watermark = [wmin, wmin + tmp, wmin + 2 * tmp, wmin + 3 * tmp]
        for z in self.zones:
            self.zone_pcp_update(z)

    def setup_per_zone_lowmem_reserve(self) -> None:
        """``setup_per_zone_lowmem_reserve()``: what a zone keeps back from allocations that
        could have used a higher zone (zoneinfo "protection", one entry per zone type)."""
        nzt = len(self.k.zone_types)
        for z in self.zones:
            ratio = LOWMEM_RESERVE_RATIO[z.name]
            node_zones = sorted((y for y in self.zones if y.node == z.node), key=lambda y: y.zone_idx)
            z.lowmem_reserve = [0] * nzt
            upper = 0
            for j in range(z.zone_idx + 1, nzt):
                upper += node_zones[j].managed_pages
                z.lowmem_reserve[j] = 0 if (not ratio or not z.managed_pages) else upper // ratio

    def refresh_zone_stat_thresholds(self) -> None:
        """mm/vmstat.c ``refresh_zone_stat_thresholds()``: each CPU's "vm stats threshold"."""
        ps = self.k.profile.page_shift
        for z in self.zones:
            t = calculate_normal_threshold(z.managed_pages, ps, self.k.nr_cpus)
            for pcp in z.per_cpu_pageset:
                pcp.stat_threshold = t

    def totalreserve_pages(self) -> int:
        """calculate_totalreserve_pages(): what MemAvailable holds back."""
        total = 0
        for z in self.zones:
            r = max(z.lowmem_reserve) + z.watermark[WMARK_HIGH]
            total += min(r, z.managed_pages)
        return total

    def setup_per_cpu_pageset(self) -> None:
        """``setup_per_cpu_pageset()`` -> ``setup_zone_pageset()``: a ``struct
        per_cpu_pages`` per populated zone and possible CPU, then its batch and high."""
        for z in self.zones:
            if z.populated():
                z.per_cpu_pageset = [PerCpuPages(self.nr_pcp_lists) for _ in range(self.k.nr_cpus)]
                self.zone_pcp_update(z)

    def zone_pcp_update(self, z: Zone, cpu_online: int = 0) -> None:
        """``zone_pcp_update()`` -> ``zone_set_pageset_high_and_batch()``: batch from
        ``zone_batchsize()``; high as the generation computes it (:mod:`.pcp`). With
        ``Machine(pcp=False)`` the values ``zone_pcp_disable()`` sets: high 0, batch 1."""
        if not z.per_cpu_pageset:
            return
        k = self.k
        if not self.pcp_enabled:
            batch, high_min, high_max = 1, 0, 0
        else:
            batch = max(1, zone_batchsize(z.managed_pages, k.profile.page_size, k.gen.pcp_batch_max_kb << 10))
            if self.tuning == "fixed":
                high_min = high_max = 6 * batch                  # pageset_set_batch()
            else:
                # the CPUs of the zone's node (cpumask_of_node()), plus one being onlined
                split = sum(1 for c in range(k.nr_cpus) if c * k.nr_nodes // k.nr_cpus == z.node) + cpu_online
                split = split or k.nr_cpus
                high_min = zone_highsize(z.watermark[WMARK_LOW], batch, split)
                high_max = (zone_highsize(z.managed_pages // MIN_PERCPU_PAGELIST_HIGH_FRACTION, batch, split)
                            if self.tuning == "auto" else high_min)
        if (z.pageset_batch, z.pageset_high_min, z.pageset_high_max) == (batch, high_min, high_max):
            return
        z.pageset_batch, z.pageset_high_min, z.pageset_high_max = batch, high_min, high_max
        for pcp in z.per_cpu_pageset:           # pageset_update()
            pcp.batch = batch
            pcp.high_min = high_min
            pcp.high_max = high_max
            if self.tuning != "auto":           # 6.7+ clamps pcp->high on next use
                pcp.high = high_min

    # -- watermark checks ------------------------------------------------------------

    def _zone_watermark_ok(self, z: Zone, order: int, mark: int, highest: int, alloc_flags: int) -> bool:
        """``__zone_watermark_ok()``: free pages above ``mark`` plus the lowmem reserve
        (``__GFP_HIGH`` may use half of the min reserve, atomic requests a quarter more),
        and for order > 0 a free block of at least that order in a pcp migratetype."""
        free_pages = z.nr_free_pages - ((1 << order) - 1)
        if alloc_flags & ALLOC_MIN_RESERVE:
            mark -= mark // 2
            if alloc_flags & ALLOC_NON_BLOCK:
                mark -= mark // 4
        if free_pages <= mark + z.lowmem_reserve[highest]:
            return False
        if not order:
            return True
        lists = z._lists
        for o in range(order, self.max_order):
            lo = lists[o]
            if lo[0] or lo[1] or lo[2]:
                return True
        return False

    def zone_watermark_ok(self, z: Zone, order: int, mark: int, highest: int, alloc_flags: int) -> bool:
        """``zone_watermark_ok()``."""
        return self._zone_watermark_ok(z, order, mark, highest, alloc_flags)

    def zone_watermark_fast(self, z: Zone, order: int, mark: int, highest: int, alloc_flags: int) -> bool:
        """``zone_watermark_fast()``: for order 0 a plain comparison first (the reserves
        are only worked out when it fails), else ``__zone_watermark_ok()``."""
        if not order and z.nr_free_pages > mark + z.lowmem_reserve[highest]:
            return True
        return self._zone_watermark_ok(z, order, mark, highest, alloc_flags)

    # -- allocation ------------------------------------------------------------------

    def _alloc_pages(self, gfp: int, order: int, kind: int, owner: int = 0, node: int | None = None,
                     warn: bool = True, entry: str = "__alloc_pages_chain") -> int:
        """``__alloc_pages()``: a block of 2**order frames, or -1 (the failure is logged
        like warn_alloc() unless __GFP_NOWARN). ``gfp`` is a validated int; ``kind`` and
        ``owner`` are what mem_map records for the frames. ``entry`` names the chain of
        functions (:mod:`~kmemlab.kernel.generation`) a trace shows for the call:
        ``alloc_pages()`` has mempolicy wrappers, slab pages come frozen on 6.14+."""
        k = self.k
        if order >= self.max_order:
            # __alloc_pages(): WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp) (6.4+; before,
            # `order >= MAX_ORDER` and WARN_ON_ONCE(!(gfp_mask & __GFP_NOWARN))) and NULL:
            # no allocation-failure report
            names = k.gen.chain(entry)
            if k.tracer is not None:
                op = ">" if k.gen.max_order_inclusive else ">="
                k.tracer.leaf(names[-1], f"order {order} {op} {k.gen.max_order_macro}: WARN and NULL")
            if warn and not gfp & G.F_NOWARN:
                k.warn_on("order_too_big", k.gen.order_warn_site, names[-1], names[:-1])
            return -1
        if node is None or node < 0:
            node = 0 if self.single_node else k.numa_node_id()
        # an int key (a node id fits in 10 bits: MAX_NUMNODES is 1024): no tuple per call
        try:                            # (a subscript, no .get() call: try costs nothing)
            plan = self._plans[(gfp << 10) | node]
        except KeyError:
            plan = self._plans[(gfp << 10) | node] = self._plan(gfp, node)
        zl, highest, mt = plan
        tr = k.tracer
        if tr is not None:
            names = k.gen.chain(entry)
            depth = len(tr.stack)
            for n in names[:-1]:
                tr.enter(n)
            tr.enter(names[-1], f"gfp={G.format_gfp(gfp, k.gen)} order={order}")
        pfn = self.get_page_from_freelist(gfp, order, ALLOC_WMARK_LOW, zl, highest, mt, kind, owner)
        if pfn < 0:
            pfn = self._alloc_pages_slowpath(gfp, order, zl, highest, mt, warn, kind, owner)
        if tr is not None:
            if pfn >= 0 and tr.events is not None:       # trace_mm_page_alloc()
                tr.kmem("mm_page_alloc", page=k.virt_of_page(pfn), pfn=pfn, order=order,
                        migratetype=mt, gfp_flags=gfp)
            while len(tr.stack) > depth:
                tr.leave(pfn if pfn >= 0 else None)
        if pfn >= 0 and k.bus.subscribers:
            k.bus.changed("alloc_pages", pfn, 1 << order, kind)
        return pfn

    alloc = _alloc_pages        # what the other subsystems call

    def get_page_from_freelist(self, gfp: int, order: int, alloc_flags: int, zl: list, highest: int,
                               mt: int, kind: int, owner: int) -> int:
        """``get_page_from_freelist()``: the first zone of the zonelist whose free pages
        are above the watermark ``alloc_flags`` names gives the block, then
        ``prep_new_page()``. From 6.7 a zone found below its *high* watermark is flagged
        ZONE_BELOW_HIGH (its pcp lists then shrink on free).

        ``rmqueue()`` (4.5: ``buffered_rmqueue()``) and ``rmqueue_pcplist()`` are written
        here, inline, as the kernel compiles them (both static inline, each with this one
        caller; a real 6.18 kernel's kallsyms has neither): a pcp order comes from the
        CPU's ``per_cpu_pages`` through ``__rmqueue_pcplist()``; any other order, or (6.1+)
        what the list could not give, from the buddy lists (``rmqueue_buddy()``). An
        allocation from the pcp list halves how much the next frees give back
        (``free_factor`` 5.14 .. 6.6, ``free_count`` 6.7+)."""
        k = self.k
        tr = k.tracer
        if tr is not None:
            gen = k.gen
            tr.enter("get_page_from_freelist",
                     "ALLOC_NO_WATERMARKS" if alloc_flags & ALLOC_NO_WATERMARKS
                     else _ALLOC_FLAG_NAMES[alloc_flags & ALLOC_WMARK_MASK])
        auto = self.tuning == "auto"
        pfn = -1
        for z in zl:
            # zone_watermark_fast() is static inline: its order-0 comparison stays here and
            # the function is called for the rest (order > 0, or the comparison failed)
            ok = False
            if auto and not z.below_high:
                mark = z.watermark[WMARK_HIGH]
                if ((not order and z.nr_free_pages > mark + z.lowmem_reserve[highest])
                        or self.zone_watermark_fast(z, order, mark, highest, alloc_flags)):
                    ok = True
                else:
                    z.below_high = True
            if not ok and not alloc_flags & ALLOC_NO_WATERMARKS:
                wmark = alloc_flags & ALLOC_WMARK_MASK
                mark = z.watermark[wmark]
                if not ((not order and z.nr_free_pages > mark + z.lowmem_reserve[highest])
                        or self.zone_watermark_fast(z, order, mark, highest, alloc_flags)):
                    if tr is not None:
                        tr.leaf("zone_watermark_fast", f"zone={z.name} below the "
                                f"{('min', 'low', 'high')[wmark]} watermark", False)
                    continue
            # try_this_zone: rmqueue()
            framed = False                  # a trace shows rmqueue_pcplist()'s frame (4.12+)
            if tr is not None:
                tr.enter(gen.name("rmqueue"), f"zone={z.name} order={order} migratetype={G.MIGRATETYPE_NAMES[mt]}")
                framed = gen.rmqueue_pcplist
            if self._pcp_ok[order]:
                # rmqueue_pcplist(): the current CPU's per_cpu_pages of the zone (4.5 .. 4.11:
                # the same lines inside buffered_rmqueue(), no frame of their own)
                if framed:
                    tr.enter("rmqueue_pcplist", f"cpu={k.cpu}")
                pcp = z.per_cpu_pageset[k.cpu]
                if auto:
                    pcp.free_count >>= 1
                elif self.tuning == "split_high":
                    pcp.free_factor >>= 1
                pfn = self._rmqueue_pcplist(z, order, mt, alloc_flags, pcp,
                                            pcp.lists[self._pindex[order][mt]], framed)
                if pfn >= 0:
                    if self.single_node and z is zl[0]:
                        ev = z.vm_numa_event        # zone_statistics() (inline), one node
                        ev[NUMA_HIT] += 1
                        ev[NUMA_LOCAL] += 1
                    else:
                        self.zone_statistics(zl[0], z, 1)
                elif k.gen.rmqueue_buddy:
                    if framed:
                        tr.leave(pfn)
                        framed = False
                    pfn = self.rmqueue_buddy(zl[0], z, order, alloc_flags, mt)
                if framed:
                    tr.leave(pfn)
            else:
                pfn = self.rmqueue_buddy(zl[0], z, order, alloc_flags, mt)
            if tr is not None:
                tr.leave(pfn)
            if pfn >= 0:
                break
        if pfn >= 0:
            # prep_new_page() (static, inlined into this one caller): the block's frames now
            # belong to kind/owner; a compound page (__GFP_COMP) gets its head and tail
            # marks; __GFP_ZERO clears the memory
            mm = self.mem_map
            if not order:
                mm.kind_mv[pfn] = kind
                mm.owner_mv[pfn] = owner
                mm.order_mv[pfn] = 0
                if gfp & F_ZERO:
                    k.memory.zero(pfn, 1)
            else:
                nr = 1 << order
                end = pfn + nr
                if order > 3:
                    mm.kind[pfn:end] = kind
                    mm.owner[pfn:end] = owner
                else:       # memoryview stores: a numpy slice store costs ~1 us to set up
                    kmv = mm.kind_mv
                    omv = mm.owner_mv
                    for p in range(pfn, end):
                        kmv[p] = kind
                        omv[p] = owner
                mm.order_mv[pfn] = order
                if gfp & G.F_COMP:
                    fmv = mm.flags_mv
                    fmv[pfn] = PG_head
                    if order > 3:
                        mm.flags[pfn + 1:end] = PG_tail
                    else:
                        for p in range(pfn + 1, end):
                            fmv[p] = PG_tail
                if gfp & F_ZERO:
                    k.memory.zero(pfn, nr)
        if tr is not None:
            tr.leave(pfn)
        return pfn

    def _rmqueue_pcplist(self, z: Zone, order: int, mt: int, alloc_flags: int, pcp: PerCpuPages,
                         lst: list, framed: bool = False) -> int:
        """``__rmqueue_pcplist()``: the head of the CPU's list; an empty list is refilled
        first with ``nr_pcp_alloc()`` blocks by ``rmqueue_bulk()``. ``framed``: a trace
        shows the call (its caller's rmqueue_pcplist() frame is open)."""
        if framed:
            tr = self.k.tracer
            tr.enter("__rmqueue_pcplist", f"pcp count={pcp.count}")
        if not lst:
            got = self.rmqueue_bulk(z, order, self.nr_pcp_alloc(pcp, z, order), lst, mt, alloc_flags)
            pcp.count += got << order
            if not lst:
                if framed:
                    tr.leave(None)
                return -1
        pfn = lst.pop()                          # list_first_entry(): the head
        pcp.count -= 1 << order
        if framed:
            tr.leave(pfn)
        return pfn

    def nr_pcp_alloc(self, pcp: PerCpuPages, z: Zone, order: int) -> int:
        """How many blocks ``rmqueue_bulk()`` moves to an empty list: ``pcp->batch``
        (5.14+: ``batch >> order``, at least 2); 6.7+ ``nr_pcp_alloc()`` doubles it on each
        refill without a free in between (``alloc_factor``, up to 2**PCP_BATCH_SCALE_MAX)
        and lets ``high`` grow by the batch while the zone is above its high watermark."""
        base = pcp.batch
        if self.tuning != "auto":
            if self.tuning == "fixed":
                return base
            return max(base >> order, 2) if base > 1 else base
        high = pcp.high                          # clamped to high_min .. high_max
        if high < pcp.high_min:
            high = pcp.high_min
        if high > pcp.high_max:
            high = pcp.high_max
        pcp.high = high
        if high < base:                          # pcp disabled, or the boot pageset
            return 1
        batch = base if order else base << pcp.alloc_factor
        if pcp.high_min != pcp.high_max and not z.below_high:
            high = pcp.high = min(high + batch, pcp.high_max)
        if not order:
            max_nr_alloc = max(high - pcp.count - base, base)
            if batch <= max_nr_alloc and pcp.alloc_factor < PCP_BATCH_SCALE_MAX:
                pcp.alloc_factor += 1
            batch = min(batch, max_nr_alloc)
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch

    def rmqueue_bulk(self, z: Zone, order: int, count: int, lst: list, mt: int, alloc_flags: int) -> int:
        """``rmqueue_bulk()``: ``count`` ``__rmqueue()`` calls under one zone lock, each
        block added at the tail of the (empty) list, so the list runs in the order the
        buddy lists gave them (ascending pfns out of a split). Returns how many it got."""
        k = self.k
        tr = k.tracer
        if tr is not None:
            tr.enter("rmqueue_bulk", f"count={count}")
        taken = []
        rmq = self._rmqueue
        for _ in range(count):
            pfn = rmq(z, order, mt, alloc_flags)
            if pfn < 0:
                break
            taken.append(pfn)
        if taken:
            if lst:
                lst[:0] = taken[::-1]            # list_add_tail() each: the tail is lst[0]
            else:                                # (the usual case: an empty list refilled)
                lst += reversed(taken)
            if order or len(taken) > 63:
                self._mark_frames(taken, order, K_PCP)
            else:
                kmv = self.mem_map.kind_mv
                for pfn in taken:
                    kmv[pfn] = K_PCP
            bus = k.bus
            if bus.subscribers:
                lo = min(taken)
                bus.changed("rmqueue_bulk", lo, max(taken) + (1 << order) - lo, K_PCP, detail=tuple(taken))
        if tr is not None:
            tr.leave(len(taken))
        return len(taken)

    def rmqueue_buddy(self, preferred: Zone, z: Zone, order: int, alloc_flags: int, mt: int) -> int:
        """``rmqueue_buddy()`` (6.1+; before, the same lines inside ``rmqueue()``):
        ``__rmqueue()`` under the zone lock for what the pcp lists do not serve."""
        tr = self.k.tracer
        framed = tr is not None and self.k.gen.rmqueue_buddy
        if framed:
            tr.enter("rmqueue_buddy")
        pfn = self._rmqueue(z, order, mt, alloc_flags)
        if pfn >= 0:
            self.zone_statistics(preferred, z, 1)
        if framed:
            tr.leave(pfn)
        return pfn

    def _rmqueue(self, z: Zone, order: int, mt: int, alloc_flags: int = 0) -> int:
        """``__rmqueue()``: the smallest block of the migratetype, else steal one
        (``__rmqueue_fallback()``; 6.16+ ``__rmqueue_claim()``) and take from it."""
        tr = self.k.tracer
        if tr is not None:
            tr.enter("__rmqueue")
        pfn = self._rmqueue_smallest(z, order, mt)
        if pfn < 0 and self._rmqueue_fallback(z, order, mt):
            pfn = self._rmqueue_smallest(z, order, mt)
        if tr is not None:
            tr.leave(pfn)
        return pfn

    def _rmqueue_smallest(self, z: Zone, order: int, mt: int) -> int:
        """``__rmqueue_smallest()``: take the first block (the list head) of the smallest
        order >= ``order`` that has one of this migratetype, and let ``expand()`` hand its
        upper halves back (6.10+ through ``page_del_and_expand()``)."""
        lists = z._lists
        for cur in range(order, self.max_order):
            fl = lists[cur][mt]
            if fl:
                tr = self.k.tracer
                if tr is not None:
                    tr.enter("__rmqueue_smallest", f"order={order}")
                pfn = fl.popitem()[0]            # the list head (lists are stored reversed)
                del z._head[pfn]
                if cur > order:
                    if tr is not None and self.k.gen.page_del_and_expand:
                        tr.enter("page_del_and_expand")
                        self.expand(z, pfn, order, cur, mt)
                        tr.leave()
                    else:
                        self.expand(z, pfn, order, cur, mt)
                z.nr_free_pages -= 1 << order
                if tr is not None:
                    tr.leave(pfn)
                return pfn
        tr = self.k.tracer
        if tr is not None:
            tr.leaf("__rmqueue_smallest", f"order={order}: no free block of "
                    f"{G.MIGRATETYPE_NAMES[mt]} at order {order}..{self.max_order - 1}", -1)
        return -1

    def expand(self, z: Zone, pfn: int, low: int, high: int, mt: int) -> None:
        """``expand()``: split the order-``high`` block at ``pfn`` down to order ``low``:
        keep the lower half each time, put the upper half at the head of the list one
        order down (``__add_to_free_list()``)."""
        tr = self.k.tracer
        if tr is not None:
            tr.leaf("expand", f"split an order-{high} block: {high - low} upper halves "
                              f"back to free_area[{low}..{high - 1}]")
        lists = z._lists
        head = z._head
        while high > low:
            high -= 1
            b = pfn + (1 << high)
            lists[high][mt][b] = None            # add_to_free_list(): the list head
            head[b] = (high << 3) | mt

    def _can_steal_fallback(self, order: int, start_mt: int) -> bool:
        """``can_steal_fallback()`` (6.16+ ``should_try_claim_block()``)."""
        if order >= self.pageblock_order:
            return True
        return (order >= self.pageblock_order // 2 or start_mt == G.MIGRATE_RECLAIMABLE
                or start_mt == G.MIGRATE_UNMOVABLE)

    def _rmqueue_fallback(self, z: Zone, order: int, start_mt: int) -> bool:
        """``__rmqueue_fallback()``: steal the largest suitable block of another type."""
        tr = self.k.tracer
        if tr is not None:
            tr.enter(self.k.gen.name("__rmqueue_fallback"))
        found = None
        for cur in range(self.max_order - 1, order - 1, -1):
            for fmt in FALLBACKS[start_mt]:
                if z._lists[cur][fmt]:
                    can_steal = self._can_steal_fallback(cur, start_mt)
                    if not can_steal and start_mt == G.MIGRATE_MOVABLE and cur > order:
                        found = "smallest"
                    else:
                        found = (cur, fmt, can_steal)
                    break
            if found:
                break
        if found == "smallest":
            # movable requests take the smallest block rather than break up a large one
            found = None
            for cur in range(order, self.max_order):
                for fmt in FALLBACKS[start_mt]:
                    if z._lists[cur][fmt]:
                        found = (cur, fmt, self._can_steal_fallback(cur, start_mt))
                        break
                if found:
                    break
        if found is not None:
            cur, fmt, can_steal = found
            pfn = next(reversed(z._lists[cur][fmt]))     # the list head
            self.steal_suitable_fallback(z, pfn, cur, start_mt, can_steal)
        if tr is not None:
            tr.leave(found is not None)
        return found is not None

    def _move_to_free_list(self, z: Zone, pfn: int, order: int, mt: int) -> None:
        """``move_to_free_list()``: to the tail of another migratetype's list."""
        old = z._head[pfn] & 7
        del z._lists[order][old][pfn]
        lst = z._lists[order][mt]
        lst[pfn] = None                            # list_move_tail(): the list's end is
        lst.move_to_end(pfn, last=False)           # the OrderedDict's front
        z._head[pfn] = (order << 3) | mt

    def steal_suitable_fallback(self, z: Zone, pfn: int, cur: int, start_mt: int, whole_block: bool):
        """``steal_suitable_fallback()`` (6.16+ ``try_to_claim_block()``): a block of a
        pageblock or more changes type whole; a smaller one takes its pageblock along
        (``move_freepages_block()``) when it may, else just moves lists."""
        tr = self.k.tracer
        if tr is not None:
            tr.leaf(self.k.gen.name("steal_suitable_fallback"), f"to {G.MIGRATETYPE_NAMES[start_mt]}")
        pbo = self.pageblock_order
        if cur >= pbo:
            self.pageblock_mt[pfn >> pbo:(pfn + (1 << cur)) >> pbo] = start_mt
            self._move_to_free_list(z, pfn, cur, start_mt)
            return
        if not whole_block:
            self._move_to_free_list(z, pfn, cur, start_mt)
            return
        # move_freepages_block(): every free block in the pageblock joins start_mt
        pb = pfn >> pbo
        start = max(pb << pbo, z.zone_start_pfn)
        end = min((pb + 1) << pbo, z.zone_end_pfn)
        moved = 0
        p = start
        while p < end:
            v = z._head.get(p)
            if v is None:
                p += 1
                continue
            o = v >> 3
            self._move_to_free_list(z, p, o, start_mt)
            moved += 1 << o
            p += 1 << o
        old_mt = int(self.pageblock_mt[pb])
        alike = (1 << pbo) - moved if (start_mt != G.MIGRATE_MOVABLE and old_mt == G.MIGRATE_MOVABLE) else 0
        if moved + alike >= 1 << (pbo - 1):
            self.pageblock_mt[pb] = start_mt

    def zone_statistics(self, preferred: Zone, z: Zone, nr: int) -> None:
        """``zone_statistics()``: numa_hit when the zone is on the preferred zone's node,
        else numa_miss (and numa_foreign on the preferred zone); numa_local when it is
        the allocating CPU's node, else numa_other."""
        ev = z.vm_numa_event
        if z is preferred and self.k.nr_nodes == 1:        # the common case: one node
            ev[NUMA_HIT] += nr
            ev[NUMA_LOCAL] += nr
            return
        if z.node == preferred.node:
            ev[NUMA_HIT] += nr
        else:
            ev[NUMA_MISS] += nr
            preferred.vm_numa_event[NUMA_FOREIGN] += nr
        k = self.k
        ev[NUMA_LOCAL if k.nr_nodes == 1 or z.node == k.numa_node_id() else NUMA_OTHER] += nr

    def _alloc_pages_slowpath(self, gfp: int, order: int, zl: list[Zone], highest: int, mt: int,
                              warn: bool, kind: int, owner: int) -> int:
        """``__alloc_pages_slowpath()`` without reclaim: ``get_page_from_freelist()`` again
        at the min watermark with the reserves ``gfp_to_alloc_flags()`` grants
        (``__GFP_MEMALLOC``: no watermarks at all), then the ``nopage:`` report."""
        alloc_flags = ALLOC_WMARK_MIN
        if gfp & G.F_HIGH:
            alloc_flags |= ALLOC_MIN_RESERVE
        if not gfp & G.F_DIRECT_RECLAIM:
            alloc_flags |= ALLOC_NON_BLOCK
        if gfp & G.F_MEMALLOC and not gfp & G.F_NOMEMALLOC:
            alloc_flags = ALLOC_NO_WATERMARKS
        tr = self.k.tracer
        if tr is not None:
            tr.enter("__alloc_pages_slowpath")
        pfn = self.get_page_from_freelist(gfp, order, alloc_flags, zl, highest, mt, kind, owner)
        if pfn < 0 and warn:       # the "nopage:" label
            self.warn_alloc(gfp, f"page allocation failure: order:{order}", order)
        if tr is not None:
            tr.leave(pfn)
        return pfn

    def _alloc_pages_bulk(self, gfp: int, nr: int, kind: int, owner: int = 0, node: int | None = None) -> list[int]:
        """``__alloc_pages_bulk()`` (5.13+; 6.10+ ``alloc_pages_bulk_noprof()``): up to ``nr``
        order-0 pages in one call, as ``vm_area_alloc_pages()`` asks for them (at most 100).

        As in the kernel: one request for one page, or no zone of the preferred node above
        its low watermark *plus nr*, goes to ``__alloc_pages()`` (with its slow path and
        warn_alloc); otherwise the pages come from that one zone's pcp list through
        ``__rmqueue_pcplist()`` (refilled by ``rmqueue_bulk()``), with no further watermark
        checks, until the zone has none of the migratetype left (a partial result, which
        the caller completes page by page). One ``alloc_pages_bulk`` event (pfn = the
        lowest page, nr_pages = the span, detail = the pfn list). Not modelled: the memcg
        ``__GFP_ACCOUNT`` refusal and cpuset checks."""
        if nr <= 0:
            return []
        k = self.k
        if node is None or node < 0:
            node = k.numa_node_id()
        if nr == 1:                      # "Use the single page allocator for one page."
            pfn = self._alloc_pages(gfp, 0, kind, owner, node)
            return [] if pfn < 0 else [pfn]
        try:                            # (a subscript, no .get() call: try costs nothing)
            plan = self._plans[(gfp << 10) | node]
        except KeyError:
            plan = self._plans[(gfp << 10) | node] = self._plan(gfp, node)
        zl, highest, mt = plan
        tr = k.tracer
        zone = None
        multi = k.nr_nodes > 1
        preferred_idx = zl[0].zone_idx if zl else highest
        for z in zl:
            # only zones of the preferred zone's node: a remote zone means "failed"
            if multi and z is not zl[0] and z.node != zl[0].node:
                break
            if self.zone_watermark_fast(z, 0, z.watermark[WMARK_LOW] + nr, preferred_idx, ALLOC_WMARK_LOW):
                zone = z
                break
            if tr is not None:
                tr.leaf("zone_watermark_fast", f"zone={z.name} free <= low + {nr}", False)
        pages: list[int] = []
        if zone is not None:
            if tr is not None:
                tr.leaf("zone_watermark_fast", f"zone={zone.name} free > low + {nr}", True)
            pcp = zone.per_cpu_pageset[k.cpu]
            lst = pcp.lists[mt]
            rmq = self._rmqueue_pcplist
            framed = tr is not None and k.gen.rmqueue_pcplist
            while len(pages) < nr:
                pfn = rmq(zone, 0, mt, ALLOC_WMARK_LOW, pcp, lst, framed)
                if pfn < 0:
                    break
                pages.append(pfn)
            if pages:
                self.zone_statistics(zl[0], zone, len(pages))
        if not pages:                    # the "failed" label: one page, the hard way
            pfn = self._alloc_pages(gfp, 0, kind, owner, node)
            return [] if pfn < 0 else [pfn]
        mm = self.mem_map
        if len(pages) > 64:
            idx = np.array(pages, np.int64)
            mm.kind[idx] = kind
            mm.owner[idx] = owner
            mm.order[idx] = 0
        else:       # a numpy fancy-index store costs more than 64 memoryview stores
            kmv, omv, rmv = mm.kind_mv, mm.owner_mv, mm.order_mv
            for pfn in pages:
                kmv[pfn] = kind
                omv[pfn] = owner
                rmv[pfn] = 0
        if gfp & G.F_ZERO:               # prep_new_page(), the part that differs per page
            zero = k.memory.zero
            for pfn in pages:
                zero(pfn, 1)
        bus = k.bus
        if bus.subscribers:
            lo = min(pages)
            bus.changed("alloc_pages_bulk", lo, max(pages) + 1 - lo, kind, detail=tuple(pages))
        return pages

    alloc_bulk = _alloc_pages_bulk

    # -- freeing ---------------------------------------------------------------------

    def free_page_is_bad(self, pfn: int, order: int) -> None:
        """What ``__free_pages()`` checks before it changes anything (``put_page_testzero()``,
        ``free_pages_prepare()`` -> ``free_page_is_bad()``): raise :class:`KernelBug` with
        the kernel's report, the machine unchanged, when the block is not an allocated block
        of exactly that order. A slab page is the generation's report (PG_slab in
        PAGE_FLAGS_CHECK_AT_FREE until 6.9; the slab page type in ``_mapcount`` 6.10 ..
        6.13; from 6.14 slab pages are frozen, refcount 0, and ``put_page_testzero()``
        hits its VM_BUG_ON_PAGE)."""
        mm = self.mem_map
        if 0 <= pfn < mm.max_pfn and mm.order_mv[pfn] == order and not mm.flags_mv[pfn] & PG_slab:
            return                       # the common case: the head of a block of that order
        gen = self.k.gen
        if not 0 <= pfn < mm.max_pfn or mm.zone[pfn] < 0:
            raise self.bad_page(pfn, "pfn is not a frame of this machine's RAM")
        if order < 0 or order >= self.max_order:
            raise self.bad_page(pfn, f"order {order} is outside 0..{self.max_order - 1}")
        kind = int(mm.kind[pfn])
        if kind == K_FREE or kind == K_PCP:
            where = "in the buddy allocator (PageBuddy)" if kind == K_FREE else "on a per-CPU page list"
            raise self.bad_page(pfn, f"page is already free, {where}: double free",
                                "VM_BUG_ON_PAGE(page_ref_count(page) == 0)")
        if mm.flags[pfn] & PG_slab:
            why = "a slab page belongs to its kmem_cache: free the objects with kfree()"
            if gen.slab_page_frozen:
                raise self.bad_page(pfn, why, "VM_BUG_ON_PAGE(page_ref_count(page) == 0)")
            if gen.slab_page_type:
                raise self.bad_page(pfn, why, "nonzero mapcount")
            raise self.bad_page(pfn, why, "PAGE_FLAGS_CHECK_AT_FREE flag(s) set", bad_flags=PG_slab)
        have = int(mm.order[pfn])
        if have < 0:
            if mm.flags[pfn] & PG_tail:
                raise self.bad_page(pfn, "tail page of a compound page, not its head",
                                    "VM_BUG_ON_PAGE(PageTail(page))")
            if mm.flags[pfn] & PG_reserved:
                raise self.bad_page(pfn, f"frame is {mm.kind_name(pfn)} (PG_reserved), not a block "
                                         "from alloc_pages()", "PAGE_FLAGS_CHECK_AT_FREE flag(s) set",
                                    bad_flags=PG_reserved)
            raise self.bad_page(pfn, f"frame is {mm.kind_name(pfn)}, not the start of a block "
                                     "from alloc_pages()")
        if have != order:
            raise self.bad_page(pfn, f"freed with order {order} but allocated with order {have}")

    check_free = free_page_is_bad

    def bad_page(self, pfn: int, why: str, reason: str | None = None, bad_flags: int = 0) -> KernelBug:
        """``bad_page()`` -> ``dump_page()`` (or a ``VM_BUG_ON_PAGE()``'s dump and BUG):
        the report, in dmesg, as the generation prints it. ``why`` says in words what is
        wrong (the KernelBug's message); ``reason`` is the kernel's "page dumped because"
        (kmemlab's own words where the kernel has no check: a wrong order, a frame that is
        not RAM)."""
        k = self.k
        gen = k.gen
        mm = self.mem_map
        ok = 0 <= pfn < mm.max_pfn
        refcount = 0                     # put_page_testzero() dropped it (or found it at 0)
        flags = "|".join(mm.flag_names(pfn)) if ok else ""
        if gen.slab_page_type:           # the slab marker is a page type, not a flag
            flags = "|".join(n for n in flags.split("|") if n not in ("slab", "buddy"))
        bug = reason is not None and reason.startswith("VM_BUG_ON_PAGE")
        lines = [] if bug else [f"BUG: Bad page state in process {k.comm}  pfn:{pfn:05x}"]
        lines.append(gen.dump_page_line.format(page=k.virt_of_page(pfn), refcount=refcount, pfn=pfn))
        lines.append(f"flags: {'(' + flags + ')' if flags else 'none'}")
        if ok and gen.slab_page_type:
            ptype = ("slab" if mm.flags[pfn] & PG_slab else
                     "buddy" if mm.kind[pfn] == K_FREE and self.free_order(pfn) is not None else None)
            if ptype:
                lines.append(f"page_type: {0xf5 if ptype == 'slab' else 0xf4:x}({ptype})")
        lines.append(f"page dumped because: {reason or why}")
        if bad_flags and gen.dump_page_bad_flags:
            names = [n for bit, n in (((PG_slab, "slab"), (PG_reserved, "reserved"))) if bad_flags & bit]
            lines += ["bad because of flags:", f"flags: ({'|'.join(names)})"]
        if bug:                          # BUG() -> report_bug()
            lines += ["------------[ cut here ]------------", f"kernel BUG at {gen.put_page_testzero_site}!"]
            lines.append("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI")
        lines.append(k.cpu_line())
        text = "\n".join(lines)
        k.log.printk("alert", text)
        return KernelBug(f"{'VM_BUG_ON_PAGE' if bug else 'Bad page state'}: pfn {pfn:#x}: {why}", text)

    def _free_pages(self, pfn: int, order: int, entry: str = "free_pages_chain", emit: bool = True) -> None:
        """``__free_pages()``: give a block back; a block that is not an allocated block of
        that order is reported by :meth:`free_page_is_bad` (KernelBug, nothing changed; the
        slab allocator frees its own pages, whose slab mark it drops first). A pcp order goes to the CPU's list (``free_unref_page()``; 4.5
        ``free_hot_cold_page()``; 6.14+ ``free_frozen_pages()``), any other through
        ``__free_pages_ok()`` -> ``free_one_page()`` to ``__free_one_page()``. ``entry``:
        the chain a trace shows (slab pages are freed frozen on 6.14+); ``emit`` the
        ``free_pages`` event (:meth:`free_bulk` sends one for all).

        ``free_pages_prepare()`` (``__always_inline``) is written here, inline: the test of
        the common case of ``free_page_is_bad()`` (anything else goes to
        :meth:`free_page_is_bad`, which reports it), then the frames lose their owner,
        flags and compound marks."""
        k = self.k
        mm = self.mem_map
        # free_pages_prepare()
        if not (0 <= pfn < mm.max_pfn and mm.order_mv[pfn] == order and not mm.flags_mv[pfn] & PG_slab):
            self.free_page_is_bad(pfn, order)        # raises, changing nothing
        if not order:
            mm.owner_mv[pfn] = 0
            mm.flags_mv[pfn] = 0
        elif order > 3:
            end = pfn + (1 << order)
            mm.owner[pfn:end] = 0
            mm.flags[pfn:end] = 0
        else:       # memoryview stores: a numpy slice store costs ~1 us to set up
            omv = mm.owner_mv
            fmv = mm.flags_mv
            for p in range(pfn, pfn + (1 << order)):
                omv[p] = 0
                fmv[p] = 0
        mm.order_mv[pfn] = -1
        z = self.zones[mm.zone_mv[pfn]]
        mt = self.pageblock_mt_mv[pfn >> self.pageblock_order]
        tr = k.tracer
        pcp_path = self._pcp_ok[order] and mt < MIGRATE_PCPTYPES
        if tr is not None:
            names = k.gen.chain(_PCP_CHAIN[entry] if pcp_path else entry)
            depth = len(tr.stack)
            for i, n in enumerate(names):
                tr.enter(n, f"pfn={pfn:#x} order={order}" if i == 0 else "")
            if tr.events is not None:           # free_pages_prepare(): trace_mm_page_free()
                tr.kmem("mm_page_free", page=k.virt_of_page(pfn), pfn=pfn, order=order)
        if pcp_path:
            self.free_unref_page_commit(z, z.per_cpu_pageset[k.cpu], pfn, mt, order)
        else:
            self._free_one_page(z, pfn, order, mt, False)
        if tr is not None:
            while len(tr.stack) > depth:
                tr.leave()
        if emit and k.bus.subscribers:
            k.bus.changed("free_pages", pfn, 1 << order, K_PCP if pcp_path else K_FREE)

    free = _free_pages

    def pcp_checkpoint(self) -> list:
        """The per-CPU lists and the allocation counters of every zone, to put back with
        :meth:`pcp_rollback` when a Python-only failure (a slab constructor that raises)
        undoes an allocation: the buddy lists need nothing, a block freed again merges
        back exactly, but the pcp list a page returns to, its tuning and the zone's
        ``numa_*`` events would keep the trace of an allocation that never happened.
        Not a kernel function (C constructors cannot fail)."""
        return [(z, z.vm_numa_event[:],
                 [(p, [getattr(p, f) for f in _PCP_SCALARS], [lst[:] for lst in p.lists])
                  for p in z.per_cpu_pageset])
                for z in self.zones]

    def pcp_rollback(self, checkpoint: list) -> None:
        """Put back what :meth:`pcp_checkpoint` saw (in the same objects: views and
        helpers keep references to them)."""
        for z, events, pcps in checkpoint:
            z.vm_numa_event[:] = events
            for p, scalars, lists in pcps:
                # only a list holding the same pages again is put back in order: after a
                # refill (rmqueue_bulk()) the other refilled pages are on it, and stay
                if sorted(x for lst in p.lists for x in lst) != sorted(x for lst in lists for x in lst):
                    continue
                for f, v in zip(_PCP_SCALARS, scalars):
                    setattr(p, f, v)
                for lst, saved in zip(p.lists, lists):
                    lst[:] = saved

    def free_bulk(self, pfns: list[int]) -> None:
        """``__free_pages(page, 0)`` for each of ``pfns`` in order, as vfree() does (each
        page to the CPU's pcp list, which gives batches back past ``high``), with one
        ``free_pages_bulk`` event for all. The caller owns the pages (allocated order-0
        blocks)."""
        if not pfns:
            return
        free = self._free_pages
        for pfn in pfns:
            free(pfn, 0, "free_pages_chain", False)
        bus = self.k.bus
        if bus.subscribers:
            lo = min(pfns)
            bus.changed("free_pages_bulk", lo, max(pfns) + 1 - lo, K_PCP, detail=tuple(pfns))

    def free_unref_page_commit(self, z: Zone, pcp: PerCpuPages, pfn: int, mt: int, order: int) -> None:
        """``free_unref_page_commit()`` (4.5: the end of ``free_hot_cold_page()``; 6.14+
        ``free_frozen_page_commit()``): add the block at the head of its pcp list; from
        ``high`` on give some back with ``free_pcppages_bulk()``. How many is the
        generation's (:mod:`.pcp`): 4.5 ``batch``; 5.14+ ``nr_pcp_free()``.

        ``nr_pcp_high()`` is written here, inline, as the kernel compiles it (static
        inline, this one caller): the count that drains. 5.14 .. 6.6: ``high`` (0 while a
        CPU frees high-order pages in a row). 6.7+: ``high`` clamped to high_min ..
        high_max, lowered while the zone is below its high watermark, else raised to hold
        the pages being freed in a row (``free_count + batch``); once a drain leaves the
        zone above its high watermark, ZONE_BELOW_HIGH is cleared. The common 6.7+ case
        (count below a ``high`` already in range, no free_high, the zone not below its high
        watermark) returns before that arithmetic: none of it would change anything."""
        nr = 1 << order
        pindex = self._pindex[order][mt]
        pcp.lists[pindex].append(pfn)            # list_add(): the head
        count = pcp.count = pcp.count + nr
        if order:
            self._mark_frames((pfn,), order, K_PCP)
        else:
            self.mem_map.kind_mv[pfn] = K_PCP
        batch = pcp.batch
        if self.tuning != "auto":                # 4.5 .. 6.6 (one test on the 6.7+ path)
            if self.tuning == "fixed":
                if count >= pcp.high:
                    self.free_pcppages_bulk(z, batch, pcp, pindex)
                return
            # "split_high"
            free_high = bool(pcp.free_factor and order and order <= PAGE_ALLOC_COSTLY_ORDER)
            high = 0 if free_high else pcp.high                       # nr_pcp_high()
            if count >= high:
                self.free_pcppages_bulk(z, self.nr_pcp_free(pcp, batch, high, free_high), pcp, pindex)
            return
        if pcp.alloc_factor:                     # (the kernel's first line: nothing above reads it)
            pcp.alloc_factor >>= 1
        free_count = pcp.free_count
        if order and order <= PAGE_ALLOC_COSTLY_ORDER:
            free_high = (free_count >= batch + pcp.high_min // 2
                         and bool(pcp.flags & PCPF_PREV_FREE_HIGH_ORDER))   # no PCPF_FREE_HIGH_BATCH
            pcp.flags |= PCPF_PREV_FREE_HIGH_ORDER
        else:
            free_high = False
            if pcp.flags:                        # PCPF_PREV_FREE_HIGH_ORDER is its only flag
                pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
        if free_count < batch << PCP_BATCH_SCALE_MAX:
            free_count = pcp.free_count = free_count + nr
        # nr_pcp_high()
        high = pcp.high
        high_min = pcp.high_min
        high_max = pcp.high_max
        if count < high and high_min <= high <= high_max and not free_high and not z.below_high:
            # below high, in range and not shrinking: every branch below leaves pcp->high
            # as it is and returns it, so nothing drains (tests/test_buddy_pcp_auto.py
            # checks this against the whole formula)
            return
        if not high_min <= high <= high_max:
            high = pcp.high = high_min if high < high_min else high_max
        if not high:
            pass
        elif free_high:
            pcp.high = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min)
            high = 0
        elif high_min == high_max:
            pass
        elif z.below_high:
            pcp.high = max(high - max(free_count, batch), high_min)
            high = max(count, high_min)
        elif count >= high:
            need_high = free_count + batch
            if high < need_high:
                pcp.high = min(max(need_high, high_min), high_max)
        if count < high:
            return
        self.free_pcppages_bulk(z, self.nr_pcp_free(pcp, batch, high, free_high), pcp, pindex)
        if z.below_high and self.zone_watermark_ok(z, 0, z.watermark[WMARK_HIGH],
                                                   len(z.lowmem_reserve) - 1, 0):
            z.below_high = False

    def nr_pcp_free(self, pcp: PerCpuPages, batch: int, high: int, free_high: bool) -> int:
        """``nr_pcp_free()``: how many pages a drain gives back: everything when freeing
        high-order pages in a row; 1 for a disabled list (high < batch); else at least
        ``batch`` and at most ``high - batch``: 5.14 .. 6.6 doubling per consecutive
        drain (``free_factor``), 6.7+ the pages freed in a row (``free_count``)."""
        if free_high:
            return pcp.count if self.tuning != "auto" else min(pcp.count, batch << PCP_BATCH_SCALE_MAX)
        if high < batch:
            return 1
        min_nr_free, max_nr_free = batch, high - batch
        if self.tuning == "auto":
            return min(max(pcp.free_count, min_nr_free), max_nr_free)
        batch <<= pcp.free_factor
        if batch < max_nr_free:
            pcp.free_factor += 1
        return min(max(batch, min_nr_free), max_nr_free)

    def free_pcppages_bulk(self, z: Zone, count: int, pcp: PerCpuPages, pindex: int = 0) -> None:
        """``free_pcppages_bulk()``: give ``count`` pages from the CPU's lists back to the
        buddy lists (``__free_one_page()`` each), from each list's tail (the pages that sat
        there longest), the lists in turn starting with ``pindex``. 4.5 .. 5.13 go round the
        migratetypes taking more from fuller lists (``batch_free``). The migratetype freed
        to is the one cached when the page went on the list (the list's) before 6.10, the
        pageblock's current one after."""
        if count > pcp.count:
            count = pcp.count
        if count <= 0:
            return
        k = self.k
        tr = k.tracer
        if tr is not None:
            tr.enter("free_pcppages_bulk", f"count={count} of {pcp.count}")
        pcp_before = pcp.count
        lists = pcp.lists
        free_one = self._free_one_page
        pageblock_mt = self.drain_pageblock_mt
        pb_mv, pbo = self.pageblock_mt_mv, self.pageblock_order
        emit = k.bus.subscribers
        freed = []                               # for the event, when someone listens
        hi = 0                                   # end of the highest block freed (the event's span)
        # each round takes n blocks from one list's tail (list_last_entry(), lst[0] here) at
        # once: a slice, not n pops from the front of a Python list
        if self.tuning == "fixed":               # 4.5: round robin over the migratetypes
            mt_i = 0
            batch_free = 0
            while count:
                while True:
                    batch_free += 1
                    mt_i = (mt_i + 1) % MIGRATE_PCPTYPES
                    lst = lists[mt_i]
                    if lst:
                        break
                if batch_free == MIGRATE_PCPTYPES:
                    batch_free = count           # the only non-empty list: free them all
                n = min(count, batch_free, len(lst))
                chunk = lst[:n]
                del lst[:n]
                count -= n
                batch_free -= n
                pcp.count -= n
                for pfn in chunk:
                    free_one(z, pfn, 0, pb_mv[pfn >> pbo] if pageblock_mt else mt_i, False)
                if emit:
                    freed += chunk
                    hi = max(hi, max(chunk) + 1)
        else:
            pindex_order, pindex_mt = self._pindex_order, self._pindex_mt
            nlists = len(lists)
            pindex -= 1
            while count > 0:
                while True:
                    pindex = pindex + 1 if pindex + 1 < nlists else 0
                    lst = lists[pindex]
                    if lst:
                        break
                order = pindex_order[pindex]
                nr = 1 << order
                mt_list = pindex_mt[pindex]
                n = -(-count // nr)                    # "while (count > 0 && !list_empty(list))"
                if n > len(lst):
                    n = len(lst)
                chunk = lst[:n]
                del lst[:n]
                count -= n * nr
                pcp.count -= n * nr
                if pageblock_mt or mt_list is None:
                    for pfn in chunk:
                        free_one(z, pfn, order, pb_mv[pfn >> pbo], False)
                else:
                    for pfn in chunk:
                        free_one(z, pfn, order, mt_list, False)
                if emit:
                    freed += chunk
                    hi = max(hi, max(chunk) + nr)
        if emit:
            lo = min(freed)
            k.bus.changed("free_pcppages_bulk", lo, hi - lo, K_FREE, detail=tuple(freed))
        if tr is not None:
            tr.leave(pcp_before - pcp.count)

    def _mark_frames(self, heads, order: int, kind: int) -> None:
        """mem_map kind of every frame of the blocks starting at ``heads`` (pcp moves)."""
        mm = self.mem_map
        if not order and len(heads) < 64:
            kmv = mm.kind_mv
            for p in heads:
                kmv[p] = kind
            return
        if not order:
            mm.kind[np.asarray(heads, np.int64)] = kind
            return
        nr = 1 << order
        if order > 3 or len(heads) > 16:
            idx = (np.asarray(heads, np.int64)[:, None] + np.arange(nr)[None, :]).ravel()
            mm.kind[idx] = kind
            return
        kmv = mm.kind_mv
        for h in heads:
            for p in range(h, h + nr):
                kmv[p] = kind

    def _free_one_page(self, z: Zone, pfn: int, order: int, mt: int, to_tail: bool) -> None:
        """``__free_one_page()``: merge upward with the buddy at ``pfn ^ (1 << order)``
        while it is a free block of the same order, then add to the head of the list (or
        the tail: FPI_TO_TAIL, or ``buddy_merge_likely()``: the next-larger buddy is free,
        so this block will probably merge soon and should be taken last)."""
        tr = self.k.tracer
        if tr is not None:
            tr.enter("__free_one_page")
            first = pfn
        mm = self.mem_map
        if not order:
            mm.kind_mv[pfn] = K_FREE
        elif order > 3:
            mm.kind[pfn:pfn + (1 << order)] = K_FREE
        else:
            kmv = mm.kind_mv
            for p in range(pfn, pfn + (1 << order)):
                kmv[p] = K_FREE
        head = z._head
        lists = z._lists
        z.nr_free_pages += 1 << order
        top = self.max_order - 1
        buddy_pfn = pfn
        start = order
        while order < top:
            buddy_pfn = pfn ^ (1 << order)
            v = head.get(buddy_pfn)
            if v is None or v >> 3 != order:
                break
            del head[buddy_pfn]
            del lists[order][v & 7][buddy_pfn]
            pfn &= buddy_pfn
            order += 1
        if not to_tail and order < top - 1:
            hb = head.get((buddy_pfn & pfn) ^ (1 << (order + 1)))
            to_tail = hb is not None and hb >> 3 == order + 1
        lst = lists[order][mt]
        lst[pfn] = None
        if to_tail:
            lst.move_to_end(pfn, last=False)
        head[pfn] = (order << 3) | mt
        if tr is not None:
            tr.stack[-1].detail = (f"pfn={first:#x} order={start}: {order - start} buddies merged: block "
                                   f"{pfn:#x} of order {order} on free_area[{order}]"
                                   + (" (tail)" if to_tail else ""))
            tr.leave()

    def _free_pages_memory(self, z: Zone, start: int, end: int) -> None:
        """memblock_free_all() -> ``__free_pages_memory()``: free [start, end) as the
        largest naturally aligned blocks, each to the list tail (FPI_TO_TAIL), lowest first."""
        top = self.max_order - 1
        while start < end:
            order = min(top, (start & -start).bit_length() - 1) if start else top
            while start + (1 << order) > end:
                order -= 1
            mt = int(self.pageblock_mt[start >> self.pageblock_order])
            self._free_one_page(z, start, order, mt, True)
            start += 1 << order

    free_boot_range = _free_pages_memory

    # -- draining the per-CPU lists ----------------------------------------------------

    def drain_pages_zone(self, cpu: int, z: Zone) -> int:
        """``drain_pages_zone()``: everything on ``cpu``'s lists of ``z`` back to the buddy
        lists, at most ``batch << PCP_BATCH_SCALE_MAX`` pages per round. Returns the pages."""
        if not z.per_cpu_pageset:
            return 0
        pcp = z.per_cpu_pageset[cpu]
        total = pcp.count
        while pcp.count:
            self.free_pcppages_bulk(z, min(pcp.count, pcp.batch << PCP_BATCH_SCALE_MAX), pcp, 0)
        return total

    def drain_all_pages(self, zone: Zone | None = None) -> int:
        """``drain_all_pages()``: every CPU's pcp lists (of one zone, or of every populated
        zone) back to the buddy lists, as memory offlining, compaction and the OOM path do.
        Returns how many pages moved."""
        tr = self.k.tracer
        if tr is not None:
            tr.enter("drain_all_pages", zone.name if zone is not None else "")
        moved = 0
        for cpu in range(self.k.nr_cpus):
            for z in ([zone] if zone is not None else self.zones):
                if z.populated():
                    moved += self.drain_pages_zone(cpu, z)
        if tr is not None:
            tr.leave(moved)
        return moved

    def __deepcopy__(self, memo):
        # memoryviews cannot be copied: copy everything else, then view the new array
        new = copy.copy(self)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            if name != "pageblock_mt_mv":
                setattr(new, name, copy.deepcopy(value, memo))
        new.pageblock_mt_mv = memoryview(new.pageblock_mt)
        return new

    # -- warnings --------------------------------------------------------------------

    def warn_alloc(self, gfp: int, message: str, order: int = 0) -> None:
        """warn_alloc(): the allocation-failure report, then show_mem()'s free areas.

        Per generation: 4.5 - 4.8 ``warn_alloc_failed(gfp_mask, order, fmt, ...)`` prints
        the caller's message (if it is not the page allocator's own) on a line of its own,
        then ``%s: page allocation failure: order:%u, mode:%#x(%pGg)``; 4.9+ ``warn_alloc()``
        puts the message in the line, ``%s: %pV, mode:%#x(%pGg), nodemask=(null)``, with
        the cpuset on a line of its own until 5.0 and appended to it after."""
        if gfp & G.F_NOWARN:
            return
        k = self.k
        gen = k.gen
        if k.tracer is not None:
            k.tracer.leaf("warn_alloc_failed" if gen.warn_alloc_failed else "warn_alloc", message)
        nodes = "0" if k.nr_nodes == 1 else f"0-{k.nr_nodes - 1}"
        mode = G.format_gfp(gfp, gen) if gen.mode_pGg else f"{G.gfp_value_for(gfp, gen):#x}"
        if gen.warn_alloc_failed:
            own = message.startswith("page allocation failure")
            lines = ([] if own else [message]) + [f"{k.comm}: page allocation failure: order:{order}, mode:{mode}"]
        elif gen.cpuset_on_failure_line:
            lines = [f"{k.comm}: {message}, mode:{mode}, nodemask=(null),cpuset=/,mems_allowed={nodes}"]
        else:
            lines = [f"{k.comm}: {message}, mode:{mode}, nodemask=(null)",
                     f"{k.comm} cpuset=/ mems_allowed={nodes}"]
        lines += [f"{k.cpu_line()}",
                 f"Hardware name: {k.hardware_name}",
                 "Mem-Info:"]
        lines += self.show_free_areas()
        k.log.printk("warn", "\n".join(lines))

    def show_free_areas(self) -> list[str]:
        """show_free_areas(): ``Node 0 DMA32: 3*4kB (UM) ... = 12345kB`` per zone."""
        letters = "UMEHI"      # Unmovable, Movable, rEclaimable, Highatomic, Isolate
        kb = self.k.profile.page_size >> 10
        out = []
        for z in self.zones:
            if not z.populated():
                continue
            parts = []
            total = 0
            for o in range(self.max_order):
                n = 0
                types = ""
                for mt in range(G.MIGRATE_TYPES):
                    c = len(z._lists[o][mt])
                    n += c
                    if c:
                        types += letters[mt]
                total += n << o
                parts.append(f"{n}*{kb << o}kB " + (f"({types}) " if n else ""))
            out.append(f"Node {z.node} {z.name}: " + "".join(parts) + f"= {total * kb}kB")
        return out
