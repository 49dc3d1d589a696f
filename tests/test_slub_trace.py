"""Tracing kmalloc/kfree: the path actually taken, in each generation's function names
(include/linux/slab.h, mm/slab_common.c, mm/slub.c of v4.19 and v6.6), the SLUB boot
line, and that tracing changes nothing the allocator does."""

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmemlab as km


def machine(kernel="6.6", **kw):
    """A pristine machine: the traces follow caches from their first slab on."""
    kw.setdefault("mem", "128M")
    kw.setdefault("cpus", 2)
    kw.setdefault("boot", "bare")
    return km.Machine(kernel=kernel, **kw)


def chain(call):
    """The first-child chain below a call: the spine of a nested path."""
    out = [call.func]
    while call.children:
        call = call.children[-1] if call.children[-1].children else call.children[0]
        out.append(call.func)
    return out


def is_nested(t, names):
    """names appear in this order, each inside the previous one."""
    def find(calls, i):
        if i == len(names):
            return True
        return any((c.func == names[i] and find(c.children, i + 1)) or find(c.children, i)
                   for c in calls)
    return find(t.calls, 0)


# -- kmalloc: fast path vs slow path ------------------------------------------------------

def test_v66_cpu_freelist_hit_ends_in_slab_alloc_node():
    m = machine("6.6")
    m.kmalloc(100)                        # the cpu slab of kmalloc-128 now has free objects
    with m.trace() as t:
        p = m.kmalloc(100)
    assert t.functions() == ["kmalloc", "kmalloc_index", "kmalloc_trace", "__kmem_cache_alloc_node",
                             "slab_alloc_node", "__slab_alloc_node"]
    fast = t.calls[0].children[1].children[0].children[0].children[0]
    assert fast.func == "__slab_alloc_node" and not fast.children
    assert "fast path" in fast.detail
    assert t.calls[0].result == p


def test_v66_first_allocation_takes_the_slow_path_down_to_the_page_allocator():
    m = machine("6.6")
    s = m.kmalloc_slab(3000)                          # kmalloc-4k: an order-3 slab
    assert s.objects == (4096 << s.order) // s.size   # nothing allocated from it at boot
    with m.trace() as t:
        m.kmalloc(3000)
    assert is_nested(t, ["kmalloc", "kmalloc_trace", "__kmem_cache_alloc_node", "slab_alloc_node",
                         "__slab_alloc_node", "__slab_alloc", "___slab_alloc", "new_slab",
                         "allocate_slab", "alloc_slab_page", "__alloc_pages", "get_page_from_freelist"])
    assert "get_partial" in t
    page = next(c for c in t.calls[0].walk() if c.func == "alloc_slab_page")
    assert page.detail == f"order={s.order}"


def test_v419_names_and_new_slab_objects():
    m = machine("4.19")
    with m.trace() as t:
        p = m.kmalloc(3000)
        q = m.kmalloc(3000)
    first, second = t.calls
    assert [c.func for c in first.children[:2]] == ["kmalloc_index", "kmem_cache_alloc_trace"]
    assert is_nested(t, ["kmem_cache_alloc_trace", "slab_alloc", "slab_alloc_node", "__slab_alloc",
                         "___slab_alloc", "new_slab_objects", "new_slab", "allocate_slab",
                         "alloc_slab_page", "__alloc_pages_nodemask"])
    # 4.x: get_partial() is called from new_slab_objects()
    nso = next(c for c in first.walk() if c.func == "new_slab_objects")
    assert [c.func for c in nso.children] == ["get_partial", "new_slab"]
    assert [c.func for c in second.walk()] == ["kmalloc", "kmalloc_index", "kmem_cache_alloc_trace",
                                               "slab_alloc", "slab_alloc_node"]
    assert q - p == m.kmalloc_slab(3000).size          # the next object of the new slab
    assert "__kmem_cache_alloc_node" not in t and "kmalloc_trace" not in t


def test_the_cpu_partial_slab_is_taken_before_a_new_one():
    m = machine("6.6", cpus=1)
    s = m.kmalloc_slab(2048)
    objs = [m.kmalloc(2048) for _ in range(2 * s.objects)]   # slab A full, slab B full (cpu slab)
    m.kfree(objs[0])        # A was full: __slab_free puts it on this CPU's partial list
    with m.trace() as t:
        p = m.kmalloc(2048)
    assert p == objs[0]
    slow = next(c for c in t.calls[0].walk() if c.func == "___slab_alloc")
    assert [c.func for c in slow.children] == ["get_freelist", "get_freelist"]
    assert "full" in slow.children[0].detail and "cpu partial slab" in slow.children[1].detail
    assert "get_partial" not in t and "new_slab" not in t and "__alloc_pages" not in t
    m.check_invariants()


@pytest.mark.parametrize("kernel", ["6.6", "6.18"])
def test_get_partial_node_moves_more_slabs_onto_the_cpu_partial_list(kernel):
    m = machine(kernel, cpus=2)
    s = m.kmalloc_slab(2048)
    objs = [m.kmalloc(2048) for _ in range(8 * s.objects)]   # 8 full slabs, the last the CPU's
    # one free in each of 7 full slabs: they go onto CPU 0's partial list, which drains to
    # the node once it holds cpu_partial_slabs (24 * 2 / 16 = 3)
    for i in range(7):
        m.kfree(objs[i * s.objects])
    n = s.node[0]
    on_node = n.nr_partial
    assert on_node == 6 and len(s.cpu_slab[0].partial) == 1
    with m.on_cpu(1):                     # CPU 1 has no slab of kmalloc-2k yet
        with m.trace() as t:
            m.kmalloc(2048)
    gpn = next(c for c in t.calls[0].walk() if c.func == "get_partial_node")
    # the first slab becomes CPU 1's slab; more follow until more than
    # cpu_partial_slabs / 2 = 1 are on its partial list
    assert [c.func for c in gpn.children] == ["put_cpu_partial", "put_cpu_partial"]
    assert len(s.cpu_slab[1].partial) == 2 and n.nr_partial == on_node - 3
    assert "new_slab" not in t
    m.check_invariants()


def test_large_kmalloc_paths():
    for kernel, names in (("6.6", ["kmalloc", "kmalloc_large", "__kmalloc_large_node", "alloc_pages_node",
                                   "__alloc_pages"]),
                          # 4.x: kmalloc_order() -> alloc_pages() (inline) -> alloc_pages_current()
                          # (CONFIG_NUMA) -> __alloc_pages_nodemask() (v4.5 mm/slab_common.c:1003)
                          ("4.19", ["kmalloc", "kmalloc_large", "kmalloc_order_trace", "kmalloc_order",
                                    "alloc_pages", "alloc_pages_current", "__alloc_pages_nodemask"])):
        m = machine(kernel)
        with m.trace() as t:
            p = m.kmalloc(20000)
            m.kfree(p)
        assert chain(t.calls[0])[:len(names)] == names
        order = next(c for c in t.calls[0].walk() if c.func == m.gen.chain("kmalloc_large_chain")[-1])
        assert "order=3" in order.detail                 # get_order(20000) = 3
        free = [c.func for c in t.calls[1].walk()]
        if kernel == "6.6":
            assert free[:3] == ["kfree", "free_large_kmalloc", "__free_pages"]
        else:
            assert free[:2] == ["kfree", "__free_pages"] and "free_large_kmalloc" not in free


def test_zero_size():
    m = machine("6.6")
    with m.trace() as t:
        assert m.kmalloc(0) == km.ZERO_SIZE_PTR
    assert t.functions() == ["kmalloc", "__kmalloc", "__do_kmalloc_node", "kmalloc_slab"]
    m = machine("4.19")
    with m.trace() as t:
        m.kmalloc(0)
    assert t.functions() == ["kmalloc", "kmalloc_index"]


def test_kmalloc_node_names():
    m = machine("6.6", cpus=2, nodes=2, mem="256M")
    with m.trace() as t:
        m.kmalloc_node(100, km.GFP_KERNEL, 1)
    assert t.calls[0].func == "kmalloc_node"
    assert "kmalloc_node_trace" in t
    m = machine("4.19", cpus=2, nodes=2, mem="256M")
    with m.trace() as t:
        m.kmalloc_node(100, km.GFP_KERNEL, 1)
    assert is_nested(t, ["kmalloc_node", "kmem_cache_alloc_node_trace", "slab_alloc_node"])


def test_gfp_dma_left_the_inline_path_before_v4_20():
    m = machine("4.19")
    with m.trace() as t:
        m.kmalloc(100, km.GFP_KERNEL | km.GFP_DMA)
    assert is_nested(t, ["kmalloc", "__kmalloc", "slab_alloc", "slab_alloc_node"])
    assert next(c for c in t.calls[0].walk() if c.func == "kmalloc_slab").result == "dma-kmalloc-128"


def test_kzalloc_shows_the_memset():
    m = machine("6.6")
    m.kfree(m.kmalloc(64))
    with m.trace() as t:
        p = m.kzalloc(64)
    assert "memset" in t
    assert m.read(p, 64) == bytes(64)


# -- kfree: fast path vs __slab_free -> discard_slab ------------------------------------

@pytest.mark.parametrize("kernel,chain", [("6.6", ["__kmem_cache_free", "slab_free", "do_slab_free"]),
                                          ("6.18", ["slab_free", "do_slab_free"]), ("4.5", ["slab_free"])])
def test_kfree_fast_path_is_a_leaf(kernel, chain):
    # 6.1-6.7: kfree() in mm/slab_common.c calls SLUB's __kmem_cache_free(); 4.5's
    # slab_free() holds the fast path itself (no do_slab_free())
    m = machine(kernel)
    p = m.kmalloc(64)
    with m.trace() as t:
        m.kfree(p)
    assert t.functions() == ["kfree"] + chain
    leaf = [c for c in t.calls[0].walk()][-1]
    assert leaf.func == chain[-1] and not leaf.children and "c->freelist" in leaf.detail


@pytest.mark.parametrize("kernel", ["6.18", "6.6", "4.19"])
def test_kfree_that_empties_a_node_partial_slab_discards_it(kernel):
    m = machine(kernel, cpus=1)
    s = m.kmalloc_slab(100)
    slab_bytes = 4096 << s.order
    objs = [m.kmalloc(100) for _ in range(60 * s.objects)]
    by_slab = {}
    for p in objs:
        by_slab.setdefault(p // slab_bytes, []).append(p)
    slabs = sorted(by_slab.values(), key=lambda v: v[0])
    assert len(slabs) == 60 and all(len(v) == s.objects for v in slabs)
    n = s.node[0]
    # one object back from full slabs, oldest first: they go onto the CPU partial list,
    # which drains to the node list when full (5.16+: cpu_partial_slabs slabs; 4.x: more
    # than cpu_partial free objects)
    i = 0
    while n.nr_partial < s.min_partial:
        m.kfree(slabs[i].pop(0))
        i += 1
    first = next(v for v in slabs if m.virt_to_page(v[0]).pfn in {sl.pfn for sl in n.partial.values()})
    for p in first[:-1]:
        m.kfree(p)
    with m.trace() as t:
        m.kfree(first[-1])          # empty, on the node's partial list, and the node has enough
    entry = m.gen.chain("free_slab_pages_chain")[0]          # 6.15+: free_frozen_pages()
    assert is_nested(t, ["kfree", "slab_free", "__slab_free", "discard_slab", "free_slab", entry])
    freed = next(c for c in t.calls[0].walk() if c.func == entry)
    assert f"order={s.order}" in freed.detail
    m.check_invariants()


def test_kfree_to_another_cpus_slab_goes_through_slab_free_slow_path():
    m = machine("6.6", cpus=2)
    p = m.kmalloc(64)
    with m.on_cpu(1):
        with m.trace() as t:
            m.kfree(p)
    sf = next(c for c in t.calls[0].walk() if c.func == "__slab_free")
    assert "another CPU's slab" in sf.detail and "discard_slab" not in t
    m.check_invariants()


def test_kmem_cache_alloc_and_free_are_traced():
    m = machine("6.6")
    c = m.kmem_cache_create("my_cache", 40)
    with m.trace() as t:
        p = m.kmem_cache_alloc(c)
        m.kmem_cache_free(c, p)
    assert is_nested(t, ["kmem_cache_alloc", "slab_alloc", "slab_alloc_node", "__slab_alloc_node"])
    assert [x.func for x in t.calls[1].walk()] == ["kmem_cache_free", "slab_free", "do_slab_free"]


def test_debug_cache_path_and_unwinding_after_a_kernel_bug():
    m = machine("6.6", slub_debug="FZPU")
    p = m.kmalloc(64)
    m.kfree(p)
    with m.trace() as t:
        with pytest.raises(km.KernelBug):
            m.kfree(p)                           # double free, caught by slub_debug
        q = m.kmalloc(64)
    assert [c.func for c in t.calls] == ["kfree", "kmalloc"]      # the stack was unwound
    assert t.calls[0].result is None or t.calls[0].result == "exception"
    assert is_nested(t, ["kfree", "slab_free", "do_slab_free", "__slab_free", "free_to_partial_list"])
    assert is_nested(t, ["kmalloc", "slab_alloc_node", "__slab_alloc", "___slab_alloc"])
    assert "alloc_debug_processing" in t
    assert q


def test_slow_path_frames_exist_only_while_a_trace_runs():
    """slab_common.traced: inside `with m.trace()` (also when the block raises) the
    instance's class is the subclass whose methods are the framed wrappers; after, it is
    Slub again, so untraced calls run the bare methods. The instance dict is never touched
    (wrappers stored in it left Python 3.11 unable to specialise calls on the object)."""
    m = machine("6.18")
    slub = m._k.slub
    cls = type(slub)
    framed = {n for c in cls.__mro__ for n in vars(c) if getattr(getattr(cls, n), "traced_wrapper", None)}
    assert {"_Slub___slab_alloc", "_Slub__slab_free", "put_cpu_partial", "krealloc"} <= framed
    names = list(vars(slub))
    assert not framed & set(names)
    with pytest.raises(ZeroDivisionError):
        with m.trace() as t:
            assert type(slub) is not cls and isinstance(slub, cls)
            assert all(getattr(type(slub), n) is getattr(cls, n).traced_wrapper for n in framed)
            assert list(vars(slub)) == names
            m.kfree(m.kmalloc(64))
            1 / 0
    assert "___slab_alloc" in t and type(slub) is cls and list(vars(slub)) == names
    with m.trace() as t2:
        m.kmalloc(64)
    assert type(slub) is cls and list(vars(slub)) == names and len(t2.calls) == 1


def test_a_snapshot_copies_slub_field_by_field():
    """Slub.__deepcopy__: the copy has every slot and every instance-dict name, in the
    original's order, with equal values and nothing shared that is mutable."""
    m = machine("6.18")
    ptrs = [m.kmalloc(64) for _ in range(40)]
    slub = m._k.slub
    snap = m.snapshot()
    copy_ = snap._state.slub
    assert type(copy_) is type(slub) and copy_ is not slub
    assert list(vars(copy_)) == list(vars(slub))
    for name in type(slub).__slots__:
        if name != "__dict__":
            assert hasattr(copy_, name) == hasattr(slub, name)
    assert copy_.k is snap._state and copy_.page_slab is not slub.page_slab
    assert sorted(copy_.page_slab) == sorted(slub.page_slab)
    for p in ptrs[::2]:
        m.kfree(p)
    after_frees = [m.kmalloc(64) for _ in range(30)]
    m.restore(snap)
    assert m._k.slub.k is m._k
    for p in ptrs[::2]:                  # the same frees give the same objects again
        m.kfree(p)
    assert [m.kmalloc(64) for _ in range(30)] == after_frees
    for p in after_frees:
        m.kfree(p)
    m.check_invariants()
    for p in ptrs[1::2]:                 # the restored machine still holds the others
        m.kfree(p)
    m.check_invariants()


# -- tracing changes nothing ----------------------------------------------------------

def _workload(m, seed, n=300):
    rng = random.Random(seed)
    live, out = [], []
    for _ in range(n):
        if live and rng.random() < 0.45:
            m.kfree(live.pop(rng.randrange(len(live))))
        else:
            p = m.kmalloc(rng.choice([8, 24, 64, 100, 200, 700, 3000, 9000, 20000]),
                          rng.choice([km.GFP_KERNEL, km.GFP_KERNEL | km.__GFP_ZERO]))
            live.append(p)
            out.append(int(p))
    return out


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), kernel=st.sampled_from(["4.19", "6.6"]))
def test_traced_and_untraced_runs_do_the_same_thing(seed, kernel):
    a, b = machine(kernel, mem="64M"), machine(kernel, mem="64M")
    plain = _workload(a, seed)
    with b.trace() as t:
        traced = _workload(b, seed)
    assert plain == traced
    assert a.proc.slabinfo() == b.proc.slabinfo() and a.proc.buddyinfo() == b.proc.buddyinfo()
    assert len(t.calls) == 300 and not b._k.tracer
    b.check_invariants()


def test_events_are_emitted_with_and_without_a_trace():
    m = machine("6.6")
    seen = []
    sub = m.subscribe(lambda ev: seen.append(ev.type))
    p = m.kmalloc(64)
    m.kfree(p)
    with m.trace():
        p = m.kmalloc(64)
        m.kfree(p)
    sub.close()
    assert seen.count("kmalloc") == 2 and seen.count("kfree") == 2


# -- the fast paths keep the freelist in memory --------------------------------------------

@pytest.mark.parametrize("kernel,offset", [("6.6", 32), ("4.19", 0)])
def test_kfree_fast_path_stores_the_old_head_at_s_offset(kernel, offset):
    # s->offset: mid-object since v5.7 (ALIGN_DOWN(64 / 2, 8) = 32), 0 before
    m = machine(kernel)
    s = m.kmalloc_slab(64)
    assert s.offset == offset
    a, b = m.kmalloc(64), m.kmalloc(64)
    m.kfree(a)
    m.kfree(b)
    assert int.from_bytes(m.read(b + offset, 8), "little") == a
    assert m.kmalloc(64) == b and m.kmalloc(64) == a          # LIFO


def test_machine_kmalloc_hot_path_still_validates():
    m = machine()
    with pytest.raises(ValueError):
        m.kmalloc(64, 1 << 40)
    with pytest.raises(TypeError):
        m.kmalloc(64, True)
    with pytest.raises(TypeError):
        m.kmalloc(64.0)
    with pytest.raises(ValueError):
        m.kmalloc(-1)
    p = m.kmalloc(64, int(km.GFP_KERNEL))
    assert type(p) is km.Address and repr(p).startswith("0xffff")


# -- boot log --------------------------------------------------------------------------------

@pytest.mark.parametrize("cpus,nodes,kernel", [(4, 1, "6.6"), (8, 2, "4.14"), (1, 1, "5.10")])
def test_slub_boot_line(cpus, nodes, kernel):
    m = km.Machine(mem="256M", cpus=cpus, nodes=nodes, kernel=kernel)
    lines = [re.sub(r"^\[[ \d.]+\] ", "", line) for line in m.dmesg().splitlines()]
    want = f"SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs={cpus}, Nodes={nodes}"
    assert lines.count(want) == 1
    # kmem_cache_init() runs after the "Memory:" line of mem_init()
    assert lines.index(want) > next(i for i, l in enumerate(lines) if l.startswith("Memory:"))
