"""SlabView: the slab caches (``/proc/slabinfo``) and one slab's objects.

Top: one pair of bars per cache that holds slabs, with the numbers ``/proc/slabinfo``
prints (the read interface's ``get_slabinfo()``, the kernel's function behind the file:
the picture and the file never disagree, and a redraw does not print and parse the
file): a light bar for ``<num_objs>`` and a dark one for ``<active_objs>``; the slab
counts are in the labels and the table. SLUB counts
every object of a CPU's slab as active (the free ones sit on that CPU's lockless
freelist), which is why a fresh cache shows a full bar after one kmalloc.

Bottom: one slab of the chosen cache drawn object by object, in address order:
in use (green), free on the slab's own freelist (grey), free on a CPU's lockless
freelist (blue). The free lists are read by following the free pointers stored in the
objects (``get_freepointer``), as the kernel does.

``SlabView(km.host())`` draws this Linux's caches the same way, from the read interface
(``/proc/slabinfo`` as root, else ``/sys/kernel/slab``), re-read on its refresh button or
every ``auto=`` seconds (:mod:`.hostview`). The per-object picture needs what no file
shows (the objects of a slab, its freelists): a host view says so instead of drawing
it, and picking a cache shows its geometry. Without root on 6.x only the caches' names
can be read (slabinfo and every ``/sys/kernel/slab`` attribute are mode 0400): the view
lists them and says why.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..kernel.helpers import (OBJ_CPU_FREE, OBJ_FREE, OBJ_USED, find_slab_cache, for_each_slab_cache,
                              get_slabinfo, page_slab, slab_cache_for_each_slab, slab_cache_is_merged)
from ..kernel.helpers import slab_object_states as _slab_object_states
from .base import View, weak_handler
from .buddychart import nice_ticks
from .hostview import HOST_READ_ERRORS, HostReadable

__all__ = ["SlabView", "parse_slabinfo", "slab_object_states", "OBJ_USED", "OBJ_FREE", "OBJ_CPU_FREE"]

#: how many slabs the slab list offers at a time (those around the slab shown)
_SLAB_CHOICES = 64

_OBJ_COLOURS = ["#DDDDDD", "#88CCEE", "#117733"]     # free, free on a CPU freelist, in use
MAX_CACHES = 14


def parse_slabinfo(text: str) -> list[dict]:
    """The rows of ``/proc/slabinfo`` 2.1 as dicts (name, active_objs, num_objs, objsize,
    objperslab, pagesperslab, active_slabs, num_slabs)."""
    rows = []
    for line in text.splitlines()[2:]:
        f = line.split()
        if len(f) < 16:
            continue
        rows.append({"name": f[0], "active_objs": int(f[1]), "num_objs": int(f[2]),
                     "objsize": int(f[3]), "objperslab": int(f[4]), "pagesperslab": int(f[5]),
                     "active_slabs": int(f[13]), "num_slabs": int(f[14])})
    return rows


def slab_object_states(machine, slab) -> np.ndarray:
    """int8 per object of ``slab``: OBJ_USED / OBJ_FREE / OBJ_CPU_FREE, found by following
    the free pointers stored in the objects (``get_freepointer``), as the kernel does
    (:func:`kmemlab.helpers.slab_object_states`; ``machine`` is kept for callers)."""
    return _slab_object_states(slab)


class SlabView(HostReadable, View):
    """``SlabView(m)``; ``sv.rows`` (slabinfo rows drawn as bars; ``sv.table_rows``: every
    row of the table), ``sv.select_slab(pfn)``,
    ``sv.object_states()`` (state of each object of the shown slab).

    ``SlabView(km.host(), auto=2.0)``: this Linux's caches (the cache table and bars;
    ``sv.select_cache(name)`` shows a cache's geometry), re-read every 2 s; ``sv.names_only``
    lists the caches whose counts could not be read (not root)."""

    title = "slab caches"
    WAKE = frozenset(("kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free", "vmalloc",
                      "vfree", "restore"))
    #: reading /proc/slabinfo and chasing freelists is not free: twice a second in a burst
    burst_interval = 0.5

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        self.rows: list[dict] = []
        #: host caches whose counts could not be read (not root), by name
        self.names_only: list[str] = []
        self.slab = None                 # the Slab drawn below
        self._follow_pfn = None
        ys = bq.OrdinalScale()
        self._xs = xs = bq.LinearScale(min=0.0, max=1.0)
        sc = {"x": ys, "y": xs}
        self._xaxis = bq.Axis(scale=xs, label=self.t("slab.xaxis"), tick_format="d",
                              tick_style={"font-size": f"{self.px(12)}px"})
        self.total_bars = bq.Bars(x=["-"], y=[0], scales=sc, orientation="horizontal",
                                  colors=["#BBDDBB"], padding=0.25, labels=["num_objs"])
        self.active_bars = bq.Bars(x=["-"], y=[0], scales=sc, orientation="horizontal",
                                   colors=["#117733"], padding=0.45, labels=["active_objs"])
        self.figure = bq.Figure(marks=[self.total_bars, self.active_bars],
                                axes=[bq.Axis(scale=ys, orientation="vertical", label=""),
                                      self._xaxis],
                                title=self.t("slab.title"),
                                title_style={"font-size": f"{self.px(17)}px"},
                                fig_margin={"top": self.px(40), "bottom": self.px(50),
                                            "left": self.px(130), "right": 20},
                                layout=W.Layout(width="100%", min_width="0", height=f"{self.px(400)}px"))
        self.figure.add_class("kmemlab-slab-caches")
        gx = bq.LinearScale(min=-0.5, max=31.5)
        gy = bq.LinearScale(min=-0.5, max=7.5, reverse=True)
        self._gx, self._gy = gx, gy
        # one mark per state, each with its own shape as well as its colour: the picture
        # reads in greyscale and to colour-blind eyes (square in use, hollow square free,
        # diamond free on a CPU freelist)
        sc2 = {"x": gx, "y": gy}
        self.objects = bq.Scatter(x=[0], y=[0], scales=sc2, marker="square", default_size=260,
                                  colors=[_OBJ_COLOURS[OBJ_USED]], stroke="#333333")
        self.objects_free = bq.Scatter(x=[0], y=[0], scales=sc2, marker="square", default_size=260,
                                       colors=["#FFFFFF"], stroke="#555555", stroke_width=2)
        self.objects_cpu = bq.Scatter(x=[0], y=[0], scales=sc2, marker="diamond", default_size=260,
                                      colors=[_OBJ_COLOURS[OBJ_CPU_FREE]], stroke="#333333")
        self.slab_figure = bq.Figure(marks=[self.objects, self.objects_free, self.objects_cpu],
                                     axes=[], padding_x=0, padding_y=0,
                                     title="", fig_margin={"top": 8, "bottom": 8, "left": 8, "right": 8},
                                     layout=W.Layout(width="100%", min_width="0", height=f"{self.px(280)}px"))
        self.slab_heading = W.HTML("")
        self.slab_heading.add_class("kmemlab-slab-title")
        self.slab_figure.add_class("kmemlab-slab-objects")
        self._h_cache = weak_handler(self._on_cache)
        self._h_slab = weak_handler(self._on_slab)
        self.cache_box = W.Dropdown(options=[], description=self.t("slab.cache"),
                                    layout=W.Layout(width="100%", max_width="320px"))
        self.cache_box.observe(self._h_cache, names=["value"])
        self.slab_box = W.Dropdown(options=[], description=self.t("slab.slab"),
                                   layout=W.Layout(width="100%", max_width="320px"))
        self.slab_box.observe(self._h_slab, names=["value"])
        self.legend = W.HTML(
            f'<span style="font-size:{self.px(14)}px">' + "".join(
                f'<span style="margin:0 10px 0 0;color:{c};font-size:{self.px(18)}px">{sym}</span>'
                f'{html.escape(self.t(key))} '
                for c, sym, key in ((_OBJ_COLOURS[2], "&#9632;", "slab.used"), ("#555555", "&#9633;", "slab.free"),
                                    ("#3388BB", "&#9670;", "slab.cpu_free"))) + "</span>")
        self.table = W.HTML("")
        self.table.add_class("kmemlab-slabinfo")
        if self.host is None:
            right = W.VBox([self.cache_box, self.slab_box, self.legend, self.slab_heading, self.slab_figure],
                           layout=W.Layout(flex="1 1 320px", min_width="0"))
        else:
            # a host has no per-object picture: say so where it would be (never fake one)
            self._extra_widgets += [self.slab_box, self.legend, self.slab_figure]
            self.slab_heading.value = (f'<div style="font-size:{self.px(14)}px;color:#555;max-width:40em">'
                                       f'{html.escape(self.t("host.slab_objects"))}</div>')
            self.cache_detail = W.HTML("")
            self.cache_detail.add_class("kmemlab-slab-cache-detail")
            right = W.VBox([self.cache_box, self.cache_detail, self.slab_heading],
                           layout=W.Layout(flex="1 1 320px", min_width="0"))
            # a real machine has a hundred caches and more: the table scrolls, the bars stay in view
            self.table.layout = W.Layout(max_height=f"{self.px(420)}px", overflow_y="auto", min_width="0")
        self.widget = W.VBox(self.host_widgets() + [
                              W.HBox([W.Box([self.figure], layout=W.Layout(flex="1 1 360px", min_width="0")),
                                      right], layout=W.Layout(flex_flow="row wrap", width="100%")),
                              self.table], layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-slab-view")
        self._redraw()
        self.host_ready()

    # -- data ------------------------------------------------------------------------

    def object_states(self, slab=None) -> np.ndarray:
        """int8 per object of ``slab`` (default: the one shown): OBJ_USED / OBJ_FREE / OBJ_CPU_FREE."""
        slab = self.slab if slab is None else slab
        if slab is None:
            return np.zeros(0, np.int8)
        return slab_object_states(self.machine, slab)

    def _note(self, changes) -> None:
        newest = changes.newest(("kmalloc", "kmem_cache_alloc"))
        if newest is not None and newest[2] >= 0:
            self._follow_pfn = newest[2]       # a slab's first frame (checked at the redraw)

    def select_slab(self, pfn: int) -> None:
        """Draw the slab that holds frame ``pfn``."""
        slab = page_slab(self.machine, int(pfn))
        if slab is None:
            raise ValueError(f"pfn {int(pfn):#x} is not a slab page")
        self.slab = slab
        self._draw_slab()

    def select_cache(self, name: str) -> None:
        """Draw the first slab of cache ``name`` (a host's: show the cache's geometry)."""
        s = find_slab_cache(self.machine, name)
        if s is None:
            raise ValueError(f"no slab cache named {name!r}")
        if self.host is not None:
            self._show_host_cache(s)
            return
        self.slab = next(slab_cache_for_each_slab(s), None)      # the lowest pfn
        self._draw_slab(cache=s)

    # -- drawing --------------------------------------------------------------------

    @staticmethod
    def _row(s) -> dict | None:
        """The slabinfo row of cache ``s`` (None for a cache holding no slabs)."""
        si = get_slabinfo(s)
        if not si.num_objs:
            return None
        return {"name": s.name, "active_objs": si.active_objs, "num_objs": si.num_objs, "objsize": s.size,
                "objperslab": si.objects_per_slab, "pagesperslab": 1 << si.cache_order,
                "active_slabs": si.active_slabs, "num_slabs": si.num_slabs}

    def _machine_rows(self) -> list[dict]:
        """The slabinfo rows of a Machine's caches holding slabs, newest cache first as the
        file lists them, from the model's counters (``get_slabinfo()``)."""
        return [r for r in map(self._row, for_each_slab_cache(self.machine)) if r is not None]

    def _host_rows(self) -> tuple[list[dict], list[str], list[str]]:
        """(slabinfo rows, names of caches without counts, notes) of a host, read
        through the read interface."""
        rows, names, why = [], [], None
        try:
            caches = list(for_each_slab_cache(self.machine))
        except HOST_READ_ERRORS as e:
            return [], [], [str(e)]
        for s in caches:
            try:
                r = self._row(s)
            except HOST_READ_ERRORS as e:
                names.append(s.name)
                why = why or str(e)
            else:
                if r is not None:
                    rows.append(r)
        notes = []
        if names:
            # the host's own words for the files it could not read (slabinfo, the sysfs counts)
            said = [why_not for path, why_not in self.machine.unreadable.items()
                    if path == "/proc/slabinfo" or path.startswith("/sys/kernel/slab")]
            notes = said or [why]
            notes.append(self.t("host.slab_names_only", n=len(names)))
        return rows, names, notes

    def _show_host_cache(self, s) -> None:
        """A host cache's geometry, as far as the files show it (root only on 6.x)."""
        parts = []
        for label, get in (("object_size", lambda: s.object_size), ("size", lambda: s.size),
                           ("align", lambda: s.align), ("objs/slab", lambda: s.objects),
                           ("order", lambda: s.order), ("merged", lambda: slab_cache_is_merged(s))):
            try:
                parts.append(f"{label} {get()}")
            except HOST_READ_ERRORS as e:
                parts.append(f"{label}: {e}")
                break
        if s.alias_names:
            parts.append("aliases " + ", ".join(s.alias_names[:6]) + (" ..." if len(s.alias_names) > 6 else ""))
        self.cache_detail.value = (f'<div style="font-size:{self.px(14)}px"><b>{html.escape(s.name)}</b>: '
                                   f'{html.escape("; ".join(parts))}</div>')

    def _redraw(self) -> None:
        m = self.machine
        if self.host is not None:
            rows, self.names_only, notes = self._host_rows()
            self.host_say(notes)
        else:
            rows = self._machine_rows()
        rows.sort(key=lambda r: -r["num_objs"])
        self.table_rows = rows                       # every cache holding slabs (the table)
        self.rows = rows[:MAX_CACHES]                # the largest (the bars)
        shown = list(reversed(self.rows))            # the largest at the top
        names = [r["name"] for r in shown] or ["(no slabs)"]
        tot = np.array([r["num_objs"] for r in shown] or [0], np.float64)
        act = np.array([r["active_objs"] for r in shown] or [0], np.float64)
        with self.total_bars.hold_sync(), self.active_bars.hold_sync(), self._xs.hold_sync():
            self._xs.max = float(max(1.0, tot.max() * 1.05))
            self._xaxis.tick_values = nice_ticks(self._xs.max)
            self.total_bars.x = names
            self.total_bars.y = tot
            self.active_bars.x = names
            self.active_bars.y = act
        self.table.value = self._table_html(rows, self.names_only)
        names_all = [r["name"] for r in rows] + self.names_only
        if list(self.cache_box.options) != names_all:
            keep = self.cache_box.value
            self.cache_box.unobserve(self._h_cache, names=["value"])
            self.cache_box.options = names_all
            self.cache_box.value = keep if keep in names_all else None
            self.cache_box.observe(self._h_cache, names=["value"])
        if self.host is not None:
            return                                   # no slabs to follow on a host
        if self._follow_pfn is not None:
            pfn, self._follow_pfn = self._follow_pfn, None
            followed = page_slab(m, pfn)
            if followed is not None:
                self.slab = followed
        if self.slab is not None and page_slab(m, self.slab.pfn) is not self.slab:
            self.slab = None                         # discarded (or a restore happened)
        self._draw_slab()

    def _draw_slab(self, cache=None) -> None:
        slab = self.slab
        s = slab.slab_cache if slab is not None else cache
        if s is not None and self.cache_box.value != s.name and s.name in self.cache_box.options:
            self.cache_box.unobserve(self._h_cache, names=["value"])
            self.cache_box.value = s.name
            self.cache_box.observe(self._h_cache, names=["value"])
        slabs = list(slab_cache_for_each_slab(s)) if s is not None else []
        if len(slabs) > _SLAB_CHOICES:
            # the slabs around the one shown: a kmalloc cache after a burst on a 4 GiB
            # machine has thousands, and a Dropdown of them cost ~120 ms per redraw (the
            # widget validates every option), which spaced out every view's redraws
            i = next((k for k, sl in enumerate(slabs) if sl is slab), 0)
            lo = max(0, min(i - _SLAB_CHOICES // 2, len(slabs) - _SLAB_CHOICES))
            slabs = slabs[lo:lo + _SLAB_CHOICES]
        opts = [(f"pfn {sl.pfn:#x}  {sl.inuse}/{sl.objects}", sl.pfn) for sl in slabs]
        self.slab_box.unobserve(self._h_slab, names=["value"])
        if tuple(self.slab_box.options) != tuple(opts):
            self.slab_box.options = opts
        self.slab_box.value = slab.pfn if slab is not None and opts else None
        self.slab_box.observe(self._h_slab, names=["value"])
        if slab is None:
            for mark in (self.objects, self.objects_free, self.objects_cpu):
                mark.visible = False
            self.slab_heading.value = self._heading(self.t("slab.none"))
            return
        st = self.object_states(slab)
        n = len(st)
        cols = 32 if n > 64 else (16 if n > 16 else 8)
        rows = -(-n // cols)
        i = np.arange(n)
        with self._gx.hold_sync(), self._gy.hold_sync():
            self._gx.max = cols - 0.5
            self._gy.max = max(rows, 4) - 0.5
        for mark, state in ((self.objects, OBJ_USED), (self.objects_free, OBJ_FREE),
                            (self.objects_cpu, OBJ_CPU_FREE)):
            sel = i[st == state]
            with mark.hold_sync():
                if sel.size:
                    mark.x = (sel % cols).astype(np.int32)
                    mark.y = (sel // cols).astype(np.int32)
                    mark.default_size = self.px(260 if cols <= 16 else 110)
                    mark.visible = True
                else:
                    mark.visible = False
        used = int((st == OBJ_USED).sum())
        self.slab_heading.value = self._heading(self.t("slab.one", cache=s.name, pfn=slab.pfn, order=slab.order,
                                                       used=used, n=n))

    def _heading(self, words: str) -> str:
        return f'<div style="font-size:{self.px(15)}px;font-weight:bold">{html.escape(words)}</div>'

    def _on_cache(self, change) -> None:
        if change["new"]:
            self.select_cache(change["new"])

    def _on_slab(self, change) -> None:
        if change["new"] is not None:
            self.select_slab(change["new"])

    @staticmethod
    def _table_html(rows, names_only=()) -> str:
        head = ("<tr><th>name</th><th>active_objs</th><th>num_objs</th><th>objsize</th>"
                "<th>objperslab</th><th>pagesperslab</th><th>active_slabs</th><th>num_slabs</th></tr>")
        body = "".join(
            f"<tr><td>{html.escape(r['name'])}</td><td>{r['active_objs']}</td><td>{r['num_objs']}</td>"
            f"<td>{r['objsize']}</td><td>{r['objperslab']}</td><td>{r['pagesperslab']}</td>"
            f"<td>{r['active_slabs']}</td><td>{r['num_slabs']}</td></tr>" for r in rows)
        names = (f'<p class="kmemlab-slab-names-only" style="font-size:13px">{len(names_only)} caches: '
                 f'{html.escape(", ".join(names_only))}</p>') if names_only else ""
        return (f'<table class="kmemlab-slabinfo-table" style="font-size:14px">'
                f"<caption>/proc/slabinfo</caption>{head}{body}</table>{names}")

    def to_html(self) -> str:
        self.flush()
        if self.host is not None:
            rows, names, _ = self._host_rows()
            return (f'<div class="kmemlab-slab-static">{self.host_html()}'
                    f'{self._table_html(rows, names)}'
                    f'<p>{html.escape(self.t("host.slab_objects"))}</p></div>')
        out = self._table_html(self._machine_rows())
        if self.slab is not None:
            st = self.object_states()
            cells = "".join(f'<span style="display:inline-block;width:12px;height:12px;margin:1px;'
                            f'background:{_OBJ_COLOURS[int(v)]};border:1px solid #333"></span>' for v in st)
            out += (f"<p>{html.escape(self.slab.slab_cache.name)} slab at pfn {self.slab.pfn:#x}: "
                    f"green in use, grey free, blue free on a CPU freelist</p><div style='width:480px'>{cells}</div>")
        return f'<div class="kmemlab-slab-static">{out}</div>'
