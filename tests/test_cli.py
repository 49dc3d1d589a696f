"""The command line: `kmemlab boot` and `kmemlab lab` (what `./run lab` starts)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmemlab.cli import main, notebooks_dir


def test_boot_prints_the_boot_log_and_buddyinfo(capsys):
    assert main(["boot", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "Linux version" in out and "$ cat /proc/buddyinfo" in out and "Node 0, zone      DMA" in out


def test_boot_with_bad_arguments_says_what_is_wrong(capsys):
    assert main(["boot", "--mem", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_starts_jupyterlab_on_the_notebooks(tmp_path):
    pytest.importorskip("jupyterlab")
    assert notebooks_dir().is_dir()
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "kmemlab.cli", "lab", "--no-browser",
                             f"--port={port}", "--ip=127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        seen = ""
        deadline = time.time() + 90
        while time.time() < deadline and f"127.0.0.1:{port}/lab" not in seen:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert f"http://127.0.0.1:{port}/lab" in seen, seen[-2000:]
        assert "starting JupyterLab on" in seen and str(Path(notebooks_dir())) in seen
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
