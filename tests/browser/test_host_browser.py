"""Host views in a real browser: Voilà serves tests/browser/host.ipynb (a BuddyChart of
km.host() with auto=0.5, a SlabView and a ZoneView of it), headless Chromium shows it,
and while a workload allocates and frees memory in a subprocess the bars' numbers and
the "read at" time move. Screenshots at 1024x768 and 1600x1000 go to tests/artifacts/
(and KMEMLAB_SHOTS, if set).

Needs Linux (/proc/buddyinfo); the slab table needs root (/proc/slabinfo is mode 0400).
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ARTIFACTS, free_port, launch_chromium, serve
from conftest import voila_page

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists("/proc/buddyinfo") and os.environ.get("CI") != "true",
                                 reason="needs a running Linux (/proc/buddyinfo)")]

HERE = Path(__file__).resolve().parent
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0

#: allocates and frees ~64 MiB again and again, touching every page: the buddy lists move
WORKLOAD = """
import time
end = time.monotonic() + 60
while time.monotonic() < end:
    b = bytearray(64 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    del b
    time.sleep(0.05)
"""


def _buddyinfo():
    with open("/proc/buddyinfo") as f:
        return {l.split()[3]: [int(x) for x in l.split()[4:]] for l in f if l.strip()}


@pytest.fixture(scope="module")
def page():
    with voila_page(HERE / "host.ipynb", "voila-host.log", viewport={"width": 1280, "height": 2600},
                    ready=[".kmemlab-buddychart .bar"]) as pg:
        pg.wait_for_function("() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bar'))"
                             ".some(b => +b.getAttribute('height') > 1)", timeout=60_000)
        yield pg


def _labels(pg) -> list:
    """The numbers on the bars, zone by zone ([zone][order]), as the browser shows them."""
    return pg.evaluate("""() => {
        const groups = Array.from(document.querySelectorAll('.kmemlab-buddychart .bargroup'));
        return groups.map(g => Array.from(g.querySelectorAll('.bar_label')).map(t => t.textContent)); }""")


def _heights(pg) -> list:
    return pg.evaluate("""() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bargroup'))
        .map(g => Array.from(g.querySelectorAll('.bar')).map(b => +b.getAttribute('height')))""")


def _header(pg) -> str:
    return pg.locator(".kmemlab-buddychart").locator("xpath=..").locator(".kmemlab-host-header").inner_text()


def test_host_buddy_chart_bars_are_this_machines_buddyinfo(page):
    pg = page
    before = _buddyinfo()
    heights, labels = _heights(pg), _labels(pg)
    real = after = _buddyinfo()
    norders = len(next(iter(real.values())))
    assert len(heights) == norders                       # one group per order
    by_zone = list(zip(*[[int(float(x)) if x.strip() else 0 for x in g] for g in labels]))
    assert len(by_zone) == len(real)                     # one bar per populated zone in each group
    for zone_counts, zone_heights in zip(by_zone, zip(*heights)):
        for n, h in zip(zone_counts, zone_heights):
            assert (h > 1) == (n > 0), (zone_counts, zone_heights)   # a count has a bar, a 0 none
    # the numbers are the file's. The machine is busy and the page shows a read up to half a
    # second old, so compare the counts that did not move between a read just before and
    # one just after: most of them must be what the page shows
    stable = [(shown[o], b[o]) for (zone, b), a, shown in zip(before.items(), after.values(), by_zone)
              for o in range(norders) if b[o] == a[o]]
    same = sum(s_ == b_ for s_, b_ in stable)
    assert len(stable) >= norders and same >= 0.7 * len(stable), (by_zone, before, after)
    if "DMA" in before:                                  # the first 16 MiB hardly ever move
        assert list(by_zone[0]) in (before["DMA"], after["DMA"])
    assert re.search(r"this machine: Linux \S+ \(.+\), read at \d\d:\d\d:\d\d", _header(pg))
    assert "re-read every 0.5 s" in _header(pg)


def test_host_buddy_chart_moves_while_a_workload_runs(page):
    pg = page
    first_header, first_labels = _header(pg), _labels(pg)
    work = subprocess.Popen([sys.executable, "-c", WORKLOAD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        labels_moved = header_moved = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (labels_moved and header_moved):
            time.sleep(0.5)
            labels_moved = labels_moved or _labels(pg) != first_labels
            header_moved = header_moved or _header(pg) != first_header
    finally:
        work.kill()
        work.wait()
    assert header_moved, "the 'read at' time did not advance: auto=0.5 did not re-read"
    assert labels_moved, "the bar numbers did not change while 64 MiB were allocated and freed"
    assert _heights(pg) and max(max(g) for g in _heights(pg)) > 1


def test_host_views_fit_a_projector_and_a_wide_screen(page):
    pg = page
    shots = [ARTIFACTS]
    if os.environ.get("KMEMLAB_SHOTS"):
        shots.append(Path(os.environ["KMEMLAB_SHOTS"]))
    for d in shots:
        d.mkdir(parents=True, exist_ok=True)
    for w, h in ((1024, 768), (1600, 1000)):
        pg.set_viewport_size({"width": w, "height": h})
        pg.wait_for_timeout(1200)
        # nothing wider than the window: no horizontal scrolling, no chart cut off
        over = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert over <= 1, f"{over}px wider than a {w}px window"
        box = pg.locator(".kmemlab-buddychart").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= w + 1
        for d in shots:
            pg.locator(".kmemlab-buddychart").locator("xpath=..").screenshot(path=str(d / f"host-buddy-{w}x{h}.png"))
            pg.locator(".kmemlab-slab-view").screenshot(path=str(d / f"host-slab-{w}x{h}.png"))
            pg.locator(".kmemlab-zone-view").screenshot(path=str(d / f"host-zones-{w}x{h}.png"))
            pg.screenshot(path=str(d / f"host-page-{w}x{h}.png"))
    # the slab table: as root, the caches with their counts; without root, the names and why
    table = pg.locator(".kmemlab-slabinfo-table").inner_text()
    if ROOT_USER:
        assert re.search(r"kmalloc-\d+\s+\d+\s+\d+", table)
        assert pg.locator(".kmemlab-slab-caches .bar").count() > 0
    else:
        assert "root only" in pg.locator(".kmemlab-slab-view .kmemlab-host-message").inner_text()
    assert "cannot be shown for this machine" in pg.locator(".kmemlab-slab-view").inner_text()
    assert re.search(r"Normal|DMA32", pg.locator(".kmemlab-zone-table").inner_text())
