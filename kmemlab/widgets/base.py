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
import weakref

from ipywidgets import Widget

from ..kernel.machine import Machine
from ..kernel.events import Changes
from . import coalesce
from .coalesce import DEFAULT_INTERVAL, Coalescer
from .inputs import parse_address
from .messages import check_lang, text

#: how much larger fonts and lines are with ``presentation=True``
PRESENTATION_SCALE = 1.4

__all__ = ["View", "Hub", "weak_handler", "close_tree", "pin_to_widget", "FRAME_EVENTS"]

#: the changes that alter frames' allocation state (the page allocator's, and restore)
FRAME_EVENTS = frozenset(("alloc_pages", "free_pages", "alloc_pages_bulk", "free_pages_bulk",
                          "restore"))


class Hub:
    """One machine watch (:meth:`Machine.watch`) and one :class:`Coalescer` shared by views.

    The machine writes what changed into one :class:`~kmemlab.kernel.events.Changes`
    record per hub (no object per change) and wakes the hub only when a redraw may be
    due. At a redraw the hub takes the record, adds it to each view's own record (a view
    held back by its ``burst_interval`` keeps collecting), and draws the views that the
    changes concern. The hub holds its views weakly and the machine holds the hub weakly:
    views dropped without ``close()`` go away, and with them the watch."""

    def __init__(self, machine: Machine, interval: float = DEFAULT_INTERVAL, clock=None):
        if not isinstance(machine, Machine):
            raise TypeError(f"views show a km.Machine, got {type(machine).__name__}")
        self.machine = machine
        self._views: list[weakref.ref] = []
        if clock is None:
            clock = coalesce.pacing_clock          # wall time, unless a benchmark set another
        self._clock = clock
        self._coalescer = Coalescer(weakref.WeakMethod(self._redraw), interval, clock=clock)
        self._sub = machine.watch(self._wake)
        self._changes = self._sub.changes
        weakref.finalize(self, _close_quietly, self._sub, self._coalescer)

    @property
    def views(self) -> list["View"]:
        """The live views of this hub, in the order they joined."""
        return [v for v in (r() for r in self._views) if v is not None]

    @property
    def seq(self) -> int:
        """Changes seen so far (tests)."""
        return self._seen + self._changes.n

    _seen = 0

    def add(self, view: "View") -> None:
        self._collect()                   # what happened before the view joined is drawn already
        self._views.append(weakref.ref(view))

    def remove(self, view: "View") -> None:
        self._views = [r for r in self._views if r() is not None and r() is not view]
        if not self._views:
            self.close()

    def _wake(self) -> None:
        self._coalescer.poke()

    def _collect(self) -> None:
        """Hand what changed since the last redraw to every view."""
        c = self._changes
        if c.n:
            taken = c.take()
            self._seen += taken.n
            for v in self.views:
                v._changes.merge(taken)
        c.armed = True                    # wake at the next change again

    def _redraw(self) -> None:
        self._collect()
        final = not self._coalescer.in_burst
        now = self._clock()
        held_back = False
        for v in self.views:
            if not v.stale():
                continue
            if not final and v.burst_interval and now < v._due:
                held_back = True          # drawn at a later tick or at the final flush
                continue
            v._draw(now)
        if held_back:
            self._coalescer.dirty = True
            self._changes.armed = False   # the coalescer has a flush arranged
            self._coalescer.arrange()

    def flush(self) -> None:
        """Draw every stale view now (the end of a cell does this by itself in IPython)."""
        self._collect()
        if any(v.stale() for v in self.views):
            self._coalescer.dirty = True
        self._coalescer.flush()

    @property
    def closed(self) -> bool:
        return self._coalescer.closed

    def close(self) -> None:
        _close_quietly(self._sub, self._coalescer)


def _close_quietly(sub, coalescer) -> None:
    sub.close()
    coalescer.close()


def weak_handler(method):
    """A widget callback that holds its view weakly (``button.on_click(weak_handler(
    self._on_click))``): a widget kept alive by the front end never keeps a dropped
    view, its hub and its machine watch alive."""
    ref = weakref.WeakMethod(method)

    def handler(*args, **kw):
        fn = ref()
        if fn is not None:
            return fn(*args, **kw)
    return handler


class View:
    """A live picture of one :class:`~kmemlab.Machine`.

    Subclasses build ``self.widget`` (an ipywidgets container) and bring it up to date in
    :meth:`_redraw` (at most ~30 times a second). ``WAKE`` is the set of change types that
    can change the picture (``None``: every change). Before a redraw, :meth:`_note` gets
    the :class:`~kmemlab.kernel.events.Changes` collected since the view was last drawn
    (the frames touched, the newest address per type), once per redraw, never per kernel
    operation. ``burst_interval`` (seconds) spaces out redraws of a view while changes keep
    coming: at most one per interval on average. :meth:`to_html` is the static fallback a notebook shows where widgets cannot
    run (GitHub, nbviewer, PDF). ``hub`` shares one watch and coalescer between views (a
    Dashboard passes it). A view dropped without ``close()`` closes itself when collected.
    """

    title = "view"
    WAKE: frozenset | None = None
    burst_interval = 0.0

    def __init__(self, machine: Machine, interval: float = DEFAULT_INTERVAL, hub: Hub | None = None,
                 lang: str | None = None, presentation: bool = False, auto: float | None = None):
        if not isinstance(machine, Machine):
            # km.host(): no events to follow; the view re-reads it (refresh button, auto=)
            from .hostview import host_hub
            hub = host_hub(type(self), machine, hub, auto)    # TypeError for anything else
        elif auto is not None:
            raise TypeError(f"auto= re-reads a host view (km.host()); a view of a km.Machine "
                            f"follows the machine by itself: leave auto out, got auto={auto!r}")
        if hub is not None and hub.machine is not machine:
            raise ValueError("the hub belongs to another machine")
        if not isinstance(presentation, bool):
            raise TypeError(f"presentation is True or False, got {presentation!r}")
        self.machine = machine
        #: the language of every label (:mod:`.messages`): "en" or "ja"
        self.lang = check_lang(lang)
        #: larger fonts and thicker lines, for the back row of a lecture hall
        self.presentation = presentation
        self._own_hub = hub is None
        self._hub = Hub(machine, interval) if hub is None else hub
        self._changes = Changes()
        self._changes.armed = False
        self._forced = False
        self._last_draw = float("-inf")
        self._due = float("-inf")         # when a burst may draw this view next
        self._redraws = 0
        self._closed = False
        self._widget = None
        self._finalizer = None
        #: widgets the root widget does not reach (closed with it)
        self._extra_widgets: list = []
        self._hub.add(self)

    @property
    def widget(self):
        """The view's root ipywidget (what ``display(view)`` shows)."""
        return self._widget

    @widget.setter
    def widget(self, w) -> None:
        self._widget = w
        if self._finalizer is not None:
            self._finalizer.detach()
        # dropped without close(): close every widget of the tree (the finalizer holds the
        # widgets, never the view: widget callbacks hold views weakly, see weak_handler)
        self._finalizer = weakref.finalize(self, close_tree, w, self._extra_widgets)

    # -- words, sizes and typed numbers ---------------------------------------------

    def t(self, key: str, **fields) -> str:
        """A label or message in the view's language (:mod:`.messages`)."""
        return text(key, self.lang, **fields)

    def px(self, size: float) -> int:
        """A font size (px) or line width: larger in presentation mode."""
        return round(size * (PRESENTATION_SCALE if self.presentation else 1))

    def _say_error(self, widget, error: Exception) -> None:
        """Show why a typed entry was refused; the picture stays as it was."""
        widget.value = (f'<span class="kmemlab-error" style="color:#882255;font-size:{self.px(15)}px">'
                        f'&#9888; {html.escape(self.t("err.kept", why=str(error)))}</span>')

    def _on_typed_address(self, change) -> None:
        """An address typed in the view's box (on Enter/blur): select it, or keep the
        picture and say why in ``self._error_line``."""
        if not change["new"].strip():
            return
        try:
            self.select(parse_address(change["new"], self.lang))
        except (ValueError, TypeError) as e:
            self._say_error(self._error_line, e)
        else:
            self._error_line.value = ""

    # -- changes -------------------------------------------------------------------

    def _note(self, changes: Changes) -> None:
        """Remember what ``changes`` concern (override; called once before a redraw)."""

    def stale(self) -> bool:
        """Did a change concerning this view happen since it was last drawn?"""
        if self._forced:
            return True
        c = self._changes
        if not c.n:
            return False
        if self.WAKE is None:
            return True
        return not self.WAKE.isdisjoint(c.types)

    def _draw(self, now: float) -> None:
        ch = self._changes.take()
        self._forced = False
        self._last_draw = now
        if self.burst_interval:
            # during a burst the next drawing is due one interval after this one was due,
            # not after it happened: redraws come in ticks (~1/30 s), and "an interval
            # since the last drawing" rounds every wait up to a whole tick (a 0.1 s map
            # drew ~8 times a second, not 10). A view late by more than an interval (the
            # first drawing of a burst, or ticks sparser than its interval) starts afresh
            # from now.
            bi = self.burst_interval
            self._due = self._due + bi if now - self._due <= bi else now + bi
        self._redraws += 1
        self._note(ch)
        self._redraw()

    def _redraw(self) -> None:
        """Bring the widgets up to date with the machine (override)."""

    def flush(self) -> None:
        """Draw pending changes now (a cell's end does this by itself in IPython)."""
        self._hub.flush()

    def refresh(self) -> None:
        """Redraw now even without a change (after an action that only logged)."""
        self._forced = True
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
        if self._finalizer is not None:
            self._finalizer()             # close_tree(widget, extra widgets), once

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
    nbviewer, a PDF export), and a line of text for a terminal.

    Showing the widget pins ``view`` to it (:func:`pin_to_widget`): ``display(PhysMap(m))``
    with no name keeps drawing until the widget is closed."""
    bundle = {}
    if not view.closed:
        bundle.update(view.widget._repr_mimebundle_() or {})
        pin_to_widget(view)
    bundle["text/html"] = view.to_html()
    bundle["text/plain"] = text
    return bundle


#: the attribute of a shown root widget that holds its view
_PIN = "_kmemlab_view"


def pin_to_widget(view) -> None:
    """Keep a shown ``view`` (a View or a Dashboard: ``widget``, ``close()``) alive as long
    as its root widget is open.

    Views are held weakly everywhere (issue 19: a dropped view unsubscribes itself), so
    ``display(PhysMap(m))`` without a name would be collected at once and close its widget:
    the front end then says "Error displaying widget: model not found". Once shown, the
    root widget holds the view (ipywidgets keeps every open widget in its registry until
    it is closed), and closing the widget closes the view: ``view.close()``,
    ``view.widget.close()``, or the front end closing the model (its comm). A view that
    was never shown is not pinned and still goes away when dropped.

    Running a cell again replaces its outputs: the views an earlier run of the same cell
    showed are off the screen then, and are let go (:func:`_release_earlier_run`), so
    re-running ``display(PhysMap(m))`` ten times leaves one view drawing, not ten."""
    w = view.widget
    if w is None or w.comm is None:
        return
    _release_earlier_run(view)
    if getattr(w, _PIN, None) is view:
        return
    ref = weakref.ref(view)

    def closed(change=None) -> None:
        if change is not None and change["new"] is not None:
            return                        # a comm was opened, not closed
        w.__dict__.pop(_PIN, None)        # the widget no longer keeps the view alive
        v = ref()
        if v is not None:
            v.close()

    setattr(w, _PIN, view)
    w.observe(closed, names=["comm"])     # Widget.close() sets comm to None
    w.comm.on_close(lambda _msg: closed())  # the front end closed the model


def _cell_run():
    """(the front end's id of the cell that runs now, the run's message id), or None
    outside a kernel or for a front end that names no cell (JupyterLab and Notebook 7 send
    ``cellId`` in the execute request's metadata)."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
        parent = ip.kernel.get_parent("shell")
    except Exception:                     # noqa: BLE001 - no IPython, no kernel, older ipykernel
        return None
    cell = ((parent or {}).get("metadata") or {}).get("cellId")
    if not cell:
        return None
    return ip, cell, (parent.get("header") or {}).get("msg_id")


def _release_earlier_run(view) -> None:
    """Unpin the views that an earlier run of the cell now running showed (that run's
    outputs are gone); record ``view`` as shown by this run. An unpinned view that no
    name holds is then collected and closes itself; one kept in a name stays."""
    run = _cell_run()
    if run is None:
        return
    ip, cell, msg_id = run
    shown = ip.__dict__.setdefault("_kmemlab_shown", {})
    earlier_id, refs = shown.get(cell, (None, []))
    if earlier_id != msg_id:
        for r in refs:
            v = r()
            if v is not None and v is not view and v.widget is not None:
                v.widget.__dict__.pop(_PIN, None)
        refs = []
    refs.append(weakref.ref(view))
    shown[cell] = (msg_id, refs)


def close_tree(*roots) -> None:
    """Close each widget of ``roots`` (widgets, or lists of them) and every widget it
    holds (children, a figure's marks, axes and scales, layouts and styles):
    ``Widget.close()`` alone leaves e.g. an Image's Layout open."""
    seen = set()
    stack = []
    for r in roots:
        stack.extend(r if isinstance(r, list) else [r])
    while stack:
        w = stack.pop()
        if not isinstance(w, Widget) or id(w) in seen:
            continue
        seen.add(id(w))
        for name in w.keys:
            if name.startswith("_"):
                continue
            try:
                v = getattr(w, name)
            except Exception:            # noqa: BLE001 - a trait that cannot be read: skip it
                continue
            if isinstance(v, Widget):
                stack.append(v)
            elif isinstance(v, (list, tuple)):
                stack.extend(x for x in v if isinstance(x, Widget))
            elif isinstance(v, dict):
                stack.extend(x for x in v.values() if isinstance(x, Widget))
        w.close()
