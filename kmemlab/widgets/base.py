"""What every view shares: one subscription and one coalescer per group of views
(:class:`Hub`), closing, and the static fallbacks.

A view alone makes its own hub. A :class:`~kmemlab.widgets.Dashboard` makes one hub
and hands it to all its views, so the machine calls *one* subscriber per event (not
one per view) and *one* coalescer decides when to redraw; at a redraw only the views
that the events since their last drawing concern are redrawn, and a view with a
``burst_interval`` (the big physical map) is redrawn less often while a burst runs.
The final state is always drawn (the coalescer's end-of-cell flush draws everything
stale, whatever its burst interval).
"""

from __future__ import annotations

import html
import time

from ..kernel.machine import Machine
from .coalesce import DEFAULT_INTERVAL, Coalescer

__all__ = ["View", "Hub"]


class Hub:
    """One machine subscription and one :class:`Coalescer` shared by views.

    Per event the hub bumps a counter, calls the ``_note`` of the views that asked for
    that event type (most views ask for none: the counter is enough to know they are
    stale) and pokes the coalescer. Cost per event: a few attribute reads and one call
    per noting view."""

    def __init__(self, machine: Machine, interval: float = DEFAULT_INTERVAL, clock=time.monotonic):
        if not isinstance(machine, Machine):
            raise TypeError(f"views show a km.Machine, got {type(machine).__name__}")
        self.machine = machine
        self.views: list[View] = []
        self.seq = 0                          # events seen
        self._clock = clock
        self._notes_all: tuple = ()
        self._typed: dict[str, tuple] = {}
        self._coalescer = Coalescer(self._redraw, interval, clock=clock)
        self._sub = machine.subscribe(self._on_event)

    def add(self, view: "View") -> None:
        self.views.append(view)
        view._seen = self.seq
        self._rebuild()

    def remove(self, view: "View") -> None:
        if view in self.views:
            self.views.remove(view)
            self._rebuild()
        if not self.views:
            self.close()

    def _rebuild(self) -> None:
        notes_all, typed = [], {}
        for v in self.views:
            if v.WAKE is None:
                if type(v)._note is not View._note:
                    notes_all.append(v._note)
            else:
                for t in v.WAKE:
                    typed.setdefault(t, []).append(v._wake)
        self._notes_all = tuple(notes_all)
        self._typed = {t: tuple(fs) for t, fs in typed.items()}

    def _on_event(self, ev) -> None:
        self.seq = seq = self.seq + 1
        for note in self._notes_all:
            note(ev)
        fs = self._typed.get(ev.type)
        if fs is not None:
            for f in fs:
                f(ev)
        c = self._coalescer
        if c._scheduled and seq & 31:
            # a flush is already arranged (timer or end of cell): look at the clock only
            # every 32nd event of a burst, which is still far more often than 30 Hz
            c.dirty = True
            return
        c.poke()

    def _redraw(self) -> None:
        final = not self._coalescer.in_burst
        now = self._clock()
        held_back = False
        for v in self.views:
            if not v.stale():
                continue
            if not final and v.burst_interval and now - v._last_draw < v.burst_interval:
                held_back = True          # drawn at a later tick or at the final flush
                continue
            v._draw(now)
        if held_back:
            self._coalescer.dirty = True

    def flush(self) -> None:
        """Draw every stale view now (the end of a cell does this by itself in IPython)."""
        if any(v.stale() for v in self.views):
            self._coalescer.dirty = True
        self._coalescer.flush()

    @property
    def closed(self) -> bool:
        return self._coalescer.closed

    def close(self) -> None:
        self._sub.close()
        self._coalescer.close()


class View:
    """A live picture of one :class:`~kmemlab.Machine`.

    Subclasses build ``self.widget`` (an ipywidgets container) and bring it up to date in
    :meth:`_redraw` (at most ~30 times a second). ``WAKE`` is the set of event types that
    can change the picture (``None``: every event); :meth:`_note` is called for those
    events, once per kernel operation, so it must be cheap. ``burst_interval`` (seconds)
    spaces out redraws of an expensive view while events keep coming. :meth:`to_html`
    is the static fallback a notebook shows where widgets cannot run (GitHub, nbviewer, PDF).
    ``hub`` shares one subscription and coalescer between views (a Dashboard passes it).
    """

    title = "view"
    WAKE: frozenset | None = None
    burst_interval = 0.0

    def __init__(self, machine: Machine, interval: float = DEFAULT_INTERVAL, hub: Hub | None = None):
        if not isinstance(machine, Machine):
            raise TypeError(f"{type(self).__name__} shows a km.Machine, got {type(machine).__name__}")
        if hub is not None and hub.machine is not machine:
            raise ValueError("the hub belongs to another machine")
        self.machine = machine
        self._own_hub = hub is None
        self._hub = Hub(machine, interval) if hub is None else hub
        self._stale = False
        self._seen = 0
        self._last_draw = float("-inf")
        self._redraws = 0
        self._closed = False
        self._hub.add(self)

    # -- events --------------------------------------------------------------------

    def _select_typed(self, change, error_widget, style: str = "font-size:16px") -> None:
        """A number typed in an address or pfn box: select it, or say why not in
        ``error_widget`` (a bad entry never raises into the front end)."""
        text = change["new"].strip()
        if not text:
            return
        try:
            self.select(int(text, 0))
        except (ValueError, TypeError) as e:
            error_widget.value = f'<span style="color:#882255;{style}">{html.escape(str(e))}</span>'

    def _wake(self, ev) -> None:
        self._stale = True
        self._note(ev)

    def _note(self, ev) -> None:
        """Remember what ``ev`` changed (override; called only for ``WAKE`` events)."""

    def stale(self) -> bool:
        """Did an event concerning this view arrive since it was last drawn?"""
        if self.WAKE is None:
            return self._seen != self._hub.seq
        return self._stale

    def _draw(self, now: float) -> None:
        self._seen = self._hub.seq
        self._stale = False
        self._last_draw = now
        self._redraws += 1
        self._redraw()

    def _redraw(self) -> None:
        """Bring the widgets up to date with the machine (override)."""

    def flush(self) -> None:
        """Draw pending changes now (a cell's end does this by itself in IPython)."""
        self._hub.flush()

    def refresh(self) -> None:
        """Redraw now even without an event (after an action that only logged)."""
        self._stale = True
        self._seen = -1
        self._hub.flush()

    @property
    def redraws(self) -> int:
        """How many times the view redrew since it was made."""
        return self._redraws

    # -- life cycle ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Leave the hub (a view's own hub unsubscribes) and close the widgets (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._hub.remove(self)
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
        return mimebundle(self, f"<kmemlab {self.title} of {self.machine!r}>")


def mimebundle(view, text: str) -> dict:
    """The live widget where a widget manager runs, the static picture elsewhere (GitHub,
    nbviewer, a PDF export), and a line of text for a terminal."""
    bundle = {}
    if not view.closed:
        bundle.update(view.widget._repr_mimebundle_() or {})
    bundle["text/html"] = view.to_html()
    bundle["text/plain"] = text
    return bundle
