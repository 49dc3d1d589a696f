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


def test_a_slow_redraw_gets_at_most_a_quarter_of_a_long_burst():
    """A redraw that takes 40 ms (a big physical map on a loaded box) while pokes come every
    millisecond: the coalescer spaces redraws out so drawing takes about a quarter of the
    time, not a third (the gap runs from one redraw's start to the next one's)."""
    clock = FakeClock()
    drawing = {"s": 0.0}

    def redraw():
        clock.t += 0.040
        drawing["s"] += 0.040
    c = Coalescer(redraw, interval=1 / 30, clock=clock)
    t0 = clock.t
    for _ in range(20_000):
        c.poke()
        clock.t += 0.001
    share = drawing["s"] / (clock.t - t0)
    assert 0.2 <= share <= 0.27, share
    assert c.redraws > 50                 # it still animates


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


# -- the bus's one-watcher fast path (events._one_watcher installed as bus.changed) ------

from hypothesis import example, given, settings, strategies as st  # noqa: E402

from kmemlab.kernel.events import WAKE_EVERY, Bus, Event  # noqa: E402


class _Waker:
    def __init__(self):
        self.n = 0

    def wake(self):
        self.n += 1


def _record(c):
    return (c.n, sorted(c.types), c.lo, c.hi, c.everything, dict(c.last), c.armed)


class _Reference:
    """What Changes says a watcher's record holds, written the plain way: every change
    kept, the fields derived from the list."""

    def __init__(self):
        self.changes, self.armed, self.wakes = [], True, 0

    def changed(self, type, pfn, nr, addr):
        self.changes.append((type, pfn, nr, addr))
        n = len(self.changes)
        if self.armed or n % WAKE_EVERY == 0:
            self.armed = False
            self.wakes += 1

    def take(self):
        r = self.record(armed=False)
        self.changes = []
        return r

    def record(self, armed=None):
        ch = self.changes
        frames = [(p, p + nr) for t, p, nr, a in ch if not a and p >= 0]
        last = {}
        for i, (t, p, nr, a) in enumerate(ch, 1):
            if a:
                last[t] = (i, a, p)
        return (len(ch), sorted({t for t, *_ in ch}), min((lo for lo, _ in frames), default=1 << 62),
                max((hi for _, hi in frames), default=0),
                any(t == "restore" and not a and p < 0 for t, p, nr, a in ch), last,
                self.armed if armed is None else armed)


_change = st.tuples(st.sampled_from(["alloc_pages", "free_pages", "kmalloc", "kfree", "vmalloc",
                                     "restore", "vfree"]),
                    st.integers(-1, 5000), st.integers(0, 1024), st.sampled_from([0, 0x1000, 0xffff8880]))
# mostly changes: bursts long enough for the every-WAKE_EVERY-th wake between takes
_step = st.one_of(_change, _change, _change, _change, st.just("take"), st.just("arm"))


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=max(200, 3 * WAKE_EVERY)), st.integers(1, 3))
@example([("kmalloc", 3, 0, 0x1000)] * (2 * WAKE_EVERY + 6) + ["take"]
         + [("alloc_pages", 9, 4, 0)] * (WAKE_EVERY + 8), 1)
@example([("kmalloc", 3, 0, 0x1000)] * (2 * WAKE_EVERY + 6) + ["take", "arm"]
         + [("restore", -1, 0, 0)] * (WAKE_EVERY + 8), 2)
@example([("free_pages", 5, 1, 0)] * (WAKE_EVERY - 1) + ["arm"] + [("free_pages", 6, 1, 0)] * 3, 1)
def test_the_bus_writes_each_watchers_record_as_changes_defines_it(steps, watchers):
    """One watcher (its _one_watcher function installed as bus.changed) or several (the
    loop in Bus.changed): every record, every wake, every take() is what the plain
    reference gives."""
    bus = Bus()
    wakers = [_Waker() for _ in range(watchers)]
    recs = [bus.watch(w.wake).changes for w in wakers]
    assert ("changed" in bus.__dict__) == (watchers == 1)
    refs = [_Reference() for _ in recs]
    for s in steps:
        if s == "take":
            for c, r in zip(recs, refs):
                assert _record(c.take()) == r.take()
        elif s == "arm":
            recs[0].armed = refs[0].armed = True
        else:
            type, pfn, nr, addr = s
            bus.changed(type, pfn, nr, 0, addr)
            for r in refs:
                r.changed(type, pfn, nr, addr)
        for c, r, w in zip(recs, refs, wakers):
            assert _record(c) == r.record() and w.n == r.wakes


def test_fast_path_follows_the_listeners():
    bus = Bus()
    w = _Waker()
    sub = bus.watch(w.wake)
    assert bus.changed is not Bus.changed.__get__(bus) and "changed" in bus.__dict__
    events = []
    cb = bus.subscribe(events.append)                 # a callback: the general path again
    assert "changed" not in bus.__dict__
    bus.emit(Event("kmalloc", 7, 0, 0, 0x1000, 64))
    assert events == [Event("kmalloc", 7, 0, 0, 0x1000, 64)] and sub.changes.n == 1
    cb.close()                                        # one watcher again: the fast path
    assert "changed" in bus.__dict__
    bus.emit(Event("alloc_pages", 3, 2))
    assert len(events) == 1 and sub.changes.n == 2 and sub.changes.frames() == (3, 5)
    w2 = _Waker()
    sub2 = bus.watch(w2.wake)                         # two watchers: the general path
    assert "changed" not in bus.__dict__
    sub.close()                                       # the second one alone: its own fast path
    bus.changed("free_pages", 10, 1)
    assert sub.changes.n == 2 and sub2.changes.n == 1 and sub2.changes.frames() == (10, 11)
    sub2.close()
    assert "changed" not in bus.__dict__ and not bus.subscribers


def test_one_view_on_a_machine_sees_what_two_views_see():
    """End to end: the same operations on two machines, one with a single hub (the fast
    path), one with two (the general loop), give the first hub the same records (a clock
    that stands still: the same redraws in both runs)."""
    from kmemlab.widgets.base import Hub
    recs = []
    for hubs in (1, 2):
        m = km.Machine(mem="128M", seed=11)
        clock = FakeClock()
        views = [PhysMap(m, hub=Hub(m, clock=clock)) for _ in range(hubs)]
        assert ("changed" in m._bus.__dict__) == (hubs == 1)
        hub = views[0]._hub
        seen = []
        pages = [m.alloc_pages(km.GFP_KERNEL, i % 3) for i in range(40)]
        seen.append(_record(hub._changes))
        ps = [m.kmalloc(32 + i) for i in range(70)]
        seen.append(_record(hub._changes))
        for i, p in enumerate(pages):
            m.free_pages(p, i % 3)
        for p in ps:
            m.kfree(p)
        seen.append(_record(hub._changes))
        clock.t += 1
        views[0].flush()
        recs.append((seen, hub.seq, views[0].redraws, views[0].pixels.tobytes()))
        for v in views:
            v.close()
    assert recs[0] == recs[1]
