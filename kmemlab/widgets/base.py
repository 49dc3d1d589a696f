"""What every view shares: subscribing to a machine, coalescing, closing, fallbacks."""

from __future__ import annotations

import html

from ..kernel.machine import Machine
from .coalesce import DEFAULT_INTERVAL, Coalescer

__all__ = ["View"]


class View:
    """A live picture of one :class:`~kmemlab.Machine`.

    Subclasses build ``self.widget`` (an ipywidgets container), record what an event
    changed in :meth:`_note` (cheap: it runs once per kernel operation) and bring the
    widgets up to date in :meth:`_redraw` (at most ~30 times a second, see
    :mod:`kmemlab.widgets.coalesce`). :meth:`to_html` is the static fallback a notebook
    shows where widgets cannot run (GitHub, nbviewer, PDF).
    """

    title = "view"

    def __init__(self, machine: Machine, interval: float = DEFAULT_INTERVAL):
        if not isinstance(machine, Machine):
            raise TypeError(f"{type(self).__name__} shows a km.Machine, got {type(machine).__name__}")
        self.machine = machine
        self._coalescer = Coalescer(self._redraw, interval)
        self._sub = machine.subscribe(self._on_event)

    # -- events --------------------------------------------------------------------

    def _on_event(self, ev) -> None:
        self._note(ev)
        self._coalescer.poke()

    def _note(self, ev) -> None:
        """Remember what ``ev`` changed (override)."""

    def _redraw(self) -> None:
        """Bring the widgets up to date with the machine (override)."""

    def flush(self) -> None:
        """Draw pending changes now (a cell's end does this by itself in IPython)."""
        self._coalescer.flush()

    def refresh(self) -> None:
        """Redraw now even without an event (after an action that only logged)."""
        self._coalescer.dirty = True
        self._coalescer.flush()

    @property
    def redraws(self) -> int:
        """How many times the view redrew since it was made."""
        return self._coalescer.redraws

    # -- life cycle ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._coalescer.closed

    def close(self) -> None:
        """Unsubscribe from the machine and close the widgets (idempotent)."""
        self._sub.close()
        self._coalescer.close()
        for w in self._owned_widgets():
            w.close()

    def _owned_widgets(self) -> list:
        return [self.widget]

    # -- display -----------------------------------------------------------------------

    def to_html(self) -> str:
        """A static HTML picture of the view's current state (override)."""
        return f"<pre>{html.escape(repr(self.machine))}</pre>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        # the live widget where a widget manager runs, the static picture elsewhere
        bundle = {}
        if not self.closed:
            bundle.update(self.widget._repr_mimebundle_() or {})
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = f"<kmemlab {self.title} of {self.machine!r}>"
        return bundle
