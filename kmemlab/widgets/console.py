"""Console: the buttons that call the machine's API, for a lecture without typing code.

The panel mirrors what a cell would do: pick an order (or a size in bytes, rounded up to
the order ``get_order()`` gives), pick GFP flags, press ``alloc_pages``; the new block
joins a list of live allocations, from which a selected one is freed with
``__free_pages``. The dmesg tail shows what the kernel said (allocation failures print
warn_alloc's report there). Every handler catches what the machine raises (KernelBug,
ValueError...) and shows it in the message line: nothing raises into the front end, and a
rejected request changes nothing, because the machine validates before it mutates.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel import gfp as G
from ..kernel.layout import parse_size
from ..kernel.types import Page
from .base import View

__all__ = ["Console", "GFP_CHOICES", "get_order"]

#: the flag combinations offered, by their kernel names
GFP_CHOICES = ["GFP_KERNEL", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_NOIO", "GFP_NOFS", "GFP_USER",
               "GFP_HIGHUSER_MOVABLE", "GFP_DMA", "GFP_DMA32"]
#: single flags that can be OR-ed in
GFP_MODIFIERS = ["__GFP_ZERO", "__GFP_NOWARN", "__GFP_COMP"]


def get_order(size: int, page_shift: int) -> int:
    """``get_order(size)``: the smallest order whose block holds ``size`` bytes."""
    if size <= 0:
        raise ValueError(f"size must be > 0 bytes, got {size}")
    return max(0, ((size - 1) >> page_shift).bit_length())


class Console(View):
    """Allocation buttons, live allocations and the dmesg tail of one machine."""

    title = "console"
    DMESG_LINES = 12

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        m = machine
        self.live: list[tuple[Page, int]] = []     # (page, order) this console allocated
        #: called after every button action (a Dashboard flushes its other views there)
        self.after_action = None
        self.size = W.Text(value="0", description="order/size",
                           placeholder="order (0..10) or size: 4096, 64K, 1M",
                           layout=W.Layout(width="330px"))
        self.size.add_class("kmemlab-size")
        self.gfp = W.Dropdown(options=GFP_CHOICES, value="GFP_KERNEL", description="gfp",
                              layout=W.Layout(width="330px"))
        self.gfp.add_class("kmemlab-gfp")
        self.modifiers = W.SelectMultiple(options=GFP_MODIFIERS, value=(), description="| flags",
                                          rows=3, layout=W.Layout(width="330px"))
        self.alloc_button = W.Button(description="alloc_pages", button_style="primary",
                                     tooltip="alloc_pages(gfp, order)")
        self.alloc_button.add_class("kmemlab-alloc-pages")
        self.alloc_button.on_click(self._on_alloc)
        self.allocations = W.Select(options=[], description="live", rows=8,
                                    layout=W.Layout(width="420px"))
        self.allocations.add_class("kmemlab-live")
        self.free_button = W.Button(description="free selected", button_style="warning",
                                    tooltip="__free_pages(page, order)")
        self.free_button.add_class("kmemlab-free")
        self.free_button.on_click(self._on_free)
        self.message = W.HTML("")
        self.message.add_class("kmemlab-message")
        self.dmesg = W.Textarea(value="", disabled=True, rows=self.DMESG_LINES,
                                layout=W.Layout(width="860px", height="220px"))
        self.dmesg.add_class("kmemlab-dmesg")
        self.widget = W.VBox([
            W.HTML(f"<b>Console</b> of {html.escape(repr(m))}"),
            W.HBox([W.VBox([self.size, self.gfp, self.modifiers,
                            W.HBox([self.alloc_button, self.free_button])]),
                    self.allocations]),
            self.message,
            W.HTML("<b>dmesg</b> (tail)"),
            self.dmesg,
        ])
        self.widget.add_class("kmemlab-console")
        self._redraw()

    def _owned_widgets(self):
        return [self.widget, self.size, self.gfp, self.modifiers, self.alloc_button,
                self.allocations, self.free_button, self.message, self.dmesg]

    # -- reading the inputs -------------------------------------------------------------

    def requested_order(self) -> int:
        """The order typed in the box: a small number is an order, else a size in bytes."""
        text = self.size.value.strip()
        if not text:
            raise ValueError("type an order (0..10) or a size such as 4096, 64K or 1M")
        try:
            n = int(text, 0)
        except ValueError:
            try:
                n = parse_size(text, "size")
            except (TypeError, ValueError):
                raise ValueError(f"{text!r} is neither an order nor a size; "
                                 "type e.g. 2, 8192, 64K or 1M") from None
            return get_order(n, self.machine.PAGE_SHIFT)
        if n < 0:
            raise ValueError(f"order/size must be >= 0, got {n}")
        if n < self.machine.MAX_ORDER:
            return n
        if n < self.machine.PAGE_SIZE:
            raise ValueError(f"{n} is too large for an order (0..{self.machine.MAX_ORDER - 1}) "
                             f"and smaller than a page: type a size of at least "
                             f"{self.machine.PAGE_SIZE} bytes, or an order")
        return get_order(n, self.machine.PAGE_SHIFT)

    def requested_gfp(self) -> int:
        flags = int(getattr(G, self.gfp.value))
        for name in self.modifiers.value:
            flags |= int(getattr(G, name))
        return flags

    # -- actions ---------------------------------------------------------------------

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#882255" if error else "#117733"
        self.message.value = f'<span style="color:{colour};font-size:15px">{html.escape(text)}</span>'

    def alloc(self) -> Page | None:
        """What the alloc_pages button does; returns the page (None if it failed)."""
        try:
            order = self.requested_order()
            if order >= self.machine.MAX_ORDER:
                # the kernel would WARN and fail; say so plainly rather than log a warning
                raise ValueError(f"order {order} ({(1 << order) * self.machine.PAGE_SIZE >> 10} KiB) "
                                 f"is more than the buddy allocator's largest block "
                                 f"(order {self.machine.MAX_ORDER - 1})")
            gfp = self.requested_gfp()
            page = self.machine.alloc_pages(gfp, order)
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            return None
        if page is None:
            self._say(f"alloc_pages({G.format_gfp(gfp)}, order={order}) failed: NULL (see dmesg)",
                      error=True)
        else:
            self.live.append((page, order))
            self._say(f"alloc_pages(order={order}) -> pfn {page.pfn:#x} in zone {page.zone}")
        self._update_list()
        self.refresh()
        return page

    def free_selected(self) -> None:
        """What the free button does: ``__free_pages`` of the selected allocation."""
        try:
            i = self.allocations.index
            if i is None or not 0 <= i < len(self.live):
                raise ValueError("select an allocation in the list first")
            page, order = self.live[i]
            self.machine.free_pages(page, order)
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            self.refresh()
            return
        del self.live[i]
        self._say(f"__free_pages(pfn {page.pfn:#x}, order={order})")
        self._update_list()
        self.refresh()

    def _on_alloc(self, _button) -> None:
        self.alloc()
        self._after()

    def _on_free(self, _button) -> None:
        self.free_selected()
        self._after()

    def _after(self) -> None:
        if self.after_action is not None:
            try:
                self.after_action()
            except Exception as e:                   # noqa: BLE001 - a view failing must not reach the UI
                self._say(f"redraw failed: {type(e).__name__}: {e}", error=True)

    def _update_list(self) -> None:
        opts = [(f"pfn {p.pfn:#07x}  order {o}  {p.zone}  ({(1 << o) * self.machine.PAGE_SIZE >> 10} KiB)", i)
                for i, (p, o) in enumerate(self.live)]
        self.allocations.options = opts
        if opts:
            self.allocations.value = len(opts) - 1

    def _redraw(self) -> None:
        lines = str(self.machine.dmesg()).splitlines()
        self.dmesg.value = "\n".join(lines[-self.DMESG_LINES:])   # a textarea shows its top: keep the tail

    def _note(self, ev) -> None:
        if ev.type == "restore":
            # pages from before the restore belong to another mem_map: forget them
            self.live.clear()
            self._update_list()

    def to_html(self) -> str:
        self.flush()
        tail = "\n".join(str(self.machine.dmesg()).splitlines()[-self.DMESG_LINES:])
        return f'<div class="kmemlab-console-static"><b>dmesg</b> (tail)<pre>{html.escape(tail)}</pre></div>'
