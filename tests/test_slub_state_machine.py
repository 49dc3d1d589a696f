"""Hypothesis state machine over kmalloc/kfree/krealloc/kmem_cache_*: live objects never
overlap, and slabinfo, meminfo and the buddy allocator agree."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import kmemlab as km

SIZES = st.one_of(st.integers(1, 256), st.integers(257, 9000), st.sampled_from([8, 64, 96, 192, 8192, 8193]))


class SlubMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.m = km.Machine(mem="64M", cpus=2)
        self.live = {}           # addr -> (size, cache or None)
        self.cache = self.m.kmem_cache_create("hyp_obj", 72)
        self.free0 = self.m._free_pages()
        self.slab_pages0 = self._slab_pages()       # what boot left in slabs (6.11+: kmalloc_buckets)

    @rule(size=SIZES, cpu=st.integers(0, 1), zero=st.booleans())
    def kmalloc(self, size, cpu, zero):
        with self.m.on_cpu(cpu):
            p = self.m.kzalloc(size) if zero else self.m.kmalloc(size)
        assert p
        if zero:
            assert self.m.read(p, size) == bytes(size)
        self.m.write(p, b"\x5c" * min(size, 16))
        self.live[int(p)] = (self.m.ksize(p), None)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 10**6), cpu=st.integers(0, 1))
    def free(self, i, cpu):
        p = sorted(self.live)[i % len(self.live)]
        _, cache = self.live.pop(p)
        with self.m.on_cpu(cpu):
            if cache is None:
                self.m.kfree(p)
            else:
                self.m.kmem_cache_free(self.cache, p)

    @precondition(lambda self: any(c is None for _, c in self.live.values()))
    @rule(i=st.integers(0, 10**6), size=SIZES)
    def krealloc(self, i, size):
        ps = sorted(p for p, (_, c) in self.live.items() if c is None)
        p = ps[i % len(ps)]
        old = self.m.read(p, min(16, size, self.live[p][0]))
        q = self.m.krealloc(p, size)
        assert q
        del self.live[p]
        assert self.m.read(q, len(old)) == old
        self.live[int(q)] = (self.m.ksize(q), None)

    @rule()
    def cache_alloc(self):
        p = self.m.kmem_cache_alloc(self.cache)
        self.live[int(p)] = (72, "hyp_obj")

    @rule()
    def shrink(self):
        self.m.kmem_cache_shrink(self.cache)

    @invariant()
    def consistent(self):
        m = self.m
        m.check_invariants()
        spans = sorted((p, p + n) for p, (n, _) in self.live.items())
        for (a, b), (c, _) in zip(spans, spans[1:]):
            assert b <= c, "two live objects overlap"
        # slabinfo pages == meminfo Slab (large kmalloc counted there too) ; buddy agrees
        pages = self._slab_pages()
        large = sum(n for p, (n, c) in self.live.items() if c is None and n > 8192) // 4096
        mem = dict((l.split(":")[0], int(l.split()[1])) for l in m.proc.meminfo().splitlines())
        assert mem["Slab"] == (pages + large) * 4
        assert self.free0 - m._free_pages() == pages - self.slab_pages0 + large

    def _slab_pages(self) -> int:
        pages = 0
        for line in self.m.proc.slabinfo().splitlines()[2:]:
            f = line.split()
            pages += int(f[14]) * int(f[5])
        return pages


TestSlubMachine = SlubMachine.TestCase
TestSlubMachine.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
