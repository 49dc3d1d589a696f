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
from ..kernel.layout import parse_size
from ..kernel.types import Address, Page
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


#: how each allocation function's memory is given back
FREE_FUNCTION = {"alloc_pages": "__free_pages", "kmalloc": "kfree", "vmalloc": "vfree",
                 "kvmalloc": "kvfree"}


class Console(View):
    """Allocation buttons, live allocations, the last call's trace and the dmesg tail."""

    title = "console"
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
        self._k_seen = m._k
        self._log_seen = None
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
        self.bytes = W.Text(value="16K", description="bytes",
                            placeholder="size in bytes: 100, 4096, 64K, 1M",
                            layout=W.Layout(width="330px"))
        self.bytes.add_class("kmemlab-bytes")
        self.kmalloc_button = W.Button(description="kmalloc", button_style="success",
                                       tooltip="kmalloc(size, gfp)")
        self.kmalloc_button.add_class("kmemlab-kmalloc")
        self.kmalloc_button.on_click(self._on_kmalloc)
        self.vmalloc_button = W.Button(description="vmalloc", button_style="info",
                                       tooltip="vmalloc(size)")
        self.vmalloc_button.add_class("kmemlab-vmalloc")
        self.vmalloc_button.on_click(self._on_vmalloc)
        size_buttons = [self.kmalloc_button, self.vmalloc_button]
        self.kvmalloc_button = None
        if hasattr(m, "kvmalloc"):
            self.kvmalloc_button = W.Button(description="kvmalloc", tooltip="kvmalloc(size, gfp)")
            self.kvmalloc_button.add_class("kmemlab-kvmalloc")
            self.kvmalloc_button.on_click(self._on_kvmalloc)
            size_buttons.append(self.kvmalloc_button)
        self.allocations = W.Select(options=[], description="live", rows=9,
                                    layout=W.Layout(width="470px"))
        self.allocations.add_class("kmemlab-live")
        self.allocations.observe(self._on_list_select, names=["value"])
        self.free_button = W.Button(description="free selected", button_style="warning",
                                    tooltip="__free_pages / kfree / vfree, as it was allocated")
        self.free_button.add_class("kmemlab-free")
        self.free_button.on_click(self._on_free)
        self.message = W.HTML("")
        self.message.add_class("kmemlab-message")
        self.dmesg = W.Textarea(value="", disabled=True, rows=self.DMESG_LINES,
                                layout=W.Layout(width="860px", height="220px"))
        self.dmesg.add_class("kmemlab-dmesg")
        self.trace = None
        parts_trace = []
        if hasattr(m, "trace"):
            self.trace = W.Textarea(value="", disabled=True, rows=14,
                                    layout=W.Layout(width="860px", height="260px"))
            self.trace.add_class("kmemlab-trace")
            parts_trace = [W.HTML("<b>trace</b> of the last call (function_graph)"), self.trace]
        self.widget = W.VBox([
            W.HTML(f"<b>Console</b> of {html.escape(repr(m))}"),
            W.HBox([W.VBox([self.size, self.gfp, self.modifiers,
                            W.HBox([self.alloc_button, self.free_button]),
                            self.bytes, W.HBox(size_buttons)]),
                    self.allocations]),
            self.message,
            *parts_trace,
            W.HTML("<b>dmesg</b> (tail)"),
            self.dmesg,
        ])
        self.widget.add_class("kmemlab-console")
        self._redraw()

    def _owned_widgets(self):
        ws = [self.widget, self.size, self.gfp, self.modifiers, self.alloc_button, self.bytes,
              self.kmalloc_button, self.vmalloc_button, self.allocations, self.free_button,
              self.message, self.dmesg]
        return ws + [w for w in (self.kvmalloc_button, self.trace) if w is not None]

    # -- reading the inputs -------------------------------------------------------------

    def requested_order(self) -> int:
        """The order typed in the box: a small number is an order, else a size in bytes."""
        text = self.size.value.strip()
        if not text:
            raise ValueError("type an order (0..10) or a size such as 4096, 64K or 1M")
        n, plain = _number(text, "is neither an order nor a size; type e.g. 2, 8192, 64K or 1M")
        if not plain:                    # "64K": a size, never an order
            return get_order(n, self.machine.PAGE_SHIFT)
        if n < 0:
            raise ValueError(f"order/size must be >= 0, got {n}")
        if n < self.machine.NR_PAGE_ORDERS:
            return n
        if n < self.machine.PAGE_SIZE:
            raise ValueError(f"{n} is too large for an order (0..{self.machine.NR_PAGE_ORDERS - 1}) "
                             f"and smaller than a page: type a size of at least "
                             f"{self.machine.PAGE_SIZE} bytes, or an order")
        return get_order(n, self.machine.PAGE_SHIFT)

    def requested_bytes(self) -> int:
        """The size typed in the bytes box (100, 4096, 64K, 1M)."""
        text = self.bytes.value.strip()
        if not text:
            raise ValueError("type a size in bytes such as 100, 4096, 64K or 1M")
        n, _ = _number(text, "is not a size; type e.g. 100, 8192, 64K or 1M")
        if n < 0:
            raise ValueError(f"size must be >= 0 bytes, got {n}")
        return n

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
            if order >= self.machine.NR_PAGE_ORDERS:
                # the kernel would WARN and fail; say so plainly rather than log a warning
                raise ValueError(f"order {order} ({(1 << order) * self.machine.PAGE_SIZE >> 10} KiB) "
                                 f"is more than the buddy allocator's largest block "
                                 f"(order {self.machine.NR_PAGE_ORDERS - 1})")
            gfp = self.requested_gfp()
            page = self._call(self.machine.alloc_pages, gfp, order)
        except Exception as e:                       # noqa: BLE001 - shown, never raised to the UI
            self._say(f"{type(e).__name__}: {e}", error=True)
            return None
        if page is None:
            self._say(f"alloc_pages({G.format_gfp(gfp)}, order={order}) failed: NULL (see dmesg)",
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
        if self.trace is None or getattr(m._k, "tracer", None) is not None:
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
                raise ValueError(f"this machine has no {function}()")
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
            self._say(f"{call} failed: NULL (see dmesg)", error=True)
        elif size == 0:
            self._say(f"{call} -> ZERO_SIZE_PTR {addr} (nothing to free)")
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
                raise ValueError("select an allocation in the list first")
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
        self._update_list()
        self.refresh()

    def _on_alloc(self, _button) -> None:
        self.alloc()
        self._after()

    def _on_kmalloc(self, _button) -> None:
        self.alloc_bytes("kmalloc")
        self._after()

    def _on_vmalloc(self, _button) -> None:
        self.alloc_bytes("vmalloc")
        self._after()

    def _on_kvmalloc(self, _button) -> None:
        self.alloc_bytes("kvmalloc")
        self._after()

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
            self._say(f"showing the selection failed: {type(e).__name__}: {e}", error=True)

    def selected(self):
        """(function, handle) of the selected live allocation, or (None, None)."""
        i = self.allocations.index
        if i is None or not 0 <= i < len(self.live):
            return None, None
        return self.live[i][0], self.live[i][1]

    def _on_free(self, _button) -> None:
        self.free_selected()
        self._after()

    def _after(self) -> None:
        if self.after_action is not None:
            try:
                self.after_action()
            except Exception as e:                   # noqa: BLE001 - a view failing must not reach the UI
                self._say(f"redraw failed: {type(e).__name__}: {e}", error=True)

    def _label(self, function: str, handle, n: int) -> str:
        if function == "alloc_pages":
            return (f"alloc_pages  pfn {handle.pfn:#07x} order {n} {handle.zone} "
                    f"({(1 << n) * self.machine.PAGE_SIZE >> 10} KiB)")
        return f"{function:<8} {handle}  {n} bytes"

    def _update_list(self) -> None:
        opts = [(self._label(*entry), i) for i, entry in enumerate(self.live)]
        # the list's value observer fires on_select for the newest entry
        self.allocations.options = opts
        if opts:
            if self.allocations.value == len(opts) - 1:
                self._on_list_select({"new": len(opts) - 1})
            self.allocations.value = len(opts) - 1
        else:
            self._on_list_select({"new": None})

    def _redraw(self) -> None:
        m = self.machine
        if m._k is not self._k_seen:
            # restore(): allocations from before it belong to another mem_map: forget them
            self._k_seen = m._k
            self.live.clear()
            self._update_list()
        records = m._k.log.records
        mark = (len(records), records[-1] if records else None)
        if mark == self._log_seen:
            return                       # nothing new was logged: no text to rebuild
        self._log_seen = mark
        lines = str(m.dmesg()).splitlines()
        self.dmesg.value = "\n".join(lines[-self.DMESG_LINES:])   # a textarea shows its top: keep the tail

    def to_html(self) -> str:
        self.flush()
        tail = "\n".join(str(self.machine.dmesg()).splitlines()[-self.DMESG_LINES:])
        return f'<div class="kmemlab-console-static"><b>dmesg</b> (tail)<pre>{html.escape(tail)}</pre></div>'


def _number(text: str, complaint: str) -> tuple[int, bool]:
    """A number typed in a box: (value, True) for a plain integer ("12", "0x800"),
    (bytes, False) for a size with a unit ("64K", "1M"); ValueError with ``complaint``."""
    try:
        return int(text, 0), True
    except ValueError:
        try:
            return parse_size(text, "size"), False
        except (TypeError, ValueError):
            raise ValueError(f"{text!r} {complaint}") from None
