"""Kernel page tables (``init_mm``): held in simulated frames, walked like the MMU does.

Think of the page tables as a tree of index cards: the top card (the PGD, whose
physical address is in CR3) has 512 slots; each slot names the next card down or,
for a huge page, the physical frame itself. Translating an address is reading one
slot per card, with the index taken from a slice of the address bits.

What is modelled (arch/x86/include/asm/pgtable_types.h, pgtable_64_types.h,
arch/x86/mm/init.c, init_64.c, mm/memory.c):

- every table is a 4 KiB frame taken from the buddy allocator (``K_PGTABLE``,
  counted in ``nr_page_table_pages``); lower tables are allocated on demand, as
  ``pud_alloc`` / ``pmd_alloc`` / ``pte_alloc_kernel`` do, and kernel tables are never
  freed (``vunmap`` only clears PTEs, as in the kernel);
- entries hold the real x86 values: physical address | flag bits at their hardware
  positions (``_PAGE_PRESENT`` bit 0 ... ``_PAGE_NX`` bit 63); upper levels are
  ``_KERNPG_TABLE`` (0x63), a vmalloc PTE is ``pfn << 12 | PAGE_KERNEL``;
- the direct map of all RAM as ``init_memory_mapping()`` builds it: 1 GiB pages
  (``PUD`` with ``_PAGE_PSE``) and 2 MiB pages where aligned, 4 KiB PTEs for the
  edges; on i386 (2-level, no PAE) 4 MiB PSE pages at the PGD, lowmem only;
- on x86_64 the kernel text map at ``__START_KERNEL_map`` (2 MiB pages).

Simplifications: boot-time tables come from the buddy allocator (the kernel takes them
from memblock or the kernel image, e.g. ``init_top_pgt``) and so count in PageTables;
the entries live in a numpy array per table rather than in the frame's bytes, so
``m.read`` of a table frame shows zeros; PTI is off (``_PAGE_GLOBAL`` set, "NOPTI");
no SME/``_PAGE_ENC``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import gfp as G
from .mem_map import K_PGTABLE

__all__ = ["PageTables", "Walk", "WalkLevel", "decode_flags",
           "_PAGE_PRESENT", "_PAGE_RW", "_PAGE_USER", "_PAGE_PWT", "_PAGE_PCD",
           "_PAGE_ACCESSED", "_PAGE_DIRTY", "_PAGE_PSE", "_PAGE_GLOBAL", "_PAGE_NX",
           "_KERNPG_TABLE", "PAGE_KERNEL", "PAGE_KERNEL_EXEC", "PTE_PFN_MASK"]

# _PAGE_BIT_* (arch/x86/include/asm/pgtable_types.h)
_PAGE_BIT_PRESENT, _PAGE_BIT_RW, _PAGE_BIT_USER, _PAGE_BIT_PWT, _PAGE_BIT_PCD = 0, 1, 2, 3, 4
_PAGE_BIT_ACCESSED, _PAGE_BIT_DIRTY, _PAGE_BIT_PSE, _PAGE_BIT_GLOBAL, _PAGE_BIT_NX = 5, 6, 7, 8, 63
_PAGE_PRESENT = 1 << _PAGE_BIT_PRESENT
_PAGE_RW = 1 << _PAGE_BIT_RW
_PAGE_USER = 1 << _PAGE_BIT_USER
_PAGE_PWT = 1 << _PAGE_BIT_PWT
_PAGE_PCD = 1 << _PAGE_BIT_PCD
_PAGE_ACCESSED = 1 << _PAGE_BIT_ACCESSED
_PAGE_DIRTY = 1 << _PAGE_BIT_DIRTY
_PAGE_PSE = 1 << _PAGE_BIT_PSE
_PAGE_GLOBAL = 1 << _PAGE_BIT_GLOBAL
_PAGE_NX = 1 << _PAGE_BIT_NX

_KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY            # 0x63
__PAGE_KERNEL_EXEC = _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_GLOBAL  # 0x163
__PAGE_KERNEL = __PAGE_KERNEL_EXEC | _PAGE_NX                                       # 0x8000000000000163
# PAGE_KERNEL = __PAGE_KERNEL & __default_kernel_pte_mask: the same without PTI (and the
# names without leading underscores, which Python would mangle inside a class)
PAGE_KERNEL = __PAGE_KERNEL
PAGE_KERNEL_EXEC = __PAGE_KERNEL_EXEC
#: __PHYSICAL_MASK_SHIFT 52: bits 51..12 of an entry are the frame address
PTE_PFN_MASK = ((1 << 52) - 1) & ~0xfff

_FLAG_NAMES = ((_PAGE_PRESENT, "PRESENT"), (_PAGE_RW, "RW"), (_PAGE_USER, "USER"),
               (_PAGE_PWT, "PWT"), (_PAGE_PCD, "PCD"), (_PAGE_ACCESSED, "ACCESSED"),
               (_PAGE_DIRTY, "DIRTY"), (_PAGE_PSE, "PSE"), (_PAGE_GLOBAL, "GLOBAL"),
               (_PAGE_NX, "NX"))

#: the PGD index shift of the level that names each page size
_KiB4, _MiB2, _MiB4, _GiB1 = 1 << 12, 1 << 21, 1 << 22, 1 << 30


_FLAG_BITS = sum(bit for bit, _ in _FLAG_NAMES)
_decoded: dict[int, tuple[str, ...]] = {}


def decode_flags(entry: int) -> tuple[str, ...]:
    """The flag bits of an entry by name (``_PAGE_`` dropped), low bit first."""
    bits = entry & _FLAG_BITS
    names = _decoded.get(bits)
    if names is None:
        names = _decoded[bits] = tuple(name for bit, name in _FLAG_NAMES if bits & bit)
    return names


class WalkLevel(NamedTuple):
    """One step of a walk: the table read, the index used and the entry found."""
    level: str          # 'pgd', 'p4d', 'pud', 'pmd', 'pte'
    index: int
    table: int          # physical address of the table
    entry: int          # raw entry value
    flags: tuple[str, ...]

    @property
    def present(self) -> bool:
        return bool(self.entry & _PAGE_PRESENT)

    @property
    def huge(self) -> bool:
        return self.level != "pte" and bool(self.entry & _PAGE_PSE)


class Walk:
    """What the MMU does for one virtual address (``m.walk(vaddr)``).

    ``levels`` lists each table read; ``phys`` is the physical address reached or
    ``None``; ``fault_level`` names the level whose entry was not present (else None);
    ``page_size`` is the size of the page that maps the address (4 KiB, 2 MiB, 1 GiB,
    4 MiB) when the walk succeeded."""

    __slots__ = ("vaddr", "levels", "phys", "fault_level", "page_size", "profile", "cr3",
                 "entry_digits")

    def __init__(self, vaddr, levels, phys, fault_level, page_size, profile, cr3, entry_digits):
        self.vaddr = vaddr
        self.levels = levels
        self.phys = phys
        self.fault_level = fault_level
        self.page_size = page_size
        self.profile = profile
        self.cr3 = cr3
        self.entry_digits = entry_digits

    @property
    def pfn(self) -> int | None:
        return None if self.phys is None else self.phys >> 12

    def __str__(self) -> str:
        d = self.entry_digits
        aw = 16 if d == 16 else 8
        out = [f"page-table walk of {self.vaddr:#0{aw + 2}x} on {self.profile}, CR3 = {self.cr3:#0{aw + 2}x}"]
        iw = max(len(str(lv.index)) for lv in self.levels)
        for lv in self.levels:
            what = " ".join(lv.flags) if lv.present else "not present"
            out.append(f"  {lv.level:<3} index {lv.index:>{iw}}  table {lv.table:#0{aw + 2}x}  "
                       f"entry {lv.entry:#0{d + 2}x}  {what}")
        if self.phys is None:
            out.append(f"  => page fault: {self.fault_level} entry not present")
        else:
            off = self.vaddr & (self.page_size - 1)
            frame = self.phys - off
            out.append(f"  => {_size_name(self.page_size)} page at {frame:#x} + offset {off:#x} "
                       f"= physical {self.phys:#x}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _size_name(n: int) -> str:
    return {_KiB4: "4 KiB", _MiB2: "2 MiB", _MiB4: "4 MiB", _GiB1: "1 GiB"}.get(n, f"{n} B")


class PageTables:
    """``init_mm.pgd`` and everything below it, for one machine."""

    def __init__(self, k):
        self.k = k
        prof = k.profile
        self.levels = prof.levels
        self.page_shift = prof.page_shift
        self.bits = prof.bits
        self.dtype = np.uint64 if prof.pte_bytes == 8 else np.uint32
        if prof.bits == 64:
            self.page_kernel = PAGE_KERNEL
            self.pfn_mask = PTE_PFN_MASK
        else:
            # i386 without PAE has no NX bit: PAGE_KERNEL is 0x163
            self.page_kernel = PAGE_KERNEL_EXEC
            self.pfn_mask = 0xfffff000
        self.page_kernel_large = self.page_kernel | _PAGE_PSE
        self._entries_per_table = (1 << prof.page_shift) // prof.pte_bytes
        #: table pfn -> entries (the contents of that frame), as a list of ints: scalar
        #: reads on the walk are 10x cheaper than numpy's
        self.tables: dict[int, list[int]] = {}
        #: vaddr >> (shift of the level above the PTEs) -> pfn of that PTE table
        self.pte_tables: dict[int, int] = {}
        self._pte_span_shift = self.levels[-2][1]
        self._pte_entries = self.levels[-1][2]
        pgd = self._alloc_table()
        if pgd < 0:
            raise MemoryError("no memory for the kernel's PGD at boot")
        self.pgd = pgd

    # -- tables ----------------------------------------------------------------------

    def _alloc_table(self) -> int:
        """pte_alloc_one_kernel() & co: a zeroed frame (GFP_PGTABLE_KERNEL) or -1."""
        k = self.k
        pfn = k.buddy.alloc(G.F_DIRECT_RECLAIM | G.F_KSWAPD_RECLAIM | G.F_IO | G.F_FS | G.F_ZERO,
                            0, K_PGTABLE)
        if pfn < 0:
            return -1
        self.tables[pfn] = [0] * self._entries_per_table
        k.vmstat["nr_page_table_pages"] += 1
        return pfn

    def _descend(self, vaddr: int, depth: int, create: bool) -> int:
        """The pfn of the table at level ``depth`` (0 = pgd) covering ``vaddr``,
        allocating missing tables when ``create``; -1 if missing (or no memory),
        -2 if a huge page is mapped above."""
        t = self.pgd
        ps = self.page_shift
        for name, shift, n in self.levels[:depth]:
            arr = self.tables[t]
            i = (vaddr >> shift) & (n - 1)
            e = arr[i]
            if not e & _PAGE_PRESENT:
                if not create:
                    return -1
                nt = self._alloc_table()
                if nt < 0:
                    return -1
                arr[i] = (nt << ps) | _KERNPG_TABLE
                t = nt
            elif e & _PAGE_PSE:
                return -2
            else:
                t = (e & self.pfn_mask) >> ps
        return t

    def pte_table(self, vaddr: int, create: bool) -> int:
        """The PTE table for ``vaddr`` (``pte_alloc_kernel`` when ``create``), or < 0."""
        key = vaddr >> self._pte_span_shift
        t = self.pte_tables.get(key)
        if t is None:
            t = self._descend(vaddr, len(self.levels) - 1, create)
            if t >= 0:
                self.pte_tables[key] = t
        return t

    # -- the direct map --------------------------------------------------------------

    def build_direct_map(self, chunks, virt_base: int, prot_large: int | None = None) -> None:
        """Map each (phys_start, phys_end, page_size) chunk at ``virt_base + phys``
        (init_memory_mapping() / kernel_physical_mapping_init())."""
        prot_large = self.page_kernel_large if prot_large is None else prot_large
        ps = self.page_shift
        level_of = {1 << shift: depth for depth, (_, shift, _) in enumerate(self.levels)}
        for start, end, size in chunks:
            depth = level_of[size]
            if depth == len(self.levels) - 1:
                self.map_pfns(virt_base + start, np.arange(start >> ps, end >> ps, dtype=np.int64),
                              self.page_kernel)
                continue
            name, shift, n = self.levels[depth]
            for phys in range(start, end, size):
                v = virt_base + phys
                t = self._descend(v, depth, True)
                if t < 0:
                    raise MemoryError("no memory for the direct map's page tables at boot")
                self.tables[t][(v >> shift) & (n - 1)] = phys | prot_large

    # -- mapping and unmapping (vmap_pages_range / vunmap_range) ----------------------

    def _pte_runs(self, vaddr: int, nr: int, create: bool):
        """The PTE tables that hold ``nr`` pages from ``vaddr``: (table or -1, first
        index in it, first page of the run, pages in the run), one run per table."""
        ps = self.page_shift
        ne = self._pte_entries
        i = 0
        while i < nr:
            va = vaddr + (i << ps)
            idx = (va >> ps) & (ne - 1)
            cnt = min(ne - idx, nr - i)
            yield self.pte_table(va, create), idx, i, cnt
            i += cnt

    def map_pfns(self, vaddr: int, pfns, prot: int) -> bool:
        """vmap_pages_range(): PTEs for consecutive pages from ``vaddr`` pointing at
        ``pfns``. Returns False when a page-table page could not be allocated
        (entries written so far stay, as in the kernel; the caller unmaps)."""
        pfns = np.asarray(pfns, dtype=np.uint64)
        vals = (pfns << np.uint64(self.page_shift)) | self.dtype(prot)
        for t, idx, i, cnt in self._pte_runs(vaddr, len(vals), True):
            if t < 0:
                return False
            self.tables[t][idx:idx + cnt] = vals[i:i + cnt].tolist()
        return True

    def unmap(self, vaddr: int, nr: int) -> None:
        """vunmap_range(): clear ``nr`` PTEs from ``vaddr`` (tables are kept)."""
        for t, idx, _, cnt in self._pte_runs(vaddr, nr, False):
            if t >= 0:
                self.tables[t][idx:idx + cnt] = [0] * cnt

    def pte_values(self, vaddr: int, nr: int) -> np.ndarray:
        """The raw PTEs of ``nr`` pages from ``vaddr`` (0 where no table)."""
        out = np.zeros(nr, self.dtype)
        for t, idx, i, cnt in self._pte_runs(vaddr, nr, False):
            if t >= 0:
                out[i:i + cnt] = self.tables[t][idx:idx + cnt]
        return out

    # -- translation -----------------------------------------------------------------

    def translate(self, vaddr: int) -> int:
        """The physical address for ``vaddr`` or -1 (fast path of :meth:`walk`)."""
        ps = self.page_shift
        t = self.pte_tables.get(vaddr >> self._pte_span_shift)
        if t is not None:
            e = self.tables[t][(vaddr >> ps) & (self._pte_entries - 1)]
            if e & _PAGE_PRESENT:
                return (e & self.pfn_mask) | (vaddr & ((1 << ps) - 1))
            return -1
        w = self.walk(vaddr)
        return -1 if w.phys is None else w.phys

    def walk(self, vaddr: int) -> Walk:
        """The hardware walk (and the kernel's ``pgd_offset_k`` ... ``pte_offset_kernel``)."""
        ps = self.page_shift
        tables = self.tables
        mask = self.pfn_mask
        t = self.pgd
        steps = []
        phys = None
        fault = None
        page_size = 0
        last = len(self.levels) - 1
        for depth, (name, shift, n) in enumerate(self.levels):
            idx = (vaddr >> shift) & (n - 1)
            e = tables[t][idx]
            steps.append(WalkLevel(name, idx, t << ps, e, decode_flags(e)))
            if not e & _PAGE_PRESENT:
                fault = name
                break
            if depth == last or e & _PAGE_PSE:
                page_size = 1 << shift
                phys = (e & mask & ~(page_size - 1)) | (vaddr & (page_size - 1))
                break
            t = (e & mask) >> ps
        return Walk(vaddr, tuple(steps), phys, fault, page_size, self.k.profile.name,
                    self.pgd << ps, 16 if self.bits == 64 else 8)

    def dump_pagetable(self, vaddr: int) -> str:
        """arch/x86/mm/fault.c dump_pagetable(): the line an oops prints after #PF."""
        w = self.walk(vaddr)
        if self.bits == 32:
            parts = [f"*pde = {lv.entry:08x}" if lv.level == "pgd" else f"*pte = {lv.entry:08x}"
                     for lv in w.levels]
            return " ".join(parts) + " "
        out = ""
        for lv in w.levels:
            out += f"{lv.level.upper()} {lv.entry:x}" + ("" if lv.level == "pte" else " ")
            if lv.level == "pgd" and len(self.levels) == 4 and lv.present:
                out += f"P4D {lv.entry:x} "     # 4-level paging: the p4d is folded into the pgd
        return out


# -- boot --------------------------------------------------------------------------------

VMALLOC_OFFSET = 8 << 20        # i386: the gap between high_memory and VMALLOC_START


def vmalloc_start_of(k) -> int:
    """VMALLOC_START: the profile's constant on x86_64; on i386
    ``(unsigned long)high_memory + VMALLOC_OFFSET`` (arch/x86/include/asm/
    pgtable_32_areas.h: no rounding, so the gap is exactly 8 MiB)."""
    prof = k.profile
    if prof.vmalloc_start is not None:
        return prof.vmalloc_start
    high_memory = prof.page_offset + (k.max_low_pfn << prof.page_shift)
    return high_memory + VMALLOC_OFFSET


def paging_init(k) -> PageTables:
    """Build init_mm's tables: the PGD, the direct map of (low) memory with the
    largest pages the alignment allows, and on x86_64 the kernel text mapping
    (``__START_KERNEL_map``, 2 MiB pages as level2_kernel_pgt)."""
    from .layout import direct_map_chunks
    prof = k.profile
    pt = PageTables(k)
    lowmem_end = k.max_low_pfn << prof.page_shift
    lowmem = [(s, min(e, lowmem_end)) for s, e in k.ram_ranges if s < lowmem_end]
    if prof.bits == 32:
        chunks = direct_map_chunks(lowmem, gbpages=False, large=_MiB4)
    else:
        chunks = direct_map_chunks(lowmem)
    pt.build_direct_map(chunks, prof.page_offset)
    text = next((r for r in prof.regions if r.name == "kernel text"), None)
    if text is not None:
        lo = prof.kernel_phys & ~(_MiB2 - 1)
        hi = -(-(prof.kernel_phys + prof.kernel_image_bytes) // _MiB2) * _MiB2
        # __PAGE_KERNEL_LARGE_EXEC: text is executable (kmemlab does not split rodata/NX)
        pt.build_direct_map([(lo, hi, _MiB2)], text.start, __PAGE_KERNEL_EXEC | _PAGE_PSE)
    return pt


def preallocate_vmalloc_pages(k, pt: PageTables) -> int:
    """arch/x86/mm/init_64.c ``preallocate_vmalloc_pages()`` (x86-64, 5.9+), called from
    ``mem_init()``: the table one level below the PGD, for every PGD slot of
    [VMALLOC_START, VMEMORY_END] — a P4D table with 5-level paging, else a PUD table — so
    the top-level entries of the vmalloc area never change and never need to be synced
    into each process's PGD. 4-level x86-64: 32 TiB / 512 GiB = 64 PUD pages (256 KiB);
    5-level: 12800 TiB / 256 TiB = 50 P4D pages. Returns how many tables it allocated."""
    prof = k.profile
    shift = pt.levels[0][1]                       # PGDIR_SHIFT
    n = 0
    addr = k.vmalloc_start
    while addr < prof.vmalloc_end:                # VMALLOC_END is inclusive in the kernel
        if pt._descend(addr, 1, True) < 0:
            raise MemoryError("Failed to pre-allocate pud pages for vmalloc area")   # the kernel panics
        n += 1
        addr = ((addr >> shift) + 1) << shift     # ALIGN(addr + 1, PGDIR_SIZE)
    return n


def address_map(k):
    """The regions of this machine's kernel address space (``m.layout``), with the
    i386 boundaries computed from high_memory as the kernel does."""
    from .layout import Region
    prof = k.profile
    if prof.bits == 64:
        return tuple(prof.regions)
    high_memory = prof.page_offset + (k.max_low_pfn << prof.page_shift)
    out = []
    for r in prof.regions:
        if r.name == "direct map":
            r = Region(r.name, r.start, high_memory,
                       f"lowmem: the direct mapping of the first {(high_memory - r.start) >> 20} MiB")
        elif r.name == "vmalloc":
            out.append(Region("vmalloc gap", high_memory, k.vmalloc_start,
                              "VMALLOC_OFFSET hole after high_memory (catches overruns)"))
            r = Region(r.name, k.vmalloc_start, r.end,
                       "vmalloc space (highmem pages are reachable only through here or kmap)")
        out.append(r)
    return tuple(out)
