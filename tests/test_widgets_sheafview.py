"""SheafView (kmemlab/widgets/sheafview.py): what it draws matches the cache's sheaves,
barns and slabs on 7.0 and 6.18, the per-CPU slab picture on 6.6, it follows the change
events, bad input keeps the picture, and in Chromium at 1024x768 and 1600x1000 the SVG fits
the page and its slots have the colours the legend gives (pixels read back)."""

import os
import re

import pytest

import kmemlab as km
from kmemlab.kernel.helpers import find_slab_cache
from kmemlab.widgets import SheafView
from kmemlab.widgets.messages import MESSAGES
from kmemlab.widgets.sheafview import C_SHEAF, C_USED

CHROMIUM = "/usr/bin/chromium"


def workload(kernel):
    m = km.Machine(mem="64M", cpus=2, kernel=kernel, boot="bare")   # the counts below start from empty caches
    p = [m.kmalloc(64) for _ in range(150)]
    with m.on_cpu(1):
        for x in p[::2]:
            m.kfree(x)
    return m, p


def filled_slots(svg: str, name: str) -> list[int]:
    """Per <g class="sheaf sheaf-NAME">: how many of its slots are filled."""
    return [g.count(f'fill="{C_SHEAF}"') for g in re.findall(rf'<g class="sheaf sheaf-{name}">(.*?)</g>', svg)]


def test_70_view_draws_the_sheaves_barn_and_slabs_as_they_are():
    m, _ = workload("7.0")
    s = find_slab_cache(m, "kmalloc-64")
    sv = SheafView(m, cache="kmalloc-64")
    svg = sv.picture.value
    mains = [p.main.size for p in s.cpu_sheaves]
    spares = [p.spare.size for p in s.cpu_sheaves if p.spare is not None]
    assert filled_slots(svg, "main") == mains
    assert filled_slots(svg, "spare") == spares
    assert mains[1] + spares[-1] == 75                    # CPU 1's 75 frees all went to its sheaves
    # every object parked in a sheaf is drawn as one, on its slab
    parked = sum(mains) + sum(spares) + sum(sh.size for n in s.node for sh in n.barn.sheaves_full)
    assert sum(sl["sheaf"] for sl in sv.tiers["slabs"]) == parked
    assert svg.count('class="obj obj-sheaf"') == parked
    assert "per-CPU sheaves of 60" in svg
    assert sv.to_html().count("<svg") == 1
    sv.close()


def test_66_view_shows_the_cpu_slab_instead():
    m, _ = workload("6.6")
    s = find_slab_cache(m, "kmalloc-64")
    sv = SheafView(m, cache="kmalloc-64")
    svg = sv.picture.value
    assert "no sheaves" in svg and 'class="sheaf' not in svg
    c0 = s.cpu_slab[0]
    assert f"CPU slab pfn {c0.slab.pfn:#x}" in svg
    cpu_free = sum(sl["cpu"] for sl in sv.tiers["slabs"])
    assert cpu_free == sv.tiers["cpus"][0]["freelist"] > 0
    assert svg.count('class="obj obj-cpu"') == cpu_free
    sv.close()


def test_view_follows_the_machine_and_keeps_the_picture_on_bad_input():
    m = km.Machine(mem="64M", cpus=2, kernel="6.18", boot="bare")   # maple_node made here, not by boot
    c = m.kmem_cache_create("maple_node", 256, sheaf_capacity=32)
    sv = SheafView(m, cache="maple_node")
    assert filled_slots(sv.picture.value, "main") == [0, 0]
    p = m.kmem_cache_alloc(c)
    sv.flush()
    assert filled_slots(sv.picture.value, "main") == [31, 0]
    before = sv.picture.value
    with pytest.raises(ValueError):
        sv.select_cache("no-such-cache")
    with pytest.raises(TypeError):
        SheafView(m, cache=64)
    with pytest.raises(ValueError):
        SheafView(m, cache="no-such-cache")
    assert sv.picture.value == before
    m.kmem_cache_free(c, p)
    m.kmem_cache_destroy(c)
    sv.refresh()
    assert "no slab cache named maple_node" in sv.picture.value
    sv.close()


def test_every_sheaf_message_has_japanese():
    keys = [k for k in MESSAGES if k.startswith("sheaf.")]
    assert len(keys) > 10 and all(MESSAGES[k].get("ja") for k in keys)
    m, _ = workload("7.0")
    sv = SheafView(m, cache="kmalloc-64", lang="ja")
    assert "ノードごとの barn" in sv.picture.value
    sv.close()


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                    reason=f"{CHROMIUM} is missing (apt-get install chromium); runs under CI=true")
@pytest.mark.parametrize("size", [(1024, 768), (1600, 1000)])
def test_view_in_chromium_fits_and_has_the_legend_colours(size, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    m, _ = workload("7.0")
    sv = SheafView(m, cache="kmalloc-64")
    page_html = tmp_path / "sheaves.html"
    page_html.write_text(f'<html><body style="margin:8px">{sv.to_html()}</body></html>', encoding="utf-8")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = b.new_page(viewport={"width": size[0], "height": size[1]})
            page.goto(page_html.as_uri())
            w, h, scroll = page.eval_on_selector(
                "svg", "e => { const r = e.getBoundingClientRect(); "
                       "return [r.width, r.height, document.documentElement.scrollWidth]; }")
            assert scroll <= size[0] and w <= size[0] and h < size[1]     # nothing clipped or scrolled
            # the first slot of CPU 0's main sheaf (filled) and the first object of the
            # first slab (kmalloc-64's first slab is full of objects in use)
            pos = page.evaluate(
                """() => { const g = document.querySelector('g.sheaf-main rect');
                           const o = document.querySelector('rect.obj');
                           const a = g.getBoundingClientRect(), c = o.getBoundingClientRect();
                           return [a.x + a.width / 2, a.y + a.height / 2, c.x + c.width / 2, c.y + c.height / 2]; }""")
            png = tmp_path / "shot.png"
            page.screenshot(path=str(png))
        finally:
            b.close()
    from PIL import Image
    img = Image.open(png).convert("RGB")

    def near(xy, hexcol):
        want = tuple(int(hexcol[i:i + 2], 16) for i in (1, 3, 5))
        got = img.getpixel((int(xy[0]), int(xy[1])))
        return all(abs(a - b) < 40 for a, b in zip(got, want)), got
    ok, got = near(pos[:2], C_SHEAF)
    assert ok, f"main sheaf slot is {got}, not {C_SHEAF}"
    ok, got = near(pos[2:], C_USED)
    assert ok, f"first object is {got}, not {C_USED}"
    sv.close()
