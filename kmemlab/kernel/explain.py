"""``m.explain(addr)``: what an address is, in words — the question every student asks
about a pointer.

It answers the way a kernel developer would with drgn or crash: which region of the
address space (``Documentation/arch/x86/x86_64/mm.rst``), for a direct-map address the
frame, its zone and its owner (``virt_to_page`` then ``PageSlab`` / ``PageBuddy`` /
compound head...), for a slab object the cache, object index and offset (what
``kmem_obj_info()`` / ``mem_dump_obj()`` print), for a vmalloc address the area, the page
within it and the frame behind it (``find_vm_area`` + ``vmalloc_to_page``).
"""

from __future__ import annotations

from . import gfp as G
from .layout import format_size
from .mem_map import (K_FREE, K_PCP, K_KERNEL, K_KMALLOC_LARGE, K_MEMMAP, K_NOMAP, K_PAGES, K_PGTABLE,
                      K_RESERVED, K_SLAB, K_USER, K_VMALLOC, PG_head, PG_tail)

__all__ = ["explain"]


def _free_objects(k, slab) -> set[int]:
    """Every free object of a slab: its own freelist plus, for a CPU slab, that CPU's
    lockless freelist (``c->freelist``), each chained through the free pointers."""
    s = slab.cache
    heads = [slab.freelist]
    if slab.frozen:
        heads += [c.freelist for c in s.cpu_slab or () if c.slab is slab]
    free = set()
    for obj in heads:
        while obj and obj not in free and slab.addr <= obj < slab.addr + (slab.objects * s.size
                                                                          + s.red_left_pad):
            free.add(obj)
            obj = k.slub.get_freepointer(s, obj)
    return free


def _slab_object(k, pfn: int, addr: int) -> list[str]:
    slab = k.slub.page_slab[pfn]
    s = slab.cache
    rel = addr - slab.addr - s.red_left_pad
    idx, off = divmod(rel, s.size)
    lines = [f"slab page of cache {s.name} (object_size {s.object_size}, stride {s.size}, "
             f"{slab.objects} objects in an order-{slab.order} slab at pfn {slab.pfn:#x})"]
    if rel < 0 or idx >= slab.objects:
        lines.append("outside every object: the slab's " + ("left red zone" if rel < 0 else "unused tail"))
        return lines
    obj = slab.addr + s.red_left_pad + idx * s.size
    state = "free (on a freelist)" if obj in _free_objects(k, slab) else "allocated"
    lines.append(f"object {idx} of {slab.objects} at {obj:#x}, {state}; byte {off} of it")
    if off >= s.object_size:
        lines.append(f"past the object's {s.object_size} bytes: red zone / padding / metadata "
                     "(a write here is an overflow into the next object or SLUB's guard bytes)")
    elif state.startswith("free") and s.offset <= off < s.offset + k.slub.ptr:
        lines.append(f"this is where a free object keeps its free pointer (s->offset = {s.offset})")
    return lines


def _free_block(k, pfn: int) -> str:
    buddy = k.buddy
    z = buddy.zone_of(pfn)
    for o in range(buddy.max_order):
        head = pfn & ~((1 << o) - 1)
        if z.free_order(head) == o:
            return (f"free memory: part of a free order-{o} block at pfn {head:#x} "
                    f"({format_size(k.profile.page_size << o)}) on free_area[{o}] of zone {z.name}")
    return "free memory"


def _pcp_block(k, pfn: int) -> str:
    """Where a K_PCP frame sits: which CPU's per_cpu_pages of which zone, which list."""
    buddy = k.buddy
    z = buddy.zone_of(pfn)
    for cpu, pcp in enumerate(z.per_cpu_pageset):
        for pindex, lst in enumerate(pcp.lists):
            order = buddy.pindex_to_order(pindex)
            head = pfn & ~((1 << order) - 1)
            if head in lst:
                pos = len(lst) - 1 - lst.index(head)
                return (f"free memory on CPU {cpu}'s per-cpu page list (pcp) of zone {z.name}: an "
                        f"order-{order} block at pfn {head:#x}, {G.MIGRATETYPE_NAMES[pindex % 3] if order <= 3 else 'THP'} "
                        f"list, {pos} from its head; not in free_area (and not in /proc/buddyinfo) "
                        "until free_pcppages_bulk() or drain_all_pages() gives it back")
    return "free memory on a per-cpu page list"


def _block_head(mm, pfn: int) -> int:
    head = pfn
    while head > 0 and mm.flags[head] & PG_tail:
        head -= 1
    if mm.order[head] < 0:         # a non-compound block: search back for its head
        h = pfn
        while h > 0 and mm.order[h] < 0 and mm.kind[h - 1] == mm.kind[pfn]:
            h -= 1
        head = h if mm.order[h] >= 0 else pfn
    return head


def _frame(k, pfn: int, addr: int | None) -> list[str]:
    mm = k.mem_map
    if not 0 <= pfn < mm.max_pfn or mm.kind[pfn] == K_NOMAP:
        return [f"pfn {pfn:#x} is not RAM (a hole in the e820 map)"]
    kind = int(mm.kind[pfn])
    z = k.buddy.zone_of(pfn)
    lines = [f"frame pfn {pfn:#x} (physical {pfn << k.profile.page_shift:#x}), zone {z.name if z else '-'}, "
             f"node {int(mm.node[pfn])}"]
    if kind == K_FREE:
        lines.append(_free_block(k, pfn))
    elif kind == K_PCP:
        lines.append(_pcp_block(k, pfn))
    elif kind == K_SLAB:
        lines += _slab_object(k, pfn, addr) if addr is not None else ["a slab page"]
    elif kind == K_KMALLOC_LARGE:
        head = _block_head(mm, pfn)
        order = int(mm.order[head])
        lines.append(f"kmalloc_large(): a compound order-{order} block at pfn {head:#x} "
                     f"({format_size(k.profile.page_size << order)}) straight from the buddy allocator"
                     + (f"; byte {addr - (k.profile.page_offset + (head << k.profile.page_shift))} of it"
                        if addr is not None else ""))
    elif kind in (K_PAGES, K_USER):
        head = _block_head(mm, pfn)
        order = int(mm.order[head])
        comp = " (compound)" if mm.flags[head] & PG_head else ""
        lines.append(f"alloc_pages(): page {pfn - head} of an order-{order}{comp} block at pfn {head:#x}")
    elif kind == K_VMALLOC:
        vm = _vm_of_frame(k, pfn)
        if vm is not None:
            i = vm.pages.index(pfn)
            lines.append(f"page {i} of the vmalloc area {vm.addr:#x} (caller {vm.caller}); "
                         f"vmalloc maps it at {vm.addr + (i << k.profile.page_shift):#x}")
        else:
            lines.append("a page that belongs to a vmalloc area")
    elif kind == K_PGTABLE:
        lines.append("a page-table page of the kernel's page tables (init_mm)")
    elif kind == K_KERNEL:
        lines.append("the kernel image (text, data, bss), reserved at boot")
    elif kind == K_MEMMAP:
        lines.append("mem_map: the struct page array, reserved at boot")
    elif kind == K_RESERVED:
        lines.append("memblock-reserved at boot (firmware, the first MiB)")
    return lines


def _vm_of_frame(k, pfn: int):
    owner = int(k.mem_map.owner[pfn])
    for va in k.vmalloc.busy.values():
        if va.vm is not None and va.vm.id == owner and pfn in va.vm.pages:
            return va.vm
    return None


def explain(k, regions, addr: int) -> str:
    """Describe ``addr`` in words, one fact per line."""
    prof = k.profile
    ps = prof.page_shift
    if addr == 0:
        return "NULL: what a failed allocation returns; dereferencing it oopses"
    if addr == 16:
        return "ZERO_SIZE_PTR (16): what kmalloc(0) returns; any access through it oopses"
    region = next((r for r in regions if r.start <= addr < r.end), None)
    if region is None:
        return f"{addr:#x} lies in no region of the {prof.name} kernel address map (a hole: any access oopses)"
    head = f"{addr:#x}: {region.name} — {region.what}"
    if region.name == "direct map":
        pfn = (addr - prof.page_offset) >> ps
        return "\n".join([head] + _frame(k, pfn, addr))
    if region.name == "vmalloc":
        va = k.vmalloc.find_vmap_area(addr)
        if va is None:
            lazy = next((v for v in k.vmalloc.purge.values() if v.va_start <= addr < v.va_end), None)
            if lazy is not None:
                return "\n".join([head, f"inside a lazily freed range {lazy.va_start:#x}-{lazy.va_end:#x}: "
                                        "vfree()d, unmapped, reusable after the next purge"])
            return "\n".join([head, "not inside any vmap area: unused vmalloc space (access oopses)"])
        vm = va.vm
        i = (addr - va.va_start) >> ps
        lines = [head, f"vmalloc area {va.va_start:#x}-{va.va_end:#x} ({vm.size} bytes with the guard page, "
                       f"caller {vm.caller}, {vm.nr_pages} pages)"]
        if i >= vm.nr_pages:
            lines.append("the guard page after the area: unmapped, so an access oopses")
        else:
            pfn = vm.pages[i]
            lines.append(f"page {i} of the area, byte {(addr - va.va_start) & ((1 << ps) - 1)} of it; "
                         f"mapped by a 4 KiB PTE to frame pfn {pfn:#x}")
            z = k.buddy.zone_of(pfn)
            lines.append(f"that frame is in zone {z.name if z else '-'}; its direct-map alias is "
                         + (f"{prof.page_offset + (pfn << ps):#x}" if pfn < k.max_low_pfn
                            else "none (highmem)"))
        return "\n".join(lines)
    if region.name == "kernel text":
        phys = addr - region.start
        return "\n".join([head, f"physical {phys:#x}: " + ("the kernel image"
                          if prof.kernel_phys <= phys < prof.kernel_phys + prof.kernel_image_bytes
                          else "outside the kernel image")])
    if region.name == "vmemmap":
        pfn, off = divmod(addr - region.start, prof.struct_page_size)
        return "\n".join([head, f"byte {off} of the struct page of pfn {pfn:#x}"])
    return head
