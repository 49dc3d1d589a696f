"""Machine construction, profiles, addresses, events, snapshots and the boot log."""

import re

import pytest

import kmemlab as km


def test_profiles_boot_with_their_zones():
    zones = {p: [z.name for z in km.Machine(profile=p, mem=mem).zones if z.populated()]
             for p, mem in [("x86_64", "8G"), ("x86_64-la57", "1G"), ("i386", "2G"), ("tiny", None)]}
    assert zones == {"x86_64": ["DMA", "DMA32", "Normal"], "x86_64-la57": ["DMA", "DMA32"],
                     "i386": ["DMA", "Normal", "HighMem"], "tiny": ["DMA"]}


def test_pci_hole_moves_memory_above_4g():
    m = km.Machine(mem="4G")
    # 3 GiB below the hole, the last 1 GiB from 4 GiB up: Normal = pfn 0x100000..0x140000
    normal = m.zone("Normal")
    assert (normal.zone_start_pfn, normal.zone_end_pfn) == (0x100000, 0x140000)
    assert m.mem_map.zone[0xC0000] == -1          # 3 GiB: not RAM, in no zone


def test_i386_lowmem_ends_at_maxmem_and_vmalloc_starts_8m_later():
    m = km.Machine(profile="i386", mem="2G")
    # MAXMEM = VMALLOC_END - PAGE_OFFSET - 128 MiB with VMALLOC_END = 0xff800000 - 2 pages
    maxmem = 0xff800000 - 2 * 4096 - 0xC0000000 - (128 << 20)
    assert m._k.max_low_pfn == maxmem >> 12
    high_memory = 0xC0000000 + maxmem
    # pgtable_32_areas.h: VMALLOC_START = high_memory + VMALLOC_OFFSET, an exact 8 MiB gap
    assert m._k.vmalloc_start == high_memory + (8 << 20) == 0xf7ffe000
    assert "LOWMEM available" in m.dmesg() and "HIGHMEM available" in m.dmesg()


def test_boot_log_reads_like_a_real_x86_boot():
    m = km.Machine(mem="128M")
    log = m.dmesg()
    assert re.search(rf"^\[    0\.000000\] Linux version {re.escape(m.kernel)}\.0-kmemlab", log, re.M)
    assert "BIOS-e820: [mem 0x0000000000001000-0x000000000009efff] usable" in log
    assert "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]" in log
    assert "  Normal   empty" in log
    mo = re.search(r"Memory: (\d+)K/(\d+)K available \(16384K kernel code, 4096K rwdata, "
                   r"8192K rodata, 0K init, 4096K bss, (\d+)K reserved, 0K cma-reserved\)", log)
    assert mo and int(mo.group(1)) == m.totalram_pages * 4
    avail, total, reserved = (int(x) for x in mo.groups())
    assert avail + 16384 + 4096 + 8192 + 4096 + reserved == total


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="unknown profile 'arm64'"):
        km.Machine(profile="arm64")
    with pytest.raises(ValueError, match="not a size"):
        km.Machine(mem="lots")
    with pytest.raises(TypeError, match="size like '128M'"):
        km.Machine(mem=1.5)
    with pytest.raises(ValueError, match="outside what the x86_64 profile supports"):
        km.Machine(mem="1M")
    with pytest.raises(ValueError, match="kernel must be one of"):
        km.Machine(kernel="2.6")
    with pytest.raises(ValueError, match="cpus"):
        km.Machine(cpus=0)
    with pytest.raises(ValueError, match="every NUMA node needs a CPU"):
        km.Machine(cpus=1, nodes=2)


def test_address_type():
    a = km.Address(0xffff888000001000)
    assert repr(a) == "0xffff888000001000" and isinstance(a + 8, km.Address)
    assert (a + 8) - a == 8 and not km.NULL and repr(km.NULL) == "NULL"
    assert km.ZERO_SIZE_PTR == 16
    with pytest.raises(ValueError):
        km.Address(-1)


def test_direct_map_conversions_round_trip():
    m = km.Machine(mem="256M")
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    va = m.page_address(pg)
    assert va == 0xffff888000000000 + (pg.pfn << 12)
    assert m.virt_to_phys(va + 5) == (pg.pfn << 12) + 5
    assert m.phys_to_virt(pg.phys) == va and m.virt_to_page(va + 100) == pg
    with pytest.raises(km.KernelBug, match="not a direct-map address"):
        m.virt_to_phys(0xffffc90000000000)
    with pytest.raises(ValueError, match="not in the direct map"):
        m.phys_to_virt(1 << 40)


def test_memory_contents_and_gfp_zero():
    m = km.Machine(profile="tiny", boot="bare")        # pristine: nothing mapped at VMALLOC_START
    a = m.get_free_pages(km.GFP_KERNEL, 0)
    m.write(a + 10, b"hello")
    assert m.read(a + 8, 9) == b"\0\0hello\0\0"
    m.free_pages(a, 0)
    assert m.read(a + 10, 5) == b"hello"         # freed memory keeps its bytes
    b = m.get_zeroed_page()
    assert b == a and m.read(b, 4096) == bytes(4096)   # LIFO reuse, zeroed by __GFP_ZERO
    with pytest.raises(km.KernelOops, match="unable to handle page fault"):
        m.read(0xffffc90000000000, 1)
    with pytest.raises(TypeError, match="bytes"):
        m.write(b, "text")


def test_events_are_published_and_unsubscribe_works():
    m = km.Machine(profile="tiny")
    seen = []
    h = m.subscribe(seen.append)
    pg = m.alloc_pages(km.GFP_KERNEL, 2)
    m.free_pages(pg, 2)
    # an order-2 block comes from the CPU's pcp list (5.14+), which rmqueue_bulk() filled first
    assert [(e.type, e.pfn, e.nr_pages) for e in seen if e.type != "rmqueue_bulk"] == \
        [("alloc_pages", pg.pfn, 4), ("free_pages", pg.pfn, 4)]
    n = len(seen)
    h.close()
    m.alloc_pages(km.GFP_KERNEL, 0)
    assert len(seen) == n


def test_a_failing_subscriber_does_not_break_the_kernel(capsys):
    m = km.Machine(profile="tiny")
    m.subscribe(lambda e: 1 / 0)
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    assert pg is not None
    m.check_invariants()
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_snapshot_restore_is_exact_and_reusable():
    m = km.Machine(mem="256M")
    pg = m.alloc_pages(km.GFP_KERNEL, 3)
    s = m.snapshot()
    info, log = m.proc.buddyinfo(), m.dmesg()
    for _ in range(100):
        m.alloc_pages(km.GFP_KERNEL, 1)
    m.restore(s)
    assert m.proc.buddyinfo() == info and m.dmesg() == log
    m.free_pages(m.pfn_to_page(pg.pfn), 3)
    m.restore(s)
    assert m.proc.buddyinfo() == info
    m.check_invariants()
    with pytest.raises(ValueError, match="another machine"):
        km.Machine(profile="tiny").restore(s)


def test_two_machines_never_share_state():
    a, b = km.Machine(profile="tiny"), km.Machine(profile="tiny")
    before = b.proc.zoneinfo()
    for _ in range(10):
        a.alloc_pages(km.GFP_KERNEL, 0)
    assert b.proc.zoneinfo() == before and a.proc.zoneinfo() != before


def test_gfp_flags_print_like_pGg():
    assert km.format_gfp(km.GFP_KERNEL) == "0xcc0(GFP_KERNEL)"
    # 6.6's %pGg names table lists __GFP_NOWARN before __GFP_ZERO; the real 6.18's
    # (events/kmem/kmalloc/format) lists single bits in bit order
    assert km.format_gfp(km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_NOWARN, "6.6") == \
        "0x2dc0(GFP_KERNEL|__GFP_NOWARN|__GFP_ZERO)"
    assert km.format_gfp(km.GFP_KERNEL | km.__GFP_ZERO | km.__GFP_NOWARN) == \
        "0x2dc0(GFP_KERNEL|__GFP_ZERO|__GFP_NOWARN)"
    # GFP_NOWAIT carries __GFP_NOWARN from 6.8 on
    assert km.format_gfp(km.GFP_NOWAIT) == "0x2800(GFP_NOWAIT)"
    assert km.format_gfp(km.GFP_NOWAIT, "6.6") == "0x2800(GFP_NOWAIT|__GFP_NOWARN)"
    assert km.Machine(mem="64M", kernel="6.6").GFP_NOWAIT == km.__GFP_KSWAPD_RECLAIM
    assert km.format_gfp(km.GFP_ATOMIC) == "0x820(GFP_ATOMIC)"
    assert km.format_gfp(km.GFP_HIGHUSER_MOVABLE) == "0x100cca(GFP_HIGHUSER_MOVABLE)"
    assert km.format_gfp(0) == "0x0(none)"


@pytest.mark.parametrize("kernel, kernel_mode, atomic_mode", [
    ("4.14", "0x14000c0", "0x1080020"), ("4.19", "0x6000c0", "0x480020"),
    ("5.10", "0xcc0", "0xa20"), ("6.6", "0xcc0", "0x820"),
    ("4.5", "0x24000c0", "0x2080020"), ("6.18", "0xcc0", "0x820")])
def test_warn_alloc_prints_the_mode_as_that_kernel_numbers_its_bits(kernel, kernel_mode, atomic_mode):
    # the bit layout changed in 4.15 and 5.0 (mm: shuffle GFP_* flags); __GFP_ATOMIC went in 6.3
    m = km.Machine(profile="tiny", kernel=kernel)
    while m.alloc_pages(km.GFP_KERNEL, 0) is not None:
        pass
    # %pGg decodes the mask from 4.6 on; 4.5 prints the bare number
    names = (lambda n: "\n") if kernel == "4.5" else (lambda n: f"({n})")
    assert f"order:0, mode:{kernel_mode}{names('GFP_KERNEL')}" in m.dmesg()
    while m.alloc_pages(km.GFP_ATOMIC, 0) is not None:
        pass
    assert f"order:0, mode:{atomic_mode}{names('GFP_ATOMIC')}" in m.dmesg()
