"""Views that cost little and leave nothing behind (issue 19): subscriptions are held
weakly, a dropped view unsubscribes itself and closes its widgets, and redrawing never
grows the number of live widgets."""

import gc

import ipywidgets
import kmemlab as km
from kmemlab.widgets import Dashboard, PhysMap


def _live_widgets() -> int:
    # the live-widget registry: _active_widgets from 8.0.0 on (8.0.1, the lower bound, has
    # no public Widget.widgets; later 8.x keep that as a deprecated alias of it)
    return len(ipywidgets.Widget._active_widgets)


def test_a_dropped_dashboard_unsubscribes_itself_and_closes_its_widgets():
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    d = Dashboard(m)
    assert m._bus.subscribers and _live_widgets() > n0
    del d
    gc.collect()
    assert m._bus.subscribers == []
    assert _live_widgets() == n0


def test_twenty_dropped_dashboards_leave_kmalloc_with_nobody_to_tell():
    # (how fast kmalloc then is: benchmarks/bench_widgets.py, "20 dropped dashboards")
    m = km.Machine(mem="128M", seed=0)
    for _ in range(20):
        Dashboard(m)                   # built, shown nowhere, dropped
    gc.collect()
    assert m._bus.subscribers == [] and m._bus._watchers == () and m._bus._callbacks == ()
    calls = []

    def count(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)
    import sys
    sys.setprofile(count)
    try:
        m.kfree(m.kmalloc(64))
    finally:
        sys.setprofile(None)
    assert "changed" not in calls and "_wake" not in calls      # the hot path tells no one


def test_close_still_works_and_a_lambda_subscriber_is_kept_until_closed():
    m = km.Machine(mem="128M", seed=0)
    seen = []
    h = m.subscribe(lambda e: seen.append(e.type))   # nothing else holds the lambda
    gc.collect()
    m.kfree(m.kmalloc(64))
    assert seen[-2:] == ["kmalloc", "kfree"]
    h.close()
    m.kmalloc(64)
    assert seen[-1] == "kfree"
    pm = PhysMap(m)
    pm.close()
    assert pm.closed and m._bus.subscribers == []


def test_a_bound_method_subscriber_goes_away_with_its_object():
    m = km.Machine(mem="128M", seed=0)

    class Listener:
        def __init__(self):
            self.n = 0

        def on(self, ev):
            self.n += 1
    x = Listener()
    m.subscribe(x.on)
    m.kmalloc(8)
    assert x.n >= 1
    del x
    gc.collect()
    assert m._bus.subscribers == []
    m.kmalloc(8)                      # nothing to call, nothing raised


def test_physmap_live_widget_count_stays_flat_over_1000_redraws():
    m = km.Machine(mem="128M", seed=0)
    pm = PhysMap(m, interval=0)
    pm.flush()
    n0 = _live_widgets()
    for i in range(1000):
        pg = m.alloc_pages(km.GFP_KERNEL, i % 3)
        pm.flush()
        m.free_pages(pg, i % 3)
        pm.flush()
    assert pm.redraws >= 1000
    assert _live_widgets() == n0
    pm.close()


def test_the_whole_dashboard_live_widget_count_stays_flat():
    m = km.Machine(mem="128M", seed=0)
    d = Dashboard(m)
    c = d.view("console")
    c.bytes.value = "8K"
    c.kmalloc_button.click()
    c.vmalloc_button.click()
    n0 = _live_widgets()
    for _ in range(50):
        c.kmalloc_button.click()
        c.free_button.click()
        p = m.vmalloc(3 * m.PAGE_SIZE)
        d.flush()
        m.vfree(p)
        d.flush()
    assert _live_widgets() == n0
    d.close()
