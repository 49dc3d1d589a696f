"""Function-graph tracing of what a call did, in kernel function names.

``with m.trace() as t: m.alloc_pages(GFP_KERNEL, 2)`` records every modelled kernel
function entered and left inside the block — the path actually taken (a fast path looks
different from a fallback, a failure shows where it failed) — and ``print(t)`` renders
it like ftrace's ``function_graph`` tracer::

    # tracer: function_graph
    #
    # CPU  DURATION                  FUNCTION CALLS
    # |     |   |                     |   |   |   |
     0)               |  __alloc_pages() { /* gfp=GFP_KERNEL order=2 */
     0)   0.080 us    |    get_page_from_freelist();

Subsystems mark their functions with ``tr = k.tracer`` then ``tr.enter(name, detail)`` /
``tr.leave(result)`` (or ``tr.leaf(name, detail)`` for a step with nothing inside). When no
trace is active ``k.tracer`` is ``None`` and a hook costs one attribute test.

A run of consecutive calls of one function under one parent (a vmalloc's per-page
allocations, a vfree's per-page frees) prints its first call in full and the rest as one
``func() ×N more;`` line; :attr:`Trace.calls` keeps every call, :meth:`Trace.outline`
gives the printed rows as data.

Durations are simulated, not measured: each call is charged 0.08 us plus its callees, so
the column shows where the work is and is the same on every run.

Inlined functions. The trace teaches the whole path, including functions the real kernel
inlines (``kmalloc``, ``kmalloc_index``, ``slab_alloc_node``, ``__rmqueue_smallest``, ...:
:data:`kmemlab.kernel.generation.INLINED`). Each :class:`Call` has ``inlined``; ``print(t)``
marks those frames ``/* inline */``, and ``print(t.format(inlined=False))`` prints only what
the ``function_graph`` tracer of a real kernel could show (an inlined frame's callees move
up to its caller), so it can be compared with ``/sys/kernel/tracing/trace``.
"""

from __future__ import annotations

__all__ = ["Tracer", "Trace", "Call", "python_call_site"]

_CALL_NS = 80


def python_call_site() -> str:
    """``%pS`` of the first caller outside kmemlab (a notebook cell's function), the Python
    line standing in for the instruction offset: ``my_init+0x1d/0x1000 [__main__]``."""
    import sys
    f = sys._getframe(1)
    while f is not None and f.f_globals.get("__name__", "").startswith("kmemlab"):
        f = f.f_back
    if f is None:
        return "0x0"
    return f"{f.f_code.co_name}+{f.f_lineno:#x}/0x1000 [{f.f_globals.get('__name__', '?')}]"


class Call:
    """One traced call: ``func`` (kernel name), ``detail`` (its arguments that matter),
    ``result``, ``children``; ``duration_ns`` is the simulated time spent inside."""

    __slots__ = ("func", "detail", "result", "children", "cpu", "inlined")

    def __init__(self, func: str, detail: str, cpu: int, inlined: bool = False):
        self.func = func
        self.detail = detail
        self.result = None
        self.children: list[Call] = []
        self.cpu = cpu
        self.inlined = inlined          # the real kernel inlines it: ftrace cannot see it

    @property
    def duration_ns(self) -> int:
        return _CALL_NS + sum(c.duration_ns for c in self.children)

    def walk(self):
        """This call and all below it, depth first (``for c in call.walk()``)."""
        yield self
        for c in self.children:
            yield from c.walk()

    def to_dict(self) -> dict:
        return {"func": self.func, "detail": self.detail, "result": self.result, "inlined": self.inlined,
                "duration_ns": self.duration_ns, "children": [c.to_dict() for c in self.children]}

    def __repr__(self):
        return f"<call {self.func}({self.detail}) -> {self.result!r}, {len(self.children)} callees>"


class Trace:
    """The record of one ``with m.trace()`` block: ``calls`` is the list of top-level calls;
    with ``m.trace(events="kmem")`` also ``events``, the kmem tracepoint hits
    (:mod:`kmemlab.kernel.kmem_events`), and ``print(t)`` prints them as tracefs does
    (``t.format()`` still gives the function graph)."""

    def __init__(self, event_names=None, gen=None, key: bytes = b"", cpus: int = 1):
        self.calls: list[Call] = []
        self.event_names = event_names      # frozenset of enabled events, or None
        self.events: list = []
        self._gen, self._key, self._cpus = gen, key, cpus

    def text(self) -> str:
        """The tracefs text of the recorded events (``cat /sys/kernel/tracing/trace``)."""
        from .kmem_events import tracefs_text
        return tracefs_text(self.events, self._gen, self._key, self._cpus)

    def functions(self, inlined: bool = True) -> list[str]:
        """Every traced function name in call order (handy for checks); ``inlined=False``
        leaves out what the real kernel inlines."""
        return [c.func for top in self.calls for c in top.walk() if inlined or not c.inlined]

    @staticmethod
    def _visible(calls: list[Call]) -> list[Call]:
        """The calls a real function_graph tracer records: inlined frames are replaced by
        their (visible) callees."""
        out = []
        for c in calls:
            if c.inlined:
                out.extend(Trace._visible(c.children))
            else:
                v = Call(c.func, c.detail, c.cpu)
                v.result = c.result
                v.children = Trace._visible(c.children)
                out.append(v)
        return out

    def __contains__(self, func: str) -> bool:
        return func in self.functions()

    @staticmethod
    def _runs(calls: list[Call]):
        """Consecutive calls of the same function, as (first, [all of them]) pairs."""
        i, n = 0, len(calls)
        while i < n:
            j = i + 1
            while j < n and calls[j].func == calls[i].func:
                j += 1
            yield calls[i], calls[i:j]
            i = j

    def outline(self) -> list[tuple[int, str, int]]:
        """What ``print(t)`` shows, as (depth, function, count) rows: a run of N
        consecutive calls of one function under the same parent (one per page of a
        vmalloc, say) is its first call, expanded, then one ``(depth, func, N - 1)``
        row. :attr:`calls` keeps every call."""
        rows: list[tuple[int, str, int]] = []

        def walk(calls: list[Call], depth: int):
            for first, run in self._runs(calls):
                rows.append((depth, first.func, 1))
                walk(first.children, depth + 1)
                if len(run) > 1:
                    rows.append((depth, first.func, len(run) - 1))
        walk(self.calls, 0)
        return rows

    def __str__(self) -> str:
        return self.text() if self.event_names is not None else self.format()

    def format(self, inlined: bool = True) -> str:
        """The function_graph text; ``inlined=False`` prints only the functions a real
        kernel's tracer can see (its callees stay, one level up)."""
        calls = self.calls if inlined else self._visible(self.calls)
        lines = ["# tracer: function_graph", "#",
                 "# CPU  DURATION                  FUNCTION CALLS",
                 "# |     |   |                     |   |   |   |"]

        def emit(c: Call, depth: int):
            indent = "  " * (depth + 1)     # ftrace indents two spaces per level
            note = "; ".join(x for x in ("inline" if c.inlined else "", c.detail) if x)
            note = f" /* {note} */" if note else ""
            dur = f"{c.duration_ns / 1000:8.3f} us"     # " 0)   0.712 us    |"
            if c.children:
                lines.append(f" {c.cpu})               |{indent}{c.func}() {{{note}")
                emit_all(c.children, depth + 1)
                lines.append(f" {c.cpu}){dur}    |{indent}}}")
            else:
                lines.append(f" {c.cpu}){dur}    |{indent}{c.func}();{note}")

        def emit_all(calls: list[Call], depth: int):
            # a per-page loop shows its first call in full, then one line for the rest
            for first, run in self._runs(calls):
                emit(first, depth)
                if len(run) > 1:
                    rest = run[1:]
                    ns = sum(c.duration_ns for c in rest)
                    lines.append(f" {first.cpu}){ns / 1000:8.3f} us    |{'  ' * (depth + 1)}"
                                 f"{first.func}() \u00d7{len(rest)} more; /* the same call repeated, "
                                 f"its own arguments each time (Trace.calls has them all) */")
        emit_all(calls, 0)
        return "\n".join(lines) + "\n"

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class Tracer:
    """The active recorder, hung on ``KernelState.tracer`` while a trace block runs."""

    def __init__(self, k, trace: Trace):
        self.k = k
        self.trace = trace
        self.stack: list[Call] = []
        #: the enabled tracepoints (None: none), read by the kernel code before it builds one
        self.events = trace.event_names

    def call_site(self, skip: int = 0) -> str:
        """Where the current call comes from, as a tracepoint's ``call_site`` (``_RET_IP_``)
        sees it: the innermost traced function the real kernel does not inline — skipping
        ``skip`` of them, for a ``_RET_IP_`` taken one real function further out — else the
        notebook's Python function."""
        for c in reversed(self.stack):
            if not c.inlined:
                if not skip:
                    return c.func
                skip -= 1
        return python_call_site()

    def kmem(self, event: str, **fields) -> None:
        """A tracepoint hit, recorded if that event is enabled (include/trace/events/kmem.h)."""
        if event in self.events or (event.endswith("_node") and event[:-5] in self.events):
            from .kmem_events import KmemEvent
            k = self.k
            self.trace.events.append(KmemEvent(event, fields, k.cpu, k.clock.ns, k.comm, k.pid))

    def __deepcopy__(self, memo):
        return None          # a snapshot taken inside a trace block is not tracing

    def enter(self, func: str, detail: str = "") -> Call:
        c = Call(func, detail, self.k.cpu, self.k.gen.inlined(func))
        (self.stack[-1].children if self.stack else self.trace.calls).append(c)
        self.stack.append(c)
        return c

    def leave(self, result=None):
        c = self.stack.pop()
        c.result = result
        return result

    def leaf(self, func: str, detail: str = "", result=None) -> None:
        c = Call(func, detail, self.k.cpu, self.k.gen.inlined(func))
        c.result = result
        (self.stack[-1].children if self.stack else self.trace.calls).append(c)

    def through(self, names: tuple[str, ...], fn, detail: str = "", result=None):
        """Run ``fn()`` inside the calls ``names`` (outermost first; ``detail`` goes on the
        first): what a chain of wrappers around one implementation looks like traced.
        ``result(value)`` turns fn's return value into what the frames record."""
        depth = len(self.stack)
        for i, name in enumerate(names):
            self.enter(name, detail if i == 0 else "")
        try:
            value = fn()
        except BaseException:
            self.unwind(depth)
            raise
        shown = value if result is None else result(value)
        for _ in names:
            self.leave(shown)
        return value

    def unwind(self, depth: int) -> None:
        """Close calls left open by an exception (a KernelBug raised inside)."""
        while len(self.stack) > depth:
            self.stack.pop().result = "exception"
