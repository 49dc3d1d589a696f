"""The drgn-style read interface over a simulated Machine (kmemlab/kernel/helpers.py).

Every helper is checked against an independent reading of the same state: the /proc
texts the machine prints, or the allocations the test itself made."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kmemlab as km
from kmemlab import helpers as H


@pytest.fixture(scope="module")
def m():
    m = km.Machine(mem="8G", cpus=4, seed=3)
    keep = [m.kmalloc(n) for n in (8, 100, 700, 3000, 5000, 20000)]
    for p in keep[::2]:
        m.kfree(p)
    m.vmalloc(40000)
    v = m.vmalloc(9000)
    m.vfree(v)                                   # a lazily freed area
    m.alloc_pages(km.GFP_KERNEL, 3)
    return m


def test_helpers_are_exported_from_kmemlab():
    assert km.helpers.for_each_slab_cache is H.for_each_slab_cache
    from kmemlab.kernel import helpers as kh
    assert set(H.__all__) == set(kh.__all__)
    for name in H.__all__:
        obj = getattr(H, name)
        if callable(obj) and not isinstance(obj, type) and name.islower():
            assert obj.__doc__, f"{name} has no docstring"


def test_zones_are_the_machines_zones_in_buddyinfo_order(m):
    assert list(H.for_each_zone(m)) == m.zones
    pop = list(H.for_each_populated_zone(m))
    lines = m.proc.buddyinfo().splitlines()
    assert len(pop) == len(lines)
    for z, line in zip(pop, lines):
        f = line.replace(",", " ").split()
        assert (int(f[1]), f[3]) == (z.node, z.name)
        assert [int(x) for x in f[4:]] == [fa.nr_free for fa in z.free_area]
        assert len(z.free_area) == H.NR_PAGE_ORDERS(m) == 11
        assert H.zone_end_pfn(z) == z.zone_start_pfn + z.spanned_pages
        assert H.populated_zone(z) and H.zone_managed_pages(z) == z.managed_pages


def test_watermarks_and_reserve_agree_with_zoneinfo(m):
    text = m.proc.zoneinfo()
    blocks = re.split(r"^(?=Node )", text, flags=re.M)[1:]
    for z, block in zip(H.for_each_zone(m), blocks):
        def field(name):
            return int(re.search(rf"^\s+{name}\s+(\d+)$", block, re.M).group(1))
        assert (H.min_wmark_pages(z), H.low_wmark_pages(z), H.high_wmark_pages(z)) == \
            (field("min"), field("low"), field("high"))
        assert H.wmark_pages(z, H.WMARK_PROMO) == field("promo")
        assert z.spanned_pages == field("spanned") and z.present_pages == field("present")
        prot = re.search(r"protection: \((.*)\)", block).group(1)
        assert [int(x) for x in prot.split(", ")] == list(z.lowmem_reserve)
        assert H.zone_page_state(z, "nr_free_pages") == field("pages free")
        assert H.zone_page_state(z, "nr_mlock") == 0
    with pytest.raises(ValueError, match="WMARK_PROMO"):
        H.wmark_pages(m.zones[0], 4)
    with pytest.raises(ValueError, match="unknown zone counter"):
        H.zone_page_state(m.zones[0], "nr_free")


def test_free_list_count_matches_pagetypeinfo(m):
    names = H.migratetype_names(m)
    assert names[:3] == ("Unmovable", "Movable", "Reclaimable")
    rows = {}
    for line in m.proc.pagetypeinfo().splitlines():
        mo = re.match(r"Node +(\d+), zone +(\w+), type +(\w+) (.*)$", line)
        if mo:
            rows[(int(mo.group(1)), mo.group(2), mo.group(3))] = [int(x) for x in mo.group(4).split()]
    assert rows
    for z in H.for_each_populated_zone(m):
        for mt, name in enumerate(names):
            assert [H.free_list_count(fa, mt) for fa in z.free_area] == rows[(z.node, z.name, name)]
        for fa in z.free_area:
            assert sum(H.free_list_count(fa, mt) for mt in range(len(names))) == fa.nr_free
    with pytest.raises(ValueError, match="migratetype"):
        H.free_list_count(m.zones[0].free_area[0], 9)
    assert H.pageblock_order(m) == 9


def test_slab_caches_in_slabinfo_order_with_its_geometry(m):
    caches = list(H.for_each_slab_cache(m))
    rows = [l.split() for l in m.proc.slabinfo().splitlines()[2:]]
    assert [s.name for s in caches] == [r[0] for r in rows]
    for s, r in zip(caches, rows):
        assert (s.size, H.slab_cache_objects_per_slab(s), H.slab_cache_pages_per_slab(s)) == \
            (int(r[3]), int(r[4]), int(r[5]))
        assert 1 << H.slab_cache_order(s) == int(r[5])
        u = H.slab_cache_usage(s)
        assert (u.num_slabs, u.num_objs) == (int(r[14]), int(r[2]))
        # slabinfo counts the CPU freelists' objects as active; the helper does not
        assert u.active_objs <= int(r[1])
        # merged = other kmem_cache_create()s share it: what its sysfs aliases file counts
        assert H.slab_cache_is_merged(s) == (int(m.cat(f"/sys/kernel/slab/{s.name}/aliases")) > 0)
    assert any(H.slab_cache_is_merged(s) for s in caches)      # a booted machine merged some (anon_vma_chain)
    assert H.find_slab_cache(m, "kmalloc-64") is m.find_cache("kmalloc-64")
    assert H.find_slab_cache(m, "no-such-cache") is None
    with pytest.raises(TypeError):
        H.find_slab_cache(m, 64)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), min_size=1, max_size=120),
       st.sampled_from([24, 72, 200, 1000]))
def test_usage_and_object_states_count_what_was_allocated(ops, size):
    m = km.Machine(mem="256M", cpus=2, seed=1, slab_nomerge=True)   # "obj" gets a cache of its own
    c = m.kmem_cache_create("obj", size)
    live = []
    for alloc, pick in ops:
        if alloc or not live:
            with m.on_cpu(pick % 2):
                live.append(int(m.kmem_cache_alloc(c)))
        else:
            m.kmem_cache_free(c, live.pop(pick % len(live)))
    u = H.slab_cache_usage(c)
    assert u.active_objs == len(live)
    assert u.num_objs == u.num_slabs * H.slab_cache_objects_per_slab(c)
    slabs = list(H.slab_cache_for_each_slab(c))
    assert [sl.pfn for sl in slabs] == sorted(sl.pfn for sl in slabs)
    assert len(slabs) == u.num_slabs
    states = [H.slab_object_states(sl) for sl in slabs]
    assert sum(int((s_ == H.OBJ_USED).sum()) for s_ in states) == len(live)
    assert sorted(H.slab_cache_for_each_allocated_object(c)) == sorted(live)
    for sl, s_ in zip(slabs, states):
        objs = list(H.for_each_object(sl))
        assert len(objs) == sl.objects == len(s_)
        assert sl.slab_cache is c
        assert all(H.page_slab(m, sl.pfn + i) is sl for i in range(1 << sl.order))
        free = set(H.for_each_free_object(c, sl.freelist))
        assert free == {o for o, v in zip(objs, s_) if v == H.OBJ_FREE}
    for p in live[:5]:
        info = H.slab_object_info(m, p + size // 2)
        assert info.address == p and info.allocated and info.slab_cache is c
        assert H.find_containing_slab_cache(m, p) is c


def test_slab_object_info_of_a_freed_object_and_of_non_slab_memory():
    m = km.Machine(mem="128M", cpus=1)
    p = m.kmalloc(100)
    q = m.kmalloc(100)
    m.kfree(p)
    assert H.slab_object_info(m, p).allocated is False
    assert H.slab_object_info(m, q).allocated is True
    assert H.get_freepointer(find := H.find_slab_cache(m, "kmalloc-128"), p) in (0, *H.for_each_object(H.virt_to_slab(m, p)))
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    assert H.slab_object_info(m, m.page_address(pg)) is None
    assert H.page_slab(m, pg) is None
    assert H.virt_to_slab(m, m.VMALLOC_START) is None
    assert H.find_containing_slab_cache(m, m.VMALLOC_START) is None
    assert find.name == "kmalloc-128"


def test_object_states_stop_at_a_corrupted_freelist():
    m = km.Machine(mem="128M", cpus=1)
    c = m.kmem_cache_create("uaf", 64)
    objs = [m.kmem_cache_alloc(c) for _ in range(4)]
    for o in objs:
        m.kmem_cache_free(c, o)
    sl = H.virt_to_slab(m, objs[0])
    m.write(objs[-1] + c.offset, (0xdead0000).to_bytes(8, "little"))   # a use-after-free write
    st_ = H.slab_object_states(sl)
    assert len(st_) == sl.objects and set(np.unique(st_)) <= {H.OBJ_USED, H.OBJ_FREE, H.OBJ_CPU_FREE}
    assert len(list(H.for_each_free_object(c, objs[-1]))) <= c.objects


def test_vmap_areas_agree_with_vmallocinfo(m):
    busy = list(H.for_each_vmap_area(m))
    lazy = list(H.for_each_purge_vmap_area(m))
    lines = m.proc.vmallocinfo().splitlines()
    used = [l for l in lines if "unpurged" not in l]
    unpurged = [l for l in lines if "unpurged" in l]
    assert [int(l.split("-")[0], 16) for l in used] == [va.va_start for va in busy]
    assert [int(l.split("-")[0], 16) for l in unpurged] == [va.va_start for va in lazy]
    assert all(va.vm is None for va in lazy) and lazy
    for va in busy:
        assert H.find_vmap_area(m, va.va_start + 1) is va
        assert H.get_vm_area_size(va.vm) == va.vm.size - 4096
        assert m.find_vm_area(va.va_start) is va.vm
    spans = sorted((va.va_start, va.va_end) for va in busy + lazy)
    gap = next(e for (_, e), (s, _) in zip(spans, spans[1:]) if s > e)   # the first free range
    assert H.find_vmap_area(m, gap) is None
    # a booted machine's top of the vmalloc space: a per-CPU chunk (pcpu_get_vm_areas allocates from the end)
    assert H.find_vmap_area(m, m.VMALLOC_END - 1).vm.caller.startswith("pcpu_get_vm_areas")
    with pytest.raises(TypeError, match="va.vm"):
        H.get_vm_area_size(busy[0])


def test_counters_agree_with_meminfo(m):
    mi = H.meminfo(m)
    assert mi["MemTotal"] == H.totalram_pages(m) * 4 == m.totalram_pages * 4
    assert mi["MemFree"] == H.nr_free_pages(m) * 4
    assert mi["SUnreclaim"] == H.global_node_page_state(m, "nr_slab_unreclaimable") * 4
    assert H.global_zone_page_state(m, "nr_free_pages") == H.nr_free_pages(m)
    si = H.si_meminfo(m)
    assert (si.totalram, si.freeram, si.mem_unit) == (H.totalram_pages(m), H.nr_free_pages(m), 4096)
    assert H.si_mem_available(m) * 4 == mi["MemAvailable"]
    with pytest.raises(ValueError, match="known"):
        H.global_node_page_state(m, "nr_slabs")
    with pytest.raises(TypeError):
        H.global_node_page_state(m, 3)


def test_min_free_kbytes_is_the_sum_of_min_watermarks():
    m = km.Machine(mem="2G")
    pages_min = H.min_free_kbytes(m) >> 2
    # the populated zones share it; an unpopulated Movable zone has a small fixed min of its
    # own (32 pages, as a real 6.18 box's zoneinfo shows), which is not part of the share
    total = sum(H.min_wmark_pages(z) for z in H.for_each_zone(m) if H.populated_zone(z))
    assert abs(total - pages_min) <= len(m.zones)          # each zone's share is rounded down


def test_identity_nodes_cpus_and_constants():
    m = km.Machine(mem="2G", cpus=4, nodes=2, kernel="6.1")
    assert list(H.for_each_online_node(m)) == [0, 1] and H.nr_node_ids(m) == 2
    assert list(H.for_each_online_cpu(m)) == [0, 1, 2, 3] and H.num_online_cpus(m) == 4
    assert H.utsname(m).release == "6.1.0-kmemlab" and H.utsname(m).machine == "x86_64"
    assert H.utsname(km.Machine(profile="i386")).machine == "i686"
    assert (H.PAGE_SIZE(m), H.PAGE_SHIFT(m)) == (4096, 12)
    assert H.max_pfn(m) == m.max_pfn
    assert {z.node for z in H.for_each_zone(m)} == {0, 1}


def test_highmem_and_max_low_pfn_on_i386():
    m = km.Machine(profile="i386", mem="2G")
    high = m.alloc_pages(km.GFP_HIGHUSER, 0)
    low = m.alloc_pages(km.GFP_KERNEL, 0)
    assert H.PageHighMem(high) and not H.PageHighMem(low)
    assert low.pfn < H.max_low_pfn(m) <= high.pfn
    with pytest.raises(TypeError):
        H.PageHighMem(high.pfn)


def test_printk_records_and_next_seq_follow_dmesg():
    m = km.Machine(mem="128M")
    recs = H.get_printk_records(m)
    assert [r.text for r in recs] == [l.split("] ", 1)[1] for l in m.dmesg().splitlines()]
    assert [r.seq for r in recs] == list(range(len(recs)))
    seq = H.prb_next_seq(m)
    m.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN, 20 - 10)      # order 10 succeeds: no log
    assert H.prb_next_seq(m) == seq
    m.kmalloc(1 << 40, km.GFP_KERNEL)                             # fails with a warning
    assert H.prb_next_seq(m) > seq
    m.dmesg(clear=True)
    assert H.get_printk_records(m) == [] and H.prb_next_seq(m) > seq


def test_tracing_is_on_inside_a_trace_only():
    m = km.Machine(mem="128M")
    assert not H.tracing_is_on(m)
    with m.trace():
        assert H.tracing_is_on(m)
    assert not H.tracing_is_on(m)


def test_helpers_follow_restore():
    m = km.Machine(mem="256M")
    snap = m.snapshot()
    c = m.kmem_cache_create("later", 100)
    assert H.find_slab_cache(m, "later") is c
    m.restore(snap)
    assert H.find_slab_cache(m, "later") is None
    assert list(H.for_each_zone(m)) == m.zones


def test_other_objects_are_refused_clearly():
    with pytest.raises(TypeError, match="km.Machine or km.host"):
        H.for_each_zone(object())

    class Blind(H.ReadSource):
        description = "a blind source"

    class Prog:
        def __kmemlab_source__(self):
            return Blind()
    with pytest.raises(H.NotAvailable, match="a blind source cannot show its zones"):
        list(H.for_each_zone(Prog()))
    assert not H.supports(Prog(), "slab_objects")
    assert H.supports(km.Machine(mem="128M"), "slab_objects")
    with pytest.raises(H.NotAvailable, match="do not show individual slabs"):
        H.page_slab(Prog(), 0)
    with pytest.raises(H.NotAvailable):
        list(H.slab_cache_for_each_slab(object()))
    assert issubclass(km.NotAvailable, LookupError)


def test_reading_changes_nothing():
    m = km.Machine(mem="512M", cpus=2)
    for n in (16, 200, 5000):
        m.kmalloc(n)
    before = (m.proc.buddyinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(), m.dmesg())
    for s in H.for_each_slab_cache(m):
        H.slab_cache_usage(s)
        for sl in H.slab_cache_for_each_slab(s):
            H.slab_object_states(sl)
    list(H.for_each_vmap_area(m)), H.vmstat(m), H.meminfo(m), H.get_printk_records(m)
    assert (m.proc.buddyinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(), m.dmesg()) == before
    m.check_invariants()
