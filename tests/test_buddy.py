"""The buddy allocator (mm/page_alloc.c): splitting, merging, zones, watermarks, failures."""

import re

import pytest

import kmemlab as km
from kmemlab.kernel.gfp import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE


@pytest.fixture
def m():
    return km.Machine(profile="x86_64", mem="128M", cpus=4, seed=0)


@pytest.fixture
def tiny():
    """A pristine tiny machine with the buddy lists alone: the tests split and merge blocks
    of its one clean free run, and every per-cpu list is disabled (zone_pcp_disable()), so
    each page goes straight to the free lists and back (tests/test_buddy_pcp.py has the lists)."""
    return km.Machine(profile="tiny", boot="bare", pcp=False)


def nr_free(zone):
    return [fa.nr_free for fa in zone.free_area]


def test_boot_frees_dma_zone_as_largest_aligned_blocks(m):
    # DMA zone: RAM above the reserved first MiB up to 16 MiB = pfn 0x100..0xfff.
    # __free_pages_memory() cuts it into naturally aligned blocks:
    # 0x100 (order 8, 256 pages), 0x200 (order 9), 0x400, 0x800, 0xc00 (order 10).
    dma = m.zone("DMA")
    assert nr_free(dma) == [0] * 8 + [1, 1, 3]
    assert dma.nr_free_pages == 0x1000 - 0x100


def test_buddyinfo_after_alloc_everything_and_free_equals_boot(m):
    m.drain_all_pages()                  # every free page on the buddy lists, none on a pcp list
    before = m.proc.buddyinfo()
    pages = []
    while True:
        pg = m.alloc_pages(km.GFP_ATOMIC | km.__GFP_NOWARN, 0)
        if pg is None:
            break
        pages.append(pg)
    assert len(pages) > 20000
    m.check_invariants()
    for pg in reversed(pages):
        m.free_pages(pg, 0)
    m.check_invariants()
    assert m.drain_all_pages() > 0       # the last frees sit on the CPU's list until drained
    assert m.proc.buddyinfo() == before


def test_split_hands_out_lower_half_and_returns_upper_halves(tiny):
    z = tiny.zone("DMA")
    # take every small unmovable block so the next request must split a big one
    held = []
    while True:
        small = [o for o in range(10) if z.free_area[o].free_list(MIGRATE_UNMOVABLE)]
        if not small or min(small) >= 6:
            break
        o = min(small)
        held.append((tiny.alloc_pages(km.GFP_KERNEL, o), o))
    before = nr_free(z)
    found = min(o for o in range(11) if z.free_area[o].free_list(MIGRATE_UNMOVABLE))
    block = z.free_area[found].free_list(MIGRATE_UNMOVABLE)[0]      # the list head
    pg = tiny.alloc_pages(km.GFP_KERNEL, 0)
    assert pg.pfn == block                      # __rmqueue_smallest() keeps the lower half
    after = nr_free(z)
    for o in range(found):
        assert after[o] == before[o] + 1        # expand(): one upper half per order below
        assert block + (1 << o) in z.free_area[o].free_list(MIGRATE_UNMOVABLE)
    assert after[found] == before[found] - 1
    tiny.check_invariants()


def test_free_merges_with_buddy_at_each_order(tiny):
    z = tiny.zone("DMA")
    before = nr_free(z)
    held = []
    a = tiny.alloc_pages(km.GFP_KERNEL, 0)
    b = tiny.alloc_pages(km.GFP_KERNEL, 0)
    while b.pfn != a.pfn ^ 1:                    # boot left odd pages on the order-0 list
        held.append(a)
        a, b = b, tiny.alloc_pages(km.GFP_KERNEL, 0)
    assert b.pfn == a.pfn ^ 1                    # the buddy at order 0
    tiny.free_pages(a, 0)
    # a's buddy (b) is allocated: no merge, a sits on the order-0 list
    assert z.free_area[0].nr_free >= 1 and a.pfn in z.free_area[0].free_list(MIGRATE_UNMOVABLE)
    tiny.free_pages(b, 0)
    # now both halves have merged: neither is an order-0 block, and the pair lies in a free
    # block of a higher order whose head is aligned to it
    assert a.pfn not in z.free_area[0].free_list(MIGRATE_UNMOVABLE)
    merged = [o for o in range(1, 11) if z.free_order(a.pfn & ~((1 << o) - 1)) == o]
    assert merged, "the freed pair did not merge"
    for pg in held:
        tiny.free_pages(pg, 0)
    assert nr_free(z) == before                  # and with the others back, all is as it was
    tiny.check_invariants()


@pytest.mark.parametrize("order", range(11))
def test_blocks_are_aligned_to_their_order(m, order):
    pg = m.alloc_pages(km.GFP_KERNEL, order)
    assert pg is not None and pg.pfn % (1 << order) == 0 and pg.order == order
    m.free_pages(pg, order)


def test_gfp_dma_comes_from_zone_dma_and_kernel_falls_back(m):
    pg = m.alloc_pages(km.GFP_KERNEL | km.GFP_DMA, 0)
    assert pg.zone == "DMA" and pg.pfn < (16 << 20) >> 12
    pg2 = m.alloc_pages(km.GFP_KERNEL, 0)
    assert pg2.zone == "DMA32"      # 128M has no Normal zone: zonelist falls back to DMA32


def test_gfp_dma32_never_above_4g():
    m = km.Machine(mem="8G")
    pg = m.alloc_pages(km.GFP_KERNEL | km.GFP_DMA32, 3)
    assert pg.zone == "DMA32" and (pg.pfn + 8) << 12 <= 4 << 30
    assert m.alloc_pages(km.GFP_KERNEL, 0).zone == "Normal"


def test_highmem_only_with_gfp_highmem_on_i386():
    m = km.Machine(profile="i386", mem="2G")
    assert m.alloc_pages(km.GFP_HIGHUSER, 0).zone == "HighMem"
    low = m.alloc_pages(km.GFP_KERNEL, 0)
    assert low.zone == "Normal"
    assert m.page_address(low) >= 0xC0000000
    assert m.page_address(m.alloc_pages(km.GFP_HIGHUSER, 0)) == km.NULL


def test_exhaustion_returns_none_and_logs_warn_alloc(tiny):
    got = []
    while (pg := tiny.alloc_pages(km.GFP_KERNEL, 0)) is not None:
        got.append(pg)
    log = tiny.dmesg()
    assert re.search(r"python3: page allocation failure: order:0, mode:0xcc0\(GFP_KERNEL\), "
                     r"nodemask=\(null\),cpuset=/,mems_allowed=0", log)
    assert "Mem-Info:" in log and re.search(r"Node 0 DMA: .* = \d+kB", log)
    # GFP_KERNEL stops at the min watermark: the reserve is still there
    z = tiny.zone("DMA")
    assert 0 < z.nr_free_pages <= z.watermark[0] + 1
    # GFP_ATOMIC may dip below min (ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK)
    assert tiny.alloc_pages(km.GFP_ATOMIC, 0) is not None
    for pg in got:
        tiny.free_pages(pg, 0)


def test_nowarn_failure_is_silent(tiny):
    tiny.dmesg(clear=True)
    while tiny.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN, 0) is not None:
        pass
    assert "page allocation failure" not in tiny.dmesg()


def test_order_above_max_fails_with_a_warning_not_a_report(m):
    m.dmesg(clear=True)
    assert m.alloc_pages(km.GFP_KERNEL, 11) is None
    log = m.dmesg()
    assert "WARNING" in log and "page allocation failure" not in log


def test_double_free_is_a_kernel_bug_and_changes_nothing(m):
    pg = m.alloc_pages(km.GFP_KERNEL, 1)
    m.free_pages(pg, 1)
    snap_info = (m.proc.buddyinfo(), m.proc.pagetypeinfo(), m.mem_map.kind.copy())
    with pytest.raises(km.KernelBug, match="double free") as e:
        m.free_pages(pg, 1)
    # the freed page has refcount 0: put_page_testzero()'s VM_BUG_ON_PAGE (a CONFIG_DEBUG_VM kernel)
    assert "page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)" in e.value.report
    assert "kernel BUG at include/linux/mm.h:1101!" in e.value.report
    assert (m.proc.buddyinfo(), m.proc.pagetypeinfo()) == snap_info[:2]
    assert (m.mem_map.kind == snap_info[2]).all()
    m.check_invariants()


def test_free_with_wrong_order_is_a_kernel_bug(m):
    pg = m.alloc_pages(km.GFP_KERNEL, 3)
    before = m.proc.buddyinfo()
    with pytest.raises(km.KernelBug, match="order 2 but allocated with order 3"):
        m.free_pages(pg, 2)
    assert m.proc.buddyinfo() == before
    m.free_pages(pg, 3)


def test_free_of_a_tail_page_or_reserved_frame_is_a_kernel_bug(m):
    pg = m.alloc_pages(km.GFP_KERNEL | km.__GFP_COMP, 2)
    with pytest.raises(km.KernelBug, match="tail page"):
        m.free_pages(m.pfn_to_page(pg.pfn + 1), 0)
    with pytest.raises(km.KernelBug, match="kernel"):
        m.free_pages(m.pfn_to_page((16 << 20) >> 12), 0)    # the kernel image
    m.check_invariants()


def test_free_pages_by_address_and_null(m):
    a = m.get_free_pages(km.GFP_KERNEL, 2)
    assert a and a == m.page_address(m.virt_to_page(a))
    m.free_pages(a, 2)
    m.free_pages(km.NULL, 2)     # free_pages(0, order) is a no-op
    m.check_invariants()


def test_bad_arguments_raise_python_errors_that_say_what_to_pass(m):
    with pytest.raises(TypeError, match="integer"):
        m.alloc_pages(km.GFP_KERNEL, "two")
    with pytest.raises(ValueError, match=">= 0"):
        m.alloc_pages(km.GFP_KERNEL, -1)
    with pytest.raises(TypeError, match="GFP mask"):
        m.alloc_pages("GFP_KERNEL", 0)
    with pytest.raises(ValueError, match="bits the kernel does not define"):
        m.alloc_pages(1 << 30, 0)
    with pytest.raises(ValueError, match="zone modifier"):
        m.alloc_pages(km.GFP_KERNEL | km.__GFP_DMA | km.__GFP_HIGHMEM, 0)
    with pytest.raises(TypeError, match="nothing to free"):
        m.free_pages(None, 0)
    import numpy as np
    pg = m.alloc_pages(np.uint32(km.GFP_KERNEL), np.int64(1))    # numpy integers are fine
    m.free_pages(pg, np.int8(1))


def test_pages_of_another_machine_are_refused():
    a, b = km.Machine(profile="tiny"), km.Machine(profile="tiny")
    pg = a.alloc_pages(km.GFP_KERNEL, 0)
    with pytest.raises(ValueError, match="another machine"):
        b.free_pages(pg, 0)
    assert b.proc.zoneinfo() != a.proc.zoneinfo()      # a changed (its pcp count), b did not


def test_numa_nodes_prefer_the_requested_node():
    m = km.Machine(mem="2G", nodes=2, cpus=4)
    assert {z.node for z in m.zones if z.populated()} == {0, 1}
    assert m.alloc_pages_node(1, km.GFP_KERNEL, 0).node == 1
    assert m.alloc_pages_node(0, km.GFP_KERNEL, 0).node == 0
    with m.on_cpu(3):                   # cpus 2,3 live on node 1
        assert m.alloc_pages(km.GFP_KERNEL, 0).node == 1
    assert "Node 1, zone" in m.proc.buddyinfo()


def test_thisnode_does_not_fall_back():
    m = km.Machine(mem="256M", nodes=2, cpus=2)
    got = 0
    while m.alloc_pages_node(1, km.GFP_KERNEL | km.__GFP_THISNODE | km.__GFP_NOWARN, 0):
        got += 1
    assert m.alloc_pages_node(0, km.GFP_KERNEL, 0).node == 0
    assert 0 < got < m.totalram_pages


def test_same_seed_same_machine_same_results():
    def run():
        m = km.Machine(mem="256M", seed=7)
        pages = [m.alloc_pages(km.GFP_KERNEL, o % 4) for o in range(50)]
        for i, pg in enumerate(pages):
            if i % 3 == 0:
                m.free_pages(pg, i % 4)
        return [p.pfn for p in pages], m.proc.buddyinfo(), m.dmesg()
    assert run() == run()


def test_buddy_pfn_arithmetic_matches_find_buddy_pfn(tiny):
    # __find_buddy_pfn(pfn, order) = pfn ^ (1 << order); the merged block starts at pfn & buddy
    z = tiny.zone("DMA")
    pages = [tiny.alloc_pages(km.GFP_KERNEL, 2) for _ in range(4)]
    pfns = sorted(p.pfn for p in pages)
    first = pfns[0]
    assert pfns == [first, first + 4, first + 8, first + 12]
    tiny.free_pages(tiny.pfn_to_page(first), 2)
    tiny.free_pages(tiny.pfn_to_page(first ^ 4), 2)          # buddy at order 2 -> merge to order 3
    assert z.free_order(first & (first ^ 4)) == 3
    tiny.check_invariants()
