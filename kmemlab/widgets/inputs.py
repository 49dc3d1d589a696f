"""The one parser behind every number box of the views (console sizes and orders, the
mapping picture's and the walk's address boxes, the physical map's pfn and zoom boxes).

Each function takes the text as typed and returns an int, or raises ``ValueError`` with
a message from :mod:`.messages` in the view's language: the same wording for the same
mistake in every box (``'zzz' is not a size; type e.g. 100, 8192, 64K or 1M``), and a
number wider than 64 bits is refused the same way whatever it was typed for. Boxes
evaluate on Enter or when they lose focus (``continuous_update=False``), never per
keystroke, and a bad entry leaves the picture as it was and says why.
"""

from __future__ import annotations

import ipywidgets as W

from ..kernel.layout import parse_size as _parse_size
from .messages import text

__all__ = ["parse_int", "parse_address", "parse_pfn", "parse_bytes", "parse_order_or_size",
           "number_box", "U64_MAX"]

U64_MAX = (1 << 64) - 1


def _fits(n: int, typed: str, lang: str) -> int:
    if n > U64_MAX:
        raise ValueError(text("err.too_wide", lang, text=typed))
    return n


def parse_int(typed: str, complaint: str, lang: str = "en") -> tuple[int, bool]:
    """``(value, True)`` for a plain integer ("12", "0x800", "1_000"), ``(bytes, False)``
    for a size with a unit ("64K", "1M"); ValueError with message ``complaint``."""
    s = typed.strip()
    if not s:
        raise ValueError(text(complaint, lang, text=typed))
    try:
        return _fits(int(s, 0), s, lang), True
    except ValueError as e:
        if "64 bits" in str(e) or "64 ビット" in str(e):
            raise
    try:
        return _fits(_parse_size(s, "size"), s, lang), False
    except ValueError as e:
        if "64 bits" in str(e) or "64 ビット" in str(e):
            raise
    except TypeError:
        pass
    raise ValueError(text(complaint, lang, text=s)) from None


def parse_address(typed: str, lang: str = "en") -> int:
    """A virtual address: ``0xffff888000100000`` (hex or decimal, at most 64 bits)."""
    if not typed.strip():
        raise ValueError(text("err.empty_address", lang))
    n, plain = parse_int(typed, "err.not_address", lang)
    if not plain or n < 0:
        raise ValueError(text("err.not_address", lang, text=typed.strip()))
    return n


def parse_pfn(typed: str, max_pfn: int, lang: str = "en") -> int:
    """A frame number below ``max_pfn``."""
    n, plain = parse_int(typed, "err.not_pfn", lang)
    if not plain or n < 0:
        raise ValueError(text("err.not_pfn", lang, text=typed.strip()))
    if n >= max_pfn:
        raise ValueError(text("err.pfn_range", lang, pfn=n, top=max_pfn - 1))
    return n


def parse_bytes(typed: str, lang: str = "en") -> int:
    """A size in bytes: ``100``, ``4096``, ``64K``, ``1M``."""
    if not typed.strip():
        raise ValueError(text("err.empty_size", lang))
    n, _ = parse_int(typed, "err.not_size", lang)
    if n < 0:
        raise ValueError(text("err.negative", lang, what="size", value=n))
    return n


def parse_order_or_size(typed: str, max_order: int, page_shift: int, lang: str = "en") -> int:
    """What the console's order box takes: a small plain number is an order, a number
    with a unit or of at least a page is a size, rounded up to ``get_order()``."""
    if not typed.strip():
        raise ValueError(text("err.empty_order", lang, top=max_order - 1))
    n, plain = parse_int(typed, "err.not_order", lang)
    page = 1 << page_shift
    if n < 0:
        raise ValueError(text("err.negative", lang, what="order/size", value=n))
    if plain and n < max_order:
        return n
    if plain and n < page:
        raise ValueError(text("err.order_small", lang, n=n, top=max_order - 1, page=page))
    if n == 0:
        return 0
    return max(0, ((n - 1) >> page_shift).bit_length())


def number_box(description: str, placeholder: str, value: str = "", css: str | None = None,
               width: str = "100%", max_width: str = "460px") -> W.Text:
    """A Text box that reports its value on Enter or blur (not per keystroke), as wide as
    the room it gets up to ``max_width``."""
    box = W.Text(value=value, description=description, placeholder=placeholder,
                 continuous_update=False,
                 layout=W.Layout(width=width, max_width=max_width, min_width="0"))
    box.style.description_width = "initial"
    if css:
        box.add_class(css)
    return box
