"""The helpers the views read through (free_list_pfns, prb_first_valid_seq), checked
against an independent reading of the same state (mem_map, dmesg)."""

from pathlib import Path

import numpy as np
import pytest

import kmemlab as km
from kmemlab import helpers as H
from kmemlab.kernel.mem_map import K_FREE


def test_free_list_pfns_are_the_free_blocks_mem_map_shows():
    m = km.Machine(mem="256M", seed=7)
    held = [m.alloc_pages(km.GFP_KERNEL, o % 4) for o in range(300)]
    for p, o in list(zip(held, [o % 4 for o in range(300)]))[::3]:
        m.free_pages(p, o)
    mm = m.mem_map
    heads = np.zeros(mm.max_pfn, bool)
    mts = range(len(H.migratetype_names(m)))
    for z in H.for_each_zone(m):
        for fa in z.free_area:
            for mt in mts:
                pfns = H.free_list_pfns(fa, mt)
                assert len(pfns) == H.free_list_count(fa, mt)
                for pfn in pfns:
                    assert z.zone_start_pfn <= pfn < H.zone_end_pfn(z)
                    assert mm.free_order(pfn) == fa.order and not heads[pfn]
                    heads[pfn] = True
                    assert np.all(mm.kind[pfn:pfn + (1 << fa.order)] == K_FREE)
    # every free frame lies in exactly one listed block
    covered = np.zeros(mm.max_pfn, np.int32)
    for pfn in np.flatnonzero(heads):
        covered[pfn:pfn + (1 << mm.free_order(int(pfn)))] += 1
    assert np.array_equal(covered == 1, mm.kind[:mm.max_pfn] == K_FREE) and covered.max() == 1


def test_free_list_pfns_refuses_bad_arguments_and_a_host():
    m = km.Machine(mem="128M")
    fa = m.zone("DMA32").free_area[3]
    with pytest.raises(ValueError, match="migratetype must be 0..4"):
        H.free_list_pfns(fa, 5)
    with pytest.raises(TypeError, match="free_area"):
        H.free_list_pfns(object(), 0)
    if not Path("/proc/buddyinfo").exists():
        pytest.skip("no /proc/buddyinfo: not a Linux host")
    host_fa = next(H.for_each_populated_zone(km.host())).free_area[0]
    with pytest.raises(km.NotAvailable, match="free lists"):
        H.free_list_pfns(host_fa, 1)


def test_prb_first_valid_seq_moves_when_records_go():
    m = km.Machine(mem="128M")
    recs = H.get_printk_records(m)
    assert H.prb_first_valid_seq(m) == recs[0].seq == 0
    end = H.prb_next_seq(m)
    assert m.kmalloc(1 << 40) == km.NULL            # a warning: the end moves, not the start
    assert H.prb_first_valid_seq(m) == 0 and H.prb_next_seq(m) > end
    m.dmesg(clear=True)                             # cleared: the start reaches the end
    assert H.prb_first_valid_seq(m) == H.prb_next_seq(m) and H.get_printk_records(m) == []
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    m.free_pages(pg, 0)
    with pytest.raises(km.KernelBug):
        m.free_pages(pg, 0)                         # a double free: "Bad page state" logged
    assert H.get_printk_records(m)[0].seq == H.prb_first_valid_seq(m) < H.prb_next_seq(m)


def test_prb_first_valid_seq_on_the_host():
    if not Path("/dev/kmsg").exists():
        pytest.skip("no /dev/kmsg: not a Linux host")
    h = km.host()
    try:
        recs = H.get_printk_records(h)
    except km.NotAvailable as e:
        pytest.skip(f"the host's log is not readable here: {e}")
    first = H.prb_first_valid_seq(h)
    assert first == (recs[0].seq if recs else H.prb_next_seq(h))
