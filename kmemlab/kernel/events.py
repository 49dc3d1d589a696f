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
  when it asked to be woken (it has no redraw scheduled yet) or every
  :data:`WAKE_EVERY`-th change of a burst (so a long burst can still redraw while it runs). The watcher reads the record
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

__all__ = ["Event", "Bus", "Subscription", "Changes", "new_event", "WAKE_EVERY"]


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

#: During a burst a watcher is woken every WAKE_EVERY-th change (a power of two), so that
#: its coalescer can redraw while the burst runs. Fewer wakes would save little (a wake
#: costs ~2.5 us with the benchmarks' CPU-time clock: ~5 % of an attached order-0
#: alloc_pages burst at 32) but tie a picture's delay to the cost of the calls: at 128, a
#: loop of 1 ms calls woke the physical map every 128 ms, below its 10 pictures a second
#: (tests/test_widgets_physmap_png.py, once per burst interval).
WAKE_EVERY = 32


class Changes:
    """What changed since a watcher last looked, written by the bus (:meth:`Bus.watch`).

    - ``n``: changes seen; ``types``: their types (a set-like view);
    - ``lo``, ``hi``: the frames [lo, hi) whose allocation state changed (events without
      an address: the page allocator's); ``everything``: a restore replaced the state;
    - ``last``: per type, ``(n, addr, pfn)`` of its newest change with an address
      (``last["kmalloc"]``: the n-th change was the newest kmalloc, at ``addr``, in the
      slab at frame ``pfn``);
    - ``armed``: wake the watcher at the next change (it has no redraw scheduled).

    :meth:`take` returns a copy and resets the record.

    The bus writes ``seen[type] = n`` (a dict store, no method call: ~20 ns less per
    change than ``set.add``) and tests ``n >= wake_at`` (one comparison: ``wake_at`` is
    ``n + 1`` when armed, else the next multiple of :data:`WAKE_EVERY`)."""

    __slots__ = ("n", "seen", "lo", "hi", "everything", "last", "_armed", "wake_at", "_owner",
                 "_wake_fn", "__weakref__")

    def __init__(self, wake=None):
        # a bound method held weakly, as (weak reference to its object, its function):
        # calling a weakref.WeakMethod runs Python code that makes a bound method, ~1 us of
        # a wake's ~2 us; a weak reference is called in C
        if wake is None:
            self._owner = self._wake_fn = None
        else:
            self._owner, self._wake_fn = weakref.ref(wake.__self__), wake.__func__
        self._armed = True
        self.seen = {}
        self.last = {}
        self._reset()

    def _reset(self) -> None:
        # in place: the bus's fast path holds this record's dicts
        self.n, self.lo, self.hi, self.everything = 0, _NO_PFN, 0, False
        self.seen.clear()
        self.last.clear()
        self.wake_at = 1 if self._armed else WAKE_EVERY

    @property
    def types(self):
        """The types of the changes seen (a set-like view: ``in``, ``<=``, ``isdisjoint``)."""
        return self.seen.keys()

    @property
    def armed(self) -> bool:
        """Wake the watcher at the next change."""
        return self._armed

    @armed.setter
    def armed(self, on: bool) -> None:
        self._armed = bool(on)
        n = self.n
        self.wake_at = n + 1 if on else (n | (WAKE_EVERY - 1)) + 1

    def take(self) -> "Changes":
        """A copy of what changed so far, and start again from nothing."""
        c = Changes.__new__(Changes)
        c._owner = c._wake_fn = None
        c._armed, c.wake_at = False, WAKE_EVERY
        c.n, c.seen, c.lo, c.hi, c.everything, c.last = (
            self.n, self.seen.copy(), self.lo, self.hi, self.everything, self.last.copy())
        self._reset()
        return c

    def merge(self, other: "Changes") -> None:
        """Add ``other`` (what changed after this record) into this record."""
        n = self.n
        self.n = n + other.n
        for t, i in other.seen.items():
            self.seen[t] = n + i
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
        """The bus's call when ``n`` reached ``wake_at``: disarm, then wake the watcher."""
        self._armed = False
        self.wake_at = (self.n | (WAKE_EVERY - 1)) + 1
        r = self._owner
        if r is not None:
            obj = r()
            if obj is not None:
                self._wake_fn(obj)

    def __bool__(self) -> bool:
        return self.n > 0

    def __repr__(self) -> str:
        return (f"<Changes n={self.n} types={sorted(self.seen)} frames={self.frames()}"
                f"{' everything' if self.everything else ''}>")


def _one_watcher(c: Changes):
    """``Bus.changed`` for a bus whose only listener is the watcher ``c`` (same fields,
    same effect on ``c``)."""
    seen = c.seen
    last = c.last

    def changed(type: str, pfn: int = -1, nr_pages: int = 0, kind: int = 0, addr: int = 0,
                size: int = 0, detail=None) -> None:
        c.n = n = c.n + 1
        seen[type] = n
        if addr:
            last[type] = (n, addr, pfn)
        elif pfn >= 0:
            if pfn < c.lo:
                c.lo = pfn
            if pfn + nr_pages > c.hi:
                c.hi = pfn + nr_pages
        elif type == "restore":
            c.everything = True
        if n >= c.wake_at:
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
        ``wake()`` when it is armed, or every :data:`WAKE_EVERY`-th change; ``wake`` is a
        bound method, held weakly: when its object is collected the watch ends by itself."""
        if not isinstance(wake, MethodType):
            raise TypeError(f"watch() takes a bound method wake(), got {type(wake).__name__}")
        changes = Changes(wake)
        s = Subscription(self, changes=changes)
        self._add(s, wake)
        return s

    def _add(self, s: Subscription, callback) -> None:
        self.subscribers.append(s)
        self._rebuild()
        if s._ref is None or isinstance(s._ref, weakref.WeakMethod):
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
            c.seen[type] = n
            if addr:
                c.last[type] = (n, addr, pfn)
            elif pfn >= 0:
                if pfn < c.lo:
                    c.lo = pfn
                if pfn + nr_pages > c.hi:
                    c.hi = pfn + nr_pages
            elif type == "restore":
                c.everything = True
            if n >= c.wake_at:
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
