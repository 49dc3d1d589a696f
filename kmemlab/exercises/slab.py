"""SLUB exercises: which kmalloc cache serves a size, slab geometry on C CPUs
(calculate_order), reading /proc/slabinfo, and spotting the bug in a slub_debug report
(mm/slab_common.c, mm/slub.c).

Answers come from the model: ``ksize()`` of a real ``kmalloc()``, the ``oo`` of a real
``kmem_cache_create()``, the cache's own slab counters, the report SLUB printed.
"""

from __future__ import annotations

import re

from ..kernel.helpers import slab_cache_usage
from ..kernel.slub import calculate_order
from .base import Exercise, Part, Problem, exercise_machine, parse_int, register
from .buddy import _mistakes

__all__ = ["KmallocCache", "SlabObjects", "SlabinfoReading", "SpotTheBug"]


def _parse_cache_size(v) -> int:
    """"kmalloc-96", "kmalloc-1k", "96" or 96 -> 96 / 1024."""
    if isinstance(v, str):
        s = v.strip().lower().removeprefix("kmalloc-")
        mult = 1024 if s.endswith("k") else 1
        s = s.removesuffix("k")
        if not s.isdigit():
            raise ValueError(f"write a cache name like 'kmalloc-96' or 'kmalloc-1k', got {v!r}")
        return int(s) * mult
    return parse_int(v)


def _cache_name(size: int) -> str:
    return f"kmalloc-{size // 1024}k" if size >= 1024 and size % 1024 == 0 else f"kmalloc-{size}"


@register
class KmallocCache(Exercise):
    name = "kmalloc-cache"
    topic = "slab allocator"
    description = "Which kmalloc cache serves kmalloc(N), and how many bytes are wasted."

    def build(self, rng):
        lo, hi = [(1, 64), (65, 256), (257, 1024), (1025, 8192)][int(rng.integers(4))]
        n = int(rng.integers(lo, hi + 1))
        m = exercise_machine("x86_64", seed=self.seed)
        p = m.kmalloc(n)
        got = m.ksize(p)
        cache = m.kmalloc_slab(n).name
        assert cache == _cache_name(got), (cache, got)
        waste = got - n
        pow2 = 1 << max(3, (n - 1).bit_length())
        cache_pairs = [(pow2, f"{_cache_name(pow2)} is the next power of two, but kmalloc also "
                              "has kmalloc-96 and kmalloc-192 (kmalloc_index(): 65..96 -> 96, "
                              "129..192 -> 192)"),
                       (n, f"there is no kmalloc-{n}; the caches are 8, 16, 32, 64, 96, 128, 192, "
                           "256, 512, 1k, 2k, 4k, 8k and kmalloc_index() rounds up")]
        below = max((c for c in (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192) if c < got),
                    default=None)
        if below:
            cache_pairs.append((below, f"{_cache_name(below)} is too small for {n} bytes: round up"))
        waste_pairs = [(pow2 - n, f"that is the waste in {_cache_name(pow2)}; {cache} is used"),
                       (got, "that is the object size; the waste is ksize() - N"),
                       (0, f"ksize() is {got}, not {n}: the rest of the object is unused")]
        parts = (Part("cache", got, _parse_cache_size, _mistakes(got, cache_pairs), show=_cache_name,
                      what="the cache name, e.g. 'kmalloc-96'"),
                 Part("waste", waste, parse_int, _mistakes(waste, waste_pairs),
                      what="bytes of the object the caller cannot use (ksize - N)"))
        q = (f"On x86_64 (kernel 6.6, no slub_debug) a driver calls kmalloc({n}, GFP_KERNEL).\n"
             "Which kmalloc cache serves it, and how many bytes of the object are wasted?")
        return Problem({"size": n}, q, parts,
                       ("kmalloc() rounds the size up to a kmalloc cache: kmalloc_index().",
                        "The caches are the powers of two from 8 to 8k, plus 96 and 192.",
                        f"Waste = ksize(p) - {n}."),
                       f"kmalloc_index({n}) picks {cache}; ksize() = {got}; {got} - {n} = {waste} "
                       "bytes wasted.")


@register
class SlabObjects(Exercise):
    name = "slab-objects"
    topic = "slab allocator"
    description = "Objects per slab and pages per slab for a cache on a machine with C CPUs."

    def build(self, rng):
        size = 8 * int(rng.integers(3, 140))            # 24 .. 1112 bytes, word-aligned
        cpus = int(2 ** rng.integers(0, 7))             # 1 .. 64
        m = exercise_machine("x86_64", cpus=cpus, seed=self.seed)
        c = m.kmem_cache_create("ex_obj", size)
        order, objects = c.oo
        pages = 1 << order
        one_cpu = calculate_order(size, 1)
        min_objects = 4 * (cpus.bit_length() + 1)
        obj_pairs = [(4096 // size, f"that many fit in one 4 KiB page, but calculate_order() wants "
                                    f"at least min_objects = 4 * (fls({cpus}) + 1) = {min_objects} "
                                    "per slab (capped by an order-3 slab) with little leftover"),
                     ((4096 << one_cpu) // size, f"that is the slab for 1 CPU (order {one_cpu}); "
                                                 f"with {cpus} CPUs min_objects is {min_objects}"),
                     (min_objects, "min_objects is the wish, not the result: objects = slab bytes "
                                   "// object size for the order chosen")]
        page_pairs = [(1 << one_cpu, f"that is the slab for 1 CPU; fls({cpus}) raises min_objects "
                                     f"to {min_objects}"),
                      (order, f"that is the order; pages per slab = 1 << order = {pages}")]
        parts = (Part("objects", objects, parse_int, _mistakes(objects, obj_pairs),
                      what="objects per slab (<objperslab> in slabinfo)"),
                 Part("pages", pages, parse_int, _mistakes(pages, page_pairs),
                      what="pages per slab (<pagesperslab>)"))
        q = (f"A machine with {cpus} CPU{'s' if cpus > 1 else ''} (x86_64, 4 KiB pages, kernel 6.6) runs\n"
             f"  kmem_cache_create(\"ex_obj\", {size}, 0, 0, NULL)\n"
             "(no flags, no debugging: the object stride is the size). How many objects does one "
             "slab hold, and how many pages is a slab?")
        return Problem({"size": size, "cpus": cpus}, q, parts,
                       ("SLUB's calculate_order() picks the slab order (mm/slub.c).",
                        f"min_objects = 4 * (fls(nr_cpus) + 1) = {min_objects}, capped by what an "
                        "order-3 slab holds; then the smallest order from get_order(min_objects * "
                        "size) whose leftover is <= 1/16 of the slab (then 1/8, 1/4, fewer objects).",
                        f"objects = (4096 << order) // {size}."),
                       f"calculate_order({size}, {cpus}) = {order}: a slab is {pages} page(s) = "
                       f"{4096 << order} bytes, holding {4096 << order} // {size} = {objects} objects "
                       f"(leftover {(4096 << order) % size} bytes).")


@register
class SlabinfoReading(Exercise):
    name = "slabinfo-reading"
    topic = "slab allocator"
    description = "Read a /proc/slabinfo line: memory held and the objects really free."

    def build(self, rng):
        size = 8 * int(rng.integers(4, 64))
        m = exercise_machine("x86_64", cpus=int(rng.integers(1, 5)), seed=self.seed)
        c = m.kmem_cache_create("ex_obj", size)
        objs = [m.kmem_cache_alloc(c) for _ in range(int(rng.integers(c.objects + 1, 6 * c.objects)))]
        for i in rng.permutation(len(objs))[: int(rng.integers(1, len(objs) // 2))]:
            m.kmem_cache_free(c, objs[int(i)])
        line = next(ln for ln in m.proc.slabinfo().splitlines() if ln.startswith("ex_obj "))
        f = line.split()
        active, num_objs, slabs = int(f[1]), int(f[2]), int(f[14])
        # the model's own counters, not the text: pages held and objects not allocated
        nr_slabs = sum(n.nr_slabs for n in c.node)
        pages = nr_slabs << c.order
        live = slab_cache_usage(c).active_objs
        unused = nr_slabs * c.objects - live
        assert slabs == nr_slabs
        page_pairs = [(nr_slabs, f"that is the number of slabs; each slab is {1 << c.order} page(s)")
                      if c.order else (pages * 4, "that is KiB, not pages"),
                      (-(-active * size // 4096), "that counts only the bytes of active objects; "
                                                  "a slab holds its pages whole")]
        unused_pairs = [(num_objs - active, f"that is num_objs - active_objs from the line; but SLUB's "
                                            "slabinfo counts every object of a CPU slab as active, "
                                            "also the free ones on its freelist"),
                        (live, "that is the number of live objects; subtract it from the slots")]
        parts = (Part("pages", pages, parse_int, _mistakes(pages, page_pairs),
                      what="pages the cache holds (4 KiB each)"),
                 Part("unused", unused, parse_int, _mistakes(unused, unused_pairs),
                      what="object slots in its slabs that are not allocated"))
        q = ("$ grep -E '^(# name|ex_obj )' /proc/slabinfo\n" +
             m.proc.slabinfo().splitlines()[1] + "\n" + line + "\n\n"
             f"The program allocated objects from ex_obj and has {live} of them allocated now.\n"
             "How many pages does the cache hold, and how many object slots in those slabs are "
             "not allocated?")
        return Problem({"size": size, "live": live}, q, parts,
                       ("Columns: active_objs num_objs objsize objperslab pagesperslab ... "
                        "active_slabs num_slabs.",
                        "Pages = num_slabs * pagesperslab.",
                        "Unused slots = num_objs - the objects really allocated; SLUB's active_objs "
                        "includes the free objects of CPU slabs (only node-partial slabs count as "
                        "inactive), so it is not the live count."),
                       f"{slabs} slabs x {1 << c.order} page(s) = {pages} pages; {num_objs} slots - "
                       f"{live} live = {unused} unused (slabinfo says {num_objs - active} inactive: "
                       f"the other {unused - (num_objs - active)} sit on a CPU slab's freelist).")


_BUGS = ("double free", "out of bounds", "use after free")
_SYNONYMS = {
    "double free": ("double free", "double-free", "doublefree", "freed twice", "already free"),
    "out of bounds": ("out of bounds", "out-of-bounds", "overflow", "redzone", "red zone", "oob",
                      "buffer overflow", "overrun"),
    "use after free": ("use after free", "use-after-free", "uaf", "poison"),
}
_SIGNS = {
    "double free": "'Object already free': kfree() found the object on the freelist already",
    "out of bounds": "'Redzone overwritten': the byte after the object (0xcc guard) changed "
                     "while the object was live",
    "use after free": "'Poison overwritten': a freed object (filled with 0x6b) was written to",
}


def _parse_bug(v) -> str:
    if not isinstance(v, str):
        raise TypeError("answer with text: 'double free', 'out of bounds' or 'use after free'")
    s = v.strip().lower()
    for bug, words in _SYNONYMS.items():
        if any(w in s for w in words):
            return bug
    raise ValueError("answer 'double free', 'out of bounds' or 'use after free'")


@register
class SpotTheBug(Exercise):
    name = "spot-the-bug"
    topic = "slab allocator"
    description = "Which bug does a slub_debug=FZPU report in dmesg show, in which cache?"

    def build(self, rng):
        bug = _BUGS[int(rng.integers(3))]
        n = int(rng.integers(16, 1000))
        m = exercise_machine("x86_64", mem="64M", cpus=2, slub_debug="FZPU", seed=self.seed)
        m.dmesg(clear=True)
        p = m.kmalloc(n)
        m.write(p, b"\x01" * n)
        if bug == "double free":
            m.kfree(p)
            try:
                m.kfree(p)
            except Exception:                       # KernelBug after the report
                pass
        elif bug == "out of bounds":
            m.write(p + n, b"\x00")
            try:
                m.kfree(p)
            except Exception:
                pass
        else:
            m.kfree(p)
            m.write(p + int(rng.integers(0, n)), b"\x00")
            m.validate_slabs()
        report = m.dmesg()
        # the alloc/free tracks name the Python caller; a fixed driver name keeps the
        # question the same wherever it is asked from (notebook, terminal, grader)
        for who in set(re.findall(r"(?:Allocated|Freed) in (.+?) age=", report)):
            report = report.replace(who, "ex_driver_run+0x5c/0x120 [ex_driver]")
        head = re.search(r"BUG (\S+) \([^)]*\): (.*)", report)
        cache, what = head.group(1), head.group(2)
        seen = ("double free" if "already free" in what else
                "out of bounds" if "Redzone" in what else
                "use after free" if "Poison" in what else None)
        assert seen == bug, (bug, what)          # the model's report is the evidence
        bug_pairs = {b: f"that bug would show {_SIGNS[b]}; this report says '{what}'"
                     for b in _BUGS if b != bug}
        cache_size = m.kmalloc_slab(n).object_size
        parts = (Part("bug", bug, _parse_bug, bug_pairs,
                      what="'double free', 'out of bounds' or 'use after free'"),
                 Part("cache", cache_size, _parse_cache_size,
                      _mistakes(cache_size, [(n, f"{n} is the requested size; the BUG line names the cache")]),
                      show=_cache_name, what="the cache named in the report, e.g. 'kmalloc-128'"))
        q = ("A test module ran on a kernel booted with slub_debug=FZPU. dmesg:\n\n" +
             "\n".join("  " + ln for ln in report.rstrip().splitlines()) +
             "\n\nWhich bug is this, and in which cache?")
        return Problem({"report_lines": len(report.splitlines())}, q, parts,
                       ("Read the line that starts with BUG: it names the cache and the check that failed.",
                        "Z red zones (0xcc around a live object) catch writes past the end; P poison "
                        "(0x6b in a free object) catches writes after kfree(); F checks catch a "
                        "second kfree().",
                        "'Object already free' = double free; 'Redzone overwritten' = out of bounds; "
                        "'Poison overwritten' = use after free."),
                       f"The BUG line says '{what}' in {cache}: {_SIGNS[bug]}.")
