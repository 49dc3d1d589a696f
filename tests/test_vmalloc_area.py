"""vmalloc/vfree: sizes with the guard page, lowest-fit placement, lazy purge,
vmallocinfo lines, failures, misuse, NUMA, vmap, and the article's point."""

import re

import pytest

import kmemlab as km

PAGE = 4096
START = 0xffffc90000000000
LINE = re.compile(r"^0x([0-9a-f]{16})-0x([0-9a-f]{16}) +(\d+) (\S+)(?: pages=(\d+))?((?: \S+)*)$")


@pytest.fixture
def m():
    """A pristine machine: the tests place areas from VMALLOC_START on and read vmallocinfo
    whole (a booted machine's stacks, ioremaps and per-CPU chunk would be among them)."""
    return km.Machine(profile="x86_64", mem="128M", cpus=4, boot="bare")


def _lines(m):
    return m.proc.vmallocinfo().splitlines()


@pytest.mark.parametrize("n,pages,size", [(1, 1, 8192), (4096, 1, 8192), (4097, 2, 12288),
                                          (20000, 5, 24576), (65536, 16, 69632)])
def test_vmallocinfo_line_has_size_with_guard_page_and_pages(m, n, pages, size):
    v = m.vmalloc(n, caller="my_init+0x1d/0x1000 [mymod]")
    assert v == START
    assert _lines(m) == [f"0x{START:016x}-0x{START + size:016x} {size:7d} my_init+0x1d/0x1000 [mymod] "
                         f"pages={pages} vmalloc N0={pages}"]
    m.check_invariants()


def test_python_caller_is_recorded_as_function_plus_offset(m):
    def load_firmware():
        return m.vmalloc(100)
    load_firmware()
    # %pS of code in a module names the module: "load_firmware+0x24/0x1000 [tests.test_vmalloc_area]"
    assert re.match(r"^0x\S+ +8192 load_firmware\+0x[0-9a-f]+/0x[0-9a-f]+ \[[\w.]+\] pages=1 vmalloc N0=1$",
                    _lines(m)[0])


def test_areas_are_placed_lowest_first_each_followed_by_its_guard_page(m):
    a = m.vmalloc(PAGE)
    b = m.vmalloc(3 * PAGE)
    c = m.vmalloc(1)
    assert (a, b, c) == (START, START + 2 * PAGE, START + 6 * PAGE)
    starts = [int(LINE.match(x).group(1), 16) for x in _lines(m)]
    assert starts == sorted(starts) == [a, b, c]
    m.check_invariants()


def test_vfree_releases_the_range_lazily_and_a_purge_makes_it_reusable(m):
    a = m.vmalloc(PAGE)
    free_before = sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones)
    # the page array is a kmalloc object, or (before SLUB is merged) a page of its own
    array_pages = 1 if m.find_vm_area(a).pages_array_kind == "page" else 0
    m.vfree(a)
    # the page came back at once ...
    assert sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones) == free_before + 1 + array_pages
    assert m.walk(a).phys is None and m.vmalloc_to_page(a) is None
    # ... the address range did not
    assert _lines(m) == [f"0x{START:016x}-0x{START + 2 * PAGE:016x}    8192 unpurged vm_area"]
    b = m.vmalloc(PAGE)
    assert b == START + 2 * PAGE
    assert m.vm_unmap_aliases() == 1
    assert m.vmalloc(PAGE) == START
    m.check_invariants()


def test_unpurged_areas_are_listed_inline_on_4x(m):
    m4 = km.Machine(mem="128M", kernel="4.19", boot="bare")
    a = m4.vmalloc(PAGE, caller="x+0x1/0x2")
    m4.vmalloc(PAGE, caller="y+0x1/0x2")
    m4.vfree(a)
    lines = _lines(m4)
    assert lines[0].endswith("unpurged vm_area") and lines[1].startswith(f"0x{START + 2 * PAGE:016x}")


def test_sequential_vmalloc_vfree_reuses_ranges_only_after_lazy_max_pages(m):
    # lazy_max_pages() = fls(num_online_cpus()) * 32 MiB / PAGE_SIZE; each 1-page area is 2 pages
    lazy_max = (4).bit_length() * (32 << 20) // PAGE
    addrs = []
    for _ in range(lazy_max // 2 + 2):
        v = m.vmalloc(PAGE)
        addrs.append(v)
        m.vfree(v)
    # strictly increasing until the purge that crossing lazy_max_pages triggers
    first_reuse = next(i for i in range(1, len(addrs)) if addrs[i] <= addrs[i - 1])
    assert first_reuse == lazy_max // 2 + 1
    assert addrs[first_reuse] == START
    assert m._k.vmalloc.nr_purges == 1
    m.check_invariants()


def test_big_vmalloc_gets_its_page_array_from_a_nested_vmalloc(m):
    v = m.vmalloc(4 << 20, caller="big+0x0/0x10")          # 1024 pages: 8 KiB of pointers
    lines = _lines(m)
    assert lines[0] == (f"0x{v:016x}-0x{v + (4 << 20) + PAGE:016x} {(4 << 20) + PAGE:7d} big+0x0/0x10 "
                        "pages=1024 vmalloc vpages N0=1024")
    nested = v + (4 << 20) + PAGE
    assert lines[1] == f"0x{nested:016x}-0x{nested + 3 * PAGE:016x}   12288 big+0x0/0x10 pages=2 vmalloc N0=2"
    m.check_invariants()
    m.vfree(v)
    assert [x.split()[-1] for x in _lines(m)] == ["vm_area", "vm_area"]   # both unpurged
    m.check_invariants()


def test_vmalloc_memory_is_virtually_contiguous_but_physically_scattered():
    """The article's point: fragment memory so that a 1 MiB physically contiguous block
    (what kmalloc(1 MiB) needs: an order-8 compound page) cannot be found, while
    vmalloc(1 MiB) succeeds from scattered single pages."""
    m = km.Machine(profile="tiny", mem="16M")
    held = []
    while True:
        pg = m.alloc_pages(km.GFP_KERNEL | km.__GFP_NOWARN, 0)
        if pg is None:
            break
        held.append(pg)
    for pg in held[::2]:                      # free every other page: nothing pairs up
        m.free_pages(pg, 0)
    assert m.alloc_pages(km.GFP_KERNEL | km.__GFP_COMP | km.__GFP_NOWARN, order=8) is None
    v = m.vmalloc(1 << 20)
    assert v
    pfns = [m.vmalloc_to_pfn(v + i * PAGE) for i in range(256)]
    assert len(set(pfns)) == 256
    assert all(abs(b - a) != 1 for a, b in zip(pfns, pfns[1:]))   # no two neighbours adjacent
    m.write(v + PAGE - 2, b"spans")                               # one virtual run, two frames
    assert m.read(v + PAGE - 2, 5) == b"spans"
    assert m._k.memory.read(pfns[0] * PAGE + PAGE - 2, 2) == b"sp"
    assert m._k.memory.read(pfns[1] * PAGE, 3) == b"ans"
    m.check_invariants()


def test_write_past_the_end_lands_in_the_guard_page_and_oopses(m):
    v = m.vmalloc(2 * PAGE)
    m.write(v + 2 * PAGE - 1, b"!")                       # the last byte is fine
    before = m.proc.vmallocinfo(), m.proc.buddyinfo()
    with pytest.raises(km.KernelOops) as e:
        m.write(v + 2 * PAGE - 1, b"!!")
    rep = e.value.report
    assert f"BUG: unable to handle page fault for address: {v + 2 * PAGE:016x}" in rep
    assert "#PF: error_code(0x0002) - not-present page" in rep
    assert re.search(r"^PGD [0-9a-f]+ P4D [0-9a-f]+ PUD [0-9a-f]+ PMD [0-9a-f]+ PTE 0$", rep, re.M)
    assert (m.proc.vmallocinfo(), m.proc.buddyinfo()) == before
    assert m.read(v + 2 * PAGE - 1, 1) == b"!"           # nothing of the bad write landed
    with pytest.raises(km.KernelOops):
        m.read(v + 2 * PAGE, 1)


def test_vfree_of_a_non_vmalloc_address_is_a_kernel_bug_and_changes_nothing(m):
    v = m.vmalloc(PAGE)
    before = m.proc.vmallocinfo(), m.proc.buddyinfo()
    for bad in (START + 0x100000, m.PAGE_OFFSET + 0x200000):
        with pytest.raises(km.KernelBug) as e:
            m.vfree(bad)
        assert f"Trying to vfree() nonexistent vm area ({bad:016x})" in e.value.report
    with pytest.raises(km.KernelBug) as e:
        m.vfree(v + 8)
    assert "Trying to vfree() bad address" in e.value.report
    assert (m.proc.vmallocinfo(), m.proc.buddyinfo()) == before
    m.vfree(v)
    with pytest.raises(km.KernelBug, match="already freed"):
        m.vfree(v)                                        # double vfree
    m.vfree(km.NULL)                                      # vfree(NULL) is a no-op
    m.check_invariants()


def test_vfree_of_an_aligned_address_inside_an_area_frees_that_area_as_the_kernel_does(m):
    v = m.vmalloc(3 * PAGE)
    m.vfree(v + PAGE)            # find_vmap_area() finds the area that contains the address
    assert "unpurged vm_area" in m.proc.vmallocinfo() and m.find_vm_area(v) is None
    m.check_invariants()


def test_size_over_totalram_fails_with_the_6x_message_and_takes_nothing(m):
    free = sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones)
    size = (m.totalram_pages + 1) * PAGE
    assert m.vmalloc(size) == km.NULL
    assert f"vmalloc error: size {size}, exceeds total pages, mode:0xcc0(GFP_KERNEL)" in m.dmesg()
    assert sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones) == free and m.proc.vmallocinfo() == ""


def _exhaust(m, size):
    k = m._k
    free = sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones)
    tables = k.vmstat["nr_page_table_pages"]
    slabs = k.vmstat["nr_slab_unreclaimable"]
    assert m.vmalloc(size) == km.NULL
    # everything taken was given back (page tables stay, as the kernel keeps them, and so
    # may an empty slab that held the pages array: SLUB keeps min_partial empty slabs)
    kept = (k.vmstat["nr_page_table_pages"] - tables) + (k.vmstat["nr_slab_unreclaimable"] - slabs)
    assert sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones) + kept == free
    assert k.vmstat["nr_vmalloc"] == 0
    m.check_invariants()


def test_running_out_of_pages_part_way_gives_everything_back_6x(m):
    size = (m.totalram_pages - 10) * PAGE          # fewer pages than RAM, more than are free
    _exhaust(m, size)
    msg = re.search(r"vmalloc error: size (\d+), failed to allocate pages, mode:0xcc2\(GFP_KERNEL\|__GFP_HIGHMEM\)",
                    m.dmesg())
    assert msg and 0 < int(msg.group(1)) < size and int(msg.group(1)) % PAGE == 0
    assert "page allocation failure" not in m.dmesg()      # 6.x allocates with __GFP_NOWARN


def test_running_out_of_pages_part_way_uses_the_4x_wording_on_4x():
    m = km.Machine(mem="128M", kernel="4.19", boot="bare")
    size = (m.totalram_pages - 10) * PAGE
    _exhaust(m, size)
    msg = re.search(r"vmalloc: allocation failure, allocated (\d+) of (\d+) bytes", m.dmesg())
    assert msg and int(msg.group(2)) == size + PAGE and int(msg.group(1)) < size
    # v4.14/v4.19 __vmalloc_area_node(): alloc_mask = gfp_mask | __GFP_NOWARN, so the
    # per-page failure is silent and only the vmalloc message is printed
    assert "page allocation failure: order:0" not in m.dmesg()


def test_vmalloc_space_exhaustion_purges_then_reports_vmap_allocation_failure():
    m = km.Machine(profile="i386", mem="1G")
    space = m.VMALLOC_END - m.VMALLOC_START
    a = m.vmalloc(space // 2)
    assert a
    m.vfree(a)                                     # lazily freed: still occupies the space
    b = m.vmalloc(space // 2)                      # fails first, purges, retries, succeeds
    assert b == a
    assert m.vmalloc(space // 2) == km.NULL
    assert f"vmap allocation for size {space // 2 + PAGE} failed: use vmalloc=<size> to increase size" in m.dmesg()
    assert "vm_struct allocation failed" in m.dmesg()
    m.check_invariants()


def test_vzalloc_returns_zeroed_memory_even_on_reused_frames(m):
    v = m.vmalloc(8 * PAGE)
    pfns = {m.vmalloc_to_pfn(v + i * PAGE) for i in range(8)}
    m.memset(v, 0xAA, 8 * PAGE)
    m.vfree(v)
    z = m.vzalloc(8 * PAGE)
    assert pfns & {m.vmalloc_to_pfn(z + i * PAGE) for i in range(8)}   # the same frames came back
    assert m.read(z, 8 * PAGE) == bytes(8 * PAGE)


def test_vmalloc_node_takes_pages_from_that_node_and_vmallocinfo_counts_them():
    m = km.Machine(mem="256M", nodes=2, cpus=2, boot="bare")
    v = m.vmalloc_node(10 * PAGE, 1, caller="n+0x0/0x1")
    assert {m.vmalloc_to_page(v + i * PAGE).node for i in range(10)} == {1}
    w = m.vmalloc_node(3 * PAGE, 0, caller="n+0x0/0x1")
    lines = _lines(m)
    assert lines[0].endswith("pages=10 vmalloc N1=10") and lines[1].endswith("pages=3 vmalloc N0=3")
    m.check_invariants()


def test_vmalloc_node_align_honours_the_alignment(m):
    m.vmalloc(PAGE)
    thread_align = 16384                 # THREAD_ALIGN on x86_64 (THREAD_SIZE 16 KiB)
    v = m.vmalloc_node_align(5 * PAGE, thread_align << 1)
    assert v % (thread_align << 1) == 0 and v == START + (thread_align << 1)
    # the hole left below is used by the next small request (lowest fit)
    assert m.vmalloc(PAGE) == START + 2 * PAGE
    with pytest.raises(ValueError):
        m.vmalloc_node_align(PAGE, 3)


def test_vmap_maps_existing_pages_and_vunmap_leaves_them_allocated(m):
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(3)]
    v = m.vmap(pages, caller="drv+0x2/0x4")
    assert _lines(m) == [f"0x{v:016x}-0x{v + 4 * PAGE:016x}   16384 drv+0x2/0x4 vmap"]
    m.write(v + PAGE, b"through vmap")
    assert m.read(m.page_address(pages[1]), 12) == b"through vmap"
    assert [m.vmalloc_to_page(v + i * PAGE) for i in range(3)] == pages
    m.check_invariants()
    m.vunmap(v)
    assert all(p.owner == "pages" for p in pages)
    with pytest.raises(km.KernelBug, match="already freed"):
        m.vunmap(v)
    m.check_invariants()


def test_lookups(m):
    v = m.vmalloc(2 * PAGE, caller="f+0x0/0x1")
    assert m.is_vmalloc_addr(v) and not m.is_vmalloc_addr(m.PAGE_OFFSET)
    assert m.find_vm_area(v + PAGE + 3).addr == v and m.find_vm_area(v).size == 3 * PAGE
    assert m.vmalloc_to_page(v).owner == "vmalloc"
    assert m.vmalloc_to_pfn(m.PAGE_OFFSET) == 0


def test_meminfo_vmalloc_used_counts_the_pages(m):
    m.vmalloc(20 * PAGE)
    assert re.search(r"^VmallocUsed: +80 kB$", m.proc.meminfo(), re.M)
    assert re.search(r"^VmallocTotal: +34359738367 kB$", m.proc.meminfo(), re.M)


def test_events_and_snapshot(m):
    seen = []
    m.subscribe(seen.append)
    s = m.snapshot()
    v = m.vmalloc(5 * PAGE)
    m.vfree(v)
    ev = [e for e in seen if e.type in ("vmalloc", "vfree")]
    assert [(e.type, e.nr_pages, e.addr) for e in ev] == [("vmalloc", 5, v), ("vfree", 5, v)]
    assert ev[0].kind == km.kernel.mem_map.K_VMALLOC and ev[0].pfn == -1 and ev[0].size == 5 * PAGE
    m.restore(s)
    assert m.proc.vmallocinfo() == "" and m.vmalloc(PAGE) == START
    m.check_invariants()


def test_python_misuse_is_a_type_or_value_error(m):
    with pytest.raises(TypeError):
        m.vmalloc("4096")
    with pytest.raises(ValueError):
        m.vmalloc(-1)
    with pytest.raises(ValueError):
        m.vmalloc_node(PAGE, 3)
    with pytest.raises(TypeError):
        m.vmap(m.alloc_pages(km.GFP_KERNEL, 0))
