"""What mm/slab_common.c does for every slab allocator: the kmalloc caches, cache creation,
merging and destruction, kmem_buckets, kfree()'s dispatch, ksize() and krealloc().

A cache is a shelf of equal cups (see :mod:`kmemlab.kernel.slub` for how SLUB fills the
shelves). This module is the shop front: ``kmalloc(100)`` is sent to the ``kmalloc-128``
shelf by ``kmalloc_slab()``; ``kmem_cache_create("foo", 64)`` may hand back a shelf that
already exists when one fits (``find_mergeable()``: cache merging, on unless the machine
boots with ``slab_nomerge``); ``kfree(p)`` looks up which shelf (or which compound page)
``p`` belongs to and gives it back there.

Modelled on mm/slab_common.c and include/linux/slab.h of the releases in
:mod:`kmemlab.kernel.generation` (differences are rows there): ``kmalloc_index()``,
``kmalloc_info[]`` names, ``create_kmalloc_caches()`` / ``new_kmalloc_cache()`` (and
``kmalloc-rnd-NN-*`` with ``Machine(random_kmalloc_caches=True)``,
CONFIG_RANDOM_KMALLOC_CACHES, 6.6+), ``kmalloc_type()``, ``kmalloc_slab()``,
``__kmem_cache_create_args()`` (``kmem_cache_create()`` before 6.12) with
``find_mergeable()`` / ``__kmem_cache_alias()``, ``kmem_cache_destroy()``,
``kmem_buckets_create()`` (6.11+), ``kfree()``, ``__ksize()``, ``krealloc()``
(``__do_krealloc()``), ``kmalloc_fix_flags()``.

Where the kernel moved a function from mm/slab_common.c to mm/slub.c (``kfree`` and
``krealloc`` in 6.8 and 6.13 with the SLAB allocator gone) this module keeps it: it is the
common, allocator-independent part, as it was for most of these releases.

Simplifications: CONFIG_HARDENED_USERCOPY, CONFIG_MEMCG and CONFIG_SLAB_BUCKETS are on
as in distribution kernels; ``kmem_cache_sanity_check()`` (CONFIG_DEBUG_VM) runs; there
is no KASAN and no KFENCE; the ``SLAB_*`` flag values are the v6.6 ones on every
generation (6.18 renumbered them as enum bits; only the names are visible).
"""

from __future__ import annotations

import struct
import sys
import zlib

from . import gfp as G
from .errors import KernelBug, SlabCtorError
from .mem_map import K_SLAB, PG_tail

__all__ = [
    "SlabCommon", "kmalloc_index", "kmalloc_size", "kmalloc_cache_name", "get_order",
    "calculate_alignment", "caller_name", "traced",
    "KMALLOC_MIN_SIZE", "KMALLOC_SHIFT_LOW", "KMALLOC_SHIFT_HIGH", "KMALLOC_MAX_CACHE_SIZE",
    "KMALLOC_NORMAL", "KMALLOC_RECLAIM", "KMALLOC_DMA", "KMALLOC_CGROUP",
    "RANDOM_KMALLOC_CACHES_NR", "ZERO_SIZE_PTR",
    "SLAB_CONSISTENCY_CHECKS", "SLAB_RED_ZONE", "SLAB_POISON", "SLAB_KMALLOC", "SLAB_HWCACHE_ALIGN",
    "SLAB_CACHE_DMA", "SLAB_CACHE_DMA32", "SLAB_STORE_USER", "SLAB_RECLAIM_ACCOUNT", "SLAB_PANIC",
    "SLAB_TYPESAFE_BY_RCU", "SLAB_TRACE", "SLAB_NOLEAKTRACE", "SLAB_NO_MERGE", "SLAB_ACCOUNT",
    "SLAB_NO_USER_FLAGS", "SLAB_DEBUG_FLAGS", "SLAB_USER_FLAGS", "SLAB_NEVER_MERGE", "SLAB_MERGE_SAME",
    "OBJECT_POISON", "POISON_INUSE", "POISON_FREE", "POISON_END", "SLUB_RED_INACTIVE",
    "SLUB_RED_ACTIVE",
]

# -- include/linux/slab.h (x86: ARCH_KMALLOC_MINALIGN = __alignof__(unsigned long long)) -----
KMALLOC_SHIFT_LOW = 3
KMALLOC_MIN_SIZE = 1 << KMALLOC_SHIFT_LOW
ARCH_KMALLOC_MINALIGN = 8
ARCH_SLAB_MINALIGN = 8
#: PAGE_SHIFT + 1 with 4 KiB pages: SLUB serves what fits an order-1 page
KMALLOC_SHIFT_HIGH = 13
KMALLOC_MAX_CACHE_SIZE = 1 << KMALLOC_SHIFT_HIGH
L1_CACHE_BYTES = 64
#: ((void *)16): what kmalloc(0) returns; ZERO_OR_NULL_PTR(x) is x <= ZERO_SIZE_PTR
ZERO_SIZE_PTR = 16
INT_MAX = 0x7fffffff

#: enum kmalloc_cache_type, as the model numbers it (the kernel puts the random copies
#: between NORMAL and RECLAIM; kmemlab keeps them in their own array)
KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_DMA, KMALLOC_CGROUP = 0, 1, 2, 3
_TYPE_PREFIX = {KMALLOC_NORMAL: "kmalloc-", KMALLOC_RECLAIM: "kmalloc-rcl-",
                KMALLOC_DMA: "dma-kmalloc-", KMALLOC_CGROUP: "kmalloc-cg-"}
#: include/linux/slab.h (CONFIG_RANDOM_KMALLOC_CACHES): copies of the normal caches
RANDOM_KMALLOC_CACHES_NR = 15
#: include/linux/hash.h
GOLDEN_RATIO_64 = 0x61C8864680B583EB

# -- slab_flags_t (include/linux/slab.h, the v6.6 values) ------------------------------------
SLAB_CONSISTENCY_CHECKS = 0x00000100
SLAB_RED_ZONE = 0x00000400
SLAB_POISON = 0x00000800
SLAB_KMALLOC = 0x00001000
SLAB_HWCACHE_ALIGN = 0x00002000
SLAB_CACHE_DMA = 0x00004000
SLAB_CACHE_DMA32 = 0x00008000
SLAB_STORE_USER = 0x00010000
SLAB_RECLAIM_ACCOUNT = 0x00020000
SLAB_PANIC = 0x00040000
SLAB_TYPESAFE_BY_RCU = 0x00080000
SLAB_TRACE = 0x00200000
SLAB_NOLEAKTRACE = 0x00800000
SLAB_NO_MERGE = 0x01000000
SLAB_ACCOUNT = 0x04000000
SLAB_NO_USER_FLAGS = 0x10000000
#: __OBJECT_POISON (mm/slub.c internal): poison the object bytes, not only the padding
OBJECT_POISON = 0x80000000
SLAB_DEBUG_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER
#: what kmem_cache_create() accepts from a caller (SLAB_FLAGS_PERMITTED, as far as modelled)
SLAB_USER_FLAGS = (SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_HWCACHE_ALIGN
                   | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_STORE_USER | SLAB_RECLAIM_ACCOUNT
                   | SLAB_PANIC | SLAB_TYPESAFE_BY_RCU | SLAB_ACCOUNT | SLAB_NO_MERGE)
#: mm/slab_common.c: flags that prevent merging, and flags two caches must share to merge
SLAB_NEVER_MERGE = (SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE | SLAB_TYPESAFE_BY_RCU
                    | SLAB_NOLEAKTRACE | SLAB_NO_MERGE)
SLAB_MERGE_SAME = SLAB_RECLAIM_ACCOUNT | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_ACCOUNT

# -- include/linux/poison.h and mm/slub.c ----------------------------------------------------
POISON_INUSE = 0x5a           # padding, and objects of a new slab before use
POISON_FREE = 0x6b            # a free object's bytes
POISON_END = 0xa5             # the last byte of a free object
SLUB_RED_INACTIVE = 0xbb      # red zone around a free object
SLUB_RED_ACTIVE = 0xcc        # red zone around an allocated object

#: mm/slab_common.c kmalloc_size_index[]: kmalloc cache index for sizes 1..192, by (size-1)/8
SIZE_INDEX = (3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2)
#: the largest size the compile-time kmalloc_index() knows (v6.x: 2 MiB, index 21)
_KMALLOC_INDEX_MAX = 21
#: gfp bits that make kmalloc_type() pick a cache array other than KMALLOC_NORMAL
#: (KMALLOC_NOT_NORMAL_BITS)
KMALLOC_NOT_NORMAL_BITS = G.F_DMA | G.F_RECLAIMABLE | G.F_ACCOUNT
#: mm/internal.h GFP_SLAB_BUG_MASK, within the bits check_gfp() lets through
GFP_SLAB_BUG_MASK = G.F_DMA32 | G.F_HIGHMEM
_U32 = struct.Struct("<I")


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


def kmalloc_cache_name(kind: int, index: int, gen, random_copy: int = 0) -> str:
    """kmalloc_info[] names: "kmalloc-1k" since v5.0 (INIT_KMALLOC_INFO), "kmalloc-1024"
    before; ``random_copy`` 1..15 names a CONFIG_RANDOM_KMALLOC_CACHES copy
    ("kmalloc-rnd-01-64")."""
    size = kmalloc_size(index)
    short = f"{size >> 10}k" if gen.kmalloc_kilo_names and size >= 1024 else str(size)
    if random_copy:
        return f"kmalloc-rnd-{random_copy:02d}-{short}"
    return _TYPE_PREFIX[kind] + short


def get_order(size: int, page_shift: int = 12) -> int:
    """``get_order(size)``: the smallest order whose block holds ``size`` bytes."""
    return max(0, ((size - 1) >> page_shift).bit_length()) if size > 0 else 0


def _align(x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


def calculate_alignment(flags: int, align: int, size: int, ptr: int = 8) -> int:
    """mm/slab_common.c ``calculate_alignment()``: SLAB_HWCACHE_ALIGN aligns to the cache
    line, halved while the object fits in half of it; never below ARCH_SLAB_MINALIGN."""
    if flags & SLAB_HWCACHE_ALIGN:
        ralign = L1_CACHE_BYTES
        while size <= ralign // 2:
            ralign //= 2
        align = max(align, ralign)
    align = max(align, ARCH_SLAB_MINALIGN)
    return _align(align, ptr)


def hash_64(val: int, bits: int) -> int:
    """include/linux/hash.h ``hash_64_generic()``."""
    return ((val * GOLDEN_RATIO_64) & 0xffffffffffffffff) >> (64 - bits)


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


def _caller_ip() -> int:
    """``_RET_IP_`` of a notebook's call: a number that is the same for the same line of
    the same cell (what CONFIG_RANDOM_KMALLOC_CACHES hashes)."""
    f = sys._getframe(1)
    while f is not None and f.f_globals.get("__name__", "").startswith("kmemlab"):
        f = f.f_back
    if f is None:
        return 0
    return zlib.crc32(f"{f.f_code.co_filename}:{f.f_code.co_name}:{f.f_lineno}".encode()) << 12


def traced(role, detail=None, done=None, when=None):
    """Mark a slow-path method so that, while a trace runs, it shows as a call of the
    kernel function ``role`` (``k.gen.name(role)``; a tuple is a chain, outermost first).

    ``detail(self, *args)`` gives the (first) call's detail before it runs, ``done(self,
    result, *args)`` the innermost call's after it returned; ``when(self)`` False leaves the
    frame out on generations that do not have the function.

    The method stays what it is (the one implementation): while ``m.trace()`` runs,
    :meth:`SlabCommon.set_tracing` switches the instance to a subclass whose method of
    that name is the framed wrapper, and back after, so an untraced call costs nothing
    extra."""
    roles = role if isinstance(role, tuple) else (role,)

    def deco(fn):
        def wrapper(self, *args):
            tr = self.k.tracer
            if tr is None or (when is not None and not when(self)):
                return fn(self, *args)
            gen = self.gen
            names = tuple(gen.name(r) for r in roles)
            depth = len(tr.stack)
            for i, n in enumerate(names):
                tr.enter(n, detail(self, *args) if detail is not None and i == 0 else "")
            try:
                result = fn(self, *args)
            except BaseException:
                tr.unwind(depth)
                raise
            if done is not None:
                tr.stack[-1].detail = done(self, result, *args)
            shown = None if result is None else result if not hasattr(result, "pfn") else result.addr
            for _ in names:
                tr.leave(shown)
            return result
        wrapper.__name__ = fn.__name__
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__doc__ = fn.__doc__
        wrapper.__wrapped__ = fn
        fn.traced_wrapper = wrapper
        return fn
    return deco


def _traced_class(cls: type) -> type:
    """``cls`` with the :func:`traced` methods' framed wrappers as its methods (the same
    attribute names: ``___slab_alloc`` is name-mangled), made once per class."""
    traced = cls.__dict__.get("_traced")
    if traced is None:
        framed = {}
        for name in sorted({n for c in cls.__mro__ for n in vars(c)}):
            wrapper = getattr(getattr(cls, name), "traced_wrapper", None)
            if wrapper is not None:
                framed[name] = wrapper
        # no new fields (__slots__ empty): the instance's layout is its class's, so
        # ``self.__class__`` may switch between the two
        traced = type(cls.__name__, (cls,), {"__slots__": (), "__module__": cls.__module__,
                                             "__qualname__": cls.__qualname__,
                                             "_untraced": cls, **framed})
        cls._traced = traced
    return traced


class SlabCommon:
    """mm/slab_common.c: the part of the slab allocator that does not depend on SLUB.

    Mixed into :class:`kmemlab.kernel.slub.Slub` (``k.slub``): these methods call SLUB's
    ``do_kmem_cache_create()``, ``slab_alloc_node()``, ``slab_free()`` ... as the kernel's
    mm/slab_common.c calls mm/slub.c."""

    __slots__ = ()                  # the fields are Slub's (see Slub.__slots__)

    def set_tracing(self, on: bool) -> None:
        """Put the :func:`traced` methods' framed wrappers in front of them (``on``), or
        take them away; ``Machine.trace()`` calls it around the block.

        The wrappers live on a subclass made once per class (:func:`_traced_class`), and
        tracing switches the instance's class to it and back: the instance's ``__dict__``
        is never touched. Wrappers stored in it (as before) left it a real dict after
        the trace, on which Python 3.11 no longer specialises a method call on the
        instance (``k.slub.kmalloc(...)``): kmalloc/kfree ran ~6 % slower for the rest of
        the machine's life (benchmarks/bench_slub.py, after trace() / fresh)."""
        cls = type(self)
        base = cls.__dict__.get("_untraced", cls)
        if on:
            self.__class__ = _traced_class(base)
        elif cls is not base:
            self.__class__ = base

    # -- the kmalloc caches --------------------------------------------------------------

    def create_kmalloc_caches(self) -> None:
        """mm/slab_common.c ``create_kmalloc_caches()``: for each type, kmalloc-8 ..
        kmalloc-8k; kmalloc-96 and kmalloc-192 come first on 6.12+, after kmalloc-64 and
        kmalloc-128 before; 4.x makes the DMA caches after all others, in index order
        (``kmalloc_dma_caches[]``). With CONFIG_RANDOM_KMALLOC_CACHES the 15 copies of the
        normal caches follow the normal ones (their type numbers come next)."""
        gen = self.gen
        k = self.k
        types = [KMALLOC_NORMAL]
        if gen.kmalloc_rcl_caches:
            types.append(KMALLOC_RECLAIM)
        has_dma = k.profile.has_zone("DMA")
        if has_dma and gen.kmalloc_caches_by_type:
            types.append(KMALLOC_DMA)
        if gen.kmalloc_cg_caches:
            types.append(KMALLOC_CGROUP)
        self.kmalloc_types = types + ([KMALLOC_DMA] if has_dma and not gen.kmalloc_caches_by_type else [])
        self.kmalloc_caches: list[list] = [[None] * (KMALLOC_SHIFT_HIGH + 1) for _ in range(4)]
        self.kmalloc_random: list[list] | None = None
        # kmalloc() works as soon as the normal caches exist (7.0 kzalloc()s the sheaves of
        # the caches made after them); random_kmalloc_seed is still 0 then, as in the kernel
        self.kmalloc_max_cache_size = KMALLOC_MAX_CACHE_SIZE if self.page_size == 4096 else 2 * self.page_size
        self.random_kmalloc_seed = 0
        if gen.kmalloc_create_96_192_first:
            order = [1, 2] + list(range(KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH + 1))
        else:
            order = []
            for i in range(KMALLOC_SHIFT_LOW, KMALLOC_SHIFT_HIGH + 1):
                order += [i] + ([1] if i == 6 else [2] if i == 7 else [])
        for t in types:
            for i in order:
                self.new_kmalloc_cache(i, t)
            if t == KMALLOC_NORMAL and k.random_kmalloc_caches:
                self.kmalloc_random = [[None] * (KMALLOC_SHIFT_HIGH + 1)
                                       for _ in range(RANDOM_KMALLOC_CACHES_NR + 1)]
                self.kmalloc_random[0] = self.kmalloc_caches[KMALLOC_NORMAL]
                for copy in range(1, RANDOM_KMALLOC_CACHES_NR + 1):
                    for i in order:
                        self.new_kmalloc_cache(i, KMALLOC_NORMAL, copy)
        if has_dma and not gen.kmalloc_caches_by_type:
            for i in range(1, KMALLOC_SHIFT_HIGH + 1):      # 4.x: `for (i = 0; ...)`, 0 has none
                if self.kmalloc_caches[KMALLOC_NORMAL][i] is not None or i in (1, 2):
                    self.new_kmalloc_cache(i, KMALLOC_DMA)
        # random_kmalloc_seed = get_random_u64()
        self.random_kmalloc_seed = int(k.rng.integers(0, 1 << 63)) if k.random_kmalloc_caches else 0
        # kmalloc_index() of every size, done once: what the compiler folds for a
        # constant-size kmalloc(); kmalloc()'s hot path reads the normal cache from here
        normal = self.kmalloc_caches[KMALLOC_NORMAL]
        self.kmalloc_by_size = [None] + [
            normal[SIZE_INDEX[(n - 1) >> 3] if n <= 192 else (n - 1).bit_length()]
            for n in range(1, KMALLOC_MAX_CACHE_SIZE + 1)]
        #: the largest size kmalloc() finds in that table (-1: none, it is not used)
        self.kmalloc_by_size_max = KMALLOC_MAX_CACHE_SIZE
        if self.kmalloc_random is not None:
            self.kmalloc_by_size = None             # kmalloc_type() hashes the caller: no fixed table
            self.kmalloc_by_size_max = -1
        # kmalloc_type(): unused types fall back to the normal caches (the kernel aliases them)
        for t in range(4):
            if t not in self.kmalloc_types:
                self.kmalloc_caches[t] = self.kmalloc_caches[KMALLOC_NORMAL]
        self.user_buckets = self.msg_buckets = None
        if gen.kmem_buckets:
            # 6.11+ create_kmalloc_caches(): kmem_buckets_cache = "kmalloc_buckets", holding
            # one kmem_buckets (an array of KMALLOC_SHIFT_HIGH + 1 cache pointers) per set;
            # then mm/util.c init_user_buckets() and ipc/msgutil.c init_msg_buckets()
            self.kmem_buckets_cache = self.kmem_cache_create(
                "kmalloc_buckets", (KMALLOC_SHIFT_HIGH + 1) * self.ptr, 0, SLAB_NO_MERGE)
            self.kernel_caches.add(self.kmem_buckets_cache.id)
            self.user_buckets = self.kmem_buckets_create("memdup_user", 0, 0, INT_MAX)
            self.msg_buckets = self.kmem_buckets_create("msg_msg", SLAB_ACCOUNT, 0, 0)

    def new_kmalloc_cache(self, idx: int, t: int, random_copy: int = 0) -> None:
        """``new_kmalloc_cache()`` -> ``create_kmalloc_cache()`` -> ``create_boot_cache()``:
        power-of-two sizes are aligned to their size (v5.4+); from v6.11 every size to the
        largest power of two dividing it (``kmalloc-96``: 32, ``kmalloc-192``: 64); before,
        96 and 192 to ARCH_KMALLOC_MINALIGN. The whole object may be copied to and from
        user space (usersize = size, 4.16+), which makes kmalloc caches unmergeable."""
        gen = self.gen
        size = kmalloc_size(idx)
        name = kmalloc_cache_name(t, idx, gen, random_copy)
        flags = {KMALLOC_NORMAL: 0, KMALLOC_RECLAIM: SLAB_RECLAIM_ACCOUNT, KMALLOC_DMA: SLAB_CACHE_DMA,
                 KMALLOC_CGROUP: SLAB_ACCOUNT}[t]
        if random_copy:
            flags |= SLAB_NO_MERGE
        flags |= SLAB_KMALLOC if gen.slab_kmalloc_flag else 0
        flags |= self._debug_flags_for(name)
        align = ARCH_KMALLOC_MINALIGN
        if gen.kmalloc_align_pow2_divisor:
            align = max(align, size & -size)            # 1U << (ffs(size) - 1)
        elif size & (size - 1) == 0 and gen.kmalloc_pow2_align:
            align = max(align, size)
        align = calculate_alignment(flags, align, size, self.ptr)
        s = self.create_cache(name, size, align, flags, None, usersize=size if gen.slab_usersize else 0)
        if s is None:                                   # its sheaves could not be allocated
            raise MemoryError(f"Kernel panic - not syncing: kmalloc_caches: Unable to create cache {name}")
        self.kernel_caches.add(s.id)
        if random_copy:
            self.kmalloc_random[random_copy][idx] = s
        else:
            self.kmalloc_caches[t][idx] = s

    def kmem_buckets_create(self, name: str, flags: int, useroffset: int, usersize: int) -> list:
        """``kmem_buckets_create()`` (mm/slab_common.c, 6.11+): a private copy of the kmalloc
        size classes, caches ``<name>-8`` .. ``<name>-8k`` created with align 0 (so aligned
        to ARCH_SLAB_MINALIGN, not like the kmalloc caches), SLAB_NO_MERGE. Returns the
        array, indexed like ``kmalloc_caches[KMALLOC_NORMAL]``."""
        self.slab_alloc_node(self.kmem_buckets_cache, G.F_ZERO | int(G.GFP_KERNEL), -1, 0)
        b: list = [None] * (KMALLOC_SHIFT_HIGH + 1)
        for idx, c in enumerate(self.kmalloc_caches[KMALLOC_NORMAL]):
            if c is None:
                continue
            short = c.name.split("-", 1)[1]
            size = c.object_size
            cu = 0 if useroffset >= size else min(size - useroffset, usersize)
            b[idx] = self.kmem_cache_create(f"{name}-{short}", size, 0, flags | SLAB_NO_MERGE,
                                            useroffset=0 if useroffset >= size else useroffset, usersize=cu)
            self.kernel_caches.add(b[idx].id)
        return b

    def kmalloc_type(self, gfp: int, caller: int = 0) -> int:
        """``kmalloc_type(flags, caller)``: DMA beats reclaimable beats accounted (v6.x).
        With random kmalloc caches a normal request returns ``-(1 + copy)``: the copy
        ``hash_64(caller ^ random_kmalloc_seed, 4)`` (0 is the normal cache itself)."""
        if not gfp & KMALLOC_NOT_NORMAL_BITS:
            if self.kmalloc_random is not None:
                return -1 - hash_64(caller ^ self.random_kmalloc_seed, 4)
            return KMALLOC_NORMAL
        if gfp & G.F_DMA:
            return KMALLOC_DMA
        if gfp & G.F_RECLAIMABLE or not self.gen.kmalloc_cg_caches:
            return KMALLOC_RECLAIM
        return KMALLOC_CGROUP

    def kmalloc_slab(self, size: int, gfp: int, caller: int = 0, buckets: list | None = None):
        """``kmalloc_slab(size, b, flags, caller)``: the cache for ``size``: from ``buckets``
        (6.11+ kmem_buckets) when given, else ``kmalloc_caches[kmalloc_type()][index]``;
        None for size 0 and above kmalloc_max_cache_size (ZERO_SIZE_PTR, kmalloc_large)."""
        if not size or size > self.kmalloc_max_cache_size:
            return None
        idx = SIZE_INDEX[(size - 1) >> 3] if size <= 192 else (size - 1).bit_length()
        if buckets is not None:
            return buckets[idx]
        t = self.kmalloc_type(gfp, caller)
        if t < 0:
            return self.kmalloc_random[-1 - t][idx]
        return self.kmalloc_caches[t][idx]

    def cache_ref(self, gfp: int, size: int, s) -> str:
        """How the kernel's source names the cache kmalloc picked: ``kmalloc_caches[index]``
        (and ``kmalloc_dma_caches[]``) before 4.20, ``kmalloc_caches[type][index]`` since."""
        idx = kmalloc_index(size)
        if self.gen.kmalloc_caches_by_type:
            t = ("KMALLOC_NORMAL", "KMALLOC_RECLAIM", "KMALLOC_DMA", "KMALLOC_CGROUP")[
                max(self.kmalloc_type(gfp), 0)]
            if s.name.startswith("kmalloc-rnd-"):
                t = f"KMALLOC_RANDOM_START + {int(s.name[12:14])}"
            return f"kmalloc_caches[{t}][{idx}] = {s.name}"
        return f"{'kmalloc_dma_caches' if gfp & G.F_DMA else 'kmalloc_caches'}[{idx}] = {s.name}"

    def kmalloc_fix_flags(self, gfp: int) -> int:
        """``kmalloc_fix_flags()``: a slab or large kmalloc allocation with zone bits the
        slab allocator cannot use (GFP_SLAB_BUG_MASK: __GFP_DMA32, __GFP_HIGHMEM) gets them
        cleared, with the kernel's warning and a stack dump. 4.x before 4.8 printed
        ``gfp: %u`` and BUG()ed instead: a KernelBug, raised before anything changed."""
        k = self.k
        invalid = gfp & GFP_SLAB_BUG_MASK
        if not self.gen.slab_bug_mask_fixup:
            text = (f"gfp: {invalid}\n------------[ cut here ]------------\n"
                    f"kernel BUG at mm/slub.c:1497!\ninvalid opcode: 0000 [#1] SMP\n{k.cpu_line()}")
            k.log.printk("emerg", text)
            raise KernelBug(f"new_slab(): gfp {G.format_gfp(gfp, self.gen)} has zone bits the slab "
                            "allocator cannot use (GFP_SLAB_BUG_MASK); this kernel BUG()s", text)
        fixed = gfp & ~GFP_SLAB_BUG_MASK
        k.log.printk("warn", f"Unexpected gfp: {invalid:#x} ({G.format_gfp(invalid, self.gen)}). Fixing up "
                             f"to gfp: {fixed:#x} ({G.format_gfp(fixed, self.gen)}). Fix your code!\n"
                             + "\n".join(self._dump_stack_lines()))
        return fixed

    def _dump_stack_lines(self) -> list[str]:
        k = self.k
        return [k.cpu_line(), f"Hardware name: {k.hardware_name}", "Call Trace:", " <TASK>",
                " dump_stack_lvl+0x48/0x70", " </TASK>"]

    # -- kmem_cache_create() and merging ---------------------------------------------------

    def never_merge(self) -> int:
        """``SLAB_NEVER_MERGE`` of the generation (7.0 adds SLAB_CONSISTENCY_CHECKS)."""
        return SLAB_NEVER_MERGE | (SLAB_CONSISTENCY_CHECKS if self.gen.slab_never_merge_consistency else 0)

    def slab_unmergeable(self, s) -> bool:
        """mm/slab_common.c ``slab_unmergeable()``: slab_nomerge, a never-merge flag, a
        constructor, a usercopy region (CONFIG_HARDENED_USERCOPY), per-CPU sheaves (6.18;
        7.0 gives nearly every cache sheaves and merges them), or a boot cache (refcount -1)."""
        return bool(self.k.slab_nomerge or s.flags & self.never_merge() or s.ctor is not None
                    or s.usersize or (s.cpu_sheaves is not None and self.gen.slab_sheaves_unmergeable)
                    or s.refcount < 0)

    def find_mergeable(self, size: int, align: int, flags: int, name: str, ctor):
        """mm/slab_common.c ``find_mergeable()``: the oldest cache a new one can share:
        same merge-relevant flags (SLAB_MERGE_SAME), a stride at most a word larger than
        the new cache's aligned size, and an alignment that stride satisfies."""
        if self.k.slab_nomerge or ctor is not None:
            return None
        flags |= self._debug_flags_for(name)            # kmem_cache_flags()
        if flags & self.never_merge():
            return None
        p = self.ptr
        size = _align(size, p)
        align = calculate_alignment(flags, align, size, p)
        size = _align(size, align)
        for s in self.slab_caches:                      # list_for_each_entry_reverse: oldest first
            if self.slab_unmergeable(s) or size > s.size:
                continue
            if flags & SLAB_MERGE_SAME != s.flags & SLAB_MERGE_SAME:
                continue
            if s.size & ~(align - 1) != s.size or s.size - size >= p:
                continue
            return s
        return None

    def kmem_cache_create(self, name: str, size: int, align: int, flags: int, ctor=None,
                          useroffset: int = 0, usersize: int = 0, freeptr_offset=None,
                          sheaf_capacity: int = 0):
        """``kmem_cache_create()`` (6.12+: ``__kmem_cache_create_args()``): a new cache, an
        existing one it merges with (``__kmem_cache_alias()``: its refcount goes up, its
        object_size and inuse grow to cover the new user's size, and the new name becomes
        a /sys/kernel/slab link to it), or None with the kernel's log lines when the
        arguments fail its checks. ``useroffset``/``usersize`` as
        ``kmem_cache_create_usercopy()`` takes them (4.16+); ``freeptr_offset`` and
        ``sheaf_capacity`` as ``struct kmem_cache_args`` holds them (6.12+, 6.18)."""
        k = self.k
        fn = self.gen.name("kmem_cache_create")
        if size > 1 << (self.page_shift + k.profile.max_order - 1) or size < 1:
            # kmem_cache_sanity_check() (CONFIG_DEBUG_VM): size > KMALLOC_MAX_SIZE
            k.log.printk("err", f"kmem_cache_create({name}) integrity check failed")
            return self._create_failed(fn, name, -22)
        if freeptr_offset is not None and (freeptr_offset >= size or not flags & SLAB_TYPESAFE_BY_RCU
                                           or freeptr_offset % self.ptr):
            # create_cache(): a custom free pointer must lie in an RCU cache's object, aligned
            return self._create_failed(fn, name, -22)
        if not self.gen.slab_usersize or useroffset + usersize > size:
            useroffset = usersize = 0                   # "fail closed on bad usersize"
        if sheaf_capacity and self.gen.slab_sheaves_all:
            flags |= SLAB_NO_MERGE                      # 7.0: "special enough", unmergeable
        if not usersize and not sheaf_capacity:
            s = self.find_mergeable(size, align, flags, name, ctor)
            if s is not None:
                s.refcount += 1
                s.alias_names.append(name)
                s.object_size = max(s.object_size, size)
                s.inuse = max(s.inuse, _align(size, self.ptr))
                return s
        flags |= self._debug_flags_for(name)
        align = calculate_alignment(flags, align, size, self.ptr)
        s = self.create_cache(name, size, align, flags, ctor, useroffset=useroffset, usersize=usersize,
                              freeptr_offset=freeptr_offset, sheaf_capacity=sheaf_capacity)
        if s is None:                                   # the sheaves or barns: -ENOMEM
            return self._create_failed(fn, name, -12)
        if s.order < 0:                                 # calculate_sizes() found no order
            self.slab_caches.remove(s)
            del self.caches_by_id[s.id]
            return self._create_failed(fn, name, -22)
        return s

    def _create_failed(self, fn: str, name: str, err: int):
        """``pr_warn("%s(%s) failed with error %d")`` + ``dump_stack()``; NULL."""
        self.k.log.printk("warn", f"{fn}({name}) failed with error {err}\n" + "\n".join(self._dump_stack_lines()))
        return None

    def is_kmalloc_cache(self, s) -> bool:
        """Caches the kernel itself points at (``kmalloc_caches[][]``, the kmem_buckets and
        the ``kmalloc_buckets`` cache): code that destroyed one would leave those pointers
        dangling."""
        return s.id in self.kernel_caches

    def kmem_cache_destroy(self, s, caller: str = "") -> bool:
        """``kmem_cache_destroy()``: drop a reference; the last one shuts the cache down
        (``__kmem_cache_shutdown()``: flush the CPU slabs, free the empty slabs) and removes
        it, or, with objects still allocated, prints the kernel's "Slab cache still has
        objects" WARNING (4.x: "kmem_cache_destroy %s: Slab cache still has objects") and
        keeps the cache with refcount 0 (6.12+: unlinked from ``slab_caches`` and sysfs, its
        slabs leaked). Returns True when the cache is gone.

        A kmalloc cache (or a kmem_buckets cache) is refused with :class:`KernelBug`, the
        machine unchanged. The kernel does not check this: it would drop the refcount to
        0, WARN if objects remain and (6.12+) unlink the cache while ``kmalloc_caches[]``
        still points at it, or free it when empty so that the next kmalloc() of that size
        uses freed memory; kmemlab stops at the call instead of modelling the corruption."""
        k = self.k
        if self.is_kmalloc_cache(s):
            live = self.live_objects(s)
            text = (f"kmem_cache_destroy({s.name}): kmalloc_caches[] (or a kmem_buckets array) still "
                    f"points at this cache; the kernel does not check this and would "
                    + (f"WARN \"Slab cache still has objects\" ({live} allocated), unlink it and keep "
                       "serving kmalloc() from it" if live else
                       "free it, so that the next kmalloc() of its size uses freed memory")
                    + f"\n{k.cpu_line()}")
            k.log.printk("warn", text)
            raise KernelBug(f"kmem_cache_destroy({s.name}): {s.name} is a cache the kernel itself uses "
                            "(a kmalloc cache); destroying it would leave dangling pointers", text)
        if s.cpu_sheaves is not None:
            # kvfree_rcu_barrier_on_cache(): in-flight kfree_rcu()s may hold its objects
            self.flush_rcu_sheaves_on_cache(s)
            self.rcu_barrier()
        s.refcount -= 1
        if s.refcount:
            return False                                # an alias (or a cache destroyed before)
        if not self.kmem_cache_shutdown(s):
            caller = caller or caller_name()
            if self.gen.warn_symbol_parens:
                k.log.printk("err", f"kmem_cache_destroy {s.name}: Slab cache still has objects\n"
                                    + "\n".join(self._dump_stack_lines()))
            else:
                k.log.printk("warn", f"------------[ cut here ]------------\n"
                                     f"kmem_cache_destroy {s.name}: Slab cache still has objects when "
                                     f"called from {caller}\n"
                                     f"WARNING: CPU: {k.cpu} PID: {k.pid} at mm/slab_common.c "
                                     f"kmem_cache_destroy\n---[ end trace 0000000000000000 ]---")
            if self.gen.kmem_cache_destroy_unlinks:
                # 6.12+: list_del() and sysfs_slab_unlink() come before `if (err) return;`:
                # the cache leaves /proc/slabinfo, its slabs stay allocated (a leak)
                self.slab_caches.remove(s)
                del self.caches_by_id[s.id]
                self.detached_caches.append(s)
            return False
        self.release_sheaves(s)                         # __kmem_cache_release(): pcs_destroy()
        self.slab_caches.remove(s)
        del self.caches_by_id[s.id]
        return True

    def kmem_cache_shrink(self, s) -> int:
        """``kmem_cache_shrink()`` -> ``__kmem_cache_shrink()``."""
        return self.kmem_cache_do_shrink(s)

    # -- kfree, ksize, krealloc ------------------------------------------------------------

    def kfree(self, addr: int) -> None:
        """``kfree()``: NULL and ZERO_SIZE_PTR (``ZERO_OR_NULL_PTR``: addresses up to 16)
        are ignored; a slab object goes back to its cache (``slab_free()``), any other
        page (kmalloc_large) back to the page allocator (``free_large_kmalloc()``). ``addr``
        is an unsigned machine word (an ERR_PTR is a huge number, not a negative one).

        Hot path: ``virt_to_slab()`` is one look-up in the pfn -> slab index, then
        ``do_slab_free()``'s fast path."""
        if addr <= 16:
            tr = self.k.tracer
            if tr is not None and tr.events is not None:    # kfree(): trace_kfree() comes first
                tr.kmem("kfree", call_site=tr.call_site(), ptr=addr)
            return
        k = self.k
        tr = k.tracer
        if tr is not None:
            if tr.events is not None:
                tr.kmem("kfree", call_site=tr.call_site(), ptr=addr)
            return tr.through(("kfree",), lambda: self._kfree(addr), f"{addr:#x}")
        try:                                        # virt_to_slab() (no .get() call: see slab_alloc_node)
            slab = self.page_slab[(addr - self.page_offset) >> self.page_shift]
        except KeyError:
            return self._kfree(addr)                # not a slab page (or not the direct map)
        s = slab.cache
        slab_free = s.slab_free_fn          # slab_free() (Slub.bind_slab_free); a local: see Slub._fp_get
        slab_free(self, s, slab, addr, "kfree")
        k.clock.ns += 100
        if k.bus.subscribers:
            k.bus.changed("kfree", slab.pfn, 1 << slab.order, K_SLAB, addr, s.object_size, s.name)

    def _kfree(self, addr: int) -> None:
        """kfree() after ZERO_OR_NULL_PTR: virt_to_folio(), then the slab or large path."""
        k = self.k
        slab, pfn = self.lookup(addr, "kfree")
        if slab is None:
            tr = k.tracer
            if tr is not None:
                role = self.gen.name("kfree_large")
                if role != "__free_pages":     # 4.7-5.15: kfree() frees the page itself
                    return tr.through((role,), lambda: self.free_large_kmalloc(pfn, addr),
                                      f"order={max(int(k.mem_map.order[pfn]), 0)}")
            return self.free_large_kmalloc(pfn, addr)
        s = slab.cache
        tr = k.tracer
        if tr is not None:
            self._slab_free_frames(tr, s, slab, addr, "kfree", "kfree_slab_chain")
        else:
            self.slab_free(s, slab, addr, "kfree")
        k.clock.ns += 100
        if k.bus.subscribers:
            k.bus.changed("kfree", slab.pfn, 1 << slab.order, K_SLAB, addr, s.object_size, s.name)

    def lookup(self, addr: int, fn: str):
        """``virt_to_folio()`` for a kfree/ksize argument: (slab, pfn) for a slab page,
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

    def check_kfree(self, addr: int, fn: str = "kfree") -> None:
        """What kfree(addr) would refuse, checked without changing anything (krealloc()
        calls it before it allocates): a non-direct-map address, a page that is not a
        kmalloc block, and, on a debug cache, a pointer that is not an object or an object
        already free. Raises the KernelBug kfree() would raise."""
        if addr <= 16:
            return
        slab, pfn = self.lookup(addr, fn)
        if slab is None:
            self.check_free_large(pfn, addr, fn)
        elif slab.cache.debug:
            self.dbg.check_free(slab.cache, slab, addr, fn)

    def ksize(self, addr: int) -> int:
        """``ksize()``: the usable size of a kmalloc'ed object (``slab_ksize()``), or of
        a large kmalloc block; 0 for NULL / ZERO_SIZE_PTR. On a 6.2+ debug kmalloc cache it
        also turns the object's "kmalloc Redzone" check off (``skip_orig_size_check()``:
        the caller may now use all of it)."""
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
        s = slab.cache
        if s.orig_size_tracked and self.gen.kmalloc_redzone:
            self.dbg.set_orig_size(s, addr, s.object_size)
        return self.slab_ksize(s)

    @staticmethod
    def slab_ksize(s) -> int:
        """mm/slab.h ``slab_ksize()``."""
        if s.flags & (SLAB_RED_ZONE | SLAB_POISON):
            return s.object_size
        if s.flags & SLAB_STORE_USER:
            return s.inuse
        return s.size

    @traced("krealloc", detail=lambda self, addr, new_size, gfp: f"{addr:#x} new_size={new_size}")
    def krealloc(self, addr: int, new_size: int, gfp: int) -> int:
        """``krealloc()``: new_size 0 frees and returns ZERO_SIZE_PTR; otherwise
        ``__do_krealloc()`` keeps the object when the new size fits, else allocates, copies
        and frees the old object. What kfree() would refuse is refused first, before
        anything is allocated.

        6.13+ (``krealloc_orig_size``): the object fits while new_size <= object_size; a
        debug kmalloc cache records the new size as orig_size and paints the bytes after it
        as the kmalloc red zone again (SLUB_RED_ACTIVE), so the next kfree() checks the red
        zone behind the new size; a copy takes orig_size bytes. Before: the object fits
        while new_size <= ksize(), and ksize() switched the kmalloc red zone check off."""
        if addr > 16:
            self.check_kfree(addr, "krealloc")
        if not new_size:
            self.kfree(addr)
            return ZERO_SIZE_PTR
        ks = orig = 0
        s = None
        if addr > 16:
            slab, pfn = self.lookup(addr, "krealloc")
            if self.gen.krealloc_orig_size:
                if slab is None:
                    ks = self.page_size << max(int(self.k.mem_map.order[pfn]), 0)
                else:
                    s = slab.cache
                    ks = s.object_size
                    orig = self.dbg.get_orig_size(s, addr) if s.orig_size_tracked else s.object_size
            else:
                ks = self.ksize(addr)
        if addr > 16 and new_size <= ks:
            if gfp & G.F_ZERO:                          # want_init_on_alloc()
                if orig and orig < new_size:
                    self.fill(addr + orig, 0, new_size - orig)
                else:
                    self.fill(addr + new_size, 0, ks - new_size)
            if s is not None and s.orig_size_tracked and self.gen.krealloc_orig_size:
                self.dbg.set_orig_size(s, addr, new_size)
                if s.flags & SLAB_RED_ZONE and new_size < ks:
                    self.fill(addr + new_size, SLUB_RED_ACTIVE, ks - new_size)
            return addr
        new = self.kmalloc_variable(new_size, gfp, -1, "kmalloc_track_caller_chain")
        if new and addr > 16:
            self.copy(new, addr, min(new_size, orig or ks))
            self.kfree(addr)
        return new

