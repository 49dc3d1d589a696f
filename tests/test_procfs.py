"""/proc files in the kernel's exact formats (mm/vmstat.c, fs/proc/meminfo.c)."""

import re

import pytest

import kmemlab as km


@pytest.fixture(scope="module")
def m():
    return km.Machine(profile="x86_64", mem="8G", cpus=4)


def test_buddyinfo_line_format(m):
    text = m.proc.buddyinfo()
    lines = text.splitlines()
    assert [l.split(",")[1].split()[1] for l in lines] == ["DMA", "DMA32", "Normal"]
    for line, z in zip(lines, [z for z in m.zones if z.populated()]):
        # seq_printf(m, "Node %d, zone %8s ", ...) then "%6lu " per order
        expect = f"Node {z.node}, zone {z.name:>8} " + "".join(f"{fa.nr_free:6d} " for fa in z.free_area)
        assert line == expect
        assert re.fullmatch(r"Node \d, zone [ A-Za-z0-9]{8} ( *\d+ ){11}", line)
    assert text.endswith(" \n")


def test_buddyinfo_skips_unpopulated_zones():
    m = km.Machine(mem="128M")       # no Normal zone below 4 GiB
    assert "Normal" not in m.proc.buddyinfo()
    assert m.proc.buddyinfo().startswith("Node 0, zone      DMA ")


def test_pagetypeinfo_format_and_counts_agree_with_buddyinfo(m):
    text = m.proc.pagetypeinfo()
    assert text.startswith("Page block order: 9\nPages per block:  512\n\n")
    assert "Free pages count per migrate type at order       0      1" in text
    per_zone = {}
    for line in text.splitlines():
        mo = re.match(r"Node +(\d+), zone +(\w+), type +(\w+) (.*)$", line)
        if mo:
            counts = [int(x) for x in mo.group(4).split()]
            acc = per_zone.setdefault(mo.group(2), [0] * 11)
            per_zone[mo.group(2)] = [a + c for a, c in zip(acc, counts)]
    for z in m.zones:
        if z.populated():
            assert per_zone[z.name] == [fa.nr_free for fa in z.free_area]
    assert re.search(r"Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n", text)


def test_meminfo_layout_and_arithmetic(m):
    text = m.proc.meminfo()
    rows = dict(re.findall(r"^([\w()]+): +(\d+)", text, re.M))
    free = sum(z.nr_free_pages for z in m.zones) * 4
    assert int(rows["MemFree"]) == free
    assert int(rows["MemTotal"]) == m.totalram_pages * 4
    assert int(rows["MemAvailable"]) <= free
    # VMALLOC_TOTAL = VMALLOC_END - VMALLOC_START with the kernel's inclusive end: 32 TiB - 1
    assert rows["VmallocTotal"] == str(((32 << 40) - 1) >> 10)
    for line in text.splitlines():
        if line.startswith("HugePages_"):
            assert re.fullmatch(r"HugePages_\w+: +\d+", line)
        elif line.startswith("HardwareCorrupted"):
            assert line == "HardwareCorrupted:     0 kB"
        else:
            # show_val_kb(): a 16-column label, a number at least 8 wide, " kB"
            label, value = line[:16], line[16:]
            assert re.fullmatch(r"[\w()]+: *", label), line
            assert re.fullmatch(r" *\d+ kB", value) and len(value) >= 11, line
    assert list(rows)[:3] == ["MemTotal", "MemFree", "MemAvailable"]


def test_meminfo_directmap_covers_ram_with_1g_and_2m_pages(m):
    rows = dict(re.findall(r"^(DirectMap\w+): +(\d+) kB", m.proc.meminfo(), re.M))
    ram_kb = sum(e - s for s, e in m._k.ram_ranges) >> 10
    assert sum(int(v) for v in rows.values()) == ram_kb
    assert int(rows["DirectMap1G"]) >= 6 << 20         # 8G machine: mostly 1 GiB pages


def test_meminfo_has_highmem_rows_on_i386():
    m = km.Machine(profile="i386", mem="2G")
    rows = dict(re.findall(r"^([\w()]+): +(\d+)", m.proc.meminfo(), re.M))
    assert int(rows["HighTotal"]) + int(rows["LowTotal"]) == int(rows["MemTotal"])
    assert int(rows["HighTotal"]) > 1 << 20 and "DirectMap4M" in rows


def test_zoneinfo_watermarks_follow_setup_per_zone_wmarks(m):
    # min_free_kbytes = int_sqrt(lowmem_kbytes * 16), raised by khugepaged's
    # set_recommended_min_free_kbytes() on x86_64 (THP): 2 + 3 * 3 pageblocks per populated
    # zone, here 11 * 512 pages * 3 zones (the 5 % cap is far above it on 8 GiB)
    import math
    lowmem_kb = m.totalram_pages * 4
    calculated = min(max(math.isqrt(lowmem_kb * 16), 128), 262144)
    recommended = (2 + 3 * 3) * 512 * 3 * 4
    min_free_kbytes = max(calculated, recommended)
    assert m._k.buddy.min_free_kbytes == min_free_kbytes == 67584
    pages_min = min_free_kbytes // 4
    for z in m.zones:
        if not z.managed_pages:
            continue
        wmin = pages_min * z.managed_pages // m.totalram_pages
        delta = max(wmin >> 2, z.managed_pages * 10 // 10000)
        assert z.watermark[:3] == [wmin, wmin + delta, wmin + 2 * delta]
    text = m.proc.zoneinfo()
    assert re.search(r"Node 0, zone   Normal\n  pages free     \d+\n        boost    0\n        min      \d+", text)


def test_lowmem_reserve_protects_lower_zones(m):
    dma, dma32, normal = m.zone("DMA"), m.zone("DMA32"), m.zone("Normal")
    # setup_per_zone_lowmem_reserve(): managed pages of the zones above / ratio (256 for DMA);
    # one entry per zone type: DMA, DMA32, Normal, Movable, Device (the last two empty)
    assert dma.lowmem_reserve[2] == (dma32.managed_pages + normal.managed_pages) // 256
    assert dma.lowmem_reserve[2:] == [dma.lowmem_reserve[2]] * 3
    assert dma32.lowmem_reserve[2] == normal.managed_pages // 256
    assert normal.lowmem_reserve == [0, 0, 0, 0, 0]


def test_proc_text_shows_as_plain_text_in_a_notebook(m):
    assert repr(m.proc.buddyinfo()) == str(m.proc.buddyinfo())
