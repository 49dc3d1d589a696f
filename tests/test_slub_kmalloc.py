"""kmalloc/kfree/ksize/krealloc semantics, memory contents, per-cpu slabs, large kmalloc."""

import re

import pytest

import kmemlab as km


@pytest.fixture
def m():
    """A pristine machine: the tests follow new slabs from their first object on."""
    return km.Machine(mem="64M", cpus=4, boot="bare")


def test_zero_size_and_null(m):
    assert m.kmalloc(0) == km.ZERO_SIZE_PTR == 16
    m.kfree(km.NULL)
    m.kfree(km.ZERO_SIZE_PTR)
    assert m.ksize(km.ZERO_SIZE_PTR) == 0 and m.ksize(km.NULL) == 0
    m.check_invariants()


def test_ksize_is_the_bucket_size(m):
    for size, bucket in [(1, 8), (9, 16), (65, 96), (100, 128), (130, 192), (193, 256), (5000, 8192)]:
        p = m.kmalloc(size)
        assert m.ksize(p) == bucket
        m.kfree(p)
    m.check_invariants()


def test_new_slab_hands_out_ascending_addresses_then_lifo(m):
    ps = [m.kmalloc(64) for _ in range(5)]
    assert [b - a for a, b in zip(ps, ps[1:])] == [64] * 4
    m.kfree(ps[1])
    m.kfree(ps[3])
    assert m.kmalloc(64) == ps[3] and m.kmalloc(64) == ps[1]


def test_free_pointer_is_stored_mid_object(m):
    a, b = m.kmalloc(64), m.kmalloc(64)
    m.kfree(a)
    m.kfree(b)
    # b is the freelist head; its word at offset 32 names the next free object, a
    assert int.from_bytes(m.read(b + 32, 8), "little") == a


def test_kzalloc_and_kcalloc_zero_reused_memory(m):
    p = m.kmalloc(48)
    m.memset(p, 0xab, 48)
    m.kfree(p)
    q = m.kmalloc(48)
    assert q == p and m.read(q, 4) == b"\xab" * 4          # kmalloc does not clear
    m.kfree(q)
    z = m.kzalloc(48)
    assert z == p and m.read(z, 64) == bytes(64)
    m.kfree(z)
    c = m.kcalloc(4, 12)
    assert c == p and m.read(c, 48) == bytes(48)


def test_kmalloc_array_overflow_returns_null(m):
    assert m.kmalloc_array(1 << 62, 8) == km.NULL
    assert m.kcalloc(1 << 33, 1 << 31) == km.NULL
    p = m.kmalloc_array(3, 10)
    assert m.ksize(p) == 32


def test_krealloc_keeps_in_place_then_moves_and_copies(m):
    p = m.kmalloc(100)
    m.write(p, b"hello world")
    assert m.krealloc(p, 120) == p                        # ksize 128 still fits
    q = m.krealloc(p, 200)
    assert q != p and m.ksize(q) == 256 and m.read(q, 11) == b"hello world"
    assert m.kmalloc(100) == p                            # the old object was freed
    assert m.krealloc(q, 0) == km.ZERO_SIZE_PTR
    r = m.krealloc(km.NULL, 10)
    assert m.ksize(r) == 16
    m.check_invariants()


def test_gfp_flags_choose_the_cache_type(m):
    def cache(gfp):
        return m.kmalloc_slab(100, gfp).name
    assert cache(km.GFP_KERNEL) == "kmalloc-128"
    assert cache(km.GFP_KERNEL | km.__GFP_RECLAIMABLE) == "kmalloc-rcl-128"
    assert cache(km.GFP_KERNEL | km.GFP_DMA) == "dma-kmalloc-128"
    assert cache(km.GFP_KERNEL | km.GFP_DMA | km.__GFP_RECLAIMABLE) == "dma-kmalloc-128"
    assert cache(km.GFP_KERNEL_ACCOUNT) == "kmalloc-cg-128"
    p = m.kmalloc(100, km.GFP_KERNEL | km.GFP_DMA)
    assert m.virt_to_page(p).zone == "DMA"
    r = m.kmalloc(100, km.GFP_KERNEL | km.__GFP_RECLAIMABLE)
    assert "SReclaimable:          4 kB" in m.proc.meminfo()
    m.kfree(r)
    m.check_invariants()


def test_kmalloc_large_uses_the_buddy_allocator_not_slabinfo(m):
    before_slab = m.proc.slabinfo()
    m.drain_all_pages()            # buddyinfo shows every free page: none on a per-cpu list
    before_buddy = m.proc.buddyinfo()
    sunreclaim = int(next(l for l in m.proc.meminfo().splitlines() if l.startswith("SUnreclaim:")).split()[1])
    p = m.kmalloc(8193)
    assert m.ksize(p) == 16384
    pg = m.virt_to_page(p)
    assert pg.order == 2 and "head" in pg.flags and pg.owner == "kmalloc_large"
    assert m.proc.slabinfo() == before_slab
    assert m.proc.buddyinfo() != before_buddy
    # the block counts as unreclaimable slab memory (NR_SLAB_UNRECLAIMABLE_B, 5.9+)
    assert f"SUnreclaim:     {sunreclaim + 16:8d} kB" in m.proc.meminfo()
    m.check_invariants()
    m.kfree(p)
    m.drain_all_pages()            # an order-2 block goes back through the CPU's pcp list (5.14+)
    assert m.proc.buddyinfo() == before_buddy
    with pytest.raises(km.KernelBug):
        m.kfree(p)                                        # its pages are free now
    m.check_invariants()


def test_too_large_kmalloc_fails_with_the_kernel_warning(m):
    assert m.kmalloc(8 << 20) == km.NULL
    # WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER) in the page allocator's entry (6.18:
    # __alloc_frozen_pages_noprof, mm/page_alloc.c:5215)
    entry = m.gen.chain("kmalloc_large_pages_chain")[-1]
    assert re.search(rf"WARNING: CPU: 0 PID: \d+ at mm/page_alloc.c:\d+ {entry}\+0x", m.dmesg())
    assert "Call Trace:" in m.dmesg()
    assert m.kmalloc(8 << 20, km.GFP_KERNEL | km.__GFP_NOWARN) == km.NULL


def test_empty_slabs_wait_on_the_cpu_partial_list_then_the_node_keeps_min_partial(m):
    s = m.kmalloc_slab(1024)        # 16 objects per order-2 slab with 4 CPUs, min_partial 5
    assert (s.objects, s.min_partial, s.cpu_partial) == (16, 5, 24)
    assert s.cpu_partial_slabs == 3                 # DIV_ROUND_UP(24 * 2, 16)
    groups = [[m.kmalloc(1024) for _ in range(s.objects)] for _ in range(8)]
    n = s.node[0]
    assert n.nr_slabs == 8
    # free a slab at a time from the oldest. The first free of a full slab puts it on the
    # CPU partial list (put_cpu_partial), where it stays, even empty; the 4th, 7th ... slab
    # finds the list full (3 slabs) and drains it to the node (__put_partials), which keeps
    # empty slabs until it has min_partial of them and discards the rest
    for g in groups[:7]:
        for p in g:
            m.kfree(p)
        m.check_invariants()
    c = s.cpu_slab[0]
    assert len(c.partial) == 1                      # the 7th group's slab, empty
    assert n.nr_partial == s.min_partial            # slabs 0-4; slab 3's turn came too late
    assert n.nr_slabs == 1 + 1 + s.min_partial      # the CPU slab, the CPU partial one, the node's
    # slabinfo: objects on CPU partial slabs count as active, only the node's free ones not
    row = next(l for l in m.proc.slabinfo().splitlines() if l.startswith("kmalloc-1k "))
    assert row.split()[1:3] == [str(16 + 16), str(16 * n.nr_slabs)]
    # shrink: flush the CPU slab and partial list, free every empty slab; the full CPU slab
    # of the 8th group stays, so the node still has slabs (__kmem_cache_do_shrink() returns 1)
    assert m.kmem_cache_shrink(s) == 1
    assert n.nr_slabs == 1 and n.nr_partial == 0 and not c.partial
    m.check_invariants()


def test_each_cpu_has_its_own_slab(m):
    a = m.kmalloc(64)
    with m.on_cpu(1):
        b = m.kmalloc(64)
    assert m.virt_to_page(a).pfn != m.virt_to_page(b).pfn
    with m.on_cpu(1):
        m.kfree(a)                     # a remote free goes to the slab's own freelist
    m.check_invariants()
    assert m.kmalloc(64) == a + 64     # CPU 0's lockless freelist is untouched
    m.check_invariants()


def test_double_free_without_debugging_corrupts_the_freelist(m):
    p = m.kmalloc(64)
    q = m.kmalloc(64)
    m.kfree(p)
    m.kfree(q)
    m.kfree(p)                         # the kernel cannot see this one
    x, y, z = m.kmalloc(64), m.kmalloc(64), m.kmalloc(64)
    assert x == p and z == p and y == q      # p is handed out twice
    with pytest.raises(AssertionError):
        m.check_invariants()


def test_user_cache_lifecycle(m):
    c = m.kmem_cache_create("my_obj", 72)
    o = m.kmem_cache_alloc(c)
    assert "my_obj" in m.proc.slabinfo().splitlines()[2]
    m.kmem_cache_free(c, o)
    m.kmem_cache_destroy(c)
    assert "my_obj" not in m.proc.slabinfo() and not m.dmesg(level="warn").count("my_obj")
    with pytest.raises(ValueError):
        m.kmem_cache_alloc(c)
    m.check_invariants()


@pytest.mark.parametrize("kernel", ["6.8", "6.18"])
def test_destroy_with_live_objects_leaks_the_cache_for_good(kernel):
    # slab_nomerge: my_obj is a cache of its own (booted, it would be an alias of vmap_area's)
    m = km.Machine(mem="64M", cpus=4, kernel=kernel, slab_nomerge=True)
    c = m.kmem_cache_create("my_obj", 72)
    o = m.kmem_cache_alloc(c)
    m.kmem_cache_destroy(c)
    log = m.dmesg()
    assert "Objects remaining in my_obj on __kmem_cache_shutdown()" in log
    assert "kmem_cache_destroy my_obj: Slab cache still has objects" in log
    # the struct kmem_cache is not freed: the module can still free into it...
    m.kmem_cache_free(c, o)
    # ...but the refcount is 0 now, so a second destroy only makes it -1 and returns
    m.kmem_cache_destroy(c)
    assert c.refcount == -1
    # 6.12+ unlinked it at the first destroy (list_del() before `if (err) return`)
    assert ("my_obj" in m.proc.slabinfo()) == (kernel == "6.8")
    assert c.node[0].nr_slabs == 1                  # its (now empty) slab is leaked
    m.check_invariants()


def test_wrong_cache_free_warns_and_frees_to_the_right_cache(m):
    c = m.kmem_cache_create("thing", 64)
    p = m.kmalloc(64)
    m.kmem_cache_free(c, p)
    assert "kmem_cache_free: Wrong slab cache. thing but object is from kmalloc-64" in m.dmesg()
    assert m.kmalloc(64) == p
    m.check_invariants()


def test_ctor_runs_on_each_object_of_a_new_slab(m):
    seen = []
    c = m.kmem_cache_create("ctor_obj", 256, 0, 0, seen.append)
    o = m.kmem_cache_alloc(c)
    assert len(seen) == c.objects and o in seen and c.offset == 256


def test_unmapped_access_oopses_and_changes_nothing(m):
    snap = m.proc.slabinfo()
    with pytest.raises(km.KernelOops) as e:
        m.write(0xffffc90000000000, b"x")
    assert "BUG: unable to handle page fault for address: ffffc90000000000" in e.value.report
    assert m.proc.slabinfo() == snap


def test_bad_arguments(m):
    with pytest.raises(TypeError):
        m.kmalloc("64")
    with pytest.raises(ValueError):
        m.kmalloc(-1)
    with pytest.raises(km.KernelBug):
        m.kfree(0xffffc90000001000)
    with pytest.raises(TypeError):
        m.kmem_cache_alloc("kmalloc-64")


def test_kmalloc_node_and_snapshot_restore():
    m = km.Machine(mem="256M", cpus=4, nodes=2)
    p = m.kmalloc_node(64, km.GFP_KERNEL, 1)
    assert m.virt_to_page(p).node == 1
    s = m.snapshot()
    q = m.kmalloc(64)
    m.restore(s)
    assert m.kmalloc(64) == q
    m.check_invariants()
