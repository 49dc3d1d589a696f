"""Coalescing change events into a few redraws a second.

A notebook cell may run a 100 000-call workload: redrawing after every event would cost
more than the workload and flood the front end. A :class:`Coalescer` sits between the
machine's change events and a view's redraw:

- on a change the machine records *what* changed (cheap) and, when a redraw may be due,
  calls :meth:`Coalescer.poke`;
- ``poke`` redraws at once if the last redraw is older than ``interval`` (1/30 s), so a long
  cell still animates about 30 times a second (less often when a redraw takes more than a
  quarter of that: drawing gets at most about a quarter of a long cell's time);
- otherwise it makes sure a later flush will happen: a timer on the kernel's asyncio loop
  (runs as soon as the cell yields) and IPython's ``post_run_cell`` hook (runs when the
  cell ends), so the final state is always drawn. Outside IPython, call :meth:`flush`.

Redraws happen on the thread that runs the notebook's code, between two kernel operations,
never from a second thread that could see a half-done change.
"""

from __future__ import annotations

import asyncio
import time
import weakref

__all__ = ["Coalescer", "DEFAULT_INTERVAL"]

DEFAULT_INTERVAL = 1 / 30

#: What views pace their redraws by when they are made (a Coalescer or Hub without
#: ``clock=``): wall time, so a cell animates while the user watches it. A benchmark sets
#: another before it makes its views (benchmarks/bench_widgets.py: the CPU time spent in
#: the attached machine's calls, so the number of redraws per call does not depend on
#: what else the machine's cores run).
pacing_clock = time.monotonic


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:        # pragma: no cover - IPython comes with ipykernel
        return None
    return get_ipython()


class Coalescer:
    """Calls ``redraw()`` at most once per ``interval`` seconds while pokes keep coming,
    and once more after the last poke. ``clock`` is injectable for tests. ``redraw`` may
    be a ``weakref.WeakMethod``: the coalescer then never keeps its owner alive (and
    IPython's hook holds the coalescer itself only weakly)."""

    def __init__(self, redraw, interval: float = DEFAULT_INTERVAL, clock=None):
        if isinstance(redraw, weakref.WeakMethod):
            self._redraw_ref = redraw
        elif callable(redraw):
            self._redraw_ref = lambda: redraw
        else:
            raise TypeError(f"Coalescer needs a callable redraw(), got {type(redraw).__name__}")
        self.interval = float(interval)
        self._clock = pacing_clock if clock is None else clock
        self._last = float("-inf")
        #: the smallest gap between two redraws during a burst: ``interval``, or four times
        #: what a burst redraw takes (smoothed) if that is longer, so drawing takes at most
        #: about a quarter of a long cell's time however fast the kernel model runs (the gap
        #: runs from the start of one redraw to the start of the next: three times, as it
        #: was, gave drawing a third)
        self._gap = self.interval
        self._cost = 0.0
        self.dirty = False
        self._timer = None
        self._scheduled = False        # a later flush is arranged (timer, or cell end)
        self.closed = False
        self.redraws = 0               # how many times redraw() ran (tests, benchmarks)
        #: True while redraw() runs from inside a burst (poke), False for a final flush
        self.in_burst = False
        self._ip = _ipython()
        self._hook = None
        if self._ip is not None:
            self._hook = _weak_hook(self)
            self._ip.events.register("post_run_cell", self._hook)
            weakref.finalize(self, _unregister, self._ip, self._hook)

    def poke(self) -> None:
        """Something changed: redraw now if allowed, else schedule the final flush."""
        if self.closed:
            return
        self.dirty = True
        if self._clock() - self._last >= self._gap:
            self.in_burst = True
            try:
                self.flush()
            finally:
                self.in_burst = False
            # a smoothed cost: one expensive redraw (a view that draws twice a second)
            # must not slow down every later one
            self._cost = 0.7 * self._cost + 0.3 * (self._clock() - self._last)
            self._gap = max(self.interval, 4 * self._cost)
        elif not self._scheduled:
            self._schedule()

    def arrange(self) -> None:
        """Make sure a later flush happens (a redraw held part of the picture back)."""
        if not self._scheduled and not self.closed:
            self._schedule()

    def _schedule(self) -> None:
        # once per burst: asking for the loop raises when there is none, which is costly
        # per event (measured: a third of the dashboard's per-event cost)
        self._scheduled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return                     # no loop: post_run_cell or an explicit flush() will do
        self._timer = loop.call_later(self.interval, _weak_hook(self))

    def flush(self) -> None:
        """Redraw now if anything changed since the last redraw."""
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.dirty or self.closed:
            return
        self.dirty = False
        self._last = self._clock()
        redraw = self._redraw_ref()
        if redraw is None:             # the owner is gone
            self.close()
            return
        self.redraws += 1
        redraw()

    def close(self) -> None:
        """Stop: no more redraws, the IPython hook is removed (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._hook is not None:
            _unregister(self._ip, self._hook)
            self._hook = None


def _weak_hook(coalescer):
    """A callback for IPython's post_run_cell and the asyncio timer that flushes
    ``coalescer`` while it lives and does nothing afterwards."""
    ref = weakref.ref(coalescer)

    def hook(*args):
        c = ref()
        if c is not None:
            c._timer = None
            c.flush()
    return hook


def _unregister(ip, hook) -> None:
    try:
        ip.events.unregister("post_run_cell", hook)
    except ValueError:
        pass
