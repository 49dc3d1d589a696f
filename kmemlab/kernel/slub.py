"""SLUB: ``struct kmem_cache``, slabs, per-CPU slabs and partial lists, freelists.

Think of a cache as a shelf of egg boxes: every box (a *slab*, one or a few physically
contiguous pages from the buddy allocator) holds the same number of equal-sized cups
(*objects*). Each CPU keeps one open box in front of it (the *CPU slab*, whose free cups
form its lockless freelist) and a small pile of half-full boxes beside it (the *per-CPU
partial slabs*); the shelf behind (the *node partial list*) holds the other half-full
boxes. ``kmalloc(100)`` (see :mod:`kmemlab.kernel.slab_common` for how the shelf is
chosen) takes a cup from the open box; when it is empty SLUB opens a box from the CPU's
pile, then from the shelf, and only then asks the page allocator for a new one.

Modelled on mm/slub.c of the releases in :mod:`kmemlab.kernel.generation` (6.18 by
default; differences are rows of that table):

- geometry: ``calculate_sizes()`` / ``calculate_order()`` / ``calc_slab_order()`` (free
  pointer mid-object since v5.7), ``set_min_partial()``, ``set_cpu_partial()`` (6, 24, 52
  or 120 objects by object size, kept as ``cpu_partial_slabs`` slabs since 5.16; 2, 6, 13,
  30 objects counted as ``pobjects`` before);
- the allocation path ``slab_alloc_node()`` (per-CPU freelist fast path) and
  ``___slab_alloc()``: ``get_freelist()`` of the CPU slab, then the CPU partial list
  (``slub_percpu_partial()``), ``get_partial()`` -> ``get_partial_node()`` (which also moves
  up to half of ``cpu_partial_slabs`` more slabs onto the CPU partial list) ->
  ``get_any_partial()``, and ``new_slab()`` -> ``allocate_slab()``;
- the free path ``do_slab_free()`` (fast path onto the CPU freelist) and ``__slab_free()``:
  a slab that was full goes onto this CPU's partial list (``put_cpu_partial()``, which
  drains the list to the node, ``__put_partials()``, when it is full), an empty slab on
  the node partial list is discarded once the node keeps ``min_partial`` slabs;
  ``deactivate_slab()``, ``flush_all()``, ``__kmem_cache_shrink()``,
  ``__kmem_cache_shutdown()``;
- until 6.7 the slabs on a CPU partial list are *frozen* like the CPU slab; from 6.8
  ("slub: delay freezing of partial slabs") only the CPU slab is;
- freelists are threaded through the free objects in the machine's memory: the word at
  ``object + s->offset`` of a free object holds the address of the next free object, so
  a use-after-free write can corrupt it and a double free makes the freelist hand the
  same object out twice, as on a real machine;
- SLUB debugging (``slub_debug=FZPU``, :mod:`kmemlab.kernel.slub_debug`): debug caches
  take the v6.2+ path without CPU slabs (``alloc_single_from_partial()`` /
  ``free_to_partial_list()``).

Simplifications (each a real kernel configuration, except the last three): no freelist
pointer hardening (CONFIG_SLAB_FREELIST_HARDENED=n: the stored free pointer is the plain
address, so a memory dump shows it); freelist randomisation only with
``Machine(freelist_random=True)`` (CONFIG_SLAB_FREELIST_RANDOM); no ``kmem_cache`` /
``kmem_cache_node`` boot caches here (the booted machine adds them); the ``cache_from_obj()``
check of ``kmem_cache_free()`` always runs; ``get_any_partial()`` always looks at other
nodes (the kernel skips it when ``get_cycles() % 1024`` exceeds the defrag ratio, about
2 % of the time); a CPU partial list keeps its slabs in a Python list, head first, instead
of a chain through ``slab->next``.
"""

from __future__ import annotations

import copy
import struct
import zlib
from collections import OrderedDict
from typing import NamedTuple

from . import gfp as G
from .errors import KernelBug, SlabCtorError
from .mem_map import K_KMALLOC_LARGE, K_PAGES, K_SLAB, PG_head, PG_slab
from .slab_common import (ARCH_KMALLOC_MINALIGN, GFP_SLAB_BUG_MASK, KMALLOC_CGROUP, KMALLOC_DMA,
                          KMALLOC_MAX_CACHE_SIZE, KMALLOC_MIN_SIZE, KMALLOC_NORMAL,
                          KMALLOC_NOT_NORMAL_BITS, KMALLOC_RECLAIM, KMALLOC_SHIFT_HIGH,
                          KMALLOC_SHIFT_LOW, L1_CACHE_BYTES, OBJECT_POISON, POISON_INUSE,
                          SLAB_ACCOUNT, SLAB_CACHE_DMA, SLAB_CONSISTENCY_CHECKS, SLAB_DEBUG_FLAGS,
                          SLAB_HWCACHE_ALIGN, SLAB_KMALLOC, SLAB_PANIC, SLAB_POISON,
                          SLAB_RECLAIM_ACCOUNT, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU,
                          SLAB_USER_FLAGS, SLUB_RED_INACTIVE, ZERO_SIZE_PTR, SlabCommon, _align,
                          _caller_ip, calculate_alignment, get_order, kmalloc_index, kmalloc_size,
                          traced)
from .slub_sheaves import SlabSheaf, SlubSheaves

__all__ = ["Slub", "KmemCache", "Slab", "kmalloc_index", "kmalloc_size", "get_order",
           "calculate_order", "KMALLOC_MIN_SIZE", "KMALLOC_SHIFT_LOW", "KMALLOC_SHIFT_HIGH",
           "KMALLOC_MAX_CACHE_SIZE", "KMALLOC_NORMAL", "KMALLOC_RECLAIM", "KMALLOC_DMA",
           "KMALLOC_CGROUP", "SLAB_CONSISTENCY_CHECKS", "SLAB_RED_ZONE", "SLAB_POISON",
           "SLAB_KMALLOC", "SLAB_HWCACHE_ALIGN", "SLAB_CACHE_DMA", "SLAB_STORE_USER",
           "SLAB_RECLAIM_ACCOUNT", "SLAB_TYPESAFE_BY_RCU", "SLAB_ACCOUNT", "SLAB_PANIC",
           "SLAB_USER_FLAGS", "check_slub"]

MAX_OBJS_PER_PAGE = 32767
SLUB_MAX_ORDER = 3                # PAGE_ALLOC_COSTLY_ORDER
SLUB_MIN_ORDER = 0
MIN_PARTIAL, MAX_PARTIAL = 5, 10
#: the bits of a caller's gfp a new slab's page allocation keeps (mm/internal.h
#: GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK); s->allocflags adds the cache's own
_SLAB_PAGE_GFP = int(G.GFP_RECLAIM_MASK) | G.F_HARDWALL | G.F_THISNODE
#: free pointers are native words: struct's unpack_from/pack_into read and write one in
#: place (3x cheaper than slicing + int.from_bytes on the hot paths)
_FP_STRUCT = {8: struct.Struct("<Q"), 4: struct.Struct("<I")}
_NOT_NORMAL = KMALLOC_NOT_NORMAL_BITS
_F_ZERO = G.F_ZERO


def _fls(x: int) -> int:
    return x.bit_length()


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
    objects count as in use, the free ones being on that CPU's lockless freelist.
    ``on_list`` says which list holds it: ``"partial"`` (the node's), ``"cpu_partial"``
    (a CPU's partial list), ``"full"`` (debug caches only) or None (a CPU slab, or full).
    ``slabs`` / ``pobjects`` are what ``put_cpu_partial()`` wrote when the slab went onto
    a CPU partial list: the list's length and (before 5.16) its free objects, then."""

    __slots__ = ("id", "cache", "pfn", "order", "addr", "objects", "inuse", "freelist",
                 "frozen", "node", "on_list", "slabs", "pobjects")

    def __init__(self, sid, cache, pfn, order, addr, objects, node):
        self.id = sid
        self.cache = cache
        self.pfn = pfn
        self.order = order
        self.addr = addr          # slab_address(): first byte (direct map)
        self.objects = objects
        self.inuse = 0
        self.freelist = 0         # first free object, 0 = NULL
        self.frozen = False       # a CPU's slab (and, before 6.8, a CPU partial slab)
        self.node = node
        self.on_list = None
        self.slabs = 0
        self.pobjects = 0

    @property
    def slab_cache(self) -> "KmemCache":
        """``slab->slab_cache``: the kernel's name for ``cache``."""
        return self.cache

    def __repr__(self):
        return (f"<slab pfn={self.pfn:#x} of {self.cache.name}: objects={self.objects} "
                f"inuse={self.inuse}{' frozen' if self.frozen else ''}"
                f"{' on ' + self.on_list if self.on_list else ''}>")


class KmemCacheCpu:
    """``struct kmem_cache_cpu``: a CPU's slab, its lockless freelist and (CONFIG_SLUB_CPU_PARTIAL)
    its partial slabs, head first (``slub_percpu_partial(c)`` is ``partial[0]``)."""

    __slots__ = ("freelist", "slab", "partial")

    def __init__(self):
        self.freelist = 0
        self.slab: Slab | None = None
        self.partial: list[Slab] = []


class KmemCacheNode:
    """``struct kmem_cache_node``: a node's partial list (and full list when debugging)."""

    def __init__(self):
        # slab id -> Slab; the first entry is the list head (add_partial DEACTIVATE_TO_HEAD)
        self.partial: OrderedDict[int, Slab] = OrderedDict()
        self.full: dict[int, Slab] = {}
        self.nr_slabs = 0
        self.total_objects = 0
        #: ``n->barn``: the node's full and empty sheaves (caches with sheaves)
        self.barn = None

    @property
    def nr_partial(self) -> int:
        return len(self.partial)


class SlabInfo(NamedTuple):
    """``struct slabinfo`` (mm/slab.h): one row of ``/proc/slabinfo``."""
    active_objs: int
    num_objs: int
    active_slabs: int
    num_slabs: int
    shared_avail: int
    limit: int
    batchcount: int
    shared: int
    objects_per_slab: int
    cache_order: int


def get_slabinfo(s: "KmemCache") -> SlabInfo:
    """mm/slub.c ``get_slabinfo()``: the counts ``/proc/slabinfo`` prints for ``s``, from
    the node counters (``nr_slabs``, ``total_objects``) and the free objects of the node
    partial lists (``count_partial_free_approx()``; the kernel samples lists longer than
    10 000 slabs, kmemlab counts them all). Objects of CPU slabs, CPU partial slabs and
    sheaves count as active: slabinfo does not look there. SLUB has no tunables: 0."""
    nr_slabs = nr_objs = nr_free = 0
    for n in s.node:
        nr_slabs += n.nr_slabs
        nr_objs += n.total_objects
        if n.partial:
            nr_free += sum([sl.objects - sl.inuse for sl in n.partial.values()])
    return SlabInfo(nr_objs - nr_free, nr_objs, nr_slabs, nr_slabs, 0, 0, 0, 0, s.objects, s.order)


class KmemCache:
    """``struct kmem_cache``: a cache of equal-sized objects.

    ``object_size`` is what the creator asked for, ``size`` the stride of objects in a
    slab (with alignment and debug metadata), ``offset`` where a free object keeps its
    free pointer, ``oo`` = (order, objects per slab). ``refcount`` - 1 caches were merged
    into this one (``alias_names``); ``usersize`` is the usercopy region (4.16+);
    ``cpu_partial`` / ``cpu_partial_slabs`` size the CPU partial lists."""

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
        self.useroffset, self.usersize = useroffset, usersize
        self.freeptr_offset = freeptr_offset
        self.sheaf_capacity = sheaf_capacity
        #: names of the caches merged into this one (/sys/kernel/slab shows them as links)
        self.alias_names: list[str] = []
        #: ``s->cpu_slab`` (None from 7.0: struct kmem_cache_cpu is gone)
        self.cpu_slab = [KmemCacheCpu() for _ in range(slub.k.nr_cpus)] if slub.gen.slab_cpu_slab else None
        #: ``s->cpu_sheaves`` (:mod:`kmemlab.kernel.slub_sheaves`): None without sheaves
        self.cpu_sheaves = None
        #: the function a kfree()/kmem_cache_free() of this cache enters (Slub.bind_slab_free)
        self.slab_free_fn = None
        slub.bind_slab_free(self)
        self.node = [KmemCacheNode() for _ in range(slub.k.nr_nodes)]
        self.red_left_pad = 0
        slub.calculate_sizes(self)
        self.sheaf_capacity = slub.sheaf_capacity_at_create(self, sheaf_capacity)
        slub.set_cpu_partial(self)
        self.random_seq = slub.init_cache_random_seq(self)

    @property
    def oo(self) -> tuple[int, int]:
        """(order, objects) of a normal slab (``s->oo``)."""
        return (self.order, self.objects)

    @property
    def min(self) -> tuple[int, int]:
        """(order, objects) of the fallback slab (``s->min``)."""
        return (self.min_order, self.min_objects)

    @property
    def aliases(self) -> int:
        """``/sys/kernel/slab/<cache>/aliases``: caches merged into this one."""
        return 0 if self.refcount < 0 else self.refcount - 1

    def __repr__(self):
        return (f"<kmem_cache {self.name}: object_size={self.object_size} size={self.size} "
                f"objects/slab={self.objects} order={self.order}>")


class Slub(SlabCommon, SlubSheaves):
    """The slab allocator of one machine (``k.slub``)."""

    # What the fast paths read, as slots; the other fields stay in the instance dict, which
    # then holds at most 30 names: with more, Python 3.11 turns it into a real dict and can
    # no longer specialise a method call on the instance (`self.slab_alloc_node(...)`,
    # `k.slub.kmalloc(...)`: a generic look-up each call, ~10 % of a kmalloc/kfree pair).
    # m.trace() and m.snapshot() leave the dict as it is: tracing switches the class
    # (SlabCommon.set_tracing), and __deepcopy__ builds the copy's dict name by name.
    __slots__ = ("k", "gen", "pages", "page_shift", "page_size", "page_mask", "page_offset", "page_slab",
                 "_fp_get", "_fp_set", "kmalloc_by_size", "kmalloc_by_size_max", "__dict__")

    def __init__(self, k):
        self.k = k
        prof = k.profile
        self.ptr = prof.bits // 8                       # sizeof(void *)
        self.page_shift = prof.page_shift
        self.page_size = prof.page_size
        self.page_mask = prof.page_size - 1
        self.page_offset = prof.page_offset
        self.pages = k.memory.pages                     # the RAM contents (pfn -> bytearray)
        # the free pointer's struct (4 or 8 bytes). A hot path reads these into a local and
        # calls that: `self._fp_get(...)` is a method-call bytecode that Python 3.11 cannot
        # specialise for a callable stored on the instance (a generic look-up each call)
        self._fp_get = _FP_STRUCT[self.ptr].unpack_from
        self._fp_set = _FP_STRUCT[self.ptr].pack_into
        self.gen = k.gen
        # large kmalloc blocks count as NR_SLAB_UNRECLAIMABLE_B since ~v5.9 (read on hot paths)
        self._large_accounted = k.gen.kmalloc_large_accounted
        # CONFIG_SLUB_CPU_PARTIAL (7.0: gone with the CPU slabs)
        self.cpu_partial_on = k.slub_cpu_partial and k.gen.slab_cpu_slab
        if not k.gen.slab_sheaves:
            # before 6.18 no cache has sheaves, and slab_free() is do_slab_free(): the hot
            # path of every kfree() skips the call that would only find that out
            self.slab_free = self.do_slab_free
        #: 7.0's shared ``bootstrap_sheaf`` (no capacity) of caches without sheaves
        self.bootstrap_sheaf = SlabSheaf(None, 0, 0)
        #: prefilled sheaves handed out by kmem_cache_prefill_sheaf(), by id()
        self.user_sheaves: dict[int, SlabSheaf] = {}
        self._no_obj_ext = 0                            # __GFP_NO_OBJ_EXT depth (slub_sheaves)
        self.slab_caches: list[KmemCache] = []          # creation order (slab_caches, reversed)
        self.caches_by_id: dict[int, KmemCache] = {}
        #: caches kmem_cache_destroy() unlinked with objects left (6.12+): their slabs stay
        self.detached_caches: list[KmemCache] = []
        #: caches the kernel itself points at (kmalloc caches, kmem_buckets)
        self.kernel_caches: set[int] = set()
        self.slabs: dict[int, Slab] = {}                # slab id -> slab (mem_map.owner)
        self.page_slab: dict[int, Slab] = {}            # pfn -> slab, every page of every slab
        self._next_id = 1
        from .slub_debug import SlubDebug, parse_slub_debug
        self.dbg = SlubDebug(self)
        self.debug_flags, self.debug_only = parse_slub_debug(k, k.slub_debug)
        self.create_kmalloc_caches()
        if k.gen.slab_sheaves_all:
            self.bootstrap_kmalloc_sheaves()
        # the last line of mm/slub.c kmem_cache_init() (same text v4.14 .. v6.6; the
        # arguments are cache_line_size(), slub_min_order, slub_max_order,
        # slub_min_objects (0: computed per cache), nr_cpu_ids, nr_node_ids)
        k.log.info(f"SLUB: HWalign={L1_CACHE_BYTES}, Order={SLUB_MIN_ORDER}-{SLUB_MAX_ORDER}, "
                   f"MinObjects=0, CPUs={k.nr_cpus}, Nodes={k.nr_nodes}")

    def __deepcopy__(self, memo):
        """``Machine.snapshot()`` / ``restore()``: the copy built field by field, as
        ``__init__`` builds one (the slots, then the instance dict's names one by one in
        their order). deepcopy's own way (``y.__dict__.update(state)``) made the copy's
        dict a real dict, on which Python 3.11 no longer specialises a method call
        (``k.slub.kmalloc(...)``): the restored machine's kmalloc/kfree ran ~10 % slower
        (benchmarks/bench_slub.py, after restore() / fresh)."""
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        for name in Slub.__slots__:
            if name != "__dict__" and hasattr(self, name):
                setattr(new, name, copy.deepcopy(getattr(self, name), memo))
        for name, value in self.__dict__.items():
            setattr(new, name, copy.deepcopy(value, memo))
        return new

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
        s.fp_phys = s.offset - self.page_offset        # object address -> its free pointer's phys
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

    def kmem_cache_has_cpu_partial(self, s: KmemCache) -> bool:
        """``kmem_cache_has_cpu_partial()``: CONFIG_SLUB_CPU_PARTIAL and not a debug cache."""
        return self.cpu_partial_on and not s.debug

    def set_cpu_partial(self, s: KmemCache) -> None:
        """mm/slub.c ``set_cpu_partial()``: how many free objects a CPU may keep on partial
        slabs, by object stride: 120 below 256 bytes, 52 below 1 KiB, 24 below a page, 6
        (5.16+; before: 30, 13, 6, 2), none for debug caches; then
        ``slub_set_cpu_partial()``."""
        if not self.kmem_cache_has_cpu_partial(s):
            nr = 0
        else:
            big, k1, b256, small = self.gen.slab_cpu_partial_objects
            size = s.size
            nr = big if size >= self.page_size else k1 if size >= 1024 else b256 if size >= 256 else small
        self.slub_set_cpu_partial(s, nr)

    def slub_set_cpu_partial(self, s: KmemCache, nr_objects: int) -> None:
        """``slub_set_cpu_partial()``: ``cpu_partial`` objects, kept as
        ``cpu_partial_slabs = DIV_ROUND_UP(nr_objects * 2, oo_objects(s->oo))`` slabs
        ("we assume that the slabs will be half-full", 5.16+)."""
        s.cpu_partial = nr_objects
        s.cpu_partial_slabs = -(-nr_objects * 2 // s.objects) if s.objects > 0 else 0

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
        """``create_cache()`` -> ``do_kmem_cache_create()``: a new ``struct kmem_cache`` on
        ``slab_caches``."""
        s = KmemCache(self, self._new_id(), name, size, align, flags, ctor, **args)
        if not self.init_sheaves(s):                   # the barns and sheaves are kmalloc()ed
            return None
        self.slab_caches.append(s)
        self.caches_by_id[s.id] = s
        return s

    # -- memory helpers (the free pointer lives in the object) ------------------------

    def get_freepointer(self, s: KmemCache, obj: int) -> int:
        """``get_freepointer()``: the word at ``obj + s->offset`` (a frame never written
        reads as zeros)."""
        phys = obj + s.fp_phys
        page = self.pages.get(phys >> self.page_shift)
        if page is None:
            return 0
        return self._fp_get(page, phys & self.page_mask)[0]

    def set_freepointer(self, s: KmemCache, obj: int, fp: int) -> None:
        """``set_freepointer()``: store ``fp`` at ``obj + s->offset``."""
        phys = obj + s.fp_phys
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

    @traced("new_slab", detail=lambda self, s, gfp, node: s.name)
    def new_slab(self, s: KmemCache, gfp: int, node: int) -> Slab | None:
        """``new_slab()``: the zone bits a slab cannot use are fixed up
        (``kmalloc_fix_flags()``), then ``allocate_slab()`` with the caller's reclaim and
        constraint bits only."""
        if gfp & GFP_SLAB_BUG_MASK:
            gfp = self.kmalloc_fix_flags(gfp)
        return self.allocate_slab(s, gfp & _SLAB_PAGE_GFP, node)

    @traced("alloc_slab_page", detail=lambda self, s, gfp, node, order, sid, note: f"order={order}{note}")
    def alloc_slab_page(self, s: KmemCache, gfp: int, node: int, order: int, sid: int, note: str) -> int:
        """``alloc_slab_page()``: the pages of a slab from the page allocator (frozen
        pages, ``alloc_frozen_pages()``, on 6.14+). Returns the pfn or -1."""
        return self.k.buddy.alloc(gfp, order, K_SLAB, sid, node, warn=bool(note), entry="alloc_slab_page_chain")

    @traced("allocate_slab", done=lambda self, slab, s, gfp, node: (
        f"{slab.objects} objects linked in "
        + ("shuffled order" if s.random_seq is not None and slab.objects >= 2 else "address order"))
        if slab is not None else "no pages")
    def allocate_slab(self, s: KmemCache, gfp: int, node: int) -> Slab | None:
        """``allocate_slab()``: try s->oo quietly, then s->min with the caller's flags (even
        when s->min is the same order: "try same order and flag as the original
        allocation", so warn_alloc() reports unless the caller said NOWARN); then link the
        objects (``shuffle_freelist()`` or address order) and run the constructor on each.

        A constructor that raises (Python can, C cannot) gets everything undone: the memory
        of the new pages, the random state, the pages themselves; it surfaces as
        :class:`SlabCtorError` naming the cache. Simplified: if taking the pages refilled
        the CPU's page list from the buddy lists (``rmqueue_bulk()``), the refilled pages
        stay on that list (free, as after any refill)."""
        k = self.k
        flags = gfp | s.allocflags
        alloc_gfp = (flags | G.F_NOWARN | G.F_NORETRY) & ~G.F_NOFAIL
        order = s.order
        if alloc_gfp & G.F_DIRECT_RECLAIM and order > s.min_order:
            alloc_gfp = (alloc_gfp | G.F_NOMEMALLOC) & ~(G.F_DIRECT_RECLAIM | G.F_KSWAPD_RECLAIM)
        sid = self._next_id
        # a Python constructor may raise: what taking the pages changes is put back then
        before = k.buddy.pcp_checkpoint() if s.ctor is not None else None
        pfn = self.alloc_slab_page(s, alloc_gfp, node, order, sid, "")
        objects = s.objects
        if pfn < 0:
            order = s.min_order
            objects = s.min_objects
            pfn = self.alloc_slab_page(s, flags, node, order, sid, " (s->min fallback, caller's gfp)")
            if pfn < 0:
                return None
        nr = 1 << order
        addr = self.page_offset + (pfn << self.page_shift)
        undo = self._ctor_undo_record(s, pfn, nr, before) if s.ctor is not None else None
        try:
            freelist = self._link_objects(s, addr, objects)
        except Exception as exc:
            self._ctor_undo(s, pfn, order, undo)
            raise SlabCtorError(
                f"the constructor of kmem_cache {s.name!r} raised {type(exc).__name__}: {exc}; SLUB was "
                f"setting up a new slab at pfn {pfn:#x}. The cache is as it was and the slab's pages "
                "went back to the page allocator") from exc
        # the slab exists: account it (account_slab(), inc_slabs_node())
        self._next_id = sid + 1
        mm = k.mem_map
        fmv = mm.flags_mv
        for p in range(pfn, pfn + nr):
            fmv[p] |= PG_slab
        slab = Slab(sid, s, pfn, order, addr, objects, int(mm.node[pfn]))
        slab.freelist = freelist
        self.slabs[sid] = slab
        ps = self.page_slab
        for p in range(pfn, pfn + nr):
            ps[p] = slab
        n = s.node[slab.node]
        n.nr_slabs += 1
        n.total_objects += objects
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        k.vmstat[key] += nr
        return slab

    def _link_objects(self, s: KmemCache, slab_addr: int, objects: int) -> int:
        """The objects of a new slab: POISON_INUSE over the pages (SLAB_POISON), then each
        object is set up (``init_object()`` with SLUB_RED_INACTIVE, the constructor) and
        linked, in address order or ``shuffle_freelist()``'s. Returns the freelist head."""
        if s.flags & SLAB_POISON:
            self.fill(slab_addr, POISON_INUSE, self.page_size << get_order(objects * s.size, self.page_shift))
        size = s.size
        start = slab_addr + s.red_left_pad
        if s.random_seq is not None and objects >= 2:
            order_, first = self.shuffle_freelist(s, objects)
            tr = self.k.tracer
            if tr is not None:
                tr.leaf("shuffle_freelist", f"start at random_seq[{first}]")
        else:
            order_ = range(objects)
        debug = s.debug
        ctor = s.ctor
        if not debug and isinstance(order_, range) and objects >= 16:
            if ctor is not None:
                for i in order_:
                    ctor(start + i * size)
            return self._link_in_order(s, start, objects)
        prev = head = 0
        for i in order_:
            obj = start + i * size
            if debug:
                self.dbg.init_object(s, obj, SLUB_RED_INACTIVE)
            if ctor is not None:
                ctor(obj)
            if prev:
                self.set_freepointer(s, prev, obj)
            else:
                head = obj
            prev = obj
        self.set_freepointer(s, prev, 0)
        return head

    def _link_in_order(self, s: KmemCache, start: int, objects: int) -> int:
        """The address-order case of :meth:`_link_objects`: the same free pointers (object i
        to object i + 1, the last to NULL), with the page of simulated memory looked up once
        per page rather than once per object (a booted machine links tens of thousands)."""
        pages = self.pages
        fp_set = self._fp_set
        shift, mask, size = self.page_shift, self.page_mask, s.size
        phys = start + s.fp_phys
        cur, page = -1, None
        for i in range(1, objects):
            pfn = phys >> shift
            if pfn != cur:
                cur = pfn
                page = pages.get(pfn)
                if page is None:
                    page = pages[pfn] = bytearray(self.page_size)
            fp_set(page, phys & mask, start + i * size)
            phys += size
        page = pages.get(phys >> shift)
        if page is not None:                    # the last one's NULL (a page never written reads 0)
            fp_set(page, phys & mask, 0)
        return start

    def _ctor_undo_record(self, s: KmemCache, pfn: int, nr: int, pcp: list):
        pages = self.pages
        mem = {p: (bytes(pages[p]) if p in pages else None) for p in range(pfn, pfn + nr)}
        rng = self.k.rng.bit_generator.state if s.random_seq is not None else None
        return mem, rng, self.k.clock.ns, pcp

    def _ctor_undo(self, s: KmemCache, pfn: int, order: int, undo) -> None:
        mem, rng, ns, pcp = undo
        pages = self.pages
        for p, data in mem.items():
            if data is None:
                pages.pop(p, None)
            else:
                pages[p][:] = data
        if rng is not None:
            self.k.rng.bit_generator.state = rng
        self.k.buddy.free(pfn, order, "free_slab_pages_chain")
        self.k.buddy.pcp_rollback(pcp)
        self.k.clock.ns = ns

    @traced(("discard_slab", "free_slab"), detail=lambda self, s, slab: f"{s.name}: slab pfn={slab.pfn:#x} is empty")
    def discard_slab(self, s: KmemCache, slab: Slab) -> None:
        """``discard_slab()`` -> ``free_slab()``: the pages go back to the buddy allocator."""
        k = self.k
        n = s.node[slab.node]
        n.nr_slabs -= 1
        n.total_objects -= slab.objects
        nr = 1 << slab.order
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        k.vmstat[key] -= nr
        del self.slabs[slab.id]
        ps = self.page_slab
        fmv = k.mem_map.flags_mv
        for p in range(slab.pfn, slab.pfn + nr):
            del ps[p]
            fmv[p] &= ~PG_slab          # __free_slab(): __folio_clear_slab() before the pages go back
        slab.on_list = None
        k.buddy.free(slab.pfn, slab.order, "free_slab_pages_chain")   # whose free_page_is_bad() checks it

    def add_partial(self, n: KmemCacheNode, slab: Slab, tail: bool) -> None:
        """``add_partial()``: DEACTIVATE_TO_HEAD, or the tail."""
        n.partial[slab.id] = slab
        if not tail:
            n.partial.move_to_end(slab.id, last=False)
        slab.on_list = "partial"

    def remove_partial(self, n: KmemCacheNode, slab: Slab) -> None:
        del n.partial[slab.id]
        slab.on_list = None

    def add_full(self, s: KmemCache, n: KmemCacheNode, slab: Slab) -> None:
        """``add_full()``: only SLAB_STORE_USER caches keep full slabs on a list."""
        if s.flags & SLAB_STORE_USER:
            n.full[slab.id] = slab
            slab.on_list = "full"

    def remove_full(self, s: KmemCache, n: KmemCacheNode, slab: Slab) -> None:
        if slab.on_list == "full":
            del n.full[slab.id]
            slab.on_list = None

    # -- allocation ------------------------------------------------------------------

    def slab_alloc_node(self, s: KmemCache, gfp: int, node: int, orig_size: int) -> int:
        """``slab_alloc_node()`` (6.1+: ``__slab_alloc_node()`` inside): pop the CPU's
        lockless freelist (the object's free pointer becomes the new head), else
        ``__slab_alloc()``; __GFP_ZERO clears the object (6.2+ debug kmalloc caches: only
        the requested ``orig_size`` bytes). Returns the object's address or 0.

        This is the fast path: kmalloc(), kmem_cache_alloc() and every other allocation
        come through here, traced or not. A debug cache never has a CPU freelist, so it
        always takes the slow path. A cache with sheaves (6.18: created with a
        sheaf_capacity; 7.0: nearly all) first tries ``alloc_from_pcs()``; 7.0 has no CPU
        slab, so a miss goes to ``___slab_alloc()``."""
        if s.cpu_sheaves is None or not (obj := self.alloc_from_pcs(s, gfp, node)):
            # __slab_alloc_node() (inline)
            cs = s.cpu_slab
            if cs is None:
                obj = self.___slab_alloc(s, gfp, node, None, orig_size)
            else:
                c = cs[self.k.cpu]
                obj = c.freelist
                if obj and (node < 0 or c.slab.node == node):
                    # get_freepointer() inline, as in the kernel; the frame is subscripted
                    # (no .get() call: try costs nothing when it does not raise)
                    phys = obj + s.fp_phys
                    fp_get = self._fp_get               # (see _fp_get in __init__)
                    try:
                        c.freelist = fp_get(self.pages[phys >> self.page_shift], phys & self.page_mask)[0]
                    except KeyError:
                        c.freelist = 0              # a frame nobody wrote reads as zeros
                else:
                    obj = self.__slab_alloc(s, gfp, node, c, orig_size)
        if gfp & _F_ZERO and obj:                   # (a failure returns its 0 below)
            self.memset(obj, orig_size if s.orig_size_tracked and self.gen.kmalloc_redzone else s.object_size)
        return obj

    @traced("memset", detail=lambda self, obj, n: f"__GFP_ZERO: {n} bytes")
    def memset(self, obj: int, n: int) -> None:
        """slab_post_alloc_hook()'s ``memset(p, 0, size)`` for __GFP_ZERO."""
        self.fill(obj, 0, n)

    @traced("__slab_alloc")
    def __slab_alloc(self, s: KmemCache, gfp: int, node: int, c: KmemCacheCpu, orig_size: int) -> int:
        """``__slab_alloc()``: ``___slab_alloc()`` with preemption off."""
        return self.___slab_alloc(s, gfp, node, c, orig_size)

    @traced("___slab_alloc", detail=lambda self, s, gfp, node, c, orig_size: (
        "debug cache: no cpu slab" if s.debug else "no cpu slab: one object from a partial or new slab"
        if c is None else "c->freelist empty" if not c.freelist
        else f"cpu slab not on node {node}"))
    def ___slab_alloc(self, s: KmemCache, gfp: int, node: int, c: KmemCacheCpu, orig_size: int) -> int:
        """``___slab_alloc()``: refill from the CPU slab (objects freed by other CPUs, via
        ``get_freelist()``), else deactivate a CPU slab on the wrong node; then the CPU's
        partial slabs, then ``get_partial()``, then ``new_slab()``.

        7.0 (no CPU slab, ``c`` is None): one object from a node's partial slab
        (``get_from_partial()``), else from a new slab (``alloc_from_new_slab()``), which
        goes onto the partial list with the rest."""
        if s.debug:
            return self.dbg.alloc(s, gfp, node, orig_size)
        if c is None:
            try_thisnode = node >= 0 and not gfp & G.F_THISNODE
            while True:
                pflags = gfp
                if try_thisnode:
                    pflags = (G.GFP_NOWAIT if self.gen.gfp_nowait_nowarn else G.GFP_NOWAIT_OLD) | G.F_THISNODE
                obj = self.get_from_partial(s, node, pflags)
                if obj:
                    return obj
                slab = self.new_slab(s, pflags, node)
                if slab is None:
                    if try_thisnode:
                        try_thisnode = False
                        continue
                    self.slab_out_of_memory(s, gfp, self.k.numa_node_id() if node < 0 else node)
                    return 0
                got = self.alloc_from_new_slab(s, slab, 1)
                if got:
                    return got[0]
        slab = c.slab
        if slab is not None:
            if node >= 0 and slab.node != node:
                fl = c.freelist
                c.slab = None
                c.freelist = 0
                self.deactivate_slab(s, slab, fl, f"cpu slab is on node {slab.node}, not {node}")
            else:
                freelist = self.get_freelist(s, slab, "objects freed by other CPUs onto the cpu slab")
                if freelist:
                    c.freelist = self.get_freepointer(s, freelist)
                    return freelist
                c.slab = None                       # full: unfrozen, on no list
        # new_slab: the CPU's partial slabs (CONFIG_SLUB_CPU_PARTIAL)
        while c.partial:
            slab = c.partial.pop(0)
            slab.on_list = None
            if node < 0 or slab.node == node:
                c.slab = slab
                freelist = self.get_freelist(s, slab, f"cpu partial slab pfn={slab.pfn:#x} becomes the cpu slab")
                c.freelist = self.get_freepointer(s, freelist)
                return freelist
            if self.gen.slab_cpu_partial_frozen:    # <= 6.7: `goto redo` -> deactivate_slab()
                self.deactivate_slab(s, slab, 0, f"cpu partial slab is on node {slab.node}, not {node}")
            else:
                self.__put_partials(s, [slab])
        slab = self.new_slab_objects(s, gfp, node)
        if slab is None:
            return 0
        freelist = slab.freelist                    # freeze_slab(), or a new slab's freelist
        slab.freelist = 0
        slab.inuse = slab.objects
        slab.frozen = True
        c.slab = slab
        c.freelist = self.get_freepointer(s, freelist)
        return freelist

    @traced("new_slab_objects", when=lambda self: self.gen.new_slab_objects)
    def new_slab_objects(self, s: KmemCache, gfp: int, node: int) -> Slab | None:
        """A slab with free objects for the CPU: ``get_partial()``, else ``new_slab()``
        (4.x: the function ``new_slab_objects()``; 6.x: inside ``___slab_alloc()``). For
        a node request without __GFP_THISNODE, 6.10+ first tries that node alone, with
        GFP_NOWAIT | __GFP_THISNODE for the page, then the caller's flags."""
        try_thisnode = node >= 0 and not gfp & G.F_THISNODE and self.gen.slab_alloc_try_thisnode
        while True:
            pflags = gfp
            if try_thisnode:
                pflags = (G.GFP_NOWAIT if self.gen.gfp_nowait_nowarn else G.GFP_NOWAIT_OLD) | G.F_THISNODE
            slab = self.get_partial(s, node, pflags)
            if slab is not None:
                return slab
            slab = self.new_slab(s, pflags, node)
            if slab is not None:
                return slab
            if try_thisnode:
                try_thisnode = False
                continue
            self.slab_out_of_memory(s, gfp, self.k.numa_node_id() if node < 0 else node)
            return None

    @traced("get_freelist", done=lambda self, fl, s, slab, why: why if fl else "cpu slab is full: unfreeze it")
    def get_freelist(self, s: KmemCache, slab: Slab, why: str) -> int:
        """``get_freelist()``: take the slab's freelist for the CPU; the slab stays frozen
        while it has objects (``new.frozen = freelist != NULL``)."""
        freelist = slab.freelist
        slab.freelist = 0
        slab.inuse = slab.objects
        slab.frozen = bool(freelist)
        return freelist

    @traced("get_partial", done=lambda self, slab, s, node, gfp: (
        f"slab pfn={slab.pfn:#x} with {slab.objects - slab.inuse} free objects" if slab is not None
        else f"no partial slab on node {self.k.numa_node_id() if node < 0 else node}"))
    def get_partial(self, s: KmemCache, node: int, gfp: int) -> Slab | None:
        """``get_partial()``: this node's partial list (``numa_mem_id()`` for
        NUMA_NO_NODE), then, unless __GFP_THISNODE pins a node, ``get_any_partial()``."""
        search = self.k.numa_node_id() if node < 0 else node
        slab = self.get_partial_node(s, search, gfp)
        if slab is not None or (node >= 0 and gfp & G.F_THISNODE):
            return slab
        return self.get_any_partial(s, search, gfp)

    def get_any_partial(self, s: KmemCache, nid: int, gfp: int) -> Slab | None:
        """``get_any_partial()``: other nodes in zonelist order, those that keep more than
        ``min_partial`` partial slabs."""
        for i in range(len(s.node)):
            other = (nid + i) % len(s.node)
            if other != nid and s.node[other].nr_partial > s.min_partial:
                slab = self.get_partial_node(s, other, gfp)
                if slab is not None:
                    return slab
        return None

    @traced("get_partial_node", done=lambda self, slab, s, nid, gfp: f"node {nid}: " + (
                f"slab pfn={slab.pfn:#x}, {len(s.cpu_slab[self.k.cpu].partial)} more onto the cpu partial list"
                if slab is not None else "no partial slab"))
    def get_partial_node(self, s: KmemCache, nid: int, gfp: int) -> Slab | None:
        """``get_partial_node()``: take the first partial slab for the CPU; with CPU
        partial lists, move more slabs onto this CPU's partial list until more than
        ``cpu_partial_slabs / 2`` are there (before 5.16: until the free objects taken
        exceed ``cpu_partial / 2``)."""
        n = s.node[nid]
        if not n.partial:
            return None
        by_slabs = self.gen.slab_cpu_partial_slabs
        has_partial = self.kmem_cache_has_cpu_partial(s)
        first = None
        taken = available = 0
        for slab in list(n.partial.values()):
            self.remove_partial(n, slab)
            available += slab.objects - slab.inuse
            if first is None:
                first = slab
                if not has_partial or (by_slabs and s.cpu_partial_slabs == 0):
                    break
            else:
                self.put_cpu_partial(s, slab, False)
                taken += 1
                if by_slabs and taken > s.cpu_partial_slabs // 2:
                    break
            if not by_slabs and available > s.cpu_partial // 2:
                break
        return first

    def get_from_partial(self, s: KmemCache, node: int, gfp: int) -> int:
        """7.0 ``get_from_partial()``: an object from this node's partial slabs
        (``numa_mem_id()`` for NUMA_NO_NODE), then, unless __GFP_THISNODE pins a node, from
        other nodes that keep more than ``min_partial`` (``get_from_any_partial()``)."""
        search = self.k.numa_node_id() if node < 0 else node
        obj = self.get_from_partial_node(s, search, gfp)
        if obj or (node >= 0 and gfp & G.F_THISNODE):
            return obj
        for i in range(1, len(s.node)):
            other = (search + i) % len(s.node)
            if s.node[other].nr_partial > s.min_partial:
                obj = self.get_from_partial_node(s, other, gfp)
                if obj:
                    return obj
        return 0

    @traced("get_from_partial_node", done=lambda self, obj, s, nid, gfp: (
        f"node {nid}: object {obj:#x}" if obj else f"node {nid}: no partial slab"))
    def get_from_partial_node(self, s: KmemCache, nid: int, gfp: int) -> int:
        """7.0 ``get_from_partial_node()``: one object off the first partial slab; a slab
        left without free objects leaves the list."""
        n = s.node[nid]
        if not n.partial:
            return 0
        slab = next(iter(n.partial.values()))
        obj = slab.freelist
        slab.freelist = self.get_freepointer(s, obj)
        slab.inuse += 1
        if not slab.freelist:
            self.remove_partial(n, slab)
        return obj

    @traced("deactivate_slab", detail=lambda self, s, slab, freelist, why: why)
    def deactivate_slab(self, s: KmemCache, slab: Slab, freelist: int, why: str = "") -> None:
        """``deactivate_slab()``: splice the CPU's freelist back onto the slab, unfreeze
        it, then put it on the partial list (the tail when other CPUs freed into it),
        leave it full, or discard it if it is empty and the node has enough partials."""
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
            self.add_partial(n, slab, to_tail)
        else:
            self.add_full(s, n, slab)

    @traced("put_cpu_partial", detail=lambda self, s, slab, drain: (
        f"slab pfn={slab.pfn:#x} onto cpu {self.k.cpu}'s partial list"
        + (f" ({len(s.cpu_slab[self.k.cpu].partial)} of {s.cpu_partial_slabs} slabs there)"
           if self.gen.slab_cpu_partial_slabs else "")))
    def put_cpu_partial(self, s: KmemCache, slab: Slab, drain: bool) -> None:
        """``put_cpu_partial()``: push ``slab`` on this CPU's partial list. With ``drain``
        (a free), a full list (``cpu_partial_slabs`` slabs, 5.16+; more than
        ``cpu_partial`` free objects before) first goes to the node lists
        (``__put_partials()``). The slabs are frozen until 6.7."""
        c = s.cpu_slab[self.k.cpu]
        old = c.partial
        to_put = None
        if self.gen.slab_cpu_partial_slabs:
            if old and drain and len(old) >= s.cpu_partial_slabs:
                to_put, old = old, []
            slab.pobjects = 0
        else:
            pobjects = old[0].pobjects if old else 0
            if old and drain and pobjects > s.cpu_partial:
                to_put, old, pobjects = old, [], 0
            slab.pobjects = pobjects + slab.objects - slab.inuse
        slab.slabs = len(old) + 1
        slab.on_list = "cpu_partial"
        slab.frozen = self.gen.slab_cpu_partial_frozen
        c.partial = [slab] + old
        if to_put:
            self.__put_partials(s, to_put)
        if not self.gen.slab_cpu_partial_slabs and not s.cpu_partial:
            self.__put_partials(s, c.partial)       # 4.x: cpu_partial 0 empties it at once
            c.partial = []

    @traced("__put_partials", detail=lambda self, s, slabs: f"{len(slabs)} slabs to the node partial lists")
    def __put_partials(self, s: KmemCache, slabs: list) -> None:
        """``__put_partials()`` (``__unfreeze_partials()`` before 6.8): each slab of a CPU
        partial list goes to the tail of its node's partial list, or is discarded when it
        is empty and the node keeps ``min_partial`` partial slabs."""
        discard = []
        for slab in slabs:
            slab.frozen = False
            slab.on_list = None
            n = s.node[slab.node]
            if not slab.inuse and n.nr_partial >= s.min_partial:
                discard.append(slab)
            else:
                self.add_partial(n, slab, True)
        for slab in discard:
            self.discard_slab(s, slab)

    def put_partials_cpu(self, s: KmemCache, c: KmemCacheCpu) -> None:
        """``put_partials_cpu()``: empty one CPU's partial list onto the node lists."""
        if c.partial:
            slabs, c.partial = c.partial, []
            self.__put_partials(s, slabs)

    def flush_all(self, s: KmemCache) -> None:
        """``flush_all()`` -> ``flush_cpu_slab()`` on every CPU: its sheaves to the slabs
        (``pcs_flush_all()``, caches with sheaves), then (before 7.0) deactivate the CPU
        slab and put the CPU partial slabs back (``put_partials_cpu()``)."""
        k = self.k
        here = k.cpu
        try:
            for cpu in range(k.nr_cpus):
                k.cpu = cpu                             # the work runs on that CPU
                if self.cache_has_sheaves(s):
                    self.pcs_flush_all(s)
                if s.cpu_slab is None:
                    continue
                c = s.cpu_slab[cpu]
                if c.slab is not None:
                    slab, fl = c.slab, c.freelist
                    c.slab = None
                    c.freelist = 0
                    self.deactivate_slab(s, slab, fl, "flush_all()")
                self.put_partials_cpu(s, c)
        finally:
            k.cpu = here

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

    def bind_slab_free(self, s: KmemCache) -> None:
        """Which function a kfree() of ``s``'s objects enters (``s.slab_free_fn``):
        :meth:`slab_free` when the cache has sheaves (or, on 7.0, no CPU slab), else
        :meth:`do_slab_free` directly. The kernel's ``slab_free()`` is inline, so a cache
        without sheaves pays for one NULL test; here it would pay for a whole frame.
        Called whenever ``s->cpu_sheaves`` is set or cleared."""
        cls = type(self)
        s.slab_free_fn = (cls.do_slab_free if s.cpu_sheaves is None and s.cpu_slab is not None
                          else cls.slab_free)

    def slab_free(self, s: KmemCache, slab: Slab, obj: int, fn: str) -> None:
        """``slab_free()`` (inline in kfree() and kmem_cache_free()): a cache with sheaves
        frees to this CPU's main sheaf when the object is from this CPU's node
        (``free_to_pcs()``); else ``do_slab_free()`` (7.0: ``__slab_free()``)."""
        if s.cpu_sheaves is not None:
            k = self.k                              # slab_nid(slab) == numa_mem_id()
            if (k.nr_nodes == 1 or slab.node == k.numa_node_id()) and self.free_to_pcs(s, obj):
                return
        if s.cpu_slab is None:
            self.__slab_free(s, slab, obj, fn)
        else:
            self.do_slab_free(s, slab, obj, fn)

    def do_slab_free(self, s: KmemCache, slab: Slab, obj: int, fn: str, tail: int = 0, cnt: int = 1) -> None:
        """``do_slab_free()`` (4.5: the fast path inside ``slab_free()``; gone in 7.0): push
        onto the CPU's freelist if the object's slab is this CPU's slab (the old head is
        stored in the object at ``s->offset``), else ``__slab_free()``. ``fn``: the
        caller's name for reports. ``tail``/``cnt``: a detached freelist ``obj`` .. ``tail``
        of ``cnt`` objects of one slab (``__kmem_cache_free_bulk()``)."""
        c = s.cpu_slab[self.k.cpu]
        if c.slab is slab:
            last = tail or obj
            phys = last + s.fp_phys
            fp_set = self._fp_set                   # (see _fp_get in __init__)
            try:                                    # set_freepointer() inline (see slab_alloc_node)
                fp_set(self.pages[phys >> self.page_shift], phys & self.page_mask, c.freelist)
            except KeyError:
                self.set_freepointer(s, last, c.freelist)   # a frame nobody wrote yet
            c.freelist = obj
        else:
            self.__slab_free(s, slab, obj, fn, tail, cnt)

    @traced("__slab_free", detail=lambda self, s, slab, obj, fn, *bulk: (
        f"slab pfn={slab.pfn:#x} inuse={slab.inuse}"
        + (" (another CPU's slab)" if slab.frozen and slab.on_list is None else
           " (on a cpu partial list)" if slab.on_list == "cpu_partial" else "")))
    def __slab_free(self, s: KmemCache, slab: Slab, obj: int, fn: str, tail: int = 0, cnt: int = 1) -> None:
        """``__slab_free()``: push on the slab's own freelist. A frozen slab (another CPU's
        slab; before 6.8 also a CPU partial slab) needs nothing more. A slab that was full
        goes onto this CPU's partial list (``put_cpu_partial()``; without CPU partial
        lists, the node's); an empty slab on the node partial list is discarded once the
        node keeps ``min_partial``; a slab on a CPU partial list stays where it is.
        ``tail``/``cnt``: ``obj`` heads a linked list of ``cnt`` objects ending at ``tail``
        (a bulk free). In 7.0 no slab is frozen and there are no CPU partial lists, so
        only the node partial list is involved."""
        if s.debug:
            if cnt == 1:
                return self.free_to_partial_list(s, slab, obj, fn)
            objs = []
            for _ in range(cnt):                    # one by one, through the checks
                objs.append(obj)
                obj = self.get_freepointer(s, obj)
            for o in objs:
                self.free_to_partial_list(s, slab, o, fn)
            return
        prior = slab.freelist
        self.set_freepointer(s, tail or obj, prior)
        slab.freelist = obj
        slab.inuse -= cnt
        if slab.frozen:
            return                                  # FREE_FROZEN
        has_partial = self.kmem_cache_has_cpu_partial(s)
        if has_partial and not prior:
            self.put_cpu_partial(s, slab, True)     # CPU_PARTIAL_FREE
            return
        if prior and slab.on_list != "partial":
            return                                  # 6.8+: on a CPU partial list, not the node's
        n = s.node[slab.node]
        if slab.inuse == 0 and n.nr_partial >= s.min_partial:
            if prior:
                self.remove_partial(n, slab)
            else:
                self.remove_full(s, n, slab)
            self.discard_slab(s, slab)
        elif not prior:
            self.remove_full(s, n, slab)
            self.add_partial(n, slab, True)

    @traced("free_debug_processing")
    def free_to_partial_list(self, s: KmemCache, slab: Slab, obj: int, fn: str) -> None:
        """``free_to_partial_list()`` (v6.2+; before, ``free_debug_processing()`` inside
        ``__slab_free()``): a debug cache's free, checked (:mod:`kmemlab.kernel.slub_debug`)."""
        self.dbg.free(s, slab, obj, fn)

    # -- kmalloc ---------------------------------------------------------------------

    def kmalloc(self, size: int, gfp: int, node: int = -1) -> int:
        """``kmalloc()`` / ``kmalloc_node()`` with a constant size (what a notebook's
        ``m.kmalloc(100)`` stands for): an object of at least ``size`` bytes; 0 on
        failure, ZERO_SIZE_PTR (16) for size 0. ``size`` and ``gfp`` are validated ints.

        The inline kmalloc() of include/linux/slab.h picks the cache at compile time
        (``kmalloc_index()``: here a per-size table), then ``slab_alloc_node()``; above
        KMALLOC_MAX_CACHE_SIZE ``kmalloc_large()``. While a trace runs the same functions
        run inside the frames of the generation's call chain (:meth:`_kmalloc_frames`)."""
        k = self.k
        tr = k.tracer
        if tr is not None:
            return self._kmalloc_frames(tr, size, gfp, node)
        if size <= self.kmalloc_by_size_max and not gfp & _NOT_NORMAL:
            s = self.kmalloc_by_size[size]
            if s is None:
                return ZERO_SIZE_PTR
        else:
            if size > self.kmalloc_max_cache_size:
                return self.kmalloc_large(size, gfp, node)
            s = self.kmalloc_slab(size, gfp, _caller_ip() if self.kmalloc_random is not None else 0)
            if s is None:
                return ZERO_SIZE_PTR
        obj = self.slab_alloc_node(s, gfp, node, size)
        k.clock.ns += 120
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed("kmalloc", slab.pfn, 1 << slab.order, K_SLAB, obj, size, s.name)
        return obj

    def _allocated(self, obj: int, s: KmemCache, size: int, event: str) -> int:
        """What every kmalloc-like entry does once slab_alloc_node() returned: the clock
        and the change event."""
        k = self.k
        k.clock.ns += 120
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed(event, slab.pfn, 1 << slab.order, K_SLAB, obj, size, s.name)
        return obj

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

    def _slab_alloc_node_frames(self, tr, s: KmemCache, gfp: int, node: int, orig_size: int) -> int:
        """``slab_alloc_node()`` (6.1+: -> ``__slab_alloc_node()``) as a trace shows it: a
        CPU freelist hit has no callees, a miss shows ``__slab_alloc`` -> ``___slab_alloc``."""
        names = ("slab_alloc_node", "__slab_alloc_node") if self.gen.slab_alloc_node_split else ("slab_alloc_node",)

        def body():
            c = s.cpu_slab[self.k.cpu] if s.cpu_slab is not None else None
            obj = self.slab_alloc_node(s, gfp, node, orig_size)
            if self._hoist_pcs_frame(tr, "alloc_from_pcs", len(names)):
                return obj                              # a sheaf hit: __slab_alloc_node() never ran
            frame = tr.stack[-1]
            if obj and c is not None and not any(x.func == "__slab_alloc" for x in frame.children):
                frame.detail = f"c->freelist hit: object {obj:#x}, next {c.freelist:#x} (fast path)"
            return obj
        return tr.through(names, body, s.name)

    @staticmethod
    def _hoist_pcs_frame(tr, func: str, nframes: int) -> bool:
        """A trace's frames for a sheaf fast path: ``slab_alloc_node()`` calls
        ``alloc_from_pcs()`` before ``__slab_alloc_node()``, and 6.18's ``slab_free()``
        ``free_to_pcs()`` before ``do_slab_free()`` — siblings, not callees, of the
        innermost frame of a chain of ``nframes`` the call ran in. Move ``func``'s frame up
        beside that frame, and drop the frame when ``func`` did the whole job. True then."""
        frame = tr.stack[-1]
        if nframes < 2 or not frame.children or frame.children[0].func != func:
            return False
        pcs = frame.children.pop(0)
        siblings = tr.stack[-2].children
        at = siblings.index(frame)
        siblings.insert(at, pcs)
        if pcs.result and not frame.children:
            del siblings[at + 1]
            return True
        return False

    def _kmalloc_frames(self, tr, size: int, gfp: int, node: int) -> int:
        """kmalloc() while a trace runs: the calls of the generation's inline kmalloc()
        around the same functions the untraced path runs.

        ``kmalloc`` -> ``kmalloc_index`` -> ``k.gen.chain("kmalloc_cache_chain")`` (4.5:
        ``kmem_cache_alloc_trace`` -> ``slab_alloc``; 6.1: ``kmalloc_trace`` ->
        ``__kmem_cache_alloc_node``; 6.11+: ``__kmalloc_cache_noprof``) -> ``slab_alloc_node``.
        Above KMALLOC_MAX_CACHE_SIZE: ``k.gen.chain("kmalloc_large_chain")``. Before v4.20
        a __GFP_DMA request left the inline path for ``__kmalloc`` -> ``kmalloc_slab`` ->
        ``slab_alloc``; from 6.1 kmalloc(0) goes ``__kmalloc`` -> ``kmalloc_slab``."""
        gen = self.gen
        name = gen.name("kmalloc" if node < 0 else "kmalloc_node")
        detail = f"size={size} gfp={G.format_gfp(gfp, gen)}" + (f" node={node}" if node >= 0 else "")
        site = tr.call_site()                   # trace_kmalloc()'s _RET_IP_

        def path():
            if size > self.kmalloc_max_cache_size:
                names = gen.chain("kmalloc_large_chain" if node < 0 else "kmalloc_large_node_chain")
                order = get_order(size, self.page_shift)
                obj = self._chain_with_last_detail(tr, names, f"order={order} (gfp |= __GFP_COMP)",
                                                   lambda: self.kmalloc_large(size, gfp, node))
                self._trace_alloc(tr, "kmalloc", site, obj, size, self.page_size << order, gfp, node)
                return obj
            if not size:
                if gen.kmalloc_zero_via_kmalloc:
                    # 6.1+ kmalloc(): `if (__builtin_constant_p(size) && size)`, so size 0
                    # goes to __kmalloc(), whose kmalloc_slab() returns ZERO_SIZE_PTR
                    return tr.through(gen.chain("__kmalloc_chain"),
                                      lambda: tr.leaf("kmalloc_slab", "size=0", "ZERO_SIZE_PTR") or ZERO_SIZE_PTR)
                tr.leaf("kmalloc_index", "size=0", 0)   # `if (!index) return ZERO_SIZE_PTR`
                return ZERO_SIZE_PTR
            s = self.kmalloc_slab(size, gfp, _caller_ip() if self.kmalloc_random is not None else 0)
            if not gen.kmalloc_dma_inline and gfp & G.F_DMA:
                # v4.19 kmalloc(): `if (!(flags & GFP_DMA))` guards the inline path
                first = gen.chain("__kmalloc_chain" if node < 0 else "__kmalloc_node_chain")[:1]

                def slow():
                    tr.leaf("kmalloc_slab", f"size={size}", s.name)
                    if node < 0:
                        return tr.through(("slab_alloc",), lambda: self._slab_alloc_node_frames(tr, s, gfp, node, size))
                    return self._slab_alloc_node_frames(tr, s, gfp, node, size)
                obj = tr.through(first, slow)
            else:
                tr.leaf("kmalloc_index", f"size={size}", kmalloc_index(size))
                names = gen.chain("kmalloc_cache_chain" if node < 0 else "kmalloc_cache_node_chain")
                obj = tr.through(names, lambda: self._slab_alloc_node_frames(tr, s, gfp, node, size),
                                 self.cache_ref(gfp, size, s))
            self._allocated(obj, s, size, "kmalloc")
            self._trace_alloc(tr, "kmalloc", site, obj, size, s.size, gfp, node)
            return obj
        return tr.through((name,), path, detail)

    @staticmethod
    def _chain_with_last_detail(tr, names, detail: str, fn):
        """``names`` as nested calls with ``detail`` on the innermost, around ``fn()``."""
        if len(names) == 1:
            return tr.through(names, fn, detail)
        return tr.through(names[:1], lambda: Slub._chain_with_last_detail(tr, names[1:], detail, fn))

    def kmalloc_variable(self, size: int, gfp: int, node: int = -1, chain: str = "__kmalloc_node_chain",
                         buckets: list | None = None) -> int:
        """``kmalloc_node()`` with a size only known at run time, as kernel code such as
        vmalloc's page array or kvmalloc calls it: the inline helper falls through to
        ``__kmalloc_node()`` (6.1+ ``__do_kmalloc_node()``) -> ``kmalloc_slab()``. A trace
        shows ``k.gen.chain(chain)`` (and ``"__do_kmalloc_node_large_chain"`` above
        KMALLOC_MAX_CACHE_SIZE). ``buckets`` (6.11+ ``kmem_buckets``): take the object from
        that set of caches instead of ``kmalloc_caches[kmalloc_type(flags)]``."""
        caller = zlib.crc32(chain.encode()) << 12 if self.kmalloc_random is not None else 0
        tr = self.k.tracer
        if tr is None:
            if size > self.kmalloc_max_cache_size:
                return self.kmalloc_large(size, gfp, node, "__kmalloc_node_large_pages_chain" if node < 0
                                          else "__alloc_pages_chain")
            s = self.kmalloc_slab(size, gfp, caller, buckets)
            if s is None:
                return ZERO_SIZE_PTR
            return self._allocated(self.slab_alloc_node(s, gfp, node, size), s, size, "kmalloc")
        gen = self.gen
        # __do_kmalloc_node(.., caller): _RET_IP_ of the real function that called it (when the
        # chain starts inline, as in 6.14+ kvmalloc, that is one function further out)
        site = tr.call_site(1 if gen.inlined(gen.chain(chain)[0]) else 0)

        def path():
            if size > self.kmalloc_max_cache_size:
                inner = tr.call_site()          # __kmalloc_large_node_noprof()'s _RET_IP_
                order = get_order(size, self.page_shift)
                obj = self._chain_with_last_detail(
                    tr, gen.chain("__do_kmalloc_node_large_chain"), f"order={order} (gfp |= __GFP_COMP)",
                    lambda: self.kmalloc_large(size, gfp, node, "__kmalloc_node_large_pages_chain" if node < 0
                                               else "__alloc_pages_chain"))
                if gen.kmalloc_large_double_event:
                    self._trace_alloc(tr, "kmalloc", inner, obj, size, self.page_size << order, gfp, node)
                self._trace_alloc(tr, "kmalloc", site, obj, size, self.page_size << order, gfp, node)
                return obj
            s = self.kmalloc_slab(size, gfp, caller, buckets)
            tr.leaf("kmalloc_slab", f"size={size}" + (" (kmem_buckets)" if buckets is not None else ""),
                    s.name if s is not None else "ZERO_SIZE_PTR")
            if s is None:
                return ZERO_SIZE_PTR
            if gen.kmem_cache_alloc_node_step and buckets is None:
                obj = tr.through(("__kmem_cache_alloc_node",),
                                 lambda: self._slab_alloc_node_frames(tr, s, gfp, node, size), s.name)
            else:
                obj = self._slab_alloc_node_frames(tr, s, gfp, node, size)
            self._allocated(obj, s, size, "kmalloc")
            self._trace_alloc(tr, "kmalloc", site, obj, size, s.size, gfp, node)
            return obj
        return tr.through(gen.chain(chain), path, f"size={size} gfp={G.format_gfp(gfp, gen)} node={node}")

    def kmalloc_large(self, size: int, gfp: int, node: int = -1, entry: str = "") -> int:
        """``__kmalloc_large_node()``: a compound block of get_order(size) pages (5.9+:
        the zone bits a slab cannot use fixed up first). ``entry``: the page-allocator
        chain a trace shows (by default: a constant-size kmalloc()'s for NUMA_NO_NODE, the
        plain entry for a node)."""
        k = self.k
        if gfp & GFP_SLAB_BUG_MASK and self.gen.kmalloc_large_fix_flags:
            gfp = self.kmalloc_fix_flags(gfp)
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

    def check_free_large(self, pfn: int, addr: int, fn: str = "kfree") -> None:
        """What ``free_large_kmalloc()`` (``kfree()`` of a non-slab page) refuses, checked
        before anything changes: a page the page allocator would call a bad page (free
        already, a page-table page ...), and before 5.14 any page that is not compound
        (``BUG_ON(!PageCompound(page))``)."""
        k = self.k
        mm = k.mem_map
        kind = mm.kind_mv[pfn]
        order = mm.order_mv[pfn]
        if (kind != K_KMALLOC_LARGE and kind != K_PAGES) or order < 0:
            k.buddy.check_free(pfn, max(order, 0))        # raises: bad page state
            raise KernelBug(f"{fn}({addr:#x}): not memory from kmalloc()")
        if self.gen.kfree_nonslab_check == "bug" and not mm.flags_mv[pfn] & PG_head:
            text = (f"------------[ cut here ]------------\nkernel BUG at mm/slub.c:3622!\n"
                    f"invalid opcode: 0000 [#1] SMP\n{k.cpu_line()}\nRIP: 0010:kfree+0x12e/0x140")
            k.log.printk("warn", text)
            raise KernelBug(f"{fn}({addr:#x}): a page that is neither a slab nor a compound (kmalloc_large) "
                            "page: BUG_ON(!PageCompound(page))", text)
        k.buddy.check_free(pfn, order)

    def free_large_kmalloc(self, pfn: int, addr: int) -> None:
        """``free_large_kmalloc()``: free the compound block holding ``addr``. 5.16+ WARNs
        for an order-0 page, which kmalloc never returns, and frees it anyway."""
        k = self.k
        mm = k.mem_map
        self.check_free_large(pfn, addr)
        kind = mm.kind_mv[pfn]
        order = mm.order_mv[pfn]
        if order == 0 and not mm.flags_mv[pfn] & PG_head and self.gen.kfree_nonslab_check == "warn":
            # free_large_kmalloc(): `if (WARN_ON_ONCE(order == 0)) pr_warn_once("object pointer: 0x%p\n")`
            k.warn_on(f"free_large_kmalloc:{pfn}", k.gen.free_large_kmalloc_warn_site,
                      k.gen.name("kfree_large"), ("kfree",), f"object pointer: {addr:#018x}")
        if kind == K_KMALLOC_LARGE and self._large_accounted:
            k.vmstat["nr_slab_unreclaimable"] -= 1 << order
        k.buddy.free(pfn, order, "free_slab_pages_chain")     # 6.15+: free_frozen_pages()
        k.clock.ns += 300
        if k.bus.subscribers:
            k.bus.changed("kfree", pfn, 1 << order, K_KMALLOC_LARGE, addr, self.page_size << order,
                          f"kmalloc_large order:{order}")

    # -- kmem_cache_alloc / kmem_cache_free ------------------------------------------

    def kmem_cache_alloc(self, s: KmemCache, gfp: int, node: int = -1) -> int:
        """``kmem_cache_alloc()`` -> ``slab_alloc()`` -> ``slab_alloc_node()``."""
        k = self.k
        tr = k.tracer
        if tr is None:
            obj = self.slab_alloc_node(s, gfp, node, s.object_size)
        else:
            site = tr.call_site()
            obj = tr.through(self.gen.chain("kmem_cache_alloc_chain"),
                             lambda: self._slab_alloc_node_frames(tr, s, gfp, node, s.object_size),
                             f"{s.name} gfp={G.format_gfp(gfp, self.gen)}")
            self._trace_alloc(tr, "kmem_cache_alloc", site, obj, s.object_size, s.size, gfp, node, s)
        k.clock.advance(100)
        if obj and k.bus.subscribers:
            slab = self.page_slab[(obj - self.page_offset) >> self.page_shift]
            k.bus.changed("kmem_cache_alloc", slab.pfn, 1 << slab.order, K_SLAB, obj,
                          s.object_size, s.name)
        return obj

    def kmem_cache_alloc_bulk(self, s: KmemCache, gfp: int, n: int) -> list[int]:
        """``kmem_cache_alloc_bulk()`` (mm/slub.c): ``n`` objects from
        ``__kmem_cache_alloc_bulk()`` (slub_sheaves.py: the CPU freelist with
        ``___slab_alloc()`` refilling it; 7.0 ``refill_objects()``), then
        ``slab_post_alloc_hook()`` clears them for __GFP_ZERO. ``[]`` when they cannot be
        had (what was taken went back, as the kernel's error path does). Like the kernel's,
        no kmem_cache_alloc tracepoint fires; nothing is announced to views either (boot
        fills its caches with it). Simplified: 6.18's ``alloc_from_pcs_bulk()`` (objects
        from the CPU's main sheaf first) is not taken, the slabs serve the whole batch."""
        objs = self._SlubSheaves__kmem_cache_alloc_bulk(s, gfp, n)
        if objs and gfp & _F_ZERO:
            for obj in objs:
                self.fill(obj, 0, s.object_size)
        return objs

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
        if tr is None:
            slab_free = s.slab_free_fn      # slab_free(); a local: see _fp_get in __init__
            slab_free(self, s, slab, addr, "kmem_cache_free")
        else:
            if tr.events is not None:       # kmem_cache_free(): trace_kmem_cache_free() first
                tr.kmem("kmem_cache_free", call_site=tr.call_site(), ptr=addr, name=s.name)
            tr.through(("kmem_cache_free",), lambda: self._slab_free_frames(tr, s, slab, addr, "kmem_cache_free",
                                                                            "slab_free_chain"),
                       f"{s.name} {addr:#x}")
        k.clock.advance(100)
        if k.bus.subscribers:
            k.bus.changed("kmem_cache_free", slab.pfn, 1 << slab.order, K_SLAB, addr,
                          s.object_size, s.name)

    def _slab_free_frames(self, tr, s: KmemCache, slab: Slab, addr: int, fn: str, role: str) -> None:
        """``slab_free()`` -> ``do_slab_free()`` as a trace shows it (a leaf when the object
        went onto ``c->freelist``)."""
        names = self.gen.chain(role)

        def body():
            self.slab_free(s, slab, addr, fn)
            if self._hoist_pcs_frame(tr, "free_to_pcs", len(names)):
                return
            frame = tr.stack[-1]
            if not frame.children and s.cpu_slab is not None:
                frame.detail = "object's slab is the cpu slab: pushed on c->freelist (fast path)"
        tr.through(names, body, s.name)

    # -- shrink, shutdown, counts ----------------------------------------------------

    def live_objects(self, s: KmemCache) -> int:
        """Objects allocated and not freed (slabs' inuse less the CPUs' free objects and
        the objects cached in sheaves)."""
        total = 0
        for n in s.node:
            total += n.total_objects
        free = 0
        for c in s.cpu_slab or ():
            p = c.freelist
            while p and free <= total:
                free += 1
                p = self.get_freepointer(s, p)
        if s.cpu_sheaves is not None:
            free += sum(len(sh.objects) for sh in self.sheaves_of(s) if sh.owner != "user")
        for slab in self.slabs_of(s):
            free += slab.objects - slab.inuse
        return total - free

    def slabs_of(self, s: KmemCache):
        return [sl for sl in self.slabs.values() if sl.cache is s]

    def kmem_cache_do_shrink(self, s: KmemCache) -> int:
        """``__kmem_cache_shrink()`` -> ``__kmem_cache_do_shrink()``: flush the CPU slabs and
        CPU partial lists, free every empty slab, and order each partial list fullest
        first (the barns are shrunk first). Returns 1 if slabs remain."""
        self.flush_all(s)
        ret = 0
        for n in s.node:
            if n.barn is not None:
                self.barn_shrink(s, n.barn)
            empty = [sl for sl in n.partial.values() if sl.inuse == 0]
            for sl in empty:
                self.remove_partial(n, sl)
                self.discard_slab(s, sl)
            rest = sorted(n.partial.values(), key=lambda sl: sl.objects - sl.inuse)
            n.partial = OrderedDict((sl.id, sl) for sl in rest)
            if n.partial or n.nr_slabs:
                ret = 1
        return ret

    def kmem_cache_shutdown(self, s: KmemCache) -> bool:
        """``__kmem_cache_shutdown()``: flush the CPU slabs and partial lists, then
        ``free_partial()`` (empty partial slabs are freed, the others reported by
        ``list_slab_objects()``: "Objects remaining in ... on __kmem_cache_shutdown()").
        True when no slab is left. With sheaves: the rcu_free sheaves in flight are
        waited for (``rcu_barrier()``) and the barns shrunk first."""
        self.flush_all(s)
        if self.cache_has_sheaves(s):
            self.rcu_barrier()
        for n in s.node:
            if n.barn is not None:
                self.barn_shrink(s, n.barn)
            for sl in list(n.partial.values()):
                if sl.inuse == 0:
                    self.remove_partial(n, sl)
                    self.discard_slab(s, sl)
                else:
                    self.dbg.report_objects_remaining(s, sl)
        return not any(n.nr_partial or n.nr_slabs for n in s.node)

    # -- /sys/kernel/slab/<cache>/ attributes that read SLUB's lists (mm/slub.c) ------

    def show_slab_objects(self, s: KmemCache, what: str) -> str:
        """``show_slab_objects()``: ``what`` is the attribute: ``slabs``, ``objects``,
        ``total_objects`` (SO_ALL: every slab of the node), ``partial``,
        ``objects_partial`` (SO_PARTIAL: the node partial lists), ``cpu_slabs`` (SO_CPU: the
        CPU slabs, plus each CPU's partial slabs counted as its head's ``slabs``). Prints
        the total, then `` N<node>=<count>`` for each node with a count (CONFIG_NUMA)."""
        nodes = [0] * len(s.node)
        if what == "cpu_slabs":
            for c in s.cpu_slab or ():
                if c.slab is not None:
                    nodes[c.slab.node] += 1
                if c.partial:
                    nodes[c.partial[0].node] += c.partial[0].slabs
        else:
            for i, n in enumerate(s.node):
                if what == "slabs":
                    nodes[i] = n.nr_slabs
                elif what == "total_objects":
                    nodes[i] = n.total_objects
                elif what == "objects":
                    nodes[i] = n.total_objects - sum(sl.objects - sl.inuse for sl in n.partial.values())
                elif what == "partial":
                    nodes[i] = n.nr_partial
                elif what == "objects_partial":
                    nodes[i] = sum(sl.inuse for sl in n.partial.values())
                else:
                    raise ValueError(f"no slab object count called {what!r}")
        return f"{sum(nodes)}" + "".join(f" N{i}={v}" for i, v in enumerate(nodes) if v) + "\n"

    def slabs_cpu_partial_show(self, s: KmemCache) -> str:
        """``slabs_cpu_partial_show()``: "objects(slabs)" over all CPUs, then
        " C<cpu>=objects(slabs)" per CPU with partial slabs. 5.16+ estimates the objects as
        half of each slab (``slabs * oo_objects(s->oo) / 2``); before, it printed the head's
        ``pobjects`` and ``pages``. 7.0 prints "0(0)": there are no CPU partial lists."""
        if s.cpu_slab is None:
            return "0(0)\n"
        per = []
        for cpu, c in enumerate(s.cpu_slab):
            if c.partial:
                head = c.partial[0]
                objs = head.slabs * s.objects // 2 if self.gen.slab_cpu_partial_slabs else head.pobjects
                per.append((cpu, objs, head.slabs))
        if self.gen.slab_cpu_partial_slabs:
            total_slabs = sum(p[2] for p in per)
            out = f"{total_slabs * s.objects // 2}({total_slabs})"
        else:
            out = f"{sum(p[1] for p in per)}({sum(p[2] for p in per)})"
        return out + "".join(f" C{cpu}={objs}({slabs})" for cpu, objs, slabs in per) + "\n"


def check_slub(k) -> None:
    """Invariants of the slab allocator (called by ``check_invariants()``): every slab is
    registered with its pages; each is in exactly one place (a CPU slab, one CPU's partial
    list, its node's partial or full list, or no list when full); every object is on
    exactly one freelist (the slab's own, or the CPU freelist of its CPU slab) or in use;
    the counters agree with the slabs."""
    import numpy as np
    from .invariants import _fail
    slub = k.slub
    mm = k.mem_map
    gen = k.gen
    pages = {"nr_slab_reclaimable": 0, "nr_slab_unreclaimable": 0}
    live_caches = {s.id: s for s in slub.slab_caches + slub.detached_caches}
    where: dict[int, str] = {}
    for s in live_caches.values():
        for cpu, c in enumerate(s.cpu_slab or ()):
            if c.slab is not None:
                if c.slab.id in where:
                    _fail(f"{s.name}: slab {c.slab.pfn:#x} is the CPU slab of two CPUs")
                where[c.slab.id] = f"cpu{cpu}"
            elif c.freelist:
                _fail(f"{s.name}: CPU {cpu} has a freelist but no CPU slab")
            if len(c.partial) > max(1, s.cpu_partial_slabs) and gen.slab_cpu_partial_slabs:
                _fail(f"{s.name}: CPU {cpu} keeps {len(c.partial)} partial slabs, more than "
                      f"cpu_partial_slabs={s.cpu_partial_slabs}")
            for i, sl in enumerate(c.partial):
                if sl.id in where:
                    _fail(f"{s.name}: slab {sl.pfn:#x} is on CPU {cpu}'s partial list and {where[sl.id]}")
                where[sl.id] = "cpu_partial"
                if sl.slabs != len(c.partial) - i:
                    _fail(f"{s.name}: CPU {cpu}'s partial slab {sl.pfn:#x} says slabs={sl.slabs}, "
                          f"{len(c.partial) - i} from it to the tail")
    # every slab's pages are marked slab, owned by it, head order = slab order: checked for
    # all slabs in one numpy pass (a booted machine has thousands), the culprit named after
    if slub.slabs:
        heads = np.fromiter((sl.pfn for sl in slub.slabs.values()), np.int64, len(slub.slabs))
        orders = np.fromiter((sl.order for sl in slub.slabs.values()), np.int64, len(slub.slabs))
        sids = np.fromiter(slub.slabs, np.int64, len(slub.slabs))
        counts = 1 << orders
        idx = np.repeat(heads, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        bad = ((mm.kind[idx] != K_SLAB) | (mm.owner[idx] != np.repeat(sids, counts)) | ((mm.flags[idx] & PG_slab) == 0))
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
        if slab.id != sid or s.id not in live_caches:
            _fail(f"slab {sid} of {s.name} is not registered with its cache")
        c = per_node.setdefault((s.id, slab.node), [0, 0])
        c[0] += 1
        c[1] += slab.objects
        if any(slub.page_slab.get(p) is not slab for p in range(slab.pfn, slab.pfn + nr)):
            _fail(f"slab at pfn {slab.pfn:#x}: page -> slab index disagrees")
        key = "nr_slab_reclaimable" if s.flags & SLAB_RECLAIM_ACCOUNT else "nr_slab_unreclaimable"
        pages[key] += nr
        place = where.get(sid)
        is_cpu = place is not None and place.startswith("cpu") and place != "cpu_partial"
        frozen_partial = place == "cpu_partial" and gen.slab_cpu_partial_frozen
        if slab.frozen != (is_cpu or frozen_partial):
            _fail(f"slab at pfn {slab.pfn:#x} ({s.name}): frozen={slab.frozen} but it is "
                  f"{place or 'no CPU slab'}")
        # the free objects: on the slab's freelist, plus the CPU's freelist for a CPU slab
        chains = [slab.freelist]
        if is_cpu:
            chains.append(s.cpu_slab[int(place[3:])].freelist)
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
        listed = "partial" if slab.id in n.partial else "full" if slab.id in n.full else None
        if listed and place:
            _fail(f"{s.name}: slab {slab.pfn:#x} is on the node {listed} list and {place}")
        expect = "cpu_partial" if place == "cpu_partial" else listed
        if expect != slab.on_list:
            _fail(f"{s.name}: slab {slab.pfn:#x} says it is on list {slab.on_list} but is on {expect}")
        if listed == "partial" and (not slab.freelist or slab.frozen):
            _fail(f"{s.name}: slab {slab.pfn:#x} is on the partial list without free objects")
        if place == "cpu_partial" and not slab.freelist:
            _fail(f"{s.name}: slab {slab.pfn:#x} is on a CPU partial list without free objects")
        if place is None and listed is None and slab.inuse != slab.objects:
            _fail(f"{s.name}: slab {slab.pfn:#x} with free objects is on no list (lost)")
    check_sheaves(k, live_caches.values())
    for s in live_caches.values():
        for nid, n in enumerate(s.node):
            has_slabs, has_objects = per_node.get((s.id, nid), (0, 0))
            if n.nr_slabs != has_slabs or n.total_objects != has_objects:
                _fail(f"{s.name}: node {nid} counts {n.nr_slabs} slabs/{n.total_objects} objects, "
                      f"has {has_slabs}/{has_objects}")
    if gen.kmalloc_large_accounted:
        heads = np.flatnonzero((mm.kind == K_KMALLOC_LARGE) & (mm.order >= 0))
        pages["nr_slab_unreclaimable"] += int(sum(1 << int(o) for o in mm.order[heads]))
    for key, v in pages.items():
        if k.vmstat[key] != v:
            _fail(f"vmstat {key}={k.vmstat[key]} but slabs hold {v} pages")


def check_sheaves(k, caches) -> None:
    """The sheaves' invariants: a cache with sheaves has a main sheaf on every CPU and a
    barn on every node (7.0: the bootstrap sheaf without capacity); no sheaf holds more
    than its capacity; the barn's empty sheaves are empty and its full ones full; each
    object in a sheaf is an object of that cache's slabs, allocated as far as its slab
    knows (on no freelist) and in no other sheaf: it is free for the kernel's callers."""
    from .invariants import _fail
    slub = k.slub
    seen: dict[int, str] = {}
    for s in caches:
        if s.cpu_sheaves is None:
            if k.gen.slab_sheaves_all:
                _fail(f"{s.name}: a 7.0 cache without cpu_sheaves")
            continue
        if len(s.cpu_sheaves) != k.nr_cpus:
            _fail(f"{s.name}: {len(s.cpu_sheaves)} per-CPU sheaves on {k.nr_cpus} CPUs")
        has = slub.cache_has_sheaves(s)
        for cpu, pcs in enumerate(s.cpu_sheaves):
            if pcs.main is None:
                _fail(f"{s.name}: CPU {cpu} has no main sheaf")
            if not has and (pcs.main is not slub.bootstrap_sheaf or pcs.spare or pcs.rcu_free):
                _fail(f"{s.name}: a cache without sheaf capacity holds sheaves on CPU {cpu}")
        for nid, n in enumerate(s.node):
            if has != (n.barn is not None):
                _fail(f"{s.name}: node {nid} {'lacks' if has else 'has'} a barn")
            if n.barn is not None:
                if any(sh.objects for sh in n.barn.sheaves_empty):
                    _fail(f"{s.name}: node {nid}'s barn has a non-empty sheaf on its empty list")
                if any(len(sh.objects) < s.sheaf_capacity for sh in n.barn.sheaves_full) and not k.gen.slab_sheaves_all:
                    # 7.0 rcu_free_sheaf() may put a partly flushed sheaf there (debug hooks)
                    _fail(f"{s.name}: node {nid}'s barn has a sheaf on its full list that is not full")
        for sh in slub.sheaves_of(s):
            if sh.cache is not s:
                _fail(f"{s.name}: holds a sheaf of {getattr(sh.cache, 'name', None)}")
            if len(sh.objects) > sh.capacity:
                _fail(f"{s.name}: a sheaf holds {len(sh.objects)} objects, capacity {sh.capacity}")
            for obj in sh.objects:
                slab = slub.page_slab.get((obj - slub.page_offset) >> slub.page_shift)
                if slab is None or slab.cache is not s or not slub.dbg.check_valid_pointer(s, slab, obj):
                    _fail(f"{s.name}: sheaf object {obj:#x} is not an object of the cache's slabs")
                if obj in seen:
                    _fail(f"{s.name}: object {obj:#x} is in two sheaves ({seen[obj]}, {sh.owner})")
                seen[obj] = sh.owner or "?"
    if seen:
        # no object in a sheaf is free as far as its slab knows
        for sid, slab in slub.slabs.items():
            s = slab.cache
            chains = [slab.freelist]
            for c in s.cpu_slab or ():
                if c.slab is slab:
                    chains.append(c.freelist)
            for p in chains:
                n = 0
                while p and n <= slab.objects:
                    if p in seen:
                        _fail(f"{s.name}: object {p:#x} is in a sheaf ({seen[p]}) and on a freelist")
                    p = slub.get_freepointer(s, p)
                    n += 1
