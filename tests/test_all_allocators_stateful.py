"""Reliability under abuse (issue 9): a hypothesis state machine mixing every allocator,
valid and invalid frees, memory writes and snapshots/restores, on every profile and every
kernel generation.

After every step the invariants hold (m.check_invariants()); after every invalid call
the machine's state is byte for byte what it was; freeing everything returns the buddy
allocator to its boot picture (slabs that SLUB keeps empty aside)."""

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import kmemlab as km
from kmemlab.kernel.generation import GENERATIONS

NOWARN = km.__GFP_NOWARN
PROFILES = {"tiny": "16M", "x86_64": "128M", "x86_64-la57": "128M", "i386": "128M"}
GFPS = [km.GFP_KERNEL, km.GFP_ATOMIC, km.GFP_KERNEL | km.GFP_DMA, km.GFP_KERNEL | km.__GFP_ZERO,
        km.GFP_KERNEL | km.__GFP_RECLAIMABLE, km.GFP_HIGHUSER_MOVABLE]


def fingerprint(m):
    mm = m.mem_map
    return (m.proc.buddyinfo(), m.proc.zoneinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(), m.proc.meminfo(),
            mm.kind.tobytes(), mm.order.tobytes(), mm.flags.tobytes(), mm.owner.tobytes())


class AllAllocators(RuleBasedStateMachine):
    @initialize(profile=st.sampled_from(sorted(PROFILES)), seed=st.integers(0, 3),
                kernel=st.sampled_from(GENERATIONS))
    def boot(self, profile, seed, kernel):
        # per-cpu page lists on, as every generation has them
        self.m = km.Machine(profile=profile, mem=PROFILES[profile], cpus=2, seed=seed, kernel=kernel)
        # what the booted system itself holds (stacks, per-CPU pages, its processes' pages)
        self.vmalloc0 = self.m._k.vmstat["nr_vmalloc"]
        self.held0 = self._held()
        self.pages: list[tuple[km.Page, int]] = []
        self.objs: list[tuple[int, int]] = []        # (address, size)
        self.areas: list[tuple[int, int]] = []       # (address, size)
        self.snap = None

    # -- valid operations ----------------------------------------------------------------
    @rule(gfp=st.sampled_from(GFPS), order=st.integers(0, 6))
    def alloc_pages(self, gfp, order):
        pg = self.m.alloc_pages(gfp | NOWARN, order)
        if pg is not None:
            self.pages.append((pg, order))

    @rule(size=st.one_of(st.integers(1, 256), st.integers(257, 9000), st.integers(9000, 70000)),
          gfp=st.sampled_from(GFPS[:5]))
    def kmalloc(self, size, gfp):
        p = self.m.kmalloc(size, gfp | NOWARN)
        if p:
            assert self.m.ksize(p) >= size
            assert all(not (a <= p < a + self.m.ksize(a)) for a, _ in self.objs)
            self.objs.append((p, size))

    @rule(pages=st.integers(1, 40))
    def vmalloc(self, pages):
        v = self.m.vmalloc_gfp(pages * 4096 - 100, km.GFP_KERNEL | NOWARN)
        if v:
            self.areas.append((v, pages * 4096 - 100))

    @precondition(lambda self: self.pages)
    @rule(i=st.integers(0, 10**6))
    def free_pages(self, i):
        pg, order = self.pages.pop(i % len(self.pages))
        self.m.free_pages(pg, order)

    @precondition(lambda self: self.objs)
    @rule(i=st.integers(0, 10**6), new=st.one_of(st.none(), st.integers(1, 5000)))
    def kfree_or_krealloc(self, i, new):
        j = i % len(self.objs)
        p, size = self.objs[j]
        if new is None:
            self.objs.pop(j)
            self.m.kfree(p)
            return
        data = self.m.read(p, min(size, new, 32))
        q = self.m.krealloc(p, new, km.GFP_KERNEL | NOWARN)
        if q:
            assert self.m.read(q, len(data)) == data       # krealloc keeps the contents
            self.objs[j] = (q, new)

    @precondition(lambda self: self.areas)
    @rule(i=st.integers(0, 10**6))
    def vfree(self, i):
        v, _ = self.areas.pop(i % len(self.areas))
        self.m.vfree(v)

    @precondition(lambda self: self.objs or self.areas)
    @rule(i=st.integers(0, 10**6), byte=st.integers(0, 255))
    def write_and_read_back(self, i, byte):
        live = self.objs + self.areas
        p, size = live[i % len(live)]
        n = min(size, 64)
        self.m.memset(p, byte, n)
        assert self.m.read(p, n) == bytes([byte]) * n

    @rule()
    def snapshot(self):
        self.snap = (self.m.snapshot(), list(self.pages), list(self.objs), list(self.areas),
                     fingerprint(self.m))

    @precondition(lambda self: self.snap is not None)
    @rule()
    def restore(self):
        s, pages, objs, areas, fp = self.snap
        self.m.restore(s)
        self.pages = [(self.m.pfn_to_page(p.pfn), o) for p, o in pages]
        self.objs, self.areas = list(objs), list(areas)
        assert fingerprint(self.m) == fp

    # -- invalid operations: an error, and nothing changed ------------------------------
    def _refused(self, fn, *errors):
        before = fingerprint(self.m)
        try:
            fn()
        except errors:
            pass
        else:
            raise AssertionError("an invalid call was accepted")
        assert fingerprint(self.m) == before

    @precondition(lambda self: self.areas)
    @rule(i=st.integers(0, 10**6))
    def kfree_of_a_vmalloc_address(self, i):
        v, _ = self.areas[i % len(self.areas)]
        self._refused(lambda: self.m.kfree(v), km.KernelBug)

    @precondition(lambda self: self.objs)
    @rule(i=st.integers(0, 10**6))
    def vfree_of_a_kmalloc_address(self, i):
        p, _ = self.objs[i % len(self.objs)]
        self._refused(lambda: self.m.vfree(p), km.KernelBug)

    @precondition(lambda self: self.pages)
    @rule(i=st.integers(0, 10**6))
    def free_pages_with_the_wrong_order(self, i):
        pg, order = self.pages[i % len(self.pages)]
        self._refused(lambda: self.m.free_pages(pg, order + 1), km.KernelBug, ValueError)

    @rule(kind=st.sampled_from(["str", "float", "neg"]))
    def nonsense_sizes(self, kind):
        bad = {"str": "12", "float": 1.5, "neg": -4}[kind]
        for fn in (self.m.kmalloc, self.m.vmalloc):
            self._refused(lambda: fn(bad), TypeError, ValueError)

    @invariant()
    def consistent(self):
        if hasattr(self, "m"):
            self.m.check_invariants()

    def teardown(self):
        if not hasattr(self, "m"):
            return
        for v, _ in self.areas:
            self.m.vfree(v)
        for p, _ in self.objs:
            self.m.kfree(p)
        for pg, order in self.pages:
            self.m.free_pages(pg, order)
        self.m.vm_unmap_aliases()
        self.m.check_invariants()
        k = self.m._k
        assert k.vmstat["nr_vmalloc"] == self.vmalloc0
        # no leak: every frame is free, boot-reserved, a page table, a slab page, or held
        # by the booted system since boot
        mm = self.m.mem_map
        leaked = self._held() & ~self.held0
        assert not leaked.any(), f"frame {int(np.argmax(leaked)):#x} leaked ({mm.kind_name(int(np.argmax(leaked)))})"

    def _held(self):
        from kmemlab.kernel.mem_map import K_KMALLOC_LARGE, K_PAGES, K_USER, K_VMALLOC
        return np.isin(self.m.mem_map.kind, [K_PAGES, K_KMALLOC_LARGE, K_VMALLOC, K_USER])


TestAllAllocators = AllAllocators.TestCase
TestAllAllocators.settings = settings(max_examples=60, stateful_step_count=50, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
