"""The per-cpu page lists (struct per_cpu_pages, mm/page_alloc.c): where order-0 (5.14+: low
order and THP) pages come from and go to, how batch and high are sized per generation,
what /proc shows, drain_all_pages(), and the names a trace prints.

The numbers are the kernel's formulas, checked by hand here (zone_batchsize(),
zone_highsize(), nr_pcp_alloc(), nr_pcp_free()); tests/test_buddy_zoneinfo.py compares a
machine shaped like this project's 6.18 box with the box itself."""

import pytest

import kmemlab as km
from kmemlab.kernel.mem_map import K_FREE, K_PCP


def drained(**kw):
    """A pristine machine (boot="bare": one clean free run, so a refill's split pages come in
    pfn order) with every per-cpu list drained."""
    m = km.Machine(**{"mem": "256M", "cpus": 2, "boot": "bare", **kw})
    m.drain_all_pages()
    return m


def test_an_order0_page_comes_from_the_cpus_list_refilled_in_a_batch():
    m = drained()
    z = m.zone("DMA32")
    pcp = z.per_cpu_pageset[0]
    assert pcp.count == 0
    before = [fa.nr_free for fa in z.free_area]
    free_before = z.nr_free_pages
    factor = pcp.alloc_factor             # boot's refills raised it; only a free lowers it
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    # 6.18 nr_pcp_alloc(): batch << alloc_factor, at most high - count - batch (far away
    # here); rmqueue_bulk() takes that many pages, the list head is handed out
    refill = pcp.batch << factor
    assert pcp.batch == 15 and pcp.count == refill - 1
    assert z.nr_free_pages == free_before - refill           # NR_FREE_PAGES: the batch left the buddy lists
    assert [fa.nr_free for fa in z.free_area] != before
    on_list = pcp.pcp_list(0)                                  # list head first
    assert len(on_list) == pcp.count and pg.pfn not in on_list
    assert on_list == sorted(on_list) and on_list[0] == pg.pfn + 1     # split pages in pfn order
    assert all(m.mem_map.kind[p] == K_PCP for p in on_list)
    nxt = m.alloc_pages(km.GFP_KERNEL, 0)
    assert nxt.pfn == on_list[0] and z.nr_free_pages == free_before - refill   # no buddy work
    m.check_invariants()


def test_a_freed_page_goes_to_the_list_head_and_is_the_next_one_handed_out():
    m = drained()
    a = m.alloc_pages(km.GFP_KERNEL, 0)
    b = m.alloc_pages(km.GFP_KERNEL, 0)
    m.free_pages(a, 0)
    pcp = m.zone("DMA32").per_cpu_pageset[0]
    assert pcp.pcp_list(0)[0] == a.pfn and m.mem_map.kind[a.pfn] == K_PCP
    assert "buddy" not in a.flags and a.owner == "pcp"
    assert m.alloc_pages(km.GFP_KERNEL, 0).pfn == a.pfn           # hot page reuse
    m.free_pages(b, 0)
    m.check_invariants()


def test_buddyinfo_and_memfree_leave_out_pages_on_pcp_lists_until_drained():
    m = drained()
    info, meminfo = m.proc.buddyinfo(), m.proc.meminfo()
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(20)]
    for pg in pages:
        m.free_pages(pg, 0)
    on_pcp = sum(z.nr_pcp_pages for z in m.zones)
    assert on_pcp > 0 and m.proc.buddyinfo() != info
    memfree = int(next(line for line in m.proc.meminfo().splitlines() if line.startswith("MemFree")).split()[1])
    assert memfree == sum(z.nr_free_pages for z in m.zones) * 4
    assert m.drain_all_pages() == on_pcp
    assert m.proc.buddyinfo() == info and m.proc.meminfo() == meminfo
    assert all(m.mem_map.kind[p.pfn] == K_FREE for p in pages)
    m.check_invariants()


def test_each_cpu_has_its_own_list():
    m = drained(cpus=4)
    with m.on_cpu(2):
        pg = m.alloc_pages(km.GFP_KERNEL, 0)
        m.free_pages(pg, 0)
    z = m.zone("DMA32")
    assert [p.count for p in z.per_cpu_pageset][2] > 0
    assert [p.count for p in z.per_cpu_pageset][0] == 0
    assert m.alloc_pages(km.GFP_KERNEL, 0).pfn != pg.pfn          # cpu 0 refills its own list
    m.check_invariants()


def test_4_5_frees_a_batch_once_the_list_reaches_high():
    """4.5 free_hot_cold_page(): count >= high (6 * batch) frees batch pages from the tails
    (free_pcppages_bulk()); zone_batchsize() capped at 512 KiB there."""
    m = drained(kernel="4.5", mem="1G")
    z = m.zone("DMA32")
    pcp = z.per_cpu_pageset[0]
    assert pcp.batch == 31 and pcp.high == 6 * 31                 # min(managed >> 10, 128) / 4 -> 31
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(400)]
    for i, pg in enumerate(pages):
        m.free_pages(pg, 0)
        assert pcp.count < pcp.high
    # after the last free past high the list holds high - batch pages at most
    assert pcp.count <= pcp.high - 1
    m.check_invariants()


def test_6_6_high_follows_the_low_watermark_and_free_factor_grows_the_drains():
    m = drained(kernel="6.6", mem="1G")
    z = m.zone("DMA32")
    pcp = z.per_cpu_pageset[0]
    # zone_highsize(): the low watermark over the node's CPUs, at least 4 * batch
    assert pcp.batch == 63 and pcp.high == max(z.watermark[1] // 2, 4 * 63)
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(3 * pcp.high)]
    drains = []
    for pg in pages:
        before = pcp.count
        m.free_pages(pg, 0)
        if pcp.count < before:
            drains.append(before + 1 - pcp.count)
    # nr_pcp_free(): batch << free_factor, clamped to batch .. high - batch
    assert drains[0] == 63 and drains[1] == 126 and all(d <= pcp.high - 63 for d in drains)
    m.check_invariants()


def test_6_18_high_is_tuned_between_high_min_and_high_max():
    m = drained(mem="1G")
    z = m.zone("DMA32")
    pcp = z.per_cpu_pageset[0]
    assert (pcp.high_min, pcp.high_max) == (max(z.watermark[1] // 2, 4 * pcp.batch),
                                            max(z.managed_pages // 8 // 2, 4 * pcp.batch))
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(2000)]
    grown = pcp.high
    assert grown > pcp.high_min                                    # refills raised it (nr_pcp_alloc())
    assert pcp.alloc_factor == 5                                   # CONFIG_PCP_BATCH_SCALE_MAX
    for pg in pages:
        m.free_pages(pg, 0)
    assert pcp.alloc_factor == 0 and pcp.high_min <= pcp.high <= pcp.high_max
    assert pcp.count < pcp.high
    m.check_invariants()


def test_low_orders_use_the_pcp_lists_from_5_14_and_the_buddy_lists_before():
    for kernel, on_pcp in (("5.10", False), ("5.15", True), ("6.18", True)):
        m = drained(kernel=kernel)
        pg = m.alloc_pages(km.GFP_KERNEL, 3)
        m.free_pages(pg, 3)
        assert bool(m.mem_map.kind[pg.pfn] == K_PCP) is on_pcp, kernel
        assert all(m.mem_map.kind[pg.pfn + i] == m.mem_map.kind[pg.pfn] for i in range(8))
        big = m.alloc_pages(km.GFP_KERNEL, 4)                      # order 4: never a pcp order
        m.free_pages(big, 4)
        assert m.mem_map.kind[big.pfn] == K_FREE
        m.check_invariants()


def test_drain_all_pages_of_one_zone_and_its_argument_checks():
    m = drained()
    for pg in [m.alloc_pages(km.GFP_KERNEL | km.GFP_DMA, 0) for _ in range(3)] + \
              [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(3)]:
        m.free_pages(pg, 0)
    dma, dma32 = m.zone("DMA"), m.zone("DMA32")
    assert dma.nr_pcp_pages and dma32.nr_pcp_pages
    assert m.drain_all_pages("DMA") == 3 and dma.nr_pcp_pages == 0 and dma32.nr_pcp_pages
    with pytest.raises(TypeError, match="zone"):
        m.drain_all_pages(42)
    assert m.drain_all_pages(dma32) > 0
    m.check_invariants()


def test_pcp_false_keeps_every_list_disabled_as_zone_pcp_disable_does():
    m = km.Machine(mem="256M", pcp=False)
    for z in m.zones:
        for p in z.per_cpu_pageset:
            assert (p.high, p.batch, p.high_min, p.high_max) == (0, 1, 0, 0)
    info = m.proc.buddyinfo()
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    assert sum(z.nr_pcp_pages for z in m.zones) == 0
    m.free_pages(pg, 0)
    assert m.proc.buddyinfo() == info and m.mem_map.kind[pg.pfn] == K_FREE
    with pytest.raises(TypeError, match="pcp"):
        km.Machine(profile="tiny", pcp="no")


def test_the_bulk_allocator_takes_its_pages_from_the_pcp_list():
    m = drained()
    z = m.zone("DMA32")
    with m.trace() as t:
        v = m.vmalloc(40 * 4096)
    bulk = [c for top in t.calls for c in top.walk() if c.func == m.gen.name("__alloc_pages_bulk")]
    assert len(bulk) == 1
    assert [c.func for c in bulk[0].children].count("__rmqueue_pcplist") == 40
    assert "rmqueue_bulk" in [c.func for c in bulk[0].walk()]
    pages = m.vmalloc_to_page(v).pfn
    assert m.mem_map.kind[pages] != K_PCP
    m.vfree(v)                                     # vfree: each page back to the pcp list
    assert z.per_cpu_pageset[0].count >= 40
    m.check_invariants()


@pytest.mark.parametrize("kernel, alloc, free", [
    ("4.5", ["buffered_rmqueue", "rmqueue_bulk"], ["__free_pages", "free_hot_cold_page"]),
    ("5.10", ["rmqueue", "rmqueue_pcplist", "__rmqueue_pcplist", "rmqueue_bulk"],
     ["__free_pages", "free_unref_page", "free_unref_page_commit"]),
    ("6.6", ["rmqueue", "rmqueue_pcplist", "__rmqueue_pcplist", "rmqueue_bulk"],
     ["__free_pages", "free_the_page", "free_unref_page", "free_unref_page_commit"]),
    ("6.18", ["rmqueue", "rmqueue_pcplist", "__rmqueue_pcplist", "rmqueue_bulk"],
     ["__free_pages", "___free_pages", "__free_frozen_pages", "free_frozen_page_commit"]),
])
def test_traces_show_the_pcp_path_with_each_generations_names(kernel, alloc, free):
    m = drained(kernel=kernel)
    with m.trace() as t:
        pg = m.alloc_pages(km.GFP_KERNEL, 0)
        m.free_pages(pg, 0)
    names = t.functions()
    for want in alloc + free:
        assert want in names, (kernel, want, names)
    # 4.5 had no rmqueue_pcplist: buffered_rmqueue() took the page itself
    assert ("rmqueue_pcplist" in names) is (kernel != "4.5")
    assert t.format(inlined=False).count(" rmqueue_pcplist()") == 0    # inlined in the real kernel
    # a drain shows free_pcppages_bulk() -> __free_one_page() under the commit
    with m.trace() as t:
        m.drain_all_pages()
    assert t.functions()[:3] == ["drain_all_pages", "free_pcppages_bulk", "__free_one_page"]


def test_invariants_catch_a_pcp_count_that_does_not_match_its_lists():
    m = drained()
    m.free_pages(m.alloc_pages(km.GFP_KERNEL, 0), 0)
    m.zone("DMA32").per_cpu_pageset[0].count += 1
    with pytest.raises(AssertionError, match="pcp->count"):
        m.check_invariants()


def test_a_raising_slab_constructor_after_a_pcp_refill_loses_no_page():
    # the slab's pages came with a refill of the CPU's empty list (rmqueue_bulk()): undoing
    # the slab gives its pages back, and the other refilled pages stay free on the list
    m = km.Machine(mem="256M", boot="bare")
    m.drain_all_pages()
    boom = m.kmem_cache_create("boom", 72, ctor=lambda addr: 1 // 0)
    free = sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones)
    with pytest.raises(km.SlabCtorError):
        m.kmem_cache_alloc(boom)
    assert sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones) == free
    assert sum(z.nr_pcp_pages for z in m.zones) > 0          # the refill happened
    m.check_invariants()
