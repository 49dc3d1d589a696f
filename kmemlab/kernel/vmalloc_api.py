"""The public vmalloc and page-table calls of :class:`~kmemlab.kernel.machine.Machine`.

Kept in their own mixin so that machine.py stays small: each method validates its
arguments (TypeError/ValueError for Python misuse), then delegates to ``k.vmalloc``
(:mod:`kmemlab.kernel.vmalloc`) or ``k.pgtable`` (:mod:`kmemlab.kernel.pgtable`).

The ``caller`` shown in /proc/vmallocinfo is what the kernel prints with ``%pS`` for
``__builtin_return_address(0)``: pass a kernel-style ``"my_init+0x1d/0x1000 [mymod]"``,
or leave it out and kmemlab records the calling Python function as
``name+0x<bytecode offset>/0x<code length>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import gfp as G
from .mem_map import K_VMALLOC
from .trace import python_call_site
from .types import NULL, Address, Page, as_int

if TYPE_CHECKING:
    from .pgtable import Walk

__all__ = ["VmallocAPI"]

# plain ints on the hot path (IntFlag arithmetic costs microseconds per operation)
_GFP_KERNEL = int(G.GFP_KERNEL)


def _python_caller() -> str:
    """%pS of the first frame outside kmemlab (vmallocinfo's caller column)."""
    return python_call_site()


class VmallocAPI:
    """vmalloc(), vfree(), vmap(), page-table walks and the address map."""

    # -- address map and walks ---------------------------------------------------------

    @property
    def VMALLOC_START(self) -> Address:
        """First address of the vmalloc area (on i386 computed from high_memory)."""
        return Address(self._k.vmalloc_start)

    @property
    def VMALLOC_END(self) -> Address:
        """End of the vmalloc area, exclusive (the kernel's VMALLOC_END + 1 on x86_64)."""
        return Address(self._k.profile.vmalloc_end)

    @property
    def layout(self):
        """The kernel address space as a tuple of Regions (name, start, end, what)."""
        from .pgtable import address_map
        return address_map(self._k)

    def walk(self, vaddr: int) -> Walk:
        """Walk init_mm's page tables for ``vaddr`` as the MMU does: a
        :class:`~kmemlab.kernel.pgtable.Walk` with, per level, the index, the table's
        physical address, the entry and its flags, then the physical address or the
        level where the walk stopped. ``print(m.walk(v))`` draws it."""
        vaddr = as_int(vaddr, "address")
        bits = self._k.profile.bits
        if not 0 <= vaddr < 1 << bits:
            raise ValueError(f"address {vaddr:#x} does not fit in {bits} bits")
        return self._k.pgtable.walk(vaddr)

    # -- vmalloc -------------------------------------------------------------------------

    def _vsize(self, size) -> int:
        size = as_int(size, "size")
        if size < 0:
            raise ValueError(f"size must be >= 0 bytes, got {size}")
        return size

    def _caller(self, caller) -> str:
        if caller is None:
            return _python_caller()
        if not isinstance(caller, str) or not caller.strip():
            raise TypeError(f"caller must be a symbol string like 'my_init+0x1d/0x1000 [mymod]', "
                            f"got {caller!r}")
        return caller

    def _vmalloc(self, size, align: int, gfp: int, node: int, caller: str, api: str) -> Address:
        k = self._k
        addr = k.vmalloc.vmalloc(size, align, gfp, node, caller, api)
        if addr and k.bus.subscribers:
            vm = k.vmalloc.busy[addr].vm
            k.bus.changed("vmalloc", -1, vm.nr_pages, K_VMALLOC, addr, size, vm)
        return Address(addr)

    def vmalloc(self, size, caller=None) -> Address:
        """``vmalloc(size)``: virtually contiguous memory from order-0 pages anywhere
        in RAM (highmem too). Returns the address in [VMALLOC_START, VMALLOC_END) or
        ``NULL`` (the reason is in dmesg)."""
        return self._vmalloc(self._vsize(size), 1, _GFP_KERNEL, -1, self._caller(caller), "vmalloc")

    def vzalloc(self, size, caller=None) -> Address:
        """``vzalloc(size)``: vmalloc with ``__GFP_ZERO``."""
        return self._vmalloc(self._vsize(size), 1, _GFP_KERNEL | G.F_ZERO, -1, self._caller(caller),
                             "vzalloc")

    def vmalloc_node(self, size, node: int, caller=None) -> Address:
        """``vmalloc_node(size, node)``: the pages preferably from NUMA ``node``."""
        return self._vmalloc(self._vsize(size), 1, _GFP_KERNEL, self._node(node), self._caller(caller),
                             "vmalloc_node")

    def vzalloc_node(self, size, node: int, caller=None) -> Address:
        """``vzalloc_node(size, node)``."""
        return self._vmalloc(self._vsize(size), 1, _GFP_KERNEL | G.F_ZERO, self._node(node),
                             self._caller(caller), "vzalloc_node")

    def vmalloc_gfp(self, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``__vmalloc(size, gfp_mask)`` (renamed: Python mangles leading underscores)."""
        return self._vmalloc(self._vsize(size), 1, G.check_gfp(gfp), -1, self._caller(caller), "__vmalloc")

    def vmalloc_node_align(self, size, align: int, gfp=G.GFP_KERNEL, node: int = -1,
                           caller=None) -> Address:
        """``__vmalloc_node(size, align, gfp_mask, node, caller)``: with the start
        aligned to ``align`` (a power of two), as lib/test_vmalloc.c asks for."""
        align = as_int(align, "align")
        if align < 1 or align & (align - 1):
            raise ValueError(f"align must be a power of two >= 1, got {align}")
        return self._vmalloc(self._vsize(size), align, G.check_gfp(gfp), self._node(node),
                             self._caller(caller), "__vmalloc_node")

    # -- kvmalloc (mm/util.c) --------------------------------------------------------------

    def kvmalloc_node(self, size, gfp=G.GFP_KERNEL, node: int = -1, caller=None) -> Address:
        """``kvmalloc_node(size, flags, node)``: kmalloc when it can (a slab object, or a
        compound block above KMALLOC_MAX_CACHE_SIZE), else vmalloc; ``NULL`` on failure.
        Which flags may fall back to vmalloc depends on the kernel generation (see
        :meth:`kmemlab.kernel.vmalloc.Vmalloc.kvmalloc_node`). Free with :meth:`kvfree`."""
        self._require(self._k.gen.kvmalloc, "kvmalloc_node()", "4.12")
        size = self._vsize(size)
        gfp = G.check_gfp(gfp)
        node = self._node(node)
        k = self._k
        addr = k.vmalloc.kvmalloc_node(size, gfp, node, self._caller(caller))
        if addr and k.bus.subscribers and k.vmalloc.is_vmalloc_addr(addr):
            vm = k.vmalloc.busy[addr].vm
            k.bus.changed("vmalloc", -1, vm.nr_pages, K_VMALLOC, addr, size, vm)
        return Address(addr)

    def kvmalloc(self, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``kvmalloc(size, flags)`` = kvmalloc_node(size, flags, NUMA_NO_NODE)."""
        return self.kvmalloc_node(size, gfp, -1, self._caller(caller))

    def kvzalloc(self, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``kvzalloc(size, flags)`` = kvmalloc with ``__GFP_ZERO``."""
        return self.kvmalloc_node(size, G.check_gfp(gfp) | G.F_ZERO, -1, self._caller(caller))

    def kvzalloc_node(self, size, gfp=G.GFP_KERNEL, node: int = -1, caller=None) -> Address:
        """``kvzalloc_node(size, flags, node)``."""
        return self.kvmalloc_node(size, G.check_gfp(gfp) | G.F_ZERO, node, self._caller(caller))

    def kvmalloc_array(self, n, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``kvmalloc_array(n, size, flags)``: ``NULL`` when n * size overflows size_t
        (``check_mul_overflow``), else kvmalloc(n * size)."""
        n = self._vsize(n)
        size = self._vsize(size)
        gfp = G.check_gfp(gfp)
        if n * size >= 1 << self._k.profile.bits:
            return NULL
        return self.kvmalloc_node(n * size, gfp, -1, self._caller(caller))

    def kvcalloc(self, n, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``kvcalloc(n, size, flags)`` = kvmalloc_array with ``__GFP_ZERO``."""
        return self.kvmalloc_array(n, size, G.check_gfp(gfp) | G.F_ZERO, self._caller(caller))

    def kvfree(self, addr) -> None:
        """``kvfree(addr)``: ``is_vmalloc_addr(addr) ? vfree(addr) : kfree(addr)``."""
        addr = as_int(addr, "kvfree() address")
        k = self._k
        if k.vmalloc.is_vmalloc_addr(addr):
            self.vfree(addr)
        else:
            self.kfree(addr)

    def vrealloc(self, p, size, gfp=G.GFP_KERNEL, caller=None) -> Address:
        """``vrealloc(p, size, flags)`` (mm/vmalloc.c, 6.12+): resize a vmalloc allocation.

        As the kernel does it: ``p`` NULL is a plain ``__vmalloc(size, flags)``; size 0
        frees ``p`` and returns NULL; a size that still fits the pages the area has keeps
        ``p`` (with ``__GFP_ZERO`` the spare bytes are zeroed); a larger size allocates a
        new area, copies the old contents and frees ``p``. An address that is no vmalloc
        area gets the kernel's WARN ("Trying to vrealloc() nonexistent vm area") and NULL,
        and changes nothing."""
        k = self._k
        self._require(k.gen.vrealloc, "vrealloc()", "6.12")
        p = as_int(p, "vrealloc() address")
        size = self._vsize(size)
        gfp = G.check_gfp(gfp)
        caller = self._caller(caller)
        if not size:
            self.vfree(p)
            return NULL
        vm = None
        if p:
            va = k.vmalloc.find_vmap_area(p)          # find_vm_area(): the area containing p
            vm = va.vm if va is not None else None
            if vm is None:
                k.warn_on(f"vrealloc:{p:#x}", k.gen.vrealloc_warn_site, k.gen.name("vrealloc"),
                          extra=f"Trying to vrealloc() nonexistent vm area ({p:#018x})")
                return NULL
        tr = k.tracer
        alloced = vm.get_vm_area_size(self.PAGE_SIZE) if vm is not None else 0
        # 6.15+ remembers the size asked for and copies only that much; 6.12 the whole area
        old_size = (vm.requested_size if k.gen.vrealloc_requested_size else alloced) if vm is not None else 0

        def resize():
            if vm is not None and size <= alloced:
                if size <= old_size and gfp & G.F_ZERO:
                    self.memset(p + size, 0, old_size - size)    # zero the spare (or "freed") bytes
                vm.requested_size = size
                return p
            new = self._vmalloc(size, 1, gfp, -1, caller, "__vmalloc")
            if new and vm is not None:
                self.write(new, self.read(p, min(size, old_size)))
                self.vfree(p)
            return int(new)
        if tr is None:
            return Address(resize())
        return Address(tr.through((k.gen.name("vrealloc"),), resize, f"{Address(p)} size={size}", Address))

    def _require(self, present: bool, what: str, since: str) -> None:
        """A kernel function the machine's generation does not have is a Python AttributeError
        (in C it would not compile), saying which release brought it."""
        gen = self._k.gen
        if not present:
            raise AttributeError(f"{what} exists from Linux {since} on; this machine runs {gen.release} "
                                 f"(boot km.Machine(kernel='{since}') or later)")

    def vfree(self, addr) -> None:
        """``vfree(addr)``: unmap and free the pages now; the virtual range is
        released lazily (see :meth:`vm_unmap_aliases`). ``NULL`` is a no-op. An
        address that is not in a live vmalloc area raises KernelBug with the kernel's
        "Trying to vfree() nonexistent vm area" report and changes nothing."""
        addr = as_int(addr, "vfree() address")
        if addr == 0:
            return
        k = self._k
        k.vmalloc.check_vfree(addr)
        vm = k.vmalloc.vfree(addr)
        if k.bus.subscribers:
            k.bus.changed("vfree", -1, vm.nr_pages, K_VMALLOC, vm.addr, vm.size, vm)

    def vmap(self, pages, count=None, caller=None) -> Address:
        """``vmap(pages, count, VM_MAP, PAGE_KERNEL)``: map existing pages (a list of
        km.Page) at consecutive virtual addresses; ``NULL`` on failure."""
        if isinstance(pages, Page):
            raise TypeError("vmap() takes a list of km.Page, e.g. [pg] or [m.pfn_to_page(p) for p in pfns]")
        try:
            pages = list(pages)
        except TypeError:
            raise TypeError(f"vmap() takes a list of km.Page, got {type(pages).__name__}") from None
        count = len(pages) if count is None else as_int(count, "count")
        if not 0 <= count <= len(pages):
            raise ValueError(f"count must be 0..{len(pages)} (the pages given), got {count}")
        pfns = []
        for pg in pages[:count]:
            if not isinstance(pg, Page):
                raise TypeError(f"vmap() takes km.Page items, got {type(pg).__name__}")
            self._check_page(pg)
            pfns.append(pg.pfn)
        if not pfns:
            return NULL
        addr = self._k.vmalloc.vmap(pfns, 0, self._caller(caller))
        k = self._k
        if addr and k.bus.subscribers:
            k.bus.changed("vmap", pfns[0], len(pfns), 0, addr, len(pfns) * self.PAGE_SIZE)
        return Address(addr)

    def vunmap(self, addr) -> None:
        """``vunmap(addr)``: remove a vmap() mapping; the pages stay with their owner."""
        addr = as_int(addr, "vunmap() address")
        if addr == 0:
            return
        k = self._k
        k.vmalloc.check_vfree(addr, "vunmap")
        vm = k.vmalloc.vunmap(addr)
        if k.bus.subscribers:
            k.bus.changed("vunmap", -1, len(vm.pages), 0, vm.addr, vm.size, vm)

    def vm_unmap_aliases(self) -> int:
        """``vm_unmap_aliases()``: purge the lazily freed vmalloc ranges now, so they
        can be reused. Returns how many areas were purged."""
        n = self._k.vmalloc.purge_vmap_area_lazy()
        if n and self._k.bus.subscribers:
            self._k.bus.changed("purge_vmap_area_lazy", -1, 0, 0, 0, 0, n)
        return n

    # -- look-ups ------------------------------------------------------------------------

    def is_vmalloc_addr(self, addr) -> bool:
        """``is_vmalloc_addr(x)``: VMALLOC_START <= x < VMALLOC_END."""
        return self._k.vmalloc.is_vmalloc_addr(as_int(addr, "address"))

    def vmalloc_to_page(self, addr) -> Page | None:
        """``vmalloc_to_page(addr)``: the struct page behind a vmalloc address, found
        by walking the page tables; None where nothing is mapped."""
        addr = as_int(addr, "address")
        phys = self._k.pgtable.translate(addr) if self._k.vmalloc.is_vmalloc_addr(addr) else -1
        return None if phys < 0 else Page(self._k.mem_map, phys >> self.PAGE_SHIFT)

    def vmalloc_to_pfn(self, addr) -> int:
        """``vmalloc_to_pfn(addr)``: page_to_pfn(vmalloc_to_page(addr)); 0 when unmapped."""
        pg = self.vmalloc_to_page(addr)
        return 0 if pg is None else pg.pfn

    def find_vm_area(self, addr):
        """``find_vm_area(addr)``: the vm_struct whose range contains ``addr``, or None."""
        va = self._k.vmalloc.find_vmap_area(as_int(addr, "address"))
        return None if va is None else va.vm

    # -- memory access through the page tables -------------------------------------------

    def _phys_segments(self, addr, n: int, access: str) -> list[tuple[int, int]]:
        """Physical (start, length) pieces behind [addr, addr+n): the direct map by
        arithmetic, anything else through the page tables; an unmapped byte raises
        KernelOops as the page fault would."""
        addr = as_int(addr, "address")
        k = self._k
        off = addr - k.profile.page_offset
        if 0 <= off and off + n <= (k.max_low_pfn << k.profile.page_shift):
            return [(off, n)]
        pt = k.pgtable
        ps = k.profile.page_size
        out: list[tuple[int, int]] = []
        va, end = addr, addr + n
        if n == 0:
            end = addr + 1
        while va < end:
            phys = pt.translate(va) if 0 <= va < 1 << k.profile.bits else -1
            if phys < 0:
                raise self._oops(va, access)
            chunk = min(end - va, ps - (va & (ps - 1)))
            if out and out[-1][0] + out[-1][1] == phys:
                out[-1] = (out[-1][0], out[-1][1] + chunk)
            else:
                out.append((phys, chunk))
            va += chunk
        if n == 0:
            out = [(out[0][0], 0)]
        return out
