"""Hypothesis state machines over kmalloc/kfree/krealloc/kmem_cache_* on two CPUs, with
CPU partial lists and cache merging on (as every distribution kernel has them), on the
generations either side of SLUB's changes: live objects never overlap; every object is on
exactly one of a slab freelist or a CPU freelist, or in use (and then it is one the test
holds); slabinfo, meminfo and the buddy allocator agree; and every call the kernel refuses
raises KernelBug and leaves the machine byte for byte as it was."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import kmemlab as km

from machines import fingerprint

SIZES = st.one_of(st.integers(1, 256), st.integers(257, 9000), st.sampled_from([8, 64, 96, 192, 8192, 8193]))
ZERO = km.__GFP_ZERO        # (a name with two leading underscores would be mangled in the class)
GFPS = st.sampled_from([km.GFP_KERNEL, km.GFP_KERNEL | ZERO, km.GFP_KERNEL_ACCOUNT])


def free_objects(m, s) -> set[int]:
    """Every object of cache ``s`` on a freelist: each slab's own, and each CPU's."""
    slub = m._k.slub
    out: set[int] = set()
    heads = [sl.freelist for sl in slub.slabs_of(s)] + [c.freelist for c in s.cpu_slab]
    for p in heads:
        n = 0
        while p and n < 100000:
            assert p not in out, f"{s.name}: object {p:#x} on two freelists"
            out.add(p)
            p = slub.get_freepointer(s, p)
            n += 1
    return out


def objects_of(m, s) -> set[int]:
    slub = m._k.slub
    return {sl.addr + s.red_left_pad + i * s.size for sl in slub.slabs_of(s) for i in range(sl.objects)}


class SlubMachine(RuleBasedStateMachine):
    kernel = "6.18"

    def __init__(self):
        super().__init__()
        self.m = km.Machine(mem="64M", cpus=2, kernel=self.kernel)
        self.live = {}           # addr -> (usable size, cache or None)
        # hyp_a and hyp_b are compatible: hyp_b is an alias of hyp_a (find_mergeable())
        self.cache = self.m.kmem_cache_create("hyp_a", 72)
        self.alias = self.m.kmem_cache_create("hyp_b", 70)
        assert self.alias is self.cache and self.cache.refcount == 2
        self.free0 = self.m._free_pages()
        self.slab_pages0 = self._slab_pages()       # what boot left in slabs (6.11+: kmalloc_buckets)
        self.held0 = {s.id: self._in_use(s) for s in self.m.slab_caches}

    def _in_use(self, s) -> set[int]:
        return objects_of(self.m, s) - free_objects(self.m, s)

    @rule(size=SIZES, cpu=st.integers(0, 1), gfp=GFPS)
    def kmalloc(self, size, cpu, gfp):
        with self.m.on_cpu(cpu):
            p = self.m.kmalloc(size, gfp)
        assert p
        if gfp & ZERO:
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
                self.m.kmem_cache_free(self.alias if p & 8 else self.cache, p)

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

    @rule(cpu=st.integers(0, 1))
    def cache_alloc(self, cpu):
        with self.m.on_cpu(cpu):
            p = self.m.kmem_cache_alloc(self.alias if cpu else self.cache)
        self.live[int(p)] = (72, "hyp_a")

    @rule()
    def shrink(self):
        self.m.kmem_cache_shrink(self.cache)

    @rule(which=st.integers(0, 4))
    def refused(self, which):
        m = self.m
        before = fingerprint(m)
        calls = [lambda: m.kfree(-1), lambda: m.kfree(km.ERR_PTR(-km.ENOMEM)),
                 lambda: m.krealloc(0xffffc90000000000 + (1 << 30), 64),
                 lambda: m.kmem_cache_destroy(m.find_cache("kmalloc-64")), lambda: m.ksize(-1)]
        with pytest.raises(km.KernelBug):
            calls[which]()
        assert fingerprint(m) == before, "a refused call changed the machine"

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

    @invariant()
    def every_object_in_use_is_held(self):
        # in use = neither on a slab freelist nor on a CPU freelist: exactly the objects the
        # test holds in that cache (plus what boot left there)
        m = self.m
        held = {}
        for p, (_, c) in self.live.items():
            if c is None and m.ksize(p) > 8192:
                continue
            s = m._k.slub.page_slab[(p - m.PAGE_OFFSET) >> 12].cache
            held.setdefault(s.id, set()).add(p)
        for s in m.slab_caches:
            assert self._in_use(s) == held.get(s.id, set()) | self.held0.get(s.id, set()), s.name

    def _slab_pages(self) -> int:
        pages = 0
        for line in self.m.proc.slabinfo().splitlines()[2:]:
            f = line.split()
            pages += int(f[14]) * int(f[5])
        return pages


_SETTINGS = settings(max_examples=15, stateful_step_count=40, deadline=None)


class Slub618(SlubMachine):
    kernel = "6.18"         # CPU partial slabs not frozen, krealloc with orig_size


class Slub66(SlubMachine):
    kernel = "6.6"          # CPU partial slabs frozen, kfree via __kmem_cache_free


class Slub510(SlubMachine):
    kernel = "5.10"         # CPU partial lists limited by pobjects, not slabs


TestSlub618 = Slub618.TestCase
TestSlub618.settings = _SETTINGS
TestSlub66 = Slub66.TestCase
TestSlub66.settings = _SETTINGS
TestSlub510 = Slub510.TestCase
TestSlub510.settings = _SETTINGS
