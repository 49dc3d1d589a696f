"""GFP flags (include/linux/gfp_types.h, v6.x bit values) and what they choose.

``gfp_t`` is modelled as :class:`gfp_t`, an ``IntFlag``, so ``GFP_KERNEL | __GFP_ZERO``
works as in C and prints by name. :func:`format_gfp` prints a mask the way the kernel's
``%pGg`` does in allocation-failure reports: ``0xcc0(GFP_KERNEL)``.
"""

from __future__ import annotations

import enum
import numbers

__all__ = [
    "gfp_t", "format_gfp", "gfp_zone", "gfp_migratetype", "gfpflags_allow_blocking",
    "check_gfp", "GFP_NAMES", "gfp_names", "flag_names", "gfp_value_for",
    "MIGRATE_UNMOVABLE", "MIGRATE_MOVABLE", "MIGRATE_RECLAIMABLE", "MIGRATE_HIGHATOMIC",
    "MIGRATE_ISOLATE", "MIGRATE_TYPES", "MIGRATETYPE_NAMES",
]


_GFP_BITS = [
    ("__GFP_DMA", 0x01),
    ("__GFP_HIGHMEM", 0x02),
    ("__GFP_DMA32", 0x04),
    ("__GFP_MOVABLE", 0x08),
    ("__GFP_RECLAIMABLE", 0x10),
    ("__GFP_HIGH", 0x20),
    ("__GFP_IO", 0x40),
    ("__GFP_FS", 0x80),
    ("__GFP_ZERO", 0x100),
    ("__GFP_DIRECT_RECLAIM", 0x400),
    ("__GFP_KSWAPD_RECLAIM", 0x800),
    ("__GFP_WRITE", 0x1000),
    ("__GFP_NOWARN", 0x2000),
    ("__GFP_RETRY_MAYFAIL", 0x4000),
    ("__GFP_NOFAIL", 0x8000),
    ("__GFP_NORETRY", 0x10000),
    ("__GFP_MEMALLOC", 0x20000),
    ("__GFP_COMP", 0x40000),
    ("__GFP_NOMEMALLOC", 0x80000),
    ("__GFP_HARDWALL", 0x100000),
    ("__GFP_THISNODE", 0x200000),
    ("__GFP_ACCOUNT", 0x400000),
    ("__GFP_ZEROTAGS", 0x800000),
]
#: The kernel's ``gfp_t`` bits (values as in v5.x/v6.x ``___GFP_*``). Built with the
#: functional API because a class body would mangle the ``__GFP_`` names.
gfp_t = enum.IntFlag("gfp_t", _GFP_BITS)

# Export every bit under its kernel spelling at module level.
_g = {m.name: m for m in gfp_t}
__GFP_DMA = _g["__GFP_DMA"]
__GFP_HIGHMEM = _g["__GFP_HIGHMEM"]
__GFP_DMA32 = _g["__GFP_DMA32"]
__GFP_MOVABLE = _g["__GFP_MOVABLE"]
__GFP_RECLAIMABLE = _g["__GFP_RECLAIMABLE"]
__GFP_HIGH = _g["__GFP_HIGH"]
__GFP_IO = _g["__GFP_IO"]
__GFP_FS = _g["__GFP_FS"]
__GFP_ZERO = _g["__GFP_ZERO"]
__GFP_DIRECT_RECLAIM = _g["__GFP_DIRECT_RECLAIM"]
__GFP_KSWAPD_RECLAIM = _g["__GFP_KSWAPD_RECLAIM"]
__GFP_WRITE = _g["__GFP_WRITE"]
__GFP_NOWARN = _g["__GFP_NOWARN"]
__GFP_RETRY_MAYFAIL = _g["__GFP_RETRY_MAYFAIL"]
__GFP_NOFAIL = _g["__GFP_NOFAIL"]
__GFP_NORETRY = _g["__GFP_NORETRY"]
__GFP_MEMALLOC = _g["__GFP_MEMALLOC"]
__GFP_COMP = _g["__GFP_COMP"]
__GFP_NOMEMALLOC = _g["__GFP_NOMEMALLOC"]
__GFP_HARDWALL = _g["__GFP_HARDWALL"]
__GFP_THISNODE = _g["__GFP_THISNODE"]
__GFP_ACCOUNT = _g["__GFP_ACCOUNT"]
__GFP_ZEROTAGS = _g["__GFP_ZEROTAGS"]
del _g

__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM

# Plain-int spellings for code inside classes, where Python would mangle a ``__GFP_``
# name into ``_Class__GFP_...``; plain ints are also much faster than IntFlag arithmetic.
F_DMA, F_HIGHMEM, F_DMA32, F_MOVABLE = 0x01, 0x02, 0x04, 0x08
F_RECLAIMABLE, F_HIGH, F_IO, F_FS, F_ZERO = 0x10, 0x20, 0x40, 0x80, 0x100
F_DIRECT_RECLAIM, F_KSWAPD_RECLAIM, F_NOWARN = 0x400, 0x800, 0x2000
F_RETRY_MAYFAIL, F_NOFAIL, F_NORETRY, F_MEMALLOC, F_COMP = 0x4000, 0x8000, 0x10000, 0x20000, 0x40000
F_NOMEMALLOC, F_HARDWALL, F_THISNODE, F_ACCOUNT = 0x80000, 0x100000, 0x200000, 0x400000
GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
#: GFP_NOWAIT as the default generation (6.18) defines it: since 6.8 it includes
#: __GFP_NOWARN (``Machine.GFP_NOWAIT`` gives the value of a machine's own generation).
GFP_NOWAIT_OLD = __GFP_KSWAPD_RECLAIM
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
F_USER_NOWARN = int(GFP_USER | __GFP_NOWARN)      # memdup_user()'s flags
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE
GFP_TRANSHUGE_LIGHT = ((GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN)
                       & ~__GFP_RECLAIM)
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM
#: mm/internal.h: the bits a nested allocation (vmalloc's pages array) inherits
GFP_RECLAIM_MASK = (__GFP_RECLAIM | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_NOWARN
                    | __GFP_RETRY_MAYFAIL | __GFP_NOFAIL | __GFP_NORETRY | __GFP_MEMALLOC
                    | __GFP_NOMEMALLOC)
__GFP_BITS_MASK = gfp_t((1 << 26) - 1)

# include/trace/events/mmflags.h __def_gfpflag_names: composite masks first, so that
# "GFP_KERNEL|__GFP_ZERO" is printed rather than a list of single bits. v4.6 - v6.14 list
# the single bits in the order below; from 6.15 (ca29a0bf1221; the real 6.18's
# events/kmem/kmalloc/format) they come in bit order after GFP_DMA32 and __GFP_RECLAIM.
# (4.5 had no %pGg: its reports print the bare number.)
def _names_table(nowait: int, bit_order: bool) -> list[tuple[int, str]]:
    composite = [
        (GFP_TRANSHUGE, "GFP_TRANSHUGE"), (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
        (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"), (GFP_HIGHUSER, "GFP_HIGHUSER"),
        (GFP_USER, "GFP_USER"), (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
        (GFP_KERNEL, "GFP_KERNEL"), (GFP_NOFS, "GFP_NOFS"), (GFP_ATOMIC, "GFP_ATOMIC"),
        (GFP_NOIO, "GFP_NOIO"), (nowait, "GFP_NOWAIT"), (GFP_DMA, "GFP_DMA")]
    if bit_order:
        return composite + [(GFP_DMA32, "GFP_DMA32"), (__GFP_RECLAIM, "__GFP_RECLAIM")] + [
            (int(m), m.name) for m in gfp_t]
    return composite + [
        (__GFP_HIGHMEM, "__GFP_HIGHMEM"), (GFP_DMA32, "GFP_DMA32"), (__GFP_HIGH, "__GFP_HIGH"),
        (__GFP_IO, "__GFP_IO"), (__GFP_FS, "__GFP_FS"), (__GFP_NOWARN, "__GFP_NOWARN"),
        (__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"), (__GFP_NOFAIL, "__GFP_NOFAIL"),
        (__GFP_NORETRY, "__GFP_NORETRY"), (__GFP_COMP, "__GFP_COMP"), (__GFP_ZERO, "__GFP_ZERO"),
        (__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"), (__GFP_MEMALLOC, "__GFP_MEMALLOC"),
        (__GFP_HARDWALL, "__GFP_HARDWALL"), (__GFP_THISNODE, "__GFP_THISNODE"),
        (__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"), (__GFP_MOVABLE, "__GFP_MOVABLE"),
        (__GFP_ACCOUNT, "__GFP_ACCOUNT"), (__GFP_WRITE, "__GFP_WRITE"),
        (__GFP_RECLAIM, "__GFP_RECLAIM"), (__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
        (__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"), (__GFP_ZEROTAGS, "__GFP_ZEROTAGS")]


_NAMES_TABLES = {(nw, bo): _names_table(int(nw), bo)
                 for nw in (GFP_NOWAIT_OLD, GFP_NOWAIT) for bo in (False, True)}
#: the default generation's table (what ``km.format_gfp(flags)`` uses)
GFP_NAMES: list[tuple[int, str]] = _NAMES_TABLES[(GFP_NOWAIT, True)]


def _default_gen():
    from .generation import DEFAULT_KERNEL, get_generation
    return get_generation(DEFAULT_KERNEL)


def _as_gen(gen):
    """A Generation from a Generation, a release string ("4.19") or None (the default)."""
    from .generation import Generation, get_generation
    if gen is None:
        return _default_gen()
    if isinstance(gen, Generation):
        return gen
    if isinstance(gen, str):
        return get_generation(gen)
    raise TypeError(f"pass a kernel release such as '6.6' (or a machine's m.gen), got {gen!r}")


def gfp_names(gen) -> list[tuple[int, str]]:
    """The ``%pGg`` names table of a generation."""
    gen = _as_gen(gen)
    return _NAMES_TABLES[(GFP_NOWAIT if gen.gfp_nowait_nowarn else GFP_NOWAIT_OLD, gen.gfp_names_bit_order)]


def _flag_names(flags: int, table=None) -> str:
    """lib/vsprintf.c format_flags(): greedy match of the names table, rest in hex."""
    if not flags:
        return "none"
    parts = []
    for mask, name in (GFP_NAMES if table is None else table):
        if mask and (flags & mask) == mask:
            parts.append(name)
            flags &= ~mask
            if not flags:
                break
    if flags:
        parts.append(f"{flags:#x}")
    return "|".join(parts)


def flag_names(flags: int, gen=None) -> str:
    """``%pGg`` without the number: ``GFP_KERNEL|__GFP_ZERO``, as tracepoints print gfp_flags."""
    return _flag_names(int(flags), gfp_names(gen))


# Older kernels numbered the bits differently (include/linux/gfp.h of each release), so
# the same request prints another mode value: GFP_KERNEL is 0x24000c0 on 4.5 (where
# ___GFP_OTHER_NODE still sat below __GFP_WRITE), 0x14000c0 on 4.10-4.14, 0x6000c0 on
# 4.15-4.19 (after __GFP_COLD and __GFP_NOTRACK went) and 0xcc0 from 5.0 on. The modern
# names map to the old bits: __GFP_RETRY_MAYFAIL sat where 4.5's __GFP_REPEAT was.
_LAYOUT_4_10 = {"__GFP_WRITE": 0x800000, "__GFP_NOWARN": 0x200, "__GFP_RETRY_MAYFAIL": 0x400,
                "__GFP_NOFAIL": 0x800, "__GFP_NORETRY": 0x1000, "__GFP_MEMALLOC": 0x2000,
                "__GFP_COMP": 0x4000, "__GFP_ZERO": 0x8000, "__GFP_NOMEMALLOC": 0x10000,
                "__GFP_HARDWALL": 0x20000, "__GFP_THISNODE": 0x40000, "__GFP_ACCOUNT": 0x100000,
                "__GFP_DIRECT_RECLAIM": 0x400000, "__GFP_KSWAPD_RECLAIM": 0x1000000}
_LAYOUTS = {
    "4.5": dict(_LAYOUT_4_10, __GFP_WRITE=0x1000000, __GFP_KSWAPD_RECLAIM=0x2000000),
    "4.10": _LAYOUT_4_10,
    "4.15": dict(_LAYOUT_4_10, __GFP_WRITE=0x100, __GFP_DIRECT_RECLAIM=0x200000,
                 __GFP_KSWAPD_RECLAIM=0x400000),
    "5.0": None,
}


def gfp_value_for(flags: int, gen=None) -> int:
    """The number a kernel of generation ``gen`` prints for this request. Before v6.3
    GFP_ATOMIC also carried ``__GFP_ATOMIC``; it is added where the request is atomic."""
    gen = _as_gen(gen)
    layout = _LAYOUTS[gen.gfp_layout]
    value = flags
    if layout is not None:
        value = flags & 0xff           # zone, mobility, HIGH, IO, FS keep their bits
        for member in gfp_t:
            if flags & member.value and member.value > 0xff:
                value |= layout.get(member.name, 0)
    if gen.gfp_atomic_bit and flags & F_HIGH and flags & F_KSWAPD_RECLAIM and not flags & F_DIRECT_RECLAIM:
        value |= gen.gfp_atomic_bit      # ___GFP_ATOMIC
    return value


def format_gfp(flags: int, gen=None) -> str:
    """``mode:%#x(%pGg)`` as in warn_alloc(): ``0xcc0(GFP_KERNEL)`` — the number as the
    generation ``gen`` (a release such as "4.19", or ``m.gen``; default 6.18) lays the bits
    out, the names as its ``%pGg`` table prints them."""
    flags = int(flags)
    return f"{gfp_value_for(flags, gen):#x}({_flag_names(flags, gfp_names(gen))})"


def _gfp_repr(self):
    return f"gfp_t({format_gfp(self)})"


gfp_t.__repr__ = _gfp_repr
gfp_t.__str__ = lambda self: _flag_names(int(self))


# Zone indices, in the kernel's enum zone_type order.
ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_HIGHMEM, ZONE_MOVABLE = "DMA", "DMA32", "Normal", "HighMem", "Movable"


def gfp_zone(flags: int, profile) -> str:
    """include/linux/gfp.h gfp_zone(): the highest zone an allocation may use.

    The zonelist then falls back to lower zones (Normal -> DMA32 -> DMA); that is the
    allocator's business, see :mod:`kmemlab.kernel.buddy`.
    """
    zone_bits = flags & (F_DMA | F_DMA32 | F_HIGHMEM)
    if not zone_bits:
        return ZONE_NORMAL
    if zone_bits & (zone_bits - 1):
        # GFP_ZONE_BAD: the kernel BUG()s on combinations like __GFP_DMA|__GFP_HIGHMEM.
        raise ValueError(f"invalid GFP zone modifier combination {format_gfp(flags)}: "
                         "pass at most one of __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM")
    if zone_bits == F_DMA:
        return ZONE_DMA
    if zone_bits == F_DMA32:
        # x86_64 has ZONE_DMA32; i386 does not, where the kernel maps it to Normal.
        return ZONE_DMA32 if profile.has_zone(ZONE_DMA32) else ZONE_NORMAL
    return ZONE_HIGHMEM if profile.has_zone(ZONE_HIGHMEM) else ZONE_NORMAL


MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE = 0, 1, 2, 3, 4
MIGRATE_TYPES = 5
#: mm/vmstat.c migratetype_names[] (without CMA, which kmemlab does not model)
MIGRATETYPE_NAMES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]


def gfp_migratetype(flags: int) -> int:
    """include/linux/gfp.h gfp_migratetype(): the mobility bits choose the free lists."""
    if flags & F_MOVABLE:
        return MIGRATE_MOVABLE
    if flags & F_RECLAIMABLE:
        return MIGRATE_RECLAIMABLE
    return MIGRATE_UNMOVABLE


def gfpflags_allow_blocking(flags: int) -> bool:
    """include/linux/gfp.h: may this allocation sleep (direct reclaim)?"""
    return bool(flags & F_DIRECT_RECLAIM)


def check_gfp(flags) -> int:
    """Validate a GFP argument from a notebook and return it as a plain ``int``
    (``IntFlag`` arithmetic is slow on hot paths). numpy integers are accepted."""
    t = type(flags)
    if t is gfp_t:                   # km.GFP_KERNEL and friends: the common case
        flags = flags._value_
    elif t is not int:
        if isinstance(flags, bool) or not isinstance(flags, (int, numbers.Integral)):
            raise TypeError(f"gfp flags must be a GFP mask such as km.GFP_KERNEL, got "
                            f"{type(flags).__name__} {flags!r}")
        flags = int(flags)
    if flags < 0 or flags & ~_GFP_VALID:
        raise ValueError(f"gfp flags {flags:#x} contain bits the kernel does not define; "
                         "combine names like km.GFP_KERNEL | km.__GFP_ZERO")
    return flags


_GFP_VALID = int(__GFP_BITS_MASK) & ~0x200
