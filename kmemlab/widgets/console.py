"""Console: the buttons that call the machine's API, for a lecture without typing code.

The panel mirrors what a cell would do: pick an order (or a size in bytes, rounded up to
the order ``get_order()`` gives), pick GFP flags, press ``alloc_pages``; or type a size in
bytes and press ``kmalloc``, ``vmalloc`` (or ``kvmalloc`` where the machine has it). Each
new allocation joins a list of live allocations, from which a selected one is freed with
the function that matches how it was allocated (``__free_pages``, ``kfree``, ``vfree``,
``kvfree``). Where the machine can trace (``m.trace()``), the function-graph trace of the
last call is shown. The dmesg tail shows what the kernel said (allocation failures print
warn_alloc's report there). Every handler catches what the machine raises (KernelBug,
ValueError...) and shows it in the message line: nothing raises into the front end, and a
rejected request changes nothing, because the machine validates before it mutates.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel import gfp as G
from ..kernel.helpers import prb_first_valid_seq, prb_next_seq, tracing_is_on
from ..kernel.types import Address, Page
from .base import View, weak_handler
from .inputs import number_box, parse_bytes, parse_order_or_size

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


#: how each allocation function's memory is given back
FREE_FUNCTION = {"alloc_pages": "__free_pages", "kmalloc": "kfree", "vmalloc": "vfree",
                 "kvmalloc": "kvfree"}


class Console(View):
    """Allocation buttons, live allocations, the last call's trace and the dmesg tail."""

    title = "console"
    #: the dmesg tail follows a burst twice a second
    burst_interval = 0.5
    DMESG_LINES = 12
    TRACE_LINES = 400

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        m = machine
        #: (function, handle, order or size) of each live allocation this console made;
        #: handle is a Page for alloc_pages, an Address otherwise
        self.live: list[tuple[str, object, int]] = []
        #: called after every button action (a Dashboard flushes its other views there)
        self.after_action = None
        #: called with (function, handle) when an allocation is selected (or None, None)
        self.on_select = None
        #: called with the function a button ran ("alloc_pages", "kmalloc", ...)
        self.on_action = None
        self._log_seen = None
        self._restored = False
        t = self.t
        fs = self.px(15)
        # the room less the widgets' own 2 px margins each side (at 100% the boxes' right
        # edges were cut off by the console column)
        fit = "calc(100% - 4px)"
        half = W.Layout(width=fit, max_width="340px", min_width="0")
        self.size = number_box(t("console.order"), t("console.order_ph"), value="0",
                               css="kmemlab-size", width=fit, max_width="340px")
        self.gfp = W.Dropdown(options=GFP_CHOICES, value="GFP_KERNEL", description="gfp", layout=half)
        self.gfp.add_class("kmemlab-gfp")
        self.modifiers = W.SelectMultiple(options=GFP_MODIFIERS, value=(), description=t("console.flags"),
                                          rows=3, layout=half)
        for box in (self.gfp, self.modifiers):
            box.style.description_width = "initial"
        self.alloc_button = W.Button(description="alloc_pages", button_style="primary",
                                     tooltip="alloc_pages(gfp, order)")
        self.alloc_button.add_class("kmemlab-alloc-pages")
        self.alloc_button.on_click(weak_handler(self._on_alloc))
        self.bytes = number_box(t("console.bytes"), t("console.bytes_ph"), value="16K",
                                css="kmemlab-bytes", width=fit, max_width="340px")
        self.kmalloc_button = W.Button(description="kmalloc", button_style="success",
                                       tooltip="kmalloc(size, gfp)")
        self.kmalloc_button.add_class("kmemlab-kmalloc")
        self.kmalloc_button.on_click(weak_handler(self._on_kmalloc))
        self.vmalloc_button = W.Button(description="vmalloc", button_style="info",
                                       tooltip="vmalloc(size)")
        self.vmalloc_button.add_class("kmemlab-vmalloc")
        self.vmalloc_button.on_click(weak_handler(self._on_vmalloc))
        size_buttons = [self.kmalloc_button, self.vmalloc_button]
        self.kvmalloc_button = None
        if hasattr(m, "kvmalloc"):
            self.kvmalloc_button = W.Button(description="kvmalloc", tooltip="kvmalloc(size, gfp)")
            self.kvmalloc_button.add_class("kmemlab-kvmalloc")
            self.kvmalloc_button.on_click(weak_handler(self._on_kvmalloc))
            size_buttons.append(self.kvmalloc_button)
        self.allocations = W.Select(options=[], description=t("console.live"), rows=7,
                                    layout=W.Layout(width=fit, min_width="0"))
        self.allocations.style.description_width = "initial"
        self.allocations.add_class("kmemlab-live")
        self.allocations.observe(weak_handler(self._on_list_select), names=["value"])
        self.free_button = W.Button(description=t("console.free"), button_style="warning",
                                    tooltip=t("console.free_tip"))
        self.free_button.add_class("kmemlab-free")
        self.free_button.on_click(weak_handler(self._on_free))
        for bt in [self.alloc_button, self.free_button, *size_buttons]:
            bt.layout.height = f"{self.px(32)}px"
            bt.layout.min_width = "0"
            bt.style.font_size = f"{self.px(14)}px"
        self.message = W.HTML("", layout=W.Layout(min_width="0"))
        self.message.add_class("kmemlab-message")
        self.dmesg = W.Textarea(value="", disabled=True, rows=self.DMESG_LINES,
                                layout=W.Layout(width="100%", min_width="0", height=f"{self.px(200)}px"))
        self.dmesg.add_class("kmemlab-dmesg")
        self.trace = None
        parts_trace = []
        if hasattr(m, "trace"):
            self.trace = W.Textarea(value="", disabled=True, rows=14,
                                    layout=W.Layout(width="100%", min_width="0", height=f"{self.px(260)}px"))
            self.trace.add_class("kmemlab-trace")
            parts_trace = [W.HTML(f"<b style='font-size:{fs}px'>{html.escape(t('console.trace'))}</b>"),
                           self.trace]
        wrap = W.Layout(flex_flow="row wrap", width="100%")
        #: the buttons, the boxes, the live list and the message line (what a Dashboard
        #: puts beside the picture the buttons change)
        self.controls = W.VBox([
            W.HTML(f"<b style='font-size:{self.px(16)}px'>{html.escape(t('console.title'))}</b>"),
            self.size, self.gfp, self.modifiers,
            W.HBox([self.alloc_button, self.free_button], layout=wrap),
            self.bytes, W.HBox(size_buttons, layout=wrap),
            self.allocations,
            self.message,
        ], layout=W.Layout(width="100%", min_width="0"))
        self.controls.add_class("kmemlab-console-controls")
        #: the last call's trace and the dmesg tail
        self.logs = W.VBox([*parts_trace,
                            W.HTML(f"<b style='font-size:{fs}px'>{html.escape(t('console.dmesg'))}</b>"),
                            self.dmesg], layout=W.Layout(width="100%", min_width="0"))
        self.widget = W.VBox([self.controls, self.logs], layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-console")
        self._redraw()

    # -- reading the inputs -------------------------------------------------------------

    def requested_order(self) -> int:
        """The order typed in the box: a small number is an order, else a size in bytes."""
        m = self.machine
        return parse_order_or_size(self.size.value, m.NR_PAGE_ORDERS, m.PAGE_SHIFT, self.lang)

    def requested_bytes(self) -> int:
        """The size typed in the bytes box (100, 4096, 64K, 1M)."""
        return parse_bytes(self.bytes.value, self.lang)

    def requested_gfp(self) -> int:
        flags = int(getattr(G, self.gfp.value))
        for name in self.modifiers.value:
            flags |= int(getattr(G, name))
        return flags

    # -- actions ---------------------------------------------------------------------

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#882255" if error else "#117733"
        self.message.value = f'<span style="color:{colour};font-size:{self.px(15)}px">{html.escape(text)}</span>'

    def alloc(self) -> Page | None:
        """What the alloc_pages button does; returns the page (None if it failed)."""
        try:
            order = self.requested_order()
            if order >= self.machine.NR_PAGE_ORDERS:
                # the kernel would WARN and fail; say so plainly rather than log a warning
                raise ValueError(self.t("err.order_top", order=order,
                                        kib=(1 << order) * self.machine.PAGE_SIZE >> 10,
                                        top=self.machine.NR_PAGE_ORDERS - 1))
            gfp = self.requested_gfp()
            page = self._call(self.machine.alloc_pages, gfp, order)
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            return None
        if page is None:
            self._say(self.t("console.failed", call=f"alloc_pages({G.format_gfp(gfp)}, order={order})"),
                      error=True)
        else:
            self.live.append(("alloc_pages", page, order))
            self._say(f"alloc_pages(order={order}) -> pfn {page.pfn:#x} in zone {page.zone}")
        self._update_list()
        self.refresh()
        return page

    def _call(self, fn, *args):
        """Call ``fn(*args)``, traced where the machine can trace; the trace is shown."""
        m = self.machine
        if self.trace is None or tracing_is_on(m):
            return fn(*args)
        with m.trace() as t:
            result = fn(*args)
        lines = str(t).splitlines()
        if len(lines) > self.TRACE_LINES:
            lines = lines[:self.TRACE_LINES] + [f"... {len(lines) - self.TRACE_LINES} more lines"]
        self.trace.value = "\n".join(lines)
        return result

    def alloc_bytes(self, function: str) -> Address:
        """What the kmalloc / vmalloc / kvmalloc buttons do; returns the address (NULL on failure)."""
        m = self.machine
        try:
            if function not in ("kmalloc", "vmalloc", "kvmalloc") or not hasattr(m, function):
                raise ValueError(self.t("console.no_function", function=function))
            size = self.requested_bytes()
            if function == "vmalloc":
                addr = self._call(m.vmalloc, size)
                call = f"vmalloc({size})"
            else:
                gfp = self.requested_gfp()
                addr = self._call(getattr(m, function), size, gfp)
                call = f"{function}({size}, {G.format_gfp(gfp)})"
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            return Address(0)
        if not addr:
            self._say(self.t("console.failed", call=call), error=True)
        elif size == 0:
            self._say(self.t("console.zero", call=call, addr=addr))
        else:
            self.live.append((function, addr, size))
            self._say(f"{call} -> {addr}")
        self._update_list()
        self.refresh()
        return addr

    def free_selected(self) -> None:
        """What the free button does: ``__free_pages`` of the selected allocation."""
        try:
            i = self.allocations.index
            if i is None or not 0 <= i < len(self.live):
                raise ValueError(self.t("console.select_first"))
            function, handle, n = self.live[i]
            m = self.machine
            if function == "alloc_pages":
                self._call(m.free_pages, handle, n)
                said = f"__free_pages(pfn {handle.pfn:#x}, order={n})"
            elif function == "kvmalloc" and not hasattr(m, "kvfree"):
                # kvfree(): vfree for a vmalloc address, kfree otherwise (mm/util.c)
                self._call(m.vfree if m.is_vmalloc_addr(handle) else m.kfree, handle)
                said = f"kvfree({handle})"
            else:
                self._call(getattr(m, {"kmalloc": "kfree", "vmalloc": "vfree",
                                       "kvmalloc": "kvfree"}[function]), handle)
                said = f"{FREE_FUNCTION[function]}({handle})"
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            self.refresh()
            return
        del self.live[i]
        self._say(said)
        # nothing is selected afterwards: a second click must not free another allocation
        # that the list picked by itself
        self._update_list(select_newest=False)
        self.refresh()

    def _on_alloc(self, _button) -> None:
        self.alloc()
        self._after("alloc_pages")

    def _on_kmalloc(self, _button) -> None:
        self.alloc_bytes("kmalloc")
        self._after("kmalloc")

    def _on_vmalloc(self, _button) -> None:
        self.alloc_bytes("vmalloc")
        self._after("vmalloc")

    def _on_kvmalloc(self, _button) -> None:
        self.alloc_bytes("kvmalloc")
        self._after("kvmalloc")

    def _on_list_select(self, change) -> None:
        if self.on_select is None:
            return
        i = change["new"]
        function, handle = (None, None)
        if i is not None and 0 <= i < len(self.live):
            function, handle, _ = self.live[i]
        try:
            self.on_select(function, handle)
        except Exception as e:                       # noqa: BLE001 - a view failing must not reach the UI
            self._say(self.t("console.show_failed", error=f"{type(e).__name__}: {e}"), error=True)

    def selected(self):
        """(function, handle) of the selected live allocation, or (None, None)."""
        i = self.allocations.index
        if i is None or not 0 <= i < len(self.live):
            return None, None
        return self.live[i][0], self.live[i][1]

    def _on_free(self, _button) -> None:
        self.free_selected()
        self._after()

    def _after(self, function: str | None = None) -> None:
        if function is not None and self.on_action is not None:
            try:
                self.on_action(function)
            except Exception:                        # noqa: BLE001 - a view failing must not reach the UI
                pass
        if self.after_action is not None:
            try:
                self.after_action()
            except Exception as e:                   # noqa: BLE001 - a view failing must not reach the UI
                self._say(self.t("console.redraw_failed", error=f"{type(e).__name__}: {e}"), error=True)

    def _label(self, function: str, handle, n: int) -> str:
        if function == "alloc_pages":
            return (f"alloc_pages  pfn {handle.pfn:#07x} order {n} {handle.zone} "
                    f"({(1 << n) * self.machine.PAGE_SIZE >> 10} KiB)")
        return f"{function:<8} {handle}  {n} bytes"

    def _update_list(self, select_newest: bool = True) -> None:
        opts = [(self._label(*entry), i) for i, entry in enumerate(self.live)]
        # the list's value observer fires on_select for the newest entry
        self.allocations.options = opts
        if opts and not select_newest:
            self.allocations.value = None
        elif opts:
            if self.allocations.value == len(opts) - 1:
                self._on_list_select({"new": len(opts) - 1})
            self.allocations.value = len(opts) - 1
        else:
            self._on_list_select({"new": None})

    def _note(self, changes) -> None:
        if "restore" in changes.types:
            self._restored = True

    def _redraw(self) -> None:
        m = self.machine
        if self._restored:
            # restore(): allocations from before it belong to another mem_map, and the log
            # is the snapshot's: forget them
            self._restored = False
            self.live.clear()
            self._update_list()
            self._log_seen = None
        mark = (prb_first_valid_seq(m), prb_next_seq(m))
        if mark == self._log_seen:
            return                       # nothing new was logged: no text to rebuild
        self._log_seen = mark
        lines = str(m.dmesg()).splitlines()
        self.dmesg.value = "\n".join(lines[-self.DMESG_LINES:])   # a textarea shows its top: keep the tail

    def to_html(self) -> str:
        self.flush()
        tail = "\n".join(str(self.machine.dmesg()).splitlines()[-self.DMESG_LINES:])
        return (f'<div class="kmemlab-console-static"><b>{html.escape(self.t("console.dmesg"))}</b>'
                f'<pre>{html.escape(tail)}</pre></div>')
