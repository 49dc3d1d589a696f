"""ZoneView: each zone's free pages against its watermarks, and ``/proc/meminfo``.

One row per populated zone, as ``/proc/zoneinfo`` prints it: ``free`` (``NR_FREE_PAGES``),
the watermarks ``min``, ``low`` and ``high`` (``wmark_pages()``, boost included), and
``managed``; a bar shows free pages from 0 to twice ``high`` with the three watermarks
marked on it (:func:`bar_top`: on a bar of all managed pages they crowd its first 5 %), and
the row says where free stands (below ``low`` kswapd wakes, below ``min`` only atomic
and ``__GFP_HIGH`` requests get pages: mm/page_alloc.c ``__zone_watermark_ok``). Under
it, the lines of ``/proc/meminfo`` a kernel lecture talks about.

``ZoneView(m)`` follows a Machine's page allocator; ``ZoneView(km.host(), auto=1.0)``
reads this Linux's ``zoneinfo`` and ``meminfo`` (both readable without root) again every
second (:mod:`.hostview`).
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel.helpers import (for_each_populated_zone, high_wmark_pages, low_wmark_pages, meminfo,
                              min_wmark_pages, nr_node_ids, zone_managed_pages, zone_page_state)
from .base import FRAME_EVENTS, View
from .hostview import HOST_READ_ERRORS, HostReadable

__all__ = ["ZoneView", "MEMINFO_FIELDS", "bar_top"]

#: the /proc/meminfo lines shown, in the file's order
MEMINFO_FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "AnonPages", "Slab",
                  "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "VmallocUsed", "Percpu")


def bar_top(row: dict) -> int:
    """Where a zone's bar ends (pages): twice the high watermark, so that min, low and high
    sit at a third, ~42 % and half of the bar and free pages are seen to approach them
    (on a scale of managed pages they all crowd the first 5 %). More free pages than
    that fill the bar, marked ». A zone smaller than that: its managed pages."""
    return max(1, min(row["managed"], 2 * row["high"])) if row["high"] > 0 else max(row["managed"], 1)


class ZoneView(HostReadable, View):
    """``ZoneView(m)`` or ``ZoneView(km.host(), auto=1.0)``: ``zv.zones()`` (the rows
    drawn: node, zone, free, min, low, high, managed, state) and ``zv.meminfo()``."""

    title = "zone watermarks"
    WAKE = FRAME_EVENTS
    burst_interval = 0.5

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        self.heading = W.HTML(f'<div style="font-size:{self.px(17)}px;font-weight:bold">'
                              f'{html.escape(self.t("zone.title"))}</div>')
        self.table = W.HTML(layout=W.Layout(min_width="0", overflow_x="auto"))
        self.table.add_class("kmemlab-zone-table")
        self.meminfo_table = W.HTML(layout=W.Layout(min_width="0"))
        self.meminfo_table.add_class("kmemlab-meminfo")
        self.widget = W.VBox(self.host_widgets() + [self.heading, self.table, self.meminfo_table],
                             layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-zone-view")
        try:
            self._redraw()
        except HOST_READ_ERRORS as e:      # a host whose zoneinfo cannot be read: say so
            if self.host is None:
                raise
            self.host_say([str(e)])
        self.host_ready()

    # -- data ---------------------------------------------------------------------------

    def zones(self) -> list[dict]:
        """One dict per populated zone: node, zone, free, min, low, high, managed (pages), state."""
        out = []
        for z in for_each_populated_zone(self.machine):
            free = zone_page_state(z, "nr_free_pages")
            lo, mi, hi = low_wmark_pages(z), min_wmark_pages(z), high_wmark_pages(z)
            state = ("zone.state.min" if free < mi else "zone.state.low" if free < lo
                     else "zone.state.high" if free <= hi else "zone.state.ok")
            out.append({"node": z.node, "zone": z.name, "free": free, "min": mi, "low": lo, "high": hi,
                        "managed": zone_managed_pages(z), "state": state})
        return out

    def meminfo(self) -> dict[str, int]:
        """The :data:`MEMINFO_FIELDS` of ``/proc/meminfo`` this source prints (kB)."""
        mi = meminfo(self.machine)
        return {k: mi[k] for k in MEMINFO_FIELDS if k in mi}

    # -- drawing --------------------------------------------------------------------------

    def _redraw(self) -> None:
        zones, mi = self.zones(), self.meminfo()        # read everything before changing the picture
        single = nr_node_ids(self.machine) == 1
        self.table.value = self._zone_html(zones, single)
        self.meminfo_table.value = self._meminfo_html(mi)
        self.host_say([])

    def _zone_html(self, zones, single: bool) -> str:
        fs = self.px(14)
        head = "".join(f"<th style='text-align:right;padding:2px 8px'>{h}</th>"
                       for h in ("free", "min", "low", "high", "managed"))
        rows = []
        for r in zones:
            name = r["zone"] if single else f"node {r['node']} {r['zone']}"
            top = bar_top(r)
            marks = "".join(
                f"<div title='{k} {r[k]}' style='position:absolute;top:0;bottom:0;left:{min(100.0, 100 * r[k] / top):.2f}%;"
                f"border-left:2px {style} #882255'></div>" for k, style in (("min", "solid"), ("low", "dashed"),
                                                                           ("high", "dotted")))
            more = ("<span style='position:absolute;right:2px;top:50%;transform:translateY(-50%);color:#FFF;"
                    f"font-weight:bold;line-height:1'>&raquo;</span>") if r["free"] > top else ""
            bar = (f"<div class='kmemlab-zone-bar' style='position:relative;height:{self.px(14)}px;min-width:80px;"
                   f"background:#EEEEEE;border:1px solid #999'><div class='kmemlab-zone-free' style='height:100%;"
                   f"width:{min(100.0, 100 * r['free'] / top):.2f}%;background:#228833'></div>{marks}{more}</div>")
            nums = "".join(f"<td style='text-align:right;padding:2px 8px'>{r[k]}</td>"
                           for k in ("free", "min", "low", "high", "managed"))
            rows.append(f"<tr><th style='text-align:left;padding:2px 8px'>{html.escape(name)}</th>{nums}"
                        f"<td style='padding:2px 8px;width:30%;min-width:100px'>{bar}</td>"
                        f"<td class='kmemlab-zone-state' style='padding:2px 8px;white-space:nowrap'>{html.escape(self.t(r['state']))}</td></tr>")
        return (f"<table class='kmemlab-zones' style='font-size:{fs}px;border-collapse:collapse;width:100%;max-width:1100px'>"
                f"<caption style='text-align:left;font-size:{self.px(13)}px'>{html.escape(self.t('zone.caption'))}"
                f"</caption><tr><th></th>{head}<th style='text-align:left;font-weight:normal'>"
                f"{html.escape(self.t('zone.bar'))}</th><th></th></tr>{''.join(rows)}</table>"
                f"<div style='font-size:{self.px(13)}px;color:#555'>{html.escape(self.t('zone.marks'))}</div>")

    def _meminfo_html(self, mi: dict[str, int]) -> str:
        # three lines a row (two in presentation mode): all of them in view at 1024x768
        # (a CSS grid inside an ipywidgets HTML widget took its max-content width: 920 px
        # in a 600 px tab, the third column cut)
        per = 2 if self.presentation else 3
        items = list(mi.items())
        rows = "".join(
            "<tr>" + "".join(f"<th style='text-align:left;padding:1px 2px 1px 4px'>{html.escape(k)}</th>"
                             f"<td style='text-align:right;padding:1px 8px 1px 2px;white-space:nowrap'>{v} kB</td>"
                             for k, v in items[i:i + per]) + "</tr>"
            for i in range(0, len(items), per))
        return (f"<table class='kmemlab-meminfo-table' style='font-size:{self.px(14)}px'><caption "
                f"style='text-align:left'>{html.escape(self.t('zone.meminfo'))}</caption>{rows}</table>")

    def to_html(self) -> str:
        self.flush()
        try:
            body = self._zone_html(self.zones(), nr_node_ids(self.machine) == 1) + self._meminfo_html(self.meminfo())
        except HOST_READ_ERRORS:
            if self.host is None:
                raise
            body = ""
        return f"<div class='kmemlab-zone-static'>{self.host_html()}{body}</div>"
