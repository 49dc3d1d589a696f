"""The per-CPU allocator's memory: the embedded first chunk and vmalloc-backed chunks.

Think of a per-CPU variable as a row of identical pigeon-holes, one per CPU: ``this_cpu_inc(x)``
touches only the current CPU's hole. The holes of all per-CPU variables are packed into
*units*, one unit per CPU; the units of a *chunk* sit at the same distance from each other,
so "the copy of variable x for CPU n" is ``base + x + n * unit_size``.

Models mm/percpu.c and mm/percpu-vm.c (6.18), as x86 sets them up (arch/x86/kernel/
setup_percpu.c):

- :func:`pcpu_build_alloc_info`: the unit size — the static per-CPU data (``__per_cpu_start``
  .. ``__per_cpu_end``), the reserved area for modules and the dynamic reserve, page
  aligned, packed ``upa`` units per ``atom_size`` allocation (2 MiB on x86-64, a page on
  i386) with at most a third of the units wasted;
- ``pcpu_embed_first_chunk()`` (:meth:`Percpu.embed_first_chunk`): the first chunk comes from
  memblock, one allocation per group of CPUs (a NUMA node), below ``mem_map``; the unused
  tail of every unit goes back to memblock (so to the buddy allocator), which leaves
  "Embedded N pages/cpu" reserved per CPU;
- ``pcpu_create_chunk()`` (:meth:`Percpu.create_chunk`): later chunks are vmalloc space from
  ``pcpu_get_vm_areas()`` (the *top* of the vmalloc range), their bookkeeping from
  ``pcpu_mem_zalloc()`` (kzalloc, or vmalloc above a page: the ``pcpu_create_chunk+0x..``
  lines of /proc/vmallocinfo), and pages populated on demand, one ``alloc_pages_node()``
  per page per unit, mapped by page-table entries (``pcpu_populate_chunk()``);
- ``pcpu_nr_pages()`` = populated pages per unit x units: the ``Percpu:`` line of
  /proc/meminfo.

Sizes: the static per-CPU area is this project's 6.18 machines' (``percpu: Embedded 57
pages/cpu s202520 r0 d30952 u1048576``: 202520 bytes, no module reserve); the kernel's
build decides it and no other release's figure was read, so every generation uses it.
Simplified: which variable lives where in a unit is not modelled, only which pages are
populated.
"""

from __future__ import annotations

from typing import NamedTuple

from . import gfp as G
from .mem_map import K_PAGES

__all__ = ["PcpuAllocInfo", "Percpu", "pcpu_build_alloc_info", "check_percpu",
           "STATIC_SIZE", "PERCPU_DYNAMIC_RESERVE"]

#: __per_cpu_end - __per_cpu_start of the 6.18 kernel on this project's machines (dmesg "s202520")
STATIC_SIZE = 202520
#: include/linux/percpu.h: 28 KiB on 64-bit, 20 KiB on 32-bit (PERCPU_DYNAMIC_SIZE_SHIFT 10)
PERCPU_DYNAMIC_RESERVE = {64: 28 << 10, 32: 20 << 10}
PERCPU_DYNAMIC_EARLY_SIZE = 20 << 10
#: PERCPU_MODULE_RESERVE: 0 without CONFIG_MODULES, as the dmesg "r0" of those machines says
PERCPU_MODULE_RESERVE = 0
PCPU_MIN_UNIT_SIZE = 32 << 10
PCPU_MIN_ALLOC_SHIFT = 2                  # 4-byte allocation granules in the chunk bitmaps
#: sizeof(struct pcpu_block_md) (8 ints) and sizeof(struct pcpuobj_ext) (an obj_cgroup pointer)
PCPU_BLOCK_MD_SIZE = 32
PCPUOBJ_EXT_SIZE = 8              # a pointer: 4 bytes on i386
#: where pcpu_create_chunk() calls pcpu_mem_zalloc() for each bookkeeping array (%pS on 6.18)
_CREATE_CHUNK_CALLERS = {"alloc_map": "pcpu_create_chunk+0x56/0x230",
                         "bound_map": "pcpu_create_chunk+0x80/0x230",
                         "md_blocks": "pcpu_create_chunk+0xa0/0x230",
                         "obj_exts": "pcpu_create_chunk+0x217/0x230"}


class PcpuGroup(NamedTuple):
    """``struct pcpu_group_info``: CPUs of one NUMA node, ``None`` for an unused unit."""
    base_offset: int
    cpu_map: tuple


class PcpuAllocInfo(NamedTuple):
    """``struct pcpu_alloc_info``."""
    static_size: int
    reserved_size: int
    dyn_size: int
    unit_size: int
    atom_size: int
    alloc_size: int
    groups: tuple

    @property
    def nr_units(self) -> int:
        return sum(len(g.cpu_map) for g in self.groups)


def _page_align(x: int, page_size: int) -> int:
    return -(-x // page_size) * page_size


def pcpu_build_alloc_info(cpu_nodes: list[int], static_size: int, reserved_size: int,
                          dyn_size: int, atom_size: int, page_size: int = 4096) -> PcpuAllocInfo:
    """mm/percpu.c ``pcpu_build_alloc_info()``: ``cpu_nodes[cpu]`` is the CPU's node (CPUs of
    one node are at LOCAL_DISTANCE and share a group)."""
    size_sum = _page_align(static_size + reserved_size + max(dyn_size, PERCPU_DYNAMIC_EARLY_SIZE), page_size)
    dyn_size = size_sum - static_size - reserved_size
    min_unit_size = max(size_sum, PCPU_MIN_UNIT_SIZE)
    alloc_size = -(-min_unit_size // atom_size) * atom_size

    def fits(upa: int) -> bool:
        return alloc_size % upa == 0 and (alloc_size // upa) % page_size == 0

    upa = alloc_size // min_unit_size
    while not fits(upa):
        upa -= 1
    max_upa = upa
    groups: list[list[int]] = []
    node_group: dict[int, int] = {}
    for cpu, node in enumerate(cpu_nodes):
        if node not in node_group:
            node_group[node] = len(groups)
            groups.append([])
        groups[node_group[node]].append(cpu)
    ncpus = len(cpu_nodes)
    last_allocs, best_upa = None, 0
    for upa in range(max_upa, 0, -1):
        if not fits(upa):
            continue
        allocs = sum(-(-len(g) // upa) for g in groups)
        wasted = sum(-(-len(g) // upa) * upa - len(g) for g in groups)
        if wasted > ncpus // 3:                 # "don't accept if wastage is over 1/3"
            continue
        if last_allocs is not None and allocs > last_allocs:
            break                               # "and then don't consume more memory"
        last_allocs, best_upa = allocs, upa
    unit_size = alloc_size // best_upa
    out, unit = [], 0
    for g in groups:
        n = -(-len(g) // best_upa) * best_upa
        out.append(PcpuGroup(unit * unit_size, tuple(g) + (None,) * (n - len(g))))
        unit += n
    return PcpuAllocInfo(static_size, reserved_size, dyn_size, unit_size, atom_size, alloc_size, tuple(out))


class PcpuChunk:
    """``struct pcpu_chunk`` of a vmalloc-backed chunk: its vm areas (one per group), the
    bookkeeping arrays it allocated, and its populated pages: (unit, page) -> pfn."""

    def __init__(self, vms, meta):
        self.vms = vms
        self.meta = meta                   # [(kind "kmalloc"/"vmalloc", address)]
        self.populated: dict[tuple[int, int], int] = {}
        self.nr_populated = 0              # pages populated in every unit


class Percpu:
    """The per-CPU allocator of a machine (``k.percpu``)."""

    def __init__(self, k):
        self.k = k
        prof = k.profile
        ps = prof.page_size
        # x86-64 embeds at PMD_SIZE atoms so the chunk could use large mappings; i386 at a page
        atom = (2 << 20) if prof.bits == 64 else ps
        self.ai = pcpu_build_alloc_info([k.cpu_to_node(cpu) for cpu in range(k.nr_cpus)], STATIC_SIZE,
                                        PERCPU_MODULE_RESERVE,      # PERCPU_FIRST_CHUNK_RESERVE
                                        PERCPU_DYNAMIC_RESERVE[prof.bits], atom, ps)
        self.size_sum = self.ai.static_size + self.ai.reserved_size + self.ai.dyn_size
        self.unit_pages = self.ai.unit_size // ps
        self.first_chunk_pages = self.size_sum // ps      # populated from the start
        self.first_units: list[tuple[int | None, int]] = []   # (cpu, first pfn) per unit
        self.chunks: list[PcpuChunk] = []

    # -- the first chunk (memblock) ----------------------------------------------------

    def embed_first_chunk(self, node_tops: list[int]) -> list[tuple[int, int]]:
        """``pcpu_embed_first_chunk()``: each group's units from memblock on its CPUs' node,
        top-down below ``node_tops[node]`` (which moves down), aligned to ``atom_size``.
        Returns the pfn ranges that stay reserved (each CPU's unit up to size_sum); the rest
        of every allocation is handed back to memblock."""
        ai = self.ai
        ps_shift = self.k.profile.page_shift
        atom_pages = ai.atom_size >> ps_shift
        keep = []
        starts = []
        for g in ai.groups:
            node = self.k.cpu_to_node(next(c for c in g.cpu_map if c is not None))
            n = len(g.cpu_map) * self.unit_pages
            start = (node_tops[node] - n) // atom_pages * atom_pages     # memblock_alloc_try_nid()
            node_tops[node] = start
            starts.append(start)
            for i, cpu in enumerate(g.cpu_map):
                unit = start + i * self.unit_pages
                self.first_units.append((cpu, unit))
                if cpu is not None:
                    keep.append((unit, unit + self.first_chunk_pages))
        # "base address is now known, determine group base offsets"
        base = min(starts)
        self.ai = ai._replace(groups=tuple(g._replace(base_offset=(st - base) << ps_shift)
                                           for g, st in zip(ai.groups, starts)))
        return keep

    def boot_log_lines(self) -> list[str]:
        """``pcpu_embed_first_chunk()``'s line and ``pcpu_dump_alloc_info()``'s."""
        ai = self.ai
        ncpu = self.k.nr_cpus
        cpu_w = len(str(ncpu))
        grp_w = len(str(len(ai.groups)))
        upa = ai.alloc_size // ai.unit_size
        width = upa * (cpu_w + 1) + grp_w + 3
        apl = 1 << (max(60 // width, 1).bit_length() - 1)          # rounddown_pow_of_two
        head = (f"s{ai.static_size} r{ai.reserved_size} d{ai.dyn_size} u{ai.unit_size}")
        lines = [f"percpu: Embedded {self.size_sum >> self.k.profile.page_shift} pages/cpu {head}",
                 f"pcpu-alloc: {head} alloc={ai.alloc_size // ai.atom_size}*{ai.atom_size}"]
        alloc = 0
        cur = None
        for gi, g in enumerate(ai.groups):
            for a in range(len(g.cpu_map) // upa):
                if alloc % apl == 0:
                    if cur is not None:
                        lines.append(cur)
                    cur = "pcpu-alloc: "
                cur += f"[{gi:0{grp_w}d}] " + "".join(
                    (f"{c:0{cpu_w}d} " if c is not None else "-" * cpu_w + " ")
                    for c in g.cpu_map[a * upa:(a + 1) * upa])
                alloc += 1
        lines.append(cur)
        return lines

    def first_chunk_pfn(self, cpu: int, page: int) -> int:
        """The frame of page ``page`` of ``cpu``'s unit in the first chunk."""
        return next(p for c, p in self.first_units if c == cpu) + page

    # -- vmalloc-backed chunks -----------------------------------------------------------

    def create_chunk(self) -> PcpuChunk | None:
        """``pcpu_create_chunk()``: bookkeeping (``pcpu_alloc_chunk()``), then the vm areas."""
        k = self.k
        ps = k.profile.page_size
        region_bits = self.ai.unit_size >> PCPU_MIN_ALLOC_SHIFT
        longs = lambda bits: -(-bits // (8 * 8)) * 8          # BITS_TO_LONGS() * sizeof(long)
        sizes = {"chunk": 160 + longs(self.unit_pages),       # struct pcpu_chunk (≈) + populated bitmap
                 "alloc_map": longs(region_bits), "bound_map": longs(region_bits + 1),
                 "md_blocks": (region_bits // (ps >> PCPU_MIN_ALLOC_SHIFT)) * PCPU_BLOCK_MD_SIZE,
                 "obj_exts": region_bits * PCPUOBJ_EXT_SIZE * k.profile.bits // 64}
        if not k.gen.percpu_memcg_array:
            del sizes["obj_exts"]
        meta = []
        gfp = int(G.GFP_KERNEL) | G.F_ZERO
        for what, size in sizes.items():
            if size <= ps:                                    # pcpu_mem_zalloc(): kzalloc
                addr = k.slub.kmalloc(size, gfp)
                kind = "kmalloc"
            else:                                             # __vmalloc(size, gfp | __GFP_ZERO)
                addr = k.vmalloc.vmalloc_node_range(size, 1, gfp, -1, _CREATE_CHUNK_CALLERS[what])
                kind = "vmalloc"
            if not addr:
                self._free_meta(meta)
                return None
            meta.append((kind, addr))
        offsets = [g.base_offset for g in self.ai.groups]
        vms = k.vmalloc.pcpu_get_vm_areas(offsets, [len(g.cpu_map) * self.ai.unit_size
                                                    for g in self.ai.groups], self.ai.atom_size)
        if vms is None:
            self._free_meta(meta)
            return None
        chunk = PcpuChunk(vms, meta)
        self.chunks.append(chunk)
        return chunk

    def _free_meta(self, meta) -> None:
        for kind, addr in meta:
            if kind == "kmalloc":
                self.k.slub.kfree(addr)
            else:
                self.k.vmalloc.vfree(addr)

    def populate(self, chunk: PcpuChunk, nr: int) -> bool:
        """``pcpu_populate_chunk()`` of the next ``nr`` pages of every unit:
        ``pcpu_alloc_pages()`` (one ``alloc_pages_node(cpu_to_node(cpu), GFP_KERNEL |
        __GFP_HIGHMEM, 0)`` per page, CPU by CPU) then ``pcpu_map_pages()``."""
        k = self.k
        ps_shift = k.profile.page_shift
        first = chunk.nr_populated
        if first + nr > self.unit_pages:
            return False
        gfp = int(G.GFP_KERNEL) | G.F_HIGHMEM
        got = {}
        unit = 0
        for g in self.ai.groups:
            for cpu in g.cpu_map:
                node = k.cpu_to_node(cpu if cpu is not None else g.cpu_map[0])
                for page in range(first, first + nr):
                    pfn = k.buddy.alloc(gfp, 0, K_PAGES, chunk.vms[0].id, node)
                    if pfn < 0:
                        for p in got.values():
                            k.buddy.free(p, 0)
                        return False
                    got[(unit, page)] = pfn
                unit += 1
        for (unit, page), pfn in got.items():
            k.pgtable.map_pfns(self.page_addr(chunk, unit, page), [pfn], k.pgtable.page_kernel)
        chunk.populated.update(got)
        chunk.nr_populated += nr
        return True

    # -- what /proc/meminfo shows --------------------------------------------------------

    def nr_pages(self) -> int:
        """``pcpu_nr_pages()``: populated pages (first chunk + vmalloc chunks) per unit x units."""
        return (self.first_chunk_pages + sum(c.nr_populated for c in self.chunks)) * self.ai.nr_units

    def page_addr(self, chunk: PcpuChunk, unit: int, page: int) -> int:
        """pcpu_chunk_addr(): page ``page`` of unit ``unit`` (units numbered over all groups)."""
        base = chunk.vms[0].addr - min(g.base_offset for g in self.ai.groups)
        for g in self.ai.groups:
            if unit < len(g.cpu_map):
                return base + g.base_offset + unit * self.ai.unit_size + (page << self.k.profile.page_shift)
            unit -= len(g.cpu_map)
        raise ValueError(f"no unit {unit} in the chunk")

    def chunk_of_area(self, vm) -> PcpuChunk | None:
        return next((c for c in self.chunks if vm in c.vms), None)

    def mapped_ptes(self, vm) -> dict[int, int]:
        """For a chunk's vm area: page index in the area -> pfn of every populated page."""
        chunk = self.chunk_of_area(vm)
        if chunk is None:
            return {}
        ps_shift = self.k.profile.page_shift
        out = {}
        for (unit, page), pfn in chunk.populated.items():
            addr = self.page_addr(chunk, unit, page)
            if vm.addr <= addr < vm.addr + vm.size:
                out[(addr - vm.addr) >> ps_shift] = pfn
        return out


def check_percpu(k) -> None:
    """The chunks' populated pages are allocated order-0 frames owned by the chunk, mapped
    where the chunk says, and /proc/meminfo's Percpu counts them."""
    from .invariants import _fail
    pc = k.percpu
    mm = k.mem_map
    for chunk in pc.chunks:
        if len(chunk.populated) != chunk.nr_populated * pc.ai.nr_units:
            _fail(f"percpu chunk at {chunk.vms[0].addr:#x}: {len(chunk.populated)} pages populated, "
                  f"expected {chunk.nr_populated} per unit x {pc.ai.nr_units} units")
        for pfn in chunk.populated.values():
            if mm.kind[pfn] != K_PAGES or mm.owner[pfn] != chunk.vms[0].id or mm.order[pfn] != 0:
                _fail(f"percpu page pfn {pfn:#x} is {mm.kind_name(pfn)}, not an order-0 page of its chunk")
