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

``Dashboard(km.host(), auto=1.0)`` shows this Linux, read-only: a header (``uname -r``,
CPUs, ``MemFree``, when it was read) with one refresh button, and tabs with the buddy
chart, the slab caches and the zones with ``/proc/meminfo`` (:data:`HOST_VIEWS`). No
console: nothing can be allocated on a real kernel from here. The views share one
:class:`~kmemlab.widgets.hostview.HostHub`: the button, or every ``auto`` seconds, one
re-read of the host, then every view redraws. What the host does not let us read (not
root) is said on the view that needs it.

Tab titles are short and the tab bar sizes each title to its text (and wraps rather than
cut one): ipywidgets gives every tab the same width and cuts the text at it, which at
1024 px cut "trace, dmesg".
"""

from __future__ import annotations

import html
import time
import weakref

import ipywidgets as W

from ..host import Host
from ..kernel.helpers import meminfo, num_online_cpus, utsname
from ..kernel.machine import Machine
from .base import FRAME_EVENTS, Hub, View, close_tree, mimebundle
from .buddychart import BuddyChart
from .console import Console
from .hostview import HOST_READ_ERRORS, HostHub, HostReadable, _weak_refresh, check_auto
from .mapping import MappingView
from .messages import check_lang, text
from .physmap import PhysMap
from .slabview import SlabView
from .virtmap import VirtMap
from .walkview import WalkView
from .zoneview import ZoneView

__all__ = ["Dashboard", "VIEWS", "DEFAULT_VIEWS", "HOST_VIEWS", "SPLIT"]

#: between the views of a dashboard's static HTML: where `kmemlab slides` may start a slide
SPLIT = "<!--kmemlab-split-->"

#: the views a dashboard can hold, by name
VIEWS = {"console": Console, "mapping": MappingView, "walk": WalkView, "physmap": PhysMap,
         "buddy": BuddyChart, "slab": SlabView, "virtmap": VirtMap, "zones": ZoneView}
#: in lecture order: the buttons, the mapping picture they change, the page-table walk
#: behind it, then the physical map, the allocators' statistics and the address space
DEFAULT_VIEWS = ("console", "mapping", "walk", "physmap", "buddy", "slab", "virtmap")
#: what a dashboard of km.host() shows (and may show): the views that read a host
HOST_VIEWS = ("buddy", "zones", "slab")
#: the tab each view sits in, in tab order
_TABS = (("mapping", "dash.tab.mapping"), ("physmap", "dash.tab.phys"), ("buddy", "dash.tab.buddy"),
         ("zones", "dash.tab.zones"), ("slab", "dash.tab.slab"), ("virtmap", "dash.tab.virt"),
         ("walk", "dash.tab.walk"), ("console", "dash.tab.trace"))
#: each tab title as wide as its text (ipywidgets' tabs all get one width and cut the
#: text at it: "trace, dmesg" at 1024 px); a bar too narrow for them all wraps to a
#: second row instead of cutting a title. ipywidgets 8 (lm-) and 7 (p-) class names.
TAB_CSS = """<style>
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .lm-TabBar .lm-TabBar-content,
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .p-TabBar .p-TabBar-content { flex-wrap: wrap; }
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .lm-TabBar .lm-TabBar-tab,
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .p-TabBar .p-TabBar-tab { flex: 0 0 auto; max-width: none; }
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .lm-TabBar .lm-TabBar-tabLabel,
.jupyter-widgets.kmemlab-tabs.kmemlab-tabs > .p-TabBar .p-TabBar-tabLabel { overflow: visible; }
</style>"""


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


class HostHeader(HostReadable, View):
    """A host dashboard's first lines: what is shown (``uname``, CPUs, ``MemFree``, when it
    was read, how often it is re-read), the refresh button, and the message line of what
    could not be read. Drawn from the read interface (:mod:`kmemlab.helpers`) at each
    re-read of the shared :class:`~kmemlab.widgets.hostview.HostHub`."""

    title = "host header"

    def __init__(self, host, **kw):
        super().__init__(host, **kw)
        hub = self.host_hub
        self.line = W.HTML(layout=W.Layout(min_width="0", flex="1 1 300px"))
        self.line.add_class("kmemlab-host-header")
        # the hub's refresh, the one re-read mechanism (the same as a view's own button)
        self.button = W.Button(description=self.t("host.refresh"), icon="refresh",
                               tooltip=self.t("host.refresh_tip"), layout=W.Layout(width="auto", min_width="0"))
        self.button.add_class("kmemlab-host-refresh")
        self.button.on_click(_weak_refresh(hub))
        self.widget = W.VBox([W.HBox([self.button, self.line],
                                     layout=W.Layout(align_items="center", flex_flow="row wrap",
                                                     width="100%", min_width="0"))] + self.host_widgets(),
                             layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-dashboard-header")
        self._redraw()
        self.host_ready()

    def facts(self) -> dict:
        """What the header says, read through the read interface: release, node, cpus,
        MemFree (kB), read_at; a fact that could not be read is missing and its reason is
        in ``"why"``."""
        h = self.machine
        u = utsname(h)
        out = {"sysname": u.sysname, "release": u.release, "node": u.nodename, "read_at": h.read_at, "why": []}
        for key, get in (("cpus", lambda: num_online_cpus(h)), ("MemFree", lambda: meminfo(h)["MemFree"])):
            try:
                out[key] = get()
            except (*HOST_READ_ERRORS, KeyError) as e:
                out["why"].append(f"{key}: {e}")
        return out

    def _redraw(self) -> None:
        f = self.facts()
        hub = self.host_hub
        words = self.t("host.dash_header", sysname=f["sysname"], release=f["release"], node=f["node"],
                       cpus=f.get("cpus", "?"), free=f.get("MemFree", "?"),
                       at=time.strftime("%H:%M:%S", time.localtime(f["read_at"])))
        root = "" if self.machine.is_root else " " + self.t("host.not_root")
        auto = self.t("host.auto", s=f"{hub.auto:g}") if hub.auto is not None else self.t("host.manual")
        self.line.value = (f'<b style="font-size:{self.px(16)}px">{html.escape(words)}</b>'
                           f'<span style="font-size:{self.px(15)}px">{html.escape(root)} '
                           f'<span style="color:#555">· {html.escape(auto)}</span></span>')
        self.host_say(f["why"])

    def to_html(self) -> str:
        return f"<h3>{self.line.value}</h3>{self.host_html()}"


class Dashboard:
    """``Dashboard(m, views=["console", "mapping", "physmap"], lang="en", presentation=False)``.

    ``views`` are names from :data:`VIEWS` or View classes. The views share one watch of
    the machine and one coalescer (:class:`~kmemlab.widgets.base.Hub`): a kernel change
    costs a few attribute writes, and a redraw touches only the views the changes concern.
    Selecting an allocation in the console shows it in the mapping picture, the page-table
    walk and the physical map (zoomed to it, with boxes around its frames); the console's
    buttons flush every view, so a click shows its effect at once. :meth:`close`
    unsubscribes; a dashboard dropped without ``close()`` closes itself when collected.

    ``Dashboard(km.host(), auto=2.0)``: this Linux, read-only (:data:`HOST_VIEWS`), re-read
    on its refresh button (:meth:`refresh`) or every ``auto`` seconds.
    """

    def __init__(self, machine: Machine | Host, views=None, lang: str | None = None,
                 presentation: bool = False, auto: float | None = None):
        is_host = isinstance(machine, Host)
        if not is_host and not isinstance(machine, Machine):
            raise TypeError(f"Dashboard shows a km.Machine or a km.host(), got {type(machine).__name__}")
        if not is_host and auto is not None:
            raise TypeError(f"auto= re-reads a host dashboard (km.host()); a km.Machine's dashboard "
                            f"follows the machine by itself: leave auto out, got auto={auto!r}")
        if views is None:
            views = HOST_VIEWS if is_host else DEFAULT_VIEWS
        if isinstance(views, str):
            raise TypeError(f"views takes a list of names, e.g. [{views!r}]")
        allowed = HOST_VIEWS if is_host else tuple(VIEWS)
        names = {cls: n for n, cls in VIEWS.items()}
        classes = []
        for v in views:
            if isinstance(v, str):
                if v not in VIEWS:
                    raise ValueError(f"unknown view {v!r}; choose from {', '.join(allowed)}")
                v = VIEWS[v]
            if not (isinstance(v, type) and v in VIEWS.values()):
                raise TypeError(f"views are names ({', '.join(allowed)}) or their classes, got {v!r}")
            if names[v] not in allowed:
                raise ValueError(f"a dashboard of the host shows {', '.join(HOST_VIEWS)}, not {names[v]!r}: "
                                 "it draws what only a simulated km.Machine has (nothing can be "
                                 "allocated on the real kernel from here)")
            classes.append(v)
        if not classes:
            raise ValueError("a dashboard needs at least one view")
        self.machine = machine
        self.lang = check_lang(lang)
        if not isinstance(presentation, bool):
            raise TypeError(f"presentation is True or False, got {presentation!r}")
        self.presentation = presentation
        if is_host:
            # one re-read for every view; each view keeps only its message line
            self.hub = HostHub(machine, auto=check_auto(auto), header=False)
        else:
            self.hub = Hub(machine)
        kw = {"hub": self.hub, "lang": self.lang, "presentation": presentation}
        self.header = (HostHeader if is_host else Header)(machine, **kw)
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

    @property
    def host(self) -> Host | None:
        """The host a host dashboard shows (None for a Machine's)."""
        return self.machine if isinstance(self.machine, Host) else None

    def _tab_widget(self, tabbed, by_name, console=None):
        children = [console.logs if n == "console" else by_name[n].widget for n, _ in tabbed]
        tabs = W.Tab(children=children, layout=W.Layout(width="100%", min_width="0"))
        tabs.titles = [text(key, self.lang) for _, key in tabbed]
        tabs.add_class("kmemlab-dashboard-tabs")
        tabs.add_class("kmemlab-tabs")
        self._tab_index = {n: i for i, (n, _) in enumerate(tabbed)}
        return tabs

    def _layout(self):
        names = {cls: n for n, cls in VIEWS.items()}
        by_name = {names[type(v)]: v for v in self.views}
        style = W.HTML(TAB_CSS, layout=W.Layout(display="none"))
        if self.host is not None:
            if len(self.views) == 1:
                return W.VBox([self.header.widget, self.views[0].widget], layout=W.Layout(width="100%", min_width="0"))
            self.tabs = self._tab_widget([(n, key) for n, key in _TABS if n in by_name], by_name)
            return W.VBox([style, self.header.widget, self.tabs], layout=W.Layout(width="100%", min_width="0"))
        console = by_name.get("console")
        if console is None or len(self.views) <= 2:
            return W.VBox([self.header.widget] + [v.widget for v in self.views],
                          layout=W.Layout(width="100%", min_width="0"))
        tabbed = [(n, key) for n, key in _TABS if n in by_name]
        self.tabs = self._tab_widget(tabbed, by_name, console)
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
        return W.VBox([style, self.header.widget, body], layout=W.Layout(width="100%", min_width="0"))

    def show_tab(self, name: str) -> None:
        """Select the tab of view ``name`` (e.g. ``d.show_tab("zones")``)."""
        if self.tabs is None or name not in self._tab_index:
            raise KeyError(f"this dashboard has no {name!r} tab"
                           + (f"; its tabs: {', '.join(self._tab_index)}" if self.tabs is not None else ""))
        self.tabs.selected_index = self._tab_index[name]

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

    def refresh(self) -> None:
        """A host dashboard: re-read the host and redraw every view (the refresh button);
        a Machine's: redraw now."""
        if self.host is not None:
            self.hub.refresh()
        else:
            for v in [self.header] + self.views:
                v._forced = True
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
        head = self.header.to_html() if self.host is not None else f"<h3>{html.escape(repr(self.machine))}</h3>"
        parts = [head] + [v.to_html() for v in self.views]
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
