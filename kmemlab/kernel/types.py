"""Small value types: :class:`Address` (``void *``), ``NULL``, ``ZERO_SIZE_PTR`` and
:class:`Page` (``struct page *``)."""

from __future__ import annotations

import numbers

__all__ = ["Address", "NULL", "ZERO_SIZE_PTR", "Page", "as_int", "ERR_PTR", "IS_ERR", "PTR_ERR",
           "ENOMEM", "EFAULT", "EINVAL", "MAX_ERRNO"]


def as_int(value, what: str) -> int:
    """Accept Python and numpy integers; refuse bool, float and str with a clear message."""
    t = type(value)
    if t is int:                     # the common case, without the slow ABC check
        return value
    if isinstance(value, int) and t is not bool:     # Address, IntFlag: still no ABC check
        return int(value)
    if t is bool or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


class Address(int):
    """A kernel virtual (or physical) address: an ``int`` shown in hex.

    ``NULL`` is ``Address(0)`` and is falsy, so ``if not p:`` reads like C's
    ``if (!p)``. Adding or subtracting an int gives an ``Address`` again, so pointer
    arithmetic such as ``m.write(p + 8, b"x")`` keeps the type.
    """

    __slots__ = ()

    def __new__(cls, value=0):
        value = as_int(value, "an address")
        if value < 0 or value >= 1 << 64:
            raise ValueError(f"an address must fit in 64 bits (0 .. 2**64-1), got {value:#x}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return "NULL" if self == 0 else f"{int(self):#018x}" if self >= 1 << 32 else f"{int(self):#x}"

    __str__ = __repr__

    def __add__(self, other):
        if isinstance(other, numbers.Integral) and not isinstance(other, bool):
            return Address(int(self) + int(other))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, Address):
            return int(self) - int(other)
        if isinstance(other, numbers.Integral) and not isinstance(other, bool):
            return Address(int(self) - int(other))
        return NotImplemented


#: ``NULL``: what a failed allocation returns.
NULL = Address(0)
#: ``ZERO_SIZE_PTR`` (include/linux/slab.h: ``((void *)16)``): what ``kmalloc(0)`` returns.
ZERO_SIZE_PTR = Address(16)

#: include/linux/err.h: the last page of the address space encodes -errno
MAX_ERRNO = 4095
ENOMEM, EFAULT, EINVAL = 12, 14, 22


def ERR_PTR(error: int) -> Address:
    """``ERR_PTR(-ENOMEM)``: the pointer that carries an error number (what memdup_user()
    returns when it fails, instead of NULL)."""
    error = as_int(error, "error")
    if not -MAX_ERRNO <= error < 0:
        raise ValueError(f"ERR_PTR() takes a negative errno (-1 .. -{MAX_ERRNO}), got {error}")
    return Address((1 << 64) + error)


def IS_ERR(p) -> bool:
    """``IS_ERR(p)``: does ``p`` carry an error number (the top 4095 addresses)?"""
    return as_int(p, "pointer") >= (1 << 64) - MAX_ERRNO


def PTR_ERR(p) -> int:
    """``PTR_ERR(p)``: the (negative) error number an ``ERR_PTR`` carries."""
    return as_int(p, "pointer") - (1 << 64)


class Page:
    """A ``struct page *``: one frame of the machine's ``mem_map``.

    A ``Page`` is a handle: its fields are read live from the machine's per-frame
    arrays, so it always shows the frame's current state. Two handles to the same
    frame of the same machine compare equal.
    """

    __slots__ = ("_mm", "pfn")

    def __init__(self, mem_map, pfn: int):
        self._mm = mem_map
        self.pfn = int(pfn)

    @property
    def order(self) -> int:
        """Order of the block this page heads (allocated or free), else 0."""
        return self._mm.block_order(self.pfn)

    @property
    def zone(self) -> str:
        """Name of the zone the frame belongs to ("DMA", "DMA32", "Normal", "HighMem")."""
        return self._mm.zone_name(self.pfn)

    @property
    def node(self) -> int:
        """NUMA node id (``page_to_nid``)."""
        return int(self._mm.node[self.pfn])

    @property
    def flags(self) -> list[str]:
        """Page flags and page type by their kernel names (``buddy``, ``slab``, ``head``, ``reserved``...)."""
        return self._mm.flag_names(self.pfn)

    @property
    def owner(self) -> str:
        """What holds the frame, in kmemlab's words (free, slab, vmalloc, pagetable, ...)."""
        return self._mm.kind_name(self.pfn)

    @property
    def phys(self) -> Address:
        """Physical address of the frame (``page_to_phys``)."""
        return Address(self.pfn << self._mm.page_shift)

    def __eq__(self, other):
        return isinstance(other, Page) and other._mm is self._mm and other.pfn == self.pfn

    def __hash__(self):
        return hash((id(self._mm), self.pfn))

    def __repr__(self) -> str:
        flags = "|".join(self.flags) or "none"
        return (f"<struct page pfn={self.pfn:#x} order={self.order} zone={self.zone} "
                f"node={self.node} flags={flags} owner={self.owner}>")
