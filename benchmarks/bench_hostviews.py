"""Host views (issue 13): what one re-read of km.host() plus a redraw costs, the work an
``auto=`` tick does on the kernel's loop: a BuddyChart, a SlabView (as root: the whole
slabinfo) and a ZoneView of this machine, each against the bare ``h.refresh()`` measured
in the same run. No browser: the cost of building the widget messages, not of sending them.

Also the SlabView of a simulated 4 GiB machine after the burst bench_browser_widgets.py
runs (200 000 mixed kmalloc/kfree calls, sizes 8..4096): one redraw, and the part of it
that reads the counts (from the model's counters, ``get_slabinfo()``) against printing and
parsing ``/proc/slabinfo`` for the same numbers (what the view did before), in the same run.

    PYTHONPATH=. python benchmarks/bench_hostviews.py [--quick]
"""

from __future__ import annotations

import json
import os
import sys
import time

from common import figure, floor_us, median_us

import kmemlab as km


def _ms(fn, repeat: int) -> float:
    return median_us(fn, number=1, repeat=repeat) / 1e3


def _best_cpu_ms(fn, repeat: int) -> float:
    """The fastest of ``repeat`` calls in CPU time of this process (on cores shared with
    other work the others' load only ever adds: see common.paired)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best * 1e3


def run(quick: bool = False) -> list[dict]:
    if not sys.platform.startswith("linux") or not os.path.exists("/proc/meminfo"):
        return []
    from kmemlab.widgets import BuddyChart, SlabView, ZoneView
    h = km.host()
    n = 5 if quick else 20
    bare = _ms(h.refresh, n)
    fl = floor_us()
    out = [figure("host view tick floor: h.refresh() alone", bare, "ms",
                  note=f"x dict floor {bare * 1e3 / fl:.0f}")]
    for cls in (BuddyChart, SlabView, ZoneView):
        v = cls(km.host())
        t = _ms(v.refresh, n)
        v.close()
        # the redraw must not cost more than the read it shows: at most 2x the bare re-read
        out.append(figure(f"{cls.__name__}(km.host()): an auto= tick (re-read + redraw) / h.refresh() alone",
                          t / bare, "x", 2.0,
                          note=f"{t:.1f} ms a tick, {bare:.1f} ms the bare re-read; "
                               + ("as root" if h.is_root else "not root")))
    from kmemlab.widgets import Dashboard
    d = Dashboard(km.host())
    t = _ms(d.refresh, n)
    d.close()
    # one re-read for the header and the three tabs: no more than one view's tick
    out.append(figure("Dashboard(km.host()): an auto= tick (one re-read, header + 3 tabs redrawn) / h.refresh() alone",
                      t / bare, "x", 2.0, note=f"{t:.1f} ms a tick, {bare:.1f} ms the bare re-read"))
    return out + slab_redraw(quick)


def _burst(m, calls: int) -> list:
    """bench_browser_widgets.py's burst without the page allocations: 6 kmallocs, 3 kfrees
    of random live objects in 10 calls (the partial lists fill up)."""
    sizes = m._k.rng.integers(8, 4096, calls).tolist()
    live = []
    for i, s in enumerate(sizes):
        r = i % 10
        if r < 6:
            live.append(m.kmalloc(s))
        elif r < 9 and live:
            j = int(s) % len(live)
            live[j], live[-1] = live[-1], live[j]
            m.kfree(live.pop())
    return live


def slab_redraw(quick: bool = False) -> list[dict]:
    from kmemlab.helpers import for_each_slab_cache
    from kmemlab.widgets import SlabView
    from kmemlab.widgets.slabview import parse_slabinfo
    m = km.Machine(mem="4G", seed=0)
    live = _burst(m, 50_000 if quick else 200_000)
    sv = SlabView(m)
    sv.select_cache("kmalloc-256")               # a slab shown below, as after a click
    n = 10 if quick else 40
    redraw = _best_cpu_ms(sv._redraw, n)
    text = _best_cpu_ms(lambda: parse_slabinfo(m.proc.slabinfo()), n)
    counts = _best_cpu_ms(sv._machine_rows, n)
    # the same view redrawing as it did before: the rows printed and parsed from the text
    sv._machine_rows = lambda: [r for r in parse_slabinfo(m.proc.slabinfo()) if r["num_objs"]]
    via_text = _best_cpu_ms(sv._redraw, n)
    del sv._machine_rows
    fl = floor_us()
    partial = sum(n_.nr_partial for s in for_each_slab_cache(m) for n_ in s.node)
    note = f"{len(sv.table_rows)} caches in the table, {partial} partial slabs, {len(live)} live objects"
    del live
    sv.close()
    return [figure("SlabView(m) redraw after a 200k-call kmalloc/kfree burst (4 GiB), best CPU time",
                   redraw * 1e3, "us", note=note + f"; x dict floor {redraw * 1e3 / fl:.0f}"),
            figure("SlabView(m) redraw from the counters / the same redraw through /proc/slabinfo's text",
                   redraw / via_text, "x", 1.0,
                   note=f"{redraw:.2f} ms against {via_text:.2f} ms (best CPU time of {n})"),
            figure("SlabView(m) counts: get_slabinfo() of each cache / print+parse /proc/slabinfo",
                   counts / text, "x", 1.0,
                   note=f"{counts:.2f} ms from the counters, {text:.2f} ms through the text")]


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
