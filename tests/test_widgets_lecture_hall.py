"""Issue 14 without a browser: readable numbers, one parser with one set of messages,
lookups that never change the machine, the console's free button, the header, the
presentation option and the Japanese message table."""

import re

import kmemlab as km
import numpy as np
import pytest
from kmemlab.widgets import BuddyChart, Console, Dashboard, MappingView, PhysMap, WalkView
from kmemlab.widgets.inputs import parse_address, parse_bytes, parse_order_or_size
from kmemlab.widgets.messages import LANGS, MESSAGES, text
from kmemlab.widgets.physmap import ZOOM_COUNTS


@pytest.fixture
def m():
    return km.Machine(mem="128M", seed=0)


def test_every_message_has_every_language_and_the_same_fields():
    for key, by_lang in MESSAGES.items():
        assert set(by_lang) == set(LANGS), key
        fields = {lang: sorted(re.findall(r"{(\w+)", t)) for lang, t in by_lang.items()}
        assert fields["en"] == fields["ja"], f"{key}: {fields}"


def test_japanese_views_label_everything_in_japanese(m):
    mv = MappingView(m, lang="ja")
    v = m.vmalloc(3 * m.PAGE_SIZE)
    mv.select(v)
    sc = mv.scene()
    assert "ページ 0" in [t for *_, t, _ in sc["small"]] and "ガード" in [t for *_, t, _ in sc["small"]]
    assert any(w in sc["title"] for w in ("線が交差", "線は平行", "偶然に連続"))
    assert f"vmalloc: {3 * m.PAGE_SIZE} バイト" in sc["title"] and "bytes" not in sc["title"]
    d = Dashboard(m, lang="ja")
    assert "物理メモリ" in d.tabs.titles
    assert "空き order" in d.view("physmap").legend.value
    assert "コンソール" in d.view("console").controls.children[0].value
    with pytest.raises(ValueError, match="lang"):
        PhysMap(m, lang="fr")
    d.close()



def test_japanese_views_static_html_and_tooltips_are_japanese(m):
    """What a Japanese view draws without a kernel (to_html: exported notebooks) and its
    tooltips come from the table too: no English label of the table in them."""
    english = {d["en"] for d in MESSAGES.values()
               if d["en"] != d["ja"] and "{" not in d["en"] and re.search(r"[a-z]{3,} [a-z]{3,}", d["en"])}
    english |= {"Physical memory map", "first frame top left", "start pfn", "zone \\ order", "(tail)", "vmalloc range"}
    d = Dashboard(m, lang="ja")
    m.vfree(m.vmalloc(8192))                   # a lazily freed area in the virtual map's table
    # what is shown (the tooltips of the address map quote mm.rst's descriptions, in English)
    static = re.sub(r"<title>.*?</title>", "", "".join(v.to_html() for v in d.views))
    assert not [e for e in english if e in static], [e for e in english if e in static]
    for words in ("物理メモリマップ", "先頭 pfn", "ゾーン \\ order", "dmesg（末尾）", "ダイレクトマップ", "遅延解放", "バイト数"):
        assert words in static, words
    tips = d.view("console").free_button.tooltip
    assert tips == text("console.free_tip", "ja") and "__free_pages" in tips
    en = Dashboard(m, lang="en")
    assert "Physical memory map" in en.view("physmap").to_html() and "zone \\ order" in en.view("buddy").to_html()
    d.close()
    en.close()

def test_one_parser_one_message_for_a_number_wider_than_64_bits(m):
    c = Console(m)
    log = str(m.dmesg())
    c.bytes.value = "0xffffffffffffffffff"
    assert not c.alloc_bytes("kmalloc")
    said_k = c.message.value
    assert not c.alloc_bytes("vmalloc")
    said_v = c.message.value
    assert "does not fit in 64 bits" in said_k and said_k == said_v.replace("vmalloc", "kmalloc")
    assert str(m.dmesg()) == log and c.live == []
    for bad, fn in (("zzz", parse_bytes), ("zzz", parse_address)):
        with pytest.raises(ValueError, match="'zzz' is not an? (size|address)"):
            fn(bad)
    assert parse_order_or_size("64K", 11, 12) == 4 and parse_order_or_size("3", 11, 12) == 3


def test_address_boxes_evaluate_on_enter_and_keep_the_picture(m):
    mv, wv = MappingView(m, follow=False), WalkView(m, follow=False)
    assert mv.address.continuous_update is False and wv.address.continuous_update is False
    v = m.vmalloc(2 * m.PAGE_SIZE)
    mv.select(v)
    wv.select(v)
    log, links, walk = str(m.dmesg()), list(mv.links), wv.html.value
    for typed in ("0", "0x", "0x1", "0x10", "0x100", "0x1000", "zzz", "0xffffffffffffffffff"):
        mv.address.value = typed                                  # none is a kernel address
        assert mv.links == links                                  # the picture stays
    for typed in ("zzz", "0x", "-5", "0xffffffffffffffffff"):
        wv.address.value = typed
        assert wv.html.value == walk
    wv.address.value = "0x1000"                                   # a user address: walked, a fault
    assert "page fault" in wv.html.value
    assert str(m.dmesg()) == log                                  # no BUG report for a lookup
    wv.address.value = "0xffffffffffffffffff"
    assert "64 bits" in mv._error_line.value and "64 bits" in wv._error_line.value


def test_free_selected_frees_only_what_is_selected(m):
    c = Console(m)
    c.bytes.value = "100"
    a = c.alloc_bytes("kmalloc")
    b = c.alloc_bytes("kmalloc")
    assert c.selected() == ("kmalloc", b)
    c.free_selected()
    assert [h for _, h, _ in c.live] == [a] and c.selected() == (None, None)
    c.free_selected()                                            # nothing selected: nothing freed
    assert [h for _, h, _ in c.live] == [a] and "select" in c.message.value


def test_dashboard_header_follows_free_memory(m):
    d = Dashboard(m)
    before = d.header.widget.value
    pg = m.alloc_pages(km.GFP_KERNEL, 5)
    d.flush()
    assert d.header.widget.value != before
    assert f"free={m._free_pages() << 2}kB" in d.header.widget.value
    m.free_pages(pg, 5)
    d.flush()
    assert d.header.widget.value == before
    d.close()


def test_zoom_updates_its_boxes_and_follows_a_selection(m):
    pm = PhysMap(m)
    pm.zoom(0x3000, 1024)
    assert pm.zoom_start_box.value == "0x3000" and pm.zoom_count_box.value == 1024
    pm.zoom(0x100, 1000)                              # a count not in the list is added
    assert pm.zoom_count_box.value == 1000 and pm.zoom_start == 0x100
    pg = m.alloc_pages(km.GFP_KERNEL, 2)
    pm.show_frames(range(pg.pfn, pg.pfn + 4))
    assert pm.zoom_start <= pg.pfn < pm.zoom_start + pm.zoom_count
    assert pm.selection_boxes.visible and pm.zoom_selection.visible
    assert pm.zoom_start_box.value == hex(pm.zoom_start)
    with pytest.raises(ValueError, match="zoom count"):
        pm.zoom(0, ZOOM_COUNTS[-1] + 1)


def test_axes_have_round_ticks_and_no_negative_extents():
    for mem in ("128M", "8G"):
        m = km.Machine(mem=mem, seed=0)
        pm = PhysMap(m)
        ay = pm.figure.axes[1]
        ticks = np.asarray(ay.tick_values)
        assert ticks.min() >= 0 and ticks.max() <= pm._sy.max
        step = np.diff(ticks)
        assert len(set(step)) == 1 and int(step[0]) & (int(step[0]) - 1) == 0   # a power of two (MiB)
        assert pm.figure.axes[0].tick_format == "#x"                          # pfn in hex
        bc = BuddyChart(m)
        assert bc.log == (mem == "8G")                    # a big machine: a log scale
        if not bc.log:
            t = np.asarray(bc._yaxis.tick_values)
            assert t[0] == 0 and len(set(np.diff(t))) == 1
        # with an explicit range the bars have height (bqplot draws none without one)
        assert bc._ys.min is not None and bc._ys.max > 0


def test_presentation_mode_makes_fonts_larger(m):
    small, big = MappingView(m), MappingView(m, presentation=True)
    assert big.texts.default_size > small.texts.default_size
    assert big.lines.stroke_width >= small.lines.stroke_width
    d = Dashboard(m, presentation=True)
    assert all(v.presentation for v in d.views)
    with pytest.raises(TypeError):
        PhysMap(m, presentation="yes")
    d.close()


def test_no_view_has_a_fixed_pixel_width(m):
    import ipywidgets as W
    from kmemlab.widgets.base import close_tree  # noqa: F401 - the walk below visits the same tree
    d = Dashboard(m)
    seen, stack = set(), [d.widget]
    while stack:
        w = stack.pop()
        if id(w) in seen or not isinstance(w, W.Widget):
            continue
        seen.add(id(w))
        lay = getattr(w, "layout", None)
        if isinstance(lay, W.Layout) and lay.width and lay.width.endswith("px"):
            pytest.fail(f"{type(w).__name__} has a fixed width {lay.width}")
        for name in w.keys:
            v = getattr(w, name, None)
            if isinstance(v, W.Widget):
                stack.append(v)
            elif isinstance(v, (list, tuple)):
                stack.extend(x for x in v if isinstance(x, W.Widget))
    d.close()


def test_changes_record_what_happened_without_an_event_per_change(m):
    seen = []

    class Watcher:
        def wake(self):
            seen.append(1)
    w = Watcher()
    sub = m.watch(w.wake)
    pg = m.alloc_pages(km.GFP_KERNEL, 1)
    p = m.kmalloc(100)
    c = sub.changes.take()
    assert c.n >= 2 and {"alloc_pages", "kmalloc"} <= c.types
    assert c.lo <= pg.pfn and c.hi >= pg.pfn + 2
    assert c.newest(("kmalloc", "vmalloc"))[1] == p
    assert seen                                       # armed: woken at the first change
    assert not sub.changes                            # take() reset it
    sub.close()
    m.kfree(p)
    assert not sub.changes
