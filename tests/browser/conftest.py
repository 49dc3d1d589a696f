"""What the browser tests share: where Chromium is, where screenshots go, a free port on
127.0.0.1, how to launch headless Debian Chromium with Playwright (never `playwright
install`: it cannot download here), how to serve a server (``serve``) and a notebook in
Voilà shown in a Chromium page (``voila_page``). The tests are skipped only when /usr/bin/chromium is
missing outside CI; under CI=true they must run (`./run test` installs chromium)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium); "
                                   "the browser tests run under CI=true")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage",
                                            "--disable-background-networking",
                                            "--disable-component-update", "--no-first-run"])


@contextlib.contextmanager
def serve(argv, probe_url: str, log_name: str, env=None, cwd=None, wait: float = 120):
    """Run a server (Voilà, JupyterLab) in its own process group while the block runs:
    wait until ``probe_url`` answers (an HTTP error counts: the server is up), log to
    tests/artifacts/``log_name``, and stop the group (the server and its kernels) after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **(env or {})}
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    urllib.request.urlopen(probe_url, timeout=2)
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{argv[0]} did not start; see tests/artifacts/{log_name}")
                    time.sleep(0.3)
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def voila_page(notebook, log_name: str, *, viewport: dict, ready=(), cwd=None, timeout: float = 120_000,
               browser=None):
    """Voilà serving ``notebook`` on a free port and a headless Chromium page showing it:
    yields the page once every selector of ``ready`` is there (a selector, or a
    ``(selector, state)`` pair for ``wait_for_selector``: "attached" when not said), then
    closes the browser and stops Voilà and its kernel. The log goes to
    tests/artifacts/``log_name``; the notebook's folder is Voilà's working directory
    unless ``cwd`` says another. ``browser``: a Chromium already open (a module that shows
    two pages at once shares one: Playwright's sync API runs once per thread); only the
    page is closed then."""
    voila = Path(sys.executable).with_name("voila")
    assert voila.exists(), f"voila is not installed next to {sys.executable}"
    notebook = Path(notebook)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    from playwright.sync_api import sync_playwright
    with serve([str(voila), str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
                "--show_tracebacks=True"], url + "voila/static/", log_name, cwd=cwd or notebook.parent), \
            contextlib.ExitStack() as stack:
        own = browser is None
        if own:
            browser = launch_chromium(stack.enter_context(sync_playwright()))
        pg = browser.new_page(viewport=viewport)
        try:
            pg.goto(url, timeout=timeout)
            for sel in ready:
                sel, state = (sel, "attached") if isinstance(sel, str) else sel
                pg.wait_for_selector(sel, state=state, timeout=timeout)
            yield pg
        finally:
            browser.close() if own else pg.close()
