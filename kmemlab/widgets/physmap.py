"""PhysMap: every physical frame of a machine as one cell of a picture.

What ``mem_map`` is to the kernel (one ``struct page`` per frame), this picture is to a
student: frame ``pfn`` is pixel ``(pfn % width, pfn // width)`` of a palette image, one
byte per frame, coloured by who holds the frame (:mod:`kmemlab.widgets.palette`); free
frames are shaded by the order of the free buddy block they belong to. A 4 GiB machine
(1.25 M frames with the PCI hole) is a 2048x640 PNG of a few kB, which is why the whole
map is an image and not a bqplot HeatMap (JUPYTER.md measures both); the PNG is kept as
deflated bands of rows (:class:`BandedPNG`), so a redraw compresses only what changed. Zone and node boundaries are drawn on top as lines that follow the
frame order, so a boundary in the middle of a row shows as a step.

A zoom window shows ``count`` frames from ``start`` as a bqplot HeatMap (at most 512x512
cells); dragging a rectangle on the whole map (a brush) moves the zoom there. The text
line under the map says what a frame is (kind, zone, node, block, flags), for the
frame at the brush's start or typed into the ``pfn`` box.

Updates are incremental: an event marks the frames it touched; a redraw recolours only
the ``MAX_ORDER``-aligned blocks around them (a merge or split never leaves the aligned
block of the largest order), then re-compresses the PNG's rows that hold them.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..kernel.helpers import (for_each_populated_zone, for_each_zone, free_list_pfns,
                              migratetype_names, nr_node_ids, page_slab, zone_end_pfn)
from ..kernel.mem_map import K_FREE, K_NOMAP, K_SLAB
from .base import FRAME_EVENTS, View, weak_handler
from .inputs import number_box, parse_pfn
from .palette import (FREE_BASE, PALETTE_NAME, SLAB_BASE, kind_lut, legend_entries, palette_hex,
                      palette_rgb, slab_shade)

__all__ = ["PhysMap", "BandedPNG", "ZOOM_COUNTS"]

#: zoom window sizes offered (frames); 262144 = 512x512 cells, the HeatMap's limit here
ZOOM_COUNTS = (256, 1024, 4096, 16384, 65536, 262144)
#: above this many dirty frames a redraw recolours everything from the free lists
_FULL_RECOLOUR = 1 << 16


def _chunk(tag: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC-32 of type and data (PNG spec, 5.3)."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def adler32_combine(a1: int, a2: int, len2: int) -> int:
    """The Adler-32 of ``s1 + s2`` from those of ``s1`` (``a1``) and ``s2`` (``a2``,
    ``len2`` bytes), as zlib's ``adler32_combine()`` (Python's zlib does not offer it).
    With A = 1 + sum of bytes and B = sum of the A after each byte (mod 65521): s2's
    A values all grow by A1 - 1, hence B = B1 + B2 + len2 * (A1 - 1)."""
    mod = 65521
    a_1, b_1 = a1 & 0xFFFF, a1 >> 16
    a_2, b_2 = a2 & 0xFFFF, a2 >> 16
    a = (a_1 + a_2 - 1) % mod
    b = (b_1 + b_2 + len2 * (a_1 - 1)) % mod
    return (b << 16) | a


class BandedPNG:
    """An 8-bit palette PNG of ``pixels`` (uint8, ``width * height``) kept as bands of
    ``rows`` rows, each deflated on its own, so that a redraw re-compresses only the bands
    whose pixels changed.

    Why: on a 4 GiB machine the map is 2048x640 and a burst of kernel calls changes a
    few rows between two pictures; Pillow re-encodes the whole image each time (13-15 ms
    on this box, the largest part of a redraw) where the changed bands take well under a
    millisecond. The file is what the PNG spec (ISO/IEC 15948) lays down: signature,
    IHDR (colour type 3, bit depth 8), PLTE, one IDAT holding one zlib stream, IEND. The
    stream is the bands' raw deflate output, each ended with a sync flush (an empty
    stored block, so it ends on a byte and a band never refers back into another), then
    a final empty block and the Adler-32 of all rows, combined from the bands' (RFC 1950/
    1951). Rows use filter type 0 (none) and zlib level 1 with the RLE strategy: a memory
    map is long runs of one colour (measured: 3x faster than level 1's default strategy,
    and smaller). Tests decode the result with Pillow and compare every pixel."""

    def __init__(self, width: int, height: int, palette: bytes, rows: int | None = None):
        self.width, self.height = int(width), int(height)
        #: rows per band: about 16 KiB of pixels, a few bands per zone on small machines
        self.rows = max(1, (1 << 14) // self.width) if rows is None else int(rows)
        n = -(-self.height // self.rows)
        self._deflated: list[bytes] = [b""] * n
        self._adler: list[int] = [1] * n
        self._lens = [(min(self.height, (b + 1) * self.rows) - b * self.rows) * (self.width + 1)
                      for b in range(n)]
        self._scratch = np.zeros((self.rows, self.width + 1), np.uint8)   # column 0: filter 0
        self._head = (b"\x89PNG\r\n\x1a\n"
                      + _chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0))
                      + _chunk(b"PLTE", bytes(palette)))
        self._tail = _chunk(b"IEND", b"")
        self._final_block = zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
        self.bands_encoded = 0           # how many bands were deflated (tests, benchmarks)

    def encode(self, pixels: np.ndarray, row_lo: int = 0, row_hi: int | None = None,
               bands=None) -> bytes:
        """The PNG, after re-compressing the bands holding rows [row_lo, row_hi) (all by
        default), or the bands numbered in ``bands``; bands never compressed yet are
        compressed too."""
        row_hi = self.height if row_hi is None else min(int(row_hi), self.height)
        w, rows = self.width, self.rows
        todo = set(range(max(0, int(row_lo)) // rows, -(-row_hi // rows)) if bands is None else bands)
        todo.update(b for b, d in enumerate(self._deflated) if not d)
        for b in sorted(todo):
            r0 = b * rows
            r1 = min(self.height, r0 + rows)
            raw = self._scratch[:r1 - r0]
            raw[:, 1:] = pixels[r0 * w:r1 * w].reshape(r1 - r0, w)
            data = raw.tobytes()
            c = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
            self._deflated[b] = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
            self._adler[b] = zlib.adler32(data)
            self.bands_encoded += 1
        adler = 1
        for a, n in zip(self._adler, self._lens):
            adler = adler32_combine(adler, a, n)
        # 0x78 0x01: deflate, 32 KiB window, "fastest" level (RFC 1950, FCHECK makes it a
        # multiple of 31)
        stream = b"\x78\x01" + b"".join(self._deflated) + self._final_block + struct.pack(">I", adler)
        return self._head + _chunk(b"IDAT", stream) + self._tail


def _round_ticks(top: float, n: int = 6) -> np.ndarray:
    """Tick values 0, step, 2*step, ... <= top with a power-of-two step (memory sizes
    are): 0/32/64/96/128 MiB, never -1/129/257."""
    if top <= 0:
        return np.array([0])
    step = 1
    while step * n < top:
        step *= 2
    return np.arange(0, top + 1e-9, step)


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
    #: only the page allocator's changes recolour frames (a kmalloc from a slab that
    #: exists changes no frame's owner)
    WAKE = FRAME_EVENTS
    #: while a burst of changes runs, redraw the map about 11 times a second (issue 19
    #: asks >= 10 pictures a second; a redraw costs ~2 ms and two widget messages); the
    #: final state is always drawn
    burst_interval = 0.09

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
        self.png = b""
        self._png = BandedPNG(self.width, self.height, self._palette)
        self.selected_pfn = None
        self.selected_frames: list[int] = []
        #: palette index of each slab id's frames, 0 until looked up (see _shade_slabs)
        self._slab_shade = np.zeros(1024, np.uint8)
        self._syncing = False
        self.zoom_start = 0
        self.zoom_count = zoom_count
        self._build()
        self._redraw_all()

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        w, h = self.width, self.height
        mib = self._mib_per_row()
        m = self.machine
        top = h * mib
        self._sx = bq.LinearScale(min=0, max=w)
        self._sy = bq.LinearScale(min=0, max=top, reverse=True)
        sc = {"x": self._sx, "y": self._sy}
        self._images = [W.Image(value=b"", format="png"), W.Image(value=b"", format="png")]
        self._extra_widgets.extend(self._images)   # the one not shown right now, too
        self.image = bq.Image(image=self._images[0], x=[0, w], y=[top, 0], scales=sc, pixelated=True)
        self.boundaries = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, colors=["black"],
                                   stroke_width=self.px(2), line_style="solid")
        self.labels = bq.Label(x=[0], y=[0], text=[""], scales=sc, colors=["black"],
                               default_size=self.px(14), font_weight="bold",
                               align="start", x_offset=4, y_offset=self.px(14))
        # where the selected allocation lies: white boxes with a black outline (seen on
        # every colour), and the zoom window as a dashed frame
        self.selection_boxes = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, colors=["black"],
                                        fill="none", stroke_width=self.px(3), visible=False)
        self.zoom_box = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, colors=["#CC3311"],
                                 line_style="dashed", stroke_width=self.px(2), visible=False)
        self._draw_boundaries()
        ax = bq.Axis(scale=self._sx, label=self.t("phys.xaxis", w=w), tick_format="#x",
                     tick_values=np.linspace(0, w, 5)[:-1].astype(np.int64),
                     label_offset=f"{self.px(32)}px", tick_style={"font-size": f"{self.px(12)}px"})
        ay = bq.Axis(scale=self._sy, orientation="vertical", label=self.t("phys.yaxis"),
                     tick_format="d", tick_values=_round_ticks(top),
                     label_offset=f"{self.px(42)}px", tick_style={"font-size": f"{self.px(12)}px"})
        self.brush = bq.interacts.BrushSelector(x_scale=self._sx, y_scale=self._sy, color="black")
        self.brush.observe(weak_handler(self._on_brush), names=["brushing"])
        self.figure = bq.Figure(marks=[self.image, self.boundaries, self.labels, self.zoom_box,
                                       self.selection_boxes], axes=[ax, ay],
                                interaction=self.brush, padding_x=0, padding_y=0,
                                fig_margin={"top": 8, "bottom": self.px(44), "left": self.px(62),
                                            "right": 8},
                                layout=W.Layout(width="100%", min_width="0",
                                                height=f"{self._fig_height()}px"))
        self.figure.add_class("kmemlab-physmap")
        self.heading = W.HTML(self._heading(self.t("phys.title", n=m.max_pfn, mib=m.max_pfn * m.PAGE_SIZE >> 20,
                                                   w=w, kib=m.PAGE_SIZE * w >> 10)))
        self.legend = W.HTML(self._legend_html())
        self.info = W.HTML(self._info_html(None), layout=W.Layout(min_width="0"))
        self.info.add_class("kmemlab-frame-info")
        self.pfn_box = number_box("pfn", "0x1000", css="kmemlab-pfn", max_width="220px")
        self.pfn_box.observe(weak_handler(self._on_pfn_box), names=["value"])
        # the zoom window
        self.zoom_start_box = number_box(self.t("phys.zoom_at"), "0x1000", value="0x0",
                                         css="kmemlab-zoom-start", max_width="240px")
        self.zoom_count_box = W.Dropdown(options=self._count_options(self.zoom_count),
                                         value=self.zoom_count, description=self.t("phys.frames"),
                                         layout=W.Layout(width="100%", max_width="240px"))
        self.zoom_count_box.style.description_width = "initial"
        self.zoom_count_box.add_class("kmemlab-zoom-count")
        self.zoom_start_box.observe(weak_handler(self._on_zoom_controls), names=["value"])
        self.zoom_count_box.observe(weak_handler(self._on_zoom_controls), names=["value"])
        self._zx = zx = bq.LinearScale()
        self._zy = zy = bq.LinearScale(reverse=True)
        self._zcolour = bq.ColorScale(colors=palette_hex(self._max_order), min=0, max=255)
        self.heatmap = bq.HeatMap(x=np.arange(2), y=np.arange(2), color=np.zeros((2, 2), np.uint8),
                                  scales={"x": zx, "y": zy, "color": self._zcolour})
        self.zoom_selection = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales={"x": zx, "y": zy},
                                       colors=["black"], stroke_width=self.px(3), visible=False)
        self._zoom_xaxis = bq.Axis(scale=zx, label=self.t("phys.zoom_x"), tick_format="#x",
                                   tick_style={"font-size": f"{self.px(12)}px"})
        self._zoom_yaxis = bq.Axis(scale=zy, orientation="vertical", tick_format="#x",
                                   label=self.t("phys.zoom_y"), label_offset=f"{self.px(58)}px",
                                   tick_style={"font-size": f"{self.px(12)}px"})
        self.zoom_figure = bq.Figure(marks=[self.heatmap, self.zoom_selection],
                                     axes=[self._zoom_xaxis, self._zoom_yaxis],
                                     padding_x=0, padding_y=0,
                                     fig_margin={"top": 8, "bottom": self.px(44), "left": self.px(78),
                                                 "right": 8},
                                     layout=W.Layout(width="100%", max_width=f"{self.px(460)}px",
                                                     min_width="0", height=f"{self.px(360)}px"))
        self.zoom_figure.add_class("kmemlab-zoom")
        self.zoom_heading = W.HTML("")
        self.zoom_heading.add_class("kmemlab-zoom-title")
        self.message = W.HTML("")
        self.message.add_class("kmemlab-zoom-message")
        controls = W.VBox([self.zoom_start_box, self.zoom_count_box, self.message],
                          layout=W.Layout(flex="0 1 250px", min_width="0"))
        self.widget = W.VBox([
            self.heading,
            self.figure,
            self.legend,
            W.HBox([self.pfn_box, self.info], layout=W.Layout(flex_flow="row wrap", width="100%")),
            self.zoom_heading,
            W.HBox([controls, W.Box([self.zoom_figure], layout=W.Layout(flex="1 1 300px", min_width="0"))],
                   layout=W.Layout(flex_flow="row wrap", width="100%")),
        ], layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-physmap-view")

    def _heading(self, words: str) -> str:
        return f'<div style="font-size:{self.px(17)}px;font-weight:bold;margin:2px 0">{html.escape(words)}</div>'

    def _fig_height(self) -> int:
        """The map's height for a figure about 900 px wide: rows in proportion, within a
        screen (the picture is stretched to the width it gets)."""
        return int(min(self.px(520), max(self.px(240), 900 * self.height / self.width + 60)))

    @staticmethod
    def _count_options(current: int) -> list:
        counts = sorted(set(ZOOM_COUNTS) | {int(current)})
        return [(f"{c}", c) for c in counts]

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
        one_node = nr_node_ids(m) == 1
        total = max(1.0, -(-m.max_pfn // self.width) * mib)     # the figure's height in MiB
        for z in for_each_populated_zone(m):
            b = z.zone_start_pfn
            c, r = b % self.width, b // self.width
            # below the frames before b, up along the cell edge, over the frames from b on
            xs.append([0, c, c, self.width])
            ys.append([(r + 1) * mib, (r + 1) * mib, r * mib, r * mib])
            label = z.name if one_node else f"node {z.node} {z.name}"
            if ly and r * mib - ly[-1] < 0.04 * total:
                # a zone starting within a label's height of the one before (DMA's 16 MiB
                # above DMA32 on a 4 GiB map): one label for both, not two drawn over each other
                texts[-1] += f", {label}"
                continue
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
        fs, sq = self.px(14), self.px(15)
        items = "".join(
            f'<span style="display:inline-block;margin:2px 10px 2px 0;font-size:{fs}px">'
            f'<span style="display:inline-block;width:{sq}px;height:{sq}px;vertical-align:middle;'
            f'background:{c};border:1px solid #444;margin-right:4px"></span>{html.escape(lab)}</span>'
            for lab, c in legend_entries(self._max_order, self.lang))
        return (f'<div class="kmemlab-legend" title="{html.escape(PALETTE_NAME)}">{items}'
                f'<span style="font-size:{fs}px;color:#333"> {html.escape(self.t("phys.zone_lines"))}; '
                f'{html.escape(self.t("phys.selected"))}</span></div>')

    # -- colouring -------------------------------------------------------------------

    def _note(self, changes) -> None:
        if changes.everything:         # restore(): everything, and slab ids may mean other slabs
            self._lo, self._hi = 0, self.machine.max_pfn
            self._slab_shade[:] = 0
            return
        r = changes.frames()
        if r is not None:
            self._lo = min(self._lo, r[0])
            self._hi = max(self._hi, r[1])

    def _recolour(self, lo: int, hi: int) -> None:
        """Recompute the palette index of frames [lo, hi) (widened to aligned blocks)."""
        mm = self.machine.mem_map
        a = self._align
        lo = lo // a * a
        hi = min(mm.max_pfn, -(-hi // a) * a)
        pix = self.pixels
        kind = mm.kind[lo:hi]
        pix[lo:hi] = self._lut[kind]
        self._shade_slabs(lo, kind)
        if hi - lo > _FULL_RECOLOUR:
            self._shade_free_lists(lo, hi)
            return
        free = np.flatnonzero(kind == K_FREE)
        i, n = 0, len(free)
        free_order = mm.free_order
        while i < n:                   # one step per free block: its head is its first frame
            p = lo + int(free[i])
            o = free_order(p)
            o = 0 if o is None else o
            pix[p:p + (1 << o)] = FREE_BASE + o
            i += 1 << o

    def _shade_free_lists(self, lo: int, hi: int) -> None:
        """Free frames in [lo, hi) (aligned to the largest block) get their block's order
        shade, from the free lists. A block of order o starts at a multiple of 2**o (its
        buddy is at ``pfn ^ (1 << order)``), so the blocks of one order are the rows of
        the pixels seen as rows of 2**o, and one fancy-indexed row assignment paints them
        all (expanding every block to its frames took 15 of a 24 GiB map's 27 ms)."""
        m = self.machine
        pix = self.pixels
        mts = range(len(migratetype_names(m)))
        whole = lo == 0 and hi >= m.max_pfn
        for z in for_each_zone(m):
            if not whole and (z.zone_start_pfn >= hi or zone_end_pfn(z) <= lo):
                continue
            for fa in z.free_area:
                o = fa.order
                rows = pix[:len(pix) >> o << o].reshape(-1, 1 << o)
                for mt in mts:
                    heads = free_list_pfns(fa, mt)
                    if not heads:
                        continue
                    h = np.asarray(heads, np.int64)
                    if not whole:
                        h = h[(h >= lo) & (h < hi)]
                    rows[h >> o] = FREE_BASE + o

    def _shade_slabs(self, lo: int, kind: np.ndarray) -> None:
        """Slab frames in ``kind`` (frames from ``lo``) get their cache's size shade.

        Every frame of a slab has the same mem_map.owner (the slab's id, never reused:
        slub numbers slabs from one counter), and a slab keeps its cache for its life, so
        the shade of each id is looked up once (one ``page_slab()`` at one of its frames)
        and kept in ``self._slab_shade`` (palette index per slab id; 0: not looked up).
        A redraw during a burst then looks up only the slabs made since the last one
        (measured on a 4 GiB burst: 86 ms -> a few ms per redraw with ~2 700 slabs)."""
        idx = np.flatnonzero(kind == K_SLAB)
        if not idx.size:
            return
        idx += lo
        m = self.machine
        ids = m.mem_map.owner[idx]
        top = int(ids.max())
        table = self._slab_shade
        if top >= len(table):
            grown = np.zeros(max(top + 1, 2 * len(table)), np.uint8)
            grown[:len(table)] = table
            table = self._slab_shade = grown
        shade = table[ids]
        missing = shade == 0
        if missing.any():
            new_ids, first = np.unique(ids[missing], return_index=True)
            for sid, pfn in zip(new_ids.tolist(), idx[missing][first].tolist()):
                slab = page_slab(m, pfn)
                if slab is not None:
                    table[sid] = SLAB_BASE + slab_shade(slab.slab_cache.size)
            shade = table[ids]
            shade[shade == 0] = K_SLAB     # no slab found (looked up again next time)
        self.pixels[idx] = shade

    def _recolour_all(self) -> None:
        self._recolour(0, self.machine.max_pfn)

    def _redraw_all(self) -> None:
        self._lo, self._hi = 0, self.machine.max_pfn
        self._redraw()

    def _redraw(self) -> None:
        lo, hi = self._lo, self._hi
        if hi <= lo:
            return
        self._lo, self._hi = self.machine.max_pfn, 0
        full = lo == 0 and hi >= self.machine.max_pfn
        a = self._align
        wlo, whi = lo // a * a, min(self.machine.max_pfn, -(-hi // a) * a)
        before = None if full or not self.png else self.pixels[wlo:whi].copy()
        if full:
            self._recolour_all()
        else:
            self._recolour(lo, hi)
        bands = None if before is None else self._changed_bands(wlo, before)
        if bands is not None and not bands:
            changed = False            # e.g. a page allocated and freed again: same picture
        else:
            png = self._encode(wlo, whi) if bands is None else self._png.encode(self.pixels, bands=bands)
            changed = png != self.png
        if changed:
            self.png = png
            # a bqplot Image mark redraws only when its image trait changes to another
            # ipywidgets.Image (JUPYTER.md): two Image widgets take turns, so a redraw is
            # two messages and no new widget (a new Image per redraw leaked its Layout)
            spare = self._images[1] if self.image.image is self._images[0] else self._images[0]
            spare.value = png
            self.image.image = spare
        zs, ze = self.zoom_start, self.zoom_start + self.zoom_count
        if changed and zs < hi and lo < ze:
            self._draw_zoom()
        if self.selected_pfn is not None and lo <= self.selected_pfn < hi:
            self.info.value = self._info_html(self.selected_pfn)

    def _changed_bands(self, lo: int, before: np.ndarray) -> list[int]:
        """The PNG bands whose pixels differ from ``before`` (the pixels from frame ``lo``
        before a recolour): a burst that touched frames at both ends of memory (a replay's
        first pages at the top of ZONE_NORMAL, the next at its start) re-compresses the
        bands it changed, not the gigabytes between them."""
        diff = before != self.pixels[lo:lo + len(before)]
        if not diff.any():
            return []
        per = self._png.rows * self.width       # pixels per band
        first = lo // per
        starts = np.arange(first * per, lo + len(diff), per) - lo
        starts[0] = 0
        return (first + np.flatnonzero(np.logical_or.reduceat(diff, starts))).tolist()

    def _encode(self, lo: int = 0, hi: int | None = None) -> bytes:
        """The map as a PNG, re-compressing only the rows holding frames [lo, hi)."""
        hi = self.machine.max_pfn if hi is None else hi
        return self._png.encode(self.pixels, lo // self.width, -(-hi // self.width))

    # -- zoom and frame info ------------------------------------------------------------

    def zoom(self, start: int, count: int | None = None) -> None:
        """Show ``count`` frames from ``start`` in the zoom window (count <= 512*512); the
        zoom boxes and the dashed frame on the map follow."""
        start = int(start)
        count = self.zoom_count if count is None else int(count)
        if not 1 <= count <= ZOOM_COUNTS[-1]:
            raise ValueError(self.t("phys.zoom_count", top=ZOOM_COUNTS[-1], n=count))
        if not 0 <= start < self.machine.max_pfn:
            raise ValueError(self.t("err.pfn_range", pfn=start, top=self.machine.max_pfn - 1))
        self.zoom_start, self.zoom_count = start, count
        self._syncing = True               # the boxes show it; their observers must not zoom again
        try:
            if count not in self.zoom_count_box.options and \
                    count not in [v for _, v in self.zoom_count_box.options]:
                self.zoom_count_box.options = self._count_options(count)
            self.zoom_count_box.value = count
            self.zoom_start_box.value = hex(start)
        finally:
            self._syncing = False
        self._draw_zoom()

    def show_frames(self, pfns) -> None:
        """Mark the frames ``pfns`` (an allocation's) with boxes on the map and in the zoom,
        and move the zoom window so that it holds the first of them."""
        pfns = sorted(int(p) for p in pfns if 0 <= int(p) < self.machine.max_pfn)
        self.selected_frames = pfns
        if pfns:
            count = self.zoom_count
            first, last = pfns[0], pfns[-1]
            while count < ZOOM_COUNTS[-1] and last - first >= count // 2:
                count *= 4                  # room for the whole allocation, if it can be had
            start = max(0, first - count // 4) // 16 * 16
            self.zoom(min(start, self.machine.max_pfn - 1), count)
        self._draw_selection()

    def _runs(self, pfns) -> list[tuple[int, int]]:
        runs = []
        for p in pfns:
            if runs and runs[-1][1] == p:
                runs[-1][1] = p + 1
            else:
                runs.append([p, p + 1])
        return [tuple(r) for r in runs]

    def _draw_selection(self) -> None:
        pfns = getattr(self, "selected_frames", [])
        mib = self._mib_per_row()
        w = self.width
        xs, ys = [], []
        pad = max(1.0, w / 128)             # at least a few screen pixels around tiny blocks
        for lo, hi in self._runs(pfns)[:64]:
            r0, r1 = lo // w, (hi - 1) // w
            x0, x1 = (lo % w, (hi - 1) % w + 1) if r0 == r1 else (0, w)
            xs.append([x0 - pad, x1 + pad, x1 + pad, x0 - pad, x0 - pad])
            ys.append([y * mib for y in (r0 - 0.5, r0 - 0.5, r1 + 1.5, r1 + 1.5, r0 - 0.5)])
        with self.selection_boxes.hold_sync():
            if xs:
                self.selection_boxes.x, self.selection_boxes.y = xs, ys
                self.selection_boxes.colors = ["black"] * len(xs)
                self.selection_boxes.visible = True
            else:
                self.selection_boxes.visible = False
        # in the zoom window: one box per run, in its cells
        zs = self.zoom_start
        zw = self.zoom_grid_width()
        zx, zy = [], []
        for lo, hi in self._runs([p for p in pfns if zs <= p < zs + self.zoom_count])[:64]:
            for p0 in range(lo, hi, zw):
                p1 = min(hi, (p0 // zw + 1) * zw)
                c0, c1 = p0 % zw - 0.5, (p1 - 1) % zw + 0.5
                row = p0 // zw * zw
                zx.append([c0, c1, c1, c0, c0])
                zy.append([row - 0.5 * zw, row - 0.5 * zw, row + 0.5 * zw, row + 0.5 * zw, row - 0.5 * zw])
        with self.zoom_selection.hold_sync():
            if zx:
                self.zoom_selection.x, self.zoom_selection.y = zx, zy
                self.zoom_selection.colors = ["black"] * len(zx)
                self.zoom_selection.visible = True
            else:
                self.zoom_selection.visible = False

    def zoom_grid_width(self) -> int:
        zw = 16
        while zw * zw < self.zoom_count:
            zw *= 2
        return zw

    def zoom_grid(self) -> np.ndarray:
        """The zoom window's cells: palette indices, rows of a power-of-two width."""
        count = self.zoom_count
        zw = self.zoom_grid_width()
        rows = -(-count // zw)
        grid = np.full(rows * zw, K_NOMAP, np.uint8)
        seg = self.pixels[self.zoom_start:min(self.zoom_start + count, self.machine.max_pfn)]
        grid[:len(seg)] = seg
        return grid.reshape(rows, zw)

    def _draw_zoom(self) -> None:
        grid = self.zoom_grid()
        rows, zw = grid.shape
        zs = self.zoom_start
        # the heatmap's rows are labelled with the pfn they start at (hex); its cells are
        # the frames zs, zs+1, ... (a row may start mid-way: the grid is not aligned)
        ys = (zs + np.arange(rows, dtype=np.int64) * zw).astype(np.int64)
        with self.heatmap.hold_sync(), self._zy.hold_sync(), self._zx.hold_sync():
            self.heatmap.x = np.arange(zw, dtype=np.int32)
            self.heatmap.y = ys
            self.heatmap.color = grid
            self._zx.min, self._zx.max = -0.5, zw - 0.5
            self._zy.min, self._zy.max = float(ys[0] - zw / 2), float(ys[-1] + zw / 2)
        self._zoom_xaxis.tick_values = np.linspace(0, zw, 5)[:-1].astype(np.int64)
        self._zoom_yaxis.tick_values = ys[::max(1, rows // 6)]
        self.zoom_heading.value = self._heading(self.t("phys.zoom_title", lo=zs, hi=zs + self.zoom_count - 1, w=zw))
        mib = self._mib_per_row()
        end = min(zs + self.zoom_count, self.machine.max_pfn) - 1
        r0, r1 = zs // self.width, end // self.width
        with self.zoom_box.hold_sync():
            self.zoom_box.x = [[0, self.width, self.width, 0, 0]]
            self.zoom_box.y = [[r0 * mib, r0 * mib, (r1 + 1) * mib, (r1 + 1) * mib, r0 * mib]]
            self.zoom_box.visible = True
        if getattr(self, "selected_frames", None):
            self._draw_selection()

    def _on_zoom_controls(self, change) -> None:
        if getattr(self, "_syncing", False):
            return
        try:
            start = parse_pfn(self.zoom_start_box.value, self.machine.max_pfn, self.lang)
            self.zoom(start, self.zoom_count_box.value)
            self.message.value = ""
        except (ValueError, TypeError) as e:
            self._say_error(self.message, e)

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
        if not change["new"].strip():
            return
        try:
            self.select(parse_pfn(change["new"], self.machine.max_pfn, self.lang))
        except (ValueError, TypeError) as e:
            self._say_error(self.info, e)

    def select(self, pfn: int) -> None:
        """Show what frame ``pfn`` is in the info line."""
        pfn = int(pfn)
        if not 0 <= pfn < self.machine.max_pfn:
            raise ValueError(self.t("err.pfn_range", pfn=pfn, top=self.machine.max_pfn - 1))
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
            return self.t("phys.desc.hole", head=head)
        zone, node = mm.zone_name(pfn), int(mm.node[pfn])
        block = self._block_of(pfn)
        flags = "|".join(mm.flag_names(pfn)) or "none"
        if block is None:
            return self.t("phys.desc", head=head, kind=kind, zone=zone, node=node, flags=flags)
        b, o, free = block
        key = "phys.desc.free" if free else "phys.desc.block"
        return self.t(key, head=head, kind=kind, zone=zone, node=node, order=o, pfn=b, n=1 << o,
                      flags=flags)

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
            return f'<span style="font-size:{self.px(15)}px">{html.escape(self.t("phys.hint"))}</span>'
        return (f'<span style="font-size:{self.px(15)}px;font-family:monospace">'
                f'{html.escape(self.describe(pfn))}</span>')

    # -- static fallback -----------------------------------------------------------------

    def to_html(self) -> str:
        """The map as an inline PNG with its legend: readable without a kernel."""
        self.flush()
        b64 = base64.b64encode(self.png).decode()
        ww = min(860, max(self.width, 512))
        rows = "".join(
            f"<tr><td>{html.escape(z.name)}</td><td>{z.node}</td><td>{z.zone_start_pfn:#x}</td>"
            f"<td>{zone_end_pfn(z):#x}</td></tr>" for z in for_each_populated_zone(self.machine))
        heading = self.t("phys.static_title", n=self.machine.max_pfn, w=self.width)
        head = "".join(f"<th>{html.escape(self.t(k))}</th>" for k in ("phys.col_zone", "phys.col_node", "phys.col_start", "phys.col_end"))
        return (f'<div class="kmemlab-physmap-static"><b>{html.escape(heading)}</b><br>'
                f'<img src="data:image/png;base64,{b64}" width="{ww}" '
                f'style="image-rendering:pixelated;border:1px solid #444" alt="physical memory map"/>'
                f"{self._legend_html()}"
                f'<table><tr>{head}</tr>{rows}</table>'
                f"</div>")
