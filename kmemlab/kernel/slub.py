"""SLUB: ``struct kmem_cache``, slabs, freelists and the kmalloc family.

Think of a cache as a shelf of egg boxes: every box (a *slab*, one or a few
physically contiguous pages from the buddy allocator) holds the same number of
equal-sized cups (*objects*). ``kmalloc(100)`` picks the shelf whose cups fit 100
bytes (``kmalloc-128``) and hands out one cup; freeing puts the cup back. Large
requests (above ``KMALLOC_MAX_CACHE_SIZE``, two pages) skip the shelves and take a
compound block straight from the buddy allocator (``kmalloc_large``).

Modelled on mm/slub.c, mm/slab_common.c and include/linux/slab.h of v6.6:

- geometry: ``calculate_sizes()`` / ``calculate_order()`` / ``calc_slab_order()``
  (free pointer mid-object since v5.7, at offset 0 before), ``set_min_partial()``;
- ``kmalloc_caches[type][index]`` built as ``create_kmalloc_caches()`` does, with
  ``kmalloc_type()`` choosing normal, ``kmalloc-rcl-*`` (4.20+), ``dma-kmalloc-*``
  and ``kmalloc-cg-*`` (5.14+); names ``kmalloc-1k`` (5.0+) or ``kmalloc-1024``;
- the allocation paths ``slab_alloc_node()`` (per-cpu freelist fast path) and
  ``___slab_alloc()`` (``get_freelist``, ``get_partial_node``, ``new_slab``), the free
  paths ``do_slab_free()`` / ``__slab_free()`` (empty slabs are discarded once the node
  keeps ``min_partial`` partial slabs), ``deactivate_slab()``, ``flush_all()``;
- freelists are threaded through the free objects in the machine's memory: the word at
  ``object + s->offset`` of a free object holds the address of the next free object,
  so a use-after-free write can corrupt it and a double free makes the freelist hand
  the same object out twice, as on a real machine;
- SLUB debugging (``slub_debug=FZPU``, see :mod:`kmemlab.kernel.slub_debug`): debug
  caches take the v6.2+ path without per-cpu slabs (``alloc_single_from_partial`` /
  ``free_to_partial_list``).

Simplifications (each a real kernel configuration, except the last two):
no per-cpu partial lists (``CONFIG_SLUB_CPU_PARTIAL=n``), no freelist pointer
hardening (``CONFIG_SLAB_FREELIST_HARDENED=n``: the stored free pointer is the plain
address, so a memory dump shows it), freelist randomisation only with
``Machine(freelist_random=True)`` (``CONFIG_SLAB_FREELIST_RANDOM``), no random kmalloc
caches (``CONFIG_RANDOM_KMALLOC_CACHES=n``); no slab merging (as booting with
``slab_nomerge``); the ``kmem_cache`` / ``kmem_cache_node`` boot caches only on a booted
machine (:mod:`kmemlab.kernel.boot`), not on ``boot="bare"``; the ``cache_from_obj()``
check of ``kmem_cache_free()`` always runs.
"""

from __future__ import annotations

import struct
import sys
from collections import OrderedDict

from . import gfp as G
from .errors import KernelBug
from .mem_map import K_KMALLOC_LARGE, K_PAGES, K_SLAB, PG_head, PG_slab, PG_tail

__all__ = ["Slub", "KmemCache", "Slab", "kmalloc_index", "kmalloc_size", "get_order",
           "calculate_order", "KMALLOC_MIN_SIZE", "KMALLOC_SHIFT_LOW", "KMALLOC_SHIFT_HIGH",
           "KMALLOC_MAX_CACHE_SIZE", "KMALLOC_NORMAL", "KMALLOC_RECLAIM", "KMALLOC_DMA",
           "KMALLOC_CGROUP", "SLAB_CONSISTENCY_CHECKS", "SLAB_RED_ZONE", "SLAB_POISON",
           "SLAB_KMALLOC", "SLAB_HWCACHE_ALIGN", "SLAB_CACHE_DMA", "SLAB_STORE_USER",
           "SLAB_RECLAIM_ACCOUNT", "SLAB_TYPESAFE_BY_RCU", "SLAB_ACCOUNT", "SLAB_PANIC"]

# include/linux/slab.h (x86: ARCH_KMALLOC_MINALIGN = __alignof__(unsigned long long) = 8)
KMALLOC_SHIFT_LOW = 3
KMALLOC_MIN_SIZE = 1 << KMALLOC_SHIFT_LOW
ARCH_KMALLOC_MINALIGN = 8
ARCH_SLAB_MINALIGN = 8
#: PAGE_SHIFT + 1 with 4 KiB pages: SLUB serves what fits an order-1 page
KMALLOC_SHIFT_HIGH = 13
KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH
MAX_OBJS_PER_PAGE = 32767
SLUB_MAX_ORDER = 3                # PAGE_ALLOC_COSTLY_ORDER
SLUB_MIN_ORDER = 0
MIN_PARTIAL, MAX_PARTIAL = 5, 10
L1_CACHE_BYTES = 64

# enum kmalloc_cache_type (v6.6, with CONFIG_ZONE_DMA and CONFIG_MEMCG_KMEM)
KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_DMA, KMALLOC_CGROUP = 0, 1, 2, 3
_TYPE_PREFIX = {KMALLOC_NORMAL: "kmalloc-", KMALLOC_RECLAIM: "kmalloc-rcl-",
                KMALLOC_DMA: "dma-kmalloc-", KMALLOC_CGROUP: "kmalloc-cg-"}

# slab_flags_t (include/linux/slab.h, v6.6 values)
SLAB_CONSISTENCY_CHECKS = 0x00000100
SLAB_RED_ZONE = 0x00000400
SLAB_POISON = 0x00000800
SLAB_KMALLOC = 0x00001000
SLAB_HWCACHE_ALIGN = 0x00002000
SLAB_CACHE_DMA = 0x00004000
SLAB_STORE_USER = 0x00010000
SLAB_RECLAIM_ACCOUNT = 0x00020000
SLAB_PANIC = 0x00040000
SLAB_TYPESAFE_BY_RCU = 0x00080000
SLAB_ACCOUNT = 0x04000000
SLAB_NO_MERGE = 0x01000000        # 6.5+: never merge this cache (kmem_buckets)
OBJECT_POISON = 0x80000000        # __OBJECT_POISON (mm/slub.c)
SLAB_DEBUG_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER
SLAB_USER_FLAGS = (SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_HWCACHE_ALIGN
                   | SLAB_CACHE_DMA | SLAB_STORE_USER | SLAB_RECLAIM_ACCOUNT | SLAB_PANIC
                   | SLAB_TYPESAFE_BY_RCU | SLAB_ACCOUNT)

#: mm/slab_common.c size_index[]: kmalloc cache index for sizes 1..192, by (size-1)/8
SIZE_INDEX = (3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2)
#: the largest size the compile-time kmalloc_index() knows (v6.x: 2 MiB, index 21)
_KMALLOC_INDEX_MAX = 21
#: gfp bits that make kmalloc_type() pick a cache array other than KMALLOC_NORMAL
_TYPE_GFP = G.F_DMA | G.F_RECLAIMABLE | G.F_ACCOUNT
#: free pointers are native words: struct's unpack_from/pack_into read and write one in
#: place (3x cheaper than slicing + int.from_bytes on the hot paths)
_FP_STRUCT = {8: struct.Struct("<Q"), 4: struct.Struct("<I")}


def kmalloc_index(size: int) -> int:
    """``kmalloc_index(size)`` (include/linux/slab.h ``__kmalloc_index``): which
    ``kmalloc_caches[type][index]`` serves ``size`` bytes.

    >>> kmalloc_index(100), kmalloc_index(96), kmalloc_index(8192)
    (7, 1, 13)

    0 for size 0 (ZERO_SIZE_PTR); 1 is kmalloc-96 and 2 is kmalloc-192; otherwise the
    smallest ``n`` with ``size <= 2**n``. Sizes above 2 MiB are a build error in C
    (BUILD_BUG_ON_MSG), a ValueError here.
    """
    if type(size) is not int:
        if isinstance(size, bool) or not hasattr(size, "__index__"):
            raise TypeError(f"kmalloc_index() takes an integer size, got {type(size).__name__} {size!r}")
        size = int(size)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    if size == 0:
        return 0
    if size <= KMALLOC_MIN_SIZE:
        return KMALLOC_SHIFT_LOW
    if 64 < size <= 96:
        return 1
    if 128 < size <= 192:
        return 2
    if size > 1 << _KMALLOC_INDEX_MAX:
        raise ValueError(f"kmalloc_index({size}): sizes above {1 << _KMALLOC_INDEX_MAX} have no "
                         "kmalloc index (the kernel refuses to build); kmalloc() sends them to "
                         "kmalloc_large()")
    return (size - 1).bit_length()


def kmalloc_size(index: int) -> int:
    """``kmalloc_info[index].size``: the object size of a kmalloc cache index."""
    return 96 if index == 1 else 192 if index == 2 else 1 << index


def kmalloc_cache_name(kind: int, index: int, gen) -> str:
    """kmalloc_info[] names: "kmalloc-1k" since v5.0 (INIT_KMALLOC_INFO), "kmalloc-1024" before."""
    size = kmalloc_size(index)
    if gen.kmalloc_kilo_names and size >= 1024:
        s = f"{size >> 10}k"
    else:
        s = str(size)
    return _TYPE_PREFIX[kind] + s


def get_order(size: int, page_shift: int = 12) -> int:
    """``get_order(size)``: the smallest order whose block holds ``size`` bytes."""
    return max(0, ((size - 1) >> page_shift).bit_length()) if size > 0 else 0


def _fls(x: int) -> int:
    return x.bit_length()


def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def calc_slab_order(size: int, min_objects: int, max_order: int, fract_leftover: int,
                    page_size: int = 4096) -> int:
    """mm/slub.c ``calc_slab_order()`` (v4.x-v6.6): the first order from
    get_order(min_objects * size) up whose leftover is at most 1/fract_leftover."""
    ps = page_size.bit_length() - 1
    if (page_size << SLUB_MIN_ORDER) // size > MAX_OBJS_PER_PAGE:
        return get_order(size * MAX_OBJS_PER_PAGE, ps) - 1
    order = max(SLUB_MIN_ORDER, get_order(min_objects * size, ps))
    while order <= max_order:
        slab_size = page_size << order
        if slab_size % size <= slab_size // fract_leftover:
            break
        order += 1
    return order


def calculate_order(size: int, nr_cpus: int, page_size: int = 4096, max_page_order: int = 10) -> int:
    """mm/slub.c ``calculate_order()`` (v4.x-v6.6): the slab order for objects of
    ``size`` bytes on a machine with ``nr_cpus`` CPUs.

    min_objects = 4 * (fls(nr_cpus) + 1), capped by what an order-3 slab holds; try
    leftover fractions 1/16, 1/8, 1/4 while lowering min_objects, then any order up
    to slub_max_order, then up to MAX_ORDER.
    """
    min_objects = 4 * (_fls(nr_cpus) + 1)
    max_objects = (page_size << SLUB_MAX_ORDER) // size
    min_objects = min(min_objects, max_objects)
    while min_objects > 1:
        fraction = 16
        while fraction >= 4:
            order = calc_slab_order(size, min_objects, SLUB_MAX_ORDER, fraction, page_size)
            if order <= SLUB_MAX_ORDER:
                return order
            fraction //= 2
        min_objects -= 1
    order = calc_slab_order(size, 1, SLUB_MAX_ORDER, 1, page_size)
    if order <= SLUB_MAX_ORDER:
        return order
    order = calc_slab_order(size, 1, max_page_order, 1, page_size)
    if order <= max_page_order:
        return order
    return -1


class Slab:
    """``struct slab``: one slab of a cache (its pages come from the buddy allocator).

    ``inuse`` follows the kernel: while the slab is a CPU's slab (``frozen``) all its
    objects count as in use, the free ones being on that CPU's lockless freelist."""

    __slots__ = ("id", "cache", "pfn", "order", "addr", "objects", "inuse", "freelist",
                 "frozen", "node", "on_list")

    def __init__(self, sid, cache, pfn, order, addr, objects, node):
        self.id = sid
        self.cache = cache
        self.pfn = pfn
        self.order = order
        self.addr = addr          # slab_address(): first byte (direct map)
        self.objects = objects
        self.inuse = 0
        self.freelist = 0         # first free object, 0 = NULL
        self.frozen = False       # a CPU's slab
        self.node = node
        self.on_list = None       # None, "partial" or "full" (full only with SLAB_STORE_USER)

    @property
    def slab_cache(self) -> "KmemCache":
        """``slab->slab_cache``: the cache this slab belongs to (the kernel's name for
        ``cache``)."""
        return self.cache

    def __repr__(self):
        return (f"<slab pfn={self.pfn:#x} of {self.cache.name}: objects={self.objects} "
                f"inuse={self.inuse}{' frozen' if self.frozen else ''}>")


class KmemCacheCpu:
    """``struct kmem_cache_cpu``: a CPU's slab and its lockless freelist."""

    __slots__ = ("freelist", "slab")

    def __init__(self):
        self.freelist = 0
        self.slab: Slab | None = None


class KmemCacheNode:
    """``struct kmem_cache_node``: a node's partial list (and full list when debugging)."""

    def __init__(self):
        # slab id -> Slab; the first entry is the list head (add_partial DEACTIVATE_TO_HEAD)
        self.partial: OrderedDict[int, Slab] = OrderedDict()
        self.full: dict[int, Slab] = {}
        self.nr_slabs = 0
        self.total_objects = 0

    @property
    def nr_partial(self) -> int:
        return len(self.partial)


class KmemCache:
    """``struct kmem_cache``: a cache of equal-sized objects.

    ``object_size`` is what the creator asked for, ``size`` the stride of objects in a
    slab (with alignment and debug metadata), ``offset`` where a free object keeps its
    free pointer, ``oo`` = (order, objects per slab)."""

    def __init__(self, slub: "Slub", cid: int, name: str, size: int, align: int, flags: int,
                 ctor=None, useroffset: int = 0, usersize: int = 0, freeptr_offset: int | None = None,
                 sheaf_capacity: int = 0):
        self._slub = slub         # what the read helpers (kernel/helpers.py) follow to memory
        self.id = cid
        self.name = name
        self.object_size = size
        self.align = align
        self.flags = flags
        self.ctor = ctor
        self.refcount = 1
        # kmem_cache_create_usercopy(): the region copy_to/from_user may touch (4.16+)
        self.useroffset, self.usersize = useroffset, usersize
        # struct kmem_cache_args (6.12+): where a SLAB_TYPESAFE_BY_RCU cache keeps its free
        # pointer inside the object (use_freeptr_offset), and the per-CPU sheaf size (6.18)
        self.freeptr_offset = freeptr_offset
        self.sheaf_capacity = sheaf_capacity
        #: names of the caches merged into this one (/sys/kernel/slab shows them as links)
        self.alias_names: list[str] = []
        self.cpu_slab = [KmemCacheCpu() for _ in range(slub.k.nr_cpus)]
        self.node = [KmemCacheNode() for _ in range(slub.k.nr_nodes)]
        self.red_left_pad = 0
        slub.calculate_sizes(self)
        self.random_seq = slub.init_cache_random_seq(self)

    @property
    def oo(self) -> tuple[int, int]:
        """(order, objects) of a normal slab (``s->oo``)."""
        return (self.order, self.objects)

    @property
    def min(self) -> tuple[int, int]:
        """(order, objects) of the fallback slab (``s->min``)."""
        return (self.min_order, self.min_objects)

    def __repr__(self):
        return (f"<kmem_cache {self.name}: object_size={self.object_size} size={self.size} "
                f"objects/slab={self.objects} order={self.order}>")


class Slub:
    """The slab allocator of one machine (``k.slub``)."""

    def __init__(self, k):
        self.k = k
        prof = k.profile
        self.ptr = prof.bits // 8                       # sizeof(void *)
        self.page_shift = prof.page_shift
        self.page_size = prof.page_size
        self.page_mask = prof.page_size - 1
        self.page_offset = prof.page_offset
        self.pages = k.memory.pages                     # the RAM contents (pfn -> bytearray)
        self._fp_get = _FP_STRUCT[self.ptr].unpack_from
        self._fp_set = _FP_STRUCT[self.ptr].pack_into
        self.gen = k.gen
        # large kmalloc blocks count as NR_SLAB_UNRECLAIMABLE_B since ~v5.9 (read on hot paths)
        self._large_accounted = k.gen.kmalloc_large_accounted
        self.slab_caches: list[KmemCache] = []          # creation order (slab_caches, reversed)
        self.caches_by_id: dict[int, KmemCache] = {}
        self.slabs: dict[int, Slab] = {}                # slab id -> slab (mem_map.owner)
        self.page_slab: dict[int, Slab] = {}            # pfn -> slab, every page of every slab
        self._next_id = 1
        from .slub_debug import SlubDebug, parse_slub_debug
        self.dbg = SlubDebug(self)
        self.debug_flags, self.debug_only = parse_slub_debug(k, k.slub_debug)
        self.create_kmalloc_caches()
        # the last line of mm/slub.c kmem_cache_init() (same text v4.14 .. v6.6; the
        # arguments are cache_line_size(), slub_min_order, slub_max_order,
        # slub_min_objects (0: computed per cache), nr_cpu_ids, nr_node_ids)
        k.log.info(f"SLUB: HWalign={L1_CACHE_BYTES}, Order={SLUB_MIN_ORDER}-{SLUB_MAX_ORDER}, "
                   f"MinObjects=0, CPUs={k.nr_cpus}, Nodes={k.nr_nodes}")

    # -- geometry -------------------------------------------------------------------

    def track_size(self) -> int:
        """sizeof(struct track): addr, stack handle, cpu, pid, when (v5.17+ with
        STACKDEPOT); 4.x kept 16 return addresses (TRACK_ADDRS_COUNT)."""
        p = self.ptr
        if self.gen.slab_track_stackdepot:
            return 32 if p == 8 else 20
        return (p + 16 * p + 4 + 4 + p)

    def calculate_sizes(self, s: KmemCache) -> None:
        """mm/slub.c ``calculate_sizes()`` + ``calculate_order()`` + ``set_min_partial()``."""
        k = self.k
        p = self.ptr
        flags = s.flags
        size = _align(s.object_size, p)
        if flags & SLAB_POISON and not flags & SLAB_TYPESAFE_BY_RCU and s.ctor is None:
            flags |= OBJECT_POISON
        else:
            flags &= ~OBJECT_POISON
        if flags & SLAB_RED_ZONE and size == s.object_size:
            size += p                                   # room for the right red zone
        s.inuse = size
        orig_size = bool(flags & SLAB_STORE_USER and flags & SLAB_KMALLOC and k.gen.kmalloc_orig_size)
        rcu_in_object = flags & SLAB_TYPESAFE_BY_RCU and s.freeptr_offset is not None
        if ((flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON) and not rcu_in_object) or s.ctor is not None
                or (flags & SLAB_RED_ZONE and (s.object_size < p or orig_size))):
            s.offset = size                             # free pointer after the object
            size += p
        elif rcu_in_object:
            s.offset = s.freeptr_offset                 # args->use_freeptr_offset (6.12+)
        elif k.gen.freeptr_mid_object:
            s.offset = (s.object_size // 2) & ~(p - 1)  # mid-object (v5.7: 3202fa62fb43)
        else:
            s.offset = 0
        if flags & SLAB_STORE_USER:
            size += 2 * self.track_size()
            if orig_size:
                size += 4                               # unsigned int orig_size
        if flags & SLAB_RED_ZONE:
            size += p
            s.red_left_pad = _align(p, s.align)
            size += s.red_left_pad
        size = _align(size, s.align)
        s.size = size
        s.flags = flags
        s.debug = bool(flags & SLAB_DEBUG_FLAGS)       # kmem_cache_debug(s), read on hot paths
        s.orig_size_tracked = orig_size
        order = calculate_order(size, k.nr_cpus, self.page_size, k.profile.max_order - 1)
        s.order = order
        s.objects = (self.page_size << order) // size
        s.min_order = get_order(size, self.page_shift)
        s.min_objects = (self.page_size << s.min_order) // size
        s.allocflags = (G.F_COMP if order else 0) | (G.F_DMA if flags & SLAB_CACHE_DMA else 0) \
            | (G.F_RECLAIMABLE if flags & SLAB_RECLAIM_ACCOUNT else 0)
        s.min_partial = min(MAX_PARTIAL, max(MIN_PARTIAL, (size.bit_length() - 1) // 2))

    @staticmethod
    def calculate_alignment(flags: int, align: int, size: int, ptr: int) -> int:
        """mm/slab_common.c ``calculate_alignment()``."""
        if flags & SLAB_HWCACHE_ALIGN:
            ralign = L1_CACHE_BYTES
            while size <= ralign // 2:
                ralign //= 2
            align = max(align, ralign)
        align = max(align, ARCH_SLAB_MINALIGN)
        return _align(align, ptr)

    def init_cache_random_seq(self, s: KmemCache):
        """``init_cache_random_seq()`` -> ``cache_random_seq_create()`` ->
        ``freelist_randomize()`` (mm/slab_common.c): a Fisher-Yates shuffle of
        0 .. oo_objects(s->oo)-1 with one 32-bit random number per step (rand % (i + 1)).
        The kernel then multiplies each entry by s->size; we keep object indices.
        None when CONFIG_SLAB_FREELIST_RANDOM is off (or the cache could not be sized)."""
        k = self.k
        if not k.freelist_random or s.order < 0:
            return None
        count = s.objects
        seq = list(range(count))
        rand = k.rng.integers(0, 1 << 32, max(count - 1, 0)).tolist()
        for j, i in enumerate(range(count - 1, 0, -1)):
            r = rand[j] % (i + 1)
            seq[i], seq[r] = seq[r], seq[i]
        return seq

    def shuffle_freelist(self, s: KmemCache, objects: int):
        """``shuffle_freelist()``: start at a random position of s->random_seq and walk
        it cyclically (``next_freelist_entry()``), skipping entries beyond this slab's
        objects (a fallback s->min slab holds fewer). Returns (object indices, start)."""
        seq = s.random_seq
        count = len(seq)
        start = pos = int(self.k.rng.integers(0, count))      # get_random_u32_below(count)
        out = []
        while len(out) < objects:
            idx = seq[pos]
            pos = pos + 1 if pos + 1 < count else 0
            if idx < objects:
                out.append(idx)
        return out, start

    def _new_id(self) -> int:
        i = self._next_id
        self._next_id = i + 1
        return i

    def _debug_flags_for(self, name: str) -> int:
        if self.debug_only is None or name in self.debug_only:
            return self.debug_flags
        return 0

    def create_cache(self, name: str, size: int, align: int, flags: int, ctor=None, **args) -> KmemCache:
        s = KmemCache(self, self._new_id(), name, size, align, flags, ctor, **args)
        self.slab_caches.append(s)
        self.caches_by_id[s.id] = s
        return s

    def create_kmalloc_caches(self) -> None:
        """mm/slab_common.c ``create_kmalloc_caches()``: for each type, kmalloc-8 ..
        kmalloc-8k, with kmalloc-96 after kmalloc-64 and kmalloc-192 after kmalloc-128."""
        gen = self.gen
        types = [KMALLOC_NORMAL]
        if gen.kmalloc_rcl_caches:
            types.append(KMALLOC_RECLAIM)
        if self.k.profile.has_zone("DMA"):
            types.append(KMALLOC_DMA)
        if gen.kmalloc_cg_caches:
            types.append(KMALLOC_CGROUP)
        self.kmalloc_types = types
        self.kmalloc_caches: list[list[KmemCache | None]] = [[None] * (KMALLOC_SHIFT_HIGH + 1)
                                                             for _ in range(4)]
        type_flags = {KMALLOC_NORMAL: 0, KMALLOC_RECLAIM: SLAB_RECLAIM_ACCOUNT,
                      KMALLOC_DMA: SLAB_CACHE_DMA, KMALLOC_CGROUP: SLAB_ACCOUNT}
        for t in types:
            for i in range(KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH + 1):
                self._new_kmalloc_cache(i, t, type_flags[t])
                if i == 6:
                    self._new_kmalloc_cache(1, t, type_flags[t])
                if i == 7:
                    self._new_kmalloc_cache(2, t, type_flags[t])
        self.kmalloc_max_cache_size = KMALLOC_MAX_CACHE_SIZE if self.page_size == 4096 else 2 * self.page_size
        # kmalloc_index() of every size, done once: what the compiler folds for a
        # constant-size kmalloc(); kmalloc()'s hot path reads the normal cache from here
        normal = self.kmalloc_caches[KMALLOC_NORMAL]
        self.kmalloc_by_size = [None] + [
            normal[SIZE_INDEX[(n - 1) >> 3] if n <= 192 else (n - 1).bit_length()]
            for n in range(1, KMALLOC_MAX_CACHE_SIZE + 1)]
        # kmalloc_type(): unused types fall back to the normal caches (the kernel aliases them)
        for t in range(4):
            if t not in types:
                self.kmalloc_caches[t] = self.kmalloc_caches[KMALLOC_NORMAL]
        self.user_buckets = self.msg_buckets = None
        if gen.kmem_buckets:
            # 6.11+ create_kmalloc_caches(): kmem_buckets_cache = "kmalloc_buckets", holding
            # one kmem_buckets (an array of KMALLOC_SHIFT_HIGH + 1 cache pointers) per set;
            # then mm/util.c init_user_buckets() and ipc/msgutil.c init_msg_buckets()
            self.kmem_buckets_cache = self.kmem_cache_create(
                "kmalloc_buckets", (KMALLOC_SHIFT_HIGH + 1) * self.ptr, 0, SLAB_NO_MERGE)
            # mm/util.c: (0, INT_MAX): all of it; ipc/msgutil.c: from sizeof(struct msg_msg) on
            self.user_buckets = self.kmem_buckets_create("memdup_user", 0, 0, 0x7fffffff)
            self.msg_buckets = self.kmem_buckets_create("msg_msg", SLAB_ACCOUNT, 48, 4096 - 48)

    def kmem_buckets_create(self, name: str, flags: int, useroffset: int = 0, usersize: int = 0) -> list:
        """``kmem_buckets_create()`` (mm/slab_common.c, 6.11+): a private copy of the kmalloc
        size classes, caches ``<name>-8`` .. ``<name>-8k`` created with align 0 (so aligned
        to ARCH_SLAB_MINALIGN, not like the kmalloc caches), SLAB_NO_MERGE, each with the
        part of [useroffset, useroffset + usersize) that fits it as its usercopy region.
        Returns the array, indexed like ``kmalloc_caches[KMALLOC_NORMAL]``."""
        self.slab_alloc(self.kmem_buckets_cache, G.F_ZERO | int(G.GFP_KERNEL), -1)
        b: list = [None] * (KMALLOC_SHIFT_HIGH + 1)
        for idx, c in enumerate(self.kmalloc_caches[KMALLOC_NORMAL]):
            if c is None:
                continue
            short = c.name.split("-", 1)[1]
            size = c.object_size
            uoff, usize = (0, 0) if useroffset >= size else (useroffset, min(size - useroffset, usersize))
            b[idx] = self.kmem_cache_create(f"{name}-{short}", size, 0, flags | SLAB_NO_MERGE,
                                            useroffset=uoff, usersize=usize)
        return b

    def _new_kmalloc_cache(self, idx: int, t: int, flags: int) -> None:
        """``new_kmalloc_cache()`` -> ``create_boot_cache()``: power-of-two sizes are
        aligned to their size (v5.4+); from v6.11 every size to the largest power of two
        dividing it (``kmalloc-96``: 32, ``kmalloc-192``: 64); before, 96 and 192 to
        ARCH_KMALLOC_MINALIGN."""
        gen = self.gen
        size = kmalloc_size(idx)
        name = kmalloc_cache_name(t, idx, gen)
        flags |= SLAB_KMALLOC if gen.slab_kmalloc_flag else 0
        flags |= self._debug_flags_for(name)
        align = ARCH_KMALLOC_MINALIGN
        if gen.kmalloc_align_pow2_divisor:
            align = max(align, size & -size)            # __ffs(size)
        elif size & (size - 1) == 0 and gen.kmalloc_pow2_align:
            align = max(align, size)
        align = self.calculate_alignment(flags, align, size, self.ptr)
        # create_kmalloc_cache(): the whole object may be copied to/from user space
        usersize = size if gen.slab_usersize else 0
        self.kmalloc_caches[t][idx] = self.create_cache(name, size, align, flags, usersize=usersize)

    # -- memory helpers (the free pointer lives in the object) ------------------------

    def get_freepointer(self, s: KmemCache, obj: int) -> int:
        """``get_freepointer()``: the word at ``obj + s->offset`` (a frame never written
        reads as zeros)."""
        phys = obj + s.offset - self.page_offset
        page = self.pages.get(phys >> self.page_shift)
        if page is None:
            return 0
        return self._fp_get(page, phys & self.page_mask)[0]

    def set_freepointer(self, s: KmemCache, obj: int, fp: int) -> None:
        """``set_freepointer()``: store ``fp`` at ``obj + s->offset``."""
        phys = obj + s.offset - self.page_offset
        pfn = phys >> self.page_shift
        page = self.pages.get(pfn)
        if page is None:
            if not fp:
                return
            page = self.pages[pfn] = bytearray(self.page_size)
        self._fp_set(page, phys & self.page_mask, fp)

    def fill(self, addr: int, byte: int, n: int) -> None:
        """memset() on direct-map memory; zeroing a frame nobody wrote costs nothing."""
        phys = addr - self.page_offset
        pages = self.pages
        ps = self.page_size
        while n > 0:
            pfn = phys >> self.page_shift
            off = phys & self.page_mask
            chunk = min(n, ps - off)
            page = pages.get(pfn)
            if page is None:
                if byte:
                    page = pages[pfn] = bytearray(ps)
                    page[off:off + chunk] = bytes([byte]) * chunk
            else:
                page[off:off + chunk] = bytes([byte]) * chunk
            phys += chunk
            n -= chunk

    def read(self, addr: int, n: int) -> bytes:
        return self.k.memory.read(addr - self.page_offset, n)

    def copy(self, dst: int, src: int, n: int) -> None:
        po = self.page_offset
        self.k.memory.write(dst - po, self.k.memory.read(src - po, n))

    # -- slabs -----------------------------------------------------------------------

    def allocate_slab(self, s: KmemCache, gfp: int, node: int) -> Slab | None:
        """``allocate_slab()``: try s->oo quietly, then fall back to s->min."""
        k = self.k
        flags = (gfp & ~G.F_ZERO) | s.allocflags
        alloc_gfp = (flags | G.F_NOWARN | G.F_NORETRY) & ~G.F_NOFAIL
        order = s.order
        if alloc_gfp & G.F_DIRECT_RECLAIM and order > s.min_order:
            alloc_gfp = (alloc_gfp | G.F_NOMEMALLOC) & ~(G.F_DIRECT_RECLAIM | G.F_KSWAPD_RECLAIM)
        sid = self._next_id
        tr = k.tracer
        entry = "alloc_slab_page_chain"     # 6.14+: frozen pages, __alloc_frozen_pages_noprof()
        if tr is not None:     # new_slab() -> allocate_slab() -> alloc_slab_page()
            tr.enter("new_slab", s.name)
            tr.enter("allocate_slab")
            tr.enter("alloc_slab_page", f"order={order}")
        pfn = k.buddy.alloc(alloc_gfp, order, K_SLAB, sid, node, warn=False, entry=entry)
        objects = s.objects
        if pfn < 0:
            # mm/slub.c: retry with s->min and the caller's own flags, even when s->min is
            # the same order ("try same order and flag as the original allocation"), so
            # the page allocator's warn_alloc() report appears unless the caller said NOWARN
            order = s.min_order
            objects = s.min_objects
            if tr is not None:
                tr.leave(None)
                tr.enter("alloc_slab_page", f"order={order} (s->min fallback, caller's gfp)")
            pfn = k.buddy.alloc(flags, order, K_SLAB, sid, node, entry=entry)
        if tr is not None:
            tr.leave(pfn if pfn >= 0 else None)
        if pfn < 0:
            if tr is not None:
                tr.leave(None)
                tr.leave(None)
            return None
        self._next_id = sid + 1
        mm = k.mem_map
        nr = 1 << order
        fmv = mm.flags_mv
        for p in range(pfn, pfn + nr):
            fmv[p] |= PG_slab
        slab = Slab(sid, s, pfn, order, self.page_offset + (pfn << self.page_shift), objects,
                    int(mm.node[pfn]))
        self.slabs[sid] = slab
        ps = self.page_slab
        for p in range(pfn, pfn + nr):
            ps[p] = slab
        n = s.node[slab.node]
        n.nr_slabs += 1
        n.total_objects += objects
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        k.vmstat[key] += nr
        if s.flags & SLAB_POISON:
            self.fill(slab.addr, 0x5a, self.page_size << order)     # POISON_INUSE
        # link the objects in address order (or shuffle_freelist()'s order): each free
        # pointer names the next object
        size = s.size
        start = slab.addr + s.red_left_pad
        debug = s.debug
        if s.random_seq is not None and objects >= 2:
            order_ = self.shuffle_freelist(s, objects)
            if tr is not None:
                tr.leaf("shuffle_freelist", f"start at random_seq[{order_[1]}]")
            order_ = order_[0]
        else:
            order_ = range(objects)
        if not debug and objects >= 16 and isinstance(order_, range):
            # the same free pointers, stored with one numpy store per page (a booted
            # machine links tens of thousands of objects)
            if s.ctor is not None:
                for i in order_:
                    s.ctor(start + i * size)
            self._link_in_order(s, slab, start, objects)
        else:
            prev = 0
            for i in order_:
                obj = start + i * size
                if debug:
                    self.dbg.init_object(s, obj, 0xbb)              # SLUB_RED_INACTIVE
                if s.ctor is not None:
                    s.ctor(obj)
                if prev:
                    self.set_freepointer(s, prev, obj)
                else:
                    slab.freelist = obj
                prev = obj
            self.set_freepointer(s, prev, 0)
        if tr is not None:
            tr.stack[-1].detail = (f"{objects} objects linked in "
                                   + ("shuffled order" if s.random_seq is not None and objects >= 2
                                      else "address order"))
            tr.leave(slab.addr)
            tr.leave(slab.addr)
        return slab

    def _link_in_order(self, s: KmemCache, slab: Slab, start: int, objects: int) -> None:
        """set_freepointer() of object i to object i + 1 (the last to NULL) for all objects
        of a new slab, with the page looked up once per page rather than once per object
        (a booted machine links tens of thousands of objects)."""
        pages = self.pages
        fp_set = self._fp_set
        shift, mask, size = self.page_shift, self.page_mask, s.size
        phys = start + s.offset - self.page_offset
        cur, page = -1, None
        for i in range(objects):
            pfn = phys >> shift
            if pfn != cur:
                cur = pfn
                page = pages.get(pfn)
                if page is None:
                    page = pages[pfn] = bytearray(self.page_size)
            fp_set(page, phys & mask, start + (i + 1) * size if i + 1 < objects else 0)
            phys += size
        slab.freelist = start

    def discard_slab(self, s: KmemCache, slab: Slab) -> None:
        """``discard_slab()`` -> ``free_slab()``: the pages go back to the buddy allocator."""
        k = self.k
        tr = k.tracer
        if tr is not None:
            tr.enter("discard_slab", f"{s.name}: slab pfn={slab.pfn:#x} is empty")
            tr.enter("free_slab")
        n = s.node[slab.node]
        n.nr_slabs -= 1
        n.total_objects -= slab.objects
        nr = 1 << slab.order
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        k.vmstat[key] -= nr
        del self.slabs[slab.id]
        ps = self.page_slab
        for p in range(slab.pfn, slab.pfn + nr):
            del ps[p]
        k.buddy.free(slab.pfn, slab.order, "free_slab_pages_chain")
        if tr is not None:
            tr.leave()
            tr.leave()

    def _add_partial(self, n: KmemCacheNode, slab: Slab, tail: bool) -> None:
        n.partial[slab.id] = slab
        if not tail:
            n.partial.move_to_end(slab.id, last=False)
        slab.on_list = "partial"

    def _remove_partial(self, n: KmemCacheNode, slab: Slab) -> None:
        del n.partial[slab.id]
        slab.on_list = None

    def _add_full(self, s: KmemCache, n: KmemCacheNode, slab: Slab) -> None:
        if s.flags & SLAB_STORE_USER:
            n.full[slab.id] = slab
            slab.on_list = "full"

    def _remove_full(self, s: KmemCache, n: KmemCacheNode, slab: Slab) -> None:
        if slab.on_list == "full":
            del n.full[slab.id]
            slab.on_list = None

    # -- allocation ------------------------------------------------------------------

    def slab_alloc(self, s: KmemCache, gfp: int, node: int = -1, orig_size: int = 0) -> int:
        """``slab_alloc_node()``: pop the CPU's freelist, else ``___slab_alloc()``.
        Returns the object's address or 0."""
        k = self.k
        if s.debug:
            obj = self.dbg.alloc(s, gfp, node, orig_size or s.object_size)
        else:
            c = s.cpu_slab[k.cpu]
            obj = c.freelist
            if obj and (node < 0 or c.slab.node == node):
                c.freelist = self.get_freepointer(s, obj)
            else:
                obj = self._slab_alloc_slow(s, c, gfp, node)
                if not obj:
                    return 0
        if gfp & G.F_ZERO:
            self.fill(obj, 0, orig_size if s.debug and s.orig_size_tracked else s.object_size)
        return obj

    def kmem_cache_alloc_bulk(self, s: KmemCache, gfp: int, n: int) -> list[int]:
        """``kmem_cache_alloc_bulk()`` -> ``__kmem_cache_alloc_bulk()``: ``n`` objects, popped
        from this CPU's freelist and refilled by ``___slab_alloc()`` when it runs dry; [] when
        one cannot be had (those taken go back, as the kernel's error path frees them).
        Neither traced nor announced to subscribers: boot fills caches with it."""
        if s.debug or gfp & G.F_ZERO:
            objs = [self.slab_alloc(s, gfp) for _ in range(n)]
        else:
            c = s.cpu_slab[self.k.cpu]
            get_fp = self.get_freepointer
            objs = []
            append = objs.append
            for _ in range(n):
                obj = c.freelist
                if obj:
                    c.freelist = get_fp(s, obj)
                else:
                    obj = self._slab_alloc_slow(s, c, gfp, -1)
                append(obj)
                if not obj:
                    break
        if objs and not objs[-1]:
            objs.pop()
            for obj in objs:
                slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
                self.slab_free(s, slab, obj)
            return []
        return objs

    def _slab_alloc_slow(self, s: KmemCache, c: KmemCacheCpu, gfp: int, node: int) -> int:
        """``___slab_alloc()`` without per-cpu partial slabs."""
        tr = self.k.tracer
        slab = c.slab
        if slab is not None:
            if node >= 0 and slab.node != node:
                if tr is not None:
                    tr.leaf("deactivate_slab", f"cpu slab is on node {slab.node}, not {node}")
                self.deactivate_slab(s, slab, c.freelist)
                c.slab = None
                c.freelist = 0
            else:
                # get_freelist(): take the objects remote CPUs freed into slab->freelist
                freelist = slab.freelist
                slab.freelist = 0
                slab.inuse = slab.objects
                if tr is not None:
                    tr.leaf("get_freelist", "objects freed by other CPUs onto the cpu slab" if freelist
                            else "cpu slab is full: unfreeze it", freelist)
                if freelist:
                    c.freelist = self.get_freepointer(s, freelist)
                    return freelist
                slab.frozen = False                  # full: on no list
                c.slab = None
        nid = self.k.numa_node_id() if node < 0 else node
        # 4.x: get_partial() and new_slab() are called from new_slab_objects()
        v4 = tr is not None and self.gen.new_slab_objects
        if v4:
            tr.enter("new_slab_objects")
        slab = self.get_partial(s, nid, node < 0)
        if slab is None:
            slab = self.allocate_slab(s, gfp, node)
            if slab is None:
                if v4:
                    tr.leave(None)
                self.slab_out_of_memory(s, gfp, nid)
                return 0
        if v4:
            tr.leave(slab.freelist)
        freelist = slab.freelist
        slab.freelist = 0
        slab.inuse = slab.objects
        slab.frozen = True
        c.slab = slab
        c.freelist = self.get_freepointer(s, freelist)
        return freelist

    def get_partial(self, s: KmemCache, nid: int, any_node: bool) -> Slab | None:
        """``get_partial()``: the head of this node's partial list, else (no node
        requested) another node's (``get_any_partial``)."""
        nodes = [nid] + ([i for i in range(len(s.node)) if i != nid] if any_node else [])
        tr = self.k.tracer
        for i in nodes:
            n = s.node[i]
            if n.partial:
                slab = next(iter(n.partial.values()))
                self._remove_partial(n, slab)
                if tr is not None:
                    tr.leaf("get_partial", f"node {i}: slab pfn={slab.pfn:#x} with "
                                           f"{slab.objects - slab.inuse} free objects", slab.freelist)
                return slab
        if tr is not None:
            tr.leaf("get_partial", f"no partial slab on node {nid}", None)
        return None

    def deactivate_slab(self, s: KmemCache, slab: Slab, freelist: int) -> None:
        """``deactivate_slab()``: splice the CPU's freelist back onto the slab, then put
        the slab on the partial list, leave it full, or discard it if it is empty."""
        free_delta = 0
        tail = 0
        p = freelist
        while p:
            free_delta += 1
            tail = p
            p = self.get_freepointer(s, p)
            if free_delta > slab.objects:                # a cycle: a double free corrupted it
                break
        to_tail = bool(slab.freelist)                   # remote frees: DEACTIVATE_TO_TAIL
        if tail:
            self.set_freepointer(s, tail, slab.freelist)
            slab.freelist = freelist
        slab.inuse -= free_delta
        slab.frozen = False
        n = s.node[slab.node]
        if slab.inuse <= 0 and n.nr_partial >= s.min_partial:
            self.discard_slab(s, slab)
        elif slab.freelist:
            self._add_partial(n, slab, to_tail)
        else:
            self._add_full(s, n, slab)

    def flush_all(self, s: KmemCache) -> None:
        """``flush_all()``: deactivate every CPU's slab of the cache."""
        for c in s.cpu_slab:
            if c.slab is not None:
                slab, fl = c.slab, c.freelist
                c.slab = None
                c.freelist = 0
                self.deactivate_slab(s, slab, fl)

    def slab_out_of_memory(self, s: KmemCache, gfp: int, nid: int) -> None:
        """``slab_out_of_memory()``: the "SLUB: Unable to allocate memory" report."""
        if gfp & G.F_NOWARN:
            return
        k = self.k
        lines = [f"SLUB: Unable to allocate memory on node {nid}, gfp={G.format_gfp(gfp)}",
                 f"  cache: {s.name}, object size: {s.object_size}, buffer size: {s.size}, "
                 f"default order: {s.order}, min order: {s.min_order}"]
        for i, n in enumerate(s.node):
            free = sum(sl.objects - sl.inuse for sl in n.partial.values())
            lines.append(f"  node {i}: slabs: {n.nr_slabs}, objs: {n.total_objects}, free: {free}")
        k.log.printk("warn", "\n".join(lines))

    # -- freeing ---------------------------------------------------------------------

    def slab_free(self, s: KmemCache, slab: Slab, obj: int) -> None:
        """``do_slab_free()``: push onto the CPU's freelist if the object's slab is the
        CPU slab, else ``__slab_free()``."""
        c = s.cpu_slab[self.k.cpu]
        if c.slab is slab:
            self.set_freepointer(s, obj, c.freelist)
            c.freelist = obj
            return
        self.__slab_free(s, slab, obj)

    def __slab_free(self, s: KmemCache, slab: Slab, obj: int) -> None:
        """``__slab_free()``: push on the slab's own freelist; a full slab goes to the
        partial list, an empty one is discarded once the node has ``min_partial``."""
        tr = self.k.tracer
        prior = slab.freelist
        if tr is not None:
            tr.enter("__slab_free", f"slab pfn={slab.pfn:#x} inuse={slab.inuse}"
                                    + (" (another CPU's slab)" if slab.frozen else ""))
        self.set_freepointer(s, obj, prior)
        slab.freelist = obj
        slab.inuse -= 1
        if not slab.frozen:               # else another CPU's slab: it sees it later
            n = s.node[slab.node]
            if slab.inuse == 0 and n.nr_partial >= s.min_partial:
                if prior:
                    self._remove_partial(n, slab)
                else:
                    self._remove_full(s, n, slab)
                self.discard_slab(s, slab)
            elif not prior:
                self._remove_full(s, n, slab)
                self._add_partial(n, slab, True)
                if tr is not None:
                    tr.leaf("add_partial", "was full: now on the node's partial list (tail)")
        if tr is not None:
            tr.leave()

    # -- kmalloc ---------------------------------------------------------------------

    def kmalloc_type(self, gfp: int) -> int:
        """``kmalloc_type()``: DMA beats reclaimable beats accounted (v6.x)."""
        if not gfp & (G.F_DMA | G.F_RECLAIMABLE | G.F_ACCOUNT):
            return KMALLOC_NORMAL
        if gfp & G.F_DMA:
            return KMALLOC_DMA
        if gfp & G.F_RECLAIMABLE:
            return KMALLOC_RECLAIM
        return KMALLOC_CGROUP

    def kmalloc_slab(self, size: int, gfp: int) -> KmemCache | None:
        """``kmalloc_slab()``: the cache for ``size`` (None above KMALLOC_MAX_CACHE_SIZE)."""
        if size <= 192:
            idx = SIZE_INDEX[(size - 1) >> 3] if size else 0
        elif size <= self.kmalloc_max_cache_size:
            idx = (size - 1).bit_length()
        else:
            return None
        if not gfp & (G.F_DMA | G.F_RECLAIMABLE | G.F_ACCOUNT):
            return self.kmalloc_caches[KMALLOC_NORMAL][idx]
        return self.kmalloc_caches[self.kmalloc_type(gfp)][idx]

    def kmalloc(self, size: int, gfp: int, node: int = -1) -> int:
        """``kmalloc()`` / ``kmalloc_node()``: an object of at least ``size`` bytes; 0 on
        failure, ZERO_SIZE_PTR (16) for size 0. ``size`` and ``gfp`` are validated ints.

        This is the hot path, kept lean: the cache comes from a per-size table (what
        ``kmalloc_index()`` computes at compile time for a constant size), then the
        ``slab_alloc_node()`` fast path pops ``c->freelist`` of this CPU's slab: the
        object's free pointer (the word at ``object + s->offset``) becomes the new head.
        Anything else (empty CPU freelist, node request, __GFP_ZERO, a debug cache, an
        active trace) takes the general path."""
        k = self.k
        if k.tracer is not None:
            return self._kmalloc_traced(k.tracer, size, gfp, node)
        if size <= KMALLOC_MAX_CACHE_SIZE and not gfp & _TYPE_GFP:
            s = self.kmalloc_by_size[size]
            if s is None:
                return 16                                   # ZERO_SIZE_PTR
        else:
            s = self._kmalloc_cache(size, gfp)
            if s is None:
                return 16 if not size else self.kmalloc_large(size, gfp, node)
        c = s.cpu_slab[k.cpu]
        obj = c.freelist
        if obj and node < 0 and not gfp & G.F_ZERO and not s.debug:
            # slab_alloc_node() fast path, inlined: pop the CPU's lockless freelist
            phys = obj + s.offset - self.page_offset
            page = self.pages.get(phys >> self.page_shift)
            c.freelist = 0 if page is None else self._fp_get(page, phys & self.page_mask)[0]
        else:
            obj = self.slab_alloc(s, gfp, node, size)
        k.clock.ns += 120
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed("kmalloc", slab.pfn, 1 << slab.order, K_SLAB, obj, size, s.name)
        return obj

    def _kmalloc_cache(self, size: int, gfp: int) -> KmemCache | None:
        """kmalloc_caches[kmalloc_type(gfp)][kmalloc_index(size)], None for size 0 and
        above kmalloc_max_cache_size (those are ZERO_SIZE_PTR / kmalloc_large)."""
        if not size or size > self.kmalloc_max_cache_size:
            return None
        idx = SIZE_INDEX[(size - 1) >> 3] if size <= 192 else (size - 1).bit_length()
        return self.kmalloc_caches[self.kmalloc_type(gfp)][idx]

    def kmalloc_variable(self, size: int, gfp: int, node: int = -1, chain: str = "__kmalloc_node_chain",
                         buckets: list | None = None) -> int:
        """``kmalloc_node()`` with a size only known at run time, as kernel code such as
        vmalloc's page array or kvmalloc calls it: the inline helper falls through to
        ``__kmalloc_node()`` (6.1+ ``__do_kmalloc_node()``) -> ``kmalloc_slab()``. The same
        object as :meth:`kmalloc`; only the traced path differs (names from
        ``k.gen.chain("__kmalloc_node_chain")`` and ``"__kmalloc_node_large_chain"``).
        ``buckets`` (6.11+ ``kmem_buckets``): take the object from that set of caches
        instead of ``kmalloc_caches[kmalloc_type(flags)]``, as ``kmalloc_slab(size, b, ...)``
        does."""
        tr = self.k.tracer
        if buckets is not None and 0 < size <= self.kmalloc_max_cache_size:
            s = buckets[SIZE_INDEX[(size - 1) >> 3] if size <= 192 else (size - 1).bit_length()]
            if tr is None:
                return self._alloc_counted(s, gfp, node, size, "kmalloc")
            site = tr.call_site(1 if self.gen.inlined(self.gen.chain(chain)[0]) else 0)
            obj = tr.through(self.gen.chain(chain), lambda: self._traced_bucket_alloc(tr, s, gfp, node, size),
                             f"size={size} gfp={G.format_gfp(gfp, self.gen)} node={node}")
            self._trace_alloc(tr, "kmalloc", site, obj, size, s.size, gfp, node)
            return obj
        if tr is None or not size:
            return self.kmalloc(size, gfp, node)
        gen = self.gen
        depth = len(tr.stack)
        # __do_kmalloc_node(.., caller): _RET_IP_ of the real function that called it (when the
        # chain starts inline, as in 6.14+ kvmalloc, that is one function further out)
        site = tr.call_site(1 if gen.inlined(gen.chain(chain)[0]) else 0)
        detail = f"size={size} gfp={G.format_gfp(gfp, gen)} node={node}"
        try:
            if size > KMALLOC_MAX_CACHE_SIZE:
                entry = gen.chain(chain)
                names = entry + gen.chain("__do_kmalloc_node_large_chain")
                order = get_order(size, self.page_shift)
                for i, n in enumerate(names):
                    tr.enter(n, detail if i == 0 else
                             (f"order={order} (gfp |= __GFP_COMP)" if i == len(names) - 1 else ""))
                    if i == len(entry) - 1:
                        inner = tr.call_site()  # __kmalloc_large_node_noprof's _RET_IP_
                obj = self.kmalloc_large(size, gfp, node, "__kmalloc_node_large_pages_chain" if node < 0
                                         else "__alloc_pages_chain")
                if gen.kmalloc_large_double_event:
                    self._trace_alloc(tr, "kmalloc", inner, obj, size, self.page_size << order, gfp, node)
                self._trace_alloc(tr, "kmalloc", site, obj, size, self.page_size << order, gfp, node)
            else:
                names = gen.chain(chain)
                tr.enter(names[0], detail)
                for n in names[1:]:
                    tr.enter(n)
                s = self._kmalloc_cache(size, gfp)
                tr.leaf("kmalloc_slab", f"size={size}", s.name)
                if gen.kmem_cache_alloc_node_step:
                    names += ("__kmem_cache_alloc_node",)
                    tr.enter("__kmem_cache_alloc_node", s.name)
                obj = self._slab_alloc_node_traced(tr, s, gfp, node, size)
                self._trace_alloc(tr, "kmalloc", site, obj, size, s.size, gfp, node)
            for _ in names:
                tr.leave(obj)
            return obj
        except BaseException:
            tr.unwind(depth)
            raise

    def _trace_alloc(self, tr, event: str, site: str, obj: int, req: int, alloc: int, gfp: int,
                     node: int, s: KmemCache | None = None) -> None:
        """trace_kmalloc() / trace_kmem_cache_alloc(): fired after the allocation, with the
        object or NULL. Before 6.1 a request for a node is its own event, kmalloc_node."""
        if tr.events is None:
            return
        if node >= 0 and not self.gen.kmem_unified_node:
            event += "_node"
        accounted = bool(gfp & G.F_ACCOUNT) or (s is not None and bool(s.flags & SLAB_ACCOUNT))
        tr.kmem(event, call_site=site, ptr=obj, bytes_req=req, bytes_alloc=alloc, gfp_flags=gfp,
                node=node, accounted=accounted, name=s.name if s is not None else "")

    def _cache_ref(self, gfp: int, idx: int, s: KmemCache) -> str:
        """How the kernel's source names the cache kmalloc picked: ``kmalloc_caches[index]``
        (and ``kmalloc_dma_caches[]``) before 4.20, ``kmalloc_caches[type][index]`` since."""
        if self.gen.kmalloc_caches_by_type:
            t = ("KMALLOC_NORMAL", "KMALLOC_RECLAIM", "KMALLOC_DMA", "KMALLOC_CGROUP")[self.kmalloc_type(gfp)]
            return f"kmalloc_caches[{t}][{idx}] = {s.name}"
        return f"{'kmalloc_dma_caches' if gfp & G.F_DMA else 'kmalloc_caches'}[{idx}] = {s.name}"

    def _alloc_counted(self, s: KmemCache, gfp: int, node: int, size: int, event: str) -> int:
        """slab_alloc_node() from ``s`` plus the clock and the change event: what every
        kmalloc-like entry point does once it has chosen its cache."""
        return self._allocated(self.slab_alloc(s, gfp, node, size), s, size, event)

    def _allocated(self, obj: int, s: KmemCache, size: int, event: str) -> int:
        k = self.k
        k.clock.ns += 120
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed(event, slab.pfn, 1 << slab.order, K_SLAB, obj, size, s.name)
        return obj

    def _traced_bucket_alloc(self, tr, s: KmemCache, gfp: int, node: int, size: int) -> int:
        tr.leaf("kmalloc_slab", f"size={size} (kmem_buckets)", s.name)
        return self._allocated(self._slab_alloc_node_traced(tr, s, gfp, node, size), s, size, "kmalloc")

    def _kmalloc_traced(self, tr, size: int, gfp: int, node: int) -> int:
        """kmalloc() while a trace runs: the same work as :meth:`kmalloc`, recorded with
        the kernel's function names of the machine's generation.

        Which form is modelled: a notebook passes a Python int, which in C would
        usually be a compile-time constant, so kmalloc() takes the inline
        constant-size path of include/linux/slab.h (the seed article's code):
        ``kmalloc`` -> ``kmalloc_index`` -> ``k.gen.chain("kmalloc_cache_chain")`` (4.5:
        ``kmem_cache_alloc_trace`` -> ``slab_alloc``; 6.1: ``kmalloc_trace`` ->
        ``__kmem_cache_alloc_node``; 6.11+: ``__kmalloc_cache_noprof``) -> ``slab_alloc_node``
        (6.1+: -> ``__slab_alloc_node``). Above KMALLOC_MAX_CACHE_SIZE:
        ``k.gen.chain("kmalloc_large_chain")`` (4.5: ``kmalloc_large`` ->
        ``kmalloc_order_trace`` -> ``kmalloc_order`` -> ``alloc_kmem_pages``). Before v4.20 a
        __GFP_DMA request left the inline path for ``__kmalloc`` -> ``kmalloc_slab`` ->
        ``slab_alloc``; from 6.1 kmalloc(0) goes ``__kmalloc`` -> ``kmalloc_slab``.

        The fast path ends in ``slab_alloc_node`` (6.1+: ``__slab_alloc_node``) with no
        callees; the slow path shows ``__slab_alloc`` -> ``___slab_alloc`` and what that
        did (``get_freelist``, ``get_partial``, ``new_slab`` -> ``allocate_slab`` ->
        ``alloc_slab_page`` -> the page allocator)."""
        gen = self.gen
        depth = len(tr.stack)
        site = tr.call_site()
        name = gen.name("kmalloc" if node < 0 else "kmalloc_node")
        tr.enter(name, f"size={size} gfp={G.format_gfp(gfp, gen)}"
                       + (f" node={node}" if node >= 0 else ""))
        try:
            if size > self.kmalloc_max_cache_size:
                names = gen.chain("kmalloc_large_chain" if node < 0 else "kmalloc_large_node_chain")
                order = get_order(size, self.page_shift)
                for i, n in enumerate(names):
                    tr.enter(n, f"order={order} (gfp |= __GFP_COMP)" if i == len(names) - 1 else "")
                obj = self.kmalloc_large(size, gfp, node)
                for _ in names:
                    tr.leave(obj)
                self._trace_alloc(tr, "kmalloc", site, obj, size, self.page_size << order, gfp, node)
                return tr.leave(obj)
            if not size:
                if gen.kmalloc_zero_via_kmalloc:
                    # 6.1+ kmalloc(): `if (__builtin_constant_p(size) && size)`, so size 0
                    # goes to __kmalloc(), whose kmalloc_slab() returns ZERO_SIZE_PTR
                    names = gen.chain("__kmalloc_chain")
                    for n in names:
                        tr.enter(n)
                    tr.leaf("kmalloc_slab", "size=0", "ZERO_SIZE_PTR")
                    for _ in names:
                        tr.leave(16)
                else:
                    tr.leaf("kmalloc_index", "size=0", 0)   # `if (!index) return ZERO_SIZE_PTR`
                return tr.leave(16)
            s = self._kmalloc_cache(size, gfp)
            if not gen.kmalloc_dma_inline and gfp & G.F_DMA:
                # v4.19 kmalloc(): `if (!(flags & GFP_DMA))` guards the inline path
                names = gen.chain("__kmalloc_chain" if node < 0 else "__kmalloc_node_chain")
                tr.enter(names[0])
                tr.leaf("kmalloc_slab", f"size={size}", s.name)
                if node < 0:
                    names += ("slab_alloc",)
                    tr.enter("slab_alloc")
            else:
                idx = kmalloc_index(size)
                tr.leaf("kmalloc_index", f"size={size}", idx)
                names = gen.chain("kmalloc_cache_chain" if node < 0 else "kmalloc_cache_node_chain")
                tr.enter(names[0], self._cache_ref(gfp, idx, s))
                for n in names[1:]:
                    tr.enter(n)
            obj = self._slab_alloc_node_traced(tr, s, gfp, node, size)
            self.k.clock.ns += 120
            if obj and self.k.bus.subscribers:
                slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
                self.k.bus.changed("kmalloc", slab.pfn, 1 << slab.order, K_SLAB, obj, size, s.name)
            for _ in names:
                tr.leave(obj)
            self._trace_alloc(tr, "kmalloc", site, obj, size, s.size, gfp, node)
            return tr.leave(obj)
        except BaseException:
            tr.unwind(depth)
            raise

    def _slab_alloc_node_traced(self, tr, s: KmemCache, gfp: int, node: int, orig_size: int) -> int:
        """``slab_alloc_node()`` (6.1+: with ``__slab_alloc_node()``) recorded: a CPU
        freelist hit has no callees, a miss shows ``__slab_alloc`` -> ``___slab_alloc``."""
        split = self.gen.slab_alloc_node_split
        tr.enter("slab_alloc_node", s.name)
        if split:
            tr.enter("__slab_alloc_node")
        c = s.cpu_slab[self.k.cpu]
        obj = c.freelist
        if obj and not s.debug and (node < 0 or c.slab.node == node):
            c.freelist = self.get_freepointer(s, obj)
            tr.stack[-1].detail = f"c->freelist hit: object {obj:#x}, next {c.freelist:#x} (fast path)"
        else:
            tr.enter("__slab_alloc")
            tr.enter("___slab_alloc", "debug cache: no cpu slab" if s.debug else
                     "c->freelist empty" if not obj else f"cpu slab not on node {node}")
            if s.debug:
                obj = self.dbg.alloc(s, gfp, node, orig_size or s.object_size)
                tr.leaf("alloc_debug_processing", "checks, red zones, poison")
            else:
                obj = self._slab_alloc_slow(s, c, gfp, node)
            tr.leave(obj)
            tr.leave(obj)
        if obj and gfp & G.F_ZERO:
            n = orig_size if s.debug and s.orig_size_tracked else s.object_size
            tr.leaf("memset", f"__GFP_ZERO: {n} bytes")
            self.fill(obj, 0, n)
        if split:
            tr.leave(obj)
        return tr.leave(obj)
    def kmalloc_large(self, size: int, gfp: int, node: int = -1, entry: str = "") -> int:
        """``__kmalloc_large_node()``: a compound block of get_order(size) pages. ``entry``:
        the page-allocator chain a trace shows (by default: a constant-size kmalloc()'s
        for NUMA_NO_NODE, the plain entry for a node)."""
        k = self.k
        order = ((size - 1) >> self.page_shift).bit_length()        # get_order(size)
        if not entry:
            entry = "kmalloc_large_pages_chain" if node < 0 else "__alloc_pages_chain"
        pfn = k.buddy.alloc(gfp | G.F_COMP, order, K_KMALLOC_LARGE, 0, node, entry=entry)
        if pfn < 0:
            return 0
        if self._large_accounted:
            k.vmstat["nr_slab_unreclaimable"] += 1 << order
        addr = self.page_offset + (pfn << self.page_shift)
        k.clock.ns += 300
        if k.bus.subscribers:
            k.bus.changed("kmalloc", pfn, 1 << order, K_KMALLOC_LARGE, addr, size,
                          f"kmalloc_large order:{order}")
        return addr

    def lookup(self, addr: int, fn: str):
        """``virt_to_folio()`` for a kfree/ksize argument: (slab, None) for a slab page,
        (None, head pfn) for another page; KernelBug for a non-direct-map address."""
        off = addr - self.page_offset
        if not 0 <= off < (self.k.max_low_pfn << self.page_shift):
            raise self._bad_virt(addr, fn)
        pfn = off >> self.page_shift
        slab = self.page_slab.get(pfn)
        if slab is not None:
            return slab, pfn
        flags = self.k.mem_map.flags_mv
        head = pfn
        while head > 0 and flags[head] & PG_tail:
            head -= 1
        return None, head

    def _bad_virt(self, addr: int, fn: str) -> KernelBug:
        k = self.k
        text = (f"------------[ cut here ]------------\n"
                f"kernel BUG at arch/x86/mm/physaddr.c:28!\n"
                f"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n"
                f"{k.cpu_line()}\n"
                f"RIP: 0010:__phys_addr+0x4f/0x60\n"
                f"Call Trace:\n <TASK>\n {fn}+0x2a/0x180\n </TASK>")
        k.log.printk("warn", text)
        return KernelBug(f"{fn}({addr:#x}): not a direct-map address, so not from kmalloc() "
                         "(virt_to_page() of it is meaningless)", text)

    def kfree(self, addr: int) -> None:
        """``kfree()``: NULL and ZERO_SIZE_PTR are ignored; slab objects go back to their
        cache, other pages (kmalloc_large) back to the buddy allocator.

        Hot path: ``virt_to_slab()`` is one look-up in the pfn -> slab index, then
        ``do_slab_free()``'s fast path pushes the object on ``c->freelist`` when its slab
        is this CPU's slab (the old head is stored in the object at ``s->offset``)."""
        if addr <= 16:
            tr = self.k.tracer
            if tr is not None and tr.events is not None:    # kfree(): trace_kfree() comes first
                tr.kmem("kfree", call_site=tr.call_site(), ptr=addr)
            return
        k = self.k
        if k.tracer is not None:
            return self._kfree_traced(k.tracer, addr)
        pfn = (addr - self.page_offset) >> self.page_shift
        slab = self.page_slab.get(pfn)
        if slab is None:
            if (0 <= pfn < self.k.max_low_pfn and not addr & self.page_mask
                    and self.k.mem_map.kind_mv[pfn] == K_KMALLOC_LARGE):
                self.free_large_kmalloc(pfn, addr)      # the head of a kmalloc_large block
                return
            slab, pfn = self.lookup(addr, "kfree")
            if slab is None:
                self.free_large_kmalloc(pfn, addr)
                return
        s = slab.cache
        if s.debug:
            self.dbg.free(s, slab, addr, "kfree")
        else:
            c = s.cpu_slab[k.cpu]
            if c.slab is slab:
                phys = addr + s.offset - self.page_offset
                page = self.pages.get(phys >> self.page_shift)
                if page is None:
                    self.set_freepointer(s, addr, c.freelist)
                else:
                    self._fp_set(page, phys & self.page_mask, c.freelist)
                c.freelist = addr
            else:
                self.__slab_free(s, slab, addr)
        k.clock.ns += 100
        if k.bus.subscribers:
            k.bus.changed("kfree", slab.pfn, 1 << slab.order, K_SLAB, addr, s.object_size, s.name)

    def _kfree_traced(self, tr, addr: int) -> None:
        """kfree() while a trace runs: ``kfree`` -> ``slab_free`` -> ``do_slab_free``
        (a leaf when the object went on ``c->freelist``; else -> ``__slab_free``, maybe ->
        ``discard_slab`` -> ``free_slab`` -> ``__free_pages``). A large kmalloc block:
        4.x ``kfree`` -> ``__free_pages``; 6.x ``kfree`` -> ``free_large_kmalloc``."""
        depth = len(tr.stack)
        if tr.events is not None:
            tr.kmem("kfree", call_site=tr.call_site(), ptr=addr)
        tr.enter("kfree", f"{addr:#x}")
        try:
            slab, pfn = self.lookup(addr, "kfree")
            if slab is None:
                name = self.gen.name("kfree_large")
                if name != "__free_pages":      # 4.7-6.0 kfree() calls __free_pages() itself
                    tr.enter(name, f"order={int(self.k.mem_map.order[pfn])}")
                    self.free_large_kmalloc(pfn, addr)
                    tr.leave()
                else:
                    self.free_large_kmalloc(pfn, addr)
                return tr.leave()
            self._slab_free_traced(tr, slab.cache, slab, addr, "kfree")
            k = self.k
            k.clock.ns += 100
            if k.bus.subscribers:
                s = slab.cache
                k.bus.changed("kfree", slab.pfn, 1 << slab.order, K_SLAB, addr, s.object_size, s.name)
            return tr.leave()
        except BaseException:
            tr.unwind(depth)
            raise

    def _slab_free_traced(self, tr, s: KmemCache, slab: Slab, addr: int, fn: str) -> None:
        """``slab_free()`` -> ``do_slab_free()`` recorded (v4.14 .. v6.6 share the names)."""
        tr.enter("slab_free", s.name)
        tr.enter("do_slab_free")
        if s.debug:
            # kmem_cache_debug(s): no cpu slab; __slab_free() -> free_to_partial_list()
            # (v6.2+; before, free_debug_processing() inside __slab_free())
            tr.enter("__slab_free")
            tr.enter(self.gen.name("free_debug_processing"))
            self.dbg.free(s, slab, addr, fn)
            tr.leave()
            tr.leave()
        else:
            c = s.cpu_slab[self.k.cpu]
            if c.slab is slab:
                self.set_freepointer(s, addr, c.freelist)
                c.freelist = addr
                tr.stack[-1].detail = f"object's slab is the cpu slab: pushed on c->freelist (fast path)"
            else:
                self.__slab_free(s, slab, addr)
        tr.leave()
        tr.leave()

    def free_large_kmalloc(self, pfn: int, addr: int) -> None:
        """``free_large_kmalloc()``: free the compound block holding ``addr`` (6.x WARNs
        for an order-0 page, which kmalloc never returns, and frees it anyway)."""
        k = self.k
        mm = k.mem_map
        kind = mm.kind_mv[pfn]
        order = mm.order_mv[pfn]
        if (kind != K_KMALLOC_LARGE and kind != K_PAGES) or order < 0:
            k.buddy.check_free(pfn, max(order, 0))        # raises: bad page state
            raise KernelBug(f"kfree({addr:#x}): not memory from kmalloc()")
        if order == 0 and not mm.flags_mv[pfn] & PG_head:
            # free_large_kmalloc(): `if (WARN_ON_ONCE(order == 0)) pr_warn_once("object pointer: 0x%p\n")`
            k.warn_on(f"free_large_kmalloc:{pfn}", k.gen.free_large_kmalloc_warn_site,
                      k.gen.name("kfree_large"), ("kfree",), f"object pointer: {addr:#018x}")
        k.buddy.check_free(pfn, order)
        if kind == K_KMALLOC_LARGE and self._large_accounted:
            k.vmstat["nr_slab_unreclaimable"] -= 1 << order
        k.buddy.free(pfn, order, "free_slab_pages_chain")     # 6.15+: free_frozen_pages()
        k.clock.ns += 300
        if k.bus.subscribers:
            k.bus.changed("kfree", pfn, 1 << order, K_KMALLOC_LARGE, addr, self.page_size << order,
                          f"kmalloc_large order:{order}")

    def ksize(self, addr: int) -> int:
        """``ksize()``: the usable size of a kmalloc'ed object (``slab_ksize()``), or of
        a large kmalloc block; 0 for NULL / ZERO_SIZE_PTR."""
        if addr <= 16:
            return 0
        slab, pfn = self.lookup(addr, "ksize")
        if slab is None:
            k = self.k
            order = int(k.mem_map.order[pfn])
            if order < 0 or (self.page_size << order) <= KMALLOC_MAX_CACHE_SIZE:
                # __ksize(): WARN_ON(folio_size(folio) <= KMALLOC_MAX_CACHE_SIZE)
                k.warn_on(f"ksize:{pfn}", k.gen.ksize_warn_site, "__ksize", ("ksize",))
                return 0
            return self.page_size << order
        return self.slab_ksize(slab.cache)

    @staticmethod
    def slab_ksize(s: KmemCache) -> int:
        """mm/slab.h ``slab_ksize()``."""
        if s.flags & (SLAB_RED_ZONE | SLAB_POISON):
            return s.object_size
        if s.flags & SLAB_STORE_USER:
            return s.inuse
        return s.size

    def krealloc(self, addr: int, new_size: int, gfp: int) -> int:
        """``krealloc()``: keep the object when ksize() still fits, else allocate, copy
        ksize() bytes and free the old one; new_size 0 frees and returns ZERO_SIZE_PTR."""
        if not new_size:
            self.kfree(addr)
            return 16
        ks = self.ksize(addr) if addr > 16 else 0
        if ks >= new_size:
            if addr > 16:
                slab, _ = self.lookup(addr, "krealloc")
                if slab is not None and slab.cache.debug:
                    self.dbg.resize(slab.cache, addr, new_size)
            return addr
        new = self.kmalloc(new_size, gfp)
        if new and addr > 16:
            self.copy(new, addr, ks)
            self.kfree(addr)
        return new

    # -- user caches -------------------------------------------------------------------

    def kmem_cache_alloc(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        """``kmem_cache_alloc()`` -> ``slab_alloc()`` -> ``slab_alloc_node()``."""
        k = self.k
        tr = k.tracer
        if tr is None:
            obj = self.slab_alloc(s, gfp, node)
        else:
            depth = len(tr.stack)
            try:
                names = k.gen.chain("kmem_cache_alloc_chain")
                site = tr.call_site()
                tr.enter(names[0], f"{s.name} gfp={G.format_gfp(gfp, k.gen)}")
                for n in names[1:]:
                    tr.enter(n)
                obj = self._slab_alloc_node_traced(tr, s, gfp, node, s.object_size)
                for _ in names:
                    tr.leave(obj)
                self._trace_alloc(tr, "kmem_cache_alloc", site, obj, s.object_size, s.size, gfp, node, s)
            except BaseException:
                tr.unwind(depth)
                raise
        k.clock.advance(100)
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed("kmem_cache_alloc", slab.pfn, 1 << slab.order, K_SLAB, obj,
                          s.object_size, s.name)
        return obj

    def kmem_cache_free(self, s: KmemCache, addr: int) -> None:
        """``kmem_cache_free()``; ``cache_from_obj()`` WARNs when the object belongs to
        another cache and frees it to the right one."""
        if not addr:
            return
        slab, pfn = self.lookup(addr, "kmem_cache_free")
        k = self.k
        if slab is None:
            text = (f"------------[ cut here ]------------\n"
                    f"kernel BUG at mm/slub.c: kmem_cache_free({s.name}, {addr:#x}): "
                    f"page is not a slab page\n"
                    f"{k.cpu_line()}")
            k.log.printk("warn", text)
            raise KernelBug(f"kmem_cache_free({s.name}, {addr:#x}): not a slab object", text)
        if slab.cache is not s:
            k.log.printk("warn", f"------------[ cut here ]------------\n"
                                 f"kmem_cache_free: Wrong slab cache. {s.name} but object is from "
                                 f"{slab.cache.name}\n"
                                 f"WARNING: CPU: {k.cpu} PID: {k.pid} at mm/slab.h cache_from_obj\n"
                                 f"---[ end trace 0000000000000000 ]---")
            s = slab.cache
        tr = k.tracer
        if tr is not None:
            depth = len(tr.stack)
            try:
                if tr.events is not None:
                    tr.kmem("kmem_cache_free", call_site=tr.call_site(), ptr=addr, name=s.name)
                tr.enter("kmem_cache_free", f"{s.name} {addr:#x}")
                self._slab_free_traced(tr, s, slab, addr, "kmem_cache_free")
                tr.leave()
            except BaseException:
                tr.unwind(depth)
                raise
        elif s.debug:
            self.dbg.free(s, slab, addr, "kmem_cache_free")
        else:
            self.slab_free(s, slab, addr)
        k.clock.advance(100)
        if k.bus.subscribers:
            k.bus.changed("kmem_cache_free", slab.pfn, 1 << slab.order, K_SLAB, addr,
                          s.object_size, s.name)

    def kmem_cache_create(self, name: str, size: int, align: int, flags: int, ctor=None, **args):
        """``kmem_cache_create()``: a new cache, or None (logged) when the arguments fail
        the kernel's checks. ``args``: ``useroffset``/``usersize`` as
        ``kmem_cache_create_usercopy()`` takes them, ``freeptr_offset`` and ``sheaf_capacity``
        as ``struct kmem_cache_args`` holds them (6.12+)."""
        k = self.k
        if size > 1 << (self.page_shift + k.profile.max_order - 1) or size < 1:
            k.log.printk("err", f"kmem_cache_create({name}) integrity check failed")
            k.log.printk("warn", f"kmem_cache_create({name}) failed with error -22")
            return None
        flags |= self._debug_flags_for(name)
        align = self.calculate_alignment(flags, align, size, self.ptr)
        s = self.create_cache(name, size, align, flags, ctor, **args)
        if s.order < 0:
            self.slab_caches.remove(s)
            del self.caches_by_id[s.id]
            k.log.printk("warn", f"kmem_cache_create({name}) failed with error -38")
            return None
        return s

    def live_objects(self, s: KmemCache) -> int:
        """Objects allocated and not freed (slabs' inuse less the CPUs' free objects)."""
        total = 0
        for n in s.node:
            total += n.total_objects
        free = 0
        for c in s.cpu_slab:
            p = c.freelist
            while p and free <= total:
                free += 1
                p = self.get_freepointer(s, p)
        for slab in self.slabs_of(s):
            free += slab.objects - slab.inuse
        return total - free

    def slabs_of(self, s: KmemCache):
        return [sl for sl in self.slabs.values() if sl.cache is s]

    def kmem_cache_shrink(self, s: KmemCache) -> int:
        """``__kmem_cache_do_shrink()``: flush CPU slabs, free every empty slab, and
        order the partial list fullest first. Returns 1 if slabs remain."""
        self.flush_all(s)
        ret = 0
        for n in s.node:
            empty = [sl for sl in n.partial.values() if sl.inuse == 0]
            for sl in empty:
                self._remove_partial(n, sl)
                self.discard_slab(s, sl)
            rest = sorted(n.partial.values(), key=lambda sl: sl.objects - sl.inuse)
            n.partial = OrderedDict((sl.id, sl) for sl in rest)
            if n.partial:
                ret = 1
        return ret

    def kmem_cache_destroy(self, s: KmemCache, caller: str = "kmem_cache_destroy") -> bool:
        """``kmem_cache_destroy()`` -> ``shutdown_cache()``: refuses, with the kernel's
        report, while objects are allocated (the cache then stays, as in the kernel)."""
        k = self.k
        self.flush_all(s)
        for n in s.node:
            for sl in [sl for sl in n.partial.values() if sl.inuse == 0]:
                self._remove_partial(n, sl)
                self.discard_slab(s, sl)
        left = self.slabs_of(s)
        if left:
            for sl in left:
                self.dbg.report_objects_remaining(s, sl)
            k.log.printk("warn", f"------------[ cut here ]------------\n"
                                 f"kmem_cache_destroy {s.name}: Slab cache still has objects when "
                                 f"called from {caller}\n"
                                 f"WARNING: CPU: {k.cpu} PID: {k.pid} at mm/slab_common.c "
                                 f"kmem_cache_destroy\n---[ end trace 0000000000000000 ]---")
            return False
        self.slab_caches.remove(s)
        del self.caches_by_id[s.id]
        return True


def caller_name(skip_module: str = "kmemlab") -> str:
    """The first caller outside kmemlab, printed like ``%pS`` (the Python line stands
    in for the instruction offset): ``my_init+0x1d/0x1000 [cell]``."""
    f = sys._getframe(1)
    while f is not None and f.f_globals.get("__name__", "").startswith(skip_module):
        f = f.f_back
    if f is None:
        return "0x0"
    mod = f.f_globals.get("__name__", "?")
    return f"{f.f_code.co_name}+{f.f_lineno:#x}/0x1000 [{mod}]"


def check_slub(k) -> None:
    """Invariants of the slab allocator (called by ``check_invariants()``)."""
    import numpy as np
    from .invariants import _fail
    slub = k.slub
    mm = k.mem_map
    pages = {"nr_slab_reclaimable": 0, "nr_slab_unreclaimable": 0}
    # every slab's pages are marked slab, owned by it, head order = slab order: checked for
    # all slabs in one numpy pass (a booted machine has thousands), the culprit named after
    if slub.slabs:
        heads = np.fromiter((sl.pfn for sl in slub.slabs.values()), np.int64, len(slub.slabs))
        orders = np.fromiter((sl.order for sl in slub.slabs.values()), np.int64, len(slub.slabs))
        sids = np.fromiter(slub.slabs, np.int64, len(slub.slabs))
        counts = 1 << orders
        idx = np.repeat(heads, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        owner = np.repeat(sids, counts)
        bad = ((mm.kind[idx] != K_SLAB) | (mm.owner[idx] != owner) | ((mm.flags[idx] & PG_slab) == 0))
        bad_slab = np.repeat(np.arange(len(heads)), counts)[bad]
        wrong_order = np.flatnonzero(mm.order[heads] != orders)
        first = min(bad_slab.tolist()[:1] + wrong_order.tolist()[:1], default=None)
        if first is not None:
            slab = slub.slabs[int(sids[first])]
            _fail(f"slab at pfn {slab.pfn:#x} ({slab.cache.name}): its pages are not marked slab/owner {slab.id}")
    per_node: dict[tuple[int, int], list[int]] = {}       # (cache id, node) -> [slabs, objects]
    for sid, slab in slub.slabs.items():
        s = slab.cache
        nr = 1 << slab.order
        if slab.id != sid or s.id not in slub.caches_by_id:
            _fail(f"slab {sid} of {s.name} is not registered with its cache")
        c = per_node.setdefault((s.id, slab.node), [0, 0])
        c[0] += 1
        c[1] += slab.objects
        if any(slub.page_slab.get(p) is not slab for p in range(slab.pfn, slab.pfn + nr)):
            _fail(f"slab at pfn {slab.pfn:#x}: page -> slab index disagrees")
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        pages[key] += nr
        # the free objects: on the slab's freelist, plus a CPU's freelist for a CPU slab
        chains = [slab.freelist]
        owners = [c for c in s.cpu_slab if c.slab is slab]
        if slab.frozen != bool(owners) or len(owners) > 1:
            _fail(f"slab at pfn {slab.pfn:#x} ({s.name}): frozen={slab.frozen} but it is the CPU slab "
                  f"of {len(owners)} CPUs")
        chains += [c.freelist for c in owners]
        free = set()
        on_slab = 0
        for i, p in enumerate(chains):
            while p:
                if not slub.dbg.check_valid_pointer(s, slab, p):
                    _fail(f"{s.name}: free pointer {p:#x} in slab {slab.pfn:#x} is not an object start")
                if p in free:
                    _fail(f"{s.name}: object {p:#x} is twice on a freelist (double free)")
                free.add(p)
                on_slab += i == 0
                p = slub.get_freepointer(s, p)
        # inuse counts what is not on the slab's own freelist (a CPU's free objects count)
        if slab.inuse != slab.objects - on_slab:
            _fail(f"{s.name}: slab {slab.pfn:#x} inuse={slab.inuse} but {slab.objects - on_slab} "
                  "objects are off its freelist")
        n = s.node[slab.node]
        where = "partial" if slab.id in n.partial else "full" if slab.id in n.full else None
        if where != slab.on_list:
            _fail(f"{s.name}: slab {slab.pfn:#x} says it is on list {slab.on_list} but is on {where}")
        if where == "partial" and (not slab.freelist or slab.frozen):
            _fail(f"{s.name}: slab {slab.pfn:#x} is on the partial list without free objects")
        if not slab.frozen and where is None and slab.inuse != slab.objects:
            _fail(f"{s.name}: slab {slab.pfn:#x} with free objects is on no list (lost)")
    for s in slub.slab_caches:
        for nid, n in enumerate(s.node):
            has_slabs, has_objects = per_node.get((s.id, nid), (0, 0))
            if n.nr_slabs != has_slabs or n.total_objects != has_objects:
                _fail(f"{s.name}: node {nid} counts {n.nr_slabs} slabs/{n.total_objects} objects, "
                      f"has {has_slabs}/{has_objects}")
    if k.gen.kmalloc_large_accounted:
        heads = np.flatnonzero((mm.kind == K_KMALLOC_LARGE) & (mm.order >= 0))
        pages["nr_slab_unreclaimable"] += int(sum(1 << int(o) for o in mm.order[heads]))
    for key, v in pages.items():
        if k.vmstat[key] != v:
            _fail(f"vmstat {key}={k.vmstat[key]} but slabs hold {v} pages")
