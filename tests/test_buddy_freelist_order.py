"""The page allocator's free lists are stored reversed (the OrderedDict's last item is the
list head); FreeArea.free_list() reads them in kernel list order. (What the allocator does
step by step, list order included, is pinned by the golden recordings:
tests/test_buddy_golden.py.)"""

import kmemlab as km


def test_free_list_reads_list_head_first():
    """free_area[o].free_list() is in kernel list order: after boot (every block freed
    to the tail, lowest first) the lowest pfn is the head; a block freed later (not
    likely to merge) goes to the head. Order 10 is no pcp order, so the per-cpu lists
    play no part."""
    m = km.Machine(mem="256M")
    z = next(z for z in m.zones if z.name == "DMA32")
    top = z.free_area[10].free_list()
    assert top == sorted(top) and len(top) > 1
    pg = m.alloc_pages(km.GFP_HIGHUSER_MOVABLE, 10)
    assert pg.pfn == top[0]                         # the head is taken first
    assert z.free_area[10].free_list() == top[1:]
    m.free_pages(pg, 10)                            # order 10: no merge, back to the head
    assert z.free_area[10].free_list() == top
