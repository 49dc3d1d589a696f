"""The read interface: drgn-style helpers over a simulated machine or a real host.

A view, an exercise or a student's cell reads memory-management state through these
functions, never through a machine's private state. They are named after drgn's Linux
helpers (``drgn.helpers.linux.slab``, ``.mm``, ``.mmzone``, ``.vmstat``, ``.nodemask``)
and the kernel macros they stand for, so what a student writes here reads like drgn on
a real kernel::

    >>> from kmemlab.helpers import for_each_slab_cache, slab_cache_usage
    >>> for s in for_each_slab_cache(m):            # m = km.Machine() or km.host()
    ...     print(s.name, slab_cache_usage(s).active_objs)

The first argument, ``prog``, is a :class:`~kmemlab.Machine` or anything with a
``__kmemlab_source__()`` method returning a :class:`ReadSource` (``km.host()`` does).
This module is the only code outside the model's subsystems that reads their private
state; a ``Machine`` answers from its model, the host from ``/proc`` and ``/sys``.

What a helper returns is the kernel object it names, with the kernel's field names: for a
``Machine`` the model's own objects (:class:`~kmemlab.KmemCache`, ``Zone``, ``Slab``,
``VmapArea``); for a host, read-only objects carrying the same fields as far as
``/proc`` and ``/sys`` show them. Where a source cannot answer (a host has no per-slab
detail) the helper raises :class:`NotAvailable`, which says why.

Simplification: every kmemlab profile is x86 with 4 KiB pages.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from . import gfp as G
from .buddy import WMARK_HIGH, WMARK_LOW, WMARK_MIN, FreeArea, Zone
from .machine import Machine
from .slub import KmemCache, Slab, SlabInfo
from .slub import get_slabinfo as _get_slabinfo
from .types import Address, Page, as_int
from .vmalloc import VM_NO_GUARD, VmapArea, VmStruct

__all__ = [
    # sources
    "ReadSource", "NotAvailable", "supports",
    # nodes, CPUs, identity, constants
    "for_each_online_node", "nr_node_ids", "for_each_online_cpu", "num_online_cpus",
    "utsname", "PAGE_SIZE", "PAGE_SHIFT", "NR_PAGE_ORDERS", "pageblock_order",
    "migratetype_names", "max_pfn", "max_low_pfn", "PageHighMem",
    # zones and the buddy allocator
    "for_each_zone", "for_each_populated_zone", "populated_zone", "zone_end_pfn",
    "zone_managed_pages", "wmark_pages", "min_wmark_pages", "low_wmark_pages",
    "high_wmark_pages", "free_list_count", "free_list_pfns", "zone_page_state", "min_free_kbytes",
    "WMARK_MIN", "WMARK_LOW", "WMARK_HIGH", "WMARK_PROMO",
    # counters (/proc/vmstat, /proc/meminfo)
    "totalram_pages", "nr_free_pages", "global_node_page_state", "global_zone_page_state",
    "vmstat", "meminfo", "si_meminfo", "si_mem_available",
    # the slab allocator
    "for_each_slab_cache", "find_slab_cache", "slab_cache_objects_per_slab",
    "slab_cache_pages_per_slab", "slab_cache_order", "slab_cache_usage", "get_slabinfo",
    "slab_cache_is_merged", "slab_cache_for_each_slab", "slab_cache_for_each_allocated_object",
    "for_each_object", "for_each_free_object", "get_freepointer", "slab_object_states",
    "page_slab", "virt_to_slab", "slab_object_info", "find_containing_slab_cache",
    "OBJ_FREE", "OBJ_CPU_FREE", "OBJ_USED",
    # vmalloc
    "for_each_vmap_area", "for_each_purge_vmap_area", "find_vmap_area", "get_vm_area_size",
    # tracing and the log
    "tracing_is_on", "get_printk_records", "prb_next_seq", "prb_first_valid_seq",
    # result types
    "SlabCacheUsage", "SlabInfo", "SlabObjectInfo", "SysInfo", "UtsName", "PrintkRecord",
]

WMARK_PROMO = 3
#: every kmemlab profile (x86_64, x86_64-la57, i386, tiny) uses 4 KiB pages
_PAGE_SIZE = 4096
#: states :func:`slab_object_states` gives each object of a slab
OBJ_FREE, OBJ_CPU_FREE, OBJ_USED = 0, 1, 2

#: include/linux/mmzone.h enum zone_stat_item, as /proc/vmstat spells them (v6.6)
ZONE_STAT_ITEMS = ("nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon",
                   "nr_zone_inactive_file", "nr_zone_active_file", "nr_zone_unevictable",
                   "nr_zone_write_pending", "nr_mlock", "nr_bounce", "nr_zspages", "nr_free_cma")


class NotAvailable(LookupError):
    """The source cannot answer this read: a real host's ``/proc`` and ``/sys`` have no
    per-slab or per-frame detail, for example. The message says what is missing and why."""


# -- result types ----------------------------------------------------------------------

class SlabCacheUsage(NamedTuple):
    """What :func:`slab_cache_usage` returns (drgn's ``SlabCacheUsage``)."""
    num_slabs: int
    """slabs the cache holds"""
    num_objs: int
    """object slots in those slabs (free and in use)"""
    free_objs: int
    """free slots"""

    @property
    def active_objs(self) -> int:
        """objects allocated (``num_objs - free_objs``)"""
        return self.num_objs - self.free_objs


class SlabObjectInfo(NamedTuple):
    """What :func:`slab_object_info` returns (drgn's ``SlabObjectInfo``)."""
    slab_cache: object
    """``struct kmem_cache *`` of the object"""
    slab: object
    """``struct slab *`` holding it"""
    address: int
    """start of the object (may be below the address asked about)"""
    allocated: bool
    """True when the object is allocated, False when it is free"""


class SysInfo(NamedTuple):
    """``struct sysinfo`` as ``si_meminfo()`` fills it (counts in pages of ``mem_unit`` bytes)."""
    totalram: int
    freeram: int
    sharedram: int
    bufferram: int
    totalhigh: int
    freehigh: int
    mem_unit: int


class UtsName(NamedTuple):
    """``struct new_utsname`` (what ``uname -a`` prints)."""
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str


class PrintkRecord(NamedTuple):
    """One kernel log record (drgn's ``PrintkRecord``, the fields kmemlab has)."""
    text: str
    level: int
    timestamp: int
    """nanoseconds since boot"""
    seq: int


# -- sources -----------------------------------------------------------------------------

class ReadSource:
    """What a non-simulated source (``km.host()``) implements so that every helper works
    on it. ``prog.__kmemlab_source__()`` returns one. Each method answers one helper;
    the default raises :class:`NotAvailable`. A ``Machine`` needs no source: the
    helpers read its model directly."""

    #: short name shown in NotAvailable messages ("this host")
    description = "this source"
    #: what :func:`supports` answers True for ("slab_objects", "frames", "vmap_pages", ...)
    features: frozenset = frozenset()

    def _missing(self, what: str, why: str = "") -> NotAvailable:
        return NotAvailable(f"{self.description} cannot show {what}" + (f": {why}" if why else ""))

    def online_nodes(self) -> list[int]:
        raise self._missing("its NUMA nodes")

    def online_cpus(self) -> list[int]:
        raise self._missing("its CPUs")

    def utsname(self) -> UtsName:
        raise self._missing("uname")

    def page_shift(self) -> int:
        return 12

    def nr_page_orders(self) -> int:
        raise self._missing("the number of buddy orders")

    def pageblock_order(self) -> int:
        raise self._missing("pageblock_order")

    def migratetype_names(self) -> tuple[str, ...]:
        raise self._missing("the migratetypes")

    def max_pfn(self) -> int:
        raise self._missing("max_pfn")

    def max_low_pfn(self) -> int:
        raise self._missing("max_low_pfn")

    def zones(self) -> list:
        raise self._missing("its zones")

    def min_free_kbytes(self) -> int:
        raise self._missing("vm.min_free_kbytes")

    def vmstat(self) -> dict[str, int]:
        raise self._missing("/proc/vmstat")

    def meminfo(self) -> dict[str, int]:
        raise self._missing("/proc/meminfo")

    def slab_caches(self) -> list:
        raise self._missing("its slab caches")

    def vmap_areas(self) -> list:
        raise self._missing("its vmap areas")

    def purge_vmap_areas(self) -> list:
        raise self._missing("its lazily freed vmap areas")

    def tracing_is_on(self) -> bool:
        raise self._missing("whether tracing is on")

    def printk_records(self) -> list[PrintkRecord]:
        raise self._missing("its kernel log")


def _source(prog) -> ReadSource:
    get = getattr(type(prog), "__kmemlab_source__", None)
    if get is None:
        raise TypeError(f"kmemlab helpers read a km.Machine or km.host(), got {type(prog).__name__}")
    return get(prog)


def supports(prog, feature: str) -> bool:
    """Whether ``prog`` can answer the reads of ``feature``: "slab_objects" (slabs and
    their objects: :func:`slab_cache_for_each_slab`, :func:`slab_object_states`),
    "frames" (``mem_map``, :func:`page_slab`), "free_lists" (the pfns on the free lists),
    "vmap_areas", "migratetypes" (:func:`free_list_count`), "slab_caches".

    >>> supports(km.host(), "slab_objects")
    False
    """
    if not isinstance(feature, str):
        raise TypeError(f"feature must be a string like 'slab_objects', got {feature!r}")
    if isinstance(prog, Machine):
        return feature in _MACHINE_FEATURES
    return feature in _source(prog).features


_MACHINE_FEATURES = frozenset(("slab_objects", "frames", "free_lists", "vmap_areas",
                               "vmap_pages", "migratetypes", "slab_caches", "printk", "tracing"))


# -- nodes, CPUs, identity, constants ------------------------------------------------------

def for_each_online_node(prog) -> Iterator[int]:
    """Iterate over the online NUMA node ids (``for_each_online_node(nid)``).

    >>> list(for_each_online_node(m))
    [0]
    """
    if isinstance(prog, Machine):
        return iter(range(prog._k.nr_nodes))
    return iter(_source(prog).online_nodes())


def nr_node_ids(prog) -> int:
    """``nr_node_ids``: one more than the highest node id."""
    return max(for_each_online_node(prog)) + 1


def for_each_online_cpu(prog) -> Iterator[int]:
    """Iterate over the online CPU ids (``for_each_online_cpu(cpu)``)."""
    if isinstance(prog, Machine):
        return iter(range(prog._k.nr_cpus))
    return iter(_source(prog).online_cpus())


def num_online_cpus(prog) -> int:
    """``num_online_cpus()``.

    >>> num_online_cpus(km.Machine(cpus=4))
    4
    """
    return sum(1 for _ in for_each_online_cpu(prog))


def utsname(prog) -> UtsName:
    """``utsname()``: ``struct new_utsname`` (``uname -a``); ``utsname(m).release`` is
    ``uname -r``.

    >>> utsname(km.Machine(kernel="6.6")).release
    '6.6.0-kmemlab'
    """
    if isinstance(prog, Machine):
        k = prog._k
        machine = "i686" if k.profile.bits == 32 else "x86_64"
        return UtsName("Linux", "kmemlab", k.uname_release, "#1 SMP PREEMPT_DYNAMIC kmemlab", machine)
    return _source(prog).utsname()


def PAGE_SHIFT(prog) -> int:
    """``PAGE_SHIFT`` (12: 4 KiB pages)."""
    if isinstance(prog, Machine):
        return prog._k.profile.page_shift
    return _source(prog).page_shift()


def PAGE_SIZE(prog) -> int:
    """``PAGE_SIZE`` in bytes (4096)."""
    return 1 << PAGE_SHIFT(prog)


def NR_PAGE_ORDERS(prog) -> int:
    """Number of buddy orders, ``len(zone.free_area)``: ``NR_PAGE_ORDERS`` since v6.8,
    ``MAX_ORDER`` (exclusive) in v4.x-v6.3; 11 on x86 (orders 0..10)."""
    if isinstance(prog, Machine):
        return prog._k.profile.max_order
    return _source(prog).nr_page_orders()


def pageblock_order(prog) -> int:
    """``pageblock_order`` (9 on x86_64: 2 MiB pageblocks), the unit of migratetypes."""
    if isinstance(prog, Machine):
        return prog._k.buddy.pageblock_order
    return _source(prog).pageblock_order()


def migratetype_names(prog) -> tuple[str, ...]:
    """``migratetype_names[]`` (mm/vmstat.c) in ``enum migratetype`` order: the types
    :func:`free_list_count` takes ("Unmovable", "Movable", "Reclaimable", ...)."""
    if isinstance(prog, Machine):
        return tuple(G.MIGRATETYPE_NAMES)
    return tuple(_source(prog).migratetype_names())


def max_pfn(prog) -> int:
    """``max_pfn``: one past the highest frame of RAM."""
    if isinstance(prog, Machine):
        return prog._k.mem_map.max_pfn
    return _source(prog).max_pfn()


def max_low_pfn(prog) -> int:
    """``max_low_pfn`` as the direct map sees it: frames below it have a permanent
    kernel address (all of RAM on x86_64; the first ~896 MiB on i386, the rest is
    HighMem). Simplification: on x86_64 the kernel's own variable stops below 4 GiB;
    kmemlab's is the end of the direct map."""
    if isinstance(prog, Machine):
        return prog._k.max_low_pfn
    return _source(prog).max_low_pfn()


def PageHighMem(page) -> bool:
    """``PageHighMem(page)``: the frame is in ZONE_HIGHMEM (no direct-map address).

    :param page: ``struct page *`` (a :class:`~kmemlab.Page`)
    """
    if not isinstance(page, Page):
        raise TypeError(f"PageHighMem() takes a km.Page, got {type(page).__name__}")
    return page.zone == "HighMem"


# -- zones ---------------------------------------------------------------------------------

def for_each_zone(prog) -> Iterator:
    """Iterate over every zone of every online node, populated or not (the kernel's
    ``for_each_zone(zone)``), node by node in zone order.

    Each is a ``struct zone *`` with ``name``, ``node``, ``zone_start_pfn``,
    ``spanned_pages``, ``present_pages``, ``managed_pages``, ``nr_free_pages``,
    ``watermark[WMARK_MIN..WMARK_PROMO]``, ``lowmem_reserve[]`` and
    ``free_area[order].nr_free``.

    >>> [(z.node, z.name) for z in for_each_zone(km.Machine(mem="1G"))]
    [(0, 'DMA'), (0, 'DMA32'), (0, 'Normal')]
    """
    if isinstance(prog, Machine):
        return iter(list(prog._k.zones))
    return iter(_source(prog).zones())


def for_each_populated_zone(prog) -> Iterator:
    """``for_each_populated_zone(zone)``: the zones with present pages (the ones
    ``/proc/buddyinfo`` lists)."""
    return (z for z in for_each_zone(prog) if populated_zone(z))


def populated_zone(zone) -> bool:
    """``populated_zone(zone)``: the zone has present pages.

    :param zone: ``struct zone *``
    """
    return zone.present_pages > 0


def zone_end_pfn(zone) -> int:
    """``zone_end_pfn(zone)``: ``zone_start_pfn + spanned_pages``."""
    return zone.zone_start_pfn + zone.spanned_pages


def zone_managed_pages(zone) -> int:
    """``zone_managed_pages(zone)``: pages the buddy allocator manages in the zone."""
    return zone.managed_pages


def wmark_pages(zone, i: int) -> int:
    """A watermark of ``zone`` in pages (``wmark_pages(zone, i)``; i is ``WMARK_MIN``,
    ``WMARK_LOW``, ``WMARK_HIGH`` or ``WMARK_PROMO``), including ``watermark_boost``.

    >>> z = next(for_each_populated_zone(m)); wmark_pages(z, WMARK_LOW) >= min_wmark_pages(z)
    True
    """
    i = as_int(i, "watermark index")
    if not 0 <= i <= WMARK_PROMO:
        raise ValueError(f"watermark index must be WMARK_MIN (0) .. WMARK_PROMO (3), got {i}")
    return zone.watermark[i] + getattr(zone, "watermark_boost", 0)


def min_wmark_pages(zone) -> int:
    """``min_wmark_pages(zone)``: below it only ``__GFP_HIGH``/atomic requests succeed
    (and, in the kernel, direct reclaim runs)."""
    return wmark_pages(zone, WMARK_MIN)


def low_wmark_pages(zone) -> int:
    """``low_wmark_pages(zone)``: the fast path's threshold (kswapd wakes below it)."""
    return wmark_pages(zone, WMARK_LOW)


def high_wmark_pages(zone) -> int:
    """``high_wmark_pages(zone)``: where kswapd stops reclaiming."""
    return wmark_pages(zone, WMARK_HIGH)


def free_list_count(free_area, migratetype: int) -> int:
    """Blocks on ``free_area->free_list[migratetype]`` (what ``/proc/pagetypeinfo``
    counts with ``list_for_each``): free blocks of one order and one migratetype.

    >>> fa = next(for_each_populated_zone(m)).free_area[10]
    >>> sum(free_list_count(fa, mt) for mt in range(len(migratetype_names(m)))) == fa.nr_free
    True

    :param free_area: ``struct free_area *`` (``zone.free_area[order]``)
    :param migratetype: ``enum migratetype`` (an index into :func:`migratetype_names`)
    """
    mt = _migratetype(free_area, migratetype)
    if isinstance(free_area, FreeArea):
        return len(free_area._zone._lists[free_area.order][mt])
    return free_area.free_list_count(mt)


def _migratetype(free_area, migratetype) -> int:
    """``migratetype`` as an int, checked against the model's MIGRATE_TYPES for a
    Machine's free_area (a host's free_area checks it against its own pagetypeinfo)."""
    mt = as_int(migratetype, "migratetype")
    if isinstance(free_area, FreeArea) and not 0 <= mt < G.MIGRATE_TYPES:
        raise ValueError(f"migratetype must be 0..{G.MIGRATE_TYPES - 1}, got {mt}")
    return mt


def free_list_pfns(free_area, migratetype: int) -> list[int]:
    """The first pfn of each block on ``free_area->free_list[migratetype]``, list head
    first: what ``list_for_each_entry(page, &area->free_list[mt], buddy_list)`` visits
    (``page_to_pfn(page)``). Machine only: a host's ``/proc/pagetypeinfo`` has the
    counts (:func:`free_list_count`), not the blocks.

    >>> fa = next(for_each_populated_zone(m)).free_area[10]
    >>> len(free_list_pfns(fa, 1)) == free_list_count(fa, 1)      # MIGRATE_MOVABLE
    True

    :param free_area: ``struct free_area *`` (``zone.free_area[order]``)
    :param migratetype: ``enum migratetype`` (an index into :func:`migratetype_names`)
    """
    mt = _migratetype(free_area, migratetype)
    if isinstance(free_area, FreeArea):
        return free_area.free_list(mt)
    listing = getattr(free_area, "free_list", None)
    if listing is None:
        raise TypeError(f"free_list_pfns() takes a zone's free_area[order], got {type(free_area).__name__}")
    return listing(mt)                        # a host's free_area raises NotAvailable


def zone_page_state(zone, item: str) -> int:
    """A zone counter (``zone_page_state(zone, item)``), named as ``/proc/zoneinfo``
    prints it: ``"nr_free_pages"``, ``"nr_mlock"``, ... A Machine models
    ``nr_free_pages``; the counters of what it does not simulate (LRU lists, mlock,
    zsmalloc, CMA) read 0."""
    if isinstance(zone, Zone):
        if item not in ZONE_STAT_ITEMS:
            raise ValueError(f"unknown zone counter {item!r}; zone counters: {', '.join(ZONE_STAT_ITEMS)}")
        return zone.nr_free_pages if item == "nr_free_pages" else 0
    return zone.zone_page_state(item)


def min_free_kbytes(prog) -> int:
    """``min_free_kbytes`` (``/proc/sys/vm/min_free_kbytes``): the reserve the min
    watermarks of all zones add up to, in KiB."""
    if isinstance(prog, Machine):
        return prog._k.buddy.min_free_kbytes
    return _source(prog).min_free_kbytes()


# -- counters -------------------------------------------------------------------------------

def totalram_pages(prog) -> int:
    """``totalram_pages()``: pages the buddy allocator manages (``MemTotal``)."""
    if isinstance(prog, Machine):
        return sum(z.managed_pages for z in prog._k.zones)
    return meminfo(prog)["MemTotal"] >> (PAGE_SHIFT(prog) - 10)


def nr_free_pages(prog) -> int:
    """Free pages in the buddy allocator (``global_zone_page_state(NR_FREE_PAGES)``)."""
    if isinstance(prog, Machine):
        return sum(z.nr_free_pages for z in prog._k.zones)
    return vmstat(prog)["nr_free_pages"]


def vmstat(prog) -> dict[str, int]:
    """``/proc/vmstat`` as a dict: counter name -> value (pages, except ``nr_kernel_stack``
    in KiB). A Machine gives the counters it models (free pages, slab pages, page-table
    pages, vmalloc pages, kernel stacks); a host every line of its file.

    >>> vmstat(m)["nr_slab_unreclaimable"] > 0
    True
    """
    if isinstance(prog, Machine):
        k = prog._k
        vs = k.vmstat
        return {"nr_free_pages": sum(z.nr_free_pages for z in k.zones),
                "nr_slab_reclaimable": vs["nr_slab_reclaimable"],
                "nr_slab_unreclaimable": vs["nr_slab_unreclaimable"],
                "nr_kernel_stack": vs["nr_kernel_stack_kb"],
                "nr_page_table_pages": vs["nr_page_table_pages"],
                "nr_vmalloc": vs["nr_vmalloc"]}
    return dict(_source(prog).vmstat())


def _counter(prog, item: str, what: str) -> int:
    if not isinstance(item, str):
        raise TypeError(f"{what} takes a counter name as /proc/vmstat spells it "
                        f"(e.g. 'nr_slab_reclaimable'), got {item!r}")
    vs = vmstat(prog)
    try:
        return max(vs[item], 0)
    except KeyError:
        raise ValueError(f"no counter {item!r} here; known: {', '.join(sorted(vs))}") from None


def global_node_page_state(prog, item: str) -> int:
    """A node counter summed over nodes (``global_node_page_state(item)``), named as
    ``/proc/vmstat`` prints it.

    >>> global_node_page_state(m, "nr_slab_unreclaimable")   # pages
    """
    return _counter(prog, item, "global_node_page_state()")


def global_zone_page_state(prog, item: str) -> int:
    """A zone counter summed over zones (``global_zone_page_state(item)``), e.g.
    ``"nr_free_pages"``."""
    return _counter(prog, item, "global_zone_page_state()")


def meminfo(prog) -> dict[str, int]:
    """``/proc/meminfo`` as a dict: field -> kB (``HugePages_*`` are counts).

    >>> meminfo(m)["MemTotal"] == totalram_pages(m) * 4
    True
    """
    if isinstance(prog, Machine):
        return _parse_meminfo(prog.proc.meminfo())
    return dict(_source(prog).meminfo())


def _parse_meminfo(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep:
            out[name.strip()] = int(rest.split()[0])
    return out


def si_meminfo(prog) -> SysInfo:
    """``si_meminfo(&val)``: total, free, shared, buffer and highmem pages (what
    ``sysinfo(2)`` and the first lines of ``/proc/meminfo`` report)."""
    mi = meminfo(prog)
    shift = PAGE_SHIFT(prog) - 10
    return SysInfo(mi["MemTotal"] >> shift, mi["MemFree"] >> shift, mi.get("Shmem", 0) >> shift,
                   mi.get("Buffers", 0) >> shift, mi.get("HighTotal", 0) >> shift,
                   mi.get("HighFree", 0) >> shift, PAGE_SIZE(prog))


def si_mem_available(prog) -> int:
    """``si_mem_available()``: pages available for new allocations without swapping
    (``MemAvailable``)."""
    return meminfo(prog)["MemAvailable"] >> (PAGE_SHIFT(prog) - 10)


# -- the slab allocator --------------------------------------------------------------------

def for_each_slab_cache(prog) -> Iterator:
    """Iterate over every slab cache, newest first as ``/proc/slabinfo`` lists them
    (``list_for_each_entry(s, &slab_caches, list)``).

    :return: iterator of ``struct kmem_cache *`` (``name``, ``object_size``, ``size``,
        ``align``, ``flags``, ``order``, ``objects``, ...)

    >>> [s.name for s in for_each_slab_cache(m)][-1]
    'kmalloc-8'
    """
    if isinstance(prog, Machine):
        return iter(list(reversed(prog._k.slub.slab_caches)))
    return iter(_source(prog).slab_caches())


def find_slab_cache(prog, name: str):
    """The slab cache called ``name``, or None (drgn's ``find_slab_cache``).

    >>> find_slab_cache(m, "kmalloc-64").object_size
    64
    """
    if not isinstance(name, str):
        raise TypeError(f"find_slab_cache() takes a cache name, got {type(name).__name__}")
    return next((s for s in for_each_slab_cache(prog) if s.name == name), None)


def slab_cache_objects_per_slab(s) -> int:
    """Objects in each slab of the cache (``oo_objects(s->oo)``).

    >>> slab_cache_objects_per_slab(find_slab_cache(m, "kmalloc-64"))
    64

    :param s: ``struct kmem_cache *``
    """
    return s.objects


def slab_cache_order(s) -> int:
    """The page order of each slab (``oo_order(s->oo)``).

    :param s: ``struct kmem_cache *``
    """
    return s.order


def slab_cache_pages_per_slab(s) -> int:
    """Pages in each slab of the cache (``1 << oo_order(s->oo)``).

    :param s: ``struct kmem_cache *``
    """
    return 1 << s.order


def slab_cache_is_merged(s) -> bool:
    """Whether other caches were merged into this one (``s->refcount > 1``; the host's
    ``/sys/kernel/slab/<name>/aliases``). A Machine merges as the kernel does, unless
    booted with ``slab_nomerge=True``.

    :param s: ``struct kmem_cache *``
    """
    return s.refcount > 1


def slab_cache_usage(s) -> SlabCacheUsage:
    """Slabs and objects of a cache (drgn's ``slab_cache_usage``).

    For a Machine, exact: objects on a CPU's lockless freelist count as free (they are;
    ``/proc/slabinfo`` counts them as active). For a host, from
    ``/sys/kernel/slab/<name>/{slabs,total_objects,objects}``, where — as in slabinfo —
    the objects on per-CPU freelists count as in use, because sysfs cannot see them.

    >>> u = slab_cache_usage(find_slab_cache(m, "kmalloc-64")); u.active_objs <= u.num_objs
    True

    :param s: ``struct kmem_cache *``
    """
    if isinstance(s, KmemCache):
        slub = s._slub
        num_slabs = num_objs = free = 0
        for n in s.node:
            num_slabs += n.nr_slabs
            num_objs += n.total_objects
        for c in s.cpu_slab or ():
            free += sum(1 for _ in _chase(slub, s, c.freelist, c.slab.objects if c.slab else 0))
        for sl in slub.slabs_of(s):
            free += sl.objects - sl.inuse
        return SlabCacheUsage(num_slabs, num_objs, free)
    return s.usage()


def get_slabinfo(s) -> SlabInfo:
    """The numbers ``/proc/slabinfo`` prints for a cache (the kernel's ``get_slabinfo()``,
    ``struct slabinfo``): ``active_objs``, ``num_objs``, ``active_slabs``, ``num_slabs``,
    ``objects_per_slab``, ``cache_order``. Unlike :func:`slab_cache_usage` (drgn's, exact),
    the objects of CPU slabs count as active, as in the file. For a Machine from the
    model's node counters, without printing and parsing the file; for a host from its
    ``slabinfo`` row (root) or the ``/sys/kernel/slab`` counters, which count the same way.

    >>> si = get_slabinfo(find_slab_cache(m, "kmalloc-64")); si.active_objs <= si.num_objs
    True

    :param s: ``struct kmem_cache *``
    """
    if isinstance(s, KmemCache):
        return _get_slabinfo(s)
    u = s.usage()
    return SlabInfo(u.active_objs, u.num_objs, u.num_slabs, u.num_slabs, 0, 0, 0, 0, s.objects, s.order)


def _chase(slub, s, p: int, limit: int) -> Iterator[int]:
    """Follow a freelist from ``p``: at most ``limit`` objects (a corrupted or cyclic
    list, the use-after-free lesson, stops there)."""
    n = 0
    while p and n < limit:
        yield p
        p = slub.get_freepointer(s, p)
        n += 1


def _need_model(obj, what: str, helper: str):
    raise NotAvailable(f"{helper}() needs a simulated machine's {what}: /proc and /sys of a real "
                       "host do not show individual slabs and objects (drgn on a kernel with "
                       f"debug info does), got {type(obj).__name__}")


def slab_cache_for_each_slab(s) -> Iterator[Slab]:
    """Iterate over the slabs of a cache in pfn order (CPU slabs, partial and full).
    Machine only (a host raises :class:`NotAvailable`).

    :param s: ``struct kmem_cache *``
    :return: iterator of ``struct slab *`` (``pfn``, ``order``, ``objects``, ``inuse``,
        ``freelist``, ``frozen``, ``slab_cache``)
    """
    if not isinstance(s, KmemCache):
        _need_model(s, "slabs", "slab_cache_for_each_slab")
    return iter(sorted(s._slub.slabs_of(s), key=lambda sl: sl.pfn))


def for_each_object(slab) -> Iterator[int]:
    """The object addresses of a slab, in address order (mm/slub.c ``for_each_object``).

    :param slab: ``struct slab *``
    """
    if not isinstance(slab, Slab):
        _need_model(slab, "slabs", "for_each_object")
    s = slab.cache
    start = slab.addr + s.red_left_pad
    return iter(range(start, start + slab.objects * s.size, s.size))


def get_freepointer(s, obj: int) -> int:
    """``get_freepointer(s, object)``: the next free object stored in a free object (0 at
    the end of the list).

    :param s: ``struct kmem_cache *``
    :param obj: ``void *`` of a free object
    """
    if not isinstance(s, KmemCache):
        _need_model(s, "memory", "get_freepointer")
    return s._slub.get_freepointer(s, as_int(obj, "object"))


def for_each_free_object(s, freelist: int) -> Iterator[int]:
    """Iterate over a freelist, following the free pointers stored in the objects
    (older mm/slub.c ``for_each_free_object``). Stops after one slab's worth of objects,
    so a corrupted list (a use-after-free write) cannot loop.

    >>> c = find_slab_cache(m, "kmalloc-64"); sl = next(slab_cache_for_each_slab(c))
    >>> list(for_each_free_object(c, sl.freelist))

    :param s: ``struct kmem_cache *``
    :param freelist: ``void *`` of the first free object (``slab->freelist``,
        ``c->freelist``)
    """
    if not isinstance(s, KmemCache):
        _need_model(s, "memory", "for_each_free_object")
    return _chase(s._slub, s, as_int(freelist, "freelist"), s.objects)


def slab_object_states(slab) -> np.ndarray:
    """int8 per object of ``slab``, in address order: ``OBJ_USED``, ``OBJ_FREE`` (on the
    slab's own freelist) or ``OBJ_CPU_FREE`` (on the lockless freelist of the CPU whose
    slab it is). Walks the free pointers in the objects, as the kernel does; a pointer
    that leaves the slab (a corrupted freelist) ends the walk.

    :param slab: ``struct slab *``
    """
    if not isinstance(slab, Slab):
        _need_model(slab, "slabs", "slab_object_states")
    s = slab.cache
    slub = s._slub
    start = slab.addr + s.red_left_pad
    st = np.full(slab.objects, OBJ_USED, np.int8)

    def mark(p, state):
        for p in _chase(slub, s, p, slab.objects + 1):
            i, r = divmod(p - start, s.size)
            if r or not 0 <= i < slab.objects:
                break
            st[i] = state
    mark(slab.freelist, OBJ_FREE)
    for c in s.cpu_slab or ():
        if c.slab is slab:
            mark(c.freelist, OBJ_CPU_FREE)
    return st


def slab_cache_for_each_allocated_object(s) -> Iterator[Address]:
    """Iterate over the allocated objects of a cache (drgn's helper of that name), slab
    by slab in pfn order. Machine only.

    :param s: ``struct kmem_cache *``
    :return: iterator of ``void *``
    """
    for slab in slab_cache_for_each_slab(s):
        st = slab_object_states(slab)
        for i, addr in enumerate(for_each_object(slab)):
            if st[i] == OBJ_USED:
                yield Address(addr)


def _pfn_of(prog, page) -> int:
    if isinstance(page, Page):
        return page.pfn
    return as_int(page, "pfn")


def page_slab(prog, page):
    """``page_slab(page)``: the ``struct slab *`` a frame belongs to, or None when the
    frame is not part of a slab. Machine only.

    :param page: ``struct page *`` (a :class:`~kmemlab.Page`) or a pfn
    """
    if not isinstance(prog, Machine):
        _need_model(prog, "struct page array", "page_slab")
    return prog._k.slub.page_slab.get(_pfn_of(prog, page))


def virt_to_slab(prog, addr):
    """``virt_to_slab(addr)``: the slab holding a direct-map address, or None.
    Machine only.

    :param addr: ``void *``
    """
    if not isinstance(prog, Machine):
        _need_model(prog, "struct page array", "virt_to_slab")
    addr = as_int(addr, "address")
    k = prog._k
    off = addr - k.profile.page_offset
    if not 0 <= off < k.max_low_pfn << k.profile.page_shift:
        return None
    return k.slub.page_slab.get(off >> k.profile.page_shift)


def slab_object_info(prog, addr) -> SlabObjectInfo | None:
    """What slab object an address lies in (drgn's ``slab_object_info``): its cache,
    slab, start address and whether it is allocated; None if not in a slab.

    >>> p = m.kmalloc(100); slab_object_info(m, p + 10).address == p
    True

    :param addr: ``void *``
    """
    slab = virt_to_slab(prog, addr)
    if slab is None:
        return None
    s = slab.cache
    start = slab.addr + s.red_left_pad
    i = (as_int(addr, "address") - start) // s.size
    if not 0 <= i < slab.objects:            # the left red zone of object 0, or the leftover
        return None
    return SlabObjectInfo(s, slab, Address(start + i * s.size), bool(slab_object_states(slab)[i] == OBJ_USED))


def find_containing_slab_cache(prog, addr):
    """The ``struct kmem_cache *`` an address was allocated from, or None (drgn's
    ``find_containing_slab_cache``).

    :param addr: ``void *``
    """
    slab = virt_to_slab(prog, addr)
    return None if slab is None else slab.cache


# -- vmalloc ---------------------------------------------------------------------------------

def for_each_vmap_area(prog) -> Iterator:
    """Iterate over the busy vmap areas in address order (drgn's ``for_each_vmap_area``;
    ``vmap_area_list``, the per-node busy lists since v6.9).

    :return: iterator of ``struct vmap_area *`` (``va_start``, ``va_end``, ``vm``: the
        ``struct vm_struct *`` with ``addr``, ``size``, ``flags``, ``nr_pages``,
        ``caller``)
    """
    if isinstance(prog, Machine):
        v = prog._k.vmalloc
        return iter([v.busy[s] for s in v.busy_starts])
    return iter(_source(prog).vmap_areas())


def for_each_purge_vmap_area(prog) -> Iterator:
    """Iterate over the lazily freed vmap areas waiting for ``__purge_vmap_area_lazy()``
    (``purge_vmap_area_root``), in address order: vfree'd, unmapped, not yet reusable.
    They are the "unpurged vm_area" lines of ``/proc/vmallocinfo``; ``va.vm`` is None."""
    if isinstance(prog, Machine):
        purge = prog._k.vmalloc.purge
        return iter([purge[s] for s in sorted(purge)])
    return iter(_source(prog).purge_vmap_areas())


def find_vmap_area(prog, addr):
    """``find_vmap_area(addr)``: the busy ``struct vmap_area *`` containing ``addr``, or
    None.

    :param addr: an address in the vmalloc range
    """
    addr = as_int(addr, "address")
    if isinstance(prog, Machine):
        return prog._k.vmalloc.find_vmap_area(addr)
    return next((va for va in for_each_vmap_area(prog) if va.va_start <= addr < va.va_end), None)


def get_vm_area_size(vm) -> int:
    """``get_vm_area_size(area)``: the usable size of a vm area, without its guard page.

    :param vm: ``struct vm_struct *`` (``va.vm``)
    """
    if isinstance(vm, VmapArea):
        raise TypeError("get_vm_area_size() takes the vm_struct: pass va.vm, not the vmap_area")
    # the host's vm_struct (kmemlab/host) has the fields, not the model's method
    return vm.size if vm.flags & VM_NO_GUARD else vm.size - _PAGE_SIZE


# -- tracing and the log ---------------------------------------------------------------------

def tracing_is_on(prog) -> bool:
    """``tracing_is_on()``: whether a trace is recording (for a Machine: inside
    ``with m.trace()``)."""
    if isinstance(prog, Machine):
        return prog._k.tracer is not None
    return _source(prog).tracing_is_on()


def get_printk_records(prog) -> list[PrintkRecord]:
    """The kernel log records, oldest first (drgn's ``get_printk_records``).

    >>> get_printk_records(m)[0].text
    'Linux version 6.6.0-kmemlab ...'
    """
    if isinstance(prog, Machine):
        log = prog._k.log
        first = log.next_seq - len(log.records)
        return [PrintkRecord(text, lvl, t, first + i) for i, (t, lvl, text) in enumerate(log.records)]
    return list(_source(prog).printk_records())


def prb_next_seq(prog) -> int:
    """``prb_next_seq(prb)``: the sequence number the next log record will get — a
    cheap way to see whether anything was logged since the last look."""
    if isinstance(prog, Machine):
        return prog._k.log.next_seq
    recs = get_printk_records(prog)
    return recs[-1].seq + 1 if recs else 0


def prb_first_valid_seq(prog) -> int:
    """``prb_first_valid_seq(prb)``: the sequence number of the oldest record still in
    the log (``prb_next_seq()`` when it is empty). With :func:`prb_next_seq` it tells
    whether the log changed since the last look: a new record moves the end, records
    dropped for space or cleared move the start. Simplification: ``m.dmesg(clear=True)``
    drops the records (the kernel's ``dmesg -C`` only moves ``clear_seq``), so here it
    moves the start too."""
    if isinstance(prog, Machine):
        log = prog._k.log
        return log.next_seq - len(log.records)
    recs = get_printk_records(prog)
    return recs[0].seq if recs else prb_next_seq(prog)
