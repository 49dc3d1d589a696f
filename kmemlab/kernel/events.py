"""Change events: how views (and tests) learn what the model did.

A kernel operation that changes state tells the machine's bus with one call,
``bus.changed(type, pfn, nr_pages, kind, addr, size, detail)``, guarded by the truth test
``if bus.subscribers:`` so that it costs nothing when nobody listens. The bus has two
kinds of listener:

- **callbacks** (``m.subscribe(fn)``): get a full :class:`Event` per change. The Event is
  built only when at least one callback listens.
- **watchers** (:meth:`Bus.watch`, what the views use): get no object per change. The bus
  writes into the watcher's :class:`Changes` record (a counter, the set of change types,
  the range of frames touched, the newest address per type) and wakes the watcher only
  when it asked to be woken (it has no redraw scheduled yet) or every 32nd change of a
  burst (so a long burst can still redraw while it runs). The watcher reads the record
  once per redraw, fetches whatever detail it shows from the model itself, and resets it.

Listeners are held **weakly** where they are bound methods: a view (or any object) that
is dropped without ``close()`` unsubscribes itself when it is collected, so dropped
dashboards never slow the kernel down. Plain functions and lambdas are held strongly
(nothing else would keep a lambda alive); ``close()`` the handle to stop them.

The bus is shared, not copied, by ``Machine.snapshot()``: listeners belong to the
notebook, not to the simulated state.
"""

from __future__ import annotations

import sys
import traceback
import weakref
from functools import partial
from types import MethodType
from typing import Callable, NamedTuple

__all__ = ["Event", "Bus", "Subscription", "Changes", "new_event"]


class Event(NamedTuple):
    """One change. ``type`` is what happened, named after the kernel function that did it
    ("alloc_pages", "free_pages", "kmalloc", "kfree", "vmalloc", "vfree", "restore"...)."""
    type: str
    pfn: int = -1            # first frame touched, -1 if none
    nr_pages: int = 0        # frames touched
    kind: int = 0            # mem_map kind of those frames after the change
    addr: int = 0            # virtual address involved, if any
    size: int = 0            # bytes requested, if any
    detail: object = None


#: ``new_event((type, pfn, nr_pages, kind, addr, size, detail))``: an :class:`Event` from
#: all seven fields at once, without the keyword handling of ``Event(...)``.
new_event = partial(tuple.__new__, Event)

_NO_PFN = 1 << 62


class Changes:
    """What changed since a watcher last looked, written by the bus (:meth:`Bus.watch`).

    - ``n``: changes seen; ``types``: the set of their types;
    - ``lo``, ``hi``: the frames [lo, hi) whose allocation state changed (events without
      an address: the page allocator's); ``everything``: a restore replaced the state;
    - ``last``: per type, ``(n, addr, pfn)`` of its newest change with an address
      (``last["kmalloc"]``: the n-th change was the newest kmalloc, at ``addr``, in the
      slab at frame ``pfn``);
    - ``armed``: wake the watcher at the next change (it has no redraw scheduled).

    :meth:`take` returns a copy and resets the record."""

    __slots__ = ("n", "types", "lo", "hi", "everything", "last", "armed", "_wake",
                 "__weakref__")

    def __init__(self, wake=None):
        self._wake = wake
        self.armed = True
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.types = set()
        self.lo = _NO_PFN
        self.hi = 0
        self.everything = False
        self.last = {}

    def take(self) -> "Changes":
        """A copy of what changed so far, and start again from nothing."""
        c = Changes.__new__(Changes)
        c._wake, c.armed = None, False
        c.n, c.types, c.lo, c.hi, c.everything, c.last = (
            self.n, self.types.copy(), self.lo, self.hi, self.everything, self.last.copy())
        # in place: the bus's fast path holds this record's set and dict
        self.n, self.lo, self.hi, self.everything = 0, _NO_PFN, 0, False
        self.types.clear()
        self.last.clear()
        return c

    def merge(self, other: "Changes") -> None:
        """Add ``other`` (what changed after this record) into this record."""
        n = self.n
        self.n = n + other.n
        self.types |= other.types
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        self.everything |= other.everything
        for t, (i, addr, pfn) in other.last.items():
            self.last[t] = (n + i, addr, pfn)

    def newest(self, types) -> tuple[str, int, int] | None:
        """``(type, addr, pfn)`` of the newest change of one of ``types``, or None."""
        best = None
        for t in types:
            rec = self.last.get(t)
            if rec is not None and (best is None or rec[0] > best[0]):
                best = (rec[0], t, rec[1], rec[2])
        return None if best is None else best[1:]

    def frames(self) -> tuple[int, int] | None:
        """[lo, hi) of the frames touched, or None (``everything`` is separate)."""
        return (self.lo, self.hi) if self.hi > self.lo else None

    def wake(self) -> None:
        w = self._wake
        if w is not None:
            fn = w()
            if fn is not None:
                fn()

    def __bool__(self) -> bool:
        return self.n > 0

    def __repr__(self) -> str:
        return (f"<Changes n={self.n} types={sorted(self.types)} frames={self.frames()}"
                f"{' everything' if self.everything else ''}>")


def _one_watcher(c: Changes):
    """``Bus.changed`` for a bus whose only listener is the watcher ``c`` (same fields,
    same effect on ``c``)."""
    types = c.types
    last = c.last

    def changed(type: str, pfn: int = -1, nr_pages: int = 0, kind: int = 0, addr: int = 0,
                size: int = 0, detail=None) -> None:
        c.n = n = c.n + 1
        types.add(type)
        if addr:
            last[type] = (n, addr, pfn)
        elif pfn >= 0:
            if pfn < c.lo:
                c.lo = pfn
            if pfn + nr_pages > c.hi:
                c.hi = pfn + nr_pages
        elif type == "restore":
            c.everything = True
        if c.armed or not n & 31:
            c.armed = False
            c.wake()
    return changed


def _ref(callback):
    """A weak reference for a bound method (its object decides how long it lives), a
    strong one (a zero-argument lambda returning it) for anything else."""
    if isinstance(callback, MethodType):
        try:
            return weakref.WeakMethod(callback)
        except TypeError:          # an object that takes no weak references: held strongly
            pass
    return lambda: callback


class Subscription:
    """Handle returned by ``Machine.subscribe`` / :meth:`Bus.watch`; ``close()``
    unsubscribes (idempotent). A subscription whose bound-method callback was collected
    closes itself."""

    def __init__(self, bus: "Bus", callback=None, changes: Changes | None = None):
        self._bus = bus
        self._ref = _ref(callback) if callback is not None else None
        self.changes = changes
        self.closed = False

    @property
    def callback(self):
        """The callback, or None once its object is gone (or for a watcher)."""
        return self._ref() if self._ref is not None else None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bus:
    """The machine's change bus: ``subscribers`` is truthy when anyone listens."""

    def __init__(self):
        self.subscribers: list[Subscription] = []
        self._callbacks: tuple[Subscription, ...] = ()
        self._watchers: tuple[Changes, ...] = ()

    def __deepcopy__(self, memo):
        return self

    # -- listening ---------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Subscription:
        """Call ``callback(event)`` after every change (a bound method is held weakly)."""
        if not callable(callback):
            raise TypeError(f"subscribe() takes a callable(event), got {type(callback).__name__}")
        s = Subscription(self, callback)
        self._add(s, callback)
        return s

    def watch(self, wake: Callable[[], None]) -> Subscription:
        """Record changes into a :class:`Changes` (``subscription.changes``) and call
        ``wake()`` when it is armed, or every 32nd change; ``wake`` is a bound method,
        held weakly: when its object is collected the watch ends by itself."""
        if not isinstance(wake, MethodType):
            raise TypeError(f"watch() takes a bound method wake(), got {type(wake).__name__}")
        changes = Changes(weakref.WeakMethod(wake))
        s = Subscription(self, changes=changes)
        self._add(s, wake)
        return s

    def _add(self, s: Subscription, callback) -> None:
        self.subscribers.append(s)
        self._rebuild()
        if isinstance(s._ref if s._ref is not None else s.changes._wake, weakref.WeakMethod):
            # the object went away without close(): unsubscribe (weakref.finalize keeps no
            # reference to the object, and runs once)
            weakref.finalize(callback.__self__, s.close)

    def _remove(self, s: Subscription) -> None:
        if s in self.subscribers:
            self.subscribers.remove(s)
            self._rebuild()

    def _rebuild(self) -> None:
        self._callbacks = tuple(s for s in self.subscribers if s.changes is None)
        self._watchers = tuple(s.changes for s in self.subscribers if s.changes is not None)
        # The common case, one watcher and no callback (a dashboard, or one view): the
        # kernel's call sites find a function specialised for it as ``bus.changed`` (an
        # instance attribute shadowing the method), with no loop, no callback check and no
        # bound method made per call. Measured (benchmarks/bench_widgets.py, bus_fast_path):
        # a call costs 0.64-0.76 of the general loop's; kmalloc/kfree with one view
        # attached 1.45x detached instead of 1.64x.
        if len(self._watchers) == 1 and not self._callbacks:
            self.changed = _one_watcher(self._watchers[0])
        else:
            self.__dict__.pop("changed", None)

    # -- telling -----------------------------------------------------------------------

    def changed(self, type: str, pfn: int = -1, nr_pages: int = 0, kind: int = 0, addr: int = 0,
                size: int = 0, detail=None) -> None:
        """One change, as positional fields (hot paths call this, under ``if
        bus.subscribers:``). A change with an address is about an object or an area; one
        without an address but with frames changed those frames' allocation state."""
        # The loop body is _one_watcher()'s, written out on purpose: calling one writer
        # per watcher from here (one implementation) made this loop 1.25x (two watchers)
        # to 1.3x (three) as slow. tests/test_widgets_coalesce.py checks both against one
        # reference of what Changes holds.
        for c in self._watchers:
            c.n = n = c.n + 1
            c.types.add(type)
            if addr:
                c.last[type] = (n, addr, pfn)
            elif pfn >= 0:
                if pfn < c.lo:
                    c.lo = pfn
                if pfn + nr_pages > c.hi:
                    c.hi = pfn + nr_pages
            elif type == "restore":
                c.everything = True
            if c.armed or not n & 31:
                c.armed = False
                c.wake()
        if self._callbacks:
            self._deliver(new_event((type, pfn, nr_pages, kind, addr, size, detail)))

    def emit(self, event: Event) -> None:
        """One change, as an :class:`Event`."""
        self.changed(*event)

    def _deliver(self, event: Event) -> None:
        # Events fire in the middle of a kernel operation: a failing subscriber must not
        # abort it half done, so its error is reported and the operation goes on.
        for s in self._callbacks:
            fn = s.callback
            if fn is None:
                continue
            try:
                fn(event)
            except Exception:
                traceback.print_exc(file=sys.stderr)
