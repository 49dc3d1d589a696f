"""MappingView: the virtual pages of one allocation joined to the frames behind them.

The picture of the first lecture. A band of *virtual* pages (the allocation's pages, in
address order, and a vmalloc area's guard page) sits above a band of *physical* frames;
a line joins each page to the frame the page tables map it to (``m.walk(addr).pfn``,
which is what the MMU would reach). Page ``i`` and its frame share a colour.

- ``kmalloc`` (and ``alloc_pages``) memory lies in the direct map, where
  ``phys = virt - PAGE_OFFSET``: consecutive pages sit on consecutive frames, the
  physical band shows exactly those frames at the same width, and the lines are
  parallel.
- ``vmalloc`` memory is virtually contiguous only: its order-0 frames come from wherever
  the buddy allocator had them. The physical band then spans from the lowest to the
  highest frame used (a ruler below shows where that lies in all of RAM), so on a
  fragmented machine the lines fan out and cross.

Up to :data:`MAX_LINES` pages are drawn; a larger allocation shows every k-th page and
says so. The static fallback (:meth:`MappingView.to_html`) draws the same scene as SVG.
"""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W

from ..kernel.helpers import OBJ_USED, get_vm_area_size, page_slab, slab_object_states
from ..kernel.mem_map import K_FREE, K_KMALLOC_LARGE, K_PAGES, K_SLAB, KIND_NAMES
from ..kernel.types import Address, Page
from ..kernel.vmalloc import VM_ALLOC
from .base import View, weak_handler
from .inputs import number_box

__all__ = ["MappingView", "MAX_LINES", "BAND_X0", "BAND_X1", "PAGE_COLOURS"]

MAX_LINES = 128
#: where both bands start and end in the figure's 0..1 coordinates
BAND_X0, BAND_X1 = 0.03, 0.97
#: y extents (0 bottom .. 1 top) of the bands and the RAM ruler
V_Y0, V_Y1 = 0.70, 0.86
P_Y0, P_Y1 = 0.20, 0.36
R_Y0, R_Y1 = 0.04, 0.08
#: one colour per page, cycling (Paul Tol's "bright" scheme: colour-blind safe)
PAGE_COLOURS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")
#: the least distance (band width = 1) between two pfn labels under the physical band
PFN_LABEL_ROOM = 0.07
GUARD_COLOUR = "#F2F2F2"
BAND_BG = "#DDDDDD"

_ALLOC_EVENTS = ("kmalloc", "vmalloc", "kmem_cache_alloc", "vmap")
_FREE_EVENTS = ("kfree", "vfree", "vunmap", "kmem_cache_free", "free_pages")


class Allocation:
    """What is selected: its pages' virtual addresses and (after :meth:`resolve`) frames."""

    def __init__(self, function: str, addr: int, size: int, nr_pages: int, guard: bool,
                 region: str, first_page: int):
        self.function = function      # "kmalloc", "vmalloc", "alloc_pages", "vmap", ...
        self.addr = addr              # what the caller got
        self.size = size              # bytes the allocation provides
        self.nr_pages = nr_pages
        self.guard = guard            # a guard page follows (vmalloc areas)
        self.region = region          # "direct map" or "vmalloc"
        self.first_page = first_page  # virtual address of the first page
        self.freed = False


class MappingView(View):
    """``MappingView(m)``; ``mv.select(addr_or_page)``; ``mv.links`` = [(vaddr, pfn)].

    With ``follow=True`` the picture follows the newest kmalloc / vmalloc."""

    title = "virtual to physical mapping"
    WAKE = frozenset(_ALLOC_EVENTS + _FREE_EVENTS + ("restore",))
    #: it shows one allocation: while a burst runs, follow the newest one twice a second
    burst_interval = 0.5

    def __init__(self, machine, follow: bool = True, **kw):
        super().__init__(machine, **kw)
        self.follow = follow
        self.selection: Allocation | None = None
        self.links: list[tuple[int, int]] = []       # (page vaddr, pfn) of the drawn pages
        self.step = 1                                # every step-th page is drawn
        self.phys_window = (0, 1)                    # [plo, phi) frames in the physical band
        self._pending = None
        self._shown = None
        self._build()
        self._redraw()

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        sx = bq.LinearScale(min=0.0, max=1.0)
        sy = bq.LinearScale(min=0.0, max=1.0)
        sc = {"x": sx, "y": sy}
        self.bands = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, fill="inside", colors=["#333333"],
                              fill_colors=[BAND_BG], stroke_width=1, close_path=True)
        self.lines = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, colors=["black"], stroke_width=3)
        self.cells = bq.Lines(x=[[0, 0]], y=[[0, 0]], scales=sc, fill="inside", colors=["#222222"],
                              fill_colors=[BAND_BG], stroke_width=1, close_path=True)
        self.texts = bq.Label(x=[0.0], y=[0.0], text=[""], scales=sc, colors=["black"],
                              default_size=self.px(17), font_weight="bold", align="start")
        self.small = bq.Label(x=[0.0], y=[0.0], text=[""], scales=sc, colors=["#222222"],
                              default_size=self.px(14), align="middle")
        # width: whatever the page gives (no fixed pixels); the scene is in 0..1 coordinates
        self.figure = bq.Figure(marks=[self.bands, self.lines, self.cells, self.texts, self.small],
                                axes=[], padding_x=0, padding_y=0, title="",
                                fig_margin={"top": 6, "bottom": 6, "left": 6, "right": 6},
                                layout=W.Layout(width="100%", min_width="0",
                                                height=f"{self.px(360)}px"))
        self.figure.add_class("kmemlab-mapping")
        self.address = number_box(self.t("map.address"), "0xffff888... / 0xffffc9...",
                                  css="kmemlab-mapping-address")
        self.address.observe(weak_handler(self._on_typed_address), names=["value"])
        self._error_line = W.HTML("")
        self._error_line.add_class("kmemlab-mapping-error")
        self.caption = W.HTML("")
        self.caption.add_class("kmemlab-mapping-caption")
        # the title is HTML above the figure: it wraps at any width (an SVG title would be cut)
        self.heading = W.HTML("")
        self.heading.add_class("kmemlab-mapping-title")
        self.widget = W.VBox([self.heading, self.figure, self.address, self._error_line, self.caption],
                             layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-mapping-view")

    # -- choosing what to show ---------------------------------------------------------

    def select(self, target) -> None:
        """Show an allocation: an address a kmalloc/vmalloc/get_free_pages returned, a Page
        from alloc_pages, or None to clear."""
        self.selection = None if target is None else self._resolve(target)
        self._pending = None
        self._shown = None
        self._redraw()

    def _resolve(self, target) -> Allocation:
        m = self.machine
        if isinstance(target, Page):
            if not m.page_address(target):
                raise ValueError(self.t("err.highmem", pfn=target.pfn))
            order = int(m.mem_map.order[target.pfn])
            nr = 1 << max(order, 0)
            addr = int(m.page_address(target))
            return Allocation("alloc_pages", addr, nr * m.PAGE_SIZE, nr, False, "direct map", addr)
        if isinstance(target, bool) or not isinstance(target, int):
            raise TypeError(f"select() takes an address (int) or a Page, got {type(target).__name__}")
        addr = int(target)
        ps = m.PAGE_SIZE
        if m.is_vmalloc_addr(addr):
            vm = m.find_vm_area(addr)
            if vm is None:
                raise ValueError(self.t("err.no_area", addr=Address(addr)))
            size = get_vm_area_size(vm)
            guard = size != vm.size
            function = "vmalloc" if vm.flags & VM_ALLOC else "vmap"
            return Allocation(function, vm.addr, size, size // ps, guard, "vmalloc", vm.addr)
        # a read-only question first: virt_to_phys() of anything else is a kernel BUG report
        if not m.virt_addr_valid(addr):
            raise ValueError(self.t("err.neither", addr=Address(addr)))
        pfn = m.virt_to_phys(addr) >> m.PAGE_SHIFT
        mm = m.mem_map
        kind = int(mm.kind[pfn])
        page_start = addr & ~(ps - 1)
        if kind == K_SLAB:
            size = m.ksize(addr)
            nr = -(-(addr - page_start + size) // ps)
            cache = page_slab(m, pfn).slab_cache.name
            return Allocation(f"{cache} object", addr, size, nr, False, "direct map", page_start)
        # a block: kmalloc_large, alloc_pages, ... find its head
        for o in range(m.NR_PAGE_ORDERS):
            head = pfn & ~((1 << o) - 1)
            if mm.order[head] >= 0 and head + (1 << int(mm.order[head])) > pfn:
                nr = 1 << int(mm.order[head])
                start = int(m.page_address(m.pfn_to_page(head)))
                function = "kmalloc" if kind == K_KMALLOC_LARGE else (
                    "alloc_pages" if kind == K_PAGES else KIND_NAMES[kind])
                return Allocation(function, addr, nr * ps, nr, False, "direct map", start)
        return Allocation(KIND_NAMES[kind], addr, ps, 1, False, "direct map", page_start)

    def _note(self, changes) -> None:
        newest = changes.newest(_ALLOC_EVENTS) if self.follow else None
        if changes.everything:
            self._pending = ("restore", None)
        if newest is not None:
            self._pending = ("select", newest[1])
        elif self.selection is not None and not self.selection.freed \
                and not changes.types.isdisjoint(_FREE_EVENTS):
            self._pending = ("check", None)     # something was freed: is it ours?

    # -- drawing -------------------------------------------------------------------------

    def _redraw(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == "check":
            if self.selection is not None and not self._still_live(self.selection):
                self.selection.freed = True
            pending = None
        if pending is not None:
            what, addr = pending
            target = addr if what == "select" else (self.selection.addr if self.selection else None)
            try:
                self.selection = None if target is None else self._resolve(target)
            except Exception:            # noqa: BLE001 - e.g. gone after a restore: show nothing
                self.selection = None
            self._shown = None
        sel = self.selection
        key = None if sel is None else (sel.addr, sel.freed, sel.nr_pages)
        if key == self._shown and key is not None:
            return
        self._shown = key
        scene = self.scene()
        self._apply(scene)

    def _still_live(self, sel: Allocation) -> bool:
        """Is the selected allocation still allocated? (read-only queries, once per redraw)"""
        m = self.machine
        mm = m.mem_map
        if sel.region == "vmalloc":
            vm = m.find_vm_area(sel.first_page)
            return vm is not None and vm.addr == sel.first_page
        pfn = (sel.first_page - m.PAGE_OFFSET) >> m.PAGE_SHIFT
        if not 0 <= pfn < m.max_pfn:
            return False
        if sel.function.endswith(" object"):
            slab = page_slab(m, pfn)
            if slab is None:
                return False
            s = slab.slab_cache
            i = (sel.addr - slab.addr - s.red_left_pad) // s.size
            return 0 <= i < slab.objects and slab_object_states(slab)[i] == OBJ_USED
        return int(mm.kind[pfn]) not in (K_FREE,) and int(mm.order[pfn]) >= 0

    def _frames(self, sel: Allocation) -> list[tuple[int, int]]:
        m = self.machine
        ps = m.PAGE_SIZE
        self.step = step = max(1, -(-sel.nr_pages // MAX_LINES))
        out = []
        for i in range(0, sel.nr_pages, step):
            va = sel.first_page + i * ps
            w = m.walk(va)
            out.append((va, w.pfn if w.pfn is not None else -1))
        return out

    def scene(self) -> dict:
        """The picture as plain data: rectangles, lines and texts in 0..1 coordinates."""
        m = self.machine
        sel = self.selection
        sc = {"bands": [], "cells": [], "lines": [], "texts": [], "small": [], "title": "",
              "caption": ""}
        if sel is None:
            self.links = []
            sc["title"] = self.t("map.nothing")
            sc["texts"].append((BAND_X0, 0.5, self.t("map.hint"), "#333333"))
            return sc
        ps = m.PAGE_SIZE
        self.links = [] if sel.freed else self._frames(sel)
        nv = sel.nr_pages + (1 if sel.guard else 0)
        span = BAND_X1 - BAND_X0
        vw = span / nv
        frames = [p for _, p in self.links if p >= 0]
        if frames:
            plo, phi = min(frames), max(frames) + 1
            if phi - plo <= nv:               # contiguous: as wide as the virtual band,
                phi = plo + nv                # so each frame sits under its page
        else:
            plo, phi = 0, 1
        self.phys_window = (plo, phi)
        pw = span / (phi - plo)
        vy0, vy1, py0, py1 = V_Y0, V_Y1, P_Y0, P_Y1
        sc["bands"].append((BAND_X0, BAND_X1, vy0, vy1, BAND_BG))
        sc["bands"].append((BAND_X0, BAND_X1, py0, py1, BAND_BG))
        sc["bands"].append((BAND_X0, BAND_X1, R_Y0, R_Y1, BAND_BG))
        rlo = BAND_X0 + span * plo / m.max_pfn
        rhi = BAND_X0 + span * max(phi, plo + 1) / m.max_pfn
        sc["bands"].append((rlo, max(rhi, rlo + 0.004), R_Y0 - 0.012, R_Y1 + 0.012, "#222222"))
        ncol = len(PAGE_COLOURS)
        # at most ~8 labels per band, so they stay readable from the back of a lecture hall
        lstep = max(1, -(-len(self.links) // 8))
        pfn_label_xs: list[float] = []
        for j, (va, pfn) in enumerate(self.links):
            i = j * self.step
            colour = PAGE_COLOURS[j % ncol]
            x0 = BAND_X0 + i * vw
            x1 = x0 + vw * self.step
            sc["cells"].append((x0, x1, vy0, vy1, colour))
            xv = (x0 + x1) / 2
            if pfn >= 0:
                f0 = BAND_X0 + (pfn - plo) * pw
                f1 = f0 + max(pw, 0.004)
                sc["cells"].append((f0, f1, py0, py1, colour))
                xp = BAND_X0 + (pfn - plo + 0.5) * pw
                sc["lines"].append((xv, xp, colour))
                if j % lstep == 0:
                    sc["small"].append((xv, vy0 - 0.05, self.t("map.page", i=i), "#222222"))
                    # frames of a scattered area bunch up: a pfn label only where it has room
                    # (~7 % of the band: "0x37dd" at the projector's font size)
                    if all(abs(xp - x) >= PFN_LABEL_ROOM for x in pfn_label_xs):
                        pfn_label_xs.append(xp)
                        # centred on its frame, but kept inside the band (an end frame's
                        # label would be cut at the picture's edge)
                        xl = min(max(xp, BAND_X0 + PFN_LABEL_ROOM / 2), BAND_X1 - PFN_LABEL_ROOM / 2)
                        sc["small"].append((xl, py1 + 0.025, f"{pfn:#x}", "#222222"))
        if sel.guard:
            x0 = BAND_X0 + sel.nr_pages * vw
            sc["cells"].append((x0, BAND_X1, vy0, vy1, GUARD_COLOUR))
            sc["small"].append(((x0 + BAND_X1) / 2, (vy0 + vy1) / 2 - 0.02, self.t("map.guard"), "#882255"))
        end = sel.first_page + nv * ps
        region = self.t("map.region.direct" if sel.region == "direct map" else "map.region.vmalloc")
        sc["texts"].append((BAND_X0, vy1 + 0.03, self.t("map.virtual", region=region,
                                                        start=Address(sel.first_page), end=Address(end)),
                            "black"))
        sc["texts"].append((BAND_X0, py0 - 0.07, self.t("map.physical", lo=plo, hi=phi - 1,
                                                        kib=(phi - plo) * ps >> 10), "black"))
        sc["small"].append((0.5, R_Y0 - 0.035, self.t("map.ruler", n=m.max_pfn), "#444444"))
        # sel.size is what the allocation really holds (ksize / the area), not the request
        call = (self.t("map.call_size", function=sel.function, size=sel.size)
                if sel.function in ("kmalloc", "vmalloc") else sel.function)
        if sel.freed:
            sc["title"] = self.t("map.freed_title", call=call, addr=Address(sel.addr))
            sc["caption"] = self.t("map.freed")
            return sc
        contiguous = len(frames) == len(self.links) and all(
            b - a == self.step for a, b in zip(frames, frames[1:]))
        chance = contiguous and sel.region == "vmalloc" and len(self.links) > 1
        how = (self.t("map.by_chance") if chance else self.t("map.parallel")) if contiguous \
            else self.t("map.scattered", kib=(phi - plo) * ps >> 10)
        sc["title"] = self.t("map.title", call=call, addr=Address(sel.addr), n=sel.nr_pages, how=how)
        note = "" if self.step == 1 else self.t("map.every", step=self.step)
        if sel.region == "direct map":
            sc["caption"] = self.t("map.cap.direct") + note
        else:
            sc["caption"] = (self.t("map.cap.vmalloc") + (self.t("map.cap.guard") if sel.guard else "")
                             + (self.t("map.cap.chance") if chance else "") + note)
        return sc

    @staticmethod
    def _rects(rs):
        xs = [[x0, x1, x1, x0, x0] for x0, x1, _, _, _ in rs]
        ys = [[y0, y0, y1, y1, y0] for _, _, y0, y1, _ in rs]
        return xs, ys, [c for *_, c in rs]

    def _apply(self, sc: dict) -> None:
        def put_rects(mark, rs):
            if rs:
                xs, ys, cs = self._rects(rs)
                with mark.hold_sync():
                    mark.x, mark.y, mark.fill_colors = xs, ys, cs
                    mark.colors = ["#222222"] * len(cs)
                    mark.visible = True
            else:
                mark.visible = False
        put_rects(self.bands, sc["bands"])
        put_rects(self.cells, sc["cells"])
        if sc["lines"]:
            n = len(sc["lines"])
            with self.lines.hold_sync():
                self.lines.x = [[xv, xp] for xv, xp, _ in sc["lines"]]
                self.lines.y = [[V_Y0, P_Y1]] * n
                self.lines.colors = [c for *_, c in sc["lines"]]
                self.lines.stroke_width = self.px(3 if n <= 32 else (2 if n <= 64 else 1))
                self.lines.visible = True
        else:
            self.lines.visible = False
        for mark, items in ((self.texts, sc["texts"]), (self.small, sc["small"])):
            with mark.hold_sync():
                if items:
                    mark.x = [x for x, *_ in items]
                    mark.y = [y for _, y, *_ in items]
                    mark.text = [t for _, _, t, _ in items]
                    mark.colors = [c for *_, c in items]
                    mark.visible = True
                else:
                    mark.visible = False
        self.heading.value = (f'<div style="font-size:{self.px(17)}px;font-weight:bold;margin:2px 0">'
                              f'{html.escape(sc["title"])}</div>')
        self.caption.value = f'<span style="font-size:{self.px(16)}px">{html.escape(sc["caption"])}</span>'

    # -- static fallback -----------------------------------------------------------------

    def to_svg(self, width: int = 1000, height: int = 400) -> str:
        """The scene as an SVG picture (what :meth:`to_html` embeds)."""
        self.flush()
        sc = self.scene()

        def X(x):
            return round(x * width, 1)

        def Y(y):
            return round((1 - y) * height, 1)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
               f'viewBox="0 -40 {width} {height + 40}" font-family="sans-serif">',
               f'<text x="10" y="-12" font-size="20" font-weight="bold">{html.escape(sc["title"])}</text>']
        for x0, x1, y0, y1, c in sc["bands"] + sc["cells"]:
            out.append(f'<rect x="{X(x0)}" y="{Y(y1)}" width="{max(X(x1) - X(x0), 1)}" '
                       f'height="{Y(y0) - Y(y1)}" fill="{c}" stroke="#222"/>')
        for xv, xp, c in sc["lines"]:
            out.append(f'<line x1="{X(xv)}" y1="{Y(V_Y0)}" x2="{X(xp)}" y2="{Y(P_Y1)}" '
                       f'stroke="{c}" stroke-width="3"/>')
        for x, y, t, c in sc["texts"]:
            out.append(f'<text x="{X(x)}" y="{Y(y)}" font-size="18" font-weight="bold" fill="{c}">'
                       f"{html.escape(t)}</text>")
        for x, y, t, c in sc["small"]:
            out.append(f'<text x="{X(x)}" y="{Y(y)}" font-size="14" text-anchor="middle" fill="{c}">'
                       f"{html.escape(t)}</text>")
        out.append("</svg>")
        return "".join(out)

    def to_html(self) -> str:
        cap = html.escape(self.scene()["caption"])
        return f'<div class="kmemlab-mapping-static">{self.to_svg()}<p>{cap}</p></div>'
