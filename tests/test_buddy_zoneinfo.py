"""/proc/zoneinfo complete, as mm/vmstat.c zoneinfo_show_print() prints it, next to this
project's real Linux 6.18 machines (2 CPUs, 24 GiB): the same zones (Movable and Device
unpopulated), the same keys in the same order, five protection entries, the spans of a
machine with the PCI hole, min_free_kbytes as khugepaged raises it, and the pcp batch /
high / threshold formulas fed with the real box's own numbers give the real box's values.
The tests that read the real machine skip where /proc is not Linux 6.18."""

import re
from pathlib import Path

import pytest

import kmemlab as km
from kmemlab.kernel.pcp import calculate_normal_threshold, zone_batchsize, zone_highsize


def parse(text: str) -> list[dict]:
    """Each zone block: node, zone, its keys in order, and the numbers by key (the last
    value of a repeated key, the pagesets as a list per CPU)."""
    zones = []
    for block in re.split(r"^(?=Node \d+, zone)", text, flags=re.M):
        if not block.strip():
            continue
        head, *lines = block.splitlines()
        node, name = re.match(r"Node (\d+), zone\s+(\S+)", head).groups()
        keys, vals, cpus = [], {}, []
        for line in lines:
            line = line.strip()
            if m := re.match(r"protection: \((.*)\)", line):
                keys.append("protection")
                vals["protection"] = [int(v) for v in m.group(1).split(", ")]
                continue
            m = re.match(r"([a-z_ A-Z]+?):?\s+(-?\d+)$", line)
            if not m:
                keys.append(line)                     # "per-node stats", "pagesets"
                continue
            key, v = m.group(1).strip(), int(m.group(2))
            keys.append(key)
            if key == "cpu":
                cpus.append({})
            elif cpus and key in ("count", "high", "batch", "high_min", "high_max", "vm stats threshold"):
                cpus[-1][key] = v
            else:
                vals[key] = v
        zones.append({"node": int(node), "zone": name, "keys": keys, "vals": vals, "cpus": cpus})
    return zones


def real_zoneinfo() -> str:
    p = Path("/proc/zoneinfo")
    release = Path("/proc/sys/kernel/osrelease").read_text().strip() if p.exists() else ""
    if not release.startswith("6.18."):
        pytest.skip(f"needs /proc of a Linux 6.18 kernel (this is {release or 'not Linux'})")
    return p.read_text()


@pytest.fixture(scope="module")
def box():
    """A machine shaped like this project's CI boxes: x86_64, 2 CPUs, 24 GiB, 6.18."""
    return km.Machine(mem="24G", cpus=2, kernel="6.18")


def test_the_same_zones_and_keys_as_the_real_618_box(box):
    real = parse(real_zoneinfo())
    ours = parse(box.proc.zoneinfo())
    cpus = len(real[0]["cpus"])
    if cpus != 2:
        box = km.Machine(mem="24G", cpus=cpus, kernel="6.18")
        ours = parse(box.proc.zoneinfo())
    assert [(z["node"], z["zone"]) for z in ours] == [(z["node"], z["zone"]) for z in real]
    assert [z["zone"] for z in ours] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    for o, r in zip(ours, real):
        assert o["keys"] == r["keys"], o["zone"]
        assert len(o["vals"]["protection"]) == len(r["vals"]["protection"]) == 5


def test_spans_and_first_pages_match_the_real_box_which_has_the_same_ram_map(box):
    """Both have RAM at 4 KiB .. 640 KiB, 1 MiB .. 3 GiB and 4 GiB .. 25 GiB: DMA32 spans
    up to 4 GiB, PCI hole and all (its present pages stop at 3 GiB)."""
    real = {z["zone"]: z for z in parse(real_zoneinfo())}
    ours = {z["zone"]: z for z in parse(box.proc.zoneinfo())}
    if real["Normal"]["vals"]["spanned"] != 5505024:
        pytest.skip("this box's RAM map is not the 24 GiB one")
    for name in ("DMA", "DMA32", "Normal"):
        for key in ("spanned", "present", "start_pfn"):
            assert ours[name]["vals"][key] == real[name]["vals"][key], (name, key)
    assert ours["DMA"]["vals"]["managed"] == real["DMA"]["vals"]["managed"] == 3840
    for name in ("Movable", "Device"):
        assert ours[name]["vals"] == real[name]["vals"]       # unpopulated: the same numbers


def test_min_free_kbytes_is_what_khugepaged_sets_as_on_the_real_box(box):
    # set_recommended_min_free_kbytes(): (2 + 3 * 3) pageblocks of 512 pages per populated
    # zone up to Normal, 3 zones: 16896 pages = 67584 kB, above int_sqrt(lowmem_kb * 16)
    assert box._k.buddy.min_free_kbytes == 67584
    real = Path("/proc/sys/vm/min_free_kbytes")
    real_zoneinfo()                                         # skips off a 6.18 box
    assert int(real.read_text()) == box._k.buddy.min_free_kbytes


def test_pcp_formulas_fed_the_real_boxs_numbers_give_the_real_boxs_pagesets():
    """zone_batchsize(), zone_highsize() for high_min (the low watermark) and high_max
    (managed / 8), calculate_normal_threshold(), from the real zoneinfo's own managed and
    low values."""
    real = parse(real_zoneinfo())
    ncpu = len(real[0]["cpus"])
    for z in real:
        if not z["cpus"]:
            continue
        v, pcp = z["vals"], z["cpus"][0]
        batch = max(1, zone_batchsize(v["managed"], 4096, 1 << 20))
        assert pcp["batch"] == batch, z["zone"]
        assert pcp["high_min"] == zone_highsize(v["low"], batch, ncpu), z["zone"]
        assert pcp["high_max"] == zone_highsize(v["managed"] // 8, batch, ncpu), z["zone"]
        assert pcp["vm stats threshold"] == calculate_normal_threshold(v["managed"], 12, ncpu), z["zone"]
        # the watermarks follow __setup_per_zone_wmarks(): min + max(min / 4, managed / 1000)
        step = max(v["min"] >> 2, v["managed"] * 10 // 10000)
        assert (v["low"], v["high"], v["promo"]) == (v["min"] + step, v["min"] + 2 * step, v["min"] + 3 * step)


def test_zoneinfo_of_the_model_holds_its_own_numbers(box):
    zones = {z["zone"]: z for z in parse(box.proc.zoneinfo())}
    for z in box.zones:
        info = zones[z.name]["vals"]
        assert info["pages free"] == z.nr_free_pages and info["managed"] == z.managed_pages
        assert info["protection"] == z.lowmem_reserve
        if z.populated():
            assert info["nr_free_pages"] == z.nr_free_pages
            assert [c["count"] for c in zones[z.name]["cpus"]] == [p.count for p in z.per_cpu_pageset]
            assert info["numa_hit"] == z.vm_numa_event[0] and info["numa_local"] == z.vm_numa_event[4]
    dma = zones["DMA"]["vals"]
    assert dma["nr_free_pages_blocks"] == 7 * 512           # one order-9 and three order-10 blocks
    # the per-node counters open the first populated zone and agree with meminfo
    assert zones["DMA"]["keys"][0] == "per-node stats"
    slab = int(re.search(r"SUnreclaim: +(\d+) kB", box.proc.meminfo()).group(1)) // 4
    assert dma["nr_slab_unreclaimable"] == slab


@pytest.mark.parametrize("kernel, first, pcp_keys, tail", [
    ("4.5", "pages free", ["count", "high", "batch"], "inactive_ratio"),
    ("5.10", "per-node stats", ["count", "high", "batch"], "start_pfn"),
    ("6.6", "per-node stats", ["count", "high", "batch"], "start_pfn"),
    ("6.18", "per-node stats", ["count", "high", "batch", "high_min", "high_max"], "start_pfn"),
])
def test_each_generation_prints_its_own_layout(kernel, first, pcp_keys, tail):
    m = km.Machine(mem="8G", cpus=2, kernel=kernel)
    zones = parse(m.proc.zoneinfo())
    names = [z["zone"] for z in zones]
    # 4.5 walked the populated zones only; 4.12+ prints Movable and Device up to protection
    assert names == (["DMA", "DMA32", "Normal"] if kernel == "4.5" else
                     ["DMA", "DMA32", "Normal", "Movable", "Device"])
    dma = zones[0]
    assert dma["keys"][0] == first and dma["keys"][-1] == tail
    i = dma["keys"].index("cpu")
    assert dma["keys"][i + 1:i + 1 + len(pcp_keys)] == pcp_keys
    assert ("boost" in dma["keys"]) is (kernel != "4.5" and kernel != "5.10")
    assert ("scanned" in dma["keys"]) is (kernel == "4.5")
