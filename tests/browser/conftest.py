"""What the browser tests share: where Chromium is, where screenshots go, a free port on
127.0.0.1 and how to launch headless Debian Chromium with Playwright (never `playwright
install`: it cannot download here). The tests are skipped only when /usr/bin/chromium is
missing outside CI; under CI=true they must run (`./run test` installs chromium)."""

import os
import socket
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
