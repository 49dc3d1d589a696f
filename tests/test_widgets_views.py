"""Widget views without a browser: the marks' data follow the machine."""

import numpy as np
import pytest

import kmemlab as km
from kmemlab.kernel.mem_map import K_FREE, K_PAGES
from kmemlab.widgets import BuddyChart, Dashboard, PhysMap
from kmemlab.widgets.palette import FREE_BASE, KIND_COLOURS, SLAB_BASE, palette_hex, slab_shade


@pytest.fixture
def m():
    return km.Machine(profile="x86_64", mem="128M", seed=1)


def buddyinfo_counts(m):
    """free_area[o].nr_free parsed back from /proc/buddyinfo's text."""
    return np.array([[int(x) for x in line.split()[4:]] for line in m.proc.buddyinfo().splitlines()])


def expected_pixels(m):
    """Palette index per frame, derived independently: kind, and for free frames the order
    of the free block found by walking the free lists of every zone."""
    pix = m.mem_map.kind.copy()
    # slab frames are shaded by their cache's object stride (boot creates slabs on 6.11+)
    for slab in m._k.slub.slabs.values():
        pix[slab.pfn:slab.pfn + (1 << slab.order)] = SLAB_BASE + slab_shade(slab.cache.size)
    for z in m.zones:
        for fa in z.free_area:
            for mt in range(km._gfp.MIGRATE_TYPES):
                for head in fa.free_list(mt):
                    pix[head:head + (1 << fa.order)] = FREE_BASE + fa.order
    assert not np.any(pix == K_FREE), "every free frame lies in a free block"
    return pix


def test_physmap_pixels_are_kind_and_free_order_of_every_frame(m):
    pm = PhysMap(m)
    np.testing.assert_array_equal(pm.pixels[:m.max_pfn], expected_pixels(m))
    assert np.all(pm.pixels[m.max_pfn:] == km.kernel.mem_map.K_NOMAP)


def test_physmap_after_alloc_shows_the_block_and_the_split_buddies(m):
    pm = PhysMap(m)
    before_png = pm.png
    pg = m.alloc_pages(km.GFP_KERNEL, order=2)
    pm.flush()
    assert np.all(pm.pixels[pg.pfn:pg.pfn + 4] == K_PAGES)
    # the split left free buddies of orders 2, 3, ... next to it: exactly what the lists say
    np.testing.assert_array_equal(pm.pixels[:m.max_pfn], expected_pixels(m))
    assert pm.png != before_png
    assert pm.image.image.value == pm.png           # the mark got the new picture
    m.free_pages(pg, order=2)
    pm.flush()
    np.testing.assert_array_equal(pm.pixels[:m.max_pfn], expected_pixels(m))


def test_physmap_incremental_redraw_matches_full_recolour_after_many_changes(m):
    pm = PhysMap(m, interval=0)
    rng = np.random.default_rng(5)
    live = []
    for _ in range(300):
        if live and rng.random() < 0.4:
            pg, o = live.pop(int(rng.integers(len(live))))
            m.free_pages(pg, o)
        else:
            o = int(rng.integers(0, 4))
            live.append((m.alloc_pages(km.GFP_KERNEL, o), o))
    pm.flush()
    np.testing.assert_array_equal(pm.pixels[:m.max_pfn], expected_pixels(m))


def test_physmap_zoom_grid_is_the_frames_of_the_range(m):
    pm = PhysMap(m)
    pg = m.alloc_pages(km.GFP_KERNEL, order=0)
    pm.zoom(pg.pfn - 5, 256)
    pm.flush()
    grid = pm.heatmap.color
    assert grid.dtype == np.uint8 and grid.shape == (16, 16)
    assert grid.ravel()[5] == K_PAGES
    np.testing.assert_array_equal(grid.ravel(), expected_pixels(m)[pg.pfn - 5:pg.pfn + 251])
    with pytest.raises(ValueError, match="zoom count"):
        pm.zoom(0, 10 ** 7)


def test_physmap_describe_names_kind_zone_and_block(m):
    pm = PhysMap(m)
    pg = m.alloc_pages(km.GFP_KERNEL, order=3)
    text = pm.describe(pg.pfn + 5)
    assert f"order-3 pages block at pfn {pg.pfn:#x}" in text
    assert f"zone {pg.zone}" in text
    assert "not RAM" in pm.describe(0)                # page 0 is not in the e820 usable map
    pm.pfn_box.value = "banana"
    assert "banana" in pm.info.value                  # a bad pfn is a message, not an exception


def test_physmap_zone_labels_never_overprint():
    """On 4 GiB DMA's 16 MiB is a pixel above DMA32: one label names both (it drew 'DMA'
    over 'DMA32'); every zone still gets its boundary line."""
    m4 = km.Machine(mem="4G", boot="bare")
    pm = PhysMap(m4)
    assert list(pm.labels.text) == ["DMA, DMA32", "Normal"]
    assert len(pm.boundaries.x) == 3
    pm.close()


def test_physmap_marks_zone_boundaries(m):
    pm = PhysMap(m)
    zones = [z for z in m.zones if z.populated()]
    assert list(pm.labels.text) == [z.name for z in zones]
    for z, xs in zip(zones, pm.boundaries.x):
        assert xs[1] == z.zone_start_pfn % pm.width


def test_buddychart_bars_are_buddyinfo_and_follow_allocations(m):
    bc = BuddyChart(m)
    np.testing.assert_array_equal(bc.bars.y, buddyinfo_counts(m))
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(7)]
    bc.flush()
    np.testing.assert_array_equal(bc.bars.y, buddyinfo_counts(m))
    for p in pages:
        m.free_pages(p, 0)
    bc.flush()
    np.testing.assert_array_equal(bc.bars.y, buddyinfo_counts(m))


def test_restore_redraws_everything(m):
    d = Dashboard(m, views=["physmap", "buddy"])
    s = m.snapshot()
    for _ in range(5):
        m.alloc_pages(km.GFP_KERNEL, 4)
    m.restore(s)
    d.flush()
    np.testing.assert_array_equal(d.view("physmap").pixels[:m.max_pfn], expected_pixels(m))
    np.testing.assert_array_equal(d.view("buddy").bars.y, buddyinfo_counts(m))


def test_two_machines_have_independent_views():
    a = km.Machine(mem="128M", seed=1)
    b = km.Machine(mem="128M", seed=1)
    pa, pb = PhysMap(a), PhysMap(b)
    ra, rb = pa.redraws, pb.redraws
    pg = a.alloc_pages(km.GFP_KERNEL, 2)
    pa.flush()
    pb.flush()
    assert pa.redraws > ra and pb.redraws == rb     # (a pcp refill, then the allocation: 1 or 2 draws)
    assert pa.pixels[pg.pfn] == K_PAGES and pb.pixels[pg.pfn] != K_PAGES


def test_close_unsubscribes(m):
    d = Dashboard(m)
    assert len(m._bus.subscribers) == 1             # one hub for all the views
    pm = d.view("physmap")
    d.close()
    assert m._bus.subscribers == [] and d.closed
    n = pm.redraws
    m.alloc_pages(km.GFP_KERNEL, 0)
    pm.flush()
    assert pm.redraws == n
    d.close()                                       # idempotent


def test_palette_is_distinct_and_free_greys_darken_with_fragmentation():
    pal = palette_hex()
    kinds = list(KIND_COLOURS.values())
    assert len(set(kinds)) == len(kinds)
    greys = [int(pal[FREE_BASE + o][1:3], 16) for o in range(11)]
    assert greys == sorted(greys) and greys[0] < greys[-1]
    assert not set(kinds) & set(pal[FREE_BASE:FREE_BASE + 11])


def test_dashboard_rejects_unknown_views(m):
    with pytest.raises(ValueError, match="unknown view 'nope'"):
        Dashboard(m, views=["nope"])
    with pytest.raises(TypeError, match="list of names"):
        Dashboard(m, views="physmap")
