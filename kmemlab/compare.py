"""``km.compare(host, twin)``: which numbers of a real kernel and its simulated twin agree,
and why the others do not — an honest report card.

Like comparing a building with its architect's model: the floor plan (zone spans, cache
geometry, the size of the vmalloc area) should match to the centimetre; the furniture
(free memory, the page cache, objects in use) cannot, because nobody lives in the model.
Each row gives the two values, a verdict — ``agrees``, ``close`` (within 1 %), ``differs``,
or ``not shown`` (a file the reader may not read) — and for every row that is not equal,
the reason: what the model does not simulate (user space, the page cache, reclaim,
transparent hugepages, devices, tasks), what the host's kernel configures differently,
or what its boot reserved.

Everything is read through the drgn-style helpers (:mod:`kmemlab.helpers`), so either
side may be a ``km.Machine``, a ``km.host()`` or a ``km.host(root=...)`` tree:
``km.compare(m1, m2)`` compares two simulated machines as well.

>>> h = km.host(); m = km.Machine.like_host(h)
>>> km.compare(h, m)            # a table in a notebook, text in a terminal
>>> km.compare(h, m, lang="ja") # the same card in Japanese

Every word of the card comes from :mod:`kmemlab.messages` (English and Japanese); kernel
names, file names and numbers stay as they are. The rows keep their English names whatever
the language (``card.row("slab caches", "caches")``, ``REASONS["free"]``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .kernel import helpers as H
from .kernel.buddy import recommended_min_free_kbytes
from .kernel.helpers import NotAvailable
from .messages import Joined, Msg, check_lang, tr
from .messages import columns as _width

__all__ = ["compare", "Comparison", "Row", "REASONS"]

AGREES, CLOSE, DIFFERS, NOT_SHOWN = (Msg("compare.agrees"), Msg("compare.close"), Msg("compare.differs"),
                                     Msg("compare.not_shown"))
#: relative difference up to which two totals are "close"
CLOSE_FRACTION = 0.01

#: why a number of a real kernel and of the model differ (the rows cite these); each is a
#: :class:`~kmemlab.messages.Msg`: the English text, ``REASONS[k].text("ja")`` in Japanese
REASONS = {k: Msg(f"compare.why.{k}") for k in (
    "userspace", "page_cache", "free", "slab_use", "reserved", "wmarks", "protection", "thp",
    "min_free_admin", "directmap", "kernel_stack", "percpu", "vmalloc_use", "commit", "zones_config",
    "in_use", "generation", "swap", "hugetlb", "unknown")}

#: /proc/vmallocinfo callers (function names) -> what they are, for the areas only one side has
_VMALLOC_USERS = (
    (r"kernel_clone|copy_process|alloc_thread_stack_node|dup_task_struct|fork_idle", Msg("compare.user.stacks")),
    (r"irq_init_percpu_irqstack", Msg("compare.user.irq")),
    (r"^pcpu_", Msg("compare.user.percpu")),
    (r"bpf", Msg("compare.user.bpf")),
    (r"module|load_module|execmem", Msg("compare.user.modules")),
    (r"acpi|pci|iomem|ioremap|memremap|vp_modern|msix|devm_", Msg("compare.user.devices")),
    (r"n_tty|tty", Msg("compare.user.tty")),
)

#: Row.unit -> its word on the card
_UNITS = {"pages": Msg("compare.unit.pages"), "bytes": Msg("compare.unit.bytes")}


@dataclass
class Row:
    """One line of the report card. ``section``, ``what``, ``why`` and a string ``host`` or
    ``twin`` are English (a :class:`~kmemlab.messages.Msg` where the card can say them in
    another language; a plain string is shown as it is, in every language)."""
    section: str
    what: str
    host: object
    twin: object
    verdict: str
    why: str = ""
    unit: str = ""

    def _fmt(self, v, lang: str = "en") -> str:
        if v is None:
            return "-"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}" + (f" {tr(_UNITS.get(self.unit, self.unit), lang)}" if self.unit else "")
        if isinstance(v, (list, tuple)):
            return ", ".join(str(x) for x in v) or "-"
        return tr(v, lang)


@dataclass
class Comparison:
    """The report card of ``km.compare(a, b)``: ``rows`` (:class:`Row`), grouped in
    sections; ``agrees``/``differs``/... list the rows of each verdict. ``lang`` is the
    language it prints in (``"en"``, ``"ja"``); the rows and their numbers are the same in
    every language (``in_language("ja")`` gives the same card in Japanese)."""
    names: tuple[str, str]
    rows: list[Row] = field(default_factory=list)
    lang: str = "en"

    def __post_init__(self):
        self.lang = check_lang(self.lang)

    def _by(self, verdict):
        return [r for r in self.rows if r.verdict == verdict]

    @property
    def agrees(self) -> list[Row]:
        return self._by(AGREES)

    @property
    def close(self) -> list[Row]:
        return self._by(CLOSE)

    @property
    def differs(self) -> list[Row]:
        return self._by(DIFFERS)

    @property
    def not_shown(self) -> list[Row]:
        return self._by(NOT_SHOWN)

    def row(self, section: str, what: str) -> Row:
        """The row called ``what`` in ``section`` (KeyError if there is none): both in
        English, as ``Row.section`` and ``Row.what`` are, whatever the card's language."""
        for r in self.rows:
            if r.section == section and r.what == what:
                return r
        raise KeyError(f"no row {what!r} in section {section!r}")

    def sections(self) -> list[str]:
        out = []
        for r in self.rows:
            if r.section not in out:
                out.append(r.section)
        return out

    def select(self, sections) -> "Comparison":
        """The same card with only the rows of ``sections`` (its summary counts those)."""
        keep = set(sections)
        return Comparison(self.names, [r for r in self.rows if r.section in keep], self.lang)

    def in_language(self, lang: str) -> "Comparison":
        """The same card (the same rows) printed in ``lang``."""
        return Comparison(self.names, list(self.rows), lang)

    def text(self, s) -> str:
        """``s`` (a section, a label, a verdict, a reason of this card) in the card's language."""
        return tr(s, self.lang)

    def summary(self) -> str:
        s = Msg("compare.summary", agree=len(self.agrees), close=len(self.close), pct=f"{CLOSE_FRACTION:.0%}",
                differ=len(self.differs))
        if self.not_shown:
            s = Msg("compare.summary_not_shown", summary=s, n=len(self.not_shown))
        return self.text(s)

    def __str__(self):
        lang, t = self.lang, self.text
        a, b = t(self.names[0]), t(self.names[1])
        lines = [f"{t(Msg('compare.pair', a=a, b=b))}: {self.summary()}"]
        width = max([_width(t(r.what)) for r in self.rows] + [10])
        vw = max([_width(r._fmt(r.host, lang)) for r in self.rows] + [_width(a)])
        tw = max([_width(r._fmt(r.twin, lang)) for r in self.rows] + [_width(b)])
        vw, tw, width = min(vw, 28), min(tw, 28), min(width, 34)
        mark = {AGREES: "=", CLOSE: "~", DIFFERS: "!", NOT_SHOWN: "?"}
        for sec in self.sections():
            lines.append("")
            lines.append(f"{t(sec)}  ({a} | {b})")
            rows = [r for r in self.rows if r.section == sec]
            for i, r in enumerate(rows):
                lines.append(f"  {mark[r.verdict]} {_pad(_cut(t(r.what), width), width)}  "
                             f"{_pad(_cut(r._fmt(r.host, lang), vw), vw, right=True)}  "
                             f"{_pad(_cut(r._fmt(r.twin, lang), tw), tw, right=True)}  {t(r.verdict)}")
                nxt = rows[i + 1] if i + 1 < len(rows) else None
                # a reason shared by consecutive rows is printed once, after the last of them
                if (r.why and r.verdict != AGREES
                        and not (nxt is not None and nxt.why == r.why and nxt.verdict != AGREES)):
                    lines.extend("      " + line for line in _wrap(t(r.why), 96))
        lines.append("")
        lines.append(t(Msg("compare.legend")))
        return "\n".join(lines)

    def __repr__(self):
        return f"<Comparison {self.text(Msg('compare.pair', a=self.names[0], b=self.names[1]))}: {self.summary()}>"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        lang, t = self.lang, self.text
        a, b = t(self.names[0]), t(self.names[1])
        color = {AGREES: "#1a7f37", CLOSE: "#7d6608", DIFFERS: "#b42318", NOT_SHOWN: "#555"}
        sign = {AGREES: "=", CLOSE: "&asymp;", DIFFERS: "&ne;", NOT_SHOWN: "?"}
        e = html.escape
        out = [f"<div class='kmemlab-compare' lang='{lang}' style='max-width:100%;overflow-x:auto'>"
               f"<b>{e(t(Msg('compare.pair', a=a, b=b)))}</b>: {e(self.summary())}",
               "<table style='border-collapse:collapse;font-size:0.9em;width:100%'>",
               f"<tr style='text-align:left'><th style='text-align:left'>{e(t(Msg('compare.col.what')))}</th>"
               f"<th style='text-align:right'>{e(a)}</th><th style='text-align:right'>{e(b)}</th><th></th>"
               f"<th style='text-align:left;width:40%'>{e(t(Msg('compare.col.why')))}</th></tr>"]
        for sec in self.sections():
            # text-align: the notebook front ends right-align table cells (JupyterLab, Voilà)
            out.append(f"<tr><td colspan='5' style='padding-top:0.6em;border-bottom:1px solid #ccc;text-align:left'>"
                       f"<b>{e(t(sec))}</b></td></tr>")
            for r in self.rows:
                if r.section != sec:
                    continue
                c = color[r.verdict]
                why = e(t(r.why)) if r.verdict != AGREES else ""
                out.append(f"<tr><td style='text-align:left'>{e(t(r.what))}</td><td style='text-align:right;font-family:monospace'>"
                           f"{e(r._fmt(r.host, lang))}</td><td style='text-align:right;font-family:monospace'>"
                           f"{e(r._fmt(r.twin, lang))}</td><td style='color:{c};font-weight:bold;white-space:nowrap'"
                           f" title='{e(t(r.verdict))}'>{sign[r.verdict]} {e(t(r.verdict))}</td>"
                           f"<td style='color:#444;text-align:left;min-width:14em;overflow-wrap:anywhere'>{why}</td></tr>")
        out.append("</table></div>")
        return "".join(out)


def _pad(s: str, n: int, right: bool = False) -> str:
    fill = " " * max(0, n - _width(s))
    return fill + s if right else s + fill


#: a line may end with these though they pass the width (Japanese line breaking: kinsoku)
_NO_LINE_START = "、。，．）」』,.;:)]"
#: and does not end with these (an opening bracket goes with what it opens)
_NO_LINE_END = "（「『(["


def _wrap(s: str, cols: int) -> list[str]:
    """``s`` in lines of at most ``cols`` terminal columns: broken at spaces, and between any
    two wide (Japanese) characters, which have no spaces between them."""
    tokens = re.findall(r"\s+|[^\s\u1100-\uffef]+|.", s)
    lines, cur = [], ""
    for tok in tokens:
        if tok.isspace():
            cur += " " if cur else ""
            continue
        if cur and _width(cur) + _width(tok) > cols and tok[0] not in _NO_LINE_START:
            carry = cur[-1] if cur[-1] in _NO_LINE_END and len(cur) > 1 else ""
            lines.append(cur[:len(cur) - len(carry)].rstrip())
            cur = carry
        cur += tok
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def _cut(s: str, n: int) -> str:
    if _width(s) <= n:
        return s
    while _width(s) > n - 1:
        s = s[:-1]
    return s + "…"


def _verdict(a, b, tolerance: float = 0.0) -> str:
    if a is None or b is None:
        return NOT_SHOWN
    if a == b:
        return AGREES
    if tolerance and isinstance(a, int) and isinstance(b, int) and max(abs(a), abs(b)):
        if abs(a - b) <= tolerance * max(abs(a), abs(b)):
            return CLOSE
    return DIFFERS


def _try(fn, *args):
    try:
        return fn(*args)
    except (NotAvailable, ValueError, KeyError):
        return None


def _name(prog) -> str:
    u = _try(H.utsname, prog)
    if u is None:
        return type(prog).__name__
    from .kernel.machine import Machine
    if isinstance(prog, Machine):
        return Msg("compare.name.twin" if getattr(prog, "twin", None) is not None else "compare.name.machine",
                   release=u.release)
    return Msg("compare.name.host", node=u.nodename, release=u.release)


def compare(host, twin, lang: str = "en") -> Comparison:
    """The report card of ``host`` against ``twin`` (any two programs the helpers read:
    a ``km.host()``, a ``km.Machine``), printed in ``lang`` (``"en"`` or ``"ja"``: its words
    come from :mod:`kmemlab.messages`; kernel names, file names and numbers stay as they
    are). See the module docstring."""
    lang = check_lang(lang)
    for p, what in ((host, "host"), (twin, "twin")):
        try:
            H.utsname(p)
        except TypeError:
            raise TypeError(f"compare() takes two programs (km.host(), km.Machine), got {type(p).__name__} "
                            f"for {what}") from None
    c = Comparison((_name(host), _name(twin)), lang=lang)
    ctx = _Context(host, twin)
    _machine(c, ctx)
    _zones(c, ctx)
    _memory(c, ctx)
    _slab(c, ctx)
    _vmalloc(c, ctx)
    return c


class _Context:
    """What several sections need, read once."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.zones_a = _try(lambda: list(H.for_each_zone(a))) or []
        self.zones_b = _try(lambda: list(H.for_each_zone(b))) or []
        self.mi_a = _try(H.meminfo, a) or {}
        self.mi_b = _try(H.meminfo, b) or {}
        self.mfk_a = _try(H.min_free_kbytes, a)
        self.mfk_b = _try(H.min_free_kbytes, b)
        self.page_a = _try(H.PAGE_SIZE, a) or 4096
        self.page_b = _try(H.PAGE_SIZE, b) or 4096

    @staticmethod
    def managed(zones) -> int:
        return sum(z.managed_pages for z in zones)

    def deferred(self, side: str) -> int:
        """Pages MemTotal counts that the zones do not manage yet (deferred struct-page
        initialisation handing memory to the zones late), on side "a" or "b"."""
        mi, zones, page = (self.mi_a, self.zones_a, self.page_a) if side == "a" else (self.mi_b, self.zones_b, self.page_b)
        if "MemTotal" not in mi or not zones:
            return 0
        return max(0, (mi["MemTotal"] * 1024 // page) - self.managed(zones))


def _gen_of(release: str) -> str:
    from .replay import nearest_generation
    return nearest_generation(release)


def _machine(c: Comparison, x: _Context) -> None:
    sec = Msg("compare.sec.machine")
    a, b = x.a, x.b
    ua, ub = _try(H.utsname, a), _try(H.utsname, b)
    if ua and ub:
        ga, gb = _gen_of(ua.release), _gen_of(ub.release)
        c.rows.append(Row(sec, Msg("compare.what.kernel"), f"{ua.release} ({ga})", f"{ub.release} ({gb})",
                          AGREES if ga == gb else DIFFERS, REASONS["generation"]))
        c.rows.append(Row(sec, Msg("compare.what.arch"), ua.machine, ub.machine, _verdict(ua.machine, ub.machine),
                          Msg("compare.why.x86")))
    for what, fn in (("cpus", H.num_online_cpus), ("nodes", H.nr_node_ids),
                     ("page_size", H.PAGE_SIZE), ("orders", H.NR_PAGE_ORDERS),
                     ("pageblock", H.pageblock_order)):
        va, vb = _try(fn, a), _try(fn, b)
        why = Msg("compare.why.root_pagetypeinfo" if va is None or vb is None else "compare.why.overrides")
        c.rows.append(Row(sec, Msg(f"compare.what.{what}"), va, vb, _verdict(va, vb), why,
                          "bytes" if what == "page_size" else ""))
    pa = sum(z.present_pages for z in x.zones_a) if x.zones_a else None
    pb = sum(z.present_pages for z in x.zones_b) if x.zones_b else None
    c.rows.append(Row(sec, Msg("compare.what.ram"), pa, pb, _verdict(pa, pb, CLOSE_FRACTION),
                      Msg("compare.why.ram"), "pages"))


def _zkey(z):
    return (z.node, z.name)


def _zones(c: Comparison, x: _Context) -> None:
    za = {_zkey(z): z for z in x.zones_a}
    zb = {_zkey(z): z for z in x.zones_b}
    empty_only = []
    defer_a = x.deferred("a")
    for key in list(za) + [k for k in zb if k not in za]:
        z1, z2 = za.get(key), zb.get(key)
        populated = [z for z in (z1, z2) if z is not None and z.present_pages]
        if not populated:
            if (z1 is None) != (z2 is None):
                empty_only.append(Msg("compare.what.zone_node", zone=key[1], node=key[0]))
            continue
        sec = Msg("compare.sec.zone", zone=key[1], node=key[0])
        if z1 is None or z2 is None:
            there = {True: Msg("compare.present"), False: Msg("compare.none")}
            c.rows.append(Row(sec, Msg("compare.what.zone"), there[z1 is not None], there[z2 is not None], DIFFERS,
                              Msg("compare.why.layouts")))
            continue
        for what, attr in (("start_pfn", "zone_start_pfn"), ("spanned", "spanned_pages"), ("present", "present_pages")):
            v1, v2 = getattr(z1, attr), getattr(z2, attr)
            c.rows.append(Row(sec, what, v1, v2, _verdict(v1, v2), Msg("compare.why.memmap"),
                              "" if what == "start_pfn" else "pages"))
        m1, m2 = z1.managed_pages, z2.managed_pages
        why = REASONS["reserved"]
        if defer_a and _verdict(m1, m2, CLOSE_FRACTION) == DIFFERS and m1 < m2:
            why = Msg("compare.why.deferred_zone", n=defer_a, rest=why)
        c.rows.append(Row(sec, "managed", m1, m2, _verdict(m1, m2, CLOSE_FRACTION), why, "pages"))
        wm_why = REASONS["wmarks"]
        if x.mfk_a != x.mfk_b:
            wm_why = Msg("compare.why.wm_min_free", a=x.mfk_a, b=x.mfk_b, rest=wm_why)
        if m1 != m2:
            wm_why = Msg("compare.why.and_managed", rest=wm_why)
        for i, what in enumerate(("min", "low", "high")):
            v1, v2 = H.wmark_pages(z1, i), H.wmark_pages(z2, i)
            c.rows.append(Row(sec, Msg("compare.what.watermark", which=what), v1, v2, _verdict(v1, v2), wm_why,
                              "pages"))
        lr1, lr2 = list(z1.lowmem_reserve), list(z2.lowmem_reserve)
        n = min(len(lr1), len(lr2))
        why = REASONS["protection"]
        if len(lr1) != len(lr2):
            why = Msg("compare.why.zone_types", rest=why, a=len(lr1), b=len(lr2), zones=REASONS["zones_config"])
        c.rows.append(Row(sec, Msg("compare.what.protection"), lr1[:n], lr2[:n], _verdict(lr1[:n], lr2[:n]), why))
        f1, f2 = z1.nr_free_pages, z2.nr_free_pages
        c.rows.append(Row(sec, Msg("compare.what.free_pages"), f1, f2, _verdict(f1, f2, CLOSE_FRACTION),
                          REASONS["free"], "pages"))
    if empty_only:
        c.rows.append(Row(Msg("compare.sec.zones"), Msg("compare.what.empty_zones"), Joined(empty_only), "-",
                          DIFFERS, REASONS["zones_config"]))


#: meminfo fields shown, in /proc/meminfo's order, with the reason they may differ and
#: the tolerance of a "close" verdict
_MEMINFO = (
    ("MemTotal", "reserved", CLOSE_FRACTION), ("MemFree", "free", 0), ("MemAvailable", "free", 0),
    ("Buffers", "page_cache", 0), ("Cached", "page_cache", 0), ("SwapCached", "swap", 0),
    ("AnonPages", "userspace", 0), ("Mapped", "page_cache", 0), ("Shmem", "userspace", 0),
    ("Slab", "slab_use", 0), ("SReclaimable", "slab_use", 0), ("SUnreclaim", "slab_use", 0),
    ("KernelStack", "kernel_stack", 0), ("PageTables", "userspace", 0), ("Percpu", "percpu", 0),
    ("SwapTotal", "swap", 0), ("CommitLimit", "commit", CLOSE_FRACTION), ("Committed_AS", "userspace", 0),
    ("VmallocTotal", "unknown", 0), ("VmallocUsed", "vmalloc_use", 0), ("AnonHugePages", "thp", 0),
    ("HugePages_Total", "hugetlb", 0), ("Hugepagesize", "unknown", 0),
    ("DirectMap4k", "directmap", 0), ("DirectMap2M", "directmap", 0), ("DirectMap1G", "directmap", 0),
)


def _memory(c: Comparison, x: _Context) -> None:
    sec = Msg("compare.sec.memory")
    ma, mb = x.mi_a, x.mi_b
    defer_a = x.deferred("a")
    for key, reason, tol in _MEMINFO:
        if key not in ma and key not in mb:
            continue
        va, vb = ma.get(key), mb.get(key)
        why = REASONS[reason]
        if key == "AnonHugePages":
            why = Msg("compare.why.anon_huge")
        if key == "MemTotal" and defer_a:
            why = Msg("compare.why.memtotal_deferred", kb=defer_a * x.page_a >> 10, rest=why)
        if va is None or vb is None:
            why = Msg("compare.why.no_line_first" if va is None else "compare.why.no_line_second", key=key)
            c.rows.append(Row(sec, key, va, vb, DIFFERS, why, "kB" if not key.startswith("HugePages_") else ""))
            continue
        c.rows.append(Row(sec, key, va, vb, _verdict(va, vb, tol), why, "" if key.startswith("HugePages_") else "kB"))
    ka, kb = x.mfk_a, x.mfk_b
    why = REASONS["min_free_admin"]
    if ka is not None and ka == _thp_min_free_kbytes(x.a, x.zones_a, x.page_a):
        why = REASONS["thp"]
    c.rows.append(Row(sec, "min_free_kbytes", ka, kb, _verdict(ka, kb), why, "kB"))


def _thp_min_free_kbytes(prog, zones, page: int) -> int | None:
    """What khugepaged's set_recommended_min_free_kbytes() would set on ``prog``
    (:func:`~kmemlab.kernel.buddy.recommended_min_free_kbytes`, the model's own), from the
    zones it reads: the populated zones up to ZONE_NORMAL (gfp_zone(GFP_USER)) and their
    pages above the high watermark (nr_free_buffer_pages())."""
    pbo = _try(H.pageblock_order, prog)
    if pbo is None:
        pbo = 9 if page == 4096 else None          # x86: HUGETLB_PAGE_ORDER
    if pbo is None or not zones:
        return None
    user = [z for z in zones if z.name in ("DMA", "DMA32", "Normal")]
    nr = sum(1 for z in user if z.present_pages)
    free_buffer = sum(max(z.managed_pages - H.high_wmark_pages(z), 0) for z in user)
    return recommended_min_free_kbytes(nr, pbo, free_buffer, page.bit_length() - 1)


def _geometry(s):
    return (s.size, s.objects, s.order)


def _slab(c: Comparison, x: _Context) -> None:
    sec = Msg("compare.sec.slab")
    ca = _try(lambda: list(H.for_each_slab_cache(x.a)))
    cb = _try(lambda: list(H.for_each_slab_cache(x.b)))
    if ca is None or cb is None:
        c.rows.append(Row(sec, Msg("compare.what.caches"), None if ca is None else len(ca),
                          None if cb is None else len(cb), NOT_SHOWN, Msg("compare.why.no_caches")))
        return
    by_a = {s.name: s for s in ca}
    by_b = {s.name: s for s in cb}
    for s in ca:                           # a cache merged into another on one side: its alias names
        for al in getattr(s, "alias_names", ()):
            by_a.setdefault(al, s)
    c.rows.append(Row(sec, Msg("compare.what.caches"), len(ca), len(cb), _verdict(len(ca), len(cb)),
                      Msg("compare.why.caches")))
    both = [n for n in by_b if n in by_a]
    same, diff = [], []
    for n in both:
        try:
            (same if _geometry(by_a[n]) == _geometry(by_b[n]) else diff).append(n)
        except (NotAvailable, ValueError):
            continue
    c.rows.append(Row(sec, Msg("compare.what.geometry"), Msg("compare.what.n_caches", n=len(same) + len(diff)),
                      Msg("compare.what.n_agree", n=len(same)), AGREES if not diff else DIFFERS,
                      Msg("compare.why.n_differ", n=len(diff))))
    for n in diff:
        s1, s2 = by_a[n], by_b[n]
        why = REASONS["unknown"]
        try:
            if s1.object_size != s2.object_size:
                why = Msg("compare.why.object_size", a=s1.object_size, b=s2.object_size,
                          rest=Msg("compare.why.merged" if H.slab_cache_is_merged(s1) else "compare.why.other_size"))
            elif s1.align != s2.align or s1.flags != s2.flags:
                why = Msg("compare.why.align_flags", a=s1.align, b=s2.align, fa=s1.flags, fb=s2.flags)
        except (NotAvailable, ValueError):
            pass
        c.rows.append(Row(sec, f"kmem_cache {n}", "/".join(map(str, _geometry(s1))), "/".join(map(str, _geometry(s2))),
                          DIFFERS, why))
    only_a = sorted(n for n, s in by_a.items() if n not in by_b and s.name == n)
    only_b = sorted(n for n in by_b if n not in by_a)
    if only_a:
        c.rows.append(Row(sec, Msg("compare.what.only_first"), _few(only_a), "-", DIFFERS,
                          Msg("compare.why.only_first")))
    if only_b:
        c.rows.append(Row(sec, Msg("compare.what.only_second"), "-", _few(only_b), DIFFERS,
                          Msg("compare.why.only_second")))
    ua = _usage_total(ca)
    ub = _usage_total(cb)
    c.rows.append(Row(sec, Msg("compare.what.in_use"), ua, ub, _verdict(ua, ub), REASONS["slab_use"]))


def _few(names, n: int = 6) -> str:
    return Msg("compare.few", names=Joined(names[:n]), n=len(names) - n) if len(names) > n else Joined(names)


def _usage_total(caches):
    total = 0
    for s in caches:
        try:
            total += H.slab_cache_usage(s).active_objs
        except NotAvailable:
            return None
    return total


def _caller_fn(caller) -> str:
    if not caller:
        return "?"
    return re.split(r"[+ ]", str(caller), 1)[0]


def _vmalloc(c: Comparison, x: _Context) -> None:
    sec = Msg("compare.sec.vmalloc")
    va = _try(lambda: list(H.for_each_vmap_area(x.a)))
    vb = _try(lambda: list(H.for_each_vmap_area(x.b)))
    if va is None or vb is None:
        c.rows.append(Row(sec, Msg("compare.what.vmap_areas"), None if va is None else len(va),
                          None if vb is None else len(vb), NOT_SHOWN, Msg("compare.why.root_vmallocinfo")))
        return
    c.rows.append(Row(sec, Msg("compare.what.vmap_in_use"), len(va), len(vb), _verdict(len(va), len(vb)),
                      REASONS["vmalloc_use"]))
    ga, gb = _by_caller(va), _by_caller(vb)
    for fn in sorted(set(ga) & set(gb)):
        sa, sb = sorted(set(ga[fn])), sorted(set(gb[fn]))
        c.rows.append(Row(sec, Msg("compare.what.sizes_of", fn=fn), _sizes(sa), _sizes(sb), _verdict(sa, sb),
                          Msg("compare.why.other_sizes")))
    only = sorted(set(ga) - set(gb), key=lambda f: -len(ga[f]))
    for fn in only[:8]:
        sizes = ga[fn]
        what = next((w for rx, w in _VMALLOC_USERS if re.search(rx, fn)), Msg("compare.user.other"))
        c.rows.append(Row(sec, Msg("compare.what.areas_of", fn=fn), f"{len(sizes)} x {_sizes(sorted(set(sizes)))}",
                          Msg("compare.none"), DIFFERS, Msg("compare.why.not_simulated", what=what)))
    if len(only) > 8:
        rest = sum(len(ga[f]) for f in only[8:])
        c.rows.append(Row(sec, Msg("compare.what.more_callers", n=len(only) - 8), rest, 0, DIFFERS,
                          REASONS["vmalloc_use"]))
    la = _try(lambda: list(H.for_each_purge_vmap_area(x.a)))
    lb = _try(lambda: list(H.for_each_purge_vmap_area(x.b)))
    if la is not None and lb is not None:
        c.rows.append(Row(sec, Msg("compare.what.lazy"), len(la), len(lb), _verdict(len(la), len(lb)),
                          Msg("compare.why.lazy")))


def _by_caller(areas) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for va in areas:
        if va.vm is None:
            continue
        out.setdefault(_caller_fn(va.vm.caller), []).append(va.va_end - va.va_start)
    return out


def _sizes(sizes) -> str:
    def one(n):
        return f"{n >> 10}K" if n % 1024 == 0 else str(n)
    return ", ".join(one(s) for s in sizes[:4]) + (" ..." if len(sizes) > 4 else "")

