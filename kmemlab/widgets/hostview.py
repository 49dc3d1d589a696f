"""Views of the running Linux (``km.host()``): re-read on a button or every ``auto=`` seconds.

``BuddyChart(km.host())``, ``SlabView(km.host())`` and ``ZoneView(km.host())`` draw the
host as they draw a Machine, through the same read interface (:mod:`kmemlab.helpers`).
What differs is how they learn that something changed: a Machine tells its views
(:meth:`~kmemlab.Machine.watch`), a host tells nobody — its ``/proc`` is a file the
kernel prints when read. So a host view has a :class:`HostHub` instead of a
:class:`~kmemlab.widgets.base.Hub`: it re-reads the host (``h.refresh()``) when the
view's refresh button is pressed, when ``view.refresh()`` is called, or every ``auto``
seconds on the kernel's asyncio loop (``BuddyChart(h, auto=1.0)``), and then redraws its
views. A lecturer runs a workload in a terminal and the bars move.

What a host view can show is what ``/proc`` and ``/sys`` print: free blocks per order
and zone (``buddyinfo``), the slab caches' counts and geometry (``slabinfo``, root only,
or ``/sys/kernel/slab``), zone watermarks (``zoneinfo``) and ``meminfo``. It cannot show
what no file prints: which frames are free, the objects of a slab, a freelist. The
views say so where the Machine's view would draw it. A file that cannot be read (not
root: ``/proc/slabinfo`` and, on 6.x, every ``/sys/kernel/slab`` attribute are mode
0400) is named in a plain message on the view; a read that fails keeps the last picture
and says when it was taken, and the timer goes on.

The timer holds the hub weakly and stops when the view is closed or collected. Views
may share one hub (``hub = HostHub(h, auto=1.0)``; ``BuddyChart(h, hub=hub)``,
``SlabView(h, hub=hub)``): one re-read, then every view redraws.
"""

from __future__ import annotations

import asyncio
import html
import math
import numbers
import re
import time
import weakref

import ipywidgets as W

from ..host import Host, HostError
from ..kernel.helpers import NotAvailable
from .base import PRESENTATION_SCALE
from .messages import text

__all__ = ["HostHub", "HostReadable", "host_hub", "check_auto", "HOST_READ_ERRORS"]

#: what reading a host can raise: a file missing, root only, or not in the kernel's format
HOST_READ_ERRORS = (NotAvailable, HostError)

def check_auto(auto) -> float | None:
    """``auto`` as seconds between re-reads, or None (re-read on the refresh button only)."""
    if auto is None:
        return None
    if isinstance(auto, bool) or not isinstance(auto, numbers.Real):
        raise TypeError(f"auto is the seconds between re-reads of the host (e.g. auto=1.0), or None "
                        f"for the refresh button only; got {auto!r}")
    auto = float(auto)
    if not math.isfinite(auto) or auto <= 0:
        raise ValueError(f"auto must be a positive number of seconds (e.g. auto=1.0), or None; got {auto!r}")
    if auto < 0.1:
        raise ValueError(f"auto={auto!r}: re-reading the host more than 10 times a second costs the "
                         "kernel more than it shows; use auto=0.1 or more")
    return auto


def host_hub(cls, machine, hub, auto) -> "HostHub":
    """The hub of a new ``cls`` view of ``machine`` (not a Machine): a :class:`HostHub`
    (``hub`` if given), or a TypeError saying what the view shows."""
    if not isinstance(machine, Host):
        hosts = " or a km.host()" if issubclass(cls, HostReadable) else ""
        raise TypeError(f"{cls.__name__} shows a km.Machine{hosts}, got {type(machine).__name__}")
    if not issubclass(cls, HostReadable):
        raise TypeError(f"{cls.__name__} shows a km.Machine, got the host: it draws what only a "
                        "simulated machine knows (a host's /proc prints counts, not frames or objects); "
                        "BuddyChart, SlabView and ZoneView draw a km.host()")
    if hub is None:
        return HostHub(machine, auto=auto)
    if not isinstance(hub, HostHub):
        raise TypeError(f"a host view takes a HostHub as hub=, got {type(hub).__name__}")
    if auto is not None:
        raise ValueError("auto= belongs to the hub when hub= is given: HostHub(h, auto=...)")
    return hub


def _clock_text(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _why(e: BaseException) -> str:
    """A failure as one plain sentence (HostError says the file and the reason), never a traceback."""
    return str(e) or type(e).__name__


class HostHub:
    """The :class:`~kmemlab.widgets.base.Hub` of host views: no event subscription (the
    host sends none); :meth:`refresh` re-reads the host and redraws every view, by hand
    or every ``auto`` seconds on the asyncio loop (``loop`` and ``clock`` are
    injectable for tests). ``reads``: re-reads so far; ``error``: why the last one
    failed (None when it worked). ``header=False``: each view shows only its message
    line, no header and refresh button of its own (a host Dashboard draws one for all)."""

    def __init__(self, host: Host, auto: float | None = None, loop=None, clock=time.time,
                 header: bool = True):
        if not isinstance(host, Host):
            raise TypeError(f"HostHub reads a km.host(), got {type(host).__name__}")
        self.machine = host                 # the name views and Hub use for their source
        self.host = host
        self.auto = check_auto(auto)
        if not isinstance(header, bool):
            raise TypeError(f"header is True (each view has its own refresh button) or False, got {header!r}")
        self.header = header
        self._clock = clock
        self._views: list[weakref.ref] = []
        self._bars: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.reads = 0
        self.error: str | None = None
        self.closed = False
        #: why auto= does not tick (no asyncio loop runs: a script, not a notebook), or None
        self.auto_note: str | None = None
        self._loop = loop
        self._handle = [None]               # the pending timer (a list: the finalizer shares it)
        weakref.finalize(self, _cancel, self._handle)
        if self.auto is not None:
            if self._loop is None:
                try:
                    self._loop = asyncio.get_running_loop()
                except RuntimeError:
                    self.auto_note = (f"auto={self.auto:g} needs the asyncio loop of a Jupyter kernel; "
                                      "none runs here: press refresh (or call view.refresh())")
            self._arm()

    # -- the views ---------------------------------------------------------------------------

    @property
    def views(self) -> list:
        return [v for v in (r() for r in self._views) if v is not None]

    def add(self, view) -> None:
        self._views.append(weakref.ref(view))

    def remove(self, view) -> None:
        self._views = [r for r in self._views if r() is not None and r() is not view]
        if not self._views:
            self.close()

    def bar(self, view) -> "HostBar":
        """The header line, refresh button and message line of ``view`` (made once)."""
        b = self._bars.get(view)
        if b is None:
            b = self._bars[view] = HostBar(self, view)
        return b

    # -- reading and drawing -----------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the host and redraw every view. A failure is shown on the views (the
        last picture stays); it never raises into a button or the timer."""
        if self.closed:
            return
        try:
            self.host.refresh()
        except Exception as e:            # noqa: BLE001 - shown on the views, the picture kept
            self.error = f"could not read the host at {_clock_text(self._clock())}: {_why(e)}"
        else:
            self.error = None
        self.reads += 1
        for v in self.views:
            v._forced = True
        self.flush()

    def flush(self) -> None:
        """Draw the views that asked to be drawn (after a re-read: all of them)."""
        now = self._clock()
        for v in self.views:
            if not v.stale():
                continue
            problem = self.error
            if problem is None:
                try:
                    v._draw(now)
                except Exception as e:   # noqa: BLE001 - a file the view needs: say so, keep the picture
                    problem = f"could not draw the read of {_clock_text(self.host.read_at)}: {_why(e)}"
                else:
                    self.bar(v).drawn_at = self.host.read_at
            else:
                v._forced = False
            self.bar(v).show(problem)

    # -- auto= ----------------------------------------------------------------------------------

    def _arm(self) -> None:
        if self.closed or self.auto is None or self._loop is None:
            return
        self._handle[0] = self._loop.call_later(self.auto, _tick, weakref.ref(self))

    def close(self) -> None:
        """Stop the timer (idempotent); the views are closed by their owners."""
        self.closed = True
        _cancel(self._handle)


def _tick(ref) -> None:
    """One auto= tick: re-read and redraw while the hub and a view of it live, then arm
    the next tick (also after a failed read: the timer never dies silently)."""
    hub = ref()
    if hub is None or hub.closed:
        return
    hub._handle[0] = None
    if not hub.views:
        hub.close()
        return
    try:
        hub.refresh()
    finally:
        hub._arm()


def _cancel(handle) -> None:
    h, handle[0] = handle[0], None
    if h is not None:
        h.cancel()


class HostBar:
    """A host view's first lines: what it shows ("this machine: Linux 6.18.35 (name),
    read at 18:22:01"), the refresh button, and a message line for what could not be read."""

    def __init__(self, hub: HostHub, view):
        self._hub_ref = weakref.ref(hub)
        # the view's words and sizes, not the view: the bar must not keep its view alive
        lang, scale = view.lang, PRESENTATION_SCALE if view.presentation else 1
        self._t = lambda key, **fields: text(key, lang, **fields)
        self._px = lambda size: round(size * scale)
        self.drawn_at = hub.host.read_at
        self.header = W.HTML(layout=W.Layout(min_width="0", flex="1 1 300px"))
        self.header.add_class("kmemlab-host-header")
        self.button = W.Button(description=self._t("host.refresh"), icon="refresh",
                               tooltip=self._t("host.refresh_tip"),
                               layout=W.Layout(width="auto", min_width="0"))
        self.button.add_class("kmemlab-host-refresh")
        self.button.on_click(_weak_refresh(hub))
        self.message = W.HTML(layout=W.Layout(min_width="0"))
        self.message.add_class("kmemlab-host-message")
        self.notes: list[str] = []
        self._extra: list = []              # widgets made but not shown (closed with the view)
        top = [W.HBox([self.button, self.header], layout=W.Layout(align_items="center", flex_flow="row wrap",
                                                                 width="100%", min_width="0"))]
        if not hub.header:
            # a dashboard's one header and button stand for all of its views: only the
            # message line (what this view could not read) stays on the view
            self._extra = top
            top = []
        self.widget = W.VBox(top + [self.message], layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-host-bar")

    def show(self, problem: str | None = None) -> None:
        hub = self._hub_ref()
        if hub is None:
            return
        h = hub.host
        u = h.utsname
        auto = (self._t("host.auto", s=f"{hub.auto:g}") if hub.auto is not None else self._t("host.manual"))
        words = self._t("host.header", sysname=u.sysname, release=u.release, node=u.nodename,
                        at=_clock_text(self.drawn_at))
        root = "" if h.is_root else " " + self._t("host.not_root")
        self.header.value = (f'<span style="font-size:{self._px(15)}px"><b>{html.escape(words)}</b>'
                             f'{html.escape(root)} <span style="color:#555">· {html.escape(auto)}</span></span>')
        lines = []
        if problem:
            lines.append(f"&#9888; {html.escape(self._t('host.kept', why=problem, at=_clock_text(self.drawn_at)))}")
        if hub.auto_note:
            lines.append(f"&#9888; {html.escape(hub.auto_note)}")
        lines += [html.escape(n) for n in self.notes]
        self.message.value = (f'<div style="font-size:{self._px(14)}px;color:#882255">'
                              + "<br>".join(lines) + "</div>") if lines else ""

    @property
    def text(self) -> str:
        """The header and message as plain text (tests, the static picture)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.header.value + "\n"
                                    + self.message.value.replace("<br>", "\n")))


def _weak_refresh(hub):
    ref = weakref.ref(hub)

    def on_click(_button=None):
        h = ref()
        if h is not None:
            h.refresh()
    return on_click


class HostReadable:
    """Mixin of the views that draw a ``km.host()`` too (BuddyChart, SlabView,
    ZoneView): ``view.host`` (None for a Machine), ``view.refresh()`` re-reads a host,
    and :meth:`host_widgets` (the header bar, for the top of the view)."""

    @property
    def host(self) -> Host | None:
        return self.machine if isinstance(self.machine, Host) else None

    @property
    def host_hub(self) -> HostHub | None:
        return self._hub if isinstance(self._hub, HostHub) else None

    def refresh(self) -> None:
        """A host view: re-read the host and redraw (what the refresh button does);
        a Machine's view: redraw now."""
        hub = self.host_hub
        if hub is None:
            super().refresh()
        else:
            hub.refresh()

    def host_widgets(self) -> list:
        """[the host bar's widget] for a host view, [] for a Machine's."""
        hub = self.host_hub
        if hub is None:
            return []
        b = hub.bar(self)
        self._extra_widgets.extend(b._extra)
        return [b.widget]

    def host_say(self, notes: list[str]) -> None:
        """Plain sentences for what this view cannot show of the host (shown under the header)."""
        hub = self.host_hub
        if hub is not None:
            hub.bar(self).notes = list(notes)

    def host_ready(self) -> None:
        """Fill in the header once the view is built."""
        hub = self.host_hub
        if hub is not None:
            hub.bar(self).show(hub.error)

    def host_text(self) -> str:
        """The header and messages as plain text ('' for a Machine)."""
        hub = self.host_hub
        return hub.bar(self).text if hub is not None else ""

    def host_html(self) -> str:
        """The header and messages for the static picture ('' for a Machine)."""
        hub = self.host_hub
        if hub is None:
            return ""
        bar = hub.bar(self)
        head = bar.header.value if hub.header else ""      # a dashboard's header stands for all
        return f'<div class="kmemlab-host-static">{head}{bar.message.value}</div>'
