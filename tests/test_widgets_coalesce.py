"""Coalescing, fallbacks and display(m)."""

import subprocess
import sys

import numpy as np
import pytest

import kmemlab as km
from kmemlab.widgets import Coalescer, Dashboard, PhysMap


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_coalescer_redraws_at_most_once_per_interval_and_flushes_the_last_state():
    clock = FakeClock()
    seen = []
    state = {"n": 0}
    c = Coalescer(lambda: seen.append(state["n"]), interval=1 / 30, clock=clock)
    for i in range(1, 1001):          # 1000 events over one simulated second
        state["n"] = i
        c.poke()
        clock.t += 0.001
    assert 29 <= len(seen) <= 31      # ~30 redraws in 1 s, not 1000
    assert seen[0] == 1               # the first change shows at once
    assert seen[-1] != 1000 and c.dirty
    c.flush()                         # end of cell: the final state is drawn
    assert seen[-1] == 1000 and not c.dirty
    c.flush()                         # nothing new: no redraw
    assert seen[-1] == 1000 and len(seen) == c.redraws


def test_coalescer_close_stops_redraws():
    c = Coalescer(lambda: pytest.fail("redrawn after close"), clock=FakeClock())
    c.close()
    c.poke()
    c.flush()
    c.close()


def test_burst_of_allocations_is_coalesced_but_the_final_picture_is_exact():
    m = km.Machine(mem="128M", seed=3)
    pm = PhysMap(m)                   # real clock: a tight loop takes far less than 1/30 s per call
    r0 = pm.redraws
    pages = [m.alloc_pages(km.GFP_KERNEL, 0) for _ in range(2000)]
    assert pm.redraws - r0 < 200      # not one redraw per event
    pm.flush()
    assert all(pm.pixels[p.pfn] == km.kernel.mem_map.K_PAGES for p in pages)


def test_coalescer_schedules_a_flush_on_a_running_asyncio_loop():
    import asyncio
    seen = []

    async def main():
        clock = FakeClock()
        c = Coalescer(lambda: seen.append(clock.t), interval=0.01, clock=clock)
        c.poke()                      # drawn at once
        c.poke()                      # too soon: a timer will flush it
        assert len(seen) == 1 and c.dirty
        await asyncio.sleep(0.05)
        return c

    c = asyncio.run(main())
    assert len(seen) == 2 and not c.dirty


def test_static_fallbacks_read_without_widgets():
    m = km.Machine(mem="128M", seed=4)
    d = Dashboard(m)
    page = m.alloc_pages(km.GFP_KERNEL, 1)
    html = d.to_html()
    assert "data:image/png;base64," in html                    # the map as an inline picture
    assert "<table class=\"kmemlab-buddyinfo\">" in html        # buddyinfo as a table
    dma32 = m.zone("DMA32")
    row = "".join(f"<td>{fa.nr_free}</td>" for fa in dma32.free_area)
    assert f"<th>DMA32</th>{row}</tr>" in html
    assert "Memory: " in html and "reserved" in html            # the dmesg tail (boot's last lines)
    bundle = d._repr_mimebundle_()
    assert {"text/html", "text/plain", "application/vnd.jupyter.widget-view+json"} <= set(bundle)
    assert page is not None


def test_fallback_png_shows_the_allocation():
    from io import BytesIO
    from PIL import Image
    m = km.Machine(mem="128M", seed=4)
    pm = PhysMap(m)
    pg = m.alloc_pages(km.GFP_KERNEL, 4)
    pm.flush()
    im = Image.open(BytesIO(pm.png))
    assert im.size == (pm.width, pm.height) and im.mode == "P"
    px = np.asarray(im).ravel()
    assert np.all(px[pg.pfn:pg.pfn + 16] == km.kernel.mem_map.K_PAGES)


def test_display_machine_gives_a_dashboard_reused_per_machine():
    m = km.Machine(mem="128M", seed=5)
    b1 = m._repr_mimebundle_()
    b2 = m._repr_mimebundle_()
    key = "application/vnd.jupyter.widget-view+json"
    assert b1[key]["model_id"] == b2[key]["model_id"]
    assert len(m._bus.subscribers) == 1             # the dashboard's views share one hub
    m._dashboard.close()
    assert m._bus.subscribers == []


def test_importing_kmemlab_does_not_import_widgets():
    code = ("import sys, kmemlab as km; km.Machine(mem='64M').alloc_pages(km.GFP_KERNEL, 0);"
            "assert 'ipywidgets' not in sys.modules and 'bqplot' not in sys.modules;"
            "km.widgets.PhysMap; assert 'bqplot' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_display_falls_back_to_text_without_widgets():
    code = ("import sys; sys.modules['ipywidgets'] = None; import kmemlab as km;"
            "m = km.Machine(mem='64M'); b = m._repr_mimebundle_();"
            "assert list(b) == ['text/plain'] and 'Machine' in b['text/plain'], b")
    subprocess.run([sys.executable, "-c", code], check=True)
