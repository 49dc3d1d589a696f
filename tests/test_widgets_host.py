"""Host views (issue 13): BuddyChart, SlabView and ZoneView of a km.host(), re-read on the
refresh button or every auto= seconds.

Most tests read a fake /proc + /sys tree written by a simulated Machine (tests/fake_host.py),
so every number is known: the chart must show the tree's numbers, and after the files
change and the view re-reads, the new ones. The last tests read this machine's real files
(Linux; the slab table and the not-root message need root)."""

import asyncio
import gc
import os
import re
import subprocess
import sys
import textwrap
import time

import ipywidgets
import numpy as np
import pytest

import fake_host as F
import kmemlab as km
from kmemlab import helpers as H
from kmemlab.widgets import BuddyChart, PhysMap, SlabView, ZoneView
from kmemlab.widgets.hostview import HostHub, check_auto
from kmemlab.widgets.buddychart import LOG_BASE
from kmemlab.widgets.slabview import parse_slabinfo

LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/buddyinfo")
ROOT = LINUX and os.geteuid() == 0
CI = os.environ.get("CI") == "true"
linux = pytest.mark.skipif(not LINUX and not CI, reason="needs a running Linux (/proc/buddyinfo)")
as_root = pytest.mark.skipif(not ROOT and not CI, reason="needs root (/proc/slabinfo is mode 0400)")


class FakeLoop:
    """What HostHub needs of an asyncio loop: call_later() handles a test fires by hand."""

    def __init__(self):
        self.pending = []

    def call_later(self, delay, fn, *args):
        h = _Handle(self, delay, fn, args)
        self.pending.append(h)
        return h

    def fire(self):
        """Run the timers due now (one tick); how many ran."""
        due, self.pending = self.pending, []
        for h in due:
            if not h.cancelled:
                h.fn(*h.args)
        return sum(not h.cancelled for h in due)


class _Handle:
    def __init__(self, loop, delay, fn, args):
        self.loop, self.delay, self.fn, self.args = loop, delay, fn, args
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


def live(loop):
    return [h for h in loop.pending if not h.cancelled]


@pytest.fixture
def tree(tmp_path):
    """(machine, root): a tree laid out like / from a 256M machine; write(m) rewrites it."""
    m = km.Machine(mem="256M", seed=3)
    F.write(tmp_path, F.machine_texts(m))
    return m, tmp_path


def rewrite(m, root):
    """The machine's /proc files again (the sysfs geometry does not change; the counts
    come from slabinfo)."""
    F.write(root, {k: v for k, v in F.machine_texts(m).items() if k.startswith("proc/")})


def nr_free(m):
    return np.array([[fa.nr_free for fa in z.free_area] for z in H.for_each_populated_zone(m)], np.float64)


def drawn(chart):
    """The bar heights the browser gets, back as counts (the log scale's base is 0)."""
    y = np.asarray(chart.bars.y, np.float64)
    return np.where(y == LOG_BASE, 0.0, y) if chart.log else y


def bar(view):
    return view.host_hub.bar(view)


# -- the buddy chart draws the host's buddyinfo ------------------------------------------------

def test_buddychart_of_a_host_draws_its_nr_free_per_zone_and_order(tree):
    m, root = tree
    h = km.host(root=root)
    c = BuddyChart(h)
    want = np.array([[fa.nr_free for fa in z.free_area] for z in H.for_each_populated_zone(h)], np.float64)
    np.testing.assert_array_equal(c.counts(), want)
    np.testing.assert_array_equal(c.counts(), nr_free(m))             # the tree holds the machine's numbers
    np.testing.assert_array_equal(drawn(c), nr_free(m))
    assert list(c.bars.labels) == [z.name for z in H.for_each_populated_zone(m)]
    assert c.host is h and c.bars.y.max() > 0
    words = bar(c).text
    assert re.search(r"this machine: Linux 6\.18\.44-test \(fakehost\), read at \d\d:\d\d:\d\d", words)
    assert bar(c).widget in c.widget.children                        # the header is drawn, on top
    html = c.to_html()
    assert "this machine: Linux 6.18.44-test" in html and "kmemlab-buddyinfo" in html


def test_refresh_button_rereads_the_files_and_the_chart_shows_the_new_numbers(tree):
    m, root = tree
    h = km.host(root=root)
    c = BuddyChart(h)
    before = c.counts().copy()
    pages = [m.alloc_pages(order=o) for o in (0, 3, 3, 5, 9)]
    assert all(p is not None for p in pages)
    rewrite(m, root)
    np.testing.assert_array_equal(drawn(c), before)                  # nothing re-read yet
    read_at = h.read_at
    bar(c).button.click()
    assert h.read_at >= read_at and c.host_hub.reads == 1
    assert not np.array_equal(nr_free(m), before)
    np.testing.assert_array_equal(c.counts(), nr_free(m))
    np.testing.assert_array_equal(drawn(c), nr_free(m))
    assert bar(c).drawn_at == h.read_at
    for p, o in zip(pages, (0, 3, 3, 5, 9)):
        m.free_pages(p, o)
    rewrite(m, root)
    c.refresh()                                                       # the same as the button
    np.testing.assert_array_equal(drawn(c), nr_free(m))
    assert c.host_hub.reads == 2


def test_auto_rereads_on_each_tick_of_the_loop(tree):
    m, root = tree
    h = km.host(root=root)
    loop = FakeLoop()
    c = BuddyChart(h, hub=HostHub(h, auto=0.5, loop=loop))
    assert [t.delay for t in live(loop)] == [0.5]
    assert "re-read every 0.5 s" in bar(c).text
    for step in range(3):
        m.alloc_pages(order=2)
        rewrite(m, root)
        assert loop.fire() == 1
        np.testing.assert_array_equal(drawn(c), nr_free(m))
        assert len(live(loop)) == 1                                   # the next tick is armed
    assert c.host_hub.reads == 3


def test_auto_is_checked_and_a_machine_view_takes_none():
    assert check_auto(None) is None and check_auto(2) == 2.0
    for bad in ("1", True, [1]):
        with pytest.raises(TypeError, match="seconds between re-reads"):
            check_auto(bad)
    for bad in (0, -1, float("nan"), float("inf"), 0.01):
        with pytest.raises(ValueError, match="auto"):
            check_auto(bad)
    m = km.Machine(mem="128M")
    with pytest.raises(TypeError, match="auto= re-reads a host view"):
        BuddyChart(m, auto=1.0)
    assert BuddyChart(m, auto=None).host is None                      # the Machine path as before


def test_views_that_need_the_model_refuse_a_host_and_say_which_can(tree):
    _, root = tree
    h = km.host(root=root)
    with pytest.raises(TypeError, match="PhysMap shows a km.Machine, got the host.*BuddyChart, SlabView and ZoneView"):
        PhysMap(h)
    with pytest.raises(TypeError, match=r"BuddyChart shows a km.Machine or a km.host\(\), got str"):
        BuddyChart("localhost")
    with pytest.raises(TypeError, match="HostHub"):
        BuddyChart(h, hub=km.widgets.Hub(km.Machine(mem="128M")))
    with pytest.raises(ValueError, match="auto= belongs to the hub"):
        BuddyChart(h, hub=HostHub(h), auto=1.0)


def test_an_unreadable_file_shows_a_message_and_keeps_the_last_picture(tree):
    m, root = tree
    h = km.host(root=root)
    loop = FakeLoop()
    c = BuddyChart(h, hub=HostHub(h, auto=1.0, loop=loop))
    kept = drawn(c).copy()
    drawn_at = bar(c).drawn_at
    m.alloc_pages(order=4)
    (root / "proc/buddyinfo").write_text("Node 0, zone   Normal   garbage\n")
    assert loop.fire() == 1
    np.testing.assert_array_equal(drawn(c), kept)                     # the last picture stays
    words = bar(c).text
    assert "/proc/buddyinfo" in words and "the picture is still the read of" in words
    assert bar(c).drawn_at == drawn_at
    assert len(live(loop)) == 1                                       # the timer goes on
    (root / "proc/buddyinfo").unlink()
    c.refresh()
    assert "/proc/buddyinfo does not exist" in bar(c).text
    np.testing.assert_array_equal(drawn(c), kept)
    rewrite(m, root)                                                   # readable again
    assert loop.fire() == 1
    np.testing.assert_array_equal(drawn(c), nr_free(m))
    assert "the picture is still" not in bar(c).text and bar(c).message.value == ""


def test_a_failing_read_of_the_whole_host_is_shown_and_the_timer_goes_on(tree, monkeypatch):
    _, root = tree
    h = km.host(root=root)
    loop = FakeLoop()
    c = BuddyChart(h, hub=HostHub(h, auto=1.0, loop=loop))
    kept = drawn(c).copy()

    def broken():
        raise OSError("the disk went away")
    monkeypatch.setattr(h, "refresh", broken)
    assert loop.fire() == 1
    assert "could not read the host at" in bar(c).text and "the disk went away" in bar(c).text
    np.testing.assert_array_equal(drawn(c), kept)
    assert len(live(loop)) == 1


def test_the_timer_stops_when_the_view_is_closed_or_collected(tree):
    _, root = tree
    h = km.host(root=root)
    loop = FakeLoop()
    c = BuddyChart(h, hub=HostHub(h, auto=1.0, loop=loop))
    assert len(live(loop)) == 1
    c.close()
    assert live(loop) == [] and c.closed
    assert loop.fire() == 0                                           # nothing ticks any more
    loop2 = FakeLoop()
    c2 = BuddyChart(h, hub=HostHub(h, auto=1.0, loop=loop2))
    handle = live(loop2)[0]
    del c2
    gc.collect()
    assert handle.cancelled                                           # collected: the hub's finalizer
    loop2.fire()
    assert live(loop2) == []


def test_auto_runs_on_a_real_asyncio_loop_and_stops_with_the_view(tree):
    m, root = tree
    h = km.host(root=root)

    async def watch():
        c = BuddyChart(h, auto=0.1)
        m.alloc_pages(order=6)
        rewrite(m, root)
        for _ in range(40):                                           # up to 4 s on a busy box
            await asyncio.sleep(0.1)
            if c.host_hub.reads >= 2:
                break
        reads = c.host_hub.reads
        np.testing.assert_array_equal(drawn(c), nr_free(m))
        c.close()
        await asyncio.sleep(0.3)
        return reads, c.host_hub.reads

    reads, after = asyncio.run(watch())
    assert reads >= 2 and after == reads


def test_auto_without_a_loop_says_so_and_the_button_still_works(tree):
    m, root = tree
    h = km.host(root=root)
    c = BuddyChart(h, auto=1.0)                                       # no running loop here
    assert "needs the asyncio loop of a Jupyter kernel" in bar(c).text
    m.alloc_pages(order=1)
    rewrite(m, root)
    bar(c).button.click()
    np.testing.assert_array_equal(drawn(c), nr_free(m))


def test_views_sharing_a_host_hub_redraw_together_from_one_read(tree):
    m, root = tree
    h = km.host(root=root)
    loop = FakeLoop()
    hub = HostHub(h, auto=1.0, loop=loop)
    c, z = BuddyChart(h, hub=hub), ZoneView(h, hub=hub, presentation=True)
    assert len(live(loop)) == 1                                       # one timer for both
    p = m.alloc_pages(order=7)
    rewrite(m, root)
    assert loop.fire() == 1 and hub.reads == 1
    np.testing.assert_array_equal(drawn(c), nr_free(m))
    assert f">{z.zones()[-1]['free']}<" in z.table.value and z.zones()[-1]["free"] == \
        list(H.for_each_populated_zone(m))[-1].nr_free_pages
    assert "font-size:21px" in bar(z).header.value and "font-size:15px" in bar(c).header.value
    c.close()
    assert len(live(loop)) == 1                                       # the zone view still reads
    z.close()
    assert live(loop) == []
    m.free_pages(p, 7)


def test_a_japanese_host_view_labels_its_header_in_japanese(tree):
    _, root = tree
    c = BuddyChart(km.host(root=root), lang="ja")
    assert "このマシン: Linux 6.18.44-test (fakehost)" in bar(c).text and bar(c).button.description == "再読み込み"


# -- the slab view and the zone view ---------------------------------------------------------------

def test_slabview_of_a_host_draws_its_caches_and_says_it_has_no_objects(tree):
    m, root = tree
    h = km.host(root=root)
    sv = SlabView(h)
    want = {s.name: H.slab_cache_usage(s) for s in H.for_each_slab_cache(m)}
    assert sv.rows and sv.names_only == []
    for r in sv.rows:
        u = want[r["name"]]
        assert (r["active_objs"], r["num_objs"], r["num_slabs"]) == (u.active_objs, u.num_objs, u.num_slabs) or \
               r["active_objs"] >= u.active_objs                     # slabinfo counts CPU freelists as active
        assert r["objsize"] == H.find_slab_cache(m, r["name"]).size
    assert list(sv.total_bars.y) == [r["num_objs"] for r in reversed(sv.rows)]
    assert sv.slab_figure not in _tree(sv.widget)                     # no per-object picture, never a fake one
    assert "cannot be shown for this machine" in sv.slab_heading.value
    sv.select_cache("kmalloc-64")
    assert "object_size 64" in sv.cache_detail.value
    def row(name):
        r = next(r for r in parse_slabinfo(m.proc.slabinfo()) if r["name"] == name)
        return f"<td>{name}</td><td>{r['active_objs']}</td><td>{r['num_objs']}</td>"
    before = row("kmalloc-2k")
    assert before in sv.table.value
    keep = [m.kmalloc(2048) for _ in range(64)]
    rewrite(m, root)
    assert row("kmalloc-2k") != before and row("kmalloc-2k") not in sv.table.value
    sv.refresh()
    assert row("kmalloc-2k") in sv.table.value
    assert "kmemlab-slabinfo-table" in sv.to_html() and "this machine" in sv.to_html()
    del keep


def test_slabview_without_counts_lists_the_names_and_says_why(tree):
    m, root = tree
    texts = F.machine_texts(m)
    skip = {k for k in texts if k == "proc/slabinfo" or k.endswith(("/slabs", "/objects", "/total_objects"))}
    root2 = root / "noslabinfo"
    F.write(root2, texts, skip=skip)
    h = km.host(root=root2)
    sv = SlabView(h)
    assert sv.rows == [] and "kmalloc-64" in sv.names_only
    words = bar(sv).text
    assert "listed by name only" in words and "does not exist" in words
    assert "kmalloc-64" in sv.table.value


def test_zoneview_shows_watermarks_and_meminfo_of_a_machine_and_of_its_host_tree(tree):
    m, root = tree
    zm = ZoneView(m)
    zh = ZoneView(km.host(root=root))
    for zv in (zm, zh):
        rows = zv.zones()
        assert [(r["node"], r["zone"]) for r in rows] == [(z.node, z.name) for z in H.for_each_populated_zone(m)]
        for r, z in zip(rows, H.for_each_populated_zone(m)):
            assert (r["free"], r["min"], r["low"], r["high"], r["managed"]) == \
                   (z.nr_free_pages, H.min_wmark_pages(z), H.low_wmark_pages(z), H.high_wmark_pages(z),
                    z.managed_pages)
            assert r["min"] <= r["low"] <= r["high"]
            assert f">{r['high']}<" in zv.table.value
        assert zv.meminfo()["MemTotal"] == H.meminfo(m)["MemTotal"]
        assert f"{H.meminfo(m)['MemFree']} kB" in zv.meminfo_table.value
    free = zm.zones()[-1]["free"]
    p = m.alloc_pages(order=8)
    zm.flush()
    assert zm.zones()[-1]["free"] <= free - 256 and f">{zm.zones()[-1]['free']}<" in zm.table.value
    m.free_pages(p, 8)


def _tree(w):
    out, stack = [], [w]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(getattr(x, "children", ()))
    return out


# -- this machine ------------------------------------------------------------------------------------

def _buddyinfo():
    with open("/proc/buddyinfo") as f:
        return [(int(l.split()[1].rstrip(",")), l.split()[3], [int(x) for x in l.split()[4:]])
                for l in f if l.strip()]


@linux
def test_buddychart_of_this_machine_shows_proc_buddyinfo_read_at_the_same_moment():
    for attempt in range(20):
        before = _buddyinfo()
        c = BuddyChart(km.host())
        after = _buddyinfo()
        got = c.counts().astype(int).tolist()
        c.close()
        assert [z for _, z, _ in before] == [z for z in c.bars.labels] or \
               [f"node {n} {z}" for n, z, _ in before] == list(c.bars.labels)
        assert all(len(row) == len(before[0][2]) for row in got)
        if before == after:                                            # nothing moved meanwhile: exact
            assert got == [counts for _, _, counts in before]
            return
    # a busy machine: every zone's free pages lie between the two reads (give or take one read's motion)
    for row, (_, _, b), (_, _, a) in zip(got, before, after):
        pages = [sum(n << o for o, n in enumerate(x)) for x in (row, b, a)]
        lo, hi = min(pages[1:]), max(pages[1:])
        assert lo - (hi - lo) - 1024 <= pages[0] <= hi + (hi - lo) + 1024


def _slabinfo():
    with open("/proc/slabinfo") as f:
        return {l.split()[0]: int(l.split()[2]) for l in f.readlines()[2:]}


@as_root
def test_slab_table_of_this_machine_is_proc_slabinfo():
    for attempt in range(20):
        before = _slabinfo()
        sv = SlabView(km.host())
        after = _slabinfo()
        sv.close()
        got = {r["name"]: r["num_objs"] for r in sv.table_rows}
        assert sv.names_only == [] and len(got) >= 10
        assert [r["name"] for r in sv.rows] == [r["name"] for r in sv.table_rows[:len(sv.rows)]]
        if before == after:                                            # nothing moved meanwhile: exact
            assert got == {n: v for n, v in before.items() if v}
            return
    # a busy machine: the same caches, each count between the two reads
    assert set(got) <= set(before) | set(after)
    moved = [n for n, v in got.items() if not min(before.get(n, 0), after.get(n, 0)) <= v <= max(before.get(n, 0), after.get(n, 0))]
    assert len(moved) <= len(got) // 10, moved


@as_root
def test_without_root_the_slab_view_lists_names_and_says_they_are_root_only():
    if not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop to 'nobody'")
    drop = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*drop, sys.executable, "-c", "pass"], capture_output=True, text=True,
                           timeout=60, cwd="/")
    if probe.returncode != 0:
        # e.g. pyenv's 3.10 in /root: its libpython is found only through root's home
        pytest.skip(f"'nobody' cannot start this Python ({probe.stderr.strip()[:160]}); "
                    "the main CI job runs this test on its own Python")
    code = textwrap.dedent("""
        import kmemlab as km
        from kmemlab.widgets import SlabView, BuddyChart
        sv = SlabView(km.host())
        print("rows", len(sv.rows), "names", len(sv.names_only))
        print(sv.host_text())
        print("buddy", int(BuddyChart(km.host()).counts().sum()) > 0)
        d = km.widgets.Dashboard(km.host())        # the host dashboard, not root
        print("dash header", d.header.line.value.count("MemFree"), "(not root)" in d.header.line.value)
        print("dash slab", " ".join(d.view("slab").host_text().split()))
        print("dash zones", len(d.view("zones").zones()), "dash html", len(d.to_html()) > 1000)
    """)
    r = subprocess.run([*drop, sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                       cwd="/", env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(km.__file__))})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "(not root)" in out and "buddy True" in out
    # the dashboard: header and zones drawn, the slab tab says why it lists names only
    assert "dash header 1 True" in out and re.search(r"dash zones [1-9] dash html True", out), out
    if os.stat("/sys/kernel/slab/kmalloc-64/objects").st_mode & 0o004:
        assert re.search(r"rows [1-9]\d*", out)
    else:                                      # 6.x: every /sys/kernel/slab file is 0400 too
        assert re.search(r"rows 0 names [1-9]\d+", out), out
        assert "readable by root only" in out and "listed by name only" in out
        assert re.search(r"dash slab .*readable by root only.*listed by name only", out), out
    assert "Traceback" not in out + r.stderr


# -- dashboards: the zone tab of a Machine, and a dashboard of the host ----------------------------

def zoneinfo_numbers(text):
    """{zone: (free, min, low, high, managed)} parsed from a /proc/zoneinfo text, as a
    student would read it (the "pages free" line and the watermark lines of each zone)."""
    out = {}
    for block in re.split(r"(?m)^(?=Node \d+, zone)", text):
        head = re.match(r"Node (\d+), zone\s+(\S+)", block)
        if not head or not re.search(r"\n\s+managed\s+\d+", block):
            continue
        nums = [int(re.search(rf"\n\s+{k}\s+(\d+)", block).group(1)) for k in ("pages free", "min", "low",
                                                                                 "high", "managed")]
        if nums[-1]:
            out[(int(head.group(1)), head.group(2))] = tuple(nums)
    return out


def zone_rows(zv):
    return {(r["node"], r["zone"]): (r["free"], r["min"], r["low"], r["high"], r["managed"]) for r in zv.zones()}


def bar_widths(zv):
    return [float(w) for w in re.findall(r"kmemlab-zone-free' style='height:100%;width:([\d.]+)%", zv.table.value)]


def test_the_zone_tab_of_a_machine_dashboard_shows_zoneinfo_and_follows_allocations():
    m = km.Machine(mem="256M", seed=1)
    d = km.widgets.Dashboard(m, views=list(km.widgets.VIEWS))
    assert "zones" in d.tabs.titles and d.tabs.titles.index("zones") == d.tabs.titles.index("buddyinfo") + 1
    d.show_tab("zones")
    zv = d.view("zones")
    assert d.tabs.children[d.tabs.selected_index] is zv.widget
    assert zone_rows(zv) == zoneinfo_numbers(m.proc.zoneinfo())
    for r in zv.zones():
        assert f">{r['free']}<" in zv.table.value and f">{r['high']}<" in zv.table.value
    before, widths, redraws = zone_rows(zv), bar_widths(zv), zv.redraws
    dma32 = next(z for z in H.for_each_populated_zone(m) if z.name == "DMA32")
    held = []
    t0 = time.monotonic()
    # down below high: the bar (0 .. 2 x high) shrinks and the row says where free stands
    # (below low the allocator leaves DMA32 for DMA, as __zone_watermark_ok() says)
    while H.zone_page_state(dma32, "nr_free_pages") >= H.high_wmark_pages(dma32):
        held.append(m.alloc_pages(km.GFP_KERNEL, 0))
    d.flush()
    # coalesced: one redraw per burst_interval (0.5 s) at most while the burst runs, and
    # one at its end, for tens of thousands of alloc_pages calls
    assert len(held) > 10_000
    assert 1 <= zv.redraws - redraws <= 2 + (time.monotonic() - t0) / ZoneView.burst_interval
    now = zone_rows(zv)
    assert now == zoneinfo_numbers(m.proc.zoneinfo()) and now != before
    assert now[(0, "DMA32")][0] < before[(0, "DMA32")][0]
    free, _, low, high, _ = now[(0, "DMA32")]
    assert bar_widths(zv)[1] < widths[1] == 100.0 and abs(bar_widths(zv)[1] - 100 * free / (2 * high)) < 0.01
    assert ("between low and high" if free >= low else "below low: kswapd wakes") in zv.table.value
    assert f"{H.meminfo(m)['MemFree']} kB" in zv.meminfo_table.value
    for p in held:
        m.free_pages(p, 0)
    d.flush()
    assert zone_rows(zv) == zoneinfo_numbers(m.proc.zoneinfo())
    ja = km.widgets.Dashboard(m, views=["console", "physmap", "buddy", "zones"], lang="ja")
    assert "ゾーン" in ja.tabs.titles and "空きページと水位" in ja.view("zones").heading.value
    d.close(), ja.close()


def test_the_default_dashboard_keeps_its_tabs_and_zones_is_one_name_away():
    m = km.Machine(mem="128M", seed=0)
    d = km.widgets.Dashboard(m)
    assert "zones" not in d.tabs.titles and len(d.tabs.titles) == 7
    with pytest.raises(KeyError, match="no 'zones' tab"):
        d.show_tab("zones")
    with pytest.raises(TypeError, match="auto= re-reads a host dashboard"):
        km.widgets.Dashboard(m, auto=1.0)
    d.close()


def header_facts(d):
    f = d.header.facts()
    return f["release"], f["cpus"], f["MemFree"]


def test_a_host_dashboard_shows_the_host_files_and_one_refresh_rereads_them_all(tree):
    m, root = tree
    h = km.host(root=root)
    d = km.widgets.Dashboard(h)
    assert d.host is h and list(d.tabs.titles) == ["buddyinfo", "zones", "slab"]
    assert [type(v).__name__ for v in d.views] == ["BuddyChart", "ZoneView", "SlabView"]
    hub = d.hub
    assert all(v.host_hub is hub for v in d.views) and hub.header is False
    # one header and one button for all of them; the views keep only their message lines
    buttons = [w for w in _tree(d.widget) if isinstance(w, ipywidgets.Button)]
    assert [b.description for b in buttons if "kmemlab-host-refresh" in b._dom_classes] == ["refresh"]
    mi = {k: int(v.split()[0]) for k, v in (l.split(":") for l in (root / "proc/meminfo").read_text().splitlines())}
    assert header_facts(d) == ("6.18.44-test", m.cpus, mi["MemFree"])
    words = d.header.line.value
    assert f"MemFree {mi['MemFree']} kB" in words and f"{m.cpus} CPUs" in words and "6.18.44-test (fakehost)" in words
    np.testing.assert_array_equal(d.view("buddy").counts(), nr_free(m))
    assert zone_rows(d.view("zones")) == zoneinfo_numbers((root / "proc/zoneinfo").read_text())
    table = d.view("slab").table.value
    for r in parse_slabinfo((root / "proc/slabinfo").read_text()):
        if r["num_objs"]:
            assert f"<td>{r['name']}</td><td>{r['active_objs']}</td><td>{r['num_objs']}</td>" in table
    # the host changes; nothing moves until the button
    free0 = mi["MemFree"]
    held = [m.alloc_pages(order=o) for o in (9, 9, 8, 5, 3)] + [m.kmalloc(1024) for _ in range(100)]
    rewrite(m, root)
    assert header_facts(d)[2] == free0
    buttons[0].click()
    mi = {k: int(v.split()[0]) for k, v in (l.split(":") for l in (root / "proc/meminfo").read_text().splitlines())}
    assert hub.reads == 1 and header_facts(d)[2] == mi["MemFree"] < free0
    assert f"MemFree {mi['MemFree']} kB" in d.header.line.value
    np.testing.assert_array_equal(d.view("buddy").counts(), nr_free(m))
    assert zone_rows(d.view("zones")) == zoneinfo_numbers((root / "proc/zoneinfo").read_text())
    row = next(r for r in parse_slabinfo(m.proc.slabinfo()) if r["name"] == "kmalloc-1k")
    assert f"<td>kmalloc-1k</td><td>{row['active_objs']}</td><td>{row['num_objs']}</td>" in d.view("slab").table.value
    static = d.to_html()
    assert static.count("this machine: Linux") == 1 and "kmemlab-zones" in static and "kmemlab-buddyinfo" in static
    d.close()
    assert d.closed and hub.closed
    del held


def test_a_host_dashboard_ticks_on_auto_and_takes_only_host_views(tree):
    _, root = tree
    h = km.host(root=root)
    with pytest.raises(ValueError, match="a dashboard of the host shows buddy, zones, slab, not 'console'"):
        km.widgets.Dashboard(h, views=["console", "buddy"])
    with pytest.raises(ValueError, match="not 'physmap'"):
        km.widgets.Dashboard(h, views=["physmap"])
    with pytest.raises(ValueError, match="auto must be a positive"):
        km.widgets.Dashboard(h, auto=-1)
    d = km.widgets.Dashboard(h, auto=2.0)
    assert d.hub.auto == 2.0 and "re-read every 2 s" in d.header.line.value
    one = km.widgets.Dashboard(h, views=["zones"], lang="ja")
    assert one.tabs is None and "このマシン" in one.header.line.value and "再読み込み" == one.header.button.description
    d.close(), one.close()


def test_a_host_dashboard_without_some_files_shows_the_rest_and_says_why(tree):
    m, root = tree
    texts = F.machine_texts(m)
    # not root on 6.x: no slabinfo, every /sys/kernel/slab count is 0400
    skip = {k for k in texts if k == "proc/slabinfo" or k.endswith(("/slabs", "/objects", "/total_objects"))}
    F.write(root / "notroot", texts, skip=skip)
    d = km.widgets.Dashboard(km.host(root=root / "notroot"))
    np.testing.assert_array_equal(d.view("buddy").counts(), nr_free(m))          # what can be shown is
    assert zone_rows(d.view("zones")) == zoneinfo_numbers(texts["proc/zoneinfo"])
    assert "listed by name only" in d.view("slab").host_text() and "kmalloc-64" in d.view("slab").table.value
    d.close()
    # no zoneinfo (the host's zones come from it): the buddy and zone tabs say so, the
    # header and the slab tab are drawn, and nothing raises
    F.write(root / "nozones", texts, skip={"proc/zoneinfo"})
    d = km.widgets.Dashboard(km.host(root=root / "nozones"))
    for name in ("buddy", "zones"):
        assert "/proc/zoneinfo does not exist" in d.view(name).host_text()
    assert f"MemFree {H.meminfo(m)['MemFree']} kB" in d.header.line.value
    assert "kmemlab-slabinfo-table" in d.view("slab").table.value and "kmalloc-64" in d.view("slab").table.value
    d.refresh()
    assert "/proc/zoneinfo does not exist" in d.view("zones").host_text()
    assert "Traceback" not in d.to_html() and "kmemlab-dashboard-static" in d.to_html()
    d.close()


@linux
def test_the_dashboard_of_this_machine_shows_its_files_and_refresh_follows_a_workload():
    h = km.host()
    d = km.widgets.Dashboard(h)
    for attempt in range(20):
        d.refresh()
        with open("/proc/buddyinfo") as f:
            real = [[int(x) for x in l.split()[4:]] for l in f if l.strip()]
        if d.view("buddy").counts().astype(int).tolist() == real:
            break
    else:
        pytest.fail("the dashboard's buddy chart never matched /proc/buddyinfo read just after it")
    with open("/proc/meminfo") as f:
        mi = {l.split(":")[0]: int(l.split()[1]) for l in f}
    assert d.header.facts()["release"] == os.uname().release
    assert d.header.facts()["cpus"] == len(os.sched_getaffinity(0)) or d.header.facts()["cpus"] == os.cpu_count()
    assert abs(d.header.facts()["MemFree"] - mi["MemFree"]) < 64 << 10     # within 64 MiB of a read just after
    with open("/proc/zoneinfo") as f:
        real_zones = zoneinfo_numbers(f.read())
    shown = zone_rows(d.view("zones"))
    assert set(shown) == set(real_zones)
    for z, (free, mi_, lo, hi, managed) in shown.items():
        assert (mi_, lo, hi) == real_zones[z][1:4] or abs(mi_ - real_zones[z][1]) < 64   # watermarks (boost aside)
    free0 = d.header.facts()["MemFree"]
    # 256 MiB allocated and touched in a subprocess: MemFree drops while it holds them
    hold = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        b = bytearray(256 << 20)
        for i in range(0, len(b), 4096):
            b[i] = 1
        print("ready", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "ready"
        d.refresh()
        during = d.header.facts()["MemFree"]
        assert during < free0 - (128 << 10), (free0, during)
        assert f"MemFree {during} kB" in d.header.line.value
    finally:
        hold.communicate("")
    d.close()


# -- the slab view's numbers come from the counters, and are /proc/slabinfo's ----------------------

@pytest.mark.parametrize("kernel", ["4.5", "6.6", "6.18"])
def test_the_slab_views_numbers_are_proc_slabinfo_without_reading_it(kernel, monkeypatch):
    m = km.Machine(mem="512M", seed=7, kernel=kernel)
    rng = np.random.default_rng(7)
    live = []
    sv = SlabView(m)
    for burst in range(3):
        for size in rng.integers(8, 4096, 6000).tolist():
            live.append(m.kmalloc(size))
        for i in sorted(rng.choice(len(live), len(live) // 2, replace=False).tolist(), reverse=True):
            m.kfree(live.pop(i))                      # partial slabs on every list
        sv.flush()
        want = [r for r in parse_slabinfo(m.proc.slabinfo()) if r["num_objs"]]
        want.sort(key=lambda r: -r["num_objs"])
        assert sv.table_rows == want and sv.rows == want[:len(sv.rows)]
        assert list(sv.total_bars.y) == [r["num_objs"] for r in reversed(sv.rows)]
        assert list(sv.active_bars.y) == [r["active_objs"] for r in reversed(sv.rows)]
        for r in want:
            assert f"<td>{r['name']}</td><td>{r['active_objs']}</td><td>{r['num_objs']}</td>" in sv.table.value
    # the file's numbers, counted another way: every slab of the cache, and the free
    # objects of the node partial lists (what get_slabinfo() subtracts; CPU slabs count
    # as active in slabinfo)
    for s in H.for_each_slab_cache(m):
        slabs = list(H.slab_cache_for_each_slab(s))
        si = H.get_slabinfo(s)
        free = 0
        for n in s.node:
            for sl in n.partial.values():
                free += sl.objects - sl.inuse
        assert (si.num_slabs, si.num_objs, si.active_objs) == \
               (len(slabs), sum(sl.objects for sl in slabs), sum(sl.objects for sl in slabs) - free), s.name
        assert si.active_objs >= H.slab_cache_usage(s).active_objs          # drgn's count is exact
    # a redraw reads the counters, not the text
    monkeypatch.setattr(type(m.proc), "slabinfo", lambda self: pytest.fail("the view read /proc/slabinfo"))
    live.append(m.kmalloc(96))
    sv.refresh()
    assert "kmalloc-96" in sv.table.value and "kmemlab-slabinfo-table" in sv.to_html()
