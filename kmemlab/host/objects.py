"""The kernel structs of a real host, as far as ``/proc`` and ``/sys`` show them.

They carry the field names of the model's objects (``struct zone``, ``struct
free_area``, ``struct kmem_cache``, ``struct vmap_area`` / ``vm_struct``), so the
helpers of :mod:`kmemlab.helpers` read both alike. A field the files do not show
raises :class:`~kmemlab.NotAvailable` saying so.
"""

from __future__ import annotations

from ..kernel import slub as S
from ..kernel import vmalloc as V
from ..kernel.helpers import NotAvailable, SlabCacheUsage
from ..kernel.types import Address
from .errors import HostFileMissing

__all__ = ["HostZone", "HostFreeArea", "HostKmemCache", "HostVmapArea", "HostVmStruct"]


class HostFreeArea:
    """``struct free_area`` of a host zone: ``nr_free`` from ``/proc/buddyinfo``, the
    per-migratetype counts from ``/proc/pagetypeinfo`` (root only), read on first use."""

    __slots__ = ("order", "nr_free", "_load", "_key", "_by_mt")

    def __init__(self, order: int, nr_free: int, load, key):
        self.order = order
        self.nr_free = nr_free
        self._load = load
        self._key = key
        self._by_mt = None

    def free_list_count(self, migratetype: int) -> int:
        """Blocks on ``free_list[migratetype]`` (see :func:`kmemlab.helpers.free_list_count`)."""
        if self._by_mt is None:
            self._by_mt = self._load(self._key, self.order, self.nr_free)
        if not 0 <= migratetype < len(self._by_mt):
            raise ValueError(f"migratetype must be 0..{len(self._by_mt) - 1}, got {migratetype}")
        return self._by_mt[migratetype]

    def free_list(self, migratetype: int = 1):
        raise NotAvailable("the pfns on a host's free lists: /proc shows only how many blocks "
                           "each list holds (free_list_count)")

    def __repr__(self):
        return f"<host free_area[{self.order}] nr_free={self.nr_free}>"


class HostZone:
    """``struct zone`` of the host, from ``/proc/zoneinfo`` (+ buddyinfo, pagetypeinfo)."""

    def __init__(self, rec: dict, zone_idx: int, free_area: list[HostFreeArea]):
        self.node = rec["node"]
        self.name = rec["name"]
        self.zone_idx = zone_idx
        self.zone_start_pfn = rec["start_pfn"]
        self.spanned_pages = rec["spanned"]
        self.present_pages = rec["present"]
        self.managed_pages = rec["managed"]
        self.nr_free_pages = rec["free"]
        self.watermark = [rec["min"], rec["low"], rec["high"], rec.get("promo", rec["high"])]
        self.watermark_boost = rec.get("boost", 0)
        self.lowmem_reserve = list(rec["protection"])
        self.free_area = free_area
        self._counters = dict(rec["counters"])
        self._counters.setdefault("nr_free_pages", rec["free"])

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        return self.present_pages > 0

    def zone_page_state(self, item: str) -> int:
        if not isinstance(item, str):
            raise TypeError(f"zone_page_state() takes a counter name like 'nr_free_pages', got {item!r}")
        try:
            return max(self._counters[item], 0)
        except KeyError:
            raise ValueError(f"zone {self.name} of node {self.node} has no counter {item!r} in "
                             f"/proc/zoneinfo; it has: {', '.join(self._counters)}") from None

    def __repr__(self):
        return (f"<host zone {self.name} node {self.node}: pfn {self.zone_start_pfn:#x}-{self.zone_end_pfn:#x} "
                f"managed {self.managed_pages} free {self.nr_free_pages}>")


#: /sys/kernel/slab/<cache>/<file> (mm/slub.c SLAB_ATTR_RO) -> the SLAB_* flag it shows
_FLAG_FILES = (("hwcache_align", S.SLAB_HWCACHE_ALIGN), ("reclaim_account", S.SLAB_RECLAIM_ACCOUNT),
               ("destroy_by_rcu", S.SLAB_TYPESAFE_BY_RCU), ("cache_dma", S.SLAB_CACHE_DMA),
               ("poison", S.SLAB_POISON), ("red_zone", S.SLAB_RED_ZONE),
               ("store_user", S.SLAB_STORE_USER), ("sanity_checks", S.SLAB_CONSISTENCY_CHECKS))


class HostKmemCache:
    """``struct kmem_cache`` of the host: counts and geometry from ``/proc/slabinfo``
    (root) or ``/sys/kernel/slab/<name>/``; ``object_size``, ``align``, ``flags`` and
    ``ctor`` from sysfs, read on first use (they never change while the cache exists,
    so they stay valid across ``refresh()``).

    ``name`` is the kernel's ``s->name``; without root a merged cache is known only by
    its sysfs directory (``:0000064``) and ``alias_names`` lists the caches merged into it.
    """

    def __init__(self, host, name: str, sysdir: str | None, alias_names: tuple[str, ...],
                 size: int | None, objects: int | None, order: int | None, usage: SlabCacheUsage | None):
        self._host = host
        self.name = name
        self.sysdir = sysdir                  # the real directory under /sys/kernel/slab
        self.alias_names = alias_names
        self._size, self._objects, self._order = size, objects, order
        self._usage = usage

    def _attr(self, file: str) -> str:
        if self.sysdir is None:
            raise HostFileMissing(f"/sys/kernel/slab/{self.name}/{file}: this kernel has no sysfs "
                               "entry for the cache (CONFIG_SLUB_SYSFS off, or not SLUB)", f"/sys/kernel/slab/{self.name}")
        return self._host._slab_attr(self.sysdir, file)

    def _int(self, file: str) -> int:
        from .procparse import sysfs_count
        return sysfs_count(self._attr(file), f"/sys/kernel/slab/{self.sysdir}/{file}")

    @property
    def size(self) -> int:
        """``s->size``: the stride of objects in a slab (slabinfo ``<objsize>``, sysfs ``slab_size``)."""
        return self._size if self._size is not None else self._int("slab_size")

    @property
    def objects(self) -> int:
        """Objects per slab (``oo_objects(s->oo)``; sysfs ``objs_per_slab``)."""
        return self._objects if self._objects is not None else self._int("objs_per_slab")

    @property
    def order(self) -> int:
        """Page order of a slab (``oo_order(s->oo)``; sysfs ``order``)."""
        return self._order if self._order is not None else self._int("order")

    @property
    def oo(self) -> tuple[int, int]:
        return (self.order, self.objects)

    @property
    def object_size(self) -> int:
        """``s->object_size``: what the creator asked for (sysfs ``object_size``)."""
        return self._int("object_size")

    @property
    def align(self) -> int:
        """``s->align`` (sysfs ``align``)."""
        return self._int("align")

    @property
    def flags(self) -> int:
        """The ``SLAB_*`` flags sysfs shows (hwcache_align, reclaim_account,
        destroy_by_rcu, cache_dma, poison, red_zone, store_user, sanity_checks)."""
        f = 0
        for file, bit in _FLAG_FILES:
            try:
                if self._int(file):
                    f |= bit
            except HostFileMissing:
                pass                       # an older kernel without that file
        return f

    @property
    def ctor(self) -> str | None:
        """The constructor's symbol (sysfs ``ctor``, e.g. ``init_once+0x0/0x20``), or None."""
        try:
            text = self._attr("ctor").strip()
        except HostFileMissing:
            return None
        return text or None

    @property
    def refcount(self) -> int:
        """1 + the caches merged into this one (sysfs ``aliases``)."""
        try:
            return 1 + self._int("aliases")
        except HostFileMissing:
            return 1 + len(self.alias_names)

    @property
    def offset(self) -> int:
        raise NotAvailable("the free pointer offset (s->offset) of a host cache: sysfs does not show it")

    def usage(self) -> SlabCacheUsage:
        """The counts of the snapshot (see :func:`kmemlab.helpers.slab_cache_usage`)."""
        if self._usage is None:
            n = self._host._slab_usage(self)
            self._usage = n
        return self._usage

    def __repr__(self):
        return f"<host kmem_cache {self.name}>"


class HostVmStruct:
    """``struct vm_struct`` of a host area, from one ``/proc/vmallocinfo`` line."""

    def __init__(self, rec: dict, flags: int):
        self.addr = rec["start"]
        self.size = rec["size"]
        self.caller = rec["caller"]
        self.nr_pages = rec["nr_pages"]
        self.phys_addr = rec["phys"]
        self.flags = flags
        self.nodes = dict(rec["nodes"])
        self.pages_array_kind = "vmalloc" if "vpages" in rec["words"] else ""

    @property
    def pages(self):
        raise NotAvailable("the pages of a host vmalloc area: /proc/vmallocinfo shows only how many")

    def __repr__(self):
        return f"<host vm_struct size={self.size} pages={self.nr_pages} caller={self.caller}>"


class HostVmapArea:
    """``struct vmap_area`` of the host. ``va_start``/``va_end`` are what vmallocinfo
    printed: hashed (meaningless as addresses) unless ``kernel.kptr_restrict`` lets this
    reader see them — ``hashed`` says which."""

    __slots__ = ("va_start", "va_end", "vm", "hashed")

    def __init__(self, rec: dict, vm: HostVmStruct | None, hashed: bool):
        self.va_start = rec["start"]
        self.va_end = rec["start"] + rec["size"]
        self.vm = vm
        self.hashed = hashed

    def __repr__(self):
        h = " hashed" if self.hashed else ""
        return f"<host vmap_area {Address(self.va_start)}+{self.va_end - self.va_start}{h}>"


_WORD_FLAGS = {"ioremap": V.VM_IOREMAP, "vmalloc": V.VM_ALLOC, "vmap": V.VM_MAP, "user": V.VM_USERMAP,
               "dma-coherent": V.VM_DMA_COHERENT}


def vm_flags(words) -> int:
    f = 0
    for w in words:
        f |= _WORD_FLAGS.get(w, 0)
    return f
