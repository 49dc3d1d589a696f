"""``mem_map``: one ``struct page`` per physical frame, held as numpy arrays.

The kernel keeps a ``struct page`` (64 bytes on x86_64) for every frame. kmemlab keeps
the fields a lesson needs as parallel numpy arrays indexed by pfn, so a 16 GiB machine
(4 M frames) boots in milliseconds and a view can colour every frame from one array:

- ``kind``  what holds the frame (free, on a per-cpu list, reserved, kernel image, slab,
  vmalloc, ...);
  kmemlab's own summary of ``page->flags`` + ``page_type`` + the owner, for pictures;
- ``order`` the order of the *allocated* block a frame heads (-1 elsewhere); the order
  of a *free* block lives with the buddy allocator (``page_private`` of a PageBuddy head);
- ``flags`` the page flags a lesson shows (``PG_reserved``, ``PG_slab``, ``PG_head``...);
- ``zone``, ``node`` what ``page_zone()`` / ``page_to_nid()`` return;
- ``owner`` an id of the owning object (a slab, a vmalloc area), 0 for none.
"""

from __future__ import annotations

import copy

import numpy as np

__all__ = ["MemMap", "KIND_NAMES", "PG_NAMES",
           "K_NOMAP", "K_FREE", "K_RESERVED", "K_KERNEL", "K_MEMMAP", "K_PAGES", "K_SLAB",
           "K_KMALLOC_LARGE", "K_VMALLOC", "K_PGTABLE", "K_USER", "K_PCP",
           "PG_reserved", "PG_slab", "PG_head", "PG_tail"]

# Frame owners. Their numbers index the palette of the views, so append, never reorder.
K_NOMAP = 0          # not RAM (a hole in the e820 map)
K_FREE = 1           # in the buddy allocator's free lists
K_RESERVED = 2       # memblock-reserved by firmware / early boot (first MiB)
K_KERNEL = 3         # the kernel image
K_MEMMAP = 4         # the struct page array itself
K_PAGES = 5          # alloc_pages() by a caller
K_SLAB = 6           # a slab of a kmem_cache
K_KMALLOC_LARGE = 7  # kmalloc() above KMALLOC_MAX_CACHE_SIZE: a compound page
K_VMALLOC = 8        # a page mapped into a vmalloc area
K_PGTABLE = 9        # a page-table page
K_USER = 10          # a user (movable) page
K_PCP = 11           # free, on a CPU's per-cpu page list (not in the buddy free lists)
KIND_NAMES = ["nomap", "free", "reserved", "kernel", "mem_map", "pages", "slab",
              "kmalloc_large", "vmalloc", "pagetable", "user", "pcp"]

# Page flags kmemlab tracks, named as in include/linux/page-flags.h (bit numbers are ours).
PG_reserved = 1 << 0
PG_slab = 1 << 1
PG_head = 1 << 2
PG_tail = 1 << 3      # a tail page of a compound page (the kernel marks it in compound_head)
PG_NAMES = [(PG_reserved, "reserved"), (PG_slab, "slab"), (PG_head, "head"), (PG_tail, "tail")]


class MemMap:
    """The per-frame arrays. ``max_pfn`` frames, pfn 0 .. max_pfn-1."""

    def __init__(self, max_pfn: int, page_shift: int, zone_names: list[str]):
        self.max_pfn = max_pfn
        self.page_shift = page_shift
        self.kind = np.zeros(max_pfn, np.uint8)
        self.order = np.full(max_pfn, -1, np.int8)
        self.flags = np.zeros(max_pfn, np.uint8)
        self.zone = np.full(max_pfn, -1, np.int8)     # index into zone_names
        self.node = np.zeros(max_pfn, np.int8)
        self.owner = np.zeros(max_pfn, np.int32)
        self.zone_names = zone_names
        #: filled in by the buddy allocator: pfn -> order of a free block head
        self.free_order = None
        self._views()

    def _views(self) -> None:
        # memoryviews on the arrays: single-element reads and stores through them cost
        # half of numpy's scalar indexing, which matters on the allocator's hot paths
        self.kind_mv = memoryview(self.kind)
        self.order_mv = memoryview(self.order)
        self.flags_mv = memoryview(self.flags)
        self.zone_mv = memoryview(self.zone)
        self.owner_mv = memoryview(self.owner)

    _VIEWS = ("kind_mv", "order_mv", "flags_mv", "zone_mv", "owner_mv")

    def __deepcopy__(self, memo):
        new = MemMap.__new__(MemMap)
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            if name not in self._VIEWS:
                setattr(new, name, copy.deepcopy(value, memo))
        new._views()
        return new

    def block_order(self, pfn: int) -> int:
        o = int(self.order[pfn])
        if o >= 0:
            return o
        if self.free_order is not None:
            fo = self.free_order(pfn)
            if fo is not None:
                return fo
        return 0

    def zone_name(self, pfn: int) -> str:
        z = int(self.zone[pfn])
        return self.zone_names[z] if z >= 0 else "none"

    def kind_name(self, pfn: int) -> str:
        return KIND_NAMES[int(self.kind[pfn])]

    def flag_names(self, pfn: int) -> list[str]:
        f = int(self.flags[pfn])
        names = [n for bit, n in PG_NAMES if f & bit]
        if self.free_order is not None and self.free_order(pfn) is not None:
            names.append("buddy")      # PageBuddy is a page_type, shown by page-types as "buddy"
        return names

    def set_block(self, pfn: int, nr: int, kind: int, owner: int = 0, flags: int = 0) -> None:
        """Mark frames [pfn, pfn+nr) as held by ``kind``."""
        end = pfn + nr
        self.kind[pfn:end] = kind
        self.owner[pfn:end] = owner
        self.flags[pfn:end] = flags

    def count(self, kind: int) -> int:
        return int(np.count_nonzero(self.kind == kind))
