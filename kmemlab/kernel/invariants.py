"""``check_invariants()``: the model's consistency rules, checked in one place.

Tests call it after every step. Each rule says what the real kernel guarantees (or
what kmemlab's bookkeeping must keep true) so a failure names the broken rule.
"""

from __future__ import annotations

import numpy as np

from .mem_map import K_FREE, K_NOMAP, K_PCP

__all__ = ["check_invariants"]


def _fail(rule: str) -> None:
    raise AssertionError(f"kmemlab invariant broken: {rule}")


def check_buddy(k) -> None:
    mm = k.mem_map
    buddy = k.buddy
    covered = np.zeros(mm.max_pfn, np.int16)
    for z in k.zones:
        total = 0
        for pfn, v in z._head.items():
            order, mt = v >> 3, v & 7
            n = 1 << order
            if pfn not in z._lists[order][mt]:
                _fail(f"free block {pfn:#x} order {order} is in the head index but not on free_list[{mt}]")
            if pfn & (n - 1):
                _fail(f"free block {pfn:#x} of order {order} is not aligned to its order")
            if not (z.zone_start_pfn <= pfn and pfn + n <= z.zone_end_pfn):
                _fail(f"free block {pfn:#x} order {order} lies outside zone {z.name}")
            b = pfn ^ n
            bv = z._head.get(b)
            if order < buddy.max_order - 1 and bv is not None and bv >> 3 == order:
                _fail(f"free buddies {pfn:#x} and {b:#x} of order {order} were not merged")
            covered[pfn:pfn + n] += 1
            total += n
        listed = sum(len(fl) for per_order in z._lists for fl in per_order)
        if listed != len(z._head):
            _fail(f"zone {z.name}: {listed} blocks on free lists but {len(z._head)} in the head index")
        if total != z.nr_free_pages:
            _fail(f"zone {z.name}: NR_FREE_PAGES={z.nr_free_pages} but free lists hold {total} pages")
    # the per-cpu lists: each entry heads a block of its list's order, in its zone, on no
    # other list; pcp->count is what they hold; their frames (and only they) are K_PCP
    pcp_cov = np.zeros(mm.max_pfn, np.int16)
    pcp_pages = 0
    for z in k.zones:
        if z.populated() != bool(z.per_cpu_pageset):
            _fail(f"zone {z.name}: populated={z.populated()} but {len(z.per_cpu_pageset)} per_cpu_pages")
        for cpu, pcp in enumerate(z.per_cpu_pageset):
            held = 0
            for pindex, lst in enumerate(pcp.lists):
                order = buddy.pindex_to_order(pindex)
                n = 1 << order
                for pfn in lst:
                    if pfn & (n - 1) or not (z.zone_start_pfn <= pfn and pfn + n <= z.zone_end_pfn):
                        _fail(f"cpu {cpu} zone {z.name}: pcp list {pindex} holds pfn {pfn:#x}, not an "
                              f"order-{order} block of the zone")
                    pcp_cov[pfn:pfn + n] += 1
                    held += n
            if held != pcp.count:
                _fail(f"cpu {cpu} zone {z.name}: pcp->count={pcp.count} but its lists hold {held} pages")
            pcp_pages += held
    if np.any(pcp_cov > 1):
        _fail(f"frame {int(np.argmax(pcp_cov > 1)):#x} is on two per-cpu lists (or twice on one)")
    if np.any((pcp_cov > 0) & (covered > 0)):
        _fail(f"frame {int(np.argmax((pcp_cov > 0) & (covered > 0))):#x} is on a per-cpu list and in a free block")
    if not np.array_equal(pcp_cov == 1, mm.kind == K_PCP):
        bad = int(np.argmax((pcp_cov == 1) != (mm.kind == K_PCP)))
        _fail(f"frame {bad:#x}: mem_map kind={mm.kind_name(bad)} but the per-cpu lists say "
              f"{'pcp' if pcp_cov[bad] else 'not pcp'}")
    free_kind = mm.kind == K_FREE
    if np.any(covered > 1):
        _fail(f"frame {int(np.argmax(covered > 1)):#x} is in two free blocks")
    if not np.array_equal(covered == 1, free_kind):
        bad = int(np.argmax((covered == 1) != free_kind))
        _fail(f"frame {bad:#x}: mem_map kind={mm.kind_name(bad)} but free lists say "
              f"{'free' if covered[bad] else 'allocated'}")
    # allocated blocks: heads cover exactly the frames that are neither free nor boot-reserved
    heads = np.flatnonzero(mm.order >= 0)
    alloc_cov = np.zeros(mm.max_pfn, np.int16)
    for o in np.unique(mm.order[heads]):
        hs = heads[mm.order[heads] == o]
        idx = (hs[:, None] + np.arange(1 << int(o))[None, :]).ravel()
        np.add.at(alloc_cov, idx, 1)
    if np.any(alloc_cov > 1):
        _fail(f"frame {int(np.argmax(alloc_cov > 1)):#x} is in two allocated blocks")
    not_alloc = free_kind | (mm.kind == K_NOMAP) | (pcp_cov > 0)
    if np.any((alloc_cov == 1) & not_alloc):
        bad = int(np.argmax((alloc_cov == 1) & not_alloc))
        _fail(f"frame {bad:#x} is inside an allocated block but marked {mm.kind_name(bad)}")
    from .mem_map import K_KERNEL, K_MEMMAP, K_RESERVED
    boot = (mm.kind == K_RESERVED) | (mm.kind == K_KERNEL) | (mm.kind == K_MEMMAP) | (mm.kind == K_NOMAP)
    orphan = ~boot & ~free_kind & (pcp_cov == 0) & (alloc_cov == 0)
    if np.any(orphan):
        bad = int(np.argmax(orphan))
        _fail(f"frame {bad:#x} is marked {mm.kind_name(bad)} but no allocated block covers it (leak)")
    managed = sum(z.managed_pages for z in k.zones)
    used = int(np.count_nonzero(alloc_cov)) + sum(z.nr_free_pages for z in k.zones) + pcp_pages
    if used != managed:
        _fail(f"free + per-cpu + allocated pages = {used} but the zones manage {managed}")


def check_invariants(k) -> None:
    check_buddy(k)
    for extra in getattr(k, "invariant_checks", ()):
        extra(k)
