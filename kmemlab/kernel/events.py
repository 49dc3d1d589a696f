"""Change events: how views (and tests) learn what the model did.

Every state change is published as an :class:`Event` to the machine's subscribers.
Publishing costs one truth test when nobody listens. The bus is shared, not copied, by
``Machine.snapshot()``: subscribers belong to the notebook, not to the simulated state.
"""

from __future__ import annotations

import sys
import traceback
from functools import partial
from typing import Callable, NamedTuple

__all__ = ["Event", "Bus", "Subscription", "new_event"]


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
#: all seven fields at once, without the keyword handling of ``Event(...)`` (a Python-level
#: ``__new__``): hot paths that publish one event per kernel operation use it.
new_event = partial(tuple.__new__, Event)


class Subscription:
    """Handle returned by ``Machine.subscribe``; ``close()`` unsubscribes (idempotent)."""

    def __init__(self, bus: "Bus", callback):
        self._bus = bus
        self.callback = callback

    def close(self) -> None:
        if self in self._bus.subscribers:
            self._bus.subscribers.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bus:
    def __init__(self):
        self.subscribers: list[Subscription] = []

    def __deepcopy__(self, memo):
        return self

    def subscribe(self, callback: Callable[[Event], None]) -> Subscription:
        if not callable(callback):
            raise TypeError(f"subscribe() takes a callable(event), got {type(callback).__name__}")
        s = Subscription(self, callback)
        self.subscribers.append(s)
        return s

    def emit(self, event: Event) -> None:
        # Events fire in the middle of a kernel operation: a failing subscriber must not
        # abort it half done, so its error is reported and the operation goes on.
        subs = self.subscribers
        if len(subs) == 1:
            # the common case (one Dashboard, or one view): no copy of the list, and a
            # try block costs nothing in CPython 3.11+ until something raises
            try:
                subs[0].callback(event)
            except Exception:
                traceback.print_exc(file=sys.stderr)
            return
        for s in list(subs):      # a copy: a callback may subscribe or unsubscribe
            try:
                s.callback(event)
            except Exception:
                traceback.print_exc(file=sys.stderr)
