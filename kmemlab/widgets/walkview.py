"""WalkView: one page-table walk (``m.walk(addr)``) as a path of boxes.

The virtual address is cut into its index fields (one per paging level, coloured per
level) and the page offset; then one box per table the MMU reads: the table's physical
address, the index taken from the address, the entry found (hex) and its flags; the
used entry is the highlighted path from CR3 to the frame. A huge page (PSE) ends the
walk early, with a wider offset; a non-present entry ends it with a page fault.
Everything drawn is a field of :class:`kmemlab.kernel.pgtable.Walk`.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel.types import Address, Page
from .base import View, weak_handler
from .inputs import number_box

__all__ = ["WalkView", "LEVEL_COLOURS"]

#: one colour per level (Paul Tol "bright"), pgd first
LEVEL_COLOURS = {"pgd": "#4477AA", "p4d": "#AA3377", "pud": "#228833", "pmd": "#CCBB44",
                 "pte": "#EE6677"}
_OFFSET_COLOUR = "#777777"


class WalkView(View):
    """``WalkView(m)``; ``wv.select(addr_or_page)``; ``wv.walk`` is the Walk drawn."""

    title = "page-table walk"
    WAKE = frozenset(("kmalloc", "vmalloc", "vfree", "vmap", "vunmap", "restore"))
    #: it shows one walk: while a burst runs, follow the newest allocation twice a second
    burst_interval = 0.5

    def __init__(self, machine, follow: bool = True, **kw):
        super().__init__(machine, **kw)
        self.follow = follow
        self.addr = None
        self.walk = None
        self._pending = None
        self.address = number_box(self.t("walk.box"), "0xffff888000100000", css="kmemlab-walk-address")
        self.address.observe(weak_handler(self._on_typed_address), names=["value"])
        self._error_line = W.HTML("")
        self._error_line.add_class("kmemlab-walk-error")
        self.html = W.HTML("", layout=W.Layout(width="100%", min_width="0", overflow="hidden"))
        self.html.add_class("kmemlab-walk")
        self.widget = W.VBox([self.address, self._error_line, self.html],
                             layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-walk-view")
        self._redraw()

    def select(self, target) -> None:
        """Walk ``target``: a virtual address or a Page (its direct-map address); None clears."""
        if isinstance(target, Page):
            target = self.machine.page_address(target)
        if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
            raise TypeError(f"select() takes an address (int) or a Page, got {type(target).__name__}")
        if target is not None:
            self.machine.walk(int(target))     # a bad address raises here: the picture stays
        self.addr = None if target is None else int(target)
        self._pending = None
        self._redraw()

    def _note(self, changes) -> None:
        newest = changes.newest(("kmalloc", "vmalloc", "vmap")) if self.follow else None
        if newest is not None:
            self._pending = newest[1]

    def _redraw(self) -> None:
        if self._pending is not None:
            self.addr, self._pending = self._pending, None
        if self.addr is None:
            self.walk = None
            self.html.value = f'<span style="font-size:{self.px(16)}px">{html.escape(self.t("walk.hint"))}</span>'
            return
        self.walk = self.machine.walk(self.addr)
        self.html.value = self.to_html()

    # -- the picture -----------------------------------------------------------------

    def _fields_html(self, w) -> str:
        """The address cut into its per-level index fields and the offset."""
        levels = self.machine.profile.levels
        bits = self.machine.profile.bits
        top = max(s + (n.bit_length() - 1) for _, s, n in levels)
        cells = []
        if top < bits:
            cells.append(("sign", f"{w.vaddr >> top:#x}", f"bits {bits - 1}..{top}", "#BBBBBB"))
        for name, shift, n in levels:
            width = n.bit_length() - 1
            idx = (w.vaddr >> shift) & (n - 1)
            cells.append((name, str(idx), f"bits {shift + width - 1}..{shift}", LEVEL_COLOURS.get(name, "#999")))
        shift = levels[-1][1]
        cells.append(("offset", f"{w.vaddr & ((1 << shift) - 1):#x}", f"bits {shift - 1}..0", _OFFSET_COLOUR))
        return "".join(
            f'<div style="display:inline-block;text-align:center;margin:0 3px;padding:4px 10px;'
            f'border:3px solid {c};border-radius:6px;min-width:70px">'
            f'<div style="font-size:{self.px(14)}px;color:{c};font-weight:bold">{html.escape(name)}</div>'
            f'<div style="font-size:{self.px(22)}px;font-family:monospace">{html.escape(v)}</div>'
            f'<div style="font-size:{self.px(12)}px;color:#555">{html.escape(b)}</div></div>'
            for name, v, b, c in cells)

    def to_html(self) -> str:
        if self.addr is None:
            return f'<div class="kmemlab-walk-static">{html.escape(self.t("walk.none"))}</div>'
        w = self.walk if self.walk is not None else self.machine.walk(self.addr)
        d = w.entry_digits

        def tt(key, **f):
            return html.escape(self.t(key, **f))
        boxes = [f'<div class="kmemlab-walk-box" style="display:inline-block;vertical-align:top;margin:4px;'
                 f'padding:8px;border:3px solid #333;border-radius:6px;font-size:{self.px(15)}px">'
                 f'<b>CR3</b><br><span style="font-family:monospace">{w.cr3:#0{d + 2}x}</span></div>']
        for lv in w.levels:
            c = LEVEL_COLOURS.get(lv.level, "#999")
            ok = lv.present
            flags = " ".join(lv.flags) or "none"
            end = ""
            if not ok:
                end = f'<br><b style="color:#882255">{html.escape(self.t("walk.fault"))}</b>'
            elif lv.huge:
                end = f"<br><b>PSE: a {w.page_size >> 20} MiB page</b>"
            boxes.append(
                f'<span style="font-size:{self.px(26)}px;vertical-align:middle">&rarr;</span>'
                f'<div class="kmemlab-walk-box kmemlab-walk-{lv.level}" style="display:inline-block;'
                f'vertical-align:top;margin:4px;padding:8px;border:4px solid {c};border-radius:6px;'
                f'background:{c}22;font-size:{self.px(15)}px;min-width:170px">'
                f'<b style="color:{c};font-size:{self.px(18)}px">{lv.level}</b> {tt("walk.table")} '
                f'<span style="font-family:monospace">{lv.table:#x}</span><br>'
                f'{tt("walk.index")} <b style="font-size:{self.px(20)}px">{lv.index}</b><br>'
                f'{tt("walk.entry")} <span style="font-family:monospace">{lv.entry:#0{d + 2}x}</span><br>'
                f'<span style="font-size:{self.px(13)}px">{html.escape(flags)}</span>{end}</div>')
        if w.phys is not None:
            boxes.append(
                f'<span style="font-size:{self.px(26)}px;vertical-align:middle">&rarr;</span>'
                f'<div class="kmemlab-walk-box kmemlab-walk-frame" style="display:inline-block;'
                f'vertical-align:top;margin:4px;padding:8px;border:4px solid #117733;border-radius:6px;'
                f'font-size:{self.px(15)}px"><b style="font-size:{self.px(18)}px">{tt("walk.frame")}</b><br>pfn '
                f'<b style="font-size:{self.px(20)}px">{w.pfn:#x}</b><br>phys '
                f'<span style="font-family:monospace">{w.phys:#x}</span></div>')
        head = (f'<div style="font-size:{self.px(18)}px;margin:4px 0"><b>{tt("walk.head", addr=Address(w.vaddr))}</b> '
                f'({html.escape(w.profile)})</div>')
        return (f'<div class="kmemlab-walk-static">{head}<div>{self._fields_html(w)}</div>'
                f'<div>{"".join(boxes)}</div></div>')
