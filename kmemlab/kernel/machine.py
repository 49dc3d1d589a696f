"""``Machine``: boots a simulated kernel and is the one public entry point.

Everything a notebook does goes through a ``Machine``: it owns all state (there is no
global state), so two machines in one notebook never interfere. The state itself lives
in a :class:`KernelState` that :meth:`Machine.snapshot` copies and
:meth:`Machine.restore` puts back, while subscribers (the views) stay attached.

Boot follows what an x86 kernel does in ``setup_arch()`` / ``mm_core_init()``: the
e820 map, memblock reservations (the first MiB, the kernel image, ``mem_map``), zones
per node (``free_area_init()``), ``memblock_free_all()`` handing the rest to the buddy
allocator as the largest aligned blocks, then watermarks.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import zlib

import numpy as np

from . import gfp as G
from .boot import BOOT_MODES, DEFAULT_XSTATE_SIZE, XSTATE_SIZE_RANGE
from .buddy import BuddyAllocator, Zone
from .errors import KernelBug
from .events import Bus, Subscription
from .generation import DEFAULT_KERNEL, GENERATIONS, Generation, get_generation
from .layout import Profile, format_size, get_profile, parse_size
from .mem_map import K_FREE, K_KERNEL, K_MEMMAP, K_PAGES, K_RESERVED, MemMap, PG_reserved
from .memory import PhysMemory
from .printk import Clock, Log
from .procfs import ProcFS
from .slub import KmemCache
from .types import ENOMEM, ERR_PTR, NULL, Address, Page, as_int
from .vfs import VFS
from .vmalloc_api import VmallocAPI

__all__ = ["Machine", "KernelState", "Snapshot", "Text", "SUPPORTED_KERNELS"]

#: kernel generations whose behaviour kmemlab follows (names, messages, constants): see
#: :mod:`kmemlab.kernel.generation`
SUPPORTED_KERNELS = GENERATIONS
#: kmalloc()'s hot path: the default gfp is recognised by identity, and the Address it
#: returns is built without Address()'s checks (the model only returns valid addresses)
_GFP_KERNEL = G.GFP_KERNEL
_GFP_KERNEL_INT = int(G.GFP_KERNEL)
_new_address = int.__new__
_new_page = object.__new__


class Text(str):
    """A string that a notebook shows as plain text (``dmesg``, ``/proc`` files)."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class KernelState:
    """All of one machine's simulated state. Subsystems reach each other through it.

    Every field is declared here; ``_boot()`` fills in the subsystems."""

    # set by _boot(): the memory map and the subsystems
    zones: list
    mem_map: MemMap
    memory: PhysMemory
    max_low_pfn: int
    ram_ranges: list
    buddy: BuddyAllocator
    vmalloc_start: int
    pgtable: object
    slub: object
    vmalloc: object

    def __init__(self, profile: Profile, mem: int, cpus: int, nodes: int, seed: int,
                 gen: Generation, slub_debug: str, bus: Bus, boot_mode: str = "init"):
        self.profile = profile
        self.mem = mem
        self.nr_cpus = cpus
        self.nr_nodes = nodes
        self.seed = seed
        self.gen = gen                # what this kernel release does differently
        self.kernel = gen.release
        self.uname_release = f"{gen.release}.0-kmemlab"
        self.slub_debug = slub_debug
        self.bus = bus
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.clock = Clock()
        self.log = Log(self.clock)
        self.cpu = 0
        self.comm = "python3"
        self.pid = 1000 + seed % 9000
        self.tainted = ""
        self.hardware_name = f"kmemlab simulated {profile.name} machine, BIOS kmemlab {gen.release}"
        self._warned_once: set[str] = set()
        self.tracer = None            # a trace.Tracer while `with m.trace()` runs
        self.freelist_random = False  # CONFIG_SLAB_FREELIST_RANDOM (Machine(freelist_random=True))
        self.slab_nomerge = False     # the slab_nomerge boot parameter (Machine(slab_nomerge=True))
        self.random_kmalloc_caches = False  # CONFIG_RANDOM_KMALLOC_CACHES (Machine(random_kmalloc_caches=True))
        self.slub_cpu_partial = True  # CONFIG_SLUB_CPU_PARTIAL, on in every distribution kernel
        #: call_rcu() callbacks waiting for the grace period: (slub method name, argument);
        #: Machine.rcu_barrier() runs them
        self.rcu_callbacks: list[tuple[str, object]] = []
        self.invariant_checks = []    # each subsystem's check, run by check_invariants()
        # enum zone_type: the profile's zones, then ZONE_MOVABLE and (64-bit) ZONE_DEVICE, which
        # a kernel always has and kmemlab never populates (zoneinfo lists them)
        self.zone_types = [name for name, _ in profile.zones] + ["Movable"] + (["Device"] if profile.bits == 64 else [])
        self.pcp = True               # per-cpu page lists (Machine(pcp=False): zone_pcp_disable())
        self.transparent_hugepage = "madvise"   # the boot parameter (distributions' default)
        self.xstate_size = DEFAULT_XSTATE_SIZE   # fpu_kernel_cfg.default_size (Machine(xstate_size=))
        # vmstat counters other subsystems keep, in pages (NR_SLAB_*, NR_PAGETABLE, ...)
        self.vmstat = {"nr_slab_reclaimable": 0, "nr_slab_unreclaimable": 0,
                       "nr_page_table_pages": 0, "nr_vmalloc": 0, "nr_kernel_stack_kb": 0}
        #: "init": boot into the state a system has once init runs (boot.py); "bare": stop
        #: after the allocators are up, everything else free
        self.boot_mode = boot_mode
        self.boot = None              # boot.BootState of a booted machine
        self.percpu = None            # percpu.Percpu of a booted machine
        self.vfs = VFS()              # the files m.cat() / m.ls() show
        self.boot_free_kbytes = 0     # free memory when the boot initcalls ran

    # small helpers the subsystems share
    def zone_type_index(self, name: str) -> int:
        return self.zone_types.index(name)

    def numa_node_id(self) -> int:
        return self.cpu_to_node(self.cpu)

    def cpu_to_node(self, cpu: int) -> int:
        """``cpu_to_node()``: CPUs are spread evenly over the nodes, in order."""
        return cpu * self.nr_nodes // self.nr_cpus

    @staticmethod
    def ksym(func: str) -> str:
        """``%pS`` of an address inside ``func``: ``func+0x2a/0x180``. Offsets and sizes are
        simulated (kmemlab has no vmlinux), stable per function name."""
        h = zlib.crc32(func.encode())
        size = 0x80 + (h & 0x3f0)
        return f"{func}+{(h >> 12) % size:#x}/{size:#x}"

    def cpu_line(self) -> str:
        """The ``CPU: 0 PID: 1000 Comm: python3 Not tainted 6.6.0-kmemlab #1`` line that
        dump_stack_print_info() puts in every report."""
        return f"CPU: {self.cpu} PID: {self.pid} Comm: {self.comm} {self.taint_string()} {self.uname_release} #1"

    def taint_string(self) -> str:
        return f"Tainted: G {self.tainted:>4} " if self.tainted else "Not tainted"

    def warn_once(self, key: str, text: str) -> None:
        if key not in self._warned_once:
            self._warned_once.add(key)
            self.log.printk("warn", "------------[ cut here ]------------\n" + text
                            + "\n---[ end trace 0000000000000000 ]---")

    def warn_on(self, key: str, where: str, func: str, callers: tuple[str, ...] = (), extra: str = "") -> None:
        """A ``WARN_ON_ONCE()`` report as ``__warn()`` prints it: the site (``where`` is
        "file:line", ``func`` the function), the CPU line, RIP and the call trace
        (``callers`` outermost first). Offsets are simulated (kmemlab has no vmlinux), stable
        per function name."""
        at = self.ksym
        site = at(func) + ("()" if self.gen.warn_symbol_parens else "")     # 4.x: "%pS()"
        lines = [f"WARNING: CPU: {self.cpu} PID: {self.pid} at {where} {site}", "Modules linked in:",
                 self.cpu_line(), f"Hardware name: {self.hardware_name}", f"RIP: 0010:{at(func)}"]
        if extra:
            lines.append(extra)
        lines += ["Call Trace:", " <TASK>"] + [f" {at(c)}" for c in reversed(callers)] + [" </TASK>"]
        self.warn_once(key, "\n".join(lines))

    def virt_of_page(self, pfn: int) -> int:
        """The struct page's own address in the vmemmap (what ``page:`` prints)."""
        base = next((r.start for r in self.profile.regions if r.name == "vmemmap"), 0)
        return base + pfn * self.profile.struct_page_size


class Snapshot:
    """An exact copy of a machine's state, made by :meth:`Machine.snapshot`."""

    def __init__(self, machine_id: int, state: KernelState):
        self._machine_id = machine_id
        self._state = state

    def __repr__(self):
        return f"<kmemlab snapshot at t={self._state.clock.ns / 1e9:.6f}s>"


_machine_ids = itertools.count(1)


class _OnCpu:
    """``with m.on_cpu(n):`` (a plain context manager: a replay switches CPUs often)."""

    __slots__ = ("_m", "_cpu", "_old")

    def __init__(self, m: "Machine", cpu: int):
        self._m, self._cpu = m, cpu

    def __enter__(self) -> "Machine":
        k = self._m._k
        self._old = k.cpu
        k.cpu = self._cpu
        return self._m

    def __exit__(self, *exc) -> bool:
        self._m._k.cpu = self._old
        return False


class Machine(VmallocAPI):
    """A simulated computer running a Linux kernel's memory manager.

    >>> m = Machine(profile="x86_64", mem="128M", cpus=4)
    >>> pg = m.alloc_pages(GFP_KERNEL, order=2)
    >>> m.free_pages(pg, order=2)

    Parameters: ``profile`` (x86_64, x86_64-la57, i386, tiny), ``mem`` ("128M", "4G" or
    bytes; the profile's default if None), ``cpus``, ``nodes`` (NUMA nodes; memory is
    split evenly), ``seed`` (all randomness), ``kernel`` (which generation's names and
    messages to follow), ``slub_debug`` (as the boot parameter, e.g. "FZPU"),
    ``freelist_random`` (CONFIG_SLAB_FREELIST_RANDOM: new slabs hand out objects in a
    shuffled order, drawn from ``seed``), ``slab_nomerge`` (the boot parameter: every
    ``kmem_cache_create()`` gets a cache of its own instead of sharing a compatible one),
    ``random_kmalloc_caches`` (CONFIG_RANDOM_KMALLOC_CACHES, 6.6+: 15 more copies of the
    kmalloc caches, ``kmalloc-rnd-01-64`` ..., each call site sticking to one), ``pcp``
    (False: every per-CPU page list disabled as ``zone_pcp_disable()`` leaves it, so each
    page goes straight to the buddy lists and back, for lessons on the buddy lists alone),
    ``transparent_hugepage`` (the boot parameter: "always" or "madvise" start khugepaged,
    which raises ``min_free_kbytes`` on x86_64; "never" keeps ``calculate_min_free_kbytes()``'s
    value), ``boot``: ``"init"`` (the default) boots into the state a small system has once
    init runs — slab caches full of objects, kernel threads with their stacks, per-CPU areas,
    ioremap()s, user processes, free and per-CPU lists in a mixed order
    (:mod:`kmemlab.kernel.boot`); ``"bare"`` stops once the allocators are up, with every
    other page free and in order (for lessons that count pages from a clean start).
    ``xstate_size``: the bytes the CPU's XSAVE saves per task (``fpu_kernel_cfg.default_size``,
    dmesg's "x86/fpu: ... context size is N bytes"), part of every ``task_struct``; the
    default 880 is a CPU with AVX and no AVX-512 (:data:`kmemlab.kernel.boot.DEFAULT_XSTATE_SIZE`).
    """

    def __init__(self, profile: str = "x86_64", mem=None, cpus: int = 4, nodes: int = 1,
                 seed: int = 0, kernel: str = DEFAULT_KERNEL, slub_debug: str = "",
                 freelist_random: bool = False, slab_nomerge: bool = False,
                 random_kmalloc_caches: bool = False, pcp: bool = True,
                 transparent_hugepage: str = "madvise", boot: str = "init", xstate_size: int | None = None):
        prof = get_profile(profile)
        mem_bytes = prof.default_mem if mem is None else parse_size(mem, "mem")
        if not prof.min_mem <= mem_bytes <= prof.max_mem:
            raise ValueError(f"mem={format_size(mem_bytes)} is outside what the {prof.name} profile "
                             f"supports ({format_size(prof.min_mem)} .. {format_size(prof.max_mem)})")
        cpus = as_int(cpus, "cpus")
        if not 1 <= cpus <= 512:
            raise ValueError(f"cpus must be between 1 and 512, got {cpus}")
        nodes = as_int(nodes, "nodes")
        if not 1 <= nodes <= 8:
            raise ValueError(f"nodes must be between 1 and 8, got {nodes}")
        if nodes > cpus:
            raise ValueError(f"every NUMA node needs a CPU: nodes={nodes} > cpus={cpus}")
        if mem_bytes // nodes < prof.min_mem:
            raise ValueError(f"each of {nodes} nodes would get less than {format_size(prof.min_mem)} "
                             f"of mem={format_size(mem_bytes)}")
        seed = as_int(seed, "seed")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if not isinstance(kernel, str) or kernel not in GENERATIONS:
            raise ValueError(f"kernel must be one of {', '.join(GENERATIONS)} (default {DEFAULT_KERNEL}), "
                             f"got {kernel!r}")
        if not isinstance(slub_debug, str):
            raise TypeError(f"slub_debug must be a string like 'FZPU', got {type(slub_debug).__name__}")
        self._id = next(_machine_ids)
        self._bus = Bus()
        for opt, value in (("freelist_random", freelist_random), ("slab_nomerge", slab_nomerge),
                           ("random_kmalloc_caches", random_kmalloc_caches), ("pcp", pcp)):
            if not isinstance(value, bool):
                raise TypeError(f"{opt} must be True or False, got {value!r}")
        if transparent_hugepage not in ("always", "madvise", "never"):
            raise ValueError(f"transparent_hugepage must be 'always', 'madvise' or 'never' (the boot "
                             f"parameter), got {transparent_hugepage!r}")
        if not isinstance(boot, str) or boot not in BOOT_MODES:
            raise ValueError(f"boot must be one of {', '.join(repr(b) for b in BOOT_MODES)} "
                             f"(\"init\": a booted system, the default; \"bare\": a pristine one), got {boot!r}")
        if xstate_size is None:
            xstate_size = DEFAULT_XSTATE_SIZE
        xstate_size = as_int(xstate_size, "xstate_size")
        if xstate_size not in XSTATE_SIZE_RANGE:
            raise ValueError(f"xstate_size is the CPU's FPU context in bytes (dmesg: 'context size is N "
                             f"bytes'), {XSTATE_SIZE_RANGE.start} .. {XSTATE_SIZE_RANGE.stop - 1}, got {xstate_size}")
        gen = get_generation(kernel)
        if random_kmalloc_caches and not gen.random_kmalloc_caches:
            raise ValueError(f"random_kmalloc_caches (CONFIG_RANDOM_KMALLOC_CACHES) exists from Linux 6.6 on; "
                             f"kernel={kernel!r} has none")
        self._k = KernelState(prof, mem_bytes, cpus, nodes, seed, gen, slub_debug, self._bus, boot)
        self._k.freelist_random = freelist_random
        self._k.slab_nomerge = slab_nomerge
        self._k.random_kmalloc_caches = random_kmalloc_caches
        self._k.pcp = pcp
        self._k.transparent_hugepage = transparent_hugepage
        self._k.xstate_size = xstate_size
        _boot(self._k)
        self.proc = ProcFS(self)

    @classmethod
    def like_host(cls, host=None, **overrides) -> "Machine":
        """A machine shaped like the Linux it runs on (or ``host``: a ``km.host()``, or
        a directory laid out like ``/``): its RAM, CPUs, NUMA nodes, the generation
        nearest to its ``uname -r`` and its slab caches with their geometry. ``overrides``
        replace any Machine() argument (``mem="4G"``, ``kernel="6.6"``); ``caches=False``
        skips the caches. ``m.twin`` says what was done; ``km.compare(km.host(), m)``
        what agrees. See :mod:`kmemlab.twin`."""
        from ..twin import like_host
        return like_host(host, machine_class=cls, **overrides)

    # -- identity and configuration --------------------------------------------------

    @property
    def profile(self) -> Profile:
        """The machine profile (page size, paging levels, address map, zones)."""
        return self._k.profile

    @property
    def PAGE_SIZE(self) -> int:
        return self._k.profile.page_size

    @property
    def PAGE_SHIFT(self) -> int:
        return self._k.profile.page_shift

    @property
    def PAGE_OFFSET(self) -> Address:
        """Start of the direct map (``page_offset_base``)."""
        return Address(self._k.profile.page_offset)

    @property
    def MAX_ORDER(self) -> int:
        """``MAX_ORDER`` as the machine's kernel defines it: the number of buddy orders (11,
        orders 0..10) before 6.4, the largest order (10) from 6.4 on (renamed
        ``MAX_PAGE_ORDER`` in 6.8)."""
        return self._k.gen.max_order(self._k.profile.max_order)

    @property
    def MAX_PAGE_ORDER(self) -> int:
        """The largest order the buddy allocator hands out (10 on x86; 6.8's name)."""
        return self._k.profile.max_order - 1

    @property
    def NR_PAGE_ORDERS(self) -> int:
        """How many orders ``free_area[]`` has (11 on x86): the columns of /proc/buddyinfo."""
        return self._k.profile.max_order

    @property
    def GFP_NOWAIT(self):
        """``GFP_NOWAIT`` as this machine's kernel defines it (with ``__GFP_NOWARN`` from 6.17)."""
        return G.GFP_NOWAIT if self._k.gen.gfp_nowait_nowarn else G.GFP_NOWAIT_OLD

    @property
    def gen(self) -> Generation:
        """What this kernel release does differently (:mod:`kmemlab.kernel.generation`)."""
        return self._k.gen

    @property
    def max_pfn(self) -> int:
        return self._k.mem_map.max_pfn

    @property
    def totalram_pages(self) -> int:
        """Pages the buddy allocator manages (``totalram_pages()``)."""
        return sum(z.managed_pages for z in self._k.zones)

    @property
    def zones(self) -> list[Zone]:
        """Every zone of every node (``for_each_zone``), populated or not."""
        return list(self._k.zones)

    @property
    def mem_map(self):
        """The per-frame arrays (``struct page`` fields); read them, do not write."""
        return self._k.mem_map

    @property
    def cpus(self) -> int:
        return self._k.nr_cpus

    @property
    def nodes(self) -> int:
        return self._k.nr_nodes

    @property
    def kernel(self) -> str:
        return self._k.kernel

    @property
    def boot(self) -> str:
        """How the machine booted: ``"init"`` (a running system) or ``"bare"`` (pristine)."""
        return self._k.boot_mode

    @property
    def cpu(self) -> int:
        """The CPU the notebook's calls run on (``smp_processor_id()``)."""
        return self._k.cpu

    def on_cpu(self, cpu: int) -> "_OnCpu":
        """Run the calls in the ``with`` block on another CPU (its per-cpu slabs, its node)."""
        cpu = as_int(cpu, "cpu")
        if not 0 <= cpu < self._k.nr_cpus:
            raise ValueError(f"cpu must be 0..{self._k.nr_cpus - 1}, got {cpu}")
        return _OnCpu(self, cpu)

    def zone(self, name: str, node: int = 0) -> Zone:
        """The zone called ``name`` ("DMA", "DMA32", "Normal", "HighMem") of ``node``."""
        for z in self._k.zones:
            if z.name == name and z.node == node:
                return z
        raise ValueError(f"no zone {name!r} on node {node}; zones: "
                         + ", ".join(f"{z.name}@{z.node}" for z in self._k.zones))

    def __repr__(self):
        k = self._k
        return (f"<kmemlab Machine {k.profile.name} mem={format_size(k.mem)} cpus={k.nr_cpus} "
                f"nodes={k.nr_nodes} kernel={k.kernel} free={self._free_pages() << (k.profile.page_shift - 10)}kB>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        """``display(m)``: the live dashboard (one per machine, reused), with a static
        HTML picture for front ends without widgets; plain text if widgets are missing.
        The widgets are imported here, lazily: the kernel model never needs them."""
        try:
            from ..widgets import Dashboard
        except ImportError:
            return {"text/plain": repr(self)}
        dash = getattr(self, "_dashboard", None)
        if dash is None or dash.closed:
            dash = self._dashboard = Dashboard(self)
        return dash._repr_mimebundle_(include, exclude)

    def _free_pages(self) -> int:
        """Free pages: the buddy lists and the per-cpu lists (MemFree leaves the latter out)."""
        return sum(z.nr_free_pages + z.nr_pcp_pages for z in self._k.zones)

    # -- the page allocator ------------------------------------------------------------

    def _order(self, order) -> int:
        if type(order) is int and 0 <= order:
            return order
        order = as_int(order, "order")
        if order < 0:
            raise ValueError(f"order must be >= 0 (2**order pages), got {order}")
        return order

    def alloc_pages(self, gfp=G.GFP_KERNEL, order: int = 0) -> Page | None:
        """``alloc_pages(gfp_mask, order)``: 2**order physically contiguous frames.

        Returns the first frame's :class:`Page`, or ``None`` when the allocation fails
        (logged in :meth:`dmesg` unless ``__GFP_NOWARN``)."""
        # the hot path: km.GFP_KERNEL by identity and a plain int order need no checks
        gfp = _GFP_KERNEL_INT if gfp is _GFP_KERNEL else G.check_gfp(gfp)
        if type(order) is not int or order < 0:
            order = self._order(order)
        k = self._k
        # a trace shows the CONFIG_NUMA path: alloc_pages_current(), alloc_pages_mpol(), ...
        pfn = k.buddy.alloc(gfp, order, K_PAGES, 0, -1, True, "alloc_pages_chain")
        k.clock.ns += 300
        if pfn < 0:
            return None
        pg = _new_page(Page)            # Page(k.mem_map, pfn) without its int() check: pfn is an int
        pg._mm = k.mem_map
        pg.pfn = pfn
        return pg

    def alloc_pages_node(self, node: int, gfp=G.GFP_KERNEL, order: int = 0) -> Page | None:
        """``alloc_pages_node(nid, gfp_mask, order)``: prefer ``node`` (-1: the current CPU's)."""
        gfp = G.check_gfp(gfp)
        order = self._order(order)
        node = self._node(node)
        k = self._k
        pfn = k.buddy.alloc(gfp, order, K_PAGES, 0, node)
        k.clock.ns += 300
        return None if pfn < 0 else Page(k.mem_map, pfn)

    def _node(self, node) -> int:
        node = as_int(node, "node")
        if node != -1 and not 0 <= node < self._k.nr_nodes:
            raise ValueError(f"node must be -1 (NUMA_NO_NODE) or 0..{self._k.nr_nodes - 1}, got {node}")
        return node

    def get_free_pages(self, gfp=G.GFP_KERNEL, order: int = 0) -> Address:
        """``__get_free_pages(gfp_mask, order)``: like alloc_pages but returns the
        direct-map address (never highmem), or ``NULL``."""
        gfp = G.check_gfp(gfp) & ~G.F_HIGHMEM
        pg = self.alloc_pages(gfp, order)
        return NULL if pg is None else self.page_address(pg)

    def get_zeroed_page(self, gfp=G.GFP_KERNEL) -> Address:
        """``get_zeroed_page(gfp_mask)``."""
        return self.get_free_pages(G.check_gfp(gfp) | G.F_ZERO, 0)

    def free_pages(self, page, order: int = 0) -> None:
        """``__free_pages(page, order)`` for a :class:`Page`, ``free_pages(addr, order)``
        for a direct-map address. ``NULL`` is ignored, as ``free_pages(0, order)`` is.

        Freeing a block that is not allocated, or with another order than it was
        allocated with, raises :class:`KernelBug` and changes nothing."""
        if type(order) is not int or order < 0:
            order = self._order(order)
        k = self._k
        if type(page) is Page and page._mm is k.mem_map:     # the hot path
            pfn = page.pfn
        elif isinstance(page, Page):
            self._check_page(page)
            pfn = page.pfn
        elif page is None:
            raise TypeError("free_pages() got None: alloc_pages() returned None (it failed), "
                            "so there is nothing to free")
        else:
            addr = as_int(page, "free_pages() address")
            if addr == 0:
                return
            pfn = self._direct_map_pfn(addr, "free_pages")
        k.buddy.free(pfn, order)         # free_page_is_bad() first: raises, changing nothing
        k.clock.ns += 300


    def drain_all_pages(self, zone=None) -> int:
        """``drain_all_pages(zone)``: every CPU's per-cpu page lists (of ``zone``, a zone
        object or name, or of all zones) back to the buddy lists, where they merge; they
        show in ``/proc/buddyinfo`` again. Returns how many pages moved."""
        k = self._k
        if zone is not None:
            if isinstance(zone, str):
                zone = self.zone(zone)
            elif not isinstance(zone, Zone) or zone not in k.zones:
                raise TypeError(f"drain_all_pages() takes a zone of this machine, a zone name or None, "
                                f"got {zone!r}")
        return k.buddy.drain_all_pages(zone)       # free_pcppages_bulk() tells the views

    def _check_page(self, page: Page) -> None:
        if page._mm is not self._k.mem_map:
            raise ValueError(f"{page!r} belongs to another machine (or to a state before restore())")

    # -- the slab allocator and kmalloc ------------------------------------------------

    def _size(self, size, what: str = "size") -> int:
        size = as_int(size, what)
        if size < 0:
            raise ValueError(f"{what} must be >= 0 (a size_t), got {size}")
        if size >> self._k.profile.bits:
            raise ValueError(f"{what} {size:#x} does not fit in a {self._k.profile.bits}-bit size_t")
        return size

    def kmalloc(self, size, gfp=G.GFP_KERNEL) -> Address:
        """``kmalloc(size, flags)``: physically contiguous memory from a kmalloc-N cache
        (``km.kmalloc_index``) or, above ``KMALLOC_MAX_CACHE_SIZE``, a compound block
        from the buddy allocator. ``NULL`` on failure, ``ZERO_SIZE_PTR`` for size 0."""
        if type(size) is int and not size >> 32:     # the hot path: plain ints, 0 <= size < 2**32
            if gfp is _GFP_KERNEL:
                gfp = _GFP_KERNEL_INT
            elif type(gfp) is not int or gfp < 0 or gfp & ~G._GFP_VALID:
                gfp = G.check_gfp(gfp)
            # the model returns a valid address: skip Address()'s re-validation
            return _new_address(Address, self._k.slub.kmalloc(size, gfp, -1))
        return self.kmalloc_node(size, gfp, -1)

    def kmalloc_node(self, size, gfp=G.GFP_KERNEL, node: int = -1) -> Address:
        """``kmalloc_node(size, flags, node)``: prefer ``node`` (-1: NUMA_NO_NODE)."""
        if (type(size) is int and 0 <= size <= 0xffffffff and type(node) is int
                and -1 <= node < self._k.nr_nodes):                 # the hot path (replay)
            if type(gfp) is not int or gfp < 0 or gfp & ~G._GFP_VALID:
                gfp = G.check_gfp(gfp)
            return _new_address(Address, self._k.slub.kmalloc(size, gfp, node))
        size = self._size(size)
        gfp = G.check_gfp(gfp)
        node = self._node(node)
        return Address(self._k.slub.kmalloc(size, gfp, node))

    def kzalloc(self, size, gfp=G.GFP_KERNEL) -> Address:
        """``kzalloc(size, flags)`` = kmalloc with ``__GFP_ZERO``."""
        return self.kmalloc_node(size, G.check_gfp(gfp) | G.F_ZERO, -1)

    def kmalloc_array(self, n, size, gfp=G.GFP_KERNEL) -> Address:
        """``kmalloc_array(n, size, flags)``: ``NULL`` when n * size overflows size_t."""
        n = self._size(n, "n")
        size = self._size(size)
        gfp = G.check_gfp(gfp)
        if n * size >= 1 << self._k.profile.bits:         # check_mul_overflow()
            return NULL
        # kmalloc_array() of sizes the compiler cannot fold (the usual case in the kernel,
        # e.g. pipe_resize_ring()'s kcalloc()) is __kmalloc(): the run-time size path
        return Address(self._k.slub.kmalloc_variable(n * size, gfp, -1, "__kmalloc_chain"))

    def kcalloc(self, n, size, gfp=G.GFP_KERNEL) -> Address:
        """``kcalloc(n, size, flags)`` = kmalloc_array with ``__GFP_ZERO``."""
        return self.kmalloc_array(n, size, G.check_gfp(gfp) | G.F_ZERO)

    def krealloc(self, p, new_size, gfp=G.GFP_KERNEL) -> Address:
        """``krealloc(p, new_size, flags)``: the same object while the new size fits, else
        a new one with the contents copied (and ``p`` freed); ``NULL`` on failure (``p``
        untouched); new_size 0 frees ``p`` and returns ``ZERO_SIZE_PTR``. A ``p`` that
        kfree() would refuse raises :class:`KernelBug` before anything is allocated."""
        p = self._pointer(p)
        new_size = self._size(new_size, "new_size")
        gfp = G.check_gfp(gfp)
        return Address(self._k.slub.krealloc(p, new_size, gfp))

    def _pointer(self, p) -> int:
        """A ``void *`` argument as the machine word it is: a negative int is the same
        bits as unsigned (``(void *)-1`` is ``0xffffffffffffffff``, an ``ERR_PTR()``);
        anything that does not fit a pointer is a ValueError."""
        v = as_int(p, "pointer")
        bits = self._k.profile.bits
        if v < 0 and v >= -(1 << bits):
            v += 1 << bits
        if not 0 <= v < 1 << bits:
            raise ValueError(f"a pointer on this {bits}-bit machine is 0 .. 2**{bits}-1, got {v:#x}")
        return v

    def memdup_user(self, data) -> Address:
        """``memdup_user(src, len)`` (mm/util.c): copy ``data`` (bytes standing for the user
        buffer; kmemlab has no user space) into a new kmalloc object taken with
        ``GFP_USER | __GFP_NOWARN`` — on 6.11+ from the ``memdup_user-N`` kmem_buckets caches
        (so a user-controlled size cannot land in the kmalloc-N caches other objects use),
        before from kmalloc-N. Like the kernel it returns ``ERR_PTR(-ENOMEM)`` on failure
        (check with ``km.IS_ERR(p)``), never NULL; free with ``kfree``."""
        data = self._user_bytes(data, "memdup_user")
        k = self._k
        tr = k.tracer

        def alloc():
            return k.slub.kmalloc_variable(len(data), G.F_USER_NOWARN, -1, buckets=k.slub.user_buckets)
        p = alloc() if tr is None else tr.through(("memdup_user",), alloc, f"len={len(data)}")
        if not p or p == 16:
            return ERR_PTR(-ENOMEM) if len(data) else Address(p)
        self.write(p, data)
        return Address(p)

    def vmemdup_user(self, data) -> Address:
        """``vmemdup_user(src, len)``: the same with ``kvmalloc()`` (``GFP_USER``; 6.11+ from
        the ``memdup_user`` buckets), so a large buffer may end up vmalloc'ed; free with
        ``kvfree``. ``ERR_PTR(-ENOMEM)`` on failure."""
        self._require(self._k.gen.vmemdup_user, "vmemdup_user()", "4.16")
        data = self._user_bytes(data, "vmemdup_user")
        k = self._k
        tr = k.tracer
        caller = self._caller(None)

        def alloc():
            return k.vmalloc.kvmalloc_node(len(data), int(G.GFP_USER), -1, caller, k.slub.user_buckets)
        p = alloc() if tr is None else tr.through(("vmemdup_user",), alloc, f"len={len(data)}")
        if not p or p == 16:
            return ERR_PTR(-ENOMEM) if len(data) else Address(p)
        self.write(p, data)
        return Address(p)

    @staticmethod
    def _user_bytes(data, fn: str) -> bytes:
        if isinstance(data, str):
            raise TypeError(f"{fn}() copies bytes: pass b'...' or 'text'.encode(), got a str")
        try:
            return bytes(data)
        except TypeError:
            raise TypeError(f"{fn}() takes the bytes to copy (the user buffer), got {type(data).__name__}") from None

    def kfree(self, p) -> None:
        """``kfree(p)``: ``NULL`` and ``ZERO_SIZE_PTR`` (addresses up to 16,
        ``ZERO_OR_NULL_PTR()``) are ignored; anything else is looked up, so ``kfree(-1)``
        or an ``ERR_PTR()`` is the bad pointer it is in C. Freeing what was not kmalloc'ed,
        or (with ``slub_debug``) freeing twice, raises :class:`KernelBug`. Without debugging
        a double free corrupts the freelist silently, as in the kernel: later allocations
        hand the same object out twice."""
        # plain int inside the model: Address arithmetic is slow (it re-validates)
        if type(p) is Address:
            self._k.slub.kfree(p.real)       # int(p) without the call: an int subclass's .real is the int
            return
        t = type(p)
        if t is int and 0 <= p < 0x10000000000000000:
            self._k.slub.kfree(p if p < 1 << self._k.profile.bits else self._pointer(p))
        else:
            self._k.slub.kfree(self._pointer(p))

    def ksize(self, p) -> int:
        """``ksize(p)``: how many bytes the object really has (128 for kmalloc(100))."""
        return self._k.slub.ksize(self._pointer(p))

    def kmalloc_slab(self, size, gfp=G.GFP_KERNEL):
        """``kmalloc_slab(size, flags)``: the cache kmalloc would use, or None above
        ``KMALLOC_MAX_CACHE_SIZE`` (those go to the buddy allocator)."""
        size = self._size(size)
        gfp = G.check_gfp(gfp)
        if size == 0:
            return None
        return self._k.slub.kmalloc_slab(size, gfp)

    def _cache(self, cache):
        if not isinstance(cache, KmemCache):
            raise TypeError(f"expected a kmem_cache from kmem_cache_create() or kmalloc_slab(), "
                            f"got {type(cache).__name__}")
        slub = self._k.slub
        s = slub.caches_by_id.get(cache.id)
        if s is None:
            # 6.12+: a destroy that found objects unlinked the cache, but its struct lives on
            s = next((d for d in slub.detached_caches if d.id == cache.id), None)
        if s is None or s.name != cache.name:
            raise ValueError(f"kmem_cache {cache.name!r} does not exist on this machine "
                             "(destroyed, or made before restore())")
        return s

    @property
    def slab_caches(self) -> list:
        """Every ``struct kmem_cache`` as /proc/slabinfo lists them (newest first)."""
        return list(reversed(self._k.slub.slab_caches))

    def find_cache(self, name: str):
        """The cache called ``name`` (e.g. "kmalloc-128"), or None."""
        return next((s for s in reversed(self._k.slub.slab_caches) if s.name == name), None)

    def kmem_cache_create(self, name: str, size, align=0, flags=0, ctor=None, *, freeptr_offset=None,
                          sheaf_capacity=0):
        """``kmem_cache_create(name, size, align, flags, ctor)``: a cache of ``size``-byte
        objects; ``ctor(addr)`` runs on each object when its slab is made. None (and a
        dmesg line) when the kernel would refuse.

        ``freeptr_offset`` (6.12+, ``struct kmem_cache_args``' ``freeptr_offset`` with
        ``use_freeptr_offset``): a ``SLAB_TYPESAFE_BY_RCU`` cache keeps its free pointer
        at that offset inside the object instead of behind it, so the stride does not
        grow (6.18's ``vm_area_struct``: offset 0, 192 bytes, not 256). The kernel refuses
        (None, ``error -22``) an offset outside the object, unaligned, or without RCU.

        ``sheaf_capacity`` is ``kmem_cache_args.sheaf_capacity`` (6.18+: per-CPU sheaves of
        that many objects; 7.0 gives every cache sheaves and this only raises the capacity)."""
        from .slub import SLAB_USER_FLAGS
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        size = self._size(size)
        align = self._size(align, "align")
        if align & (align - 1):
            raise ValueError(f"align must be 0 or a power of two, got {align}")
        flags = as_int(flags, "flags")
        if flags & ~SLAB_USER_FLAGS:
            raise ValueError(f"flags {flags:#x} contain bits kmem_cache_create() does not accept "
                             "(SLAB_FLAGS_PERMITTED)")
        if ctor is not None and not callable(ctor):
            raise TypeError("ctor must be callable(addr) or None")
        sheaf_capacity = self._size(sheaf_capacity, "sheaf_capacity")
        if sheaf_capacity and not self._k.gen.slab_sheaves:
            raise ValueError(f"sheaf_capacity needs kernel 6.18 or later (per-CPU sheaves); this machine "
                             f"runs {self._k.kernel}")
        if sheaf_capacity > 0xffffffff:
            raise ValueError(f"sheaf_capacity is an unsigned int, got {sheaf_capacity}")
        args = {"sheaf_capacity": sheaf_capacity} if sheaf_capacity else {}
        if freeptr_offset is not None:
            if not self._k.gen.slab_freeptr_offset:
                raise TypeError(f"freeptr_offset= (struct kmem_cache_args) exists from Linux 6.12 on; "
                                f"this machine runs {self._k.gen.release}")
            args["freeptr_offset"] = self._size(freeptr_offset, "freeptr_offset")
        return self._k.slub.kmem_cache_create(name, size, align, flags, ctor, **args)

    def kmem_cache_alloc(self, cache, gfp=G.GFP_KERNEL) -> Address:
        """``kmem_cache_alloc(cache, flags)``."""
        # the hot path: the machine's own cache object (one dict lookup validates it)
        s = self._k.slub.caches_by_id.get(cache.id) if type(cache) is KmemCache else None
        if s is not cache:
            s = self._cache(cache)
        if type(gfp) is not int or gfp < 0 or gfp & ~G._GFP_VALID:
            gfp = G.check_gfp(gfp)
        return _new_address(Address, self._k.slub.kmem_cache_alloc(s, gfp))

    def kmem_cache_free(self, cache, p) -> None:
        """``kmem_cache_free(cache, p)``."""
        s = self._k.slub.caches_by_id.get(cache.id) if type(cache) is KmemCache else None
        if s is not cache:
            s = self._cache(cache)
        self._k.slub.kmem_cache_free(s, int(p) if type(p) is Address or type(p) is int
                                     else int(as_int(p, "pointer")))

    def kmem_cache_destroy(self, cache) -> None:
        """``kmem_cache_destroy(cache)``: drops one reference (a cache merged into another
        only loses its alias). The last one frees the cache; with objects still allocated
        the kernel WARNs in dmesg and the cache is leaked for good (its refcount is 0, a
        second destroy does nothing; 6.12+ also takes it off /proc/slabinfo and
        /sys/kernel/slab). A kmalloc cache raises :class:`KernelBug`, the machine unchanged:
        the kernel would not check it and leave ``kmalloc_caches[]`` dangling."""
        if cache is None:
            return
        self._k.slub.kmem_cache_destroy(self._cache(cache))

    def kmem_cache_shrink(self, cache) -> int:
        """``kmem_cache_shrink(cache)``: give empty slabs back to the buddy allocator."""
        return self._k.slub.kmem_cache_shrink(self._cache(cache))

    # -- sheaves (6.18+) and kfree_rcu() ------------------------------------------------

    def kfree_rcu(self, p) -> None:
        """``kfree_rcu(p)`` (the head-less ``kvfree_rcu_mightsleep()``): free ``p`` after an
        RCU grace period. An object of a cache with sheaves goes onto this CPU's
        ``rcu_free`` sheaf (``__kfree_rcu_sheaf()``), which is submitted to RCU when full;
        anything else waits for the grace period on its own. Grace periods end at
        :meth:`rcu_barrier`. NULL is ignored; a bad pointer raises :class:`KernelBug` now,
        before anything is queued."""
        self._k.slub.kvfree_call_rcu(self._pointer(p))

    def rcu_barrier(self) -> int:
        """``kvfree_rcu_barrier()``: submit every cache's ``rcu_free`` sheaves, then wait for
        the grace period (``rcu_barrier()``: every queued RCU callback runs). Returns how
        many callbacks ran."""
        return self._k.slub.kvfree_rcu_barrier()

    def _sheaf(self, s, sheaf):
        from .slub_sheaves import SlabSheaf
        if not isinstance(sheaf, SlabSheaf):
            raise TypeError(f"expected a sheaf from kmem_cache_prefill_sheaf(), got {type(sheaf).__name__}")
        if self._k.slub.user_sheaves.get(id(sheaf)) is not sheaf:
            raise ValueError("that sheaf is not held by the caller any more (returned with "
                             "kmem_cache_return_sheaf(), replaced by kmem_cache_refill_sheaf(), or from "
                             "another machine)")
        if sheaf.cache is not s:
            raise ValueError(f"that sheaf belongs to kmem_cache {sheaf.cache.name!r}, not {s.name!r}")
        return sheaf

    def kmem_cache_prefill_sheaf(self, cache, gfp=G.GFP_KERNEL, size=1):
        """``kmem_cache_prefill_sheaf(cache, gfp, size)`` (6.18+): a sheaf of at least
        ``size`` preallocated objects the caller owns (the maple tree takes one before a
        write it must not fail), or None. Allocate from it with
        :meth:`kmem_cache_alloc_from_sheaf`, give it back with :meth:`kmem_cache_return_sheaf`."""
        s = self._cache(cache)
        gfp = G.check_gfp(gfp)
        size = self._size(size, "size")
        if not self._k.gen.slab_sheaves:
            raise ValueError(f"prefilled sheaves need kernel 6.18 or later; this machine runs {self._k.kernel}")
        sheaf = self._k.slub.kmem_cache_prefill_sheaf(s, gfp, size)
        if sheaf is not None:
            self._k.slub.user_sheaves[id(sheaf)] = sheaf
        return sheaf

    def kmem_cache_alloc_from_sheaf(self, cache, gfp, sheaf) -> Address:
        """``kmem_cache_alloc_from_sheaf(cache, gfp, sheaf)``: an object of the prefilled
        sheaf (``NULL`` once it is empty: there is no fallback to the cache)."""
        s = self._cache(cache)
        gfp = G.check_gfp(gfp)
        return Address(self._k.slub.kmem_cache_alloc_from_sheaf(s, gfp, self._sheaf(s, sheaf)))

    def kmem_cache_refill_sheaf(self, cache, gfp, sheaf, size):
        """``kmem_cache_refill_sheaf(cache, gfp, &sheaf, size)``: top the prefilled sheaf up
        to at least ``size`` objects. Returns (0 or -ENOMEM, the sheaf now held: a new one
        when ``size`` is above its capacity)."""
        s = self._cache(cache)
        gfp = G.check_gfp(gfp)
        size = self._size(size, "size")
        slub = self._k.slub
        sheaf = self._sheaf(s, sheaf)
        err, held = slub.kmem_cache_refill_sheaf(s, gfp, sheaf, size)
        if held is not sheaf:
            del slub.user_sheaves[id(sheaf)]
            slub.user_sheaves[id(held)] = held
        return err, held

    def kmem_cache_return_sheaf(self, cache, gfp, sheaf) -> None:
        """``kmem_cache_return_sheaf(cache, gfp, sheaf)``: give a prefilled sheaf back (it
        becomes the CPU's spare, goes refilled into the barn, or is flushed and freed)."""
        s = self._cache(cache)
        gfp = G.check_gfp(gfp)
        slub = self._k.slub
        sheaf = self._sheaf(s, sheaf)
        del slub.user_sheaves[id(sheaf)]
        slub.kmem_cache_return_sheaf(s, gfp, sheaf)

    @staticmethod
    def kmem_cache_sheaf_size(sheaf) -> int:
        """``kmem_cache_sheaf_size(sheaf)``: objects left in a prefilled sheaf."""
        from .slub_sheaves import SlabSheaf
        if not isinstance(sheaf, SlabSheaf):
            raise TypeError(f"expected a sheaf from kmem_cache_prefill_sheaf(), got {type(sheaf).__name__}")
        return sheaf.size

    def validate_slabs(self, cache=None) -> int:
        """Run SLUB's ``validate`` (``echo 1 > /sys/kernel/slab/<cache>/validate``) on one
        cache or all; returns how many problems were reported in dmesg."""
        slub = self._k.slub
        caches = [self._cache(cache)] if cache is not None else list(slub.slab_caches)
        return sum(slub.dbg.validate_cache(s) for s in caches)


    # -- address conversions -----------------------------------------------------------

    def _lowmem_end_pfn(self) -> int:
        return self._k.max_low_pfn

    def _direct_map_pfn(self, addr: int, fn: str) -> int:
        off = addr - self._k.profile.page_offset
        if 0 <= off < (self._k.max_low_pfn << self.PAGE_SHIFT):
            return off >> self.PAGE_SHIFT
        text = (f"{fn}() used for non-linear address: {Address(addr)}\n"
                f"kernel BUG at arch/x86/mm/physaddr.c:28!\n"
                f"invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n"
                f"{self._k.cpu_line()}")
        self._k.log.printk("warn", text)
        raise KernelBug(f"{fn}: {Address(addr)} is not a direct-map address (only addresses from "
                        "page_address()/__get_free_pages()/kmalloc() are)", text)

    def virt_addr_valid(self, addr) -> bool:
        """``virt_addr_valid(addr)``: is ``addr`` a direct-map address of a real frame? A
        read-only question (never a report), what a lookup asks before virt_to_phys()."""
        addr = as_int(addr, "address")
        off = addr - self._k.profile.page_offset
        return 0 <= off < (self._k.max_low_pfn << self.PAGE_SHIFT)

    def page_to_pfn(self, page: Page) -> int:
        """``page_to_pfn(page)``."""
        if not isinstance(page, Page):
            raise TypeError(f"page_to_pfn() takes a km.Page, got {type(page).__name__}")
        return page.pfn

    def pfn_to_page(self, pfn: int) -> Page:
        """``pfn_to_page(pfn)``."""
        pfn = as_int(pfn, "pfn")
        if not 0 <= pfn < self._k.mem_map.max_pfn:
            raise ValueError(f"pfn {pfn:#x} is beyond max_pfn {self._k.mem_map.max_pfn:#x}")
        return Page(self._k.mem_map, pfn)

    def page_address(self, page: Page) -> Address:
        """``page_address(page)``: its direct-map address; ``NULL`` for a highmem page
        (which has none until ``kmap()``)."""
        if not isinstance(page, Page):
            raise TypeError(f"page_address() takes a km.Page, got {type(page).__name__}")
        self._check_page(page)
        if page.pfn >= self._k.max_low_pfn:
            return NULL
        return Address(self._k.profile.page_offset + (page.pfn << self.PAGE_SHIFT))

    def virt_to_phys(self, addr) -> Address:
        """``virt_to_phys(addr)`` / ``__pa()``: only for direct-map (and kernel text)
        addresses, as in the kernel; anything else is a KernelBug (CONFIG_DEBUG_VIRTUAL)."""
        addr = as_int(addr, "address")
        prof = self._k.profile
        text = next((r for r in prof.regions if r.name == "kernel text"), None)
        if text is not None and addr in text:
            return Address(addr - text.start)
        return Address(self._direct_map_pfn(addr, "virt_to_phys") << self.PAGE_SHIFT
                       | (addr & (self.PAGE_SIZE - 1)))


    def phys_to_virt(self, phys) -> Address:
        """``phys_to_virt(phys)`` / ``__va()``: the direct-map address of a physical one."""
        phys = as_int(phys, "physical address")
        if not 0 <= phys < (self._k.max_low_pfn << self.PAGE_SHIFT):
            raise ValueError(f"physical address {phys:#x} is not in the direct map "
                             f"(lowmem ends at {self._k.max_low_pfn << self.PAGE_SHIFT:#x})")
        return Address(self._k.profile.page_offset + phys)


    def virt_to_page(self, addr) -> Page:
        """``virt_to_page(addr)`` for a direct-map address."""
        addr = as_int(addr, "address")
        return Page(self._k.mem_map, self._direct_map_pfn(addr, "virt_to_page"))

    # -- memory contents -----------------------------------------------------------------

    def _phys_of(self, addr: int, n: int, access: str) -> int:
        """The physical address behind [addr, addr+n), which must be physically
        contiguous (see _phys_segments for vmalloc ranges that span pages)."""
        segs = self._phys_segments(addr, n, access)
        if len(segs) != 1:
            raise ValueError(f"{n} bytes at {Address(addr)} are not physically contiguous; "
                             "use _phys_segments()")
        return segs[0][0]

    def _oops(self, addr: int, access: str):
        from .errors import KernelOops
        k = self._k
        code = 2 if access == "write" else 0
        pgtable = getattr(k, "pgtable", None)
        dump = (pgtable.dump_pagetable(addr) + "\n"
                if pgtable is not None and 0 <= addr < 1 << k.profile.bits else "")
        text = (f"BUG: unable to handle page fault for address: {addr:0{k.profile.bits // 4}x}\n"
                f"#PF: supervisor {access} access in kernel mode\n"
                f"#PF: error_code(0x{code:04x}) - not-present page\n"
                f"{dump}"
                f"Oops: {code:04x} [#1] PREEMPT SMP NOPTI\n"
                f"{k.cpu_line()}")
        k.log.printk("alert", text)
        return KernelOops(f"unable to handle page fault for address {Address(addr)} ({access})", text)

    def write(self, addr, data) -> None:
        """Store ``data`` (bytes) at kernel virtual address ``addr``."""
        if isinstance(data, str):
            raise TypeError("write() takes bytes; encode text first, e.g. b'hello' or 'hello'.encode()")
        data = bytes(data)
        i = 0
        for phys, n in self._phys_segments(addr, len(data), "write"):
            self._k.memory.write(phys, data[i:i + n])
            i += n
        self._k.clock.advance(50 + len(data) // 8)

    def read(self, addr, n: int) -> bytes:
        """Load ``n`` bytes from kernel virtual address ``addr``."""
        n = as_int(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return b"".join(self._k.memory.read(phys, cnt)
                        for phys, cnt in self._phys_segments(addr, n, "read"))

    def memset(self, addr, byte: int, n: int) -> None:
        """``memset(addr, byte, n)``."""
        byte = as_int(byte, "byte")
        if not 0 <= byte <= 255:
            raise ValueError(f"byte must be 0..255, got {byte}")
        n = as_int(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.write(addr, bytes([byte]) * n)

    # -- log, events, snapshots, invariants ---------------------------------------------

    def cat(self, path) -> Text:
        """What ``cat PATH`` prints on this machine's kernel, for the files the model knows:
        /proc (``m.proc``), /proc/sys/vm and /sys/kernel/slab. Anything else raises
        FileNotFoundError with the shell's message (``cat: /proc/foo: No such file or
        directory``); a directory raises IsADirectoryError.

        >>> print(m.cat("/sys/kernel/slab/kmalloc-64/order"))
        0
        """
        return Text(self._k.vfs.cat(self._k, path))

    def ls(self, path="/"):
        """The entries of a directory the model knows, sorted as ``LC_ALL=C ls`` sorts them
        (``m.ls("/sys/kernel/slab")``: one per cache and per alias); printed one per line."""
        return self._k.vfs.ls(self._k, path)

    def dmesg(self, level: str | None = None, clear: bool = False) -> Text:
        """The kernel log, as ``dmesg`` prints it. ``level="warn"`` keeps warnings and
        worse; ``clear=True`` empties the buffer afterwards (``dmesg -c``)."""
        return Text(self._k.log.text(level, clear))

    def subscribe(self, callback) -> Subscription:
        """Call ``callback(event)`` after every change; returns a handle with ``close()``.
        A bound method is held weakly: its object going away unsubscribes it."""
        return self._bus.subscribe(callback)

    def watch(self, wake) -> Subscription:
        """What views use instead of an event per change: the handle's ``changes``
        (:class:`~kmemlab.kernel.events.Changes`) records what changed, and the bound
        method ``wake()`` (held weakly) is called when a redraw may be due."""
        return self._bus.watch(wake)

    def explain(self, addr) -> Text:
        """What an address (or a :class:`Page`) is, in words: its region, zone, owner —
        slab cache and object, vmalloc area and page, free block — one fact per line."""
        from .explain import explain
        if isinstance(addr, Page):
            self._check_page(addr)
            if addr.pfn >= self._k.max_low_pfn:
                from .explain import _frame
                return Text("\n".join(_frame(self._k, addr.pfn, None)))
            addr = self.page_address(addr)
        addr = as_int(addr, "address")
        if not 0 <= addr < 1 << self._k.profile.bits:
            raise ValueError(f"{addr:#x} does not fit in a {self._k.profile.bits}-bit address")
        return Text(explain(self._k, self.layout, addr))

    @contextlib.contextmanager
    def trace(self, events=None):
        """Record the kernel functions the calls in the block run (ftrace function_graph).

        >>> with m.trace() as t:
        ...     m.alloc_pages(km.GFP_KERNEL, 2)
        >>> print(t)

        ``events="kmem"`` (or a list such as ``["kmalloc", "kfree"]``) also records those
        kmem tracepoints; ``print(t)`` then prints them as tracefs does (header and all, the
        generation's formats), ``t.events`` holds them as records and ``t.format()`` gives
        the function graph."""
        from .kmem_events import KMEM_EVENTS
        from .trace import Trace, Tracer
        if self._k.tracer is not None:
            raise RuntimeError("a trace is already running on this machine; nest the calls "
                               "inside the first `with m.trace()` block instead")
        names = None
        if events is not None:
            wanted = KMEM_EVENTS if events == "kmem" else (events,) if isinstance(events, str) else tuple(events)
            bad = [e for e in wanted if e not in KMEM_EVENTS]
            if bad or not wanted:
                raise ValueError(f"events= takes 'kmem' or names from {', '.join(KMEM_EVENTS)}, got {events!r}")
            names = frozenset(wanted)
        k = self._k
        t = Trace(names, k.gen, k.seed.to_bytes(8, "little") + b"kmemlab-%p", k.nr_cpus)
        k.tracer = Tracer(k, t)
        k.slub.set_tracing(True)          # the slow paths' frames (slab_common.traced)
        try:
            yield t
        finally:
            k.tracer = None
            k.slub.set_tracing(False)
            if self._k is not k:          # restored inside the block: the copy has them too
                self._k.slub.set_tracing(False)

    def snapshot(self) -> Snapshot:
        """An exact copy of the whole simulated state (not of the subscribers)."""
        return Snapshot(self._id, copy.deepcopy(self._k))

    def restore(self, snap: Snapshot) -> None:
        """Put the machine back in the state of ``snap`` (which stays usable)."""
        if not isinstance(snap, Snapshot):
            raise TypeError(f"restore() takes a snapshot from m.snapshot(), got {type(snap).__name__}")
        if snap._machine_id != self._id:
            raise ValueError("that snapshot was taken of another machine")
        self._k = copy.deepcopy(snap._state)
        if self._bus.subscribers:
            self._bus.changed("restore")

    def check_invariants(self) -> None:
        """Raise AssertionError if the model is inconsistent (tests call it after every step)."""
        from .invariants import check_invariants
        check_invariants(self._k)


# -- boot ----------------------------------------------------------------------------------

def _ram_ranges(k: KernelState) -> list[tuple[int, int]]:
    """The e820 'usable' ranges: page 0 and 640K..1M are not RAM; the PCI hole below
    4 GiB moves memory above 3 GiB up past 4 GiB."""
    prof, mem = k.profile, k.mem
    ranges = [(0x1000, 0x9f000)]
    hole = prof.pci_hole
    if hole and mem > hole[0]:
        ranges += [(0x100000, hole[0]), (hole[1], hole[1] + mem - hole[0])]
    else:
        ranges.append((0x100000, mem))
    return ranges


def _boot(k: KernelState) -> None:
    prof = k.profile
    ps = prof.page_shift
    ranges = _ram_ranges(k)
    max_pfn = ranges[-1][1] >> ps
    zone_limits = []
    for name, end in prof.zones:
        if prof.name == "i386" and name == "Normal":
            # MAXMEM = VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE: lowmem ends there
            end = prof.vmalloc_end - prof.page_offset - prof.highmem_reserve
        zone_limits.append((name, end >> ps))
    k.max_low_pfn = min(max_pfn, zone_limits[1][1]) if prof.name == "i386" else max_pfn

    # NUMA nodes: split the RAM evenly, at 4 MiB boundaries
    total = sum(e - s for s, e in ranges)
    node_bounds = [0]
    for n in range(1, k.nr_nodes):
        want = total * n // k.nr_nodes
        acc = 0
        for s, e in ranges:
            if acc + (e - s) >= want:
                node_bounds.append(((s + want - acc) >> 22) << 22 >> ps)
                break
            acc += e - s
    node_bounds.append(max_pfn)

    zone_names = []
    zones = []
    for nid in range(k.nr_nodes):
        nlo, nhi = node_bounds[nid], node_bounds[nid + 1]
        # the node spans from its first to its last RAM frame (get_pfn_range_for_nid())
        nram = [(max(a >> ps, nlo), min(b >> ps, nhi)) for a, b in ranges if max(a >> ps, nlo) < min(b >> ps, nhi)]
        node_start, node_end = (nram[0][0], nram[-1][1]) if nram else (nlo, nlo)
        lo = 0
        for zidx, (name, zend) in enumerate(zone_limits):
            # zone_spanned_pages_in_node(): the zone's pfn range clamped to the node's, so
            # DMA32 of a machine with RAM above 4 GiB spans the PCI hole below 4 GiB too
            s, e = max(lo, node_start), min(zend, node_end)
            if s >= e:
                s = e = 0                  # calculate_node_totalpages(): an empty zone starts at 0
            z = Zone(nid, zidx, name, s, e, prof.max_order, len(zones))
            z.present_pages = sum(max(0, min(b >> ps, e) - max(a >> ps, s)) for a, b in ranges)
            zones.append(z)
            zone_names.append(name)
            lo = zend
        for zidx in range(len(zone_limits), len(k.zone_types)):     # Movable, Device: empty
            zones.append(Zone(nid, zidx, k.zone_types[zidx], 0, 0, prof.max_order, len(zones)))
            zone_names.append(k.zone_types[zidx])
    k.zones = zones
    mm = MemMap(max_pfn, ps, zone_names)
    k.mem_map = mm
    k.memory = PhysMemory(ps)

    # every RAM frame starts memblock-reserved; frames outside RAM stay K_NOMAP (and in no
    # zone: a hole has no struct page, so pfn_to_online_page() finds none)
    for s, e in ranges:
        mm.kind[s >> ps:e >> ps] = K_RESERVED
        mm.flags[s >> ps:e >> ps] = PG_reserved
    for z in zones:
        for a, b in ranges:
            s, e = max(a >> ps, z.zone_start_pfn), min(b >> ps, z.zone_end_pfn)
            if s < e:
                mm.zone[s:e] = z.id
                mm.node[s:e] = z.node

    # memblock reservations that stay: the first MiB, the kernel image, mem_map
    kstart = prof.kernel_phys >> ps
    kend = kstart + (prof.kernel_image_bytes >> ps)
    mm.kind[kstart:kend] = K_KERNEL
    present = sum((e - s) >> ps for s, e in ranges)
    memmap_pages = -(-present * prof.struct_page_size >> ps)
    # memblock allocates top-down below its limit (lowmem on i386)
    top = min(ranges[-1][1] >> ps, k.max_low_pfn)
    mm.kind[top - memmap_pages:top] = K_MEMMAP
    k.ram_ranges = ranges
    # setup_per_cpu_areas() and vfs_caches_init_early(): memblock allocations that stay
    early_lines = []
    keep = []
    if k.boot_mode == "init":
        from .boot import BootState, memblock_reserve
        k.boot = BootState()
        lowmem_pages = sum(min(e, k.max_low_pfn << ps) - s >> ps for s, e in ranges if s < k.max_low_pfn << ps)
        node_tops = [min(node_bounds[n + 1], k.max_low_pfn) for n in range(k.nr_nodes)]
        node_tops[-1] = top - memmap_pages
        keep, early_lines = memblock_reserve(k, node_tops, lowmem_pages)

    buddy = BuddyAllocator(k, pcp=k.pcp)
    k.buddy = buddy
    first_free = 0x100000 >> ps
    free_mask = (mm.kind == K_RESERVED)
    free_mask[:first_free] = False
    for s, e in keep:
        free_mask[s:e] = False
    for z in zones:
        if not z.spanned_pages:
            continue
        seg = free_mask[z.zone_start_pfn:z.zone_end_pfn]
        # contiguous runs of freeable frames inside the zone
        d = np.diff(np.concatenate(([0], seg.view(np.int8), [0])))
        starts = np.flatnonzero(d == 1) + z.zone_start_pfn
        ends = np.flatnonzero(d == -1) + z.zone_start_pfn
        for s, e in zip(starts.tolist(), ends.tolist()):
            mm.kind[s:e] = K_FREE
            mm.flags[s:e] = 0
            buddy.free_boot_range(z, s, e)
        z.managed_pages = z.nr_free_pages
    buddy.setup_watermarks()
    _boot_log(k, ranges, node_bounds, kstart, kend, early_lines)
    # setup_arch() -> paging_init(), then mm_core_init() -> kmem_cache_init(), vmalloc_init()
    from .pgtable import paging_init, preallocate_vmalloc_pages, vmalloc_start_of
    from .slub import Slub, check_slub
    from .vmalloc import Vmalloc, check_vmalloc
    k.vmalloc_start = vmalloc_start_of(k)
    k.pgtable = paging_init(k)
    if k.gen.vmalloc_pud_prealloc and prof.bits == 64:
        preallocate_vmalloc_pages(k, k.pgtable)     # mem_init(), x86-64 5.9+
    k.slub = Slub(k)
    k.invariant_checks.append(check_slub)
    k.vmalloc = Vmalloc(k)
    k.invariant_checks.append(check_vmalloc)
    k.boot_free_kbytes = sum(z.nr_free_pages for z in zones) << (ps - 10)
    if k.boot_mode == "init":
        from .boot import boot_init
        boot_init(k)
    _register_files(k)


def _register_files(k: KernelState) -> None:
    """The pseudo files (fs/proc, kernel/sysctl.c, mm/slub.c slab_sysfs_init())."""
    from .procfs import check_proc_files, register_procfs
    from .slab_sysfs import register_slab_sysfs
    from .sysctl import register_vm_sysctls
    register_procfs(k.vfs)
    k.invariant_checks.append(check_proc_files)
    register_vm_sysctls(k.vfs, k)
    register_slab_sysfs(k.vfs)


def _boot_log(k: KernelState, ranges, node_bounds, kstart, kend, early_lines=()) -> None:
    """The lines a real x86 boot prints about memory (dmesg | head)."""
    prof = k.profile
    ps = prof.page_shift
    log = k.log
    log.printk("notice", f"Linux version {k.uname_release} (kmemlab@simulated) (gcc (Debian 12.2.0-14) 12.2.0) "
                         f"#1 SMP PREEMPT_DYNAMIC")
    log.info("BIOS-provided physical RAM map:")
    last = 0
    for s, e in ranges:
        if s > last:
            log.info(f"BIOS-e820: [mem {last:#018x}-{s - 1:#018x}] reserved")
        log.info(f"BIOS-e820: [mem {s:#018x}-{e - 1:#018x}] usable")
        last = e
    k.clock.advance(3_000_000)
    if prof.name == "i386":
        high = (k.mem_map.max_pfn - k.max_low_pfn) << ps
        if high > 0:
            log.printk("notice", f"{high >> 20}MB HIGHMEM available.")
        log.printk("notice", f"{(k.max_low_pfn << ps) >> 20}MB LOWMEM available.")
    log.info("Zone ranges:")
    for idx, name in enumerate(k.zone_types):
        if name == "Movable":          # free_area_init(): ZONE_MOVABLE has its own line below
            continue
        zs = [z for z in k.zones if z.zone_idx == idx and z.spanned_pages]
        if zs:
            lo = min(z.zone_start_pfn for z in zs) << ps
            hi = (max(z.zone_end_pfn for z in zs) << ps) - 1
            log.info(f"  {name:<8} [mem {lo:#018x}-{hi:#018x}]")
        else:
            log.info(f"  {name:<8} empty")
    log.info("Movable zone start for each node")
    log.info("Early memory node ranges")
    for nid in range(k.nr_nodes):
        for s, e in ranges:
            a, b = max(s >> ps, node_bounds[nid]), min(e >> ps, node_bounds[nid + 1])
            if a < b:
                log.info(f"  node   {nid}: [mem {a << ps:#018x}-{(b << ps) - 1:#018x}]")
    for nid in range(k.nr_nodes):
        log.info(f"Initmem setup node {nid} [mem {node_bounds[nid] << ps:#018x}-"
                 f"{(node_bounds[nid + 1] << ps) - 1:#018x}]")
    k.clock.advance(40_000_000)
    for line in early_lines:          # setup_per_cpu_areas(), vfs_caches_init_early()
        log.info(line)
    total_managed = sum(z.managed_pages for z in k.zones)
    log.info(f"Built {k.nr_nodes} zonelists, mobility grouping on.  Total pages: {total_managed}")
    present = sum(z.present_pages for z in k.zones)
    kb = 1 << (ps - 10)
    sec = dict(prof.kernel_image)
    reserved_kb = (present - total_managed) * kb - sum(sec.values())
    log.info(f"Memory: {total_managed * kb}K/{present * kb}K available ({sec['kernel code']}K kernel code, "
             f"{sec['rwdata']}K rwdata, {sec['rodata']}K rodata, 0K init, {sec['bss']}K bss, "
             f"{reserved_kb}K reserved, 0K cma-reserved)")
    k.clock.advance(120_000_000)
