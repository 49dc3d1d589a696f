"""The bulk page path (__alloc_pages_bulk, batched vfree) against page-by-page
snapshots, and the vmalloc/vfree function-graph traces per kernel generation."""

import random

import numpy as np
import pytest

import kmemlab as km
from kmemlab.kernel.mem_map import K_PAGES, K_VMALLOC

GFP = int(km.GFP_KERNEL | km.__GFP_HIGHMEM | km.__GFP_NOWARN)


def _state(m):
    """Everything the two ways must agree on: free lists in list order, the block-head
    index, free counts and the mem_map arrays."""
    k = m._k
    zones = [([[list(fl) for fl in order] for order in z._lists], dict(z._head), z.nr_free_pages)
             for z in k.zones]
    mm = k.mem_map
    return zones, mm.kind.tobytes(), mm.order.tobytes(), mm.owner.tobytes(), mm.flags.tobytes()


def warm(seed, mem="128M", boot="init"):
    """Free lists holding blocks of every order, in a seed-dependent order, on a booted
    or a pristine machine."""
    m = km.Machine(mem=mem, boot=boot)
    rng = random.Random(seed)
    held = [m.alloc_pages(km.GFP_KERNEL, rng.choice((0, 0, 0, 1, 2))) for _ in range(3000)]
    rng.shuffle(held)
    for pg in held[:1800]:
        m.free_pages(pg, pg.order)
    return m


@pytest.mark.parametrize("boot", ["init", "bare"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("nr", [2, 37, 100])
def test_bulk_alloc_and_free_leave_the_same_free_lists_as_page_by_page(seed, nr, boot):
    m = warm(seed, boot=boot)
    buddy = m._k.buddy
    snap = m.snapshot()
    bulk = buddy.alloc_bulk(GFP, nr, K_VMALLOC, 7)
    after_alloc = _state(m)
    rng = random.Random(seed)
    order = bulk[:]
    rng.shuffle(order)
    buddy.free_bulk(order)
    after_free = _state(m)
    m.restore(snap)
    buddy = m._k.buddy
    one = [buddy.alloc(GFP, 0, K_VMALLOC, 7) for _ in range(nr)]
    assert one == bulk
    assert _state(m) == after_alloc
    for pfn in order:
        buddy.free(pfn, 0)
    assert _state(m) == after_free
    m.check_invariants()


def test_bulk_alloc_respects_low_watermark_plus_nr_and_goes_single_page_below_it():
    # pcp lists disabled: each single allocation below takes one page off the free lists
    m = km.Machine(mem="64M", pcp=False)
    k = m._k
    zl, highest, _ = k.buddy._plan(GFP, 0)
    assert [z.name for z in zl] == ["DMA32", "DMA"]

    def target(z):
        return z.watermark[1] + z.lowmem_reserve[highest] + 50

    # bring each zone down to exactly low + lowmem_reserve + 50 free pages
    while zl[1].nr_free_pages > target(zl[1]):
        k.buddy.alloc(int(km.GFP_DMA), 0, K_PAGES, 1)
    while zl[0].nr_free_pages > target(zl[0]):
        k.buddy.alloc(GFP, 0, K_PAGES, 1)
    assert [z.nr_free_pages for z in zl] == [target(z) for z in zl]
    with m.trace() as t:
        got = k.buddy.alloc_bulk(GFP, 50, K_PAGES, 1)     # free == mark: not above it
    assert len(got) == 1                                      # "failed": one page, the hard way
    assert [(c.func, c.result) for c in t.calls[:2]] == [("zone_watermark_fast", False)] * 2
    assert t.calls[2].func == m.gen.chain("__alloc_pages_chain")[0]
    with m.trace() as t:
        got = k.buddy.alloc_bulk(GFP, 10, K_PAGES, 1)
    assert len(got) == 10 and t.functions().count("__rmqueue_pcplist") == 10
    assert all(k.mem_map.zone[p] == zl[0].id for p in got)
    m.check_invariants()


def test_vmalloc_uses_the_bulk_allocator_from_5_13_only():
    for kernel, bulk in (("4.19", False), ("5.10", False), ("5.15", True), ("6.6", True)):
        m = km.Machine(mem="128M", kernel=kernel)
        with m.trace() as t:
            m.vfree(m.vmalloc(64 << 10))
        assert ("__alloc_pages_bulk" in t) is bulk, kernel
        m.check_invariants()


def test_vmalloc_of_more_than_100_pages_asks_in_batches_of_100():
    m = km.Machine(mem="128M")
    with m.trace() as t:
        v = m.vmalloc(250 * 4096)
    vap = next(c for c in t.calls[0].walk() if c.func == "vm_area_alloc_pages")
    assert [c.detail for c in vap.children] == ["nr_pages=100", "nr_pages=100", "nr_pages=50"]
    assert [c.result for c in vap.children] == [100, 100, 50]
    m.vfree(v)
    m.check_invariants()


# -- traces -------------------------------------------------------------------------------

BUDDY = {"__alloc_pages", "__alloc_pages_nodemask", "get_page_from_freelist", "rmqueue",
         "rmqueue_buddy", "__rmqueue", "__rmqueue_smallest", "expand", "__rmqueue_fallback",
         "steal_suitable_fallback", "free_the_page", "__free_pages_ok", "free_one_page",
         "__free_one_page", "merge", "rmqueue_pcplist", "rmqueue_bulk", "free_unref_page",
         "free_unref_page_commit", "free_pcppages_bulk", "free_hot_cold_page"}


def vm_outline(t):
    """The outline without the buddy allocator's own frames and without page-table
    page allocations (their number depends on what is mapped already)."""
    rows, skip = [], None
    for depth, func, n in t.outline():
        if skip is not None and depth > skip:
            continue
        skip = None
        if func in BUDDY:
            skip = depth
            continue
        rows.append((depth, func, n))
        if func in SLAB_ENTRIES:          # SLUB's own frames below are tested in test_slub_trace
            skip = depth
    return rows


SLAB_ENTRIES = {"__kmalloc_node", "kfree"}


def test_trace_of_vmalloc_20000_on_4_19():
    m = km.Machine(mem="128M", kernel="4.19")
    with m.trace() as t:
        m.vmalloc(20000)
    # v4.19 mm/vmalloc.c: vmalloc -> __vmalloc_node_flags -> __vmalloc_node ->
    # __vmalloc_node_range -> __get_vm_area_node -> alloc_vmap_area; __vmalloc_area_node:
    # kmalloc_node(5 * 8 bytes), alloc_page() x5, map_vm_area -> vmap_page_range -> ...
    assert vm_outline(t) == [
        (0, "vmalloc", 1), (1, "__vmalloc_node_flags", 1), (2, "__vmalloc_node", 1),
        (3, "__vmalloc_node_range", 1), (4, "__get_vm_area_node", 1), (5, "alloc_vmap_area", 1),
        (4, "__vmalloc_area_node", 1), (5, "__kmalloc_node", 1),
        (5, "alloc_page", 1), (5, "alloc_page", 4),
        (5, "map_vm_area", 1), (6, "vmap_page_range", 1), (7, "vmap_page_range_noflush", 1),
        (8, "vmap_p4d_range", 1), (9, "vmap_pud_range", 1), (10, "vmap_pmd_range", 1),
        (11, "vmap_pte_range", 1)]
    # each alloc_page() goes into the page allocator
    first = next(c for c in t.calls[0].walk() if c.func == "alloc_page")
    assert first.children[0].func == "__alloc_pages_nodemask"
    assert "alloc_page() \u00d74 more;" in str(t)


def test_trace_of_vmalloc_20000_on_6_6():
    m = km.Machine(mem="128M", kernel="6.6")
    with m.trace() as t:
        m.vmalloc(20000)
    assert vm_outline(t) == [
        (0, "vmalloc", 1), (1, "__vmalloc_node", 1), (2, "__vmalloc_node_range", 1),
        (3, "__get_vm_area_node", 1), (4, "alloc_vmap_area", 1),
        (3, "__vmalloc_area_node", 1), (4, "__kmalloc_node", 1),
        (4, "vm_area_alloc_pages", 1), (5, "alloc_pages_bulk_array_mempolicy", 1),
        (6, "__alloc_pages_bulk", 1), (7, "zone_watermark_fast", 1),
        (7, "__rmqueue_pcplist", 1), (7, "__rmqueue_pcplist", 4),
        (4, "vmap_pages_range", 1), (5, "vmap_pages_range_noflush", 1),
        (6, "__vmap_pages_range_noflush", 1), (7, "vmap_small_pages_range_noflush", 1),
        (8, "vmap_pages_p4d_range", 1), (9, "vmap_pages_pud_range", 1),
        (10, "vmap_pages_pmd_range", 1), (11, "vmap_pages_pte_range", 1)]


@pytest.mark.parametrize("kernel,chain", [("4.19", ["vfree", "__vunmap", "remove_vm_area"]),
                                          ("5.10", ["vfree", "__vfree", "__vunmap", "remove_vm_area"]),
                                          ("6.6", ["vfree", "remove_vm_area"])])
def test_trace_of_vfree(kernel, chain):
    m = km.Machine(mem="128M", kernel=kernel)
    v = m.vmalloc(20000)
    with m.trace() as t:
        m.vfree(v)
    rows = vm_outline(t)
    assert [f for _, f, _ in rows[:len(chain)]] == chain
    frees = [(d, f, n) for d, f, n in t.outline() if f == "__free_pages"]
    assert [n for _, _, n in frees] == [1, 4]                  # five pages, one collapsed line
    assert rows[-2:] == [(len(chain) - 1, "kfree", 1), (len(chain) - 1, "kfree", 1)] or \
        [f for _, f, _ in rows[-3:]] == ["kvfree", "kfree", "kfree"]


def test_trace_keeps_every_call_even_when_it_prints_one_line():
    m = km.Machine(mem="128M", kernel="4.19")
    with m.trace() as t:
        m.vmalloc(500 * 4096)              # 4000 bytes of pointers: still a kmalloc'ed array
    assert t.functions().count("alloc_page") == 500
    assert str(t).count("alloc_page()") == 2                   # the first in full, then "x499 more"
    assert "alloc_page() \u00d7499 more;" in str(t)


def drain(m, leave=40):
    """Allocate until the min watermark stops GFP_KERNEL, then give ``leave`` pages back
    (to the buddy lists: the per-cpu lists drained)."""
    held = []
    while (pg := m.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN, 0)) is not None:
        held.append(pg)
    for pg in held[:leave]:
        m.free_pages(pg, 0)
    m.drain_all_pages()


def test_trace_of_a_vmalloc_that_fails_shows_where():
    m = km.Machine(mem="64M", kernel="6.6")
    with m.trace() as t:
        assert m.vmalloc(1 << 30) == km.NULL                   # more than the RAM
    rng = next(c for c in t.calls[0].walk() if c.func == "__vmalloc_node_range")
    assert [c.func for c in rng.children] == ["warn_alloc"]
    assert rng.children[0].detail == "vmalloc error: size 1073741824, exceeds total pages"
    # out of pages half way: the bulk call finds no zone above low + nr, single pages
    # run into the min watermark, warn, vfree what was taken
    drain(m)
    with m.trace() as t:
        assert m.vmalloc(64 * 4096) == km.NULL
    area = next(c for c in t.calls[0].walk() if c.func == "__vmalloc_area_node")
    names = [c.func for c in area.children]
    assert names[-2:] == ["warn_alloc", "vfree"]
    assert area.children[-2].detail.startswith("vmalloc error: size ")
    assert area.children[-2].detail.endswith(", failed to allocate pages")
    assert area.result is False
    m.check_invariants()


def test_trace_of_a_4_19_vmalloc_that_fails_uses_the_old_message():
    m = km.Machine(mem="64M", kernel="4.19")
    drain(m)
    with m.trace() as t:
        assert m.vmalloc(64 * 4096) == km.NULL
    warn = next(c for c in t.calls[0].walk() if c.func == "warn_alloc")
    assert warn.detail.startswith("vmalloc: allocation failure, allocated ")
    assert warn.detail.endswith(f" of {65 * 4096} bytes")      # area->size has the guard page
    # the pages were asked for with __GFP_NOWARN: no per-page "page allocation failure"
    assert "page allocation failure" not in m.dmesg()


def test_trace_shows_a_nested_vmalloc_for_a_big_page_array():
    m = km.Machine(mem="128M", kernel="6.6")
    with m.trace() as t:
        v = m.vmalloc(3 << 20)             # 768 pages: 6144 bytes of pointers > PAGE_SIZE
    rows = vm_outline(t)
    i = rows.index((3, "__vmalloc_area_node", 1))
    assert rows[i + 1] == (4, "__vmalloc_node", 1)
    assert rows[i + 2] == (5, "__vmalloc_node_range", 1)
    nested = next(c for c in t.calls[0].walk() if c.func == "__vmalloc_node" and "page array" in c.detail)
    assert nested.detail == "size=6144 (the page array)"
    assert " vpages" in m.proc.vmallocinfo()
    m.vfree(v)
    m.check_invariants()


def test_no_tracer_left_behind_and_bulk_mem_map_is_right():
    m = km.Machine(mem="128M")
    v = m.vmalloc(64 << 10)
    vm = m.find_vm_area(v)
    mm = m._k.mem_map
    idx = np.array(vm.pages)
    assert (mm.kind[idx] == K_VMALLOC).all() and (mm.order[idx] == 0).all()
    assert (mm.owner[idx] == vm.id).all()
    assert m._k.tracer is None
    m.vfree(v)
    m.check_invariants()
