"""Dashboard: the views of one machine, composed; what ``display(m)`` shows.

The full dashboard fits one 1080p screen and a 1024x768 projector: a header line (the
machine, with its free memory kept up to date), then the console's buttons on the left
beside tabs on the right that hold the pictures the buttons change (the mapping picture,
the physical map, buddyinfo, the slab caches, the virtual address space, the page-table
walk, the trace and dmesg). A button switches to the tab of the picture it changes
(alloc_pages: the physical map; kmalloc/vmalloc: the mapping picture). Everything takes
the width it is given (nothing has a fixed pixel width); on a narrow screen the two
columns stack. ``presentation=True`` makes fonts larger and lines thicker for the back
row; ``lang="ja"`` labels everything in Japanese.
"""

from __future__ import annotations

import html
import weakref

import ipywidgets as W

from ..kernel.machine import Machine
from .base import FRAME_EVENTS, Hub, View, close_tree, mimebundle
from .buddychart import BuddyChart
from .console import Console
from .mapping import MappingView
from .messages import check_lang, text
from .physmap import PhysMap
from .slabview import SlabView
from .virtmap import VirtMap
from .walkview import WalkView

__all__ = ["Dashboard", "VIEWS", "DEFAULT_VIEWS", "SPLIT"]

#: between the views of a dashboard's static HTML: where `kmemlab slides` may start a slide
SPLIT = "<!--kmemlab-split-->"

#: the views a dashboard can hold, by name
VIEWS = {"console": Console, "mapping": MappingView, "walk": WalkView, "physmap": PhysMap,
         "buddy": BuddyChart, "slab": SlabView, "virtmap": VirtMap}
#: in lecture order: the buttons, the mapping picture they change, the page-table walk
#: behind it, then the physical map, the allocators' statistics and the address space
DEFAULT_VIEWS = ("console", "mapping", "walk", "physmap", "buddy", "slab", "virtmap")
#: the tab each view sits in, in tab order
_TABS = (("mapping", "dash.tab.mapping"), ("physmap", "dash.tab.phys"), ("buddy", "dash.tab.buddy"),
         ("slab", "dash.tab.slab"), ("virtmap", "dash.tab.virt"), ("walk", "dash.tab.walk"),
         ("console", "dash.tab.trace"))


class Header(View):
    """The dashboard's first line: the machine as ``repr(m)`` prints it (its free memory
    follows the page allocator)."""

    title = "header"
    WAKE = FRAME_EVENTS
    burst_interval = 0.5

    def __init__(self, machine, **kw):
        super().__init__(machine, **kw)
        self.widget = W.HTML(layout=W.Layout(min_width="0"))
        self.widget.add_class("kmemlab-dashboard-header")
        self._redraw()

    def _redraw(self) -> None:
        words = html.escape(repr(self.machine))
        self.widget.value = f"<b style='font-size:{self.px(16)}px;word-break:break-all'>{words}</b>"


class Dashboard:
    """``Dashboard(m, views=["console", "mapping", "physmap"], lang="en", presentation=False)``.

    ``views`` are names from :data:`VIEWS` or View classes. The views share one watch of
    the machine and one coalescer (:class:`~kmemlab.widgets.base.Hub`): a kernel change
    costs a few attribute writes, and a redraw touches only the views the changes concern.
    Selecting an allocation in the console shows it in the mapping picture, the page-table
    walk and the physical map (zoomed to it, with boxes around its frames); the console's
    buttons flush every view, so a click shows its effect at once. :meth:`close`
    unsubscribes; a dashboard dropped without ``close()`` closes itself when collected.
    """

    def __init__(self, machine: Machine, views=DEFAULT_VIEWS, lang: str | None = None,
                 presentation: bool = False):
        if not isinstance(machine, Machine):
            raise TypeError(f"Dashboard shows a km.Machine, got {type(machine).__name__}")
        if isinstance(views, str):
            raise TypeError(f"views takes a list of names, e.g. [{views!r}]")
        classes = []
        for v in views:
            if isinstance(v, str):
                if v not in VIEWS:
                    raise ValueError(f"unknown view {v!r}; choose from {', '.join(VIEWS)}")
                v = VIEWS[v]
            if not (isinstance(v, type) and v in VIEWS.values()):
                raise TypeError(f"views are names ({', '.join(VIEWS)}) or their classes, got {v!r}")
            classes.append(v)
        if not classes:
            raise ValueError("a dashboard needs at least one view")
        self.machine = machine
        self.lang = check_lang(lang)
        self.presentation = presentation
        self.hub = Hub(machine)
        kw = {"hub": self.hub, "lang": self.lang, "presentation": presentation}
        self.header = Header(machine, **kw)
        self.views = [cls(machine, **kw) for cls in classes]
        self.tabs = None
        for v in self.views:
            if isinstance(v, Console):
                # weak: the console's buttons must not keep a dropped dashboard alive
                v.after_action = _weak(self.flush)
                v.on_select = _weak(self._show_selection)
                v.on_action = _weak(self._show_tab_of)
        self.widget = self._layout()
        self.widget.add_class("kmemlab-dashboard")
        self._finalizer = weakref.finalize(self, close_tree, self.widget)

    def _layout(self):
        names = {cls: n for n, cls in VIEWS.items()}
        by_name = {names[type(v)]: v for v in self.views}
        console = by_name.get("console")
        if console is None or len(self.views) <= 2:
            return W.VBox([self.header.widget] + [v.widget for v in self.views],
                          layout=W.Layout(width="100%", min_width="0"))
        tabbed = [(n, key) for n, key in _TABS if n in by_name]
        children = [console.logs if n == "console" else by_name[n].widget for n, _ in tabbed]
        self.tabs = W.Tab(children=children, layout=W.Layout(width="100%", min_width="0"))
        self.tabs.titles = [text(key, self.lang) for _, key in tabbed]
        self.tabs.add_class("kmemlab-dashboard-tabs")
        self._tab_index = {n: i for i, (n, _) in enumerate(tabbed)}
        mapping = by_name.get("mapping")
        if mapping is not None and mapping.selection is None and "physmap" in self._tab_index:
            # nothing allocated through the dashboard yet: open on the whole machine
            self.tabs.selected_index = self._tab_index["physmap"]
        # a gap between the console's boxes and the tab bar (at 1024 px they touched it)
        left = W.Box([console.controls], layout=W.Layout(flex="0 1 340px", min_width="260px",
                                                         margin="0 14px 0 0"))
        right = W.Box([self.tabs], layout=W.Layout(flex="1 1 560px", min_width="0"))
        body = W.HBox([left, right], layout=W.Layout(flex_flow="row wrap", width="100%",
                                                    align_items="flex-start"))
        return W.VBox([self.header.widget, body], layout=W.Layout(width="100%", min_width="0"))

    def _show_selection(self, function, handle) -> None:
        """The console selected an allocation: the mapping picture, the walk and the
        physical map follow (a freed one stays in the pictures, marked freed)."""
        if handle is None:
            return
        mapping = None
        for v in self.views:
            if isinstance(v, (MappingView, WalkView)):
                v.select(handle)
                if isinstance(v, MappingView):
                    mapping = v
        for v in self.views:
            if isinstance(v, PhysMap):
                if mapping is not None:
                    v.show_frames([p for _, p in mapping.links if p >= 0])
                elif hasattr(handle, "pfn"):
                    v.show_frames([handle.pfn])

    def _show_tab_of(self, function) -> None:
        """A console button ran ``function``: show the picture it changes."""
        if self.tabs is None:
            return
        name = "physmap" if function == "alloc_pages" else (
            "mapping" if function in ("kmalloc", "vmalloc", "kvmalloc") else None)
        if name in self._tab_index:
            self.tabs.selected_index = self._tab_index[name]

    def view(self, cls_or_name):
        """The first view of a class (or name)."""
        cls = VIEWS.get(cls_or_name, cls_or_name)
        for v in self.views:
            if isinstance(v, cls):
                return v
        raise KeyError(f"this dashboard has no {cls_or_name!r} view")

    def flush(self) -> None:
        self.hub.flush()

    def close(self) -> None:
        """Unsubscribe and close the widgets (idempotent)."""
        for v in self.views:
            v.close()
        self.header.close()
        self.hub.close()
        self._finalizer()

    @property
    def closed(self) -> bool:
        return all(v.closed for v in self.views)

    def to_html(self) -> str:
        """Every view's static picture in turn (``SPLIT`` between them marks where a page
        or a slide may break)."""
        parts = [f"<h3>{html.escape(repr(self.machine))}</h3>"] + [v.to_html() for v in self.views]
        return SPLIT.join(f"<div class='kmemlab-dashboard-static'>{p}</div>" for p in parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return mimebundle(self, f"<kmemlab dashboard of {self.machine!r}>")


def _weak(method):
    ref = weakref.WeakMethod(method)

    def call(*args):
        fn = ref()
        if fn is not None:
            return fn(*args)
    return call
