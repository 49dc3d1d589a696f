"""Memory contents: the bytes in the machine's RAM, stored lazily per frame.

Physical memory is a dict ``pfn -> bytearray(PAGE_SIZE)``; a frame nobody wrote to is
not stored and reads as zeros, so a 16 GiB machine costs nothing until it is used.
Like real RAM, a freed frame keeps its bytes (a use after free can read them) until
someone writes or zeroes it (``__GFP_ZERO``, ``kzalloc``, ``clear_page``).
"""

from __future__ import annotations

__all__ = ["PhysMemory"]


class PhysMemory:
    def __init__(self, page_shift: int):
        self.page_shift = page_shift
        self.page_size = 1 << page_shift
        self.pages: dict[int, bytearray] = {}

    def zero(self, pfn: int, nr: int) -> None:
        """clear_page() on [pfn, pfn+nr): dropping a stored frame makes it read as zeros."""
        pages = self.pages
        if not pages:
            return
        if nr > len(pages):
            for p in [p for p in pages if pfn <= p < pfn + nr]:
                del pages[p]
        else:
            for p in range(pfn, pfn + nr):
                pages.pop(p, None)

    def read(self, phys: int, n: int) -> bytes:
        out = bytearray()
        ps = self.page_size
        while n > 0:
            pfn, off = divmod(phys, ps)
            chunk = min(n, ps - off)
            page = self.pages.get(pfn)
            out += page[off:off + chunk] if page is not None else bytes(chunk)
            phys += chunk
            n -= chunk
        return bytes(out)

    def write(self, phys: int, data: bytes) -> None:
        ps = self.page_size
        i = 0
        n = len(data)
        while i < n:
            pfn, off = divmod(phys + i, ps)
            chunk = min(n - i, ps - off)
            page = self.pages.get(pfn)
            if page is None:
                page = self.pages[pfn] = bytearray(ps)
            page[off:off + chunk] = data[i:i + chunk]
            i += chunk
