"""Hypothesis state machine over the page allocator, per-cpu lists on, on every generation:
whatever the sequence of alloc_pages (any order, zone and migratetype, on any CPU),
free_pages, the bulk allocator and vfree's bulk free, drain_all_pages() and
snapshot/restore, the invariants hold (an order-0 page is on exactly one of: a free list,
a pcp list, allocated), the free page count agrees three ways (free lists, mem_map,
/proc/meminfo) and the pcp counts two ways (zoneinfo, mem_map). Refused calls (a wrong
order, a double free, a slab page, a tail page, a reserved frame, a bad drain argument)
raise and leave the machine byte for byte as it was, dmesg aside."""

import re

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import kmemlab as km
from kmemlab.kernel.generation import GENERATIONS
from kmemlab.kernel.mem_map import K_FREE, K_PAGES, K_PCP

NOWARN = km.__GFP_NOWARN      # module level: inside a class Python would mangle __GFP_ names
GFPS = [km.GFP_KERNEL, km.GFP_ATOMIC, km.GFP_KERNEL | km.GFP_DMA, km.GFP_HIGHUSER_MOVABLE,
        km.GFP_KERNEL | km.__GFP_RECLAIMABLE, km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_COMP]
PROFILES = {"tiny": "16M", "i386": "256M", "x86_64": "128M"}


def state(m):
    """The machine byte for byte, as far as the page allocator is concerned: every free
    list and pcp list in list order, the counters, pageblock types, mem_map, /proc."""
    k = m._k
    zones = []
    for z in k.zones:
        pcps = [(p.count, p.high, p.batch, p.high_min, p.high_max, p.free_count, p.free_factor,
                 p.alloc_factor, p.flags, [list(lst) for lst in p.lists]) for p in z.per_cpu_pageset]
        zones.append(([[list(fl) for fl in per_order] for per_order in z._lists], dict(z._head),
                      z.nr_free_pages, z.below_high, list(z.vm_numa_event), pcps))
    mm = k.mem_map
    return (zones, k.buddy.pageblock_mt.tobytes(), mm.kind.tobytes(), mm.order.tobytes(), mm.flags.tobytes(),
            mm.owner.tobytes(), m.proc.buddyinfo(), m.proc.zoneinfo(), m.proc.meminfo(), m.proc.slabinfo())


class PageAllocator(RuleBasedStateMachine):
    @initialize(profile=st.sampled_from(sorted(PROFILES)), kernel=st.sampled_from(GENERATIONS),
                cpus=st.sampled_from([1, 2, 4]))
    def boot(self, profile, kernel, cpus):
        self.m = km.Machine(profile=profile, mem=PROFILES[profile], kernel=kernel, cpus=cpus)
        self.live: list[tuple[km.Page, int]] = []
        self.objs: list[int] = []
        self.snap = None

    def refused(self, call, exc=km.KernelBug):
        """``call`` must raise ``exc`` and change nothing but the log."""
        before = state(self.m)
        try:
            call()
        except exc:
            pass
        else:
            raise AssertionError(f"{call} was accepted")
        assert state(self.m) == before, "a refused call changed the machine"

    # -- valid operations ----------------------------------------------------------------
    @rule(gfp=st.sampled_from(GFPS), order=st.sampled_from([0, 0, 0, 1, 2, 3, 4, 9, 10]),
          cpu=st.integers(0, 3))
    def alloc(self, gfp, order, cpu):
        with self.m.on_cpu(cpu % self.m.cpus):
            pg = self.m.alloc_pages(gfp | NOWARN, order)
        if pg is not None:
            assert pg.pfn % (1 << order) == 0
            assert all(pg.pfn != p.pfn for p, _ in self.live)
            self.live.append((pg, order))

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 10**6), cpu=st.integers(0, 3))
    def free(self, i, cpu):
        pg, order = self.live.pop(i % len(self.live))
        with self.m.on_cpu(cpu % self.m.cpus):
            self.m.free_pages(pg, order)

    @rule(nr=st.integers(2, 120))
    def alloc_bulk(self, nr):
        k = self.m._k
        for pfn in k.buddy.alloc_bulk(int(km.GFP_KERNEL | NOWARN), nr, K_PAGES, 0):
            self.live.append((self.m.pfn_to_page(pfn), 0))

    @precondition(lambda self: any(o == 0 for _, o in self.live))
    @rule(n=st.integers(1, 150))
    def free_bulk(self, n):
        pages = [p for p, o in self.live if o == 0][:n]
        gone = {p.pfn for p in pages}
        self.live = [(p, o) for p, o in self.live if o or p.pfn not in gone]
        self.m._k.buddy.free_bulk([p.pfn for p in pages])

    @rule(size=st.sampled_from([8, 64, 192, 1024, 4096]))
    def kmalloc(self, size):
        p = self.m.kmalloc(size, km.GFP_KERNEL | NOWARN)
        if p:
            self.objs.append(p)

    @precondition(lambda self: self.objs)
    @rule(i=st.integers(0, 10**6))
    def kfree(self, i):
        self.m.kfree(self.objs.pop(i % len(self.objs)))

    @rule(by_zone=st.booleans())
    def drain(self, by_zone):
        pcp_before = sum(z.nr_pcp_pages for z in self.m.zones)
        zone = next(z for z in self.m.zones if z.populated()) if by_zone else None
        moved = self.m.drain_all_pages(zone)
        if zone is None:
            assert moved == pcp_before and all(z.nr_pcp_pages == 0 for z in self.m.zones)

    @rule()
    def snapshot(self):
        self.snap = (self.m.snapshot(), list(self.live), list(self.objs), state(self.m))

    @precondition(lambda self: self.snap is not None)
    @rule()
    def restore(self):
        snap, live, objs, st_ = self.snap
        self.m.restore(snap)
        assert state(self.m) == st_
        # Page handles from before the snapshot belong to the restored mem_map again
        self.live = [(self.m.pfn_to_page(p.pfn), o) for p, o in live]
        self.objs = list(objs)

    # -- refused operations: an exception, and nothing changed -----------------------------
    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 10**6), delta=st.sampled_from([-1, 1, 2]))
    def free_with_wrong_order(self, i, delta):
        pg, order = self.live[i % len(self.live)]
        if order + delta < 0:
            self.refused(lambda: self.m.free_pages(pg, order + delta), ValueError)
        else:
            self.refused(lambda: self.m.free_pages(pg, order + delta))

    @rule(order=st.sampled_from([0, 1, 3]))
    def double_free(self, order):
        pg = self.m.alloc_pages(km.GFP_KERNEL | NOWARN, order)
        if pg is None:
            return
        self.m.free_pages(pg, order)              # onto the pcp list (or the buddy lists)
        assert self.m.mem_map.kind[pg.pfn] in (K_FREE, K_PCP)
        self.refused(lambda: self.m.free_pages(pg, order))

    @precondition(lambda self: self.objs)
    @rule(i=st.integers(0, 10**6))
    def free_a_slab_page(self, i):
        pg = self.m.virt_to_page(self.objs[i % len(self.objs)])
        self.refused(lambda: self.m.free_pages(pg, 0))

    @precondition(lambda self: any(o and p.flags and "head" in p.flags for p, o in self.live))
    @rule(i=st.integers(0, 10**6))
    def free_a_tail_page(self, i):
        heads = [(p, o) for p, o in self.live if o and "head" in p.flags]
        pg, order = heads[i % len(heads)]
        self.refused(lambda: self.m.free_pages(self.m.pfn_to_page(pg.pfn + 1), 0))

    @rule()
    def free_a_reserved_frame(self):
        self.refused(lambda: self.m.free_pages(self.m.pfn_to_page(0x10), 0))      # the first MiB

    @rule(bad=st.sampled_from(["Highmem", 3, "zone"]))
    def drain_a_bad_zone(self, bad):
        self.refused(lambda: self.m.drain_all_pages(bad), (ValueError, TypeError))

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def consistent(self):
        if not hasattr(self, "m"):
            return
        m = self.m
        m.check_invariants()
        free_lists = sum(z.nr_free_pages for z in m.zones)
        mm_free = int(np.count_nonzero(m.mem_map.kind == K_FREE))
        meminfo = int(re.search(r"MemFree: +(\d+) kB", m.proc.meminfo()).group(1)) // 4
        assert free_lists == mm_free == meminfo
        counts = [int(c) for c in re.findall(r"count: +(\d+)", m.proc.zoneinfo())]
        assert sum(counts) == int(np.count_nonzero(m.mem_map.kind == K_PCP))


TestPageAllocator = PageAllocator.TestCase
TestPageAllocator.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
