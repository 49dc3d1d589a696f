"""The mapping picture and the page-table walk view follow the model (no browser)."""

import pytest

import kmemlab as km
from kmemlab.widgets import Dashboard, MappingView, WalkView
from kmemlab.widgets.mapping import BAND_X0, BAND_X1, P_Y1, V_Y0


@pytest.fixture
def m():
    return km.Machine(profile="x86_64", mem="128M", seed=1)


def fragment(m, n=400):
    """Leave every other order-0 frame of a run free: free_area[0] fills with
    scattered frames, which is where vmalloc's order-0 pages then come from."""
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(n)]
    for p in pages[::2]:
        m.free_pages(p, 0)
    return pages[1::2]


def frame_of_x(mv, x):
    """Invert the physical band's x: which frame a line ends on."""
    plo, phi = mv.phys_window
    pw = (BAND_X1 - BAND_X0) / (phi - plo)
    return round((x - BAND_X0) / pw - 0.5) + plo


def check_lines_end_on_walked_frames(m, mv, first_page, nr):
    """Every line starts at page i of the virtual band and ends on the frame m.walk reports."""
    xs = [list(map(float, seg)) for seg in mv.lines.x]
    assert len(xs) == nr and mv.lines.visible
    for i, (xv, xp) in enumerate(xs):
        va = first_page + i * m.PAGE_SIZE
        assert frame_of_x(mv, xp) == m.walk(va).pfn
        assert frame_of_x(mv, xp) == m.virt_to_phys(va) >> 12 if va < m.VMALLOC_START else True
    for seg in mv.lines.y:
        assert list(map(float, seg)) == [V_Y0, P_Y1]
    return [xp - xv for xv, xp in xs]


def test_kmalloc_large_lines_are_parallel_and_end_on_the_direct_map_frames(m):
    mv = MappingView(m)
    p = m.kmalloc(64 * 1024)                           # above KMALLOC_MAX_CACHE_SIZE: an order-4 block
    mv.flush()
    assert mv.selection.addr == p and mv.selection.nr_pages == 16
    slopes = check_lines_end_on_walked_frames(m, mv, int(p), 16)
    assert max(slopes) - min(slopes) < 1e-9            # parallel: every page keeps the same offset
    assert "parallel" in mv.heading.value


def test_vmalloc_on_a_fragmented_machine_crosses(m):
    fragment(m)
    mv = MappingView(m)
    v = m.vmalloc(8 * m.PAGE_SIZE)
    mv.flush()
    frames = [m.vmalloc_to_pfn(v + i * m.PAGE_SIZE) for i in range(8)]
    assert any(b != a + 1 for a, b in zip(frames, frames[1:])), "the machine was fragmented"
    slopes = check_lines_end_on_walked_frames(m, mv, int(v), 8)
    assert max(slopes) - min(slopes) > 1e-3            # not parallel
    assert mv.selection.guard and "cross" in mv.heading.value
    # the guard page is drawn after the 8 pages, not joined to any frame
    assert len(mv.links) == 8 and [pfn for _, pfn in mv.links] == frames


def test_vfree_and_kfree_mark_the_picture_freed(m):
    mv = MappingView(m)
    v = m.vmalloc(3 * m.PAGE_SIZE)
    mv.flush()
    m.vfree(v)
    mv.flush()
    assert mv.selection.freed and "freed" in mv.heading.value and not mv.lines.visible
    p = m.kmalloc(100)
    mv.flush()
    assert mv.selection.addr == p and mv.selection.nr_pages == 1
    assert mv.links == [(int(p) & ~4095, m.virt_to_phys(p) >> 12)]
    m.kfree(p)
    mv.flush()
    assert mv.selection.freed


def test_select_a_page_and_bad_addresses(m):
    mv = MappingView(m, follow=False)
    pg = m.alloc_pages(km.GFP_KERNEL, 2)
    mv.select(pg)
    assert [pfn for _, pfn in mv.links] == [pg.pfn + i for i in range(4)]
    log = str(m.dmesg())
    mv.address.value = "0x1234"                        # a user address: a message, not an exception
    assert "neither" in mv._error_line.value and "previous" in mv._error_line.value
    assert [pfn for _, pfn in mv.links] == [pg.pfn + i for i in range(4)]   # the picture stays
    assert str(m.dmesg()) == log                        # a lookup never logs a BUG report
    with pytest.raises(TypeError):
        mv.select("0x1234")
    mv.select(None)
    assert mv.links == [] and not mv.lines.visible


def test_mapping_static_fallback_is_an_svg_with_one_line_per_page(m):
    mv = MappingView(m)
    m.vmalloc(4 * m.PAGE_SIZE)
    html = mv.to_html()
    assert html.count("<line ") == 4 and "<svg" in html and "guard" in html


def test_walk_view_draws_each_level_of_the_walk(m):
    wv = WalkView(m)
    v = m.vmalloc(m.PAGE_SIZE)
    wv.flush()
    w = m.walk(v)
    assert wv.walk.levels == w.levels
    text = wv.html.value
    for lv in w.levels:
        assert f"kmemlab-walk-{lv.level}" in text
        assert f"{lv.entry:#018x}" in text and f"<b style=\"font-size:20px\">{lv.index}</b>" in text
    assert f"{w.pfn:#x}" in text and "kmemlab-walk-frame" in text
    # a 2 MiB direct-map page ends the walk at the pmd with PSE
    p = m.kmalloc(100)
    wv.flush()
    assert "PSE: a 2 MiB page" in wv.html.value and "kmemlab-walk-pte" not in wv.html.value
    # after vfree the PTE is not present: the walk ends in a page fault
    wv.select(v)
    m.vfree(v)
    wv.flush()
    assert "not present: page fault" in wv.html.value
    assert p


def test_dashboard_console_selection_drives_mapping_and_walk(m):
    d = Dashboard(m)
    c = d.view("console")
    c.bytes.value = "12K"
    c.vmalloc_button.click()
    fn, v = c.selected()
    assert fn == "vmalloc" and d.view("mapping").selection.addr == v
    assert d.view("walk").addr == v
    c.size.value = "1"
    c.alloc_button.click()
    _, pg = c.selected()
    assert [pfn for _, pfn in d.view("mapping").links] == [pg.pfn, pg.pfn + 1]
    d.close()


def test_the_booted_machines_first_vmalloc_crosses_with_readable_pfn_labels():
    # the seed lesson on the default (booted) machine: vmalloc(64K)'s frames are scattered,
    # and where they bunch up the pfn labels under the band keep apart instead of overprinting
    m = km.Machine(profile="x86_64", mem="128M", seed=0)
    mv = MappingView(m)
    v = m.vmalloc(64 * 1024)
    mv.flush()
    assert "cross" in mv.heading.value
    xs = sorted(x for x, y, text, _ in mv.scene()["small"] if text.startswith("0x") and y > P_Y1)
    assert len(xs) >= 2                                 # both ends of the scattered frames are named
    # "0x37dd" at 14 px is ~55 px wide on the ~1000-px band: 0.055 of the band
    assert all(b - a >= 0.055 for a, b in zip(xs, xs[1:])), xs
    assert BAND_X0 + 0.0275 <= xs[0] and xs[-1] <= BAND_X1 - 0.0275     # not cut at the edges
    frames = [m.vmalloc_to_pfn(v + i * m.PAGE_SIZE) for i in range(16)]
    assert any(abs(b - a) != 1 for a, b in zip(frames, frames[1:]))
