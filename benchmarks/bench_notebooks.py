"""The lectures run headless: wall time of each notebook (kernel start to last cell) and of
the whole set, against issue 7's budget (the set in <= 120 s on a 2-core machine). A
benchmark, not a test: on a shared machine the wall time says as much about the neighbours
as about kmemlab (tests/test_notebooks.py checks what the notebooks print, not how fast)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import figure, floor_us

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"


def run(quick: bool = False) -> list[dict]:
    import nbformat
    from nbclient import NotebookClient
    paths = sorted(p for p in NB_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if quick:
        paths = paths[:2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    floor = floor_us()
    out, total = [], 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.monotonic()
        client.execute(env=env)
        took = time.monotonic() - start
        total += took
        out.append(figure(f"notebook {path.relative_to(NB_DIR)} headless", took, "s", 30.0,
                          note=f"floor {floor:.3f} us in this run"))
    if not quick:
        out.append(figure("all notebooks headless, together", total, "s", 120.0,
                          note="issue 7: the set in <= 120 s on a 2-core machine"))
    return out
