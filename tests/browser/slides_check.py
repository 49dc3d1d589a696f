"""Open built slides in Chromium with the network blocked and measure every slide
(shared by the slides test and by hand: python tests/browser/slides_check.py DIR)."""

import sys
from pathlib import Path

MEASURE = """() => {
  const out = [];
  const total = Reveal.getTotalSlides();
  for (let i = 0; i < total; i++) {
    Reveal.slide(i);
    const s = Reveal.getCurrentSlide();
    const box = s.getBoundingClientRect();
    let worst = 0, what = '';
    for (const e of s.querySelectorAll('*')) {
      if (e.closest('aside.notes')) continue;
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      const over = Math.max(r.bottom - box.bottom, r.right - box.right, box.left - r.left, box.top - r.top);
      if (over > worst) { worst = over; what = e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60); }
    }
    out.push({i: i, over: worst, what: what, scroll: s.scrollHeight - s.clientHeight,
              text: s.innerText.slice(0, 80), pictures: s.querySelectorAll('img, svg').length});
  }
  return out;
}"""


def measure(playwright_page, index: Path, blocked: list) -> list:
    pg = playwright_page

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    pg.route("**/*", route)
    pg.goto(index.resolve().as_uri())
    pg.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    return pg.evaluate(MEASURE)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import launch_chromium
    from playwright.sync_api import sync_playwright
    d = Path(sys.argv[1])
    with sync_playwright() as p:
        b = launch_chromium(p)
        pg = b.new_page(viewport={"width": 1024, "height": 768})
        blocked = []
        res = measure(pg, d / "index.html", blocked)
        bad = [r for r in res if r["over"] > 2 or r["scroll"] > 2]
        print(len(res), "slides;", len(bad), "overflow; blocked:", blocked[:5])
        for r in bad[:20]:
            print(r)
        for i in (int(x) for x in sys.argv[2:]):
            pg.evaluate(f"Reveal.slide({i})")
            pg.screenshot(path=f"tests/artifacts/slide-{d.name}-{i}.png")
        b.close()
