"""VirtMap: the kernel's virtual address space, and the vmalloc area up close.

Top: the regions of ``m.layout`` (user space, direct map, vmalloc, vmemmap, kernel
text, ...) in address order on a *broken log* axis: each region's width grows with
log2 of its size, and the gaps between regions are drawn as breaks labelled with their
size, because to scale a 2 MiB region next to a 64 TiB one would be invisible.

Bottom: the vmalloc range, zoomable (drag to pan, wheel to zoom, or ``zoom(lo, hi)``),
in pages from ``VMALLOC_START``: each busy vm area (``for_each_vmap_area(m)``) as its mapped
pages (cyan) followed by its guard page (white, red border), and the lazily freed areas
waiting for ``__purge_vmap_area_lazy`` (hatched grey: their addresses are not reusable
yet).
"""

from __future__ import annotations

import html
import math

import bqplot as bq
import ipywidgets as W

from ..kernel.helpers import for_each_purge_vmap_area, for_each_vmap_area, get_vm_area_size
from ..kernel.mem_map import K_VMALLOC
from ..kernel.types import Address
from .base import View
from .messages import MESSAGES
from .palette import KIND_COLOURS

__all__ = ["VirtMap", "format_bytes"]

_REGION_COLOURS = {"user": "#DDCC77", "direct map": "#44AA99", "vmalloc": "#88CCEE",
                   "vmemmap": "#AA4499", "kernel text": "#882255", "modules": "#CC6677"}
_GUARD_EDGE = "#CC3311"
_LAZY = "#BBBBBB"


def format_bytes(n: int) -> str:
    for unit, shift in (("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v >= 10 or v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


class VirtMap(View):
    """``VirtMap(m)``; ``vm.areas`` (the rectangles of the vmalloc band), ``vm.zoom(lo, hi)``."""

    title = "kernel virtual address space"
    WAKE = frozenset(("vmalloc", "vfree", "vmap", "vunmap", "purge_vmap_area_lazy", "restore"))
    #: collecting every vm area is not free: four pictures a second while a burst runs
    burst_interval = 0.25

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        m = machine
        self._vstart = int(m.VMALLOC_START)
        #: (kind, start, end) drawn in the band: kind "pages", "guard" or "lazy"
        self.areas: list[tuple[str, int, int]] = []
        self.regions_html = W.HTML(self._regions_svg())
        self.regions_html.add_class("kmemlab-virtmap-regions")
        self._sx = bq.LinearScale(min=0.0, max=64.0)
        self._sy = bq.LinearScale(min=0.0, max=1.0)
        sc = {"x": self._sx, "y": self._sy}
        self.rects = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, fill="inside", close_path=True,
                              colors=["#222222"], fill_colors=[_LAZY], stroke_width=1)
        self.labels = bq.Label(x=[0.0], y=[0.0], text=[""], scales=sc, default_size=14,
                               colors=["#222222"], align="middle")
        self.band = bq.Figure(marks=[self.rects, self.labels],
                              axes=[bq.Axis(scale=self._sx, label=self.t("virt.xaxis"),
                                            tick_format="d", num_ticks=8)],
                              interaction=bq.interacts.PanZoom(scales={"x": [self._sx]}),
                              title=f"vmalloc area from {Address(self._vstart)}",
                              title_style={"font-size": f"{self.px(15)}px"}, padding_y=0,
                              fig_margin={"top": 40, "bottom": 50, "left": 20, "right": 20},
                              layout=W.Layout(width="100%", min_width="0", height=f"{self.px(230)}px"))
        self.band.add_class("kmemlab-vmalloc-band")
        self.widget = W.VBox([self.regions_html, self.band])
        self.widget.add_class("kmemlab-virtmap")
        self._zoomed = False
        self._redraw()

    # -- the regions ---------------------------------------------------------------------

    def _regions_svg(self, width: int = 1000, height: int = 150) -> str:
        regions = [r for r in self.machine.layout if r.end > r.start]
        weights = [max(1.0, math.log2(r.end - r.start) - 10) for r in regions]
        gap_w = 14
        usable = width - 20 - gap_w * (len(regions) - 1)
        scale = usable / sum(weights)
        x = 10.0
        # as wide as the page (viewBox): the text scales with it, nothing is cut off
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
               f'style="max-width:{width * 1.6:.0f}px" font-family="sans-serif">',
               f'<text x="10" y="18" font-size="17" font-weight="bold">{html.escape(self.t("virt.title"))}</text>']
        prev_end = None
        for r, wt in zip(regions, weights):
            if prev_end is not None:
                gap = r.start - prev_end
                if gap > 0:
                    out.append(f'<text x="{x - gap_w / 2:.1f}" y="78" font-size="15" text-anchor="middle" '
                               f'fill="#CC3311">//</text>')
            w = wt * scale
            c = _REGION_COLOURS.get(r.name, "#E0E0E0")
            out.append(f'<rect x="{x:.1f}" y="40" width="{w:.1f}" height="56" fill="{c}" stroke="#222">'
                       f"<title>{html.escape(r.what)}</title></rect>")
            out.append(f'<text x="{x + w / 2:.1f}" y="64" font-size="14" text-anchor="middle" '
                       f'font-weight="bold">{html.escape(self._region_label(r.name))}</text>')
            out.append(f'<text x="{x + w / 2:.1f}" y="84" font-size="13" text-anchor="middle">'
                       f"{format_bytes(r.end - r.start)}</text>")
            out.append(f'<text x="{x:.1f}" y="{112 + 16 * (regions.index(r) % 2)}" font-size="11" '
                       f'fill="#444">{r.start:#x}</text>')
            prev_end = r.end
            x += w + gap_w
        out.append("</svg>")
        return "".join(out)

    # -- the vmalloc band ------------------------------------------------------------------

    def _collect(self) -> list[tuple[str, int, int]]:
        m = self.machine
        out = []
        for va in for_each_vmap_area(m):
            vm = va.vm
            if vm is None:             # a vm_map_ram() area has no vm_struct, and no guard
                out.append(("pages", va.va_start, va.va_end))
                continue
            end = vm.addr + vm.size
            mapped = vm.addr + get_vm_area_size(vm)
            out.append(("pages", vm.addr, mapped))
            if mapped < end:
                out.append(("guard", mapped, end))
        for va in for_each_purge_vmap_area(m):
            out.append(("lazy", va.va_start, va.va_end))
        out.sort(key=lambda a: a[1])
        return out

    def zoom(self, lo_page: float, hi_page: float) -> None:
        """Show pages [lo_page, hi_page) of the vmalloc range."""
        if not hi_page > lo_page:
            raise ValueError(f"zoom needs lo < hi, got {lo_page}..{hi_page}")
        self._zoomed = True
        with self._sx.hold_sync():
            self._sx.min, self._sx.max = float(lo_page), float(hi_page)

    def _redraw(self) -> None:
        self.areas = self._collect()
        ps = self.machine.PAGE_SIZE
        base = self._vstart
        rects = []
        for kind, s, e in self.areas:
            x0, x1 = (s - base) / ps, (e - base) / ps
            fill = {"pages": KIND_COLOURS[K_VMALLOC], "guard": "#FFFFFF", "lazy": _LAZY}[kind]
            edge = _GUARD_EDGE if kind == "guard" else "#222222"
            y0, y1 = (0.25, 0.75) if kind != "lazy" else (0.32, 0.68)
            rects.append(([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], fill, edge))
        # pcpu_get_vm_areas() takes per-CPU chunks from the very end of the range, terabytes
        # away: the first view fits the areas of the lower half, the title names the others
        half = base + (int(self.machine.VMALLOC_END) - base) // 2
        top = max([(e - base) / ps for _, s, e in self.areas if s < half] or [16.0])
        far = sum(1 for k, s, _ in self.areas if k == "pages" and s >= half)
        with self.rects.hold_sync():
            if rects:
                self.rects.x = [r[0] for r in rects]
                self.rects.y = [r[1] for r in rects]
                self.rects.fill_colors = [r[2] for r in rects]
                self.rects.colors = [r[3] for r in rects]
                self.rects.visible = True
            else:
                self.rects.visible = False
        busy = [(s, e) for k, s, e in self.areas if k == "pages"]
        with self.labels.hold_sync():
            if busy and len(busy) <= 24:
                self.labels.x = [((s + e) / 2 - base) / ps for s, e in busy]
                self.labels.y = [0.82] * len(busy)
                self.labels.text = [format_bytes(e - s) for s, e in busy]
                self.labels.visible = True
            else:
                self.labels.visible = False
        if not self._zoomed:
            with self._sx.hold_sync():
                self._sx.min, self._sx.max = 0.0, float(max(16.0, top * 1.15))
        n = sum(1 for k, *_ in self.areas if k == "pages")
        lazy = sum(1 for k, *_ in self.areas if k == "lazy")
        self.band.title = (self.t("virt.band", start=Address(base), n=n, lazy=lazy)
                           + (self.t("virt.far", far=far) if far else ""))

    def _region_label(self, name: str) -> str:
        """A region's label: the table's word for the descriptive names ("direct map",
        "kernel text"); kernel names (vmalloc, vmemmap, EFI, ...) stay as they are."""
        key = "virt.region." + name.replace(" ", "_")
        return self.t(key) if key in MESSAGES else name

    def to_html(self) -> str:
        self.flush()
        rows = "".join(f"<tr><td>{html.escape(self.t('virt.kind.' + k))}</td><td>{Address(s)}</td>"
                       f"<td>{Address(e)}</td><td>{e - s}</td></tr>" for k, s, e in self.areas)
        head = "".join(f"<th>{html.escape(self.t('virt.col.' + c))}</th>" for c in ("what", "start", "end", "bytes"))
        return (f'<div class="kmemlab-virtmap-static">{self._regions_svg()}'
                f"<table><caption>{html.escape(self.t('virt.static_caption'))}</caption><tr>{head}</tr>"
                f"{rows}</table></div>")
