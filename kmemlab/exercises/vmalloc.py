"""vmalloc and page-table exercises: what a vmalloc(N) costs (pages, PTE tables, the
size /proc/vmallocinfo shows) and translating a virtual address by hand from the
entries an x86_64 page-table walk reads (mm/vmalloc.c, arch/x86/mm/).

Answers come from the model: the area's line in ``m.proc.vmallocinfo()``, the PTE
tables ``m.walk()`` passes through, the physical address the walk reaches.
"""

from __future__ import annotations

import re
from .base import Exercise, Part, Problem, exercise_machine, parse_int, register, show_hex
from .buddy import _mistakes

__all__ = ["VmallocSize", "PageTableTranslate"]

#: x86_64 page-table entry: physical address bits 12..51 (PTE_PFN_MASK), NX is bit 63
_PTE_PFN_MASK = ((1 << 52) - 1) & ~0xfff
_NX = 1 << 63


@register
class VmallocSize(Exercise):
    name = "vmalloc-size"
    topic = "vmalloc"
    description = "Pages, PTE tables and the /proc/vmallocinfo size of a vmalloc(N)."

    def build(self, rng):
        m = exercise_machine("x86_64", seed=self.seed)
        before = [int(rng.integers(1, 300)) * 4096 - int(rng.integers(0, 4096))
                  for _ in range(int(rng.integers(0, 3)))]
        for n in before:
            m.vmalloc(n)
        pages_wanted = int(rng.integers(1, 512))
        n = pages_wanted * 4096 - int(rng.integers(0, 4096)) if rng.random() < 0.7 else pages_wanted * 4096
        v = int(m.vmalloc(n))
        info = m.proc.vmallocinfo()
        line = next(ln for ln in info.splitlines() if ln.startswith(f"{v:#x}-"))
        size = int(line.split()[1])
        pages = int(re.search(r"pages=(\d+)", line).group(1))
        tables = {m.walk(v + i * 4096).levels[-1].table for i in range(pages)}
        ptes = len(tables)
        span = -(-pages // 512)
        size_pairs = [(pages * 4096, "that is the mapped size; vmallocinfo shows vm_struct.size, "
                                     "which includes the guard page after the area"),
                      (n, "the size is page-rounded, and includes a guard page"),
                      (-(-n // 4096) * 4096 + 4096 * 2, "one guard page only")]
        page_pairs = [(n // 4096, f"{n} / 4096 rounds down; vmalloc rounds the size up to whole pages"),
                      (pages + 1, "the guard page is address space only: no page backs it")]
        pte_pairs = [(span, f"{pages} PTEs would fit in {span} table(s), but the area starts at "
                            f"PTE index {(v >> 12) & 511} of its table and crosses a 2 MiB boundary")
                     if span != ptes else (ptes + 1, "the area does not cross a 2 MiB boundary"),
                     (pages, "one PTE table (a 4 KiB page) holds 512 entries, not one")]
        parts = (Part("pages", pages, parse_int, _mistakes(pages, page_pairs),
                      what="order-0 pages allocated for the area"),
                 Part("size", size, parse_int, _mistakes(size, size_pairs),
                      what="the size column of its /proc/vmallocinfo line, in bytes"),
                 Part("pte_tables", ptes, parse_int, _mistakes(ptes, pte_pairs),
                      what="how many last-level page tables (PTE pages) its PTEs live in"))
        calls = "".join(f"  vmalloc({b})\n" for b in before)
        q = ("A freshly booted x86_64 machine (4 KiB pages, 512 entries per table) runs\n" + calls +
             f"  v = vmalloc({n})      # returns {v:#x}\n\n"
             "For the last area: how many pages does vmalloc allocate, what size does its "
             "/proc/vmallocinfo line show,\nand how many PTE tables hold its page-table entries?")
        return Problem({"size": n, "earlier_areas": len(before), "address": f"{v:#x}"}, q, parts,
                       ("vmalloc() rounds the size up to whole pages and takes them one by one "
                        "(order 0) from the buddy allocator.",
                        "get_vm_area() adds one guard page to the area unless VM_NO_GUARD; "
                        "/proc/vmallocinfo prints that size.",
                        f"A PTE table maps 2 MiB (512 x 4 KiB). The area starts at PTE index "
                        f"({v:#x} >> 12) & 511 = {(v >> 12) & 511}; count the tables its pages fall in."),
                       f"{n} bytes -> {pages} pages; vmallocinfo: {line.strip()}\n"
                       f"size {size} = ({pages} + 1 guard) x 4096; PTE indices {(v >> 12) & 511} .. "
                       f"{(v >> 12) & 511} + {pages - 1} span {ptes} table(s).")


@register
class PageTableTranslate(Exercise):
    name = "pt-translate"
    topic = "page tables"
    description = "Translate a virtual address by hand from the entries of a page-table walk."

    def build(self, rng):
        mem = ("128M", "1G", "4G")[int(rng.integers(3))]
        m = exercise_machine("x86_64", mem=mem, seed=self.seed)
        kind = ("vmalloc", "kmalloc")[int(rng.integers(2))]
        if kind == "vmalloc":
            npages = int(rng.integers(1, 40))
            base = int(m.vmalloc(npages * 4096))
            addr = base + int(rng.integers(0, npages * 4096))
        else:
            for _ in range(int(rng.integers(0, 200))):
                m.kmalloc(int(rng.integers(1, 4096)))
            addr = int(m.kmalloc(int(rng.integers(8, 2048)))) + int(rng.integers(0, 8))
        w = m.walk(addr)
        last = w.levels[-1]
        psize = w.page_size
        off = addr & (psize - 1)
        phys = w.phys
        shift = psize.bit_length() - 1
        levels = dict((name, sh) for name, sh, _ in m.profile.levels)
        entry = last.entry
        phys_pairs = [((entry & ~0xfff) + off, "strip the flag bits: the frame is entry & "
                                               "PTE_PFN_MASK (bits 12..51), NX is bit 63"),
                      (entry + off, "the low 12 bits of an entry are flags (PRESENT, RW, ...), "
                                    "not part of the address"),
                      (phys - off, "add the offset within the page"),
                      ((entry & _PTE_PFN_MASK) + (addr & 0xfff),
                       f"this entry maps a {psize >> 20 if psize >= 1 << 20 else psize >> 10} "
                       f"{'MiB' if psize >= 1 << 20 else 'KiB'} page (PSE): the offset is the low "
                       f"{shift} bits of the address, not 12"),
                      ((addr - m.PAGE_OFFSET) if kind == "vmalloc" else None,
                       "__pa(): subtracting PAGE_OFFSET works only for the direct map; a vmalloc "
                       "address must be walked")]
        index_pairs = [((addr >> sh) & 511, f"that is the {nm} index; the last level used is "
                                             f"{last.level}") for nm, sh in levels.items() if nm != last.level]
        index_pairs.append(((addr >> 12) & 511, f"that is bits 12..20 (the pte index), but the walk "
                                                f"ends at the {last.level}: bits {levels[last.level]}.."
                                                f"{levels[last.level] + 8}"))
        parts = (Part("index", last.index, parse_int, _mistakes(last.index, index_pairs),
                      what=f"the index into the last table read (the {last.level})"),
                 Part("phys", phys, parse_int, _mistakes(phys, phys_pairs), show=show_hex,
                      what="the physical address, e.g. 0x3012abc"))
        rows = "\n".join(f"  {lv.level:<3}  table {lv.table:#018x}  entry[?] = {lv.entry:#018x}  "
                         f"{' '.join(lv.flags)}" for lv in w.levels)
        q = (f"An x86_64 machine ({mem}, 4-level paging: pgd bits 39..47, pud 30..38, pmd 21..29, "
             f"pte 12..20). CR3 = {w.cr3:#x}.\nThe MMU translates {addr:#x} and reads these "
             f"entries (indices hidden):\n\n{rows}\n\n"
             f"Which index was used in the last table, and which physical address does {addr:#x} "
             "reach? (PSE in an entry = it maps a large page and the walk stops there.)")
        return Problem({"mem": mem, "address": f"{addr:#x}", "kind": kind}, q, parts,
                       ("Each level uses 9 bits of the address as its index; the offset is what is "
                        "left below the last level's shift.",
                        f"The walk stops at the {last.level}"
                        + (" because its entry has PSE (a huge page)." if last.huge else "."),
                        f"frame = entry & 0x000ffffffffff000 (and clear the low {shift} bits for a "
                        f"large page); phys = frame + (addr & {psize - 1:#x})."),
                       str(w))
