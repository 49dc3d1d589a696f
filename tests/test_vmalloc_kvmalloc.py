"""kvmalloc family (mm/util.c kvmalloc_node per generation) and kvfree."""

import pytest

import kmemlab as km
from kmemlab.kernel.mem_map import K_KMALLOC_LARGE, PG_head

PAGE = 4096


def fragmented(kernel="6.6", mem="64M"):
    """Every free frame of the machine alone: all order-0 pages taken (__GFP_MEMALLOC
    ignores the watermarks), then those with an even pfn given back, so no free block of
    order >= 1 exists anywhere. Pristine (boot="bare"): a booted machine's per-CPU lists
    hold order 1-3 blocks (5.14+) that a later drain puts on the free lists."""
    m = km.Machine(mem=mem, kernel=kernel, boot="bare")
    held = []
    while True:
        pg = m.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN | km.__GFP_MEMALLOC, 0)
        if pg is None:
            break
        held.append(pg)
    for pg in held:
        if pg.pfn % 2 == 0:
            m.free_pages(pg, 0)
    assert all(z.free_area[o].nr_free == 0 for z in m._k.zones for o in range(1, 11))
    m.dmesg(clear=True)
    return m


@pytest.mark.parametrize("kernel", ["4.19", "5.10", "6.6"])
def test_small_kvmalloc_is_a_slab_object(kernel):
    m = km.Machine(mem="128M", kernel=kernel)
    p = m.kvmalloc(100)
    assert p and not m.is_vmalloc_addr(p)
    assert m.ksize(p) == 128                    # kmalloc-128
    m.kvfree(p)
    assert m.kmalloc(100) == p                  # back on the cpu freelist, first out again
    m.check_invariants()


def test_large_kvmalloc_on_an_unfragmented_machine_is_a_kmalloc_large_block():
    m = km.Machine(mem="128M")
    p = m.kvmalloc(100000)
    assert p and not m.is_vmalloc_addr(p)
    pfn = (int(p) - m._k.profile.page_offset) >> 12
    mm = m._k.mem_map
    # get_order(100000) = 5: 32 pages, a compound block
    assert mm.kind[pfn] == K_KMALLOC_LARGE and mm.order[pfn] == 5 and mm.flags[pfn] & PG_head
    assert m.ksize(p) == 32 * PAGE
    m.kvfree(p)
    assert mm.kind[pfn] != K_KMALLOC_LARGE
    m.check_invariants()


@pytest.mark.parametrize("kernel", ["4.19", "6.6"])
def test_large_kvmalloc_on_a_fragmented_machine_falls_back_to_vmalloc(kernel):
    m = fragmented(kernel)
    p = m.kvmalloc(64 << 10, caller="my_fn+0x1/0x10")
    assert m.is_vmalloc_addr(p)
    assert m.find_vm_area(p).nr_pages == 16
    # the kmalloc attempt carried __GFP_NOWARN: no "page allocation failure" report
    assert "allocation failure" not in m.dmesg()
    assert "my_fn+0x1/0x10 pages=16 vmalloc" in m.proc.vmallocinfo()
    m.check_invariants()
    m.kvfree(p)
    assert m.find_vm_area(p) is None
    m.check_invariants()


@pytest.mark.parametrize("kernel", ["4.19", "5.15", "6.6"])
def test_gfp_atomic_never_falls_back(kernel):
    m = fragmented(kernel)
    before = m.proc.vmallocinfo()
    assert m.kvmalloc(64 << 10, km.GFP_ATOMIC) == km.NULL
    assert m.proc.vmallocinfo() == before                  # no vmalloc area was made
    assert m.kvmalloc(100, km.GFP_ATOMIC)      # sub-page: kmalloc does it


def test_gfp_nofs_falls_back_only_from_5_17():
    old, new = fragmented("5.15"), fragmented("6.6")
    assert old.kvmalloc(64 << 10, km.GFP_NOFS) == km.NULL     # (flags & GFP_KERNEL) != GFP_KERNEL
    assert new.is_vmalloc_addr(new.kvmalloc(64 << 10, km.GFP_NOFS))


def test_sub_page_kvmalloc_that_fails_does_not_try_vmalloc():
    m = km.Machine(mem="64M", boot="bare")      # pristine: no kmalloc-8k object is left over from boot
    while m.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN | km.__GFP_MEMALLOC, 0) is not None:
        pass                                     # no free page left at all
    while m.kvmalloc(4096):
        pass                                     # until kmalloc-4k's last slab is full
    with m.trace() as t:
        assert m.kvmalloc(4096) == km.NULL
    kmalloc_node = m.gen.chain("kvmalloc_kmalloc_chain")[0]
    assert [c.func for c in t.calls[0].children] == [kmalloc_node]
    with m.trace() as t:
        assert m.kvmalloc(PAGE + 1) == km.NULL
    assert [c.func for c in t.calls[0].children] == [kmalloc_node, m.gen.name("__vmalloc_node_range")]


def test_sizes_above_int_max_per_generation():
    m = km.Machine(mem="128M", kernel="6.6")
    assert m.kvmalloc(1 << 31, km.GFP_KERNEL | km.__GFP_NOWARN) == km.NULL
    assert "kvmalloc_node" not in m.dmesg()
    assert m.kvmalloc(1 << 31) == km.NULL
    assert "WARNING" in m.dmesg() and "kvmalloc_node" in m.dmesg()
    m515 = km.Machine(mem="128M", kernel="5.15")     # 5.14/5.15: WARN_ON_ONCE(size > INT_MAX) always
    assert m515.kvmalloc(1 << 31, km.GFP_KERNEL | km.__GFP_NOWARN) == km.NULL
    assert "kvmalloc_node" in m515.dmesg()
    m510 = km.Machine(mem="128M", kernel="5.10")     # no check: vmalloc itself refuses
    assert m510.kvmalloc(1 << 31) == km.NULL
    assert "vmalloc: allocation failure: 2147483648 bytes" in m510.dmesg()


def test_kvmalloc_array_overflow_and_kvcalloc_zeroes():
    m = km.Machine(mem="128M")
    assert m.kvmalloc_array(1 << 40, 1 << 30) == km.NULL
    p = m.kvcalloc(100, 200)                    # 20000 bytes: kmalloc_large, zeroed
    assert m.read(p, 20000) == bytes(20000)
    m.kvfree(p)
    z = m.kvzalloc(3 << 20)                     # 3 MiB: order 10, still kmalloc on a fresh machine
    assert m.read(z, 64) == bytes(64)
    m.kvfree(z)
    m.kvfree(km.NULL)
    m.check_invariants()
