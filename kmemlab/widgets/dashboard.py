"""Dashboard: the views of one machine, composed; what ``display(m)`` shows."""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel.machine import Machine
from .buddychart import BuddyChart
from .console import Console
from .physmap import PhysMap

__all__ = ["Dashboard", "VIEWS", "DEFAULT_VIEWS"]

#: the views a dashboard can hold, by name (more join as the model grows: slab, vmalloc)
VIEWS = {"physmap": PhysMap, "buddy": BuddyChart, "console": Console}
DEFAULT_VIEWS = ("physmap", "buddy", "console")


class Dashboard:
    """``Dashboard(m, views=["physmap", "buddy", "console"])``: a live dashboard of ``m``.

    ``views`` are names from :data:`VIEWS` or View classes. Each view subscribes to the
    machine on its own; :meth:`close` unsubscribes them all. The console's buttons flush
    every view, so a click shows its effect at once.
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
        self.views = [cls(machine) for cls in classes]
        for v in self.views:
            if isinstance(v, Console):
                v.after_action = self.flush
        self.widget = W.VBox([W.HTML(f"<h3 style='margin:4px 0'>{html.escape(repr(machine))}</h3>")]
                             + [v.widget for v in self.views])
        self.widget.add_class("kmemlab-dashboard")

    def view(self, cls_or_name):
        """The first view of a class (or name)."""
        cls = VIEWS.get(cls_or_name, cls_or_name)
        for v in self.views:
            if isinstance(v, cls):
                return v
        raise KeyError(f"this dashboard has no {cls_or_name!r} view")

    def flush(self) -> None:
        for v in self.views:
            v.flush()

    def close(self) -> None:
        """Unsubscribe every view and close the widgets."""
        for v in self.views:
            v.close()
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
        bundle = {}
        if not self.closed:
            bundle.update(self.widget._repr_mimebundle_() or {})
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = f"<kmemlab dashboard of {self.machine!r}>"
        return bundle
