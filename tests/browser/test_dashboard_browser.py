"""The dashboard in a real browser: Voilà serves tests/browser/dashboard.ipynb on
127.0.0.1, headless Debian Chromium (driven by Playwright) clicks the console's buttons,
and the test checks that the charts changed in the DOM. Screenshots go to tests/artifacts/.

Skipped only when /usr/bin/chromium is missing outside CI; under CI it must run
(``./run test`` installs chromium when tests/browser/ exists).
"""

import time
from pathlib import Path

import pytest
from conftest import ARTIFACTS, voila_page

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent




@pytest.fixture(scope="module")
def page():
    with voila_page(HERE / "dashboard.ipynb", "voila.log", viewport={"width": 1280, "height": 4200},
                    ready=[(".kmemlab-physmap svg.svg-figure image", "visible"), ".kmemlab-buddychart .bar"]) as pg:
        yield pg


def _map_href(pg) -> str:
    return pg.eval_on_selector(".kmemlab-physmap svg.svg-figure image",
                               "e => e.getAttribute('href') || e.getAttribute('xlink:href')")


def _bar_heights(pg) -> list:
    return pg.eval_on_selector_all(".kmemlab-buddychart .bar",
                                   "els => els.map(e => e.getAttribute('height'))")


def _png_of(pg, href=None) -> bytes:
    """The bytes the map's <image> shows (a blob: URL made from the widget's PNG).

    bqplot revokes the old blob: URL as soon as a new picture arrives, so a
    fetch can fail when a redraw lands between reading the href and fetching
    it: then the current href is read again and fetched (up to 50 times)."""
    data = pg.evaluate("""async h => {
        const cur = () => { const e = document.querySelector('.kmemlab-physmap svg.svg-figure image');
                            return e.getAttribute('href') || e.getAttribute('xlink:href'); };
        let last = null;
        for (let i = 0; i < 50; i++) {
            const u = (i === 0 && h) ? h : cur();
            try { const r = await fetch(u); return Array.from(new Uint8Array(await r.arrayBuffer())); }
            catch (e) { last = e; await new Promise(ok => setTimeout(ok, 100)); }
        }
        throw last; }""", href)
    return bytes(data)


def test_buddy_chart_bars_are_the_models_nr_free(page):
    """Before any click: the bars of the buddyinfo tab have the heights of
    free_area[order].nr_free of the notebook's machine (rebuilt here from its own cell)."""
    import nbformat
    import numpy as np
    pg = page
    nb = nbformat.read(HERE / "dashboard.ipynb", as_version=4)
    ns = {}
    exec(compile(nb.cells[1].source, "dashboard.ipynb", "exec"), ns)
    want = np.array([[fa.nr_free for fa in z.free_area] for z in ns["m"].zones if z.populated()], float)
    pg.locator(".lm-TabBar-tab", has_text="buddyinfo").first.click()
    pg.wait_for_function("() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bar'))"
                         ".some(b => +b.getAttribute('height') > 1)", timeout=30_000)
    groups = pg.evaluate("""() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bargroup'))
        .map(g => Array.from(g.querySelectorAll('.bar')).map(b => +b.getAttribute('height')))""")
    got = np.array(groups, float).T                    # [zone, order]
    assert got.shape == want.shape
    labels = pg.evaluate("() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bar_label'))"
                         ".map(t => t.textContent)")
    assert sorted(int(float(x)) for x in labels if x.strip()) == sorted(want.astype(int).ravel().tolist())
    # a linear chart here (a small machine): heights in proportion to the counts
    np.testing.assert_allclose(got, want * (got.max() / want.max()), atol=1.0)
    pg.locator(".kmemlab-buddychart").screenshot(path=str(ARTIFACTS / "buddychart.png"))
    pg.locator(".lm-TabBar-tab", has_text="physical").first.click()


def test_dashboard_renders_and_buttons_change_the_charts(page):
    pg = page
    pg.screenshot(path=str(ARTIFACTS / "dashboard-initial.png"))
    href0, bars0 = _map_href(pg), _bar_heights(pg)
    png0 = _png_of(pg, href0)
    assert png0.startswith(b"\x89PNG") and len(bars0) > 0
    assert pg.locator(".kmemlab-legend").inner_text().count("free order") == 3

    # alloc_pages(GFP_KERNEL, order=9) from the console
    pg.fill(".kmemlab-size input", "9")
    pg.click(".kmemlab-alloc-pages")
    pg.wait_for_function("""() => document.querySelectorAll('.kmemlab-live option').length === 1""",
                         timeout=30_000)
    pg.wait_for_function("h => { const e = document.querySelector('.kmemlab-physmap svg.svg-figure image');"
                         " return e && (e.getAttribute('href') || e.getAttribute('xlink:href')) !== h; }",
                         arg=href0, timeout=30_000)
    pg.wait_for_function("b => JSON.stringify(Array.from(document.querySelectorAll('.kmemlab-buddychart .bar'))"
                         ".map(e => e.getAttribute('height'))) !== JSON.stringify(b)",
                         arg=bars0, timeout=30_000)
    assert "alloc_pages(order=9)" in pg.inner_text(".kmemlab-message")
    png1 = _png_of(pg)
    assert png1 != png0
    pg.screenshot(path=str(ARTIFACTS / "dashboard-after-alloc.png"))

    # a bad size: a message in the panel, no new allocation
    pg.fill(".kmemlab-size input", "lots")
    pg.click(".kmemlab-alloc-pages")
    pg.wait_for_function("() => document.querySelector('.kmemlab-message').innerText.includes('neither')",
                         timeout=30_000)
    assert pg.locator(".kmemlab-live option").count() == 1

    # free it again: the picture goes back to the boot picture
    pg.click(".kmemlab-free")
    pg.wait_for_function("() => document.querySelectorAll('.kmemlab-live option').length === 0",
                         timeout=30_000)
    pg.wait_for_function("() => document.querySelector('.kmemlab-message').innerText.includes('__free_pages')",
                         timeout=30_000)
    deadline = time.monotonic() + 30
    while _png_of(pg) != png0:
        assert time.monotonic() < deadline, "the map did not return to the boot picture after the free"
        time.sleep(0.2)
    pg.screenshot(path=str(ARTIFACTS / "dashboard-after-free.png"))


def _mapping_state(pg) -> dict:
    """What the mapping picture shows: its title and the line paths drawn."""
    return pg.evaluate("""() => {
        const fig = document.querySelector('.kmemlab-mapping');
        const h = document.querySelector('.kmemlab-mapping-title');
        const title = h ? h.textContent : '';
        const paths = Array.from(fig.querySelectorAll('path.line')).map(e => e.getAttribute('d'));
        return {title: title, paths: paths}; }""")


def _wait_mapping_title(pg, text):
    pg.wait_for_function("t => { const e = document.querySelector('.kmemlab-mapping-title');"
                         " return e && e.textContent.includes(t); }", arg=text, timeout=30_000)


def test_kmalloc_and_vmalloc_buttons_change_the_mapping_picture(page):
    pg = page
    before = _mapping_state(pg)
    pg.fill(".kmemlab-bytes input", "64K")
    pg.click(".kmemlab-kmalloc")
    _wait_mapping_title(pg, "kmalloc: 65536 bytes")
    after_k = _mapping_state(pg)
    assert after_k != before and "parallel lines" in after_k["title"]
    pg.wait_for_function("() => document.querySelector('.kmemlab-walk') &&"
                         " document.querySelector('.kmemlab-walk').textContent.includes('PSE')", timeout=30_000)
    pg.locator(".kmemlab-mapping-view").screenshot(path=str(ARTIFACTS / "mapping-kmalloc.png"))

    pg.fill(".kmemlab-bytes input", "40K")
    pg.click(".kmemlab-vmalloc")
    _wait_mapping_title(pg, "vmalloc: 40960 bytes")
    after_v = _mapping_state(pg)
    assert after_v != after_k
    assert "vmalloc" in pg.inner_text(".kmemlab-message")
    pg.wait_for_function("() => document.querySelector('.kmemlab-walk').textContent.includes('pte')",
                         timeout=30_000)
    pg.locator(".kmemlab-mapping-view").screenshot(path=str(ARTIFACTS / "mapping-vmalloc.png"))
    _tab(pg, "walk")
    pg.locator(".kmemlab-walk-view").screenshot(path=str(ARTIFACTS / "walk-vmalloc.png"))
    if pg.locator(".kmemlab-trace").count():
        assert "vmalloc" in pg.input_value(".kmemlab-trace textarea") or \
            "alloc" in pg.input_value(".kmemlab-trace textarea")
    _tab(pg, "slab")
    pg.locator(".kmemlab-slab-view").screenshot(path=str(ARTIFACTS / "slab-view.png"))
    _tab(pg, "virtual")
    pg.locator(".kmemlab-virtmap").screenshot(path=str(ARTIFACTS / "virtmap.png"))
    _tab(pg, "mapping")
    pg.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)

    # free the vmalloc from the live list: vfree, and the picture says so
    pg.click(".kmemlab-free")
    pg.wait_for_function("() => document.querySelector('.kmemlab-message').innerText.includes('vfree')",
                         timeout=30_000)


def _tab(pg, title: str) -> None:
    pg.locator(".lm-TabBar-tab", has_text=title).first.click()
    time.sleep(0.5)


def _dmesg_tail(pg) -> str:
    return pg.input_value(".kmemlab-dmesg textarea")


def test_typing_an_address_character_by_character_leaves_dmesg_unchanged(page):
    pg = page
    pg.locator(".lm-TabBar-tab", has_text="mapping").first.click()
    pg.fill(".kmemlab-bytes input", "8K")
    pg.click(".kmemlab-vmalloc")
    _wait_mapping_title(pg, "vmalloc: 8192 bytes")
    before_log, before_title = _dmesg_tail(pg), _mapping_state(pg)["title"]
    box = pg.locator(".kmemlab-mapping-address input")
    box.click()
    box.press_sequentially("0x1000", delay=80)          # a user address, one key at a time
    time.sleep(1)
    assert _mapping_state(pg)["title"] == before_title   # nothing evaluated per keystroke
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.kmemlab-mapping-error').innerText.includes('neither')",
                         timeout=30_000)
    assert _mapping_state(pg)["title"] == before_title   # the picture stays, the line says why
    pg.click(".kmemlab-kmalloc")                         # the console redraws its dmesg tail
    _wait_mapping_title(pg, "kmalloc-8k")
    after_log = _dmesg_tail(pg)
    assert "kernel BUG" not in after_log and "non-linear" not in after_log
    assert after_log == before_log
    # a bad word gets the one friendly message of every box
    box.fill("zzz")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.kmemlab-mapping-error').innerText.includes(\"'zzz' is not an address\")",
                         timeout=30_000)
    pg.locator(".kmemlab-mapping-view").screenshot(path=str(ARTIFACTS / "mapping-bad-address.png"))
