"""m.explain(addr): what an address is, for every region and every kind of owner."""

import pytest

import kmemlab as km


@pytest.fixture
def m():
    return km.Machine(mem="256M")


def test_slab_object_allocated_and_free(m):
    p = m.kmalloc(100)
    q = m.kmalloc(100)
    m.kfree(q)
    s = m.kmalloc_slab(100, km.GFP_KERNEL)
    text = m.explain(p + 50)
    assert "direct map" in text and "kmalloc-128" in text and "allocated; byte 50 of it" in text
    slab = m._k.slub.page_slab[m.virt_to_page(q).pfn]
    idx_q = (q - slab.addr) // 128
    free = m.explain(q + s.offset)
    assert f"object {idx_q} of" in free and "free (on a freelist)" in free
    assert f"keeps its free pointer (s->offset = {s.offset})" in free


def test_large_kmalloc_and_alloc_pages_blocks(m):
    big = m.kmalloc(20000)                  # > KMALLOC_MAX_CACHE_SIZE: get_order(20000) = 3
    assert "compound order-3 block" in m.explain(big + 100) and "byte 100 of it" in m.explain(big + 100)
    pg = m.alloc_pages(km.GFP_KERNEL, 2)
    assert f"page 1 of an order-2 block at pfn {pg.pfn:#x}" in m.explain(m.page_address(pg) + 4096)
    assert f"order-2 block at pfn {pg.pfn:#x}" in m.explain(pg)


def test_free_memory_names_its_free_block(m):
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    m.free_pages(pg, 0)
    # first it sits on the CPU's per-cpu list, at its head
    assert "per-cpu page list (pcp) of zone" in m.explain(m.page_address(pg))
    assert "0 from its head" in m.explain(m.page_address(pg))
    m.drain_all_pages()
    text = m.explain(m.page_address(pg))
    z = m.zone(pg.zone)
    order = next(o for o in range(11) if z.free_order(pg.pfn & ~((1 << o) - 1)) == o)
    assert f"part of a free order-{order} block" in text and f"free_area[{order}]" in text


def test_vmalloc_pages_guard_and_unused_space(m):
    v = m.vmalloc(20000)                   # 5 pages + guard page
    page2 = m.vmalloc_to_page(v + 2 * 4096)
    text = m.explain(v + 2 * 4096 + 7)
    assert "vmalloc area" in text and "5 pages" in text and "page 2 of the area, byte 7" in text
    assert f"frame pfn {page2.pfn:#x}" in text
    assert "guard page" in m.explain(v + 5 * 4096)
    assert "unused vmalloc space" in m.explain(v + (1 << 30))
    # the frame seen from the direct map points back at the vmalloc alias
    alias = m.page_address(page2)
    assert f"page 2 of the vmalloc area {v:#x}" in m.explain(alias)
    m.vfree(v)
    assert "lazily freed" in m.explain(v)


def test_other_regions_and_special_values(m):
    assert "kernel image" in m.explain(0xffffffff81000000)
    assert "struct page of pfn 0x41" in m.explain(0xffffea0000000000 + 0x41 * 64)
    assert m.explain(km.NULL).startswith("NULL") and m.explain(km.ZERO_SIZE_PTR).startswith("ZERO_SIZE_PTR")
    assert "user" in m.explain(0x400000)
    assert "no region" in m.explain(0x0000900000000000)      # the non-canonical hole
    assert "kernel image" in m.explain(m.PAGE_OFFSET + (16 << 20))
    assert "page-table page" in m.explain(m.phys_to_virt(m.walk(m.PAGE_OFFSET).levels[0].table))
    with pytest.raises(TypeError):
        m.explain("0xffff")
    with pytest.raises(ValueError):
        m.explain(1 << 70)


def test_highmem_page_on_i386():
    m = km.Machine(profile="i386", mem="2G")
    pg = m.alloc_pages(km.GFP_HIGHUSER, 0)
    assert "zone HighMem" in m.explain(pg)
    v = m.vmalloc(4096)
    assert "direct-map alias is none (highmem)" in m.explain(v)
