"""`kmemlab slides` in a real browser with the network blocked: every lecture (English and
Japanese) builds, reveal.js and everything else load from the slide folder (no request
leaves file://), every slide's content lies inside its frame, and the slides show the
lectures' outputs (printed /proc files, the views' static pictures, lecture 02's bars)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTIFACTS, launch_chromium
from slides_check import measure

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
LECTURES = sorted((ROOT / "notebooks").glob("0*.ipynb")) + sorted((ROOT / "notebooks" / "ja").glob("0*.ipynb"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for nb in LECTURES:
        name = ("ja-" if nb.parent.name == "ja" else "") + nb.stem
        dest = tmp_path_factory.mktemp("slides") / name
        r = subprocess.run([sys.executable, "-m", "kmemlab.cli", "slides", str(nb), "-o", str(dest)],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        out[name] = dest / "index.html"
    return out


def test_slides_build_offline_and_every_slide_fits_its_frame(built):
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for name, index in built.items():
                pg = browser.new_page(viewport={"width": 1024, "height": 768})
                blocked = []
                slides = measure(pg, index, blocked)
                assert blocked == [], f"{name}: the slides asked the network for {blocked[:3]}"
                assert len(slides) >= 10, f"{name}: only {len(slides)} slides"
                for s in slides:
                    assert s["over"] <= 2 and s["scroll"] <= 2, f"{name} slide {s['i']} overflows: {s}"
                    assert s["text"].strip() or s["pictures"], f"{name} slide {s['i']} is empty"
                text = pg.evaluate("() => document.querySelector('.slides').textContent")
                pg.evaluate("Reveal.slide(0)")
                pg.screenshot(path=str(ARTIFACTS / f"slides-{name}-first.png"))
                if "02-buddy" in name:
                    assert "Node 0, zone" in text                      # /proc/buddyinfo printed
                    bars = pg.evaluate("() => Array.from(document.querySelectorAll("
                                       "'svg.kmemlab-static-figure rect')).filter(r => +r.getAttribute('height') > 1).length")
                    assert bars >= 10, "lecture 02's chart has no bars with height"
                if "01-kmalloc" in name:
                    # the mapping picture's static SVG: one line per page
                    assert pg.evaluate("() => document.querySelectorAll('.kmemlab-mapping-static line').length") > 0
                if name.startswith("ja-"):
                    assert "ガード" in text or "ページ" in text, "the Japanese slides' pictures are not Japanese"
                pg.close()
        finally:
            browser.close()
