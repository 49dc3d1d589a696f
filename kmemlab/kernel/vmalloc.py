"""vmalloc: virtually contiguous memory stitched together from single pages.

Think of a hotel that cannot give a group adjacent rooms but can give them
consecutive numbers on a printed list: vmalloc reserves a run of *virtual* addresses
in [VMALLOC_START, VMALLOC_END), takes order-0 frames one at a time from the buddy
allocator wherever they are, and writes one page-table entry per page so that the run
reads as one block. kmalloc, by contrast, needs the frames themselves to be adjacent.

Models mm/vmalloc.c (6.x structure, with the 4.x messages on a 4.x machine):

- ``struct vmap_area`` (:class:`VmapArea`) and ``struct vm_struct`` (:class:`VmStruct`);
- ``alloc_vmap_area()``: the *lowest* free range that fits, aligned, searched in an
  address-sorted free list (the kernel uses an augmented rb-tree for the same answer);
  on failure purge the lazily freed areas once and retry, then
  "vmap allocation for size N failed: use vmalloc=<size> to increase size";
- ``__get_vm_area_node()``: PAGE_ALIGN, plus a guard page unless ``VM_NO_GUARD``;
- ``__vmalloc_area_node()``: the ``struct page *`` array from kmalloc when it fits
  in a page, else from a nested vmalloc (a second, smaller area in vmallocinfo,
  "vpages" on the first); order-0 pages one by one (``__GFP_HIGHMEM`` added unless
  DMA/DMA32); ``vmap_pages_range()`` writes PTEs with PAGE_KERNEL;
- ``vfree()``: unmap and free the pages at once, but the *virtual range* goes on the
  purge list (``free_vmap_area_noflush``) and is reused only after
  ``__purge_vmap_area_lazy()``: when the lazily freed pages exceed
  ``lazy_max_pages() = fls(num_online_cpus()) * 32 MiB / PAGE_SIZE``, when an
  allocation finds no room, or on ``vm_unmap_aliases()``;
- ``vmap()`` / ``vunmap()``, ``vmalloc_to_page()``, ``find_vm_area()``,
  ``/proc/vmallocinfo`` (``s_show``, with ``phys=`` for ioremap areas);
- ``ioremap()`` (arch/x86/mm/ioremap.c ``__ioremap_caller()``: a VM_IOREMAP area aligned to
  its size's power of two, PTEs onto device memory with the cache-mode bits) and
  ``pcpu_get_vm_areas()`` (the per-CPU allocator's chunks, from the *top* of the range, no
  guard page), which a booted machine uses (:mod:`kmemlab.kernel.boot`).

Simplifications: the purge the kernel runs from a workqueue runs synchronously when
the threshold is crossed; no per-cpu vmap blocks (``vm_map_ram``), no huge vmalloc
mappings, no KASAN; the page array's contents (the ``struct page`` pointers) are kept
in Python, not written into its memory.
"""

from __future__ import annotations

import bisect

import numpy as np

from . import gfp as G
from .errors import KernelBug
from .events import Event
from .mem_map import K_VMALLOC
from .types import Address

__all__ = ["Vmalloc", "VmapArea", "VmStruct", "check_vmalloc",
           "VM_IOREMAP", "VM_ALLOC", "VM_MAP", "VM_USERMAP", "VM_DMA_COHERENT",
           "VM_UNINITIALIZED", "VM_NO_GUARD"]

# include/linux/vmalloc.h (6.x values)
VM_IOREMAP = 0x00000001
VM_ALLOC = 0x00000002
VM_MAP = 0x00000004
VM_USERMAP = 0x00000008
VM_DMA_COHERENT = 0x00000010
VM_UNINITIALIZED = 0x00000020
VM_NO_GUARD = 0x00000040


class VmStruct:
    """``struct vm_struct``: one mapped area as its user sees it."""

    __slots__ = ("addr", "size", "flags", "pages", "nr_pages", "caller", "pages_array",
                 "pages_array_kind", "id", "requested_size", "phys_addr")

    def __init__(self, addr: int, size: int, flags: int, caller: str, id: int, requested_size: int = 0):
        self.addr = addr
        self.size = size                 # includes the guard page
        self.requested_size = requested_size   # the size asked for (vrealloc() uses it, 6.15+)
        self.flags = flags
        self.pages: list[int] = []       # pfns (area->pages[], struct page pointers)
        self.nr_pages = 0
        self.caller = caller
        self.pages_array = 0             # where area->pages lives (kmalloc/vmalloc address)
        self.pages_array_kind = ""       # "kmalloc" or "vmalloc" (see __vmalloc_area_node)
        self.id = id                     # mem_map.owner of its frames
        self.phys_addr = 0               # the device memory an ioremap() area maps

    def get_vm_area_size(self, page_size: int) -> int:
        """get_vm_area_size(): the usable size, without the guard page."""
        return self.size if self.flags & VM_NO_GUARD else self.size - page_size

    def __repr__(self):
        return (f"<vm_struct {Address(self.addr)}-{Address(self.addr + self.size)} size={self.size} "
                f"pages={self.nr_pages} caller={self.caller}>")


class VmapArea:
    """``struct vmap_area``: a busy (or lazily freed) range [va_start, va_end)."""

    __slots__ = ("va_start", "va_end", "vm")

    def __init__(self, va_start: int, va_end: int, vm: VmStruct | None):
        self.va_start = va_start
        self.va_end = va_end
        self.vm = vm

    def __repr__(self):
        return f"<vmap_area {Address(self.va_start)}-{Address(self.va_end)}>"


_GFP_RECLAIM_MASK = int(G.GFP_RECLAIM_MASK)


def _fls(x: int) -> int:
    return x.bit_length()


class Vmalloc:
    """The vmalloc allocator of one machine (``k.vmalloc``)."""

    def __init__(self, k):
        self.k = k
        prof = k.profile
        self.page_shift = prof.page_shift
        self.page_size = prof.page_size
        self.start = k.vmalloc_start
        self.end = prof.vmalloc_end
        self.ptr_bytes = prof.bits // 8          # sizeof(struct page *)
        # free space, address sorted ("free_vmap_area_root"): parallel start/end lists
        self.free_start = [self.start]
        self.free_end = [self.end]
        # busy areas ("vmap_area_root"): sorted starts + start -> area
        self.busy_starts: list[int] = []
        self.busy: dict[int, VmapArea] = {}
        # lazily freed ranges ("purge_vmap_area_root") and vmap_lazy_nr
        self.purge: dict[int, VmapArea] = {}
        self.lazy_nr = 0
        self.lazy_max_pages = _fls(k.nr_cpus) * ((32 << 20) >> self.page_shift)
        self.nr_purges = 0
        self._next_id = 1
        #: pfns whose vm_struct was vunmap()ed while they were still allocated (leaked, as in C)
        self.leaked: list[int] = []

    # -- the vmap area allocator --------------------------------------------------------

    def _find_lowest(self, size: int, align: int) -> int:
        """find_vmap_lowest_match(): lowest aligned start of a free range that fits."""
        fs, fe = self.free_start, self.free_end
        for i in range(len(fs)):
            a = -(-fs[i] // align) * align
            if a + size <= fe[i]:
                return i, a
        return -1, 0

    def _carve(self, i: int, a: int, size: int) -> None:
        """adjust_va_to_fit_type(): take [a, a+size) out of free range i."""
        fs, fe = self.free_start, self.free_end
        s, e = fs[i], fe[i]
        if s == a and e == a + size:
            del fs[i], fe[i]
        elif s == a:
            fs[i] = a + size
        elif e == a + size:
            fe[i] = a
        else:
            fe[i] = a
            fs.insert(i + 1, a + size)
            fe.insert(i + 1, e)

    def _insert_free(self, s: int, e: int) -> None:
        """merge_or_add_vmap_area(): put [s, e) back, merging with its neighbours."""
        fs, fe = self.free_start, self.free_end
        i = bisect.bisect_left(fs, s)
        if i > 0 and fe[i - 1] == s:
            if i < len(fs) and fs[i] == e:
                fe[i - 1] = fe[i]
                del fs[i], fe[i]
            else:
                fe[i - 1] = e
        elif i < len(fs) and fs[i] == e:
            fs[i] = s
        else:
            fs.insert(i, s)
            fe.insert(i, e)

    def alloc_vmap_area(self, size: int, align: int, gfp: int) -> VmapArea | None:
        """alloc_vmap_area(): reserve ``size`` bytes (guard included), or None."""
        purged = False
        while True:
            i, a = self._find_lowest(size, align)
            if i >= 0:
                break
            if not purged:
                self.purge_vmap_area_lazy()
                purged = True
                continue
            if not gfp & G.F_NOWARN:
                self.k.log.printk("warn", f"vmap allocation for size {size} failed: "
                                          "use vmalloc=<size> to increase size")
            return None
        self._carve(i, a, size)
        va = VmapArea(a, a + size, None)
        bisect.insort(self.busy_starts, a)
        self.busy[a] = va
        return va

    def purge_vmap_area_lazy(self) -> int:
        """__purge_vmap_area_lazy(): the lazily freed ranges become free space.
        Returns how many areas were purged."""
        n = len(self.purge)
        for va in self.purge.values():
            self._insert_free(va.va_start, va.va_end)
        self.purge.clear()
        self.lazy_nr = 0
        if n:
            self.nr_purges += 1
        return n

    def _free_vmap_area_noflush(self, va: VmapArea) -> None:
        """free_vmap_area_noflush(): onto the purge list; purge when too much is lazy."""
        self.purge[va.va_start] = va
        self.lazy_nr += (va.va_end - va.va_start) >> self.page_shift
        if self.lazy_nr > self.lazy_max_pages:
            self.purge_vmap_area_lazy()     # the kernel schedules drain_vmap_work

    def find_vmap_area(self, addr: int) -> VmapArea | None:
        """find_vmap_area(): the busy area that contains ``addr``."""
        i = bisect.bisect_right(self.busy_starts, addr) - 1
        if i >= 0:
            va = self.busy[self.busy_starts[i]]
            if addr < va.va_end:
                return va
        return None

    def _unlink(self, va: VmapArea) -> None:
        i = bisect.bisect_left(self.busy_starts, va.va_start)
        del self.busy_starts[i]
        del self.busy[va.va_start]

    # -- kernel function names per generation (what the tracer shows) -------------------

    def _entry_chain(self, api: str) -> tuple[str, ...]:
        """The calls from an API function down to __vmalloc_node_range().

        v4.14/v4.19 mm/vmalloc.c: vmalloc()/vzalloc()/vzalloc_node() go through
        __vmalloc_node_flags() to the static __vmalloc_node(); kvmalloc_node() (mm/util.c)
        through __vmalloc_node_flags_caller(). 5.8+ (the __vmalloc() cleanup) call
        __vmalloc_node() directly; 6.x kvmalloc_node() calls __vmalloc_node_range()
        itself (with VM_ALLOW_HUGE_VMAP, which kmemlab does not model). 6.10+ spell the
        entry points ``*_noprof``."""
        gen = self.k.gen
        if api == "kvmalloc":
            return gen.chain("kvmalloc_chain")
        if api == "__vmalloc_node":
            return gen.chain("__vmalloc_node")
        if gen.vmalloc_node_flags and api in ("vmalloc", "vzalloc", "vzalloc_node"):
            return gen.chain(api) + ("__vmalloc_node_flags", gen.name("__vmalloc_node"))
        return gen.chain(api) + (gen.name("__vmalloc_node"),)

    def _map_names(self) -> tuple[tuple[str, ...], tuple[str, ...], str]:
        """(top calls, the p4d/pud/pmd walk, the per-PTE-table call) of the mapping step:
        v4.19 map_vm_area -> vmap_page_range -> vmap_page_range_noflush -> vmap_p4d_range..;
        5.8-5.12 map_kernel_range -> map_kernel_range_noflush -> vmap_p4d_range..;
        5.13+ vmap_pages_range -> vmap_pages_range_noflush -> vmap_small_pages_range_noflush
        -> vmap_pages_p4d_range..; 6.1+ (KMSAN) adds __vmap_pages_range_noflush. The p4d
        level arrived in 4.11: 4.5 walks pud, pmd, pte."""
        gen = self.k.gen
        if gen.vmalloc_map_names != "vmap_pages_range":
            low = ("vmap_p4d_range", "vmap_pud_range", "vmap_pmd_range"), "vmap_pte_range"
            if not gen.p4d_level:                     # before 5-level paging support (4.11)
                low = low[0][1:], low[1]
            top = (("map_vm_area", "vmap_page_range", "vmap_page_range_noflush")
                   if gen.vmalloc_map_names == "map_vm_area"
                   else ("map_kernel_range", "map_kernel_range_noflush"))
            return top, low[0], low[1]
        top = ("vmap_pages_range", "vmap_pages_range_noflush")
        if gen.vmalloc_kmsan_wrapper:
            top += ("__vmap_pages_range_noflush",)
        top += ("vmap_small_pages_range_noflush",)
        return top, ("vmap_pages_p4d_range", "vmap_pages_pud_range", "vmap_pages_pmd_range"), \
            "vmap_pages_pte_range"

    # -- vmalloc ------------------------------------------------------------------------

    def _old_messages(self) -> bool:
        """Kernels before 5.13 print "vmalloc: allocation failure ..." messages."""
        return self.k.gen.vmalloc_old_messages

    def get_vm_area(self, size: int, align: int, flags: int, gfp: int, caller: str) -> VmStruct | None:
        """__get_vm_area_node(): PAGE_ALIGN, the guard page, the vmap area, the vm_struct."""
        ps = self.page_size
        requested = size
        size = -(-size // ps) * ps
        if not size:
            return None
        if not flags & VM_NO_GUARD:
            size += ps
        tr = self.k.tracer
        if tr is not None:
            tr.enter("__get_vm_area_node", f"size={size} align={align}")
        va = self.alloc_vmap_area(size, align, gfp)
        if tr is not None:
            tr.leaf("alloc_vmap_area", f"size={size}", None if va is None else Address(va.va_start))
            tr.leave(None if va is None else Address(va.va_start))
        if va is None:
            return None
        vm = VmStruct(va.va_start, size, flags, caller, self._next_id, requested)
        self._next_id += 1
        va.vm = vm
        return vm

    def vmalloc(self, size: int, align: int, gfp: int, node: int, caller: str, api: str) -> int:
        """An API entry (``api`` names it: vmalloc, vzalloc, vmalloc_node, vzalloc_node,
        __vmalloc, __vmalloc_node, kvmalloc) down to __vmalloc_node_range(); traced
        with this generation's intermediate functions."""
        if (self.k.gen.vmalloc_api_highmem and api in ("vmalloc", "vzalloc", "vmalloc_node", "vzalloc_node")
                and not gfp & (G.F_DMA | G.F_DMA32)):
            gfp |= G.F_HIGHMEM      # 4.x vmalloc(): __vmalloc_node_flags(size, node, GFP_KERNEL | __GFP_HIGHMEM)
        tr = self.k.tracer
        if tr is None:
            return self.vmalloc_node_range(size, align, gfp, node, caller)
        chain = self._entry_chain(api)
        for i, name in enumerate(chain):
            tr.enter(name, f"size={size}" if i == 0 else "")
        addr = self.vmalloc_node_range(size, align, gfp, node, caller)
        for _ in chain:
            tr.leave(Address(addr))
        return addr

    def vmalloc_node_range(self, size: int, align: int, gfp: int, node: int, caller: str,
                           vm_flags: int = 0) -> int:
        """__vmalloc_node_range(): the whole vmalloc path; the address or 0."""
        tr = self.k.tracer
        if tr is None:
            return self._vmalloc_node_range(size, align, gfp, node, caller, vm_flags)
        tr.enter(self.k.gen.name("__vmalloc_node_range"), f"size={size} gfp={G.format_gfp(gfp, self.k.gen)}"
                                         + ("" if node < 0 else f" node={node}"))
        return tr.leave(Address(self._vmalloc_node_range(size, align, gfp, node, caller, vm_flags)))

    def _vmalloc_node_range(self, size: int, align: int, gfp: int, node: int, caller: str,
                            vm_flags: int) -> int:
        k = self.k
        ps = self.page_size
        gfp = int(gfp)
        old = self._old_messages()
        real_size = size
        if old:
            size = -(-size // ps) * ps
            if not size or (size >> self.page_shift) > _totalram_pages(k):
                k.buddy.warn_alloc(gfp, f"vmalloc: allocation failure: {real_size} bytes")
                return 0
        else:
            if not size:
                k.warn_on("vmalloc_size_0", k.gen.vmalloc_size0_warn_site, k.gen.name("__vmalloc_node_range"))
                return 0
            if (size >> self.page_shift) > _totalram_pages(k):
                k.buddy.warn_alloc(gfp, f"vmalloc error: size {real_size}, exceeds total pages")
                return 0
        vm = self.get_vm_area(size, align, VM_ALLOC | VM_UNINITIALIZED | vm_flags, gfp, caller)
        if vm is None:
            if old:
                k.buddy.warn_alloc(gfp, f"vmalloc: allocation failure: {real_size} bytes")
            else:
                k.buddy.warn_alloc(gfp, f"vmalloc error: size {real_size}, vm_struct allocation failed"
                                        + (". Retrying." if gfp & G.F_NOFAIL else ""))
            return 0
        tr = k.tracer
        if tr is None:
            ok = self._vmalloc_area_node(vm, gfp, node)
        else:
            tr.enter("__vmalloc_area_node", f"nr_pages={vm.get_vm_area_size(ps) >> self.page_shift}")
            ok = tr.leave(self._vmalloc_area_node(vm, gfp, node))
        if not ok:
            return 0
        vm.flags &= ~VM_UNINITIALIZED           # clear_vm_uninitialized_flag()
        return vm.addr

    def _vmalloc_area_node(self, vm: VmStruct, gfp: int, node: int) -> bool:
        """__vmalloc_area_node(): page array, the pages, PTEs."""
        k = self.k
        ps = self.page_size
        old = self._old_messages()
        tr = k.tracer
        orig_gfp = gfp
        nested_gfp = (gfp & _GFP_RECLAIM_MASK) | G.F_ZERO
        nr = vm.get_vm_area_size(ps) >> self.page_shift
        array_size = nr * self.ptr_bytes
        if not gfp & (G.F_DMA | G.F_DMA32):
            gfp |= G.F_HIGHMEM
        if array_size > ps:
            # the recursion is strictly bounded: 512 pages of pointers describe 1 GiB
            if tr is not None:
                tr.enter(k.gen.name("__vmalloc_node"), f"size={array_size} (the page array)")
            arr = self.vmalloc_node_range(array_size, 1, nested_gfp, node, vm.caller)
            if tr is not None:
                tr.leave(Address(arr))
            kind = "vmalloc"
        else:
            arr, kind = self._alloc_pages_array(array_size, nested_gfp, node, vm.id)
        if not arr:
            if not old:
                k.buddy.warn_alloc(gfp, f"vmalloc error: size {nr * ps}, failed to allocated page "
                                        f"array size {array_size}")
            va = self.busy[vm.addr]
            self._unlink(va)                   # free_vm_area(): remove_vm_area + kfree
            self._free_vmap_area_noflush(va)
            return False
        vm.pages_array, vm.pages_array_kind = arr, kind
        # both generations add __GFP_NOWARN to the page allocations and report once
        # (4.19: alloc_mask = gfp_mask | __GFP_NOWARN; 6.6: vm_area_alloc_pages(gfp_mask | __GFP_NOWARN))
        page_gfp = gfp | G.F_NOWARN
        if not k.gen.vmalloc_bulk:
            self._alloc_pages_one_by_one(vm, page_gfp, node, nr)
        else:
            self._vm_area_alloc_pages(vm, page_gfp, node, nr)
        vm.nr_pages = len(vm.pages)
        k.vmstat["nr_vmalloc"] += vm.nr_pages
        failed = ("failed to allocate pages" if vm.nr_pages != nr
                  else None if self._map(vm) else "failed to map pages")
        if failed:
            if old:                            # 4.19 warns with the caller's gfp_mask
                k.buddy.warn_alloc(orig_gfp, f"vmalloc: allocation failure, allocated {vm.nr_pages * ps} "
                                             f"of {vm.size} bytes")
            else:
                k.buddy.warn_alloc(gfp, f"vmalloc error: size {vm.nr_pages * ps}, {failed}")
            self.vfree(vm.addr)
            return False
        k.clock.advance(500 + 200 * nr)
        return True

    def _alloc_pages_one_by_one(self, vm: VmStruct, gfp: int, node: int, nr: int) -> None:
        """Before 5.13: ``alloc_page()`` (NUMA_NO_NODE) or ``alloc_pages_node()`` once
        per page, stopping at the first failure; in the article's 4.5 (and 4.6)
        ``alloc_kmem_pages()`` / ``alloc_kmem_pages_node()``."""
        k = self.k
        nd = None if node < 0 else node
        alloc = k.buddy.alloc
        pages = vm.pages
        vid = vm.id
        tr = k.tracer
        if tr is None:
            for _ in range(nr):
                pfn = alloc(gfp, 0, K_VMALLOC, vid, nd)
                if pfn < 0:
                    break
                pages.append(pfn)
            return
        if k.gen.vmalloc_kmem_pages:
            name = "alloc_kmem_pages" if node < 0 else "alloc_kmem_pages_node"
        else:
            name = "alloc_page" if node < 0 else "alloc_pages_node"
        for _ in range(nr):
            tr.enter(name)
            pfn = tr.leave(alloc(gfp, 0, K_VMALLOC, vid, nd))
            if pfn < 0:
                break
            pages.append(pfn)

    def _vm_area_alloc_pages(self, vm: VmStruct, gfp: int, node: int, nr: int) -> None:
        """vm_area_alloc_pages() (5.13+, order 0): the bulk allocator, at most 100 pages
        a call (the kernel's bound on time with preemption off), until a call comes
        back short; then the rest one page at a time with alloc_pages() /
        alloc_pages_node(), stopping at the first failure. __GFP_NOFAIL is dropped for
        the bulk calls only, as in the kernel."""
        k = self.k
        buddy = k.buddy
        nd = None if node < 0 else node
        pages = vm.pages
        vid = vm.id
        tr = k.tracer
        if tr is not None:
            tr.enter("vm_area_alloc_pages", f"nr_pages={nr}")
            gen = k.gen
            bulk_names = ((gen.name("alloc_pages_bulk_array_mempolicy"), gen.name("__alloc_pages_bulk"))
                          if node < 0 and gen.vmalloc_bulk_mempolicy else (gen.name("__alloc_pages_bulk"),))
        bulk_gfp = gfp & ~G.F_NOFAIL
        while len(pages) < nr:
            want = min(100, nr - len(pages))
            if tr is None:
                got = buddy.alloc_bulk(bulk_gfp, want, K_VMALLOC, vid, nd)
            else:
                for name in bulk_names:
                    tr.enter(name, f"nr_pages={want}" if name == bulk_names[0] else "")
                got = buddy.alloc_bulk(bulk_gfp, want, K_VMALLOC, vid, nd)
                for _ in bulk_names:
                    tr.leave(len(got))
            pages.extend(got)
            if len(got) != want:
                break
        name = k.gen.name("alloc_pages" if node < 0 else "alloc_pages_node")
        while len(pages) < nr:
            if tr is not None:
                tr.enter(name)
            pfn = buddy.alloc(gfp, 0, K_VMALLOC, vid, nd)
            if tr is not None:
                tr.leave(pfn)
            if pfn < 0:
                break
            pages.append(pfn)
        if tr is not None:
            tr.leave(len(pages))

    def _map(self, vm: VmStruct) -> bool:
        """Write the PTEs (map_vm_area / map_kernel_range / vmap_pages_range)."""
        k = self.k
        pt = k.pgtable
        tr = k.tracer
        if tr is None:
            return pt.map_pfns(vm.addr, vm.pages, pt.page_kernel)
        top, walk, pte = self._map_names()
        n = len(vm.pages)
        for i, name in enumerate(top + walk):
            tr.enter(name, f"{Address(vm.addr)}-{Address(vm.addr + (n << self.page_shift))} "
                           "PAGE_KERNEL" if i == 0 else "")
        ok = pt.map_pfns(vm.addr, vm.pages, pt.page_kernel)
        # one vmap_pte_range() per PTE table the range touches
        span = pt._pte_span_shift
        first, last = vm.addr >> span, (vm.addr + (n << self.page_shift) - 1) >> span
        for t in range(first, last + 1):
            lo = max(vm.addr, t << span)
            hi = min(vm.addr + (n << self.page_shift), (t + 1) << span)
            tr.leaf(pte, f"{(hi - lo) >> self.page_shift} PTEs")
        for _ in top + walk:
            tr.leave(0 if ok else -12)       # 0 or -ENOMEM
        return ok

    def kvmalloc_node(self, size: int, flags: int, node: int, caller: str, buckets: list | None = None) -> int:
        """kvmalloc_node() (mm/util.c): kmalloc first, vmalloc when that fails.

        Per generation, as the kernel's source has it:

        - all: for size > PAGE_SIZE the kmalloc attempt gets __GFP_NOWARN and, unless
          __GFP_RETRY_MAYFAIL, __GFP_NORETRY; a kmalloc result, or any size <= PAGE_SIZE,
          is returned as it is (there is no vmalloc fallback for sub-page sizes);
        - before 5.17 (v4.14-v5.15): flags that are not a superset of GFP_KERNEL
          (GFP_ATOMIC, GFP_NOWAIT, GFP_NOFS, GFP_NOIO) get a plain kmalloc_node() only;
        - 5.14+: sizes above INT_MAX fall back to nothing: NULL with WARN_ON_ONCE
          (5.14/5.15 always; 5.16+ only without __GFP_NOWARN);
        - 5.17+/6.x: GFP_NOFS/NOIO may fall back (vmalloc uses the scope API),
          non-blocking flags (no __GFP_DIRECT_RECLAIM) may not, and the kmalloc attempt
          drops __GFP_NOFAIL (the vmalloc fallback implements "nofail").
        """
        k = self.k
        gen = k.gen
        ps = self.page_size
        tr = k.tracer
        if tr is not None:
            tr.enter(gen.name("kvmalloc_node"), f"size={size} flags={G.format_gfp(flags, gen)}"
                                                + ("" if node < 0 else f" node={node}"))
        kernel = G.F_IO | G.F_FS | G.F_DIRECT_RECLAIM | G.F_KSWAPD_RECLAIM     # GFP_KERNEL
        kmalloc_flags = flags
        if not gen.kvmalloc_nofs_fallback and flags & kernel != kernel:
            ret = self._traced_kmalloc(size, flags, node, buckets)
            return ret if tr is None else tr.leave(Address(ret))
        if size > ps:
            # 6.16+ kmalloc_gfp_adjust(): no direct reclaim (kswapd still runs) instead of
            # __GFP_NORETRY, unless the caller insists with __GFP_RETRY_MAYFAIL
            kmalloc_flags |= G.F_NOWARN
            if not kmalloc_flags & G.F_RETRY_MAYFAIL:
                if gen.kvmalloc_no_direct_reclaim:
                    kmalloc_flags &= ~G.F_DIRECT_RECLAIM
                else:
                    kmalloc_flags |= G.F_NORETRY
            if gen.kvmalloc_nofs_fallback:
                kmalloc_flags &= ~G.F_NOFAIL
        ret = self._traced_kmalloc(size, kmalloc_flags, node, buckets)
        if ret or size <= ps:
            return ret if tr is None else tr.leave(Address(ret))
        if gen.kvmalloc_nofs_fallback and not flags & G.F_DIRECT_RECLAIM:
            # "non-sleeping allocations are not supported by vmalloc"
            return 0 if tr is None else tr.leave(Address(0))
        if gen.kvmalloc_int_max and size > 0x7fffffff:
            if not gen.kvmalloc_int_max_nowarn or not flags & G.F_NOWARN:
                k.warn_on("kvmalloc_int_max", gen.kvmalloc_warn_site, gen.name("kvmalloc_node"))
            return 0 if tr is None else tr.leave(Address(0))
        addr = self.vmalloc(size, 1, flags, node, caller, "kvmalloc")
        return addr if tr is None else tr.leave(Address(addr))

    def _traced_kmalloc(self, size: int, gfp: int, node: int, buckets: list | None = None) -> int:
        """kvmalloc's kmalloc attempt: kmalloc_node() (-> __kmalloc_node()), or on 6.14+,
        where kvmalloc lives in mm/slub.c, __do_kmalloc_node() directly; from a set of
        kmem_buckets when the caller has one (vmemdup_user())."""
        return self.k.slub.kmalloc_variable(size, gfp, node, "kvmalloc_kmalloc_chain", buckets)

    def _alloc_pages_array(self, array_size: int, gfp: int, node: int, owner: int) -> tuple[int, str]:
        """area->pages when it fits in a page: ``kmalloc_node(array_size, nested_gfp, node)``,
        a kmalloc-N object. Returns (address, "kmalloc") or (0, "")."""
        addr = self.k.slub.kmalloc_variable(array_size, gfp, node)
        return (addr, "kmalloc") if addr else (0, "")

    def _free_pages_array(self, vm: VmStruct) -> None:
        """kvfree(area->pages)."""
        k = self.k
        addr, kind = vm.pages_array, vm.pages_array_kind
        vm.pages_array, vm.pages_array_kind = 0, ""
        tr = k.tracer
        if tr is not None:
            tr.enter("kvfree", f"{Address(addr)} (the page array)")
        if kind == "vmalloc":
            self.vfree(addr)
        elif kind == "kmalloc":
            k.slub.kfree(addr)
        if tr is not None:
            tr.leave()

    # -- vfree / vmap / vunmap ----------------------------------------------------------

    def check_vfree(self, addr: int, fn: str = "vfree") -> VmapArea:
        """The checks vfree()/vunmap() make before changing anything: a KernelBug with
        the kernel's WARN text for an unaligned or unknown address.

        As in the kernel, a page-aligned address *inside* an area (even its guard
        page) finds that area (find_vmap_area() looks up the containing range). An
        unaligned one gets "Trying to vfree() bad address" (from remove_vm_area()
        since 6.3, so vfree() then also reports the nonexistent area). Pointers are
        printed in full, as with ``no_hash_pointers``."""
        lines = []
        va = None
        if addr & (self.page_size - 1):
            lines.append(f"Trying to vfree() bad address ({addr:0{self.k.profile.bits // 4}x})")
            if not self.k.gen.vfree_unaligned_warns:
                raise self._warn_bug(fn, lines, f"{fn}: {Address(addr)} is not page aligned")
        else:
            va = self.find_vmap_area(addr)
        if va is None or va.vm is None:
            why = ("its area was already freed" if any(p.va_start <= addr < p.va_end
                                                       for p in self.purge.values())
                   else "not page aligned" if lines else "no vmalloc area contains it")
            lines.append(f"Trying to {fn}() nonexistent vm area ({addr:0{self.k.profile.bits // 4}x})")
            raise self._warn_bug(fn, lines, f"{fn}: {Address(addr)}: {why}")
        return va

    def _warn_bug(self, fn: str, lines: list[str], message: str) -> KernelBug:
        k = self.k
        text = "\n".join(
            f"------------[ cut here ]------------\n{line}\n"
            f"WARNING: CPU: {k.cpu} PID: {k.pid} at mm/vmalloc.c {fn}+0x7a/0xa0\n"
            f"{k.cpu_line()}\n"
            f"---[ end trace 0000000000000000 ]---" for line in lines)
        k.log.printk("err", text)
        return KernelBug(message, text)

    def remove_vm_area(self, va: VmapArea) -> VmStruct:
        """remove_vm_area(): unmap the PTEs and put the range on the purge list."""
        vm = va.vm
        tr = self.k.tracer
        if tr is not None:
            gen = self.k.gen
            tr.enter("remove_vm_area", f"{Address(vm.addr)}")
            tr.leaf("find_unlink_vmap_area" if gen.find_unlink_vmap_area else "find_vmap_area", "",
                    Address(va.va_start))
            tr.enter("free_unmap_vmap_area")
            tr.leaf(gen.vmalloc_unmap_name, f"{vm.get_vm_area_size(self.page_size) >> self.page_shift} PTEs")
            tr.leaf("free_vmap_area_noflush", "onto the purge list")
        self.k.pgtable.unmap(vm.addr, vm.get_vm_area_size(self.page_size) >> self.page_shift)
        self._unlink(va)
        va.vm = None
        self._free_vmap_area_noflush(va)
        if tr is not None:
            tr.leave()
            tr.leave(vm)
        return vm

    def _vfree_chain(self) -> tuple[str, ...]:
        """vfree() down to where the work is done: v4.14/4.19 vfree -> __vunmap;
        5.x-6.2 vfree -> __vfree -> __vunmap; 6.3+ (vfree rewritten around
        remove_vm_area) vfree does it itself."""
        return self.k.gen.chain("vfree_chain")

    def vfree(self, addr: int) -> VmStruct:
        """vfree(): the caller has run :meth:`check_vfree` (this one re-checks).

        The pages go back with __free_pages(page, 0) one after the other; kmemlab
        batches the mem_map bookkeeping (:meth:`BuddyAllocator.free_bulk`) with the same
        free lists as a one-by-one loop."""
        k = self.k
        tr = k.tracer
        if tr is not None:
            chain = self._vfree_chain()
            depth = len(tr.stack)
            for i, name in enumerate(chain):
                tr.enter(name, f"{Address(addr)}" if i == 0 else "")
            try:
                vm = self._vfree(addr)
            except BaseException:
                tr.unwind(depth)
                raise
            for _ in chain:
                tr.leave()
            return vm
        return self._vfree(addr)

    def _vfree(self, addr: int) -> VmStruct:
        va = self.check_vfree(addr)
        vm = self.remove_vm_area(va)
        k = self.k
        if vm.flags & VM_ALLOC:
            k.buddy.free_bulk(vm.pages)
            k.vmstat["nr_vmalloc"] -= vm.nr_pages
            self._free_pages_array(vm)
        if k.tracer is not None:
            k.tracer.leaf("kfree", "the vm_struct")
        k.clock.advance(400 + 100 * vm.nr_pages)
        return vm

    def vmap(self, pfns: list[int], flags: int, caller: str) -> int:
        """vmap(): map existing frames at a new virtual range (no page array copy kept
        beyond the pfn list); the address or 0."""
        k = self.k
        if len(pfns) > _totalram_pages(k):
            return 0
        vm = self.get_vm_area(len(pfns) << self.page_shift, 1, flags | VM_MAP, G.F_DIRECT_RECLAIM
                              | G.F_KSWAPD_RECLAIM | G.F_IO | G.F_FS, caller)
        if vm is None:
            return 0
        vm.pages = list(pfns)
        if not k.pgtable.map_pfns(vm.addr, vm.pages, k.pgtable.page_kernel):
            self.vunmap(vm.addr)
            return 0
        return vm.addr

    def ioremap(self, phys: int, size: int, prot: int, caller: str) -> int:
        """arch/x86/mm/ioremap.c ``__ioremap_caller()``: map device memory [phys, phys+size)
        at a new VM_IOREMAP area (aligned to its size's power of two, at most
        ``IOREMAP_MAX_ORDER`` = 128 pages, as ``__get_vm_area_node()`` does) with ``prot``
        (PAGE_KERNEL_IO plus the cache-mode bits). Returns the address of ``phys`` (its
        offset in the page kept) or 0. The frames are device memory, outside RAM: no
        ``struct page``; ``vm.pages`` lists their pfns only for the page-table checks."""
        ps = self.page_size
        offset = phys & (ps - 1)
        start = phys - offset
        size = -(-(phys + size) // ps) * ps - start
        if size <= 0:
            return 0
        align = 1 << min(max((size - 1).bit_length(), self.page_shift), self.page_shift + 7)
        vm = self.get_vm_area(size, align, VM_IOREMAP, G.F_DIRECT_RECLAIM | G.F_KSWAPD_RECLAIM
                              | G.F_IO | G.F_FS, caller)
        if vm is None:
            return 0
        vm.phys_addr = start
        vm.pages = list(range(start >> self.page_shift, (start + size) >> self.page_shift))
        if not self.k.pgtable.map_pfns(vm.addr, vm.pages, prot):       # ioremap_page_range()
            self.vunmap(vm.addr)
            return 0
        return vm.addr + offset

    def iounmap(self, addr: int) -> None:
        """``iounmap()``: unmap the area; its range goes on the lazy purge list."""
        self.remove_vm_area(self.check_vfree(addr & ~(self.page_size - 1), "iounmap"))

    def pcpu_get_vm_areas(self, offsets: list[int], sizes: list[int], align: int) -> list[VmStruct] | None:
        """``pcpu_get_vm_areas()``: one area per percpu group, each ``sizes[i]`` bytes (no
        guard page) at ``base + offsets[i]`` for a common ``align``-ed base, taken from the
        *top* of the vmalloc space ("allocate from the end ... so that they don't get in
        the way of normal vmalloc"). The areas are VM_ALLOC with no pages of their own: the
        percpu allocator populates and maps them itself (``pcpu_populate_chunk()``). Their flags
        are plain VM_ALLOC as ``setup_vmalloc_vm(vms[area], vas[area], VM_ALLOC, ...)`` sets
        them (6.18 mm/vmalloc.c:4869): no VM_NO_GUARD although no guard page was reserved, so
        ``get_vm_area_size()`` of one is a page short, as in the kernel (nothing calls it there)."""
        lo = min(offsets)
        span = max(o + s for o, s in zip(offsets, sizes)) - lo
        fs, fe = self.free_start, self.free_end
        for i in range(len(fs) - 1, -1, -1):
            base = (fe[i] - span) // align * align
            if base < fs[i]:
                continue
            if any(self.find_vmap_area(base + o - lo) for o in offsets):
                continue
            vms = []
            for o, size in sorted(zip(offsets, sizes)):
                a = base + o - lo
                j = bisect.bisect_right(fs, a) - 1
                self._carve(j, a, size)
                va = VmapArea(a, a + size, None)
                bisect.insort(self.busy_starts, a)
                self.busy[a] = va
                vm = va.vm = VmStruct(a, size, VM_ALLOC, "pcpu_get_vm_areas+0x0/0x1050",
                                      self._next_id, size)
                self._next_id += 1
                vms.append(vm)
            return vms
        return None

    def vunmap(self, addr: int) -> VmStruct:
        """vunmap(): release the mapping; the frames stay with their owner. A vmalloc
        area vunmap()ed instead of vfree()d leaks its pages, as in C."""
        va = self.check_vfree(addr, "vunmap")
        vm = self.remove_vm_area(va)
        if vm.flags & VM_ALLOC:
            self.leaked.extend(vm.pages)
            self.k.vmstat["nr_vmalloc"] -= vm.nr_pages
        return vm

    # -- look-ups and reports -----------------------------------------------------------

    def is_vmalloc_addr(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def areas(self) -> list[VmStruct]:
        """Busy areas in address order."""
        return [self.busy[s].vm for s in self.busy_starts]

    def vmallocinfo(self) -> str:
        """/proc/vmallocinfo (mm/vmalloc.c s_show, show_numa_info, show_purge_info)."""
        k = self.k
        w = 16 if k.profile.bits == 64 else 8
        nodes = k.nr_nodes
        node_of = k.mem_map.node
        purged_inline = not k.gen.vmallocinfo_purge_after     # 4.x lists lazily freed areas in place
        rows = []
        items = [(s, self.busy[s]) for s in self.busy_starts]
        if purged_inline:
            items = sorted(items + list(self.purge.items()))
        for s, va in items:
            vm = va.vm
            if vm is None:
                rows.append(f"0x{va.va_start:0{w}x}-0x{va.va_end:0{w}x} {va.va_end - va.va_start:7d} "
                            "unpurged vm_area\n")
                continue
            line = f"0x{vm.addr:0{w}x}-0x{vm.addr + vm.size:0{w}x} {vm.size:7d} {vm.caller}"
            if vm.nr_pages:
                line += f" pages={vm.nr_pages}"
            if vm.phys_addr:
                line += f" phys=0x{vm.phys_addr:0{w}x}"      # %pa: a phys_addr_t in full
            if vm.flags & VM_IOREMAP:
                line += " ioremap"
            if vm.flags & VM_ALLOC:
                line += " vmalloc"
            if vm.flags & VM_MAP:
                line += " vmap"
            if vm.flags & VM_USERMAP:
                line += " user"
            if vm.flags & VM_DMA_COHERENT:
                line += " dma-coherent"
            if vm.pages_array_kind == "vmalloc":
                line += " vpages"
            if vm.nr_pages and not vm.flags & VM_UNINITIALIZED:
                counts = np.bincount(node_of[np.asarray(vm.pages[:vm.nr_pages], np.int64)], minlength=nodes)
                line += "".join(f" N{n}={int(c)}" for n, c in enumerate(counts) if c)
            rows.append(line + "\n")
        if not purged_inline:
            for s in sorted(self.purge):
                va = self.purge[s]
                rows.append(f"0x{va.va_start:0{w}x}-0x{va.va_end:0{w}x} {va.va_end - va.va_start:7d} "
                            "unpurged vm_area\n")
        return "".join(rows)


def _totalram_pages(k) -> int:
    return sum(z.managed_pages for z in k.zones)


# -- invariants ------------------------------------------------------------------------

def _fail(rule: str) -> None:
    raise AssertionError(f"kmemlab invariant broken: {rule}")


def check_vmalloc(k) -> None:
    """vmalloc + page-table rules:

    - free ranges, busy areas and lazily freed areas are disjoint, lie in
      [VMALLOC_START, VMALLOC_END) and together cover it exactly;
    - every page of a vmalloc area is mapped by a present PTE pointing at a K_VMALLOC
      frame owned by that area; the guard page is not mapped;
    - the present PTEs in the vmalloc range are exactly those of the busy areas;
    - the K_VMALLOC frames are exactly the areas' pages, their page-array pages and
      pages leaked by vunmap(); nr_vmalloc counts the areas' pages;
    - nr_page_table_pages equals the K_PGTABLE frames: the kernel's tables and the user
      processes' of a booted machine;
    - a per-CPU chunk's area maps exactly the pages the per-CPU allocator populated.
    """
    from .mem_map import K_PGTABLE
    v = k.vmalloc
    pt = k.pgtable
    mm = k.mem_map
    ps = v.page_size
    spans = [(s, e, "free") for s, e in zip(v.free_start, v.free_end)]
    spans += [(va.va_start, va.va_end, "busy") for va in v.busy.values()]
    spans += [(va.va_start, va.va_end, "lazy") for va in v.purge.values()]
    spans.sort()
    pos = v.start
    for s, e, what in spans:
        if s != pos or e <= s:
            _fail(f"vmalloc space: {what} range {s:#x}-{e:#x} does not continue at {pos:#x} "
                  "(overlap or hole in the bookkeeping)")
        pos = e
    if pos != v.end:
        _fail(f"vmalloc space bookkeeping ends at {pos:#x}, not VMALLOC_END {v.end:#x}")
    if v.busy_starts != sorted(v.busy):
        _fail("vmalloc busy index out of step with the busy areas")
    mapped = 0
    vm_pages = 0
    percpu = k.percpu
    for va in v.busy.values():
        vm = va.vm
        if vm is None or vm.addr != va.va_start or vm.addr + vm.size != va.va_end:
            _fail(f"busy vmap_area {va!r} has no matching vm_struct")
        n = vm.get_vm_area_size(ps) >> v.page_shift
        ptes = pt.pte_values(vm.addr, n + (0 if vm.flags & VM_NO_GUARD else 1))
        present = (ptes & 1).astype(bool)
        if percpu is not None and percpu.chunk_of_area(vm) is not None:
            # a percpu chunk: the percpu allocator maps the pages it populated, no others
            want = percpu.mapped_ptes(vm)
            if int(present.sum()) != len(want) or any(
                    not present[i] or int(ptes[i] & np.array(pt.pfn_mask, ptes.dtype)) >> v.page_shift != pfn
                    for i, pfn in want.items()):
                _fail(f"percpu chunk {vm!r}: its PTEs are not exactly its {len(want)} populated pages")
            mapped += len(want)
            continue
        if not vm.flags & VM_NO_GUARD and present[-1]:
            _fail(f"guard page of {vm!r} is mapped")
        if vm.flags & VM_UNINITIALIZED:
            _fail(f"{vm!r} is still VM_UNINITIALIZED after vmalloc returned")
        if len(vm.pages) != (vm.nr_pages if vm.flags & VM_ALLOC else n):
            _fail(f"{vm!r}: {len(vm.pages)} pages listed, nr_pages={vm.nr_pages}")
        if not present[:n].all():
            _fail(f"{vm!r}: page {int(np.argmin(present[:n]))} is not mapped")
        pfns = (ptes[:n] & np.array(pt.pfn_mask, ptes.dtype)) >> np.array(v.page_shift, ptes.dtype)
        if not np.array_equal(pfns.astype(np.int64), np.asarray(vm.pages, np.int64)):
            _fail(f"{vm!r}: PTEs do not point at the area's pages")
        mapped += n
        if vm.flags & VM_ALLOC:
            idx = np.asarray(vm.pages, np.int64)
            if len(idx) and (np.any(mm.kind[idx] != K_VMALLOC) or np.any(mm.owner[idx] != vm.id)):
                _fail(f"{vm!r}: a mapped frame is not a K_VMALLOC frame owned by the area")
            vm_pages += vm.nr_pages
    present_total = 0
    lo_key, hi_key = v.start >> pt._pte_span_shift, (v.end - 1) >> pt._pte_span_shift
    for key, t in pt.pte_tables.items():
        if lo_key <= key <= hi_key:
            present_total += sum(e & 1 for e in pt.tables[t])
    if present_total != mapped:
        _fail(f"{present_total} present PTEs in the vmalloc range but the busy areas map {mapped} pages")
    if mm.count(K_VMALLOC) != vm_pages + len(v.leaked):
        _fail(f"{mm.count(K_VMALLOC)} K_VMALLOC frames but the areas hold {vm_pages} pages "
              f"and {len(v.leaked)} leaked pages")
    if k.vmstat["nr_vmalloc"] != vm_pages:
        _fail(f"nr_vmalloc={k.vmstat['nr_vmalloc']} but the areas hold {vm_pages} pages")
    npt = mm.count(K_PGTABLE)
    user = k.boot.user_pgtable_pages() if k.boot is not None else 0     # user processes' tables
    if not npt == len(pt.tables) + user == k.vmstat["nr_page_table_pages"]:
        _fail(f"page-table pages: {npt} K_PGTABLE frames, {len(pt.tables)} kernel tables + {user} "
              f"of user processes, nr_page_table_pages={k.vmstat['nr_page_table_pages']}")
