"""Host views (issue 13): what one re-read of km.host() plus a redraw costs, the work an
``auto=`` tick does on the kernel's loop: a BuddyChart, a SlabView (as root: the whole
slabinfo) and a ZoneView of this machine, each against the bare ``h.refresh()`` measured
in the same run. No browser: the cost of building the widget messages, not of sending them.

    PYTHONPATH=. python benchmarks/bench_hostviews.py [--quick]
"""

from __future__ import annotations

import json
import os
import sys

from common import figure, floor_us, median_us

import kmemlab as km


def _ms(fn, repeat: int) -> float:
    return median_us(fn, number=1, repeat=repeat) / 1e3


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
    return out


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
