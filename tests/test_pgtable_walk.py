"""Kernel page tables: the direct map's huge pages, 4 KiB vmalloc PTEs, real entry
values and indices from the address bits, on every paging mode."""

import re

import pytest

import kmemlab as km
from kmemlab.kernel.layout import direct_map_chunks
from kmemlab.kernel.pgtable import PAGE_KERNEL, _KERNPG_TABLE, _PAGE_PSE

GiB, MiB = 1 << 30, 1 << 20


@pytest.fixture(scope="module")
def m4g():
    return km.Machine(profile="x86_64", mem="4G")


def _indices(profile, vaddr):
    return [(name, (vaddr >> shift) & (n - 1)) for name, shift, n in profile.levels]


def test_walk_of_a_direct_map_address_in_the_first_gib_ends_at_a_2mib_pse_pmd(m4g):
    phys = 0x1234567
    w = m4g.walk(m4g.PAGE_OFFSET + phys)
    assert [lv.level for lv in w.levels] == ["pgd", "pud", "pmd"]
    assert w.levels[0].index == 273                          # Documentation: direct map slot
    assert [(lv.level, lv.index) for lv in w.levels] == _indices(m4g.profile, m4g.PAGE_OFFSET + phys)[:3]
    pmd = w.levels[-1]
    assert pmd.entry == (phys & ~(2 * MiB - 1)) | PAGE_KERNEL | _PAGE_PSE   # 0x80000000012001e3
    assert "PSE" in pmd.flags and "NX" in pmd.flags
    assert w.page_size == 2 * MiB and w.phys == phys
    for lv in w.levels[:-1]:
        assert lv.entry & 0xfff == _KERNPG_TABLE


def test_walk_above_one_gib_ends_at_a_1gib_pud_because_gbpages_fit(m4g):
    phys = GiB + 0x5678
    w = m4g.walk(m4g.PAGE_OFFSET + phys)
    assert [lv.level for lv in w.levels] == ["pgd", "pud"]
    assert w.levels[-1].entry == GiB | PAGE_KERNEL | _PAGE_PSE
    assert w.page_size == GiB and w.phys == phys


def test_walk_of_a_vmalloc_address_ends_at_a_4kib_pte_with_page_kernel(m4g):
    v = m4g.vmalloc(3 * 4096)
    try:
        for i in range(3):
            w = m4g.walk(v + i * 4096 + 5)
            pfn = m4g.vmalloc_to_pfn(v + i * 4096)
            assert [lv.level for lv in w.levels] == ["pgd", "pud", "pmd", "pte"]
            assert w.levels[0].index == 402                  # VMALLOC_START's pgd slot
            assert w.levels[-1].entry == (pfn << 12) | 0x8000000000000163
            assert w.phys == (pfn << 12) + 5 and w.page_size == 4096
            # every table named in an entry is a page-table frame
            for lv in w.levels:
                assert m4g.pfn_to_page(lv.table >> 12).owner == "pagetable"
        guard = m4g.walk(v + 3 * 4096)
        assert guard.phys is None and guard.fault_level == "pte"
    finally:
        m4g.vfree(v)


def test_kernel_text_is_mapped_at_pgd_511_pud_510_pmd_8(m4g):
    w = m4g.walk(0xffffffff81000000)
    assert [(lv.level, lv.index) for lv in w.levels] == [("pgd", 511), ("pud", 510), ("pmd", 8)]
    assert w.phys == 16 * MiB


def test_walk_text_names_each_level_entry_and_the_physical_result(m4g):
    text = str(m4g.walk(m4g.PAGE_OFFSET + 0x1234567))
    assert re.search(r"pgd index 273 +table 0x[0-9a-f]{16} +entry 0x[0-9a-f]{16} +PRESENT RW ACCESSED DIRTY", text)
    assert "=> 2 MiB page at 0x1200000 + offset 0x34567 = physical 0x1234567" in text
    hole = str(m4g.walk(0x0000100000000000))
    assert "not present" in hole and "page fault: pgd" in hole


def test_direct_map_covers_ram_exactly_as_direct_map_chunks_say(m4g):
    k = m4g._k
    for start, end, size in direct_map_chunks(k.ram_ranges):
        for phys in (start, end - 1):
            w = m4g.walk(m4g.PAGE_OFFSET + phys)
            assert w.phys == phys and w.page_size == size
    # the e820 hole below 1 MiB is not mapped
    assert m4g.walk(m4g.PAGE_OFFSET + 0xa0000).phys is None


def test_page_table_pages_are_counted_in_meminfo(m4g):
    k = m4g._k
    n = k.vmstat["nr_page_table_pages"]
    user = k.boot.user_pgtable_pages() if k.boot is not None else 0    # a booted machine's processes
    assert n == len(k.pgtable.tables) + user == m4g.mem_map.count(km.kernel.mem_map.K_PGTABLE)
    assert re.search(rf"^PageTables: +{n * 4} kB$", m4g.proc.meminfo(), re.M)
    m4g.check_invariants()


def test_la57_walk_has_five_levels_with_indices_from_bits_56_to_12():
    m = km.Machine(profile="x86_64-la57", mem="128M", boot="bare")    # pristine: v = VMALLOC_START
    v = m.vmalloc(4096)
    w = m.walk(v)
    assert [lv.level for lv in w.levels] == ["pgd", "p4d", "pud", "pmd", "pte"]
    assert [lv.index for lv in w.levels] == [(v >> 48) & 511, (v >> 39) & 511, (v >> 30) & 511,
                                             (v >> 21) & 511, (v >> 12) & 511]
    assert w.levels[0].index == 416 and v == 0xffa0000000000000
    d = m.walk(m.PAGE_OFFSET + 0x345000)
    assert d.levels[0].index == (0xff11000000000000 >> 48) & 511 and d.phys == 0x345000
    m.check_invariants()


def test_i386_direct_map_uses_4mib_pse_pgd_entries_and_vmalloc_starts_past_the_gap():
    m = km.Machine(profile="i386", mem="1G")
    k = m._k
    high_memory = 0xC0000000 + (k.max_low_pfn << 12)
    assert m.VMALLOC_START == high_memory + 8 * MiB            # pgtable_32_areas.h: no rounding
    w = m.walk(0xC0000000 + 0x1234567)
    assert [lv.level for lv in w.levels] == ["pgd"]
    assert w.levels[0].entry == 0x1000000 | 0x1e3 and w.page_size == 4 * MiB
    # highmem is not in the direct map
    assert m.walk(high_memory + 4096).phys is None
    v = m.vmalloc(4 * 4096)
    w = m.walk(v)
    assert [lv.level for lv in w.levels] == ["pgd", "pte"]
    assert w.levels[-1].entry & 0xfff == 0x163 and w.levels[-1].entry >> 32 == 0   # no NX without PAE
    assert re.search(rf"^VmallocTotal: +{(0xff800000 - 2 * 4096 - 1 - m.VMALLOC_START) >> 10} kB$",
                     m.proc.meminfo(), re.M)
    m.check_invariants()


def test_i386_vmalloc_pages_come_from_highmem():
    m = km.Machine(profile="i386", mem="1G")
    v = m.vmalloc(64 * 4096)
    zones = {m.vmalloc_to_page(v + i * 4096).zone for i in range(64)}
    assert zones == {"HighMem"}
    # highmem pages have no direct-map address: the vmalloc mapping is the only way in
    assert m.page_address(m.vmalloc_to_page(v)) == km.NULL
    m.write(v + 4090, b"0123456789")
    assert m.read(v + 4090, 10) == b"0123456789"
    m.check_invariants()


def test_layout_lists_the_regions_with_the_kernels_constants():
    m = km.Machine(profile="x86_64")
    regions = {r.name: r for r in m.layout}
    assert regions["direct map"].start == 0xffff888000000000
    assert regions["vmalloc"].start == 0xffffc90000000000
    assert regions["vmalloc"].size == 32 << 40
    assert regions["vmemmap"].start == 0xffffea0000000000
    assert regions["kernel text"].start == 0xffffffff80000000
    m32 = km.Machine(profile="i386", mem="1G")
    r32 = {r.name: r for r in m32.layout}
    assert r32["direct map"].end == 0xC0000000 + (m32._k.max_low_pfn << 12)
    assert r32["vmalloc gap"].end == r32["vmalloc"].start == m32.VMALLOC_START
    assert r32["vmalloc"].end == r32["pkmap"].start - 2 * 4096


def test_walk_rejects_what_is_not_an_address(m4g):
    with pytest.raises(TypeError):
        m4g.walk("0xffff888000000000")
    with pytest.raises(ValueError):
        m4g.walk(1 << 64)
