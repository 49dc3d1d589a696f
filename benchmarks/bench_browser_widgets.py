"""Live views in a real browser (issue 19): Voila serves the full dashboard of a 4 GiB
machine, headless Chromium shows it, and a button runs a burst of 200 000 mixed
kmalloc/kfree/alloc_pages calls. Measured in the browser:

- widget messages per second the kernel sends while the burst runs (target ~60),
- physical-map pictures painted per second during the burst (target >= 10),
- change-to-screen latency of the map: from the moment Python hands a new picture to the
  widget (time.time() in the kernel) to the moment the <image> in the page shows it
  (Date.now() in a MutationObserver; one machine, one clock): idle (one alloc_pages
  click, target <= 50 ms) and p95 during the burst (target <= 100 ms).

A benchmark, not a test: ``python benchmarks/bench_browser_widgets.py`` prints JSON;
run.py includes it when /usr/bin/chromium exists. Needs voila and playwright (the test extra).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from common import figure  # noqa: E402

OBSERVE = """() => {
  // one record per picture the page shows: when its <image> got the new href, and which
  // picture it is (the CRC of the PNG's IDAT chunk, read from the blob: the 4 bytes before
  // the 12-byte IEND chunk), so that a picture the page skipped (two arrived in one frame)
  // does not shift the pairing with what Python sent
  window.__paints = [];
  const img = () => document.querySelector('.kmemlab-physmap svg.svg-figure image');
  let last = img() && (img().getAttribute('href') || img().getAttribute('xlink:href'));
  new MutationObserver(() => {
    const e = img(); if (!e) return;
    const h = e.getAttribute('href') || e.getAttribute('xlink:href');
    if (h !== last) {
      last = h;
      const rec = {t: Date.now(), id: null};
      window.__paints.push(rec);
      fetch(h).then(r => r.arrayBuffer()).then(b => {
        rec.id = new DataView(b).getUint32(b.byteLength - 16);
      }).catch(() => {});   // revoked by the next picture already: counted, not paired
    }
  }).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['href', 'xlink:href'],
                             childList: true});
}"""


def _latencies(sent, paints) -> list:
    """ms from Python handing a picture over to the page showing that same picture."""
    when = {crc: t for t, crc in sent}
    return [(p["t"] / 1e3 - when[p["id"]]) * 1e3 for p in paints if p["id"] in when]


def _notebook(dest: Path) -> Path:
    import nbformat
    src = (HERE / "browser" / "burst.ipynb.py").read_text()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = dest / "burst.ipynb"
    nbformat.write(nb, path)
    return path


def _report(pg, previous: str) -> dict:
    pg.wait_for_function("p => { const e = document.querySelector('.bench-report textarea');"
                         " return e && e.value && e.value !== p; }", arg=previous, timeout=600_000)
    return json.loads(pg.input_value(".bench-report textarea"))


def run(quick: bool = False) -> list:
    from conftest import free_port, launch_chromium
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="kmemlab-bench-"))
    nb = _notebook(tmp)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    voila = Path(sys.executable).with_name("voila")
    proc = subprocess.Popen([str(voila), str(nb), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "voila/static/", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            pg = browser.new_page(viewport={"width": 1600, "height": 1000})
            frames = []
            pg.on("websocket", lambda ws: ws.on("framereceived", lambda _f: frames.append(time.time())))
            pg.goto(url, timeout=300_000)
            pg.wait_for_selector(".kmemlab-physmap svg.svg-figure image", state="attached", timeout=300_000)
            pg.locator(".lm-TabBar-tab", has_text="physical").first.click()
            time.sleep(2)
            pg.evaluate(OBSERVE)
            idle = []
            prev = ""
            for _ in range(3 if quick else 8):
                n0 = len(pg.evaluate("window.__paints"))
                pg.click(".bench-one")
                rep = _report(pg, prev)
                prev = json.dumps(rep)
                pg.wait_for_function(f"window.__paints.length > {n0}", timeout=30_000)
                time.sleep(0.5)
                idle += _latencies(rep["sent"], pg.evaluate("window.__paints")[n0:])
            n0 = len(pg.evaluate("window.__paints"))
            f0 = len(frames)
            pg.click(".bench-burst")
            rep = _report(pg, prev)
            time.sleep(1.0)                         # the last pictures arrive
            shown = pg.evaluate("window.__paints")[n0:]
            t0, t1 = rep["t0"], rep["t1"]
            during = [p for p in shown if t0 <= p["t"] / 1e3 <= t1 + 0.05]
            sent_during = [t for t, _ in rep["sent"] if t0 <= t <= t1]
            msgs = [t for t in frames[f0:] if t0 <= t <= t1]
            lat = _latencies(rep["sent"], during)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    dur = t1 - t0
    cpu_ratio = rep["live_cpu"] / rep["bare_cpu"]
    lat_sorted = sorted(lat) or [float("nan")]
    p95 = lat_sorted[min(len(lat_sorted) - 1, int(0.95 * len(lat_sorted)))]
    return [
        figure("browser: burst of 200k calls, full dashboard, 4G (kernel time)", dur, "s"),
        figure("browser: burst CPU, live dashboard in Voila / the same calls with no view", cpu_ratio,
               "ratio", note="the floor is measured in the same kernel, same run"),
        figure("browser: widget messages per second during the burst", len(msgs) / dur, "msg/s", target=60,
               note=f"{len(msgs)} websocket frames in {dur:.2f} s"),
        figure("browser: physical map pictures painted per second during the burst", len(during) / dur,
               "pictures/s", target=10, lower_is_better=False,
               note=f"{len(during)} pictures shown; Python sent {len(sent_during) / dur:.1f}/s"),
        figure("browser: change-to-screen, idle (median of one-alloc clicks)",
               statistics.median(idle) if idle else float("nan"), "ms", target=50),
        figure("browser: change-to-screen p95 during the burst", p95, "ms", target=100,
               note=f"{len(lat)} of {len(during)} pictures shown identified (IDAT CRC)"),
    ]


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
