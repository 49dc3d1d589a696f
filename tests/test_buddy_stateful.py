"""Hypothesis state machine over the page allocator: whatever the sequence of
alloc_pages / free_pages (valid or not) / snapshot / restore, the invariants hold and
the free page count agrees three ways (free lists, mem_map, /proc/meminfo)."""

import re

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import kmemlab as km
from kmemlab.kernel.mem_map import K_FREE

NOWARN = km.__GFP_NOWARN      # module level: inside a class Python would mangle __GFP_ names
GFPS = [km.GFP_KERNEL, km.GFP_ATOMIC, km.GFP_KERNEL | km.GFP_DMA, km.GFP_HIGHUSER_MOVABLE,
        km.GFP_KERNEL | km.__GFP_RECLAIMABLE, km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_COMP]


class PageAllocator(RuleBasedStateMachine):
    @initialize(profile=st.sampled_from(["tiny", "i386", "x86_64"]))
    def boot(self, profile):
        self.m = km.Machine(profile=profile, mem={"tiny": "16M", "i386": "1G", "x86_64": "256M"}[profile])
        self.live: list[tuple[km.Page, int]] = []
        self.snap = None

    @rule(gfp=st.sampled_from(GFPS), order=st.integers(0, 10))
    def alloc(self, gfp, order):
        pg = self.m.alloc_pages(gfp | NOWARN, order)
        if pg is not None:
            assert pg.pfn % (1 << order) == 0
            assert all(pg.pfn != p.pfn for p, _ in self.live)
            self.live.append((pg, order))

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 10**6))
    def free(self, i):
        pg, order = self.live.pop(i % len(self.live))
        self.m.free_pages(pg, order)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 10**6), delta=st.sampled_from([-1, 1]))
    def free_with_wrong_order_changes_nothing(self, i, delta):
        pg, order = self.live[i % len(self.live)]
        before = (self.m.proc.buddyinfo(), self.m.mem_map.kind.copy())
        try:
            self.m.free_pages(pg, order + delta)
        except km.KernelBug:
            pass
        except ValueError:
            assert order + delta < 0
        else:
            raise AssertionError("free with the wrong order was accepted")
        assert self.m.proc.buddyinfo() == before[0]
        assert np.array_equal(self.m.mem_map.kind, before[1])

    @rule()
    def snapshot(self):
        self.snap = (self.m.snapshot(), list(self.live), self.m.proc.buddyinfo())

    @precondition(lambda self: self.snap is not None)
    @rule()
    def restore(self):
        snap, live, info = self.snap
        self.m.restore(snap)
        self.live = list(live)
        assert self.m.proc.buddyinfo() == info
        # Page handles from before the snapshot belong to the restored mem_map again
        self.live = [(self.m.pfn_to_page(p.pfn), o) for p, o in self.live]

    @invariant()
    def consistent(self):
        if not hasattr(self, "m"):
            return
        self.m.check_invariants()
        free_lists = sum(z.nr_free_pages for z in self.m.zones)
        mem_map = int(np.count_nonzero(self.m.mem_map.kind == K_FREE))
        meminfo = int(re.search(r"MemFree: +(\d+) kB", self.m.proc.meminfo()).group(1)) // 4
        assert free_lists == mem_map == meminfo


TestPageAllocator = PageAllocator.TestCase
TestPageAllocator.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
