"""PhysMap: every physical frame of a machine as one cell of a picture.

What ``mem_map`` is to the kernel (one ``struct page`` per frame), this picture is to a
student: frame ``pfn`` is pixel ``(pfn % width, pfn // width)`` of a palette image, one
byte per frame, coloured by who holds the frame (:mod:`kmemlab.widgets.palette`); free
frames are shaded by the order of the free buddy block they belong to. A 4 GiB machine
(1.25 M frames with the PCI hole) is a 2048x640 PNG of a few kB that Pillow encodes in a
few ms, which is why the whole map is an image and not a bqplot HeatMap (JUPYTER.md
measures both). Zone and node boundaries are drawn on top as lines that follow the
frame order, so a boundary in the middle of a row shows as a step.

A zoom window shows ``count`` frames from ``start`` as a bqplot HeatMap (at most 512x512
cells); dragging a rectangle on the whole map (a brush) moves the zoom there. The text
line under the map says what a frame is (kind, zone, node, block, flags), for the
frame at the brush's start or typed into the ``pfn`` box.

Updates are incremental: an event marks the frames it touched; a redraw recolours only
the ``MAX_ORDER``-aligned blocks around them (a merge or split never leaves the aligned
block of the largest order), then re-encodes the PNG.
"""

from __future__ import annotations

import base64
import html
import io

import bqplot as bq
import ipywidgets as W
import numpy as np
from PIL import Image as PILImage

from ..kernel import gfp as G
from ..kernel.mem_map import K_FREE, K_NOMAP, K_SLAB
from .base import View
from .palette import (FREE_BASE, PALETTE_NAME, SLAB_BASE, kind_lut, legend_entries, palette_hex,
                      palette_rgb, slab_shade)

__all__ = ["PhysMap", "ZOOM_COUNTS"]

#: zoom window sizes offered (frames); 262144 = 512x512 cells, the HeatMap's limit here
ZOOM_COUNTS = (256, 1024, 4096, 16384, 65536, 262144)
#: above this many dirty frames a redraw recolours everything from the free lists
_FULL_RECOLOUR = 1 << 16


def _row_width(max_pfn: int) -> int:
    """The smallest power of two >= sqrt(max_pfn): a picture about as tall as wide, so that
    one block is a visible patch on a projector rather than a one-pixel line."""
    w = 64
    while w * w < max_pfn:
        w *= 2
    return w


class PhysMap(View):
    """The physical memory map of ``machine``: ``PhysMap(m)``; ``pm.zoom(start, count)``;
    ``pm.describe(pfn)`` is the text shown for one frame."""

    title = "physical memory map"
    #: while a burst of events runs, redraw the (expensive) map at most 4 times a second;
    #: the small charts keep their ~30 Hz and the final state is always drawn
    burst_interval = 0.25

    def __init__(self, machine, interval=None, zoom_count: int = 4096, **kw):
        if interval is not None:
            kw["interval"] = interval
        super().__init__(machine, **kw)
        m = machine
        self.width = _row_width(m.max_pfn)
        self.height = -(-m.max_pfn // self.width)
        self._lut = kind_lut()
        self._max_order = m.NR_PAGE_ORDERS
        self._palette = palette_rgb(self._max_order)
        self._align = 1 << (self._max_order - 1)
        #: palette index per frame, padded to width*height with "not RAM"
        self.pixels = np.full(self.width * self.height, K_NOMAP, np.uint8)
        self._lo = 0
        self._hi = m.max_pfn
        self.selected_pfn = None
        self.zoom_start = 0
        self.zoom_count = zoom_count
        self._build()
        self._redraw_all()

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        w, h = self.width, self.height
        mib = self._mib_per_row()
        self._sx = bq.LinearScale(min=0, max=w)
        self._sy = bq.LinearScale(min=0, max=h * mib, reverse=True)
        self.image = bq.Image(image=W.Image(value=b"", format="png"), x=[0, w], y=[h * mib, 0],
                              scales={"x": self._sx, "y": self._sy}, pixelated=True)
        self.boundaries = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales={"x": self._sx, "y": self._sy},
                                   colors=["black"], stroke_width=2, line_style="solid")
        self.labels = bq.Label(x=[0], y=[0], text=[""], scales={"x": self._sx, "y": self._sy},
                               colors=["black"], default_size=14, font_weight="bold",
                               align="start", x_offset=4, y_offset=14)
        self._draw_boundaries()
        ax = bq.Axis(scale=self._sx, label="frame within row", num_ticks=5, tick_format="d")
        ay = bq.Axis(scale=self._sy, orientation="vertical", label="physical address (MiB)",
                     tick_format="d", num_ticks=6)
        self.brush = bq.interacts.BrushSelector(x_scale=self._sx, y_scale=self._sy, color="black")
        self.brush.observe(self._on_brush, names=["brushing"])
        fig_h = int(min(640, max(300, 760 * h / w + 110)))
        self.figure = bq.Figure(marks=[self.image, self.boundaries, self.labels], axes=[ax, ay],
                                interaction=self.brush, padding_x=0, padding_y=0,
                                fig_margin={"top": 50, "bottom": 45, "left": 70, "right": 10},
                                title=f"Physical memory: {self.machine.max_pfn} frames, "
                                      f"{w} per row ({self.machine.PAGE_SIZE * w >> 10} KiB)",
                                layout=W.Layout(width="860px", height=f"{fig_h}px"))
        self.figure.add_class("kmemlab-physmap")
        self.legend = W.HTML(self._legend_html())
        self.info = W.HTML(self._info_html(None))
        self.info.add_class("kmemlab-frame-info")
        self.pfn_box = W.Text(value="", placeholder="pfn, e.g. 0x1000", description="pfn",
                              layout=W.Layout(width="220px"))
        self.pfn_box.add_class("kmemlab-pfn")
        self.pfn_box.observe(self._on_pfn_box, names=["value"])
        # the zoom window
        self.zoom_start_box = W.Text(value="0x0", description="zoom at", layout=W.Layout(width="220px"))
        self.zoom_count_box = W.Dropdown(options=[(f"{c} frames", c) for c in ZOOM_COUNTS],
                                         value=self.zoom_count, description="frames",
                                         layout=W.Layout(width="220px"))
        self.zoom_start_box.observe(self._on_zoom_controls, names=["value"])
        self.zoom_count_box.observe(self._on_zoom_controls, names=["value"])
        zx = bq.LinearScale()
        zy = bq.LinearScale(reverse=True)
        self._zcolour = bq.ColorScale(colors=palette_hex(self._max_order), min=0, max=255)
        self.heatmap = bq.HeatMap(x=np.arange(2), y=np.arange(2), color=np.zeros((2, 2), np.uint8),
                                  scales={"x": zx, "y": zy, "color": self._zcolour})
        self.zoom_figure = bq.Figure(marks=[self.heatmap],
                                     axes=[bq.Axis(scale=zx, label="frame within row", tick_format="d"),
                                           bq.Axis(scale=zy, orientation="vertical", tick_format="d",
                                                   label="row")],
                                     padding_x=0, padding_y=0, title="zoom",
                                     fig_margin={"top": 30, "bottom": 45, "left": 60, "right": 10},
                                     layout=W.Layout(width="420px", height="420px"))
        self.zoom_figure.add_class("kmemlab-zoom")
        self.message = W.HTML("")
        self.widget = W.VBox([
            W.HBox([self.figure]),
            self.legend,
            W.HBox([self.pfn_box, self.info]),
            W.HBox([W.VBox([self.zoom_start_box, self.zoom_count_box, self.message],
                           layout=W.Layout(width="240px")), self.zoom_figure]),
        ])
        self.widget.add_class("kmemlab-physmap-view")

    def _owned_widgets(self):
        return [self.widget, self.figure, self.image, self.image.image, self.boundaries, self.labels,
                self.brush, self.legend, self.info, self.pfn_box, self.zoom_start_box,
                self.zoom_count_box, self.heatmap, self.zoom_figure, self.message]

    def _mib_per_row(self) -> float:
        return self.width * self.machine.PAGE_SIZE / (1 << 20)

    def _xy_of(self, pfn: int) -> tuple[float, float]:
        """Figure coordinates of the top-left corner of frame ``pfn``."""
        return pfn % self.width, (pfn // self.width) * self._mib_per_row()

    def _draw_boundaries(self) -> None:
        """A zone (or node) starting at pfn b: a step line along the frame order."""
        m = self.machine
        mib = self._mib_per_row()
        xs, ys, texts, lx, ly = [], [], [], [], []
        for z in m.zones:
            if not z.populated():
                continue
            b = z.zone_start_pfn
            c, r = b % self.width, b // self.width
            # below the frames before b, up along the cell edge, over the frames from b on
            xs.append([0, c, c, self.width])
            ys.append([(r + 1) * mib, (r + 1) * mib, r * mib, r * mib])
            label = z.name if m.nodes == 1 else f"node {z.node} {z.name}"
            texts.append(label)
            lx.append(c)
            ly.append(r * mib)
        with self.boundaries.hold_sync(), self.labels.hold_sync():
            self.boundaries.x = xs
            self.boundaries.y = ys
            self.boundaries.colors = ["black"] * len(xs)
            self.labels.x = lx
            self.labels.y = ly
            self.labels.text = texts

    def _legend_html(self) -> str:
        items = "".join(
            f'<span style="display:inline-block;margin:2px 10px 2px 0;font-size:15px">'
            f'<span style="display:inline-block;width:16px;height:16px;vertical-align:middle;'
            f'background:{c};border:1px solid #444;margin-right:4px"></span>{html.escape(lab)}</span>'
            for lab, c in legend_entries(self._max_order))
        return (f'<div class="kmemlab-legend" title="{html.escape(PALETTE_NAME)}">{items}'
                f'<span style="font-size:13px;color:#333"> black lines: zone starts</span></div>')

    # -- colouring -------------------------------------------------------------------

    def _note(self, ev) -> None:
        pfn = ev.pfn
        if pfn < 0:                    # restore() or a change without frames: everything
            self._lo, self._hi = 0, self.machine.max_pfn
            return
        end = pfn + ev.nr_pages
        if pfn < self._lo:
            self._lo = pfn
        if end > self._hi:
            self._hi = end

    def _recolour(self, lo: int, hi: int) -> None:
        """Recompute the palette index of frames [lo, hi) (widened to aligned blocks)."""
        mm = self.machine.mem_map
        a = self._align
        lo = lo // a * a
        hi = min(mm.max_pfn, -(-hi // a) * a)
        if hi - lo > _FULL_RECOLOUR:
            self._recolour_all()
            return
        pix = self.pixels
        kind = mm.kind[lo:hi]
        pix[lo:hi] = self._lut[kind]
        self._shade_slabs(lo, kind)
        free = np.flatnonzero(kind == K_FREE)
        i, n = 0, len(free)
        free_order = mm.free_order
        while i < n:                   # one step per free block: its head is its first frame
            p = lo + int(free[i])
            o = free_order(p)
            o = 0 if o is None else o
            pix[p:p + (1 << o)] = FREE_BASE + o
            i += 1 << o

    def _shade_slabs(self, lo: int, kind: np.ndarray) -> None:
        """Slab frames in ``kind`` (frames from ``lo``) get their cache's size shade:
        mem_map.owner of a slab frame is the slab's id (k.slub.slabs)."""
        idx = np.flatnonzero(kind == K_SLAB)
        if not idx.size:
            return
        slub = getattr(self.machine._k, "slub", None)
        if slub is None:
            return
        idx += lo
        owners = self.machine.mem_map.owner[idx]
        ids, inv = np.unique(owners, return_inverse=True)
        slabs = slub.slabs
        shade = np.array([SLAB_BASE + slab_shade(slabs[int(i)].cache.size) if int(i) in slabs
                          else K_SLAB for i in ids], np.uint8)
        self.pixels[idx] = shade[inv]

    def _recolour_all(self) -> None:
        m = self.machine
        mm = m.mem_map
        pix = self.pixels
        pix[:mm.max_pfn] = self._lut[mm.kind]
        self._shade_slabs(0, mm.kind)
        for z in m.zones:
            for fa in z.free_area:
                o = fa.order
                for mt in range(G.MIGRATE_TYPES):
                    heads = fa.free_list(mt)
                    if not heads:
                        continue
                    h = np.asarray(heads, np.int64)
                    if o:
                        h = (h[:, None] + np.arange(1 << o)).ravel()
                    pix[h] = FREE_BASE + o

    def _redraw_all(self) -> None:
        self._lo, self._hi = 0, self.machine.max_pfn
        self._redraw()

    def _redraw(self) -> None:
        lo, hi = self._lo, self._hi
        if hi <= lo:
            return
        self._lo, self._hi = self.machine.max_pfn, 0
        if lo == 0 and hi >= self.machine.max_pfn:
            self._recolour_all()
        else:
            self._recolour(lo, hi)
        self.png = self._encode()
        # a bqplot Image mark redraws only when given a new ipywidgets.Image (JUPYTER.md)
        old = self.image.image
        self.image.image = W.Image(value=self.png, format="png")
        old.close()
        zs, ze = self.zoom_start, self.zoom_start + self.zoom_count
        if zs < hi and lo < ze:
            self._draw_zoom()
        if self.selected_pfn is not None and lo <= self.selected_pfn < hi:
            self.info.value = self._info_html(self.selected_pfn)

    def _encode(self) -> bytes:
        im = PILImage.frombuffer("P", (self.width, self.height), self.pixels, "raw", "P", 0, 1)
        im.putpalette(self._palette)
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=1)     # level 1: 3x faster than 6, same size class
        return buf.getvalue()

    # -- zoom and frame info ------------------------------------------------------------

    def zoom(self, start: int, count: int | None = None) -> None:
        """Show ``count`` frames from ``start`` in the zoom window (count <= 512*512)."""
        start = int(start)
        count = self.zoom_count if count is None else int(count)
        if not 1 <= count <= ZOOM_COUNTS[-1]:
            raise ValueError(f"zoom count must be 1..{ZOOM_COUNTS[-1]} frames, got {count}")
        if not 0 <= start < self.machine.max_pfn:
            raise ValueError(f"zoom start pfn {start:#x} is outside 0..{self.machine.max_pfn - 1:#x}")
        self.zoom_start, self.zoom_count = start, count
        self._draw_zoom()

    def zoom_grid(self) -> np.ndarray:
        """The zoom window's cells: palette indices, rows of a power-of-two width."""
        count = self.zoom_count
        zw = 16
        while zw * zw < count:
            zw *= 2
        rows = -(-count // zw)
        grid = np.full(rows * zw, K_NOMAP, np.uint8)
        seg = self.pixels[self.zoom_start:min(self.zoom_start + count, self.machine.max_pfn)]
        grid[:len(seg)] = seg
        return grid.reshape(rows, zw)

    def _draw_zoom(self) -> None:
        grid = self.zoom_grid()
        rows, zw = grid.shape
        with self.heatmap.hold_sync():
            self.heatmap.x = np.arange(zw, dtype=np.int32)
            self.heatmap.y = np.arange(rows, dtype=np.int32) + self.zoom_start // zw
            self.heatmap.color = grid
        self.zoom_figure.title = (f"zoom: pfn {self.zoom_start:#x} .. {self.zoom_start + self.zoom_count - 1:#x}"
                                  f" ({zw} per row)")

    def _on_zoom_controls(self, change) -> None:
        try:
            start = int(self.zoom_start_box.value.strip(), 0)
            self.zoom(start, self.zoom_count_box.value)
            self.message.value = ""
        except (ValueError, TypeError) as e:
            self.message.value = f'<span style="color:#882255">{html.escape(str(e))}</span>'

    def _on_brush(self, change) -> None:
        if change["new"]:              # still dragging
            return
        sel = self.brush.selected
        if sel is None or len(sel) != 2:
            return
        x0 = float(min(sel[0][0], sel[1][0]))
        y0 = float(min(sel[0][1], sel[1][1]))
        pfn = int(y0 / self._mib_per_row()) * self.width + int(max(0.0, x0))
        pfn = min(max(pfn, 0), self.machine.max_pfn - 1)
        self.select(pfn)
        self.zoom_start_box.value = hex(pfn)

    def _on_pfn_box(self, change) -> None:
        text = change["new"].strip()
        if not text:
            return
        try:
            self.select(int(text, 0))
            self.message.value = ""
        except (ValueError, TypeError) as e:
            self.info.value = f'<span style="color:#882255">{html.escape(str(e))}</span>'

    def select(self, pfn: int) -> None:
        """Show what frame ``pfn`` is in the info line."""
        pfn = int(pfn)
        if not 0 <= pfn < self.machine.max_pfn:
            raise ValueError(f"pfn {pfn:#x} is outside 0..{self.machine.max_pfn - 1:#x}")
        self.selected_pfn = pfn
        self.info.value = self._info_html(pfn)

    def describe(self, pfn: int) -> str:
        """One line: what holds frame ``pfn``, its zone and node, its block and flags."""
        m = self.machine
        mm = m.mem_map
        pfn = int(pfn)
        kind = mm.kind_name(pfn)
        head = f"pfn {pfn:#x} (phys {pfn << mm.page_shift:#x})"
        if mm.kind[pfn] == K_NOMAP:
            return f"{head}: not RAM (a hole in the e820 map)"
        where = f"zone {mm.zone_name(pfn)}, node {int(mm.node[pfn])}"
        block = self._block_of(pfn)
        flags = "|".join(mm.flag_names(pfn)) or "none"
        if block is None:
            return f"{head}: {kind}; {where}; flags {flags}"
        b, o, free = block
        what = "free block" if free else f"{kind} block"
        return (f"{head}: {kind}; {where}; in an order-{o} {what} at pfn {b:#x} "
                f"({1 << o} frames); flags {flags}")

    def _block_of(self, pfn: int):
        """(head pfn, order, is_free) of the buddy block holding ``pfn``, or None."""
        mm = self.machine.mem_map
        for o in range(self._max_order):
            b = pfn & ~((1 << o) - 1)
            if mm.kind[pfn] == K_FREE:
                fo = mm.free_order(b)
                if fo is not None and b + (1 << fo) > pfn:
                    return b, fo, True
            elif mm.order[b] >= 0 and b + (1 << int(mm.order[b])) > pfn:
                return b, int(mm.order[b]), False
        return None

    def _info_html(self, pfn) -> str:
        if pfn is None:
            return ('<span style="font-size:15px">Drag a rectangle on the map, or type a pfn, '
                    'to see what a frame is.</span>')
        return f'<span style="font-size:15px;font-family:monospace">{html.escape(self.describe(pfn))}</span>'

    # -- static fallback -----------------------------------------------------------------

    def to_html(self) -> str:
        """The map as an inline PNG with its legend: readable without a kernel."""
        self.flush()
        b64 = base64.b64encode(self.png).decode()
        ww = min(860, max(self.width, 512))
        rows = "".join(
            f"<tr><td>{html.escape(z.name)}</td><td>{z.node}</td><td>{z.zone_start_pfn:#x}</td>"
            f"<td>{z.zone_end_pfn:#x}</td></tr>" for z in self.machine.zones if z.populated())
        return (f'<div class="kmemlab-physmap-static"><b>Physical memory map</b> '
                f'({self.machine.max_pfn} frames, {self.width} per row, first frame top left)<br>'
                f'<img src="data:image/png;base64,{b64}" width="{ww}" '
                f'style="image-rendering:pixelated;border:1px solid #444" alt="physical memory map"/>'
                f"{self._legend_html()}"
                f'<table><tr><th>zone</th><th>node</th><th>start pfn</th><th>end pfn</th></tr>{rows}</table>'
                f"</div>")
