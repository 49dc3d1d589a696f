"""Views in a real browser, over their lifetime (issue 14):

- Voilà: a notebook that does ``display(km.widgets.PhysMap(m))`` with no name, then
  changes the machine from a button: the map shows, its picture follows the change (the
  pixel of the allocated frame has the colour of "pages"), and no "model not found".
- JupyterLab through ``kmemlab lab``: the lecture-hall setting "save widget state" is
  written, a notebook run and saved keeps its widget state, and reopened in a new
  server (its kernel gone) the map is shown from that state, not "Error displaying
  widget: model not found".
"""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ARTIFACTS, free_port, launch_chromium, serve, voila_page
from PIL import Image

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
MAP_IMAGE = ".kmemlab-physmap svg.svg-figure image"

UNNAMED = [
    "import gc\nimport ipywidgets as W\nimport kmemlab as km\n"
    "m = km.Machine(mem='128M', seed=0)\n"
    "display(km.widgets.PhysMap(m))      # no name keeps the view",
    "gc.collect()                         # a view nobody names would be gone now\n"
    "held = []\nsaid = W.HTML('')\nsaid.add_class('test-said')\n"
    "def grow(_):\n"
    "    held.append(m.alloc_pages(km.GFP_KERNEL, 9))\n"
    "    said.value = json.dumps({'pfn': held[-1].pfn, 'n': len(held)})\n"
    "import json\n"
    "b = W.Button(description='alloc_pages(order=9)')\nb.add_class('test-alloc')\nb.on_click(grow)\n"
    "display(W.HBox([b, said]))",
]


def _notebook(path: Path, cells) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _png_of(pg) -> bytes:
    """The PNG the map's <image> shows now (read again if a redraw revoked the blob: URL)."""
    data = pg.evaluate("""async sel => {
        let last = null;
        for (let i = 0; i < 50; i++) {
            const e = document.querySelector(sel);
            try { const r = await fetch(e.getAttribute('href') || e.getAttribute('xlink:href'));
                  return Array.from(new Uint8Array(await r.arrayBuffer())); }
            catch (err) { last = err; await new Promise(ok => setTimeout(ok, 100)); }
        }
        throw last; }""", MAP_IMAGE)
    return bytes(data)


def test_a_view_displayed_without_a_name_shows_and_follows_the_machine_in_voila(tmp_path):
    from kmemlab.kernel.mem_map import K_PAGES
    nb = _notebook(tmp_path / "unnamed.ipynb", UNNAMED)
    with voila_page(nb, "voila-unnamed.log", viewport={"width": 1024, "height": 768},
                    ready=[(".test-alloc", "visible"), MAP_IMAGE]) as pg:
        before = _png_of(pg)
        for n in (1, 2):
            pg.click(".test-alloc")
            pg.wait_for_function(f"() => (document.querySelector('.test-said').innerText"
                                 f" || '').includes('\"n\": {n}')", timeout=30_000)
        pfn = json.loads(pg.inner_text(".test-said"))["pfn"]
        deadline = time.monotonic() + 30
        while True:                         # the coalescer's timer draws it a moment later
            pix = np.asarray(Image.open(io.BytesIO(_png_of(pg)))).ravel()
            if pix[pfn] == K_PAGES and pix[pfn + 511] == K_PAGES:
                break
            assert time.monotonic() < deadline, "the map never showed the allocated block"
            time.sleep(0.3)
        assert _png_of(pg) != before
        text = pg.inner_text("body")
        assert "Error displaying widget" not in text and "model not found" not in text
        pg.locator(".kmemlab-physmap-view").first.screenshot(path=str(ARTIFACTS / "voila-unnamed-physmap-1024.png"))


def _lab(work: Path, log: str):
    port = free_port()
    env = {"JUPYTER_CONFIG_DIR": str(work / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(work / ".rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(work / ".settings")}
    # the "news" toast of JupyterLab 4 would cover the notebook
    subprocess.run([sys.executable, "-m", "jupyter", "labextension", "disable",
                    "@jupyterlab/apputils-extension:announcements"], env=dict(os.environ, **env),
                   check=False, capture_output=True)
    argv = [sys.executable, "-m", "kmemlab.cli", "lab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--dir={work}", "--IdentityProvider.token=", "--ServerApp.password="]
    url = f"http://127.0.0.1:{port}/"
    return url, serve(argv, url + "api", log, env=env)


def test_a_saved_notebook_reopened_without_its_kernel_shows_its_views_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright
    work = tmp_path
    (work / ".jupyter").mkdir()
    tracker = work / ".settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)            # every cell rendered, not only those on screen
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    name = "saved.ipynb"
    _notebook(work / name, ["import kmemlab as km\nm = km.Machine(mem='128M', seed=0)\n"
                            "display(km.widgets.PhysMap(m))"])
    setting = work / ".settings" / "@jupyter-widgets" / "jupyterlab-manager" / "plugin.jupyterlab-settings"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            url, server = _lab(work, "jupyterlab-save.log")
            with server:
                assert '"saveState": true' in setting.read_text()   # kmemlab lab wrote it
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                pg.goto(url + f"lab/tree/{name}", timeout=120_000)
                pg.wait_for_function("document.body.innerText.includes('| Idle')", timeout=180_000)
                pg.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                pg.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                pg.wait_for_selector(MAP_IMAGE, state="attached", timeout=180_000)
                time.sleep(1)
                pg.locator(".jp-Notebook").first.click()
                pg.keyboard.press("Control+s")
                deadline = time.monotonic() + 60
                while True:
                    meta = json.loads((work / name).read_text()).get("metadata", {})
                    state = meta.get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
                    if state and state.get("state"):
                        break
                    assert time.monotonic() < deadline, "the saved notebook has no widget state"
                    time.sleep(0.5)
                pg.close()
            # a new server: the kernel that made the models is gone
            url, server = _lab(work, "jupyterlab-reopen.log")
            with server:
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                pg.goto(url + f"lab/tree/{name}", timeout=120_000)
                pg.wait_for_selector(".jp-OutputArea-output", timeout=120_000)
                pg.wait_for_selector(MAP_IMAGE, state="attached", timeout=60_000)
                time.sleep(3)                   # a "model not found" would have appeared by now
                text = pg.inner_text(".jp-Notebook")
                assert "model not found" not in text and "Error displaying widget" not in text
                png = _png_of(pg)
                pix = np.asarray(Image.open(io.BytesIO(png)))
                assert pix.shape == (128, 256) and len(np.unique(pix)) > 3   # the map, not a blank
                pg.screenshot(path=str(ARTIFACTS / "jupyterlab-reopened-saved-physmap.png"))
        finally:
            browser.close()
