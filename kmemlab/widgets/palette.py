"""The colours of every kmemlab picture: one named, colour-blind-safe palette.

A frame's colour says who holds it (its ``mem_map`` kind, :mod:`kmemlab.kernel.mem_map`).
The allocated kinds use Paul Tol's *muted* qualitative scheme (nine colours chosen to stay
distinct under deuteranopia, protanopia and tritanopia and in greyscale print; see
https://personal.sron.nl/~pault/#sec:qualitative). Free frames are greys, darker for
smaller buddy blocks, so fragmented memory looks "dusty" and one large free block looks
clean; holes in the physical address map (not RAM) are white. Meaning never rests on colour
alone: every view has a legend and a text line that names a frame's kind and order.

Palette indices (one byte per frame in the physical map's PNG):

- ``0 .. FREE_BASE-1``: the mem_map kind with that number (``K_*``); kinds added later to
  mem_map get a neutral mid grey until they are given a colour here;
- ``FREE_BASE + order``: a free frame inside a free buddy block of that order;
- ``SLAB_BASE + shade``: a slab frame, shaded by its cache's object size (lighter green
  for small objects, darker for large ones: :func:`slab_shade`), so the slabs of
  kmalloc-16 and kmalloc-4k look different on the map.
"""

from __future__ import annotations

import numpy as np

from ..kernel.mem_map import (KIND_NAMES, K_FREE, K_KERNEL, K_KMALLOC_LARGE, K_MEMMAP, K_NOMAP,
                              K_PAGES, K_PCP, K_PGTABLE, K_RESERVED, K_SLAB, K_USER, K_VMALLOC)

__all__ = ["PALETTE_NAME", "KIND_COLOURS", "FREE_BASE", "MAX_FREE_ORDER", "free_colour",
           "SLAB_BASE", "SLAB_SHADES", "slab_shade",
           "palette_rgb", "palette_hex", "kind_lut", "legend_entries"]

PALETTE_NAME = "Paul Tol 'muted' (colour-blind safe) + grey ramp for free blocks"

#: colour of each allocated kind (Tol muted; the hex values are Tol's)
KIND_COLOURS = {
    K_NOMAP: "#FFFFFF",          # not RAM: white, the page shows through
    K_RESERVED: "#332288",       # indigo
    K_KERNEL: "#882255",         # wine
    K_MEMMAP: "#AA4499",         # purple
    K_PAGES: "#CC6677",          # rose
    K_SLAB: "#117733",           # green
    K_KMALLOC_LARGE: "#44AA99",  # teal
    K_VMALLOC: "#88CCEE",        # cyan
    K_PGTABLE: "#999933",        # olive
    K_USER: "#DDCC77",           # sand
    K_PCP: "#FFAABB",            # pink (Tol light): free, on a CPU's per-cpu page list
}
UNKNOWN_KIND_COLOUR = "#777777"

FREE_BASE = 32          # palette index of a free frame in an order-0 block
MAX_FREE_ORDER = 15     # indices FREE_BASE .. FREE_BASE+15 are reserved for free orders
_FREE_DARK = 0x9A       # grey level of order 0 (darkest: the most fragmented memory)
_FREE_LIGHT = 0xE6      # grey level of the largest order


SLAB_BASE = 48          # palette index of the lightest slab shade
#: greens from light (8-byte objects) to dark (1 KiB and more); the middle one is K_SLAB's
SLAB_SHADES = ("#A6DBA0", "#7FC97F", "#5AAE61", "#2F9A45", "#117733", "#0E6A2D", "#0B5A26",
               "#08461D")


def slab_shade(object_size: int) -> int:
    """Shade (0..7) of a slab whose objects are ``object_size`` bytes: one step per
    power of two from 8 bytes (0) to 1 KiB and more (7)."""
    return min(len(SLAB_SHADES) - 1, max(0, (int(object_size) - 1).bit_length() - 3))


def free_colour(order: int, max_order: int = 11) -> str:
    """The grey of a free block of ``order`` (0 darkest .. max_order-1 lightest)."""
    top = max(1, max_order - 1)
    o = min(max(order, 0), top)
    g = _FREE_DARK + (_FREE_LIGHT - _FREE_DARK) * o // top
    return f"#{g:02X}{g:02X}{g:02X}"


def palette_hex(max_order: int = 11) -> list[str]:
    """All 256 palette entries as ``#RRGGBB`` (unused entries are the unknown grey)."""
    pal = [UNKNOWN_KIND_COLOUR] * 256
    for kind, colour in KIND_COLOURS.items():
        pal[kind] = colour
    for o in range(MAX_FREE_ORDER + 1):
        pal[FREE_BASE + o] = free_colour(o, max_order)
    for i, c in enumerate(SLAB_SHADES):
        pal[SLAB_BASE + i] = c
    return pal


def palette_rgb(max_order: int = 11) -> bytes:
    """The palette as 768 bytes (R, G, B per index), what ``PIL.Image.putpalette`` takes."""
    return b"".join(bytes.fromhex(c[1:]) for c in palette_hex(max_order))


def kind_lut() -> np.ndarray:
    """uint8[256]: palette index of each mem_map kind (free frames are fixed up by order)."""
    lut = np.arange(256, dtype=np.uint8)
    lut[K_FREE] = FREE_BASE
    return lut


def legend_entries(max_order: int = 11, lang: str = "en") -> list[tuple[str, str]]:
    """``(label, colour)`` pairs in the order a legend lists them."""
    from .messages import text
    out = [(KIND_NAMES[k] if k != K_SLAB else text("phys.slab", lang), c)
           for k, c in KIND_COLOURS.items() if k != K_NOMAP]
    out += [(text("phys.free_order", lang, o=o), free_colour(o, max_order))
            for o in (0, max_order // 2, max_order - 1)]
    out.append((text("phys.hole", lang), KIND_COLOURS[K_NOMAP]))
    return out
