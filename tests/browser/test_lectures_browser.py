"""Every lecture (English and Japanese) in Voilà and in JupyterLab at 1024x768, as a
student sees it: every bqplot figure has visible content (bars with height, lines,
images, canvas cells), none extends past the viewport, no "Error displaying widget", and
for named figures the content matches the model, computed in this process by running the
lecture's own cells: lecture 02's bars are the nr_free values, the mapping pictures of
lecture 01 have one line per page, the physical map of lecture 04 has the vmalloc colour
at the pfns vmalloc_to_page() gives. One Voilà server and one JupyterLab serve all
lectures; screenshots go to tests/artifacts/."""

import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ARTIFACTS, free_port, launch_chromium, serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
NB = ROOT / "notebooks"
LECTURES = [p.relative_to(NB).as_posix() for p in sorted(NB.glob("0*.ipynb")) + sorted((NB / "ja").glob("0*.ipynb"))]
VIEWPORT = {"width": 1024, "height": 768}

#: what every figure must show, per figure: (has content, right edge, description)
FIGURES = """() => Array.from(document.querySelectorAll('svg.svg-figure')).map(f => {
  const fig = f.closest('.bqplot') || f;
  const r = fig.getBoundingClientRect();
  const seen = e => e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const bars = Array.from(f.querySelectorAll('.bar')).filter(b => +b.getAttribute('height') > 0.5 && seen(b)).length;
  const lines = Array.from(f.querySelectorAll('path.line')).filter(p => (p.getAttribute('d') || '').length > 10 && seen(p)).length;
  const images = Array.from(f.querySelectorAll('image')).filter(i => (i.getAttribute('href') || i.getAttribute('xlink:href') || '').length > 0 && seen(i)).length;
  const dots = Array.from(f.querySelectorAll('path.dot')).filter(seen).length;
  const canvas = fig.querySelectorAll('canvas').length;
  const hidden = r.width === 0 || r.height === 0;
  return {bars, lines, images, dots, canvas, hidden, right: r.right, width: r.width,
          cls: (fig.className && fig.className.baseVal !== undefined ? fig.className.baseVal : fig.className) || ''};
})"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def voila_url():
    port = free_port()
    voila = Path(sys.executable).with_name("voila")
    with serve([str(voila), str(NB), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                "--show_tracebacks=True"], f"http://127.0.0.1:{port}/voila/static/",
               "voila-lectures.log", cwd=NB):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(NB, work / "notebooks")           # autosave never touches the checkout
    config = work / ".jupyter"
    settings = work / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell rendered (JupyterLab 4 otherwise renders only the cells on screen)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = free_port()
    env = {"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(work / ".rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(work / ".settings")}
    subprocess.run([sys.executable, "-m", "jupyter", "labextension", "disable",
                    "@jupyterlab/apputils-extension:announcements"], env=dict(os.environ, **env),
                   check=False, capture_output=True)
    with serve([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                f"--ServerApp.root_dir={work / 'notebooks'}", "--allow-root",
                "--IdentityProvider.token=", "--ServerApp.password="],
               f"http://127.0.0.1:{port}/api", "jupyterlab-lectures.log", env=env):
        yield f"http://127.0.0.1:{port}/"


def _run_cells_until(path: Path, marker: str) -> dict:
    """Execute the lecture's code cells in this process up to and including the first
    cell whose source contains ``marker``; the namespace afterwards."""
    nb = nbformat.read(path, as_version=4)
    ns: dict = {}
    import contextlib
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(c.source, str(path), "exec"), ns)
        if marker in c.source:
            return ns
    raise AssertionError(f"no cell with {marker!r} in {path}")


def _check_figures(pg, where: str) -> list:
    figs = pg.evaluate(FIGURES)
    assert figs, f"{where}: no bqplot figure rendered"
    for f in figs:
        if f["hidden"]:
            continue                                   # e.g. in a tab not shown
        assert f["bars"] or f["lines"] or f["images"] or f["dots"] or f["canvas"], \
            f"{where}: a figure ({f['cls']}) shows nothing: {f}"
        assert f["right"] <= VIEWPORT["width"] + 1, f"{where}: a figure ({f['cls']}) is cut at the right edge: {f}"
    return figs


def _no_widget_errors(pg, where: str) -> None:
    text = pg.evaluate("() => document.body.innerText")
    assert "Error displaying widget" not in text, f"{where}: Error displaying widget"
    assert "Traceback (most recent call last)" not in text, f"{where}: a cell raised"


def _expected_lecture_content(pg, name: str, where: str) -> None:
    if name.endswith("02-buddy-allocator.ipynb"):
        ns = _run_cells_until(NB / name, "bq.Bars(")
        want = np.array([ns["at_boot"], ns["after"]], float)
        bars = pg.evaluate("""() => { const f = Array.from(document.querySelectorAll('svg.svg-figure'))
            .find(s => (s.textContent || '').includes('free_area[order].nr_free'));
            return Array.from(f.querySelectorAll('.bargroup')).map(g =>
                Array.from(g.querySelectorAll('.bar')).map(b => +b.getAttribute('height'))); }""")
        got = np.array(bars, float).T                  # [series, order]
        assert got.shape == want.shape, f"{where}: bars {got.shape}, model {want.shape}"
        scale = got.max() / want.max()
        np.testing.assert_allclose(got, want * scale, atol=1.0, err_msg=f"{where}: bar heights != nr_free")
        # its legend in the edition's language, from the views' message table
        from kmemlab.widgets.messages import text
        lang = "ja" if name.startswith("ja/") else "en"
        legend = pg.evaluate("""() => { const f = Array.from(document.querySelectorAll('svg.svg-figure'))
            .find(s => (s.textContent || '').includes('free_area[order].nr_free'));
            return Array.from(f.querySelectorAll('text.legendtext')).map(t => t.textContent.trim()).filter(t => t); }""")
        assert legend == [text("chart.after_boot", lang), text("chart.after_workload", lang)], \
            f"{where}: the legend says {legend}"
    if name.endswith("01-kmalloc-vs-vmalloc.ipynb"):
        # one line per page in each mapping picture (the title says how many pages)
        pics = pg.evaluate("""() => Array.from(document.querySelectorAll('.kmemlab-mapping-view')).map(v => {
            const t = v.querySelector('.kmemlab-mapping-title'); const f = v.querySelector('.kmemlab-mapping');
            const d = Array.from(f.querySelectorAll('path.line')).map(p => p.getAttribute('d') || '');
            return {title: t ? t.innerText : '', d: d}; })""")
        assert pics, f"{where}: no mapping picture"
        for p in pics:
            import re
            m = re.search(r"(\d+) (page|ページ)", p["title"])
            assert m, f"{where}: mapping title without a page count: {p['title']!r}"
            n = int(m.group(1))
            segments = sum(d.count("M") for d in p["d"])
            # the lines mark: one segment per page; the band outlines are closed paths of their own mark
            assert segments >= n, f"{where}: {n} pages but {segments} line segments"
    if name.endswith("04-vmalloc-and-page-tables.ipynb"):
        ns = _run_cells_until(NB / name, "km.widgets.PhysMap(")
        m, v, pm = ns["m"], ns["v"], ns["pm"]
        pfns = [m.vmalloc_to_page(v + i * 4096).pfn for i in range(5)]
        href = pg.evaluate("""() => { const i = document.querySelector('.kmemlab-physmap svg.svg-figure image');
                              return i.getAttribute('href') || i.getAttribute('xlink:href'); }""")
        png = bytes(pg.evaluate("""async h => { const r = await fetch(h);
                                   return Array.from(new Uint8Array(await r.arrayBuffer())); }""", href))
        from PIL import Image
        from kmemlab.kernel.mem_map import K_VMALLOC
        from kmemlab.widgets.palette import KIND_COLOURS
        im = Image.open(io.BytesIO(png)).convert("RGB")
        want = tuple(bytes.fromhex(KIND_COLOURS[K_VMALLOC][1:]))
        for pfn in pfns:
            assert im.getpixel((pfn % pm.width, pfn // pm.width)) == want, \
                f"{where}: pfn {pfn:#x} is not drawn in the vmalloc colour"


    if name.endswith("06-your-kernel-and-the-simulation.ipynb"):
        _lecture06_content(pg, name, where)


def _lecture06_content(pg, name: str, where: str) -> None:
    """Lecture 06: the play bar says what the replay did, the buddy chart (a log scale) shows
    the replayed machine's nr_free, and km.compare()'s table has its reasons readable."""
    ns = _run_cells_until(NB / name, "player.run()")
    report, rm = ns["report"], ns["rm"]
    bar = pg.evaluate("() => Array.from(document.querySelectorAll('.widget-html')).map(e => e.innerText)"
                      ".filter(t => t.includes(' · '))")
    assert len(bar) == 1, f"{where}: one replay bar expected, got {bar}"
    state = "終了" if name.startswith("ja/") else "finished"
    assert bar[0].startswith(state) and f"{report.events:,} " in bar[0] \
        and f"{report.fraction_replayed:.1%}" in bar[0], f"{where}: the bar says {bar[0]!r}"
    want = np.array([[fa.nr_free for fa in z.free_area] for z in rm.zones if z.populated()], float)
    groups = pg.evaluate("""() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bargroup'))
        .map(g => Array.from(g.querySelectorAll('.bar')).map(b => +b.getAttribute('height')))""")
    got = np.array(groups, float).T                    # [zone, order]
    assert got.shape == want.shape, f"{where}: bars {got.shape}, model {want.shape}"
    # log scale from the chart's floor (an empty list: no bar, labelled 0)
    from kmemlab.widgets.buddychart import LOG_BASE
    logs = np.log10(np.maximum(want, LOG_BASE) / LOG_BASE)
    np.testing.assert_allclose(got, logs * (got.max() / logs.max()), atol=1.0,
                               err_msg=f"{where}: bar heights != log(nr_free)")
    labels = pg.evaluate("() => Array.from(document.querySelectorAll('.kmemlab-buddychart .bar_label'))"
                         ".map(t => t.textContent)")
    assert sorted(int(x) for x in labels if x.strip()) == sorted(want.astype(int).ravel().tolist()), \
        f"{where}: the bars' numbers are not the free lists' nr_free"
    cells = pg.evaluate("""() => Array.from(document.querySelectorAll('.kmemlab-compare tr'))
        .filter(tr => tr.querySelectorAll('td').length === 5).map(tr => { const td = tr.children[4];
          return {align: getComputedStyle(td).textAlign, cut: td.scrollWidth > td.clientWidth + 1,
                  right: td.getBoundingClientRect().right, text: td.innerText,
                  verdict: tr.children[3].innerText.trim()}; })""")
    assert len(cells) > 20, f"{where}: the comparison table has {len(cells)} rows"
    assert all(c["align"] in ("left", "start") for c in cells), f"{where}: reasons not left-aligned"
    assert not [c for c in cells if c["cut"] or c["right"] > VIEWPORT["width"] + 1], \
        f"{where}: a reason is cut off"
    # the card against itself, as the page shows it (the live host moves between two reads:
    # a card built here a moment later may give a row another verdict): every row that is
    # not equal ("=") shows its reason, every equal row none, and the card's own summary
    # counts the verdicts its rows show
    signs = Counter(c["verdict"][:1] for c in cells)
    assert set(signs) <= set("=≈≠?"), f"{where}: verdicts {signs}"
    unexplained = [c for c in cells if (c["verdict"][:1] != "=") != bool(c["text"].strip())]
    assert not unexplained, f"{where}: rows whose reason is missing (or shown for an equal row): {unexplained[:3]}"
    head = pg.evaluate("() => document.querySelector('.kmemlab-compare').innerText.split('\\n')[0]")
    import re
    summary = (r"一致 (\d+)、近い (\d+)（.*?）、不一致 (\d+)(?:、表示なし (\d+))?" if name.startswith("ja/")
               else r"(\d+) agree, (\d+) close \(.*?\), (\d+) differ(?:, (\d+) not shown)?")
    m = re.search(summary, head)
    assert m, f"{where}: the card's summary is not in its language: {head!r}"
    said = [int(g or 0) for g in m.groups()]
    assert said == [signs["="], signs["≈"], signs["≠"], signs["?"]], \
        f"{where}: the summary says {said}, the rows show {dict(signs)}"


#: English labels that a Japanese edition's views must not show: every message of the
#: views' table that is plain English prose (kernel names such as nr_free stay as they are)
def _english_labels() -> list[str]:
    """... and of km.compare()'s table (kmemlab.messages): there the English text between
    a message's fields too, so a reason with numbers in it counts as well."""
    import re
    from kmemlab.messages import MESSAGES as REPORTS
    from kmemlab.widgets.messages import MESSAGES
    views = {d["en"] for d in MESSAGES.values()
             if d["en"] != d["ja"] and "{" not in d["en"] and re.search(r"[a-z]{3,} [a-z]{3,}", d["en"])}
    reports = {f.strip(" ,;:.()") for d in REPORTS.values() if d["en"] != d["ja"]
               for f in re.split(r"\{[^}]*\}", d["en"])}
    return sorted(views | {f for f in reports if re.search(r"[a-z]{3,} [a-z]{3,}", f)})


#: whether a CJK glyph is drawn from a font or as the missing-glyph box ("tofu"): a canvas
#: draws the character and a code point no font has; identical pixels mean tofu
_CJK_GLYPH_DRAWN = """ch => { const draw = s => { const c = document.createElement('canvas'); c.width = 40; c.height = 40;
    const g = c.getContext('2d'); g.font = '28px sans-serif'; g.fillText(s, 4, 32);
    return Array.from(g.getImageData(0, 0, 40, 40).data).join(','); };
  return draw(ch) !== draw(String.fromCodePoint(0x10FFFD)) && draw(ch) !== draw(' '); }"""


def _japanese_widgets(pg, name: str, where: str) -> None:
    """A Japanese edition: its views are labelled in Japanese (no English label of the
    message table on screen) and the machine has a font that draws the glyphs."""
    for ch in "物理メモリ空き":
        assert pg.evaluate(_CJK_GLYPH_DRAWN, ch), \
            f"{where}: {ch!r} is drawn as a missing-glyph box: install fonts-noto-cjk or fonts-ipafont-gothic"
    # the views' own words and km.compare()'s card: not tooltips (<title> quotes the kernel's
    # mm.rst), not kernel output
    shown = pg.evaluate("""() => Array.from(document.querySelectorAll('[class*="kmemlab-"]'))
        .map(e => {
        const c = e.cloneNode(true);
        c.querySelectorAll('title, style, script, textarea, select, pre').forEach(x => x.remove());
        return c.textContent; }).join('\\n')""")
    english = [t for t in _english_labels() if t in shown]
    assert not english, f"{where}: English labels in a Japanese lecture: {english}"
    if not name.endswith("02-buddy-allocator.ipynb"):         # 02 draws its one chart with bqplot itself
        import re
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", shown), f"{where}: the views show no Japanese"


@pytest.mark.parametrize("name", LECTURES)
def test_lecture_in_voila_shows_every_figure_with_content(browser, voila_url, name):
    pg = browser.new_page(viewport=VIEWPORT)
    try:
        pg.goto(voila_url + "voila/render/" + name, timeout=300_000)
        pg.wait_for_selector("svg.svg-figure", state="attached", timeout=300_000)
        pg.wait_for_function("() => !document.querySelector('.voila-spinner') || "
                             "document.querySelector('.voila-spinner').offsetParent === null", timeout=300_000)
        time.sleep(2)                                  # the last redraws arrive
        where = f"voila {name}"
        _no_widget_errors(pg, where)
        _check_figures(pg, where)
        _expected_lecture_content(pg, name, where)
        if name.startswith("ja/"):
            _japanese_widgets(pg, name, where)
        assert pg.evaluate("() => document.documentElement.scrollWidth") <= VIEWPORT["width"] + 1, \
            f"{where}: the page scrolls sideways"
        shot = name.replace("/", "-").replace(".ipynb", "")
        pg.screenshot(path=str(ARTIFACTS / f"voila-{shot}.png"))
        fig = pg.locator("svg.svg-figure:visible").first
        fig.scroll_into_view_if_needed()
        pg.screenshot(path=str(ARTIFACTS / f"voila-{shot}-figure.png"))
    finally:
        pg.close()


@pytest.mark.parametrize("name", LECTURES)
def test_lecture_in_jupyterlab_runs_and_shows_every_figure(browser, lab_url, name):
    pg = browser.new_page(viewport=VIEWPORT)
    try:
        pg.goto(lab_url + f"lab/tree/{name}?reset", timeout=120_000)     # this notebook alone
        pg.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        pg.wait_for_function("document.body.innerText.includes('| Idle')", timeout=180_000)
        pg.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        pg.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # all cells ran: every code cell's prompt carries its execution count ([12]:)
        pg.wait_for_function(r"""() => { const p = Array.from(document.querySelectorAll(
                                 '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')).map(e => e.innerText.trim());
                                 return p.length > 0 && p.every(t => /\[\d+\]/.test(t)); }""", timeout=600_000)
        time.sleep(2)
        where = f"jupyterlab {name}"
        _no_widget_errors(pg, where)
        figs = pg.evaluate(FIGURES)
        assert figs, f"{where}: no bqplot figure rendered"
        for f in figs:
            if not f["hidden"]:
                assert f["bars"] or f["lines"] or f["images"] or f["dots"] or f["canvas"], f"{where}: empty figure {f}"
                assert f["right"] <= VIEWPORT["width"] + 1, f"{where}: a figure is cut at the right edge: {f}"
        errors = pg.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert not any("Traceback" in t for t in errors.all_inner_texts()), f"{where}: a cell raised"
        shot = name.replace("/", "-").replace(".ipynb", "")
        pg.locator("svg.svg-figure:visible").first.scroll_into_view_if_needed()
        pg.screenshot(path=str(ARTIFACTS / f"jupyterlab-{shot}.png"))
    finally:
        pg.close()


