"""The buddy allocator: zones, ``free_area[order]`` and ``alloc_pages`` / ``__free_pages``.

Models mm/page_alloc.c (v6.6 behaviour, MAX_ORDER 11 exclusive as in 4.x-6.3, so orders
0..10 = 4 KiB .. 4 MiB on x86_64):

- ``zone->free_area[order].free_list[migratetype]`` with ``nr_free``. A free block is
  known by its first frame (``PageBuddy`` + ``buddy_order`` in the kernel).
- ``__rmqueue_smallest()`` takes the first block of the smallest order that has one and
  ``expand()`` splits it: the lower half is kept, each upper half goes back on the free
  list one order down.
- ``__free_one_page()`` merges with the buddy at ``pfn ^ (1 << order)`` while that
  buddy is a free block of the same order in the same zone, then puts the result at the
  list head (or the tail when ``buddy_merge_likely()``: the next-larger buddy is free).
- ``__rmqueue_fallback()`` steals from another migratetype (the largest block first)
  and claims its pageblock, as the kernel's anti-fragmentation does.
- Watermarks (min/low/high) and ``lowmem_reserve`` are computed at boot as
  ``__setup_per_zone_wmarks()`` and ``setup_per_zone_lowmem_reserve()`` do; the fast path
  needs the low watermark, the slow path the min watermark lowered for ``__GFP_HIGH``
  and non-blocking (``GFP_ATOMIC``) requests.

Simplifications: no per-cpu page lists (pcp) — every order-0 page goes through the free
lists, so ``/proc/buddyinfo`` shows every page; no reclaim, compaction or OOM killer
(kmemlab has no page cache to reclaim), so an allocation that fails the min watermark
fails; ``move_freepages_block`` counts no movable pages when it decides to claim a
pageblock (kmemlab has no page migration).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np

from . import gfp as G
from .errors import KernelBug
from .mem_map import K_FREE, PG_head, PG_tail

__all__ = ["Zone", "FreeArea", "BuddyAllocator", "WMARK_MIN", "WMARK_LOW", "WMARK_HIGH"]

WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO = 0, 1, 2, 3
MIGRATE_PCPTYPES = 3
#: mm/page_alloc.c fallbacks[]: where each migratetype steals from, in order
FALLBACKS = {
    G.MIGRATE_UNMOVABLE: (G.MIGRATE_RECLAIMABLE, G.MIGRATE_MOVABLE),
    G.MIGRATE_MOVABLE: (G.MIGRATE_RECLAIMABLE, G.MIGRATE_UNMOVABLE),
    G.MIGRATE_RECLAIMABLE: (G.MIGRATE_UNMOVABLE, G.MIGRATE_MOVABLE),
}
#: mm/page_alloc.c sysctl_lowmem_reserve_ratio[] by zone name
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, "HighMem": 0}
SWAP_CLUSTER_MAX = 32

# alloc_flags (mm/internal.h), the ones kmemlab models
ALLOC_WMARK_MIN, ALLOC_WMARK_LOW = 0, 1
ALLOC_NO_WATERMARKS = 0x04
ALLOC_MIN_RESERVE = 0x08    # __GFP_HIGH
ALLOC_NON_BLOCK = 0x10      # cannot sleep: GFP_ATOMIC, GFP_NOWAIT


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
        self.nr_free_pages = 0            # NR_FREE_PAGES
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

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        return self.present_pages > 0

    def free_order(self, pfn: int):
        v = self._head.get(pfn)
        return None if v is None else v >> 3

    def __repr__(self):
        return (f"<zone {self.name} node {self.node}: pfn {self.zone_start_pfn:#x}-{self.zone_end_pfn:#x} "
                f"managed {self.managed_pages} free {self.nr_free_pages}>")


class BuddyAllocator:
    """The page allocator of one machine: ``alloc_pages()`` and ``__free_pages()``."""

    def __init__(self, machine_state):
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

    # -- look-ups ------------------------------------------------------------------

    def zone_of(self, pfn: int) -> Zone | None:
        z = int(self.mem_map.zone[pfn]) if 0 <= pfn < self.mem_map.max_pfn else -1
        return self.zones[z] if z >= 0 else None

    def free_order(self, pfn: int):
        """Order of the free block starting at ``pfn``, or None (``PageBuddy``)."""
        z = self.zone_of(pfn)
        return None if z is None else z.free_order(pfn)

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

    # -- watermarks ------------------------------------------------------------------

    def setup_watermarks(self) -> None:
        """calculate_min_free_kbytes() + __setup_per_zone_wmarks() +
        setup_per_zone_lowmem_reserve()."""
        kb_per_page = self.k.profile.page_size >> 10
        lowmem = [z for z in self.zones if z.name != "HighMem"]
        lowmem_pages = sum(z.managed_pages for z in lowmem)
        lowmem_kbytes = lowmem_pages * kb_per_page
        self.min_free_kbytes = min(max(int(np.sqrt(lowmem_kbytes * 16)), 128), self.k.gen.min_free_kbytes_max)
        # int_sqrt rounds down; numpy's float sqrt can be one too high near squares
        while self.min_free_kbytes * self.min_free_kbytes > lowmem_kbytes * 16 and self.min_free_kbytes > 128:
            self.min_free_kbytes -= 1
        pages_min = self.min_free_kbytes >> (self.k.profile.page_shift - 10)
        for z in self.zones:
            tmp = pages_min * z.managed_pages // lowmem_pages if lowmem_pages else 0
            if z.name == "HighMem":
                wmin = min(max(z.managed_pages // 1024, SWAP_CLUSTER_MAX), 128)
            else:
                wmin = tmp
            tmp = max(tmp >> 2, z.managed_pages * 10 // 10000)   # watermark_scale_factor 10
            z.watermark = [wmin, wmin + tmp, wmin + 2 * tmp, wmin + 3 * tmp]
        nzt = len(self.k.zone_types)
        for z in self.zones:
            ratio = LOWMEM_RESERVE_RATIO[z.name]
            node_zones = sorted((y for y in self.zones if y.node == z.node), key=lambda y: y.zone_idx)
            z.lowmem_reserve = [0] * nzt
            upper = 0
            for j in range(z.zone_idx + 1, nzt):
                upper += node_zones[j].managed_pages
                z.lowmem_reserve[j] = 0 if (not ratio or not z.managed_pages) else upper // ratio

    def totalreserve_pages(self) -> int:
        """calculate_totalreserve_pages(): what MemAvailable holds back."""
        total = 0
        for z in self.zones:
            r = max(z.lowmem_reserve) + z.watermark[WMARK_HIGH]
            total += min(r, z.managed_pages)
        return total

    def _watermark_ok(self, z: Zone, order: int, mark: int, highest: int, alloc_flags: int) -> bool:
        """__zone_watermark_ok()."""
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

    # -- allocation ------------------------------------------------------------------

    def alloc(self, gfp: int, order: int, kind: int, owner: int = 0, node: int | None = None,
              warn: bool = True, entry: str = "__alloc_pages_chain") -> int:
        """__alloc_pages(): a block of 2**order frames, or -1 (the failure is logged
        like warn_alloc() unless __GFP_NOWARN). ``gfp`` is a validated int. ``entry`` names
        the chain of functions (:mod:`~kmemlab.kernel.generation`) a trace shows for the
        call: ``alloc_pages()`` has mempolicy wrappers, slab pages come frozen on 6.14+."""
        if order >= self.max_order:
            # __alloc_pages(): WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp) (6.4+; before,
            # `order >= MAX_ORDER` and WARN_ON_ONCE(!(gfp_mask & __GFP_NOWARN))) and NULL:
            # no allocation-failure report
            k = self.k
            names = k.gen.chain(entry)
            if k.tracer is not None:
                op = ">" if k.gen.max_order_inclusive else ">="
                k.tracer.leaf(names[-1], f"order {order} {op} {k.gen.max_order_macro}: WARN and NULL")
            if warn and not gfp & G.F_NOWARN:
                k.warn_on("order_too_big", k.gen.order_warn_site, names[-1], names[:-1])
            return -1
        k = self.k
        if node is None or node < 0:
            node = k.numa_node_id() if k.nr_nodes > 1 else 0
        # an int key (a node id fits in 10 bits: MAX_NUMNODES is 1024): no tuple per call
        plan = self._plans.get((gfp << 10) | node)
        if plan is None:
            plan = self._plans[(gfp << 10) | node] = self._plan(gfp, node)
        zl, highest, mt = plan
        tr = k.tracer
        if tr is not None:
            return self._alloc_traced(tr, gfp, order, kind, owner, zl, highest, mt, warn, entry)
        pfn = -1
        # get_page_from_freelist() with ALLOC_WMARK_LOW: the fast path. zone_watermark_ok()
        # and __rmqueue_smallest() + expand() are inlined (this is the hottest code of
        # kmemlab). The watermark's "a free block of at least this order" test is
        # implied when the migratetype has one; it is made only before a fallback.
        max_order = self.max_order
        for z in zl:
            if z.nr_free_pages - ((1 << order) - 1) <= z.watermark[1] + z.lowmem_reserve[highest]:
                continue
            lists = z._lists
            cur = order
            while cur < max_order:
                fl = lists[cur][mt]
                if fl:
                    pfn = fl.popitem()[0]        # the list head (lists are stored reversed)
                    head = z._head
                    del head[pfn]
                    while cur > order:           # expand(): hand back the upper halves
                        cur -= 1
                        b = pfn + (1 << cur)
                        lists[cur][mt][b] = None     # add_to_free_list(): the list head
                        head[b] = (cur << 3) | mt
                    z.nr_free_pages -= 1 << order
                    break
                cur += 1
            else:
                if order and not self._watermark_ok(z, order, z.watermark[WMARK_LOW], highest, 0):
                    continue
                if self._rmqueue_fallback(z, order, mt):
                    pfn = self._rmqueue_smallest(z, order, mt)
            if pfn >= 0:
                break
        if pfn < 0:
            pfn = self._alloc_slowpath(gfp, order, zl, highest, mt, warn)
            if pfn < 0:
                return -1
        if order:
            self._prep_new_page(pfn, order, gfp, kind, owner)
            return pfn
        # _prep_new_page() for one frame (__GFP_COMP means nothing at order 0)
        mm = self.mem_map
        mm.kind_mv[pfn] = kind
        mm.owner_mv[pfn] = owner
        mm.order_mv[pfn] = 0
        if gfp & G.F_ZERO:
            k.memory.zero(pfn, 1)
        bus = k.bus
        if bus.subscribers:
            bus.changed("alloc_pages", pfn, 1, kind)
        return pfn

    def _alloc_traced(self, tr, gfp: int, order: int, kind: int, owner: int, zl: list, highest: int,
                      mt: int, warn: bool, entry: str = "__alloc_pages_chain") -> int:
        """alloc() while a trace records: the same steps, each entered and left."""
        names = self.k.gen.chain(entry)
        for n in names[:-1]:
            tr.enter(n)
        tr.enter(names[-1], f"gfp={G.format_gfp(gfp, self.k.gen)} order={order}")
        tr.enter("get_page_from_freelist", "ALLOC_WMARK_LOW")
        pfn = -1
        for z in zl:
            if (z.nr_free_pages - ((1 << order) - 1) > z.watermark[1] + z.lowmem_reserve[highest]
                    if not order else self._watermark_ok(z, order, z.watermark[WMARK_LOW], highest, 0)):
                pfn = self._rmqueue_traced(tr, z, order, mt)
                if pfn >= 0:
                    break
            else:
                tr.leaf("zone_watermark_fast", f"zone={z.name} below low watermark", False)
        tr.leave(pfn)
        if pfn < 0:
            pfn = self._alloc_slowpath(gfp, order, zl, highest, mt, warn)
        if pfn >= 0:
            self._prep_new_page(pfn, order, gfp, kind, owner)
            if tr.events is not None:       # __alloc_pages(): trace_mm_page_alloc()
                tr.kmem("mm_page_alloc", page=self.k.virt_of_page(pfn), pfn=pfn, order=order,
                        migratetype=mt, gfp_flags=gfp)
        for _ in names:
            tr.leave(pfn if pfn >= 0 else None)
        return pfn

    def alloc_bulk(self, gfp: int, nr: int, kind: int, owner: int = 0, node: int | None = None) -> list[int]:
        """__alloc_pages_bulk() (mm/page_alloc.c, 5.13+): up to ``nr`` order-0 pages in
        one call, as vm_area_alloc_pages() asks for them (at most 100 at a time).

        As in the kernel: one request for one page, or no zone of the preferred node
        above its low watermark *plus nr*, goes to the single-page allocator
        (``__alloc_pages``, with its slow path and warn_alloc); otherwise the pages are
        taken from that one zone without further watermark checks until it has none of
        the migratetype left (a partial result, which the caller completes page by page).
        The free lists change exactly as ``nr`` calls of __rmqueue() would change them
        (kmemlab has no per-cpu lists, whose refill is the same __rmqueue() loop); the
        mem_map stores are one numpy store per array and one ``alloc_pages_bulk`` event
        (pfn = the lowest page, nr_pages = the span, detail = the pfn list).
        Not modelled: the memcg __GFP_ACCOUNT refusal and cpuset checks."""
        if nr <= 0:
            return []
        if node is None or node < 0:
            node = self.k.numa_node_id()
        tr = self.k.tracer
        if nr == 1:                      # "Use the single page allocator for one page."
            pfn = self.alloc(gfp, 0, kind, owner, node)
            return [] if pfn < 0 else [pfn]
        plan = self._plans.get((gfp << 10) | node)
        if plan is None:
            plan = self._plans[(gfp << 10) | node] = self._plan(gfp, node)
        zl, highest, mt = plan
        zone = None
        multi = self.k.nr_nodes > 1
        for z in zl:
            # only zones of the preferred zone's node: a remote zone means "failed"
            if multi and z is not zl[0] and z.node != zl[0].node:
                break
            if z.nr_free_pages > z.watermark[WMARK_LOW] + nr + z.lowmem_reserve[highest]:
                zone = z
                break
            if tr is not None:
                tr.leaf("zone_watermark_fast", f"zone={z.name} free <= low + {nr}", False)
        pages = [] if zone is None else self._rmqueue_bulk(zone, nr, mt)
        if not pages:                    # the "failed" label: one page, the hard way
            pfn = self.alloc(gfp, 0, kind, owner, node)
            return [] if pfn < 0 else [pfn]
        if tr is not None:
            tr.leaf("zone_watermark_fast", f"zone={zone.name} free > low + {nr}", True)
            for pfn in pages:
                tr.leaf("__rmqueue_pcplist", f"zone={zone.name} migratetype="
                                              f"{G.MIGRATETYPE_NAMES[mt]}", pfn)
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
        if gfp & G.F_ZERO:
            zero = self.k.memory.zero
            for pfn in pages:
                zero(pfn, 1)
        bus = self.k.bus
        if bus.subscribers:
            lo = min(pages)
            bus.changed("alloc_pages_bulk", lo, max(pages) + 1 - lo, kind, detail=tuple(pages))
        return pages

    def _rmqueue_bulk(self, z: Zone, nr: int, mt: int) -> list[int]:
        """``nr`` order-0 __rmqueue() calls on zone ``z``, inlined: pop the order-0
        list head while it has pages, else split the smallest larger block
        (__rmqueue_smallest + expand) or steal (__rmqueue_fallback). Stops early
        when the zone has nothing left for ``mt``."""
        out: list[int] = []
        append = out.append
        head = z._head
        l0 = z._lists[0][mt]
        pop = l0.popitem
        taken = 0                        # pages popped straight from free_area[0]
        n = 0
        while n < nr:
            if l0:
                for _ in range(min(nr - n, len(l0))):
                    pfn = pop()[0]
                    del head[pfn]
                    append(pfn)
                    taken += 1
                    n += 1
                continue
            pfn = self._rmqueue_smallest(z, 0, mt)     # counts its own page
            if pfn < 0:
                if not self._rmqueue_fallback(z, 0, mt):
                    break
                continue
            append(pfn)
            n += 1
        z.nr_free_pages -= taken
        return out

    def free_bulk(self, pfns: list[int]) -> None:
        """``__free_pages(page, 0)`` for each of ``pfns`` in order, as vfree() does,
        with the mem_map stores done once for all (numpy) and one ``free_pages_bulk``
        event. The merges run page by page in the same order, so the free lists end
        up exactly as with one free() per page. The caller owns the pages (they are
        allocated order-0 blocks); with a tracer active each page is freed traced."""
        if not pfns:
            return
        tr = self.k.tracer
        if tr is not None:
            for pfn in pfns:
                self.free(pfn, 0)
            return
        mm = self.mem_map
        n = len(pfns)
        if n > 64:
            idx = np.array(pfns, np.int64)
            mm.kind[idx] = K_FREE
            mm.owner[idx] = 0
            mm.flags[idx] = 0
            mm.order[idx] = -1
        else:       # a numpy fancy-index store costs more than 64 memoryview stores
            kmv, omv, fmv, rmv = mm.kind_mv, mm.owner_mv, mm.flags_mv, mm.order_mv
            for pfn in pfns:
                kmv[pfn] = K_FREE
                omv[pfn] = 0
                fmv[pfn] = 0
                rmv[pfn] = -1
        zones = self.zones
        zone_mv = mm.zone_mv
        pb_mv = self.pageblock_mt_mv
        pbo = self.pageblock_order
        top = self.max_order - 1
        i = 0
        while i < n:
            pfn = pfns[i]
            order = 0
            if not pfn & 1 and i + 1 < n and pfns[i + 1] == pfn + 1:
                # pages pfn, pfn+1, ... that make up a whole naturally aligned block (as
                # the bulk allocator hands them out) end up, once all are freed, exactly
                # as that block freed at once: every buddy below its order lies inside it
                # and was allocated, so the frees in between only merge with each other
                # and every intermediate block they list is taken off again by the next
                # merge. So the replay merges from the block's order (same zone and
                # pageblock: at most pageblock_order, first and last frame in one zone).
                lim = min(n - i, 1 << pbo)
                j = i + 2
                while j - i < lim and pfns[j] == pfn + (j - i):
                    j += 1
                order = (j - i).bit_length() - 1
                align = (pfn & -pfn).bit_length() - 1 if pfn else pbo
                if align < order:
                    order = align
                if zone_mv[pfn] != zone_mv[pfn + (1 << order) - 1]:
                    order = 0
            i += 1 << order
            # _free_one_page(zone, pfn, order, migratetype, False), inlined
            z = zones[zone_mv[pfn]]
            head = z._head
            lists = z._lists
            mt = pb_mv[pfn >> pbo]
            z.nr_free_pages += 1 << order
            buddy_pfn = pfn
            while order < top:
                buddy_pfn = pfn ^ (1 << order)
                v = head.get(buddy_pfn)
                if v is None or v >> 3 != order:
                    break
                del head[buddy_pfn]
                del lists[order][v & 7][buddy_pfn]
                pfn &= buddy_pfn
                order += 1
            to_tail = False
            if order < top - 1:          # buddy_merge_likely()
                hb = head.get((buddy_pfn & pfn) ^ (1 << (order + 1)))
                to_tail = hb is not None and hb >> 3 == order + 1
            lst = lists[order][mt]
            lst[pfn] = None
            if to_tail:
                lst.move_to_end(pfn, last=False)
            head[pfn] = (order << 3) | mt
        bus = self.k.bus
        if bus.subscribers:
            lo = min(pfns)
            bus.changed("free_pages_bulk", lo, max(pfns) + 1 - lo, K_FREE, detail=tuple(pfns))

    def _rmqueue_traced(self, tr, z: Zone, order: int, mt: int) -> int:
        """The same as the fast path's rmqueue, recording rmqueue -> __rmqueue ->
        __rmqueue_smallest -> expand (and __rmqueue_fallback when it steals)."""
        gen = self.k.gen
        tr.enter(gen.name("rmqueue"), f"zone={z.name} order={order} migratetype={G.MIGRATETYPE_NAMES[mt]}")
        buddy_step = self.k.gen.rmqueue_buddy
        if buddy_step:
            tr.enter("rmqueue_buddy")
        tr.enter("__rmqueue")
        pfn = self._rmqueue_smallest_traced(tr, z, order, mt)
        if pfn < 0:
            tr.enter(gen.name("__rmqueue_fallback"))
            stole = self._rmqueue_fallback(z, order, mt)
            if stole:
                tr.leaf(gen.name("steal_suitable_fallback"), f"to {G.MIGRATETYPE_NAMES[mt]}")
            tr.leave(stole)
            if stole:
                pfn = self._rmqueue_smallest_traced(tr, z, order, mt)
        tr.leave(pfn)
        if buddy_step:
            tr.leave(pfn)
        return tr.leave(pfn)

    def _rmqueue_smallest_traced(self, tr, z: Zone, order: int, mt: int) -> int:
        found = next((o for o in range(order, self.max_order) if z._lists[o][mt]), None)
        tr.enter("__rmqueue_smallest", f"order={order}")
        pfn = self._rmqueue_smallest(z, order, mt)
        if found is not None and found > order:
            tr.leaf("expand", f"split an order-{found} block: {found - order} upper halves "
                              f"back to free_area[{order}..{found - 1}]")
        return tr.leave(pfn)

    def _plan(self, gfp: int, node: int):
        """What a gfp mask means, worked out once per (gfp, node): the zonelist, the
        highest zone index (gfp_zone) and the migratetype (gfp_migratetype)."""
        highest = self.k.zone_type_index(G.gfp_zone(gfp, self.k.profile))
        return (self.zonelist(node, highest, bool(gfp & G.F_THISNODE)), highest,
                G.gfp_migratetype(gfp))

    def _alloc_slowpath(self, gfp: int, order: int, zl: list[Zone], highest: int, mt: int,
                        warn: bool) -> int:
        """__alloc_pages_slowpath() without reclaim: retry at the min watermark with the
        reserves gfp_to_alloc_flags() grants."""
        alloc_flags = ALLOC_WMARK_MIN
        if gfp & G.F_HIGH:
            alloc_flags |= ALLOC_MIN_RESERVE
        if not gfp & G.F_DIRECT_RECLAIM:
            alloc_flags |= ALLOC_NON_BLOCK
        no_wmark = bool(gfp & G.F_MEMALLOC) and not gfp & G.F_NOMEMALLOC
        tr = self.k.tracer
        if tr is not None:
            tr.enter("__alloc_pages_slowpath")
            tr.enter("get_page_from_freelist", "ALLOC_NO_WATERMARKS" if no_wmark else "ALLOC_WMARK_MIN")
        pfn = -1
        for z in zl:
            if no_wmark or self._watermark_ok(z, order, z.watermark[WMARK_MIN], highest, alloc_flags):
                pfn = self._rmqueue(z, order, mt) if tr is None else self._rmqueue_traced(tr, z, order, mt)
                if pfn >= 0:
                    break
        if tr is not None:
            tr.leave(pfn)
        if pfn < 0 and warn:       # the "nopage:" label
            self.warn_alloc(gfp, f"page allocation failure: order:{order}", order)
        if tr is not None:
            tr.leave(pfn)
        return pfn

    def _rmqueue(self, z: Zone, order: int, mt: int) -> int:
        """__rmqueue(): the smallest block of the migratetype, else steal one."""
        pfn = self._rmqueue_smallest(z, order, mt)
        if pfn < 0 and self._rmqueue_fallback(z, order, mt):
            pfn = self._rmqueue_smallest(z, order, mt)
        return pfn

    def _rmqueue_smallest(self, z: Zone, order: int, mt: int) -> int:
        """__rmqueue_smallest() + expand()."""
        lists = z._lists
        head = z._head
        for cur in range(order, self.max_order):
            fl = lists[cur][mt]
            if fl:
                pfn = fl.popitem()[0]
                del head[pfn]
                while cur > order:               # expand(): hand back the upper halves
                    cur -= 1
                    b = pfn + (1 << cur)
                    lists[cur][mt][b] = None     # add_to_free_list(): the list head
                    head[b] = (cur << 3) | mt
                z.nr_free_pages -= 1 << order
                return pfn
        return -1

    def _can_steal_fallback(self, order: int, start_mt: int) -> bool:
        if order >= self.pageblock_order:
            return True
        return (order >= self.pageblock_order // 2 or start_mt == G.MIGRATE_RECLAIMABLE
                or start_mt == G.MIGRATE_UNMOVABLE)

    def _rmqueue_fallback(self, z: Zone, order: int, start_mt: int) -> bool:
        """__rmqueue_fallback(): steal the largest suitable block of another type."""
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
        if found is None:
            return False
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
        cur, fmt, can_steal = found
        pfn = next(reversed(z._lists[cur][fmt]))     # the list head
        self._steal_suitable_fallback(z, pfn, cur, start_mt, can_steal)
        return True

    def __deepcopy__(self, memo):
        # memoryviews cannot be copied: copy everything else, then view the new array
        new = copy.copy(self)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            if name != "pageblock_mt_mv":
                setattr(new, name, copy.deepcopy(value, memo))
        new.pageblock_mt_mv = memoryview(new.pageblock_mt)
        return new

    def _move_to_free_list(self, z: Zone, pfn: int, order: int, mt: int) -> None:
        old = z._head[pfn] & 7
        del z._lists[order][old][pfn]
        lst = z._lists[order][mt]
        lst[pfn] = None                            # list_move_tail(): the list's end is
        lst.move_to_end(pfn, last=False)           # the OrderedDict's front
        z._head[pfn] = (order << 3) | mt

    def _steal_suitable_fallback(self, z: Zone, pfn: int, cur: int, start_mt: int, whole_block: bool):
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

    def _prep_new_page(self, pfn: int, order: int, gfp: int, kind: int, owner: int) -> None:
        mm = self.mem_map
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
        if gfp & G.F_COMP and order:
            fmv = mm.flags_mv
            fmv[pfn] = PG_head
            if order > 3:
                mm.flags[pfn + 1:end] = PG_tail
            else:
                for p in range(pfn + 1, end):
                    fmv[p] = PG_tail
        if gfp & G.F_ZERO:
            self.k.memory.zero(pfn, nr)
        bus = self.k.bus
        if bus.subscribers:
            bus.changed("alloc_pages", pfn, nr, kind)

    # -- freeing ---------------------------------------------------------------------

    def check_free(self, pfn: int, order: int) -> None:
        """free_pages_prepare()/free_page_is_bad(): raise KernelBug, changing nothing,
        when the block is not an allocated block of exactly that order."""
        mm = self.mem_map
        if 0 <= pfn < mm.max_pfn and mm.order_mv[pfn] == order and order < self.max_order:
            return                       # the common case: the head of a block of that order
        if not 0 <= pfn < mm.max_pfn or mm.zone[pfn] < 0:
            raise self._bad_page(pfn, "pfn is not a frame of this machine's RAM")
        if order < 0 or order >= self.max_order:
            raise self._bad_page(pfn, f"order {order} is outside 0..{self.max_order - 1}")
        if mm.kind[pfn] == K_FREE:
            raise self._bad_page(pfn, "page is already free (PageBuddy): double free")
        have = int(mm.order[pfn])
        if have < 0:
            if mm.flags[pfn] & PG_tail:
                raise self._bad_page(pfn, "tail page of a compound page, not its head")
            raise self._bad_page(pfn, f"frame is {mm.kind_name(pfn)}, not the start of a block "
                                      "from alloc_pages()")
        if have != order:
            raise self._bad_page(pfn, f"freed with order {order} but allocated with order {have}")

    def _bad_page(self, pfn: int, reason: str) -> KernelBug:
        """bad_page(): the report the kernel prints before tainting itself."""
        k = self.k
        mm = self.mem_map
        ok = 0 <= pfn < mm.max_pfn
        flags = "|".join(mm.flag_names(pfn)) if ok else ""
        text = (f"BUG: Bad page state in process {k.comm}  pfn:{pfn:05x}\n"
                f"page:{k.virt_of_page(pfn):#018x} refcount:{1 if ok and mm.order[pfn] >= 0 else 0} "
                f"mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}\n"
                f"flags: {flags or 'none'}\n"
                f"page dumped because: {reason}")
        k.log.printk("alert", text)
        return KernelBug(f"Bad page state: pfn {pfn:#x}: {reason}", text)

    def free(self, pfn: int, order: int, entry: str = "free_pages_chain") -> None:
        """__free_pages(): give a block back, merging with free buddies. The caller has
        run check_free(). ``entry``: the chain a trace shows (slab pages are freed frozen
        on 6.14+)."""
        mm = self.mem_map
        nr = 1 << order
        if not order:
            mm.kind_mv[pfn] = K_FREE
            mm.owner_mv[pfn] = 0
            mm.flags_mv[pfn] = 0
        elif order > 3:
            end = pfn + nr
            mm.kind[pfn:end] = K_FREE
            mm.owner[pfn:end] = 0
            mm.flags[pfn:end] = 0
        else:       # memoryview stores: a numpy slice store costs ~1 us to set up
            kmv = mm.kind_mv
            omv = mm.owner_mv
            fmv = mm.flags_mv
            for p in range(pfn, pfn + nr):
                kmv[p] = K_FREE
                omv[p] = 0
                fmv[p] = 0
        mm.order_mv[pfn] = -1
        z = self.zones[mm.zone_mv[pfn]]
        k = self.k
        tr = k.tracer
        if tr is not None:
            self._free_traced(tr, z, pfn, order, entry)
        else:
            # _free_one_page(z, pfn, order, migratetype, False), inlined
            mt = self.pageblock_mt_mv[pfn >> self.pageblock_order]
            ev_pfn = pfn
            head = z._head
            lists = z._lists
            z.nr_free_pages += nr
            top = self.max_order - 1
            buddy_pfn = pfn
            while order < top:
                buddy_pfn = pfn ^ (1 << order)
                v = head.get(buddy_pfn)
                if v is None or v >> 3 != order:
                    break
                del head[buddy_pfn]
                del lists[order][v & 7][buddy_pfn]
                pfn &= buddy_pfn
                order += 1
            lst = lists[order][mt]
            lst[pfn] = None                  # add_to_free_list(): the list head
            if order < top - 1:
                # buddy_merge_likely(): the next-larger buddy is free, so this block will
                # probably merge soon: put it at the tail, where it is taken last
                hb = head.get((buddy_pfn & pfn) ^ (1 << (order + 1)))
                if hb is not None and hb >> 3 == order + 1:
                    lst.move_to_end(pfn, last=False)
            head[pfn] = (order << 3) | mt
            pfn = ev_pfn
        bus = k.bus
        if bus.subscribers:
            bus.changed("free_pages", pfn, nr, K_FREE)

    def _free_traced(self, tr, z: Zone, pfn: int, order: int, entry: str = "free_pages_chain") -> None:
        names = self.k.gen.chain(entry)
        for i, n in enumerate(names):
            tr.enter(n, f"pfn={pfn:#x} order={order}" if i == 0 else "")
        if tr.events is not None:           # free_pages_prepare(): trace_mm_page_free()
            tr.kmem("mm_page_free", page=self.k.virt_of_page(pfn), pfn=pfn, order=order)
        before = len(z._head)
        tr.enter("__free_one_page")
        self._free_one_page(z, pfn, order, self.pageblock_mt_mv[pfn >> self.pageblock_order], False)
        merged = before + 1 - len(z._head)
        head = next(p for p in (pfn & ~((1 << o) - 1) for o in range(order, self.max_order))
                    if z._head.get(p) is not None)
        final = z._head[head] >> 3
        tr.stack[-1].detail = f"{merged} buddies merged: block {head:#x} of order {final} on free_area[{final}]"
        tr.leave()
        for _ in names:
            tr.leave()

    def _free_one_page(self, z: Zone, pfn: int, order: int, mt: int, to_tail: bool) -> None:
        """__free_one_page(): merge upward, then add to the head (or tail) of the list."""
        head = z._head
        lists = z._lists
        z.nr_free_pages += 1 << order
        top = self.max_order - 1
        buddy_pfn = pfn
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
            # buddy_merge_likely(): if the next-larger buddy is free, this block will
            # probably merge soon, so put it at the tail where it is taken last
            higher = buddy_pfn & pfn
            hb = head.get(higher ^ (1 << (order + 1)))
            to_tail = hb is not None and hb >> 3 == order + 1
        lst = lists[order][mt]
        lst[pfn] = None
        if to_tail:
            lst.move_to_end(pfn, last=False)
        head[pfn] = (order << 3) | mt

    def free_boot_range(self, z: Zone, start: int, end: int) -> None:
        """memblock_free_all() -> __free_pages_memory(): free [start, end) as the largest
        naturally aligned blocks, each to the list tail (FPI_TO_TAIL), lowest first."""
        top = self.max_order - 1
        while start < end:
            order = min(top, (start & -start).bit_length() - 1) if start else top
            while start + (1 << order) > end:
                order -= 1
            mt = int(self.pageblock_mt[start >> self.pageblock_order])
            self._free_one_page(z, start, order, mt, True)
            start += 1 << order

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
