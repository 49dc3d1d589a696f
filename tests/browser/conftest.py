"""What the browser tests share: where Chromium is, where screenshots go, a free port on
127.0.0.1 and how to launch headless Debian Chromium with Playwright (never `playwright
install`: it cannot download here). The tests are skipped only when /usr/bin/chromium is
missing outside CI; under CI=true they must run (`./run test` installs chromium)."""

import contextlib
import os
import signal
import socket
import subprocess
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
