"""The main job, in a real browser: `kmemlab lab` (what `./run lab` starts) serves JupyterLab,
headless Chromium opens a lecture notebook, runs every cell, and the bqplot figure the
notebook draws renders. The notebook is copied to a temporary folder first, so JupyterLab's
autosave never writes outputs into the repository. A screenshot goes to tests/artifacts/.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTIFACTS, free_port, launch_chromium, serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
NOTEBOOK = "02-buddy-allocator.ipynb"




@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    config = work / ".jupyter"
    config.mkdir()
    port = free_port()
    # every cell rendered (JupyterLab 4 otherwise renders only the cells on screen)
    settings = work / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(work / ".rt"),
               JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # the "news" toast of JupyterLab 4 would cover the notebook
    subprocess.run([sys.executable, "-m", "jupyter", "labextension", "disable",
                    "@jupyterlab/apputils-extension:announcements"], env=env, check=False,
                   capture_output=True)
    argv = [sys.executable, "-m", "kmemlab.cli", "lab", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--dir={work}", "--IdentityProvider.token=", "--ServerApp.password="]
    url = f"http://127.0.0.1:{port}/"
    with serve(argv, url + "api", "jupyterlab.log", env=env):
        yield url


def test_a_lecture_notebook_runs_in_jupyterlab_and_draws_its_figure(lab_url):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(lab_url + f"lab/tree/{NOTEBOOK}", timeout=90_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            # wait until the kernel is idle (status bar "| Idle"), then Run > Run All Cells
            page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # the cells ran: the notebook printed /proc/buddyinfo ...
            page.wait_for_function("document.body.innerText.includes('Node 0, zone      DMA')",
                                   timeout=180_000)
            # ... and its bqplot Bars figure rendered (a widget front end is present)
            # ... and every cell ran (each code cell's prompt carries its execution count)
            page.wait_for_function(r"""() => { const p = Array.from(document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt'))
                .map(e => e.innerText.trim()); return p.length > 0 && p.every(t => /\[\d+\]/.test(t)); }""",
                timeout=600_000)
            page.wait_for_selector("svg.svg-figure", timeout=180_000)
            page.locator("svg.svg-figure").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-kmemlab-lab-chart.png"))
            # content, not presence: the chart's bars have height (a figure's background is
            # a rect too, so counting rects proved nothing)
            page.wait_for_function("() => Array.from(document.querySelectorAll('svg.svg-figure .bar'))"
                                   ".filter(b => +b.getAttribute('height') > 1).length >= 5",
                                   timeout=60_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert not any("Traceback" in text or "Error" in text for text in errors.all_inner_texts())
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-02-buddy-allocator.png"), full_page=False)
        finally:
            browser.close()
