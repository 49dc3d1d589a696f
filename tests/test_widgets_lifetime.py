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


# -- a shown view stays until its widget closes (issue 14: display(PhysMap(m)) with no name) --

import types
import weakref

import pytest

from kmemlab.widgets import base


def _show_and_drop(view) -> weakref.ref:
    """What ``display(view)`` with no name leaves: the bundle went out, no name holds it."""
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    ref = weakref.ref(view)
    del view, bundle
    gc.collect()
    return ref


def _assert_gone(ref, m, n0) -> None:
    """The view was collected, nothing watches the machine, no widget is left over."""
    gc.collect()
    assert ref() is None and m._bus.subscribers == [] and _live_widgets() == n0


def test_a_shown_view_that_no_name_holds_keeps_drawing_until_closed():
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    ref = _show_and_drop(PhysMap(m, interval=0))
    assert ref() is not None and not ref().closed and m._bus.subscribers
    redraws, png, before = ref().redraws, ref().png, ref().pixels.copy()
    pg = m.alloc_pages(km.GFP_KERNEL, 6)          # 64 frames change colour
    ref().flush()
    assert ref().redraws > redraws and ref().png != png
    assert ref().pixels[pg.pfn] != before[pg.pfn]
    ref().close()
    _assert_gone(ref, m, n0)


@pytest.mark.parametrize("how", ["widget.close()", "front end"])
def test_closing_a_shown_views_widget_closes_the_view(how):
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    ref = _show_and_drop(PhysMap(m, interval=0))
    w = ref().widget
    if how == "widget.close()":
        w.close()
    else:                                       # the comm_close message the front end sends
        w.comm._closed = True
        w.comm.handle_close({"content": {"comm_id": w.comm.comm_id, "data": {}}})
    del w
    _assert_gone(ref, m, n0)


def test_a_never_shown_view_that_is_dropped_still_closes_itself():
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    pm = PhysMap(m)
    pm._repr_html_()                            # the static picture pins nothing
    ref = weakref.ref(pm)
    del pm
    _assert_gone(ref, m, n0)


def test_a_shown_dashboard_that_no_name_holds_stays_and_close_releases_it():
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    ref = _show_and_drop(Dashboard(m))
    assert ref() is not None and m._bus.subscribers
    header = ref().header
    m.alloc_pages(km.GFP_KERNEL, 4)
    ref().flush()
    assert f"free={m._free_pages() << 2}kB" in header.widget.value
    del header
    ref().close()
    _assert_gone(ref, m, n0)


def test_showing_a_view_again_and_again_leaves_the_widget_count_flat():
    m = km.Machine(mem="128M", seed=0)
    pm = PhysMap(m, interval=0)
    pm._repr_mimebundle_()
    n0 = _live_widgets()
    for _ in range(20):
        pm._repr_mimebundle_()
    assert _live_widgets() == n0
    pm.close()


def _fake_kernel(monkeypatch, cell, msg_id):
    parent = {"header": {"msg_id": msg_id}, "metadata": {"cellId": cell}}
    shell = getattr(_fake_kernel, "shell", None) or types.SimpleNamespace(
        events=types.SimpleNamespace(register=lambda *a: None, unregister=lambda *a: None))
    _fake_kernel.shell = shell
    shell.kernel = types.SimpleNamespace(get_parent=lambda channel=None: parent)
    import IPython
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)


def test_running_the_cell_again_lets_the_views_of_its_earlier_run_go(monkeypatch):
    _fake_kernel.shell = None
    m = km.Machine(mem="128M", seed=0)
    n0 = _live_widgets()
    _fake_kernel(monkeypatch, "cell-a", "run-1")
    first = _show_and_drop(PhysMap(m))
    second = _show_and_drop(PhysMap(m))       # the same run shows two: both stay
    _fake_kernel(monkeypatch, "cell-b", "run-2")
    other = _show_and_drop(PhysMap(m))        # another cell's view is not touched
    assert first() and second() and other()
    _fake_kernel(monkeypatch, "cell-a", "run-3")   # cell a runs again: its outputs are replaced
    third = _show_and_drop(PhysMap(m))
    gc.collect()
    assert first() is None and second() is None
    assert third() is not None and other() is not None
    assert len(m._bus.subscribers) == 2
    third().close()
    other().close()
    gc.collect()
    assert m._bus.subscribers == [] and _live_widgets() == n0


def test_running_the_cell_again_keeps_a_view_a_name_holds(monkeypatch):
    _fake_kernel.shell = None
    m = km.Machine(mem="128M", seed=0)
    _fake_kernel(monkeypatch, "cell-a", "run-1")
    kept = PhysMap(m)
    kept._repr_mimebundle_()
    _fake_kernel(monkeypatch, "cell-a", "run-2")
    _show_and_drop(PhysMap(m))
    gc.collect()
    assert not kept.closed and m._bus.subscribers
    kept.close()
