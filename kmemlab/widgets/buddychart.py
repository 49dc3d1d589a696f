"""BuddyChart: ``/proc/buddyinfo`` as bars, live.

One group of bars per order, one bar per populated zone: the height is
``zone->free_area[order].nr_free``, the number of free blocks of that order, exactly the
numbers ``/proc/buddyinfo`` prints. As memory fragments, the tall bars at the high orders
shrink and the low orders grow. The y axis is linear on purpose: a student reads counts
off it; the HTML fallback is the buddyinfo table itself.

``BuddyChart(km.host())`` draws this Linux's ``/proc/buddyinfo`` the same way, re-read
on its refresh button or every ``auto=`` seconds (:mod:`.hostview`); a host shows the
counts, not which blocks they are.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..kernel.helpers import NR_PAGE_ORDERS, for_each_populated_zone, nr_node_ids
from .base import FRAME_EVENTS, View
from .hostview import HOST_READ_ERRORS, HostReadable

__all__ = ["BuddyChart"]

#: where the bars of a log-scale chart start: below 1, so that a count of 1 has a visible
#: bar, and below 0.5, so that the bar label of a 0 (drawn at the base, format "d") reads
#: "0" (0.8 read "1" on every empty order of a real machine's chart)
LOG_BASE = 0.45

# one colour per zone, from the same Tol palette family as the map (bright scheme)
_ZONE_COLOURS = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"]


def nice_ticks(top: float, n: int = 5) -> np.ndarray:
    """0, step, 2*step ... up to ``top``, the step 1, 2 or 5 times a power of ten (so the
    slab chart's ticks read 0/20/40/60, never 0/17/34/50/67)."""
    if top <= 0:
        return np.array([0.0])
    raw = top / n
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(f * mag for f in (1, 2, 5, 10) if f * mag >= raw)
    step = max(step, 1.0)
    return np.arange(0, top + 1e-9, step)


class BuddyChart(HostReadable, View):
    """Free blocks per order per zone: ``BuddyChart(m)``; ``.counts()`` is the data drawn.

    ``BuddyChart(km.host(), auto=1.0)`` draws this Linux's ``/proc/buddyinfo`` and reads
    it again every second (``auto=None``, the default: on the refresh button, or
    ``chart.refresh()``).

    ``log=None`` (the default) chooses a log scale when the counts span more than two
    decades (a big machine: thousands of order-10 blocks next to a handful of small
    ones), ``True``/``False`` force it. Each bar carries its number, so a count is read
    off the bar, whatever the scale and whatever the colour."""

    title = "buddy allocator free areas"
    WAKE = FRAME_EVENTS
    #: during a burst the chart follows at most 5 times a second (final state always drawn)
    burst_interval = 0.2

    def __init__(self, machine, log: bool | None = None, **kw):
        super().__init__(machine, **kw)
        if log is not None and not isinstance(log, bool):
            raise TypeError(f"log is True, False or None (choose by the counts), got {log!r}")
        try:
            self._zone_labels = self._labels()
            norders = NR_PAGE_ORDERS(machine)
            counts = self.counts()
        except HOST_READ_ERRORS as e:         # a host whose buddyinfo cannot be read: say so, draw nothing
            if self.host is None:
                raise
            self.host_say([str(e)])
            self._zone_labels, norders = [], 11
            counts = np.zeros((0, norders))
        xs = bq.OrdinalScale(domain=[str(o) for o in range(norders)])
        self.log = self._want_log(counts) if log is None else log
        self._log_choice = log
        # an explicit domain: with bqplot 0.13.1 a Bars mark whose scale computes its own
        # domain draws every bar with height 0 (measured in Chromium, Voila and JupyterLab)
        if self.log:
            self._ys = ys = bq.LogScale(min=LOG_BASE, max=self._top(counts))
        else:
            self._ys = ys = bq.LinearScale(min=0.0, max=self._top(counts))
        self.bars = bq.Bars(x=[str(o) for o in range(norders)], y=self._heights(counts),
                            scales={"x": xs, "y": ys}, type="grouped", base=LOG_BASE if self.log else 0.0,
                            colors=_ZONE_COLOURS[:len(self._zone_labels)],
                            labels=self._zone_labels, display_legend=True, padding=0.15,
                            label_display=True, label_display_format="d",
                            label_font_style={"font-size": f"{self.px(11)}px"},
                            label_display_vertical_offset=-2)
        self._yaxis = bq.Axis(scale=ys, orientation="vertical",
                              label=self.t("buddy.ylog" if self.log else "buddy.yaxis"),
                              tick_format="d", tick_values=self._ticks(counts),
                              label_offset=f"{self.px(40)}px",
                              tick_style={"font-size": f"{self.px(12)}px"})
        self.figure = bq.Figure(marks=[self.bars],
                                axes=[bq.Axis(scale=xs, label=self.t("buddy.xaxis"),
                                              tick_style={"font-size": f"{self.px(12)}px"}),
                                      self._yaxis],
                                legend_location="top-right",
                                legend_text={"font-size": f"{self.px(13)}px"},
                                fig_margin={"top": 10, "bottom": self.px(46), "left": self.px(64),
                                            "right": 10},
                                layout=W.Layout(width="100%", min_width="0", height=f"{self.px(300)}px"))
        self.figure.add_class("kmemlab-buddychart")
        self.heading = W.HTML(f'<div style="font-size:{self.px(17)}px;font-weight:bold">'
                              f'{html.escape(self.t("buddy.title"))}</div>')
        self.widget = W.VBox(self.host_widgets() + [self.heading, self.figure],
                             layout=W.Layout(width="100%", min_width="0"))
        self.host_ready()

    def _zones(self):
        # the drgn-style read interface (kmemlab.kernel.helpers): the same code reads a host
        return list(for_each_populated_zone(self.machine))

    def _labels(self) -> list[str]:
        single = nr_node_ids(self.machine) == 1
        return [z.name if single else f"node {z.node} {z.name}" for z in self._zones()]

    def counts(self) -> np.ndarray:
        """float64[zones, orders]: ``free_area[order].nr_free`` of every populated zone."""
        return np.array([[fa.nr_free for fa in z.free_area] for z in self._zones()], np.float64)

    @staticmethod
    def _want_log(counts) -> bool:
        nz = counts[counts > 0]
        return bool(nz.size) and nz.max() / nz.min() > 100

    def _heights(self, counts):
        # on a log scale a 0 cannot be drawn: it becomes the base (a bar of no height)
        return np.where(counts > 0, counts, LOG_BASE) if self.log else counts

    def _top(self, counts) -> float:
        top = float(counts.max()) if counts.size else 1.0
        if self.log:
            return float(10 ** np.ceil(np.log10(max(top, 1.0) * 1.5)))
        return max(1.0, top * 1.15)          # room above the tallest bar for its number

    def _ticks(self, counts):
        if self.log:
            return 10.0 ** np.arange(0, np.log10(self._top(counts)) + 0.5)
        return nice_ticks(self._top(counts))

    def _redraw(self) -> None:
        counts = self.counts()
        labels = self._labels()
        with self.bars.hold_sync(), self._ys.hold_sync():
            if labels != self._zone_labels:        # a host chart whose first read failed
                self._zone_labels = labels
                self.bars.labels = labels
                self.bars.colors = _ZONE_COLOURS[:len(labels)]
            self._ys.max = self._top(counts)
            self.bars.y = self._heights(counts)
        self.host_say([])
        self._yaxis.tick_values = self._ticks(counts)

    def to_html(self) -> str:
        """The buddyinfo numbers as an HTML table (a host's: under its header)."""
        self.flush()
        try:
            c = self.counts()
        except HOST_READ_ERRORS:
            if self.host is None:
                raise
            return self.host_html()
        head = "".join(f"<th>{o}</th>" for o in range(c.shape[1]))
        rows = "".join(f"<tr><th>{html.escape(lab)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
                       for lab, row in zip(self._zone_labels, c.astype(int).tolist()))
        return self.host_html() + (f'<table class="kmemlab-buddyinfo"><caption>{html.escape(self.t("buddy.title"))}'
                f"</caption><tr><th>{html.escape(self.t('buddy.corner'))}</th>{head}</tr>{rows}</table>")
