"""Dashboard: the views of one machine, composed; what ``display(m)`` shows."""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel.machine import Machine
from .base import Hub, mimebundle
from .buddychart import BuddyChart
from .console import Console
from .mapping import MappingView
from .physmap import PhysMap
from .slabview import SlabView
from .virtmap import VirtMap
from .walkview import WalkView

__all__ = ["Dashboard", "VIEWS", "DEFAULT_VIEWS"]

#: the views a dashboard can hold, by name
VIEWS = {"console": Console, "mapping": MappingView, "walk": WalkView, "physmap": PhysMap,
         "buddy": BuddyChart, "slab": SlabView, "virtmap": VirtMap}
#: in lecture order: the buttons, the mapping picture they change, the page-table walk
#: behind it, then the physical map, the allocators' statistics and the address space
DEFAULT_VIEWS = ("console", "mapping", "walk", "physmap", "buddy", "slab", "virtmap")


class Dashboard:
    """``Dashboard(m, views=["console", "mapping", "physmap"])``: a live dashboard of ``m``.

    ``views`` are names from :data:`VIEWS` or View classes. The views share one
    subscription to the machine and one coalescer (:class:`~kmemlab.widgets.base.Hub`):
    per kernel event the machine calls one function, and a redraw touches only the views
    the events concern. Selecting an allocation in the console shows it in the mapping
    picture and the page-table walk; the console's buttons flush every view, so a click
    shows its effect at once. :meth:`close` unsubscribes.
    """

    def __init__(self, machine: Machine, views=DEFAULT_VIEWS):
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
        self.hub = Hub(machine)
        self.views = [cls(machine, hub=self.hub) for cls in classes]
        for v in self.views:
            if isinstance(v, Console):
                v.after_action = self.flush
                v.on_select = self._show_selection
        self.widget = W.VBox([W.HTML(f"<h3 style='margin:4px 0'>{html.escape(repr(machine))}</h3>")]
                             + [v.widget for v in self.views])
        self.widget.add_class("kmemlab-dashboard")

    def _show_selection(self, function, handle) -> None:
        """The console selected an allocation: the mapping picture and the walk follow."""
        for v in self.views:
            if isinstance(v, (MappingView, WalkView)):
                v.select(handle)

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
        self.hub.close()
        self.widget.close()

    @property
    def closed(self) -> bool:
        return all(v.closed for v in self.views)

    def to_html(self) -> str:
        return (f"<div class='kmemlab-dashboard-static'><h3>{html.escape(repr(self.machine))}</h3>"
                + "".join(v.to_html() for v in self.views) + "</div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return mimebundle(self, f"<kmemlab dashboard of {self.machine!r}>")
