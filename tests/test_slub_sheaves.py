"""SLUB's per-CPU sheaves and per-node barns (kmemlab/kernel/slub_sheaves.py): which caches
have them on which generation, the capacity calculate_sheaf_capacity() gives, each
main/spare/barn transition at its boundary, refill and flush sizes, the kmalloc caches'
bootstrap, kfree_rcu()'s rcu_free sheaf, the prefilled-sheaf API, slabinfo, the invariants
checker, traces per generation, the lib/tests/slub_kunit.c cases that touch sheaves, and a
hypothesis state machine over two CPUs that conserves every object across the tiers.

Expected values are worked out by hand from 6.18.35 mm/slub.c (``__pcs_replace_empty_main()``
:5060, ``__pcs_replace_full_main()`` :6104, MAX_FULL_SHEAVES/MAX_EMPTY_SHEAVES :455,
PCS_BATCH_MAX :2706) and the 7.0 series (``calculate_sheaf_capacity()``,
``bootstrap_cache_sheaves()``), not read back from the model."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import kmemlab as km
from kmemlab.kernel.slab_common import SLAB_NO_MERGE
from kmemlab.kernel.slub_sheaves import MAX_FULL_SHEAVES, SlabSheaf


def machine(kernel, **kw):
    kw.setdefault("mem", "64M")
    kw.setdefault("cpus", 2)
    return km.Machine(kernel=kernel, **kw)


def pcs(m, s, cpu=0):
    return s.cpu_sheaves[cpu]


def state(m, s, cpu=0):
    """(objects in main, in spare or None, full sheaves in the barn, empty ones)."""
    p = s.cpu_sheaves[cpu]
    barn = s.node[0].barn
    return (p.main.size, None if p.spare is None else p.spare.size, barn.nr_full, barn.nr_empty)


def slab_free_objects(m, s):
    """Objects free as far as the slabs know: on the slabs' own freelists and (before 7.0)
    on the CPU slabs' lockless freelists."""
    slub = m._k.slub
    n = sum(sl.objects - sl.inuse for sl in slub.slabs_of(s))
    for c in s.cpu_slab or ():
        p = c.freelist
        while p:
            n += 1
            p = slub.get_freepointer(s, p)
    return n


def in_sheaves(m, s):
    return sum(sh.size for sh in m._k.slub.sheaves_of(s) if sh.owner != "user")


# -- which caches have sheaves --------------------------------------------------------------

def test_before_618_no_cache_has_sheaves_and_sheaf_capacity_is_refused():
    m = machine("6.12")
    assert all(s.cpu_sheaves is None for s in m.slab_caches)
    with pytest.raises(ValueError, match="6.18"):
        m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    with pytest.raises(ValueError, match="6.18"):
        m.kmem_cache_prefill_sheaf(m.find_cache("kmalloc-64"))
    assert m.kmem_cache_create("plain", 256).cpu_sheaves is None


def test_618_sheaves_only_on_caches_that_ask_for_them():
    """6.18: maple_node and vm_area_struct are created with sheaf_capacity 32 (as
    /sys/kernel/slab/*/sheaf_capacity on a real 6.18 shows); every other cache keeps the
    CPU slab and has no sheaves; a cache with sheaves is never merged."""
    m = machine("6.18")
    assert all(s.cpu_sheaves is None for s in m.slab_caches)
    mt = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    vma = m.kmem_cache_create("vm_area_struct", 176, sheaf_capacity=32)
    for s in (mt, vma):
        assert s.sheaf_capacity == 32 and len(s.cpu_sheaves) == 2
        assert s.cpu_slab is not None                       # 6.18 still has kmem_cache_cpu
        assert all(p.main.size == 0 and p.main.capacity == 32 and p.spare is None for p in s.cpu_sheaves)
        assert all(n.barn is not None for n in s.node)
    # same size and flags as maple_node, but maple_node has sheaves: no merge
    other = m.kmem_cache_create("other_256", 256)
    assert other is not mt and other.cpu_sheaves is None


def test_618_debug_cache_gets_no_sheaves():
    m = machine("6.18", slub_debug="FZPU")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    assert s.cpu_sheaves is None and s.sheaf_capacity == 0
    p = m.kmem_cache_alloc(s)
    m.kmem_cache_free(s, p)
    m.check_invariants()


@pytest.mark.parametrize("name,capacity", [
    # calculate_sheaf_capacity(): 60 below 256 bytes, 26 from 256, 12 from 1 KiB, 4 from a
    # page; then grown until struct slab_sheaf (32 bytes + 8 per pointer) fills its kmalloc
    # bucket: 32 + 60*8 = 512, 32 + 26*8 = 240 -> 256 -> 28, 32 + 12*8 = 128, 32 + 4*8 = 64
    ("kmalloc-8", 60), ("kmalloc-64", 60), ("kmalloc-192", 60), ("kmalloc-256", 28),
    ("kmalloc-512", 28), ("kmalloc-1k", 12), ("kmalloc-2k", 12), ("kmalloc-4k", 4), ("kmalloc-8k", 4),
    ("kmalloc-cg-64", 60), ("kmalloc-rcl-1k", 12),
])
def test_70_capacity_as_calculate_sheaf_capacity_gives_it(name, capacity):
    m = machine("7.0")
    s = m.find_cache(name)
    assert s is not None, name
    assert s.sheaf_capacity == capacity
    assert s.cpu_slab is None                               # 7.0: no struct kmem_cache_cpu
    main = s.cpu_sheaves[0].main
    assert main.capacity == capacity
    # the sheaf struct itself is a kmalloc object of exactly the bucket it was sized for
    bucket = m._k.slub.page_slab[(main.addr - m.PAGE_OFFSET) >> 12].cache
    assert bucket.object_size == 32 + 8 * capacity


def test_70_explicit_capacity_is_respected_and_unmergeable():
    m = machine("7.0")
    s = m.kmem_cache_create("big_sheaf", 100, sheaf_capacity=100)
    assert s.sheaf_capacity == 100                          # max(60, requested)
    small = m.kmem_cache_create("small_req", 100, sheaf_capacity=8)
    assert small.sheaf_capacity == 60                       # the computed one is larger
    assert small is not s
    assert s.flags & SLAB_NO_MERGE
    plain = m.kmem_cache_create("plain_100", 100)
    assert plain.sheaf_capacity == 60 and plain.cpu_sheaves is not None


def test_70_debug_caches_have_only_the_bootstrap_sheaf():
    m = machine("7.0", slub_debug="FZPU")
    slub = m._k.slub
    s = m.kmem_cache_create("dbg", 128)
    assert s.sheaf_capacity == 0
    assert all(p.main is slub.bootstrap_sheaf for p in s.cpu_sheaves)
    assert all(n.barn is None for n in s.node)
    objs = [m.kmem_cache_alloc(s) for _ in range(5)]
    assert slab_free_objects(m, s) == s.objects - 5         # straight from the slab
    for p in objs:
        m.kmem_cache_free(s, p)
    assert slab_free_objects(m, s) == s.objects
    m.check_invariants()


def test_70_kmalloc_caches_bootstrap_after_all_exist():
    """bootstrap_kmalloc_sheaves() runs after create_kmalloc_caches(): every normal kmalloc
    cache has a capacity, barns and main sheaves, and those sheaves are objects of the
    kmalloc caches (kmalloc-64 for a 4-object sheaf, kmalloc-512 for 60); kmalloc-cg-*
    got theirs when created (not normal), also from the normal caches."""
    m = machine("7.0")
    slub = m._k.slub
    normal = [s for s in m.slab_caches if s.name.startswith("kmalloc-") and "-cg-" not in s.name
              and "-rcl-" not in s.name and "dma" not in s.name]
    assert normal
    for s in normal:
        assert s.sheaf_capacity > 0 and all(n.barn is not None for n in s.node)
        for p in s.cpu_sheaves:
            assert p.main is not slub.bootstrap_sheaf
            owner = slub.page_slab[(p.main.addr - m.PAGE_OFFSET) >> 12].cache
            assert owner.name.startswith("kmalloc-") and "-cg-" not in owner.name
    m.check_invariants()


# -- transitions at each boundary (6.18, capacity 32, one CPU) ------------------------------

def test_alloc_transitions_main_spare_barn_refill():
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    objs = [m.kmem_cache_alloc(s)]
    # first alloc: empty main, no spare, empty barn -> alloc_full_sheaf(); the old empty
    # main goes to the barn's empty list
    assert state(m, s) == (31, None, 0, 1)
    objs += [m.kmem_cache_alloc(s) for _ in range(31)]
    assert state(m, s) == (0, None, 0, 1)
    objs.append(m.kmem_cache_alloc(s))
    # the barn's empty sheaf is refilled (refill_sheaf) and the empty main parked there
    assert state(m, s) == (31, None, 0, 1)
    # frees: main fills to 32, then the barn's empty sheaf becomes main, full main the spare
    for p in objs[:1]:
        m.kmem_cache_free(s, p)
    assert state(m, s) == (32, None, 0, 1)
    m.kmem_cache_free(s, objs[1])
    assert state(m, s) == (1, 32, 0, 0)
    # allocating now: main has 1, then empty -> the full spare is swapped in
    a = m.kmem_cache_alloc(s)
    assert a == objs[1] and state(m, s) == (0, 32, 0, 0)
    b = m.kmem_cache_alloc(s)
    assert state(m, s) == (31, 0, 0, 0)                     # swap(main, spare)
    assert b == objs[0]
    m.check_invariants()


def test_free_transitions_up_to_the_barn_limit_then_the_spare_is_flushed():
    """Freeing on one CPU: main fills, becomes the spare, then full mains go to the barn
    (barn_replace_full_sheaf or __pcs_install_empty_sheaf) until it holds
    MAX_FULL_SHEAVES; then -E2BIG flushes the full spare (32 objects) to the slabs."""
    cap = 32
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=cap)
    n = cap * (MAX_FULL_SHEAVES + 4)
    objs = [m.kmem_cache_alloc(s) for _ in range(n)]
    # fill main + spare + MAX_FULL_SHEAVES barn sheaves exactly
    held = n
    for i in range(cap * (MAX_FULL_SHEAVES + 2)):
        m.kmem_cache_free(s, objs.pop())
        held -= 1
        st_ = state(m, s)
        assert st_[2] <= MAX_FULL_SHEAVES
    assert state(m, s)[:3] == (cap, cap, MAX_FULL_SHEAVES)
    free_before = slab_free_objects(m, s)
    m.kmem_cache_free(s, objs.pop())
    # E2BIG: the spare's 32 objects went back to their slabs; the emptied spare is main
    assert slab_free_objects(m, s) - free_before == cap
    assert state(m, s)[:3] == (1, cap, MAX_FULL_SHEAVES)
    m.check_invariants()


def test_barn_exchange_between_cpus():
    """A full sheaf one CPU parks in the barn is what the other CPU gets
    (barn_replace_empty_sheaf): a node's barn is shared."""
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    with m.on_cpu(0):
        objs = [m.kmem_cache_alloc(s) for _ in range(96)]
        for p in objs:
            m.kmem_cache_free(s, p)
    assert s.node[0].barn.nr_full >= 1
    full = s.node[0].barn.sheaves_full[0]
    expect = full.objects[-1]
    with m.on_cpu(1):
        # CPU 1's main is empty; its first alloc takes the barn's first full sheaf
        got = m.kmem_cache_alloc(s)
    assert got == expect and s.cpu_sheaves[1].main is full
    m.check_invariants()


def test_nonblocking_alloc_does_not_refill():
    """Without __GFP_DIRECT_RECLAIM __pcs_replace_empty_main() may only swap or take from
    the barn: with neither, the object comes from the CPU slab (6.18) instead."""
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    p = m.kmem_cache_alloc(s, km.GFP_ATOMIC)
    assert p
    assert state(m, s) == (0, None, 0, 0)
    assert s.cpu_slab[0].slab is not None                  # ___slab_alloc() gave a CPU slab
    assert m._k.slub.page_slab[(p - m.PAGE_OFFSET) >> 12] is s.cpu_slab[0].slab
    m.check_invariants()


# -- refill and flush sizes -------------------------------------------------------------------

def test_70_refill_takes_a_sheaf_from_new_slabs_and_keeps_the_rest_partial():
    m = machine("7.0")
    s = m.kmem_cache_create("obj200", 200)
    assert s.sheaf_capacity == 60
    per = s.objects
    p = m.kmem_cache_alloc(s)
    assert p
    slabs = m._k.slub.slabs_of(s)
    assert len(slabs) == -(-60 // per)                      # ceil(60 / objects per slab)
    assert sum(sl.inuse for sl in slabs) == 60              # all 60 count as allocated
    assert state(m, s)[0] == 59
    # the last slab keeps its unused objects and sits on the node partial list
    assert s.node[0].nr_partial == (1 if 60 % per else 0)
    m.check_invariants()


def test_shrink_flushes_every_sheaf_and_frees_the_slabs():
    for kernel in ("6.18", "7.0"):
        m = machine(kernel)
        s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
        with m.on_cpu(1):
            objs = [m.kmem_cache_alloc(s) for _ in range(200)]
            for p in objs:
                m.kmem_cache_free(s, p)
        assert in_sheaves(m, s) > 0
        m.kmem_cache_shrink(s)
        assert in_sheaves(m, s) == 0
        assert all(n.barn.nr_full == 0 and n.barn.nr_empty == 0 for n in s.node)
        assert m._k.slub.slabs_of(s) == [] or all(sl.inuse == 0 for sl in m._k.slub.slabs_of(s))
        assert m.proc.slabinfo().splitlines()[2].split()[0] == "maple_node"
        m.check_invariants()


def test_flush_main_goes_in_batches_of_pcs_batch_max():
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=48)
    slub = m._k.slub
    objs = [m.kmem_cache_alloc(s) for _ in range(48)]
    for p in objs:
        m.kmem_cache_free(s, p)
    assert s.cpu_sheaves[0].main.size == 48
    batches = []
    orig = slub._SlubSheaves__kmem_cache_free_bulk
    slub._SlubSheaves__kmem_cache_free_bulk = lambda c, o: (batches.append(len(o)), orig(c, o))
    try:
        slub.sheaf_flush_main(s)
    finally:
        del slub._SlubSheaves__kmem_cache_free_bulk
    assert batches == [32, 16]
    m.check_invariants()


# -- slabinfo, kfree_rcu, prefilled sheaves ---------------------------------------------------

def test_slabinfo_counts_sheaf_objects_as_active():
    m = machine("7.0")
    s = m.kmem_cache_create("obj200", 200)
    m.kmem_cache_alloc(s)
    row = next(l.split() for l in m.proc.slabinfo().splitlines() if l.startswith("obj200 "))
    assert int(row[1]) == 60                                 # 1 in use + 59 in the main sheaf


def test_kfree_rcu_batches_into_the_rcu_free_sheaf():
    m = machine("7.0")
    s = m.kmem_cache_create("rcu_obj", 64)
    cap = s.sheaf_capacity
    objs = [m.kmem_cache_alloc(s) for _ in range(cap)]
    for p in objs[:-1]:
        m.kfree_rcu(p)
    rcu = s.cpu_sheaves[0].rcu_free
    assert rcu is not None and rcu.size == cap - 1
    assert not set(objs) & set(s.cpu_sheaves[0].main.objects)   # not reusable yet
    m.kfree_rcu(objs[-1])
    assert s.cpu_sheaves[0].rcu_free is None                  # full: handed to call_rcu()
    full_before = s.node[0].barn.nr_full
    assert m.rcu_barrier() >= 1
    # rcu_free_sheaf(): after the grace period, a full sheaf for the barn
    assert s.node[0].barn.nr_full == full_before + 1
    assert set(s.node[0].barn.sheaves_full[0].objects) == set(objs)
    m.check_invariants()


def test_kfree_rcu_without_sheaves_frees_after_the_grace_period():
    m = machine("6.18")
    p = m.kmalloc(64)
    s = m.find_cache("kmalloc-64")
    live = m._k.slub.live_objects(s)
    m.kfree_rcu(p)
    assert m._k.slub.live_objects(s) == live              # still allocated
    assert m.rcu_barrier() == 1
    assert m._k.slub.live_objects(s) == live - 1
    assert m.kmalloc(64) == p                              # back on the CPU freelist, LIFO
    m.check_invariants()
    m.kfree_rcu(0)                                            # NULL is ignored
    with pytest.raises(km.KernelBug):
        m.kfree_rcu(0xdead0000)


def test_prefilled_sheaf_api():
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    sh = m.kmem_cache_prefill_sheaf(s, km.GFP_KERNEL, 5)
    assert isinstance(sh, SlabSheaf) and m.kmem_cache_sheaf_size(sh) == 32   # refilled to capacity
    got = [m.kmem_cache_alloc_from_sheaf(s, km.GFP_KERNEL, sh) for _ in range(32)]
    assert all(got) and len(set(got)) == 32
    assert m.kmem_cache_alloc_from_sheaf(s, km.GFP_KERNEL, sh) == km.NULL      # no fallback
    m.check_invariants()
    err, sh = m.kmem_cache_refill_sheaf(s, km.GFP_KERNEL, sh, 10)
    assert err == 0 and sh.size == 32
    m.kmem_cache_return_sheaf(s, km.GFP_KERNEL, sh)
    with pytest.raises(ValueError, match="not held"):
        m.kmem_cache_alloc_from_sheaf(s, km.GFP_KERNEL, sh)
    big = m.kmem_cache_prefill_sheaf(s, km.GFP_KERNEL, 40)
    assert big.capacity == 40 and big.size == 40                            # oversize
    m.check_invariants()
    m.kmem_cache_return_sheaf(s, km.GFP_KERNEL, big)
    with pytest.raises(TypeError):
        m.kmem_cache_alloc_from_sheaf(s, km.GFP_KERNEL, object())
    other = m.kmem_cache_create("vm_area_struct", 176, sheaf_capacity=32)
    sh2 = m.kmem_cache_prefill_sheaf(other, km.GFP_KERNEL, 1)
    with pytest.raises(ValueError, match="belongs to"):
        m.kmem_cache_alloc_from_sheaf(s, km.GFP_KERNEL, sh2)
    for p in got:
        m.kmem_cache_free(s, p)
    m.check_invariants()


def test_prefill_on_a_cache_without_sheaves_warns_once_and_still_works():
    """6.18 kmem_cache_prefill_sheaf(): WARN_ON_ONCE(s->sheaf_capacity == 0 && !debug) at
    mm/slub.c:5429, then an oversize sheaf of exactly the size asked for."""
    m = machine("6.18")
    s = m.find_cache("kmalloc-64")
    sh = m.kmem_cache_prefill_sheaf(s, km.GFP_KERNEL, 3)
    log = str(m.dmesg())
    assert "WARNING:" in log and "mm/slub.c:5429 kmem_cache_prefill_sheaf" in log
    assert sh.capacity == 3 and sh.size == 3
    m.check_invariants()
    m.kmem_cache_return_sheaf(s, km.GFP_KERNEL, m.kmem_cache_prefill_sheaf(s, km.GFP_KERNEL, 2))
    assert str(m.dmesg()).count("WARNING:") == 1                         # once
    m.kmem_cache_return_sheaf(s, km.GFP_KERNEL, sh)
    m.check_invariants()


# -- lib/tests/slub_kunit.c -------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["6.18", "7.0"])
def test_kunit_kfree_rcu(kernel):
    """test_kfree_rcu(): alloc, kfree_rcu(), kmem_cache_destroy(): no slab errors (the
    destroy waits for the rcu_free sheaf: kvfree_rcu_barrier_on_cache())."""
    m = machine(kernel)
    s = m.kmem_cache_create("TestSlub_kfree_rcu", 16, flags=SLAB_NO_MERGE,
                            **({"sheaf_capacity": 32} if kernel == "6.18" else {}))
    p = m.kmem_cache_alloc(s)
    m.kfree_rcu(p)
    m.dmesg(clear=True)
    assert m.kmem_cache_destroy(s) is not False
    assert "Objects remaining" not in str(m.dmesg())
    m.check_invariants()


@pytest.mark.parametrize("kernel", ["6.18", "7.0"])
def test_kunit_leak_destroy(kernel):
    """test_leak_destroy(): an object still allocated at destroy is reported, even though
    the cache's sheaves hold the other objects of its slab."""
    m = machine(kernel)
    s = m.kmem_cache_create("TestSlub_leak_destroy", 64, flags=SLAB_NO_MERGE,
                            **({"sheaf_capacity": 32} if kernel == "6.18" else {}))
    m.kmem_cache_alloc(s)
    m.kmem_cache_destroy(s)
    assert "Objects remaining in TestSlub_leak_destroy on __kmem_cache_shutdown()" in str(m.dmesg())


# -- the invariants checker -------------------------------------------------------------------

def test_invariants_catch_an_object_in_two_places():
    m = machine("7.0")
    s = m.kmem_cache_create("obj64", 64)
    p = m.kmem_cache_alloc(s)
    main = s.cpu_sheaves[0].main
    main.objects.append(main.objects[-1])                   # the same object twice
    with pytest.raises(AssertionError, match="two sheaves|sheaf"):
        m.check_invariants()
    main.objects.pop()
    m.check_invariants()
    slab = m._k.slub.page_slab[(p - m.PAGE_OFFSET) >> 12]
    q = main.objects[-1]
    # put a sheaf object on its slab's freelist as well
    m._k.slub.set_freepointer(s, q, slab.freelist)
    old = slab.freelist
    slab.freelist = q
    with pytest.raises(AssertionError, match="freelist"):
        m.check_invariants()
    slab.freelist = old


# -- traces per generation ----------------------------------------------------------------------

def _funcs(t):
    return t.functions()


def test_traces_per_generation():
    # 6.6: the CPU freelist, no sheaf functions
    m = machine("6.6")
    p = m.kmalloc(64)
    with m.trace() as t:
        m.kfree(p)
        m.kmalloc(64)
    assert not any("pcs" in f or "sheaf" in f for f in _funcs(t))
    # 6.18 opted-in cache: alloc_from_pcs beside __slab_alloc_node, free_to_pcs beside
    # do_slab_free (siblings under slab_alloc_node/slab_free), both inline
    m = machine("6.18")
    s = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    p = m.kmem_cache_alloc(s)
    with m.trace() as t:
        m.kmem_cache_free(s, p)
        m.kmem_cache_alloc(s)
    free, alloc = t.calls
    sf = free.children[0]
    assert sf.func == "slab_free" and [c.func for c in sf.children] == ["free_to_pcs"]
    assert sf.children[0].inlined
    san = alloc.children[0]
    assert san.func == "slab_alloc_node" and [c.func for c in san.children] == ["alloc_from_pcs"]
    assert "inline" in str(t)
    # 7.0: a miss refills from new slabs through refill_objects(); no do_slab_free
    m = machine("7.0")
    s = m.kmem_cache_create("obj200", 200)
    with m.trace() as t:
        p = m.kmem_cache_alloc(s)
        m.kmem_cache_free(s, p)
    f = _funcs(t)
    for name in ("alloc_from_pcs", "__pcs_replace_empty_main", "barn_replace_empty_sheaf",
                 "alloc_empty_sheaf", "refill_objects", "alloc_from_new_slab", "free_to_pcs"):
        assert name in f, name
    assert "do_slab_free" not in f and "__slab_alloc" not in f
    assert f.index("alloc_from_pcs") < f.index("refill_objects") < f.index("free_to_pcs")


# -- objects conserved across the tiers, two CPUs interleaved ---------------------------------

class SheavesMachine(RuleBasedStateMachine):
    """Allocations and frees on two CPUs, kfree_rcu(), shrink and rcu_barrier() on a cache
    with sheaves: every object of the cache is in exactly one of a slab freelist, a sheaf
    (any CPU's main/spare/rcu_free, a barn's, one waiting for RCU) or the test's hands."""
    kernel = "7.0"
    capacity = 0
    size = 1024                         # 7.0: capacity 12, to reach the barn limits quickly

    def __init__(self):
        super().__init__()
        self.m = machine(self.kernel)
        kw = {"sheaf_capacity": self.capacity} if self.capacity else {}
        self.s = self.m.kmem_cache_create("hyp_sheaf", self.size, flags=SLAB_NO_MERGE, **kw)
        self.held: list[int] = []
        self.rcu: set[int] = set()          # kfree_rcu()'d, grace period not over

    @rule(cpu=st.integers(0, 1), n=st.integers(1, 40))
    def alloc(self, cpu, n):
        with self.m.on_cpu(cpu):
            for _ in range(n):
                p = self.m.kmem_cache_alloc(self.s)
                assert p
                self.held.append(p)

    @rule(cpu=st.integers(0, 1), n=st.integers(1, 40), seed=st.integers(0, 1000))
    def free(self, cpu, n, seed):
        with self.m.on_cpu(cpu):
            for i in range(min(n, len(self.held))):
                p = self.held.pop((seed + i * 7) % len(self.held))
                self.m.kmem_cache_free(self.s, p)

    @rule(cpu=st.integers(0, 1), n=st.integers(1, 20))
    def free_rcu(self, cpu, n):
        with self.m.on_cpu(cpu):
            for _ in range(min(n, len(self.held))):
                p = self.held.pop()
                self.m.kfree_rcu(p)
                self.rcu.add(p)

    @rule()
    def barrier(self):
        self.m.rcu_barrier()
        self.rcu.clear()

    @rule()
    def shrink(self):
        self.m.kmem_cache_shrink(self.s)

    @invariant()
    def conserved(self):
        m, s = self.m, self.s
        m.check_invariants()
        slub = m._k.slub
        every = {sl.addr + s.red_left_pad + i * s.size for sl in slub.slabs_of(s) for i in range(sl.objects)}
        free = set()
        for sl in slub.slabs_of(s):
            p = sl.freelist
            while p:
                assert p not in free
                free.add(p)
                p = slub.get_freepointer(s, p)
        sheaved: list[int] = []
        for sh in slub.sheaves_of(s):
            sheaved += sh.objects
        rcu_pending = {a for f, a in m._k.rcu_callbacks if f == "kvfree_rcu_cb"}
        tiers = [free, set(sheaved), set(self.held), rcu_pending]
        assert len(sheaved) == len(set(sheaved))
        assert sum(len(t) for t in tiers) == len(every), "an object is in two tiers or lost"
        assert set().union(*tiers) == every
        # what kfree_rcu() took is not back in anyone's hands before the grace period
        assert not self.rcu & set(self.held)


_SETTINGS = settings(max_examples=25, stateful_step_count=30, deadline=None)


class Sheaves70(SheavesMachine):
    kernel = "7.0"


class Sheaves618(SheavesMachine):
    kernel = "6.18"
    capacity = 8                        # small, to reach the barn limits quickly
    size = 96

    def conserved(self):                # 6.18 also has the CPU slabs' freelists
        m, s = self.m, self.s
        m.check_invariants()
        slub = m._k.slub
        every = {sl.addr + s.red_left_pad + i * s.size for sl in slub.slabs_of(s) for i in range(sl.objects)}
        free = set()
        heads = [sl.freelist for sl in slub.slabs_of(s)] + [c.freelist for c in s.cpu_slab]
        for p in heads:
            while p:
                assert p not in free
                free.add(p)
                p = slub.get_freepointer(s, p)
        sheaved = [o for sh in slub.sheaves_of(s) for o in sh.objects]
        rcu_pending = {a for f, a in m._k.rcu_callbacks if f == "kvfree_rcu_cb"}
        tiers = [free, set(sheaved), set(self.held), rcu_pending]
        assert len(sheaved) == len(set(sheaved))
        assert sum(len(t) for t in tiers) == len(every), "an object is in two tiers or lost"
        assert set().union(*tiers) == every

    conserved = invariant()(conserved)


TestSheaves70 = Sheaves70.TestCase
TestSheaves70.settings = _SETTINGS
TestSheaves618 = Sheaves618.TestCase
TestSheaves618.settings = _SETTINGS
