"""SheafView: where one cache's free objects wait — per-CPU sheaves and the node barns
(6.18 opted-in caches, every cache on 7.0) or, on a cache without sheaves, the per-CPU
slab's lockless freelist and the CPU partial list — above the cache's slab pages.

Top, one row per CPU: with sheaves, the ``main`` and ``spare`` sheaves as rows of
``sheaf_capacity`` slots (filled: an object waiting there), and how many objects the
``rcu_free`` sheaf collects for kfree_rcu(); without sheaves, the CPU slab's pfn, the
objects on ``c->freelist`` and the CPU partial slabs. Then each node's barn: its full
sheaves (filled squares, at most MAX_FULL_SHEAVES) and empty ones (hollow). Bottom, the
slab pages: each slab one bar of its objects in address order — in use by a caller,
parked in a sheaf (allocated as far as the slab knows: ``/proc/slabinfo`` counts them
active), free on a CPU freelist, free on the slab's own freelist.

The same workload on a 6.6 and a 7.0 machine drawn side by side shows the two designs:
a 6.6 CPU keeps a *slab*, a 7.0 CPU keeps *arrays of pointers* to objects of any slab of
its node. Objects in a sheaf waiting for an RCU grace period or in a prefilled sheaf a
caller holds are drawn as in use (the view reads the cache's CPUs and barns only).

Everything is one SVG (``viewBox``: it scales with the notebook's width), the same for
the live widget and :meth:`to_html`.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..kernel.helpers import (OBJ_CPU_FREE, OBJ_FREE, find_slab_cache, for_each_object,
                              slab_cache_for_each_slab, slab_object_states)
from .base import View

__all__ = ["SheafView", "cache_tiers"]

# Tol muted / bright colours (kmemlab.widgets.palette's scheme): in use, in a sheaf,
# free on a CPU freelist, free on the slab's freelist
C_USED, C_SHEAF, C_CPU, C_FREE = "#117733", "#332288", "#88CCEE", "#FFFFFF"
MAX_CPUS, MAX_SLABS, BARN_SLOTS = 8, 16, 10
_WIDTH = 960


def cache_tiers(s) -> dict:
    """Where the objects of cache ``s`` are, per tier (what the view draws):
    ``cpus`` (per CPU: main/spare/rcu_free sizes, or the CPU slab's freelist and partial
    slabs), ``barns`` (per node: full and empty sheaves), ``slabs`` (per slab: pfn and
    counts of objects used / in a sheaf / on a CPU freelist / free)."""
    sheaves = s.cpu_sheaves is not None and s.sheaf_capacity > 0
    in_sheaf: set[int] = set()
    cpus = []
    if sheaves:
        for pcs in s.cpu_sheaves:
            row = {"main": pcs.main.size, "spare": None if pcs.spare is None else pcs.spare.size,
                   "rcu_free": None if pcs.rcu_free is None else pcs.rcu_free.size}
            for sh in (pcs.main, pcs.spare, pcs.rcu_free):
                if sh is not None:
                    in_sheaf.update(sh.objects)
            cpus.append(row)
    else:
        for c in s.cpu_slab or ():
            # c->freelist's objects are the CPU slab's, which slab_object_states() marks
            n = 0 if c.slab is None else int((slab_object_states(c.slab) == OBJ_CPU_FREE).sum())
            cpus.append({"slab": None if c.slab is None else c.slab.pfn, "freelist": n,
                         "partial": len(c.partial) if getattr(c, "partial", None) else 0})
    barns = []
    for n in s.node:
        b = n.barn
        if b is None:
            barns.append(None)
            continue
        for sh in b.sheaves_full + b.sheaves_empty:
            in_sheaf.update(sh.objects)
        barns.append({"full": b.nr_full, "empty": b.nr_empty})
    slabs = []
    for slab in slab_cache_for_each_slab(s):
        st = slab_object_states(slab)
        counts = {"used": 0, "sheaf": 0, "cpu": 0, "free": 0}
        cells = []
        for state, addr in zip(st.tolist(), for_each_object(slab)):
            kind = ("free" if state == OBJ_FREE else "cpu" if state == OBJ_CPU_FREE
                    else "sheaf" if addr in in_sheaf else "used")
            counts[kind] += 1
            cells.append(kind)
        slabs.append({"pfn": slab.pfn, "node": slab.node, "cells": cells, **counts})
    return {"sheaves": sheaves, "capacity": s.sheaf_capacity, "cpus": cpus, "barns": barns, "slabs": slabs}


class SheafView(View):
    """``SheafView(m, cache="kmalloc-64")``: the per-CPU tiers and slab pages of one cache.
    ``sv.tiers`` is what is drawn (:func:`cache_tiers`); ``sv.select_cache(name)``."""

    title = "sheaves"
    WAKE = frozenset(("kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free", "restore"))
    burst_interval = 0.25

    def __init__(self, machine, cache: str = "kmalloc-64", **kw):
        super().__init__(machine, **kw)
        if not isinstance(cache, str):
            raise TypeError(f"cache is a cache name such as 'kmalloc-64', got {cache!r}")
        if find_slab_cache(machine, cache) is None:
            raise ValueError(f"no slab cache named {cache!r}")
        self.cache_name = cache
        self.tiers: dict | None = None
        self.picture = W.HTML("", layout=W.Layout(width="100%", min_width="0"))
        self.picture.add_class("kmemlab-sheaves")
        self.widget = W.VBox([self.picture], layout=W.Layout(width="100%", min_width="0"))
        self.widget.add_class("kmemlab-sheaf-view")
        self._redraw()

    def select_cache(self, name: str) -> None:
        """Show cache ``name`` (ValueError if there is none; the picture stays)."""
        if not isinstance(name, str) or find_slab_cache(self.machine, name) is None:
            raise ValueError(f"no slab cache named {name!r}")
        self.cache_name = name
        self._redraw()

    def _redraw(self) -> None:
        s = find_slab_cache(self.machine, self.cache_name)
        self.tiers = None if s is None else cache_tiers(s)
        self.picture.value = self._svg(s)

    def to_html(self) -> str:
        s = find_slab_cache(self.machine, self.cache_name)
        return f'<div class="kmemlab-sheaf-view" style="width:100%">{self._svg(s)}</div>'

    # -- drawing ---------------------------------------------------------------------

    def _svg(self, s) -> str:
        t, px = self.t, self.px
        f, fs = px(15), px(13)
        out: list[str] = []
        y = f + 6
        k = self.machine.kernel
        if s is None:
            body = (f'<text x="8" y="{y}" font-size="{f}">'
                    f'{html.escape(t("sheaf.gone", cache=self.cache_name))}</text>')
            return self._frame(body, y + 10)
        tiers = self.tiers if self.tiers is not None else cache_tiers(s)
        head = (t("sheaf.title", cache=s.name, cap=tiers["capacity"], kernel=k) if tiers["sheaves"]
                else t("sheaf.title_none", cache=s.name, kernel=k))
        out.append(f'<text x="8" y="{y}" font-size="{px(17)}" font-weight="bold">{html.escape(head)}</text>')
        y += px(17) + 8
        label_w = px(70)
        bar_x = label_w + 12
        for cpu, row in enumerate(tiers["cpus"][:MAX_CPUS]):
            rh = px(18)
            out.append(f'<text x="8" y="{y + rh - 4}" font-size="{f}">CPU {cpu}</text>')
            if tiers["sheaves"]:
                cap = tiers["capacity"]
                gap = px(96)                            # room for "spare 60/60" after a bar
                w = (_WIDTH - bar_x - 2 * gap) // 2
                out.append(self._slots(bar_x, y, w, rh, cap, row["main"], "main"))
                x2 = bar_x + w + gap
                if row["spare"] is None:
                    out.append(f'<text x="{x2}" y="{y + rh - 4}" font-size="{fs}" fill="#555">'
                               f'{html.escape(t("sheaf.no_spare"))}</text>')
                else:
                    out.append(self._slots(x2, y, w, rh, cap, row["spare"], "spare"))
                note = t("sheaf.rcu", n=row["rcu_free"]) if row["rcu_free"] is not None else ""
                if note:
                    y += rh + 2
                    out.append(f'<text x="{bar_x}" y="{y + fs}" font-size="{fs}" fill="#555">{html.escape(note)}</text>')
            else:
                txt = (t("sheaf.cpu_slab", pfn=row["slab"], n=row["freelist"], partial=row["partial"])
                       if row["slab"] is not None else t("sheaf.cpu_noslab", partial=row["partial"]))
                out.append(f'<text x="{bar_x}" y="{y + rh - 4}" font-size="{f}">{html.escape(txt)}</text>')
            y += rh + 8
        if len(tiers["cpus"]) > MAX_CPUS:
            out.append(f'<text x="{bar_x}" y="{y + fs}" font-size="{fs}">'
                       f'{html.escape(t("sheaf.more_cpus", n=len(tiers["cpus"]) - MAX_CPUS))}</text>')
            y += fs + 8
        for nid, barn in enumerate(tiers["barns"]):
            if barn is None:
                continue
            rh = px(18)
            out.append(f'<text x="8" y="{y + rh - 4}" font-size="{f}">{html.escape(t("sheaf.barn", node=nid))}</text>')
            x = bar_x
            sq = rh
            # a slot per sheaf the barn may keep: filled = a full sheaf, hollow = an empty
            # sheaf, dashed grey = room for one
            for kind, have, fill in (("full", barn["full"], C_SHEAF), ("empty", barn["empty"], "#FFFFFF")):
                for i in range(BARN_SLOTS):
                    look = (f'class="barn-{kind}" fill="{fill}" stroke="#332288"' if i < have else
                            'class="barn-slot" fill="#FFFFFF" stroke="#CCCCCC" stroke-dasharray="2 2"')
                    out.append(f'<rect {look} x="{x}" y="{y}" width="{sq}" height="{sq}" stroke-width="1.5"/>')
                    x += sq + 3
                x += px(20)
            out.append(f'<text x="{x + 8}" y="{y + rh - 4}" font-size="{fs}">'
                       f'{html.escape(t("sheaf.barn_counts", full=barn["full"], empty=barn["empty"]))}</text>')
            y += rh + 10
        y += 4
        out.append(f'<text x="8" y="{y + f}" font-size="{f}" font-weight="bold">'
                   f'{html.escape(t("sheaf.slabs", n=len(tiers["slabs"])))}</text>')
        y += f + 8
        colours = {"used": C_USED, "sheaf": C_SHEAF, "cpu": C_CPU, "free": C_FREE}
        for sl in tiers["slabs"][:MAX_SLABS]:
            rh = px(14)
            out.append(f'<text x="8" y="{y + rh - 2}" font-size="{fs}">{sl["pfn"]:#x}</text>')
            n = max(1, len(sl["cells"]))
            w = _WIDTH - bar_x - px(150)
            cw = w / n
            for i, kind in enumerate(sl["cells"]):
                out.append(f'<rect class="obj obj-{kind}" x="{bar_x + i * cw:.2f}" y="{y}" width="{max(cw - 0.6, 0.4):.2f}" '
                           f'height="{rh}" fill="{colours[kind]}" stroke="#777" stroke-width="0.4"/>')
            out.append(f'<text x="{bar_x + w + 8}" y="{y + rh - 2}" font-size="{fs}">'
                       f'{sl["used"]}/{sl["sheaf"]}/{sl["cpu"]}/{sl["free"]}</text>')
            y += rh + 4
        if len(tiers["slabs"]) > MAX_SLABS:
            out.append(f'<text x="{bar_x}" y="{y + fs}" font-size="{fs}">'
                       f'{html.escape(t("sheaf.more_slabs", n=len(tiers["slabs"]) - MAX_SLABS))}</text>')
            y += fs + 6
        y += 6
        x = 8
        for kind, key in (("used", "sheaf.used"), ("sheaf", "sheaf.in_sheaf"), ("cpu", "sheaf.cpu_free"),
                          ("free", "sheaf.free")):
            out.append(f'<rect x="{x}" y="{y}" width="{fs}" height="{fs}" fill="{colours[kind]}" stroke="#555"/>')
            label = t(key)
            out.append(f'<text x="{x + fs + 5}" y="{y + fs - 2}" font-size="{fs}">{html.escape(label)}</text>')
            x += fs + 5 + int(len(label) * fs * (1.0 if self.lang == "ja" else 0.52)) + 16
        y += fs + 8
        return self._frame("".join(out), y)

    def _slots(self, x: int, y: int, w: int, h: int, cap: int, n: int, name: str) -> str:
        """A sheaf as ``cap`` slots, the first ``n`` filled, with its name and n/cap."""
        fs = self.px(13)
        parts = [f'<g class="sheaf sheaf-{name}">']
        cw = w / max(cap, 1)
        for i in range(cap):
            parts.append(f'<rect x="{x + i * cw:.2f}" y="{y}" width="{max(cw - 0.8, 0.5):.2f}" height="{h}" '
                         f'fill="{C_SHEAF if i < n else "#FFFFFF"}" stroke="#332288" stroke-width="0.6"/>')
        parts.append(f'<text x="{x + w + 6}" y="{y + h - 4}" font-size="{fs}">{name} {n}/{cap}</text></g>')
        return "".join(parts)

    def _frame(self, body: str, height: int) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" width="100%" '
                f'style="max-width:100%;height:auto;font-family:sans-serif" role="img" '
                f'aria-label="{html.escape(self.t("sheaf.aria", cache=self.cache_name))}">{body}</svg>')
