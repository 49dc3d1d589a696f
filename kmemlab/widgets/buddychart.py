"""BuddyChart: ``/proc/buddyinfo`` as bars, live.

One group of bars per order, one bar per populated zone: the height is
``zone->free_area[order].nr_free``, the number of free blocks of that order, exactly the
numbers ``/proc/buddyinfo`` prints. As memory fragments, the tall bars at the high orders
shrink and the low orders grow. The y axis is linear on purpose: a student reads counts
off it; the HTML fallback is the buddyinfo table itself.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from .base import View

__all__ = ["BuddyChart"]

# one colour per zone, from the same Tol palette family as the map (bright scheme)
_ZONE_COLOURS = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"]


class BuddyChart(View):
    """Free blocks per order per zone: ``BuddyChart(m)``; ``.counts()`` is the data drawn."""

    title = "buddy allocator free areas"

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        self._zone_labels = self._labels()
        norders = machine.NR_PAGE_ORDERS
        xs = bq.OrdinalScale()
        # an explicit domain: with bqplot 0.13.1 in Voila a Bars mark whose scale computes its
        # own domain draws every bar with height 0 (measured in Chromium)
        counts = self.counts()
        self._ys = ys = bq.LinearScale(min=0.0, max=self._top(counts))
        self.bars = bq.Bars(x=[str(o) for o in range(norders)], y=counts,
                            scales={"x": xs, "y": ys}, type="grouped",
                            colors=_ZONE_COLOURS[:len(self._zone_labels)],
                            labels=self._zone_labels, display_legend=True, padding=0.15)
        self.figure = bq.Figure(marks=[self.bars],
                                axes=[bq.Axis(scale=xs, label="order (block = 2^order pages)"),
                                      bq.Axis(scale=ys, orientation="vertical", label="free blocks",
                                              tick_format="d")],
                                title="Free blocks per order (/proc/buddyinfo)",
                                legend_location="top-right",
                                fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 10},
                                layout=W.Layout(width="560px", height="340px"))
        self.figure.add_class("kmemlab-buddychart")
        self.widget = W.VBox([self.figure])

    def _owned_widgets(self):
        return [self.widget, self.figure, self.bars]

    def _zones(self):
        return [z for z in self.machine.zones if z.populated()]

    def _labels(self) -> list[str]:
        single = self.machine.nodes == 1
        return [z.name if single else f"node {z.node} {z.name}" for z in self._zones()]

    def counts(self) -> np.ndarray:
        """float64[zones, orders]: ``free_area[order].nr_free`` of every populated zone."""
        return np.array([[fa.nr_free for fa in z.free_area] for z in self._zones()], np.float64)

    def _note(self, ev) -> None:
        pass            # any event may move blocks between orders: the redraw reads them all

    @staticmethod
    def _top(counts) -> float:
        return float(max(1.0, np.ceil(counts.max() * 1.1))) if counts.size else 1.0

    def _redraw(self) -> None:
        counts = self.counts()
        with self.bars.hold_sync(), self._ys.hold_sync():
            self._ys.max = self._top(counts)
            self.bars.y = counts

    def to_html(self) -> str:
        """The buddyinfo numbers as an HTML table."""
        self.flush()
        c = self.counts()
        head = "".join(f"<th>{o}</th>" for o in range(c.shape[1]))
        rows = "".join(f"<tr><th>{html.escape(lab)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
                       for lab, row in zip(self._zone_labels, c.astype(int).tolist()))
        return (f'<table class="kmemlab-buddyinfo"><caption>Free blocks per order '
                f"(/proc/buddyinfo)</caption><tr><th>zone \\ order</th>{head}</tr>{rows}</table>")
