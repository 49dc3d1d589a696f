"""The state a kernel is in once init runs: what ``Machine()`` boots into by default.

A real kernel is never empty: by the time a shell prompt appears, ``start_kernel()`` has
created some ninety slab caches and filled them, forked a hundred kernel threads (each with
its own 16 KiB stack in vmalloc space), set up the per-CPU areas, mapped firmware tables and
PCI configuration space with ``ioremap()``, and the first user processes have page tables
and memory of their own. Temporary allocations made and dropped on the way leave the free
lists in no particular order — which is why, on a real machine, ``vmalloc(64K)`` comes back
as sixteen frames from all over RAM. ``Machine(boot="bare")`` skips all of this and keeps
the pristine machine (everything free, in order) that some lessons and exercises need.

What is created, in the order ``start_kernel()`` and the initcalls create it (6.18 init/main.c):

1. memblock, before the buddy allocator exists: the embedded first per-CPU chunk
   (:mod:`kmemlab.kernel.percpu`) and the early hash tables of ``vfs_caches_init_early()``
   (``Dentry cache`` and ``Inode-cache``, ``alloc_large_system_hash()`` with HASH_EARLY:
   one ``hlist_bl_head`` per 8 KiB, resp. 16 KiB, of low memory, a power of two);
2. ``kmem_cache_init()``: the bootstrap caches ``kmem_cache`` and ``kmem_cache_node`` (first
   in ``slab_caches``, refcount -1 so never merged), then the core caches of
   :data:`CORE_CACHES`, each as its kernel function creates it (object size, alignment,
   flags, constructor, usercopy region, ``kmem_cache_args``); every cache gets its
   ``struct kmem_cache`` object and one ``kmem_cache_node`` per node;
3. ``init_IRQ()``: CPU 0's IRQ stack, pages of its per-CPU area mapped again with guard
   pages (``irq_init_percpu_irqstack``, 5.2+ with VMAP_STACK);
4. ``acpi_early_init()``: firmware tables read through ``acpi_os_map_iomem()`` (some are
   unmapped again: lazily freed ranges);
5. the per-CPU allocator's second chunk: ``pcpu_create_chunk()`` and a few populated pages;
6. ``rest_init()``: init (pid 1) and kthreadd, then the kernel threads of :data:`KTHREADS`
   (per CPU, per node, global), the idle tasks of the other CPUs (``fork_idle``) with their
   IRQ stacks; each task gets what ``copy_process()`` allocates (``task_struct``, its stack,
   ``signal_struct``, ``sighand_struct``, ``pid``, ``cred``, ...);
7. initcalls: PCI MMCONFIG (``pci_mmcfg_arch_map``), a ``memremap()``, the late caches,
   the objects a booted system holds (:data:`BOOT_OBJECTS`: sysfs nodes, dentries, inodes,
   kmalloc objects) and temporary allocations that are freed again;
8. user space: the processes of :data:`USER_TASKS` (``mm_struct``, VMAs, anon pages, page
   tables, open files), and short-lived helpers that ran and exited.

Where the numbers come from: the caches' geometry is the real one, read from this project's
6.18 machines (``/sys/kernel/slab/<cache>/{object_size,align,...}``, listed per entry in
:data:`CORE_CACHES`) and checked against the kernel source of each release that creates them
differently (rows of :mod:`kmemlab.kernel.generation`); object sizes that changed between
releases were not read for older releases (that needs the releases' builds), so every
generation uses the 6.18 sizes. The kernel-thread list is the one a 2-CPU 6.18 machine runs
(``ps``), scaled by CPUs and nodes. The object counts are those of a small system after
boot (a 2-CPU VM running init and a handful of services), estimated from that machine's
``/proc/slabinfo`` without the page cache and workload of a long-running box: per task from
the task list, per CPU, per 128 MiB memory block (``/sys/devices/system/memory``), and for
the rest (sysfs, dentries, kmalloc) a fixed count scaled down on machines under 1 GiB (by
RAM, at least 1/16). Stack, per-CPU and ioremap sizes follow the kernel's rules, so they
scale with CPUs and RAM by themselves. Everything random (free order, sizes within ranges)
comes from ``seed``.

Simplified: no page cache (file pages: ``Cached`` stays 0; a process's text and libraries
take no frames), a user process's memory is a few anonymous pages; object contents are not
written; ``vmap_area`` and ``vm_struct`` objects are counted once at the end of boot, not
kept in step with later vmalloc calls.
"""

from __future__ import annotations

from typing import NamedTuple


from . import gfp as G
from . import slab_common as S
from .mem_map import K_PAGES, K_PGTABLE, K_USER

__all__ = ["BOOT_MODES", "CORE_CACHES", "TASK_STRUCT_FIXED_SIZE", "DEFAULT_XSTATE_SIZE", "XSTATE_SIZE_RANGE", "KTHREADS",
           "USER_TASKS", "BOOT_OBJECTS", "Task", "BootState", "memblock_reserve", "boot_init"]

#: ``Machine(boot=...)``: "init" (the default) or "bare"
BOOT_MODES = ("init", "bare")


class KernelFunction:
    """A kernel function used as a slab constructor: prints as ``%pS`` does
    (``init_once+0x0/0x10``). Objects' contents are not modelled, so it does nothing."""

    def __init__(self, ksym: str):
        self.ksym = ksym
        self.__name__ = ksym.split("+")[0]

    def __call__(self, obj: int) -> None:
        pass

    def __repr__(self) -> str:
        return f"<kernel function {self.ksym}>"

    def __deepcopy__(self, memo):
        return self


class CoreCache(NamedTuple):
    """One ``kmem_cache_create()`` of boot: what the kernel passes, and where it is."""
    name: str
    object_size: int
    align: int
    flags: int
    ctor: str | None = None          # %pS of the constructor (box: /sys/kernel/slab/*/ctor)
    usersize: int = 0                # kmem_cache_create_usercopy()'s usersize
    freeptr_offset: int | None = None   # kmem_cache_args.freeptr_offset (6.12+)
    sheaf: int = 0                   # kmem_cache_args.sheaf_capacity (6.18)
    when: object = None              # gen -> bool: does this release create it so (None: all do)
    source: str = ""
    plus_xstate: bool = False        # object_size and usersize + the CPU's FPU context (task_struct)


#: x86's ``fpu__init_task_struct_size()`` (arch/x86/kernel/fpu/init.c) makes task_struct's
#: size ``arch_task_struct_size`` = sizeof(struct task_struct) + sizeof(struct fpu) -
#: sizeof(union fpregs_state) + ``fpu_kernel_cfg.default_size``: the last is the CPU's XSAVE
#: context (dmesg: "x86/fpu: Enabled xstate features ..., context size is N bytes"), so the
#: cache's object size depends on the CPU, not only on the kernel. 3368 is the rest on 6.18:
#: a 6.18.44 box whose CPU saves 2472 bytes (AVX-512, CET) has object_size 5840, one whose
#: CPU saves 880 (AVX, PKRU, CET) 4248. kmemlab adds ``Machine(xstate_size=)`` to this on
#: every profile and generation (a simplification: other architectures size it their way).
#: The usercopy region (``usersize``) is the FPU registers to the end of the object
#: (``fpu_thread_struct_whitelist()``): the context less 24 bytes on both boxes (2448, 856).
TASK_STRUCT_FIXED_SIZE = 3368
#: ``fpu_kernel_cfg.default_size`` when Machine() is not told (``xstate_size=``): the
#: compacted XSAVE area of an x86-64 CPU with AVX, PKRU and CET and no AVX-512 (legacy 512 +
#: header 64 + AVX 256 + PKRU 8 + CET_U 16 + CET_S 24). ``Machine.like_host()`` takes the
#: host's from its task_struct.
DEFAULT_XSTATE_SIZE = 880
#: what ``xstate_size`` may be: the legacy FXSAVE area alone is 512 bytes, AMX's tiles take
#: a context to ~11 KiB
XSTATE_SIZE_RANGE = range(512, 65536 + 1)


_HW, _RCL, _RCU, _ACC = S.SLAB_HWCACHE_ALIGN, S.SLAB_RECLAIM_ACCOUNT, S.SLAB_TYPESAFE_BY_RCU, S.SLAB_ACCOUNT

#: The core caches, in the order start_kernel() and the early initcalls create them (which
#: decides what merges into what). object_size, align and the flags were read on a 6.18
#: machine (/sys/kernel/slab/<name>/object_size, align, hwcache_align, reclaim_account,
#: destroy_by_rcu, ctor, usersize, sheaf_capacity, and the 'A' of its :A-<size> directory
#: for SLAB_ACCOUNT); the flags are those of the kernel source line in ``source``
#: (6.18.35 tree). For a cache that is an alias on that machine, sysfs shows its root's
#: sizes; where the size is the struct's own it says so.
CORE_CACHES: tuple[CoreCache, ...] = (
    CoreCache("vmap_area", 72, 8, 0, when=lambda gen: gen.boot_vmap_area_cache,
              source="mm/vmalloc.c:5276 KMEM_CACHE(vmap_area, SLAB_PANIC)"),
    CoreCache("mm_struct", 1568, 0, _HW | _ACC, usersize=448,
              source="kernel/fork.c:2969 kmem_cache_create_usercopy(\"mm_struct\", ..., saved_auxv)"),
    CoreCache("maple_node", 256, 256, 0, sheaf=32, when=lambda gen: gen.boot_maple_tree,
              source="lib/maple_tree.c:5870 kmem_cache_create(\"maple_node\", ..., &args, SLAB_PANIC)"),
    CoreCache("radix_tree_node", 576, 0, _RCL, ctor="radix_tree_node_ctor+0x0/0x50",
              source="lib/radix-tree.c:1601"),
    CoreCache("pool_workqueue", 512, 256, 0, source="kernel/workqueue.c:7839 KMEM_CACHE(pool_workqueue)"),
    CoreCache("pid", 184, 8, _HW | _ACC, source="kernel/pid.c:813"),
    CoreCache("anon_vma", 96, 0, _RCU | _ACC, ctor="anon_vma_ctor+0x0/0x50", source="mm/rmap.c:461"),
    CoreCache("anon_vma_chain", 64, 8, _ACC, source="mm/rmap.c:464 KMEM_CACHE(anon_vma_chain)"),
    CoreCache("cred_jar", 184, 0, _HW | _ACC, when=lambda gen: not gen.boot_cred_kmem_cache_macro,
              source="6.8: kernel/cred.c:609 kmem_cache_create(\"cred_jar\", ...)"),
    CoreCache("cred", 184, 8, _HW | _ACC, when=lambda gen: gen.boot_cred_kmem_cache_macro,
              source="kernel/cred.c:559 KMEM_CACHE(cred, ...) (merged into pid: pid's sizes)"),
    CoreCache("task_struct", TASK_STRUCT_FIXED_SIZE, 64, _ACC, usersize=-24, plus_xstate=True,
              source="kernel/fork.c:818 kmem_cache_create_usercopy(\"task_struct\", arch_task_struct_size, "
                     "L1_CACHE_BYTES, ...)"),
    CoreCache("sighand_cache", 2080, 0, _HW | _RCU | _ACC, ctor="sighand_ctor+0x0/0x30",
              source="kernel/fork.c:2979"),
    CoreCache("signal_cache", 1152, 0, _HW | _ACC, source="kernel/fork.c:2983"),
    CoreCache("files_cache", 704, 0, _HW | _ACC, source="kernel/fork.c:2987"),
    CoreCache("fs_cache", 56, 0, _HW | _ACC,
              source="kernel/fork.c:2991 (sizeof(struct fs_struct) = 56 from include/linux/fs_struct.h)"),
    CoreCache("vm_area_struct", 192, 0, _HW | _RCU | _ACC, freeptr_offset=0, sheaf=32, when=lambda gen: gen.boot_vma_rcu,
              source="mm/vma_init.c:22 (vm_freeptr shares offset 0 with vm_start)"),
    CoreCache("vm_area_struct", 192, 8, _ACC, when=lambda gen: not gen.boot_vma_rcu,
              source="6.12: kernel/fork.c:3194 KMEM_CACHE(vm_area_struct, SLAB_PANIC|SLAB_ACCOUNT)"),
    CoreCache("nsproxy", 72, 8, _ACC, source="kernel/nsproxy.c:578 KMEM_CACHE(nsproxy, ...)"),
    CoreCache("uts_namespace", 488, 0, _ACC, usersize=390, source="kernel/utsname.c:158"),
    CoreCache("key_jar", 256, 0, _HW, source="security/keys/key.c:1277"),
    CoreCache("names_cache", 4096, 0, _HW, usersize=4096, source="fs/dcache.c:3266 (PATH_MAX)"),
    CoreCache("dentry", 192, 8, _RCL | _ACC, usersize=40,
              source="fs/dcache.c:3225 KMEM_CACHE_USERCOPY(dentry, ..., d_shortname.string)"),
    CoreCache("inode_cache", 616, 0, _RCL | _ACC, ctor="init_once+0x0/0x10", source="fs/inode.c:2529"),
    CoreCache("filp", 184, 0, _HW | _ACC | _RCU, freeptr_offset=144, when=lambda gen: gen.boot_freeptr_offset,
              source="fs/file_table.c:613 (f_freeptr at offset 144 of struct file, include/linux/fs.h)"),
    CoreCache("filp", 184, 0, _HW | _ACC | _RCU, when=lambda gen: gen.boot_filp_rcu and not gen.boot_freeptr_offset,
              source="6.8: fs/file_table.c:469"),
    CoreCache("filp", 184, 0, _HW | _ACC, when=lambda gen: not gen.boot_filp_rcu, source="6.6: fs/file_table.c:473"),
    CoreCache("mnt_cache", 384, 0, _HW | _ACC, source="fs/namespace.c:6029"),
    CoreCache("kernfs_node_cache", 136, 0, 0, source="fs/kernfs/mount.c:461"),
    CoreCache("kernfs_iattrs_cache", 80, 0, 0, source="fs/kernfs/mount.c:466"),
    CoreCache("sigqueue", 80, 8, _ACC, source="kernel/signal.c:5011 KMEM_CACHE(sigqueue, ...)"),
    CoreCache("seq_file", 120, 8, _ACC, source="fs/seq_file.c:1142 KMEM_CACHE(seq_file, ...)"),
    CoreCache("proc_inode_cache", 688, 0, _RCL | _ACC, ctor="init_once+0x0/0x10", source="fs/proc/inode.c:92"),
    CoreCache("pde_opener", 40, 0, _ACC, source="fs/proc/inode.c:99"),
    CoreCache("proc_dir_entry", 192, 0, 0, usersize=24, source="fs/proc/inode.c:101 (SIZEOF_PDE)"),
    CoreCache("taskstats", 560, 0, 0, source="kernel/taskstats.c taskstats_init_early() KMEM_CACHE"),
    CoreCache("task_delay_info", 256, 8, _ACC, source="kernel/delayacct.c:50"),
    CoreCache("shmem_inode_cache", 744, 0, _ACC, ctor="shmem_init_inode+0x0/0x10", source="mm/shmem.c:5214"),
    CoreCache("sock_inode_cache", 768, 0, _HW | _RCL | _ACC, ctor="init_once+0x0/0x10", source="net/socket.c:355"),
    CoreCache("skbuff_head_cache", 224, 0, _HW, usersize=48, source="net/core/skbuff.c:5227"),
)

# -- tasks ---------------------------------------------------------------------------------

#: The kernel threads of a 2-CPU 6.18 machine (``ps -e`` at boot), "{cpu}" and "{node}"
#: expanded for every CPU and node. Names are labels only (older releases name some of them
#: differently: rcu_par_gp, kworker/u*: ...).
KTHREADS = {
    "global": ("kthreadd", "pool_workqueue_release", "kworker/R-rcu_gp", "kworker/R-sync_wq",
               "kworker/R-kvfree_rcu_reclaim", "kworker/R-slub_flushwq", "kworker/R-netns",
               "kworker/R-mm_percpu_wq", "rcu_preempt", "rcu_exp_gp_kthread_worker", "kdevtmpfs",
               "kworker/R-inet_frag_wq", "rcu_tasks_kthread", "rcu_tasks_rude_kthread",
               "rcu_tasks_trace_kthread", "kauditd", "khungtaskd", "oom_reaper", "kworker/R-writeback",
               "ksmd", "khugepaged", "kworker/R-kblockd", "kworker/R-blkcg_punt_bio", "watchdogd",
               "kworker/R-kthrotld", "kworker/R-mld", "kworker/R-ipv6_addrconf", "kworker/R-kstrp",
               "kworker/u{ncpu}:0", "kworker/u{ncpu}:1", "kworker/u{ncpu}:2"),
    "per_node": ("rcu_exp_par_gp_kthread_worker/{node}", "kswapd{node}", "kcompactd{node}"),
    "per_cpu": ("cpuhp/{cpu}", "migration/{cpu}", "ksoftirqd/{cpu}", "kworker/{cpu}:0",
                "kworker/{cpu}:0H", "kworker/{cpu}:1", "kworker/{cpu}:1H"),
}


class UserTask(NamedTuple):
    """A user process at boot: its VMAs, anonymous memory (KiB), open files and page-table
    pages, within the ranges a small distribution's processes show in /proc/<pid>/status
    (VmPTE 40-100 kB, RssAnon 100-1500 kB) and /proc/<pid>/maps (30-60 lines)."""
    comm: str
    vmas: tuple[int, int]
    anon_kb: tuple[int, int]
    files: tuple[int, int]
    pgtables: tuple[int, int]


USER_TASKS = (
    UserTask("init", (50, 70), (600, 1200), (20, 40), (16, 24)),
    UserTask("systemd-journal", (40, 60), (400, 900), (15, 30), (12, 20)),
    UserTask("systemd-udevd", (40, 60), (300, 700), (10, 20), (12, 18)),
    UserTask("dbus-daemon", (30, 45), (200, 500), (8, 16), (10, 14)),
    UserTask("sshd", (35, 50), (200, 600), (5, 10), (10, 16)),
    UserTask("agetty", (25, 35), (100, 250), (4, 8), (9, 12)),
    UserTask("bash", (35, 50), (600, 1300), (4, 8), (10, 15)),
)
#: helpers that run during boot and exit (udev workers, modprobe, the initramfs' /init)
TRANSIENT_TASKS = (
    UserTask("(udev-worker)", (35, 50), (300, 800), (8, 16), (10, 16)),
    UserTask("modprobe", (20, 30), (100, 300), (4, 8), (8, 12)),
    UserTask("sh", (25, 35), (150, 400), (4, 8), (9, 12)),
)

# -- objects that a booted system holds beyond its tasks ---------------------------------------

class BootObjects(NamedTuple):
    """How many objects of a cache a small booted system holds: ``base`` (scaled down below
    1 GiB of RAM), plus ``per_cpu`` per CPU and ``per_block`` per 128 MiB memory block."""
    cache: str
    base: int
    per_cpu: int = 0
    per_block: int = 0


BOOT_OBJECTS = (
    BootObjects("kernfs_node_cache", 6500, 450, 20),     # sysfs; /sys/kernel/slab is counted apart
    BootObjects("kernfs_iattrs_cache", 200),
    BootObjects("dentry", 9000),
    BootObjects("inode_cache", 4000),
    BootObjects("proc_inode_cache", 300),
    BootObjects("shmem_inode_cache", 120),
    BootObjects("proc_dir_entry", 700),
    BootObjects("radix_tree_node", 600),
    BootObjects("mnt_cache", 40),
    BootObjects("skbuff_head_cache", 64),
    BootObjects("sock_inode_cache", 20),
    BootObjects("pool_workqueue", 8, 148),
    BootObjects("kmalloc-8", 1200), BootObjects("kmalloc-16", 1500, 0, 1), BootObjects("kmalloc-32", 1500),
    BootObjects("kmalloc-64", 2000, 40), BootObjects("kmalloc-96", 1500), BootObjects("kmalloc-128", 1600, 24),
    BootObjects("kmalloc-192", 1800), BootObjects("kmalloc-256", 500, 32), BootObjects("kmalloc-512", 600, 16),
    BootObjects("kmalloc-1k", 300, 8, 1), BootObjects("kmalloc-2k", 150, 4), BootObjects("kmalloc-4k", 120, 4),
    BootObjects("kmalloc-8k", 16),
    BootObjects("kmalloc-rcl-64", 60), BootObjects("kmalloc-rcl-96", 100),
    BootObjects("kmalloc-cg-64", 100), BootObjects("kmalloc-cg-192", 60), BootObjects("kmalloc-cg-512", 40),
    BootObjects("kmalloc-cg-1k", 30), BootObjects("kmalloc-cg-4k", 16),
)
#: share of the boot objects that were temporary: allocated among the others, freed at the end
TEMPORARY_SHARE = 0.25

# -- ioremap areas -------------------------------------------------------------------------

class IoMap(NamedTuple):
    """An ``ioremap()`` at boot: who calls it (%pS on 6.18), where, how much, and whether it is
    unmapped again before init runs."""
    caller: str
    phys: int
    size: int
    cache: str                     # "wb" (memremap, acpi_os_ioremap) or "uc-" (ioremap)
    unmapped: bool = False


#: as this project's 6.18 machines show them in /proc/vmallocinfo (ACPI tables in the BIOS
#: area, the PCI MMCONFIG window of bus 0, a memremap() of the BIOS data)
ACPI_MAPS = (IoMap("acpi_os_map_iomem+0x1bc/0x1e0", 0xa0000, 0x1000, "wb"),
             IoMap("acpi_os_map_iomem+0x1bc/0x1e0", 0x9f000, 0x2000, "wb"),
             IoMap("acpi_os_map_iomem+0x1bc/0x1e0", 0xe0000, 0x1000, "wb", unmapped=True),
             IoMap("acpi_os_map_iomem+0x1bc/0x1e0", 0xf5a00, 0x1000, "wb", unmapped=True))
LATE_MAPS = (IoMap("pci_mmcfg_arch_map+0x2b/0x60", 0xeec00000, 0x100000, "uc-"),
             IoMap("memremap+0x123/0x210", 0xdf000, 0x1000, "wb"))

#: THREAD_SIZE: 16 KiB stacks on x86-64 (THREAD_SIZE_ORDER 2), 8 KiB on i386
THREAD_SIZE = {64: 16 << 10, 32: 8 << 10}
#: kernel/fork.c NR_CACHED_STACKS: freed VMAP stacks kept per CPU for the next fork
NR_CACHED_STACKS = 2
#: pages populated in every unit of the second per-CPU chunk (a freshly booted system;
#: this project's 6.18 machines show 33 after an hour of work: Percpu 720 kB = (57 + 33) x 2 x 4 KiB)
PCPU_CHUNK_PAGES = 16
#: _PAGE_PCD: ioremap()'s UC- cache mode (PAT index 1)
_PAGE_PCD = 0x10


class Task:
    """What ``copy_process()`` allocated for one task: its objects, its stack and, for a user
    process, its address space."""

    __slots__ = ("pid", "comm", "cpu", "objs", "stack", "stack_kind", "mm_objs", "pgtables", "anon")

    def __init__(self, pid: int, comm: str, cpu: int):
        self.pid, self.comm, self.cpu = pid, comm, cpu
        self.objs: list[tuple[object, int]] = []     # (cache, object) or (None, kmalloc object)
        self.stack = 0                               # vmalloc address or first pfn
        self.stack_kind = ""                         # "vmap" or "pages"
        self.mm_objs: list[tuple[object, int]] = []
        self.pgtables: list[int] = []                # pfns of its page-table pages
        self.anon: list[int] = []                    # pfns of its anonymous pages

    def __repr__(self) -> str:
        return f"<task {self.pid} {self.comm}>"


class BootState:
    """What boot left for later readers (``k.boot``): the tasks, the cached stacks."""

    def __init__(self):
        self.tasks: list[Task] = []
        self.cached_stacks: dict[int, list[int]] = {}   # cpu -> vmalloc addresses
        self.next_pid = 1
        self.hash_tables: list[tuple[str, int, int, int]] = []   # (name, entries, order, bytes)

    def user_pgtable_pages(self) -> int:
        return sum(len(t.pgtables) for t in self.tasks)

    def user_pages(self) -> int:
        return sum(len(t.anon) for t in self.tasks)


# -- 1. memblock ---------------------------------------------------------------------------

def _hash_entries(lowmem_pages: int, scale: int, page_shift: int) -> int:
    """mm/mm_init.c ``alloc_large_system_hash()`` sizing without a boot parameter: one
    entry per 2**scale bytes of low memory (rounded up to a MiB), then a power of two."""
    n = -(-lowmem_pages // ((1 << 20) >> page_shift)) * ((1 << 20) >> page_shift)
    n = n >> (scale - page_shift) if scale > page_shift else n << (page_shift - scale)
    return 1 << max(n - 1, 1).bit_length()


def memblock_reserve(k, node_tops: list[int], lowmem_pages: int) -> tuple[list[tuple[int, int]], list[str]]:
    """The memblock allocations made before the buddy allocator takes over, top-down below
    ``node_tops[node]`` (the free top of each node's memory): setup_per_cpu_areas() and
    vfs_caches_init_early()'s hash tables (memblock_alloc(): the highest node). Returns the
    pfn ranges that stay reserved and the lines they print."""
    from .percpu import Percpu
    ps = k.profile.page_shift
    k.percpu = Percpu(k)
    keep = k.percpu.embed_first_chunk(node_tops)
    lines = k.percpu.boot_log_lines()
    top = node_tops[-1]
    ptr = 8 if k.profile.bits == 64 else 4                # sizeof(struct hlist_bl_head)
    for name, scale in (("Dentry cache", 13), ("Inode-cache", 14)):
        entries = _hash_entries(lowmem_pages, scale, ps)
        size = entries * ptr
        pages = -(-size >> ps)
        order = max(pages - 1, 0).bit_length()
        top -= pages
        keep.append((top, top + pages))
        k.boot.hash_tables.append((name, entries, order, size))
        lines.append(f"{name} hash table entries: {entries} (order: {order}, {size} bytes, linear)")
    return keep, lines


# -- helpers --------------------------------------------------------------------------------

def _ksym(k, func: str, box: str) -> str:
    """``%pS`` of a call site: the 6.18 machines' offset (``box``, "+0xb8/0x400") on 6.18,
    a simulated stable one on other releases (whose builds were not read)."""
    return f"{func}{box}" if k.gen.box_symbol_offsets else k.ksym(func)


def _scale(k) -> float:
    """Counts not tied to CPUs or memory blocks shrink on machines under 1 GiB."""
    return min(1.0, max(k.mem / (1 << 30), 1 / 16))


class _Boot:
    """The boot sequence, with the state it needs on the way."""

    def __init__(self, k):
        self.k = k
        self.slub = k.slub
        self.rng = k.rng
        self.gfp = int(G.GFP_KERNEL)
        self.caches: dict[str, object] = {}
        self.temporary: list[tuple[object, int]] = []     # (cache or None, object) freed at the end
        self.temp_pages: list[tuple[int, int]] = []       # (pfn, order) freed at the end
        self.bs = k.boot

    def oom(self, what: str) -> ValueError:
        k = self.k
        return ValueError(f"boot: no memory for {what}: a {k.mem >> 20} MiB machine with {k.nr_cpus} CPUs "
                           "cannot hold what a booted system holds; give it more mem= or fewer cpus=, "
                           "or boot it with boot=\"bare\"")

    # -- slab ----------------------------------------------------------------------------

    def cache(self, name: str):
        c = self.caches.get(name)
        if c is None:
            c = self.caches[name] = next((s for s in self.slub.slab_caches if s.name == name), None)
        return c

    def alloc(self, name: str, n: int = 1, into: list | None = None) -> None:
        """n objects of cache ``name`` (kmem_cache_alloc / kmalloc of that size class)."""
        s = self.cache(name)
        if s is None or n <= 0:
            return
        gfp = self.gfp | (G.F_ACCOUNT if s.flags & S.SLAB_ACCOUNT else 0)
        objs = self.slub.kmem_cache_alloc_bulk(s, gfp, n)
        if not objs:
            raise self.oom(f"{name} objects")
        if into is not None:
            into.extend((s, obj) for obj in objs)

    def free_objects(self, objs) -> None:
        """kmem_cache_free() of each (cache, object)."""
        free = self.slub.kmem_cache_free
        for s, obj in objs:
            free(s, obj)

    def create_core_caches(self) -> None:
        """kmem_cache_init()'s bootstrap caches, then :data:`CORE_CACHES` for this release."""
        k, slub = self.k, self.slub
        gen = k.gen
        ptr = k.profile.bits // 8
        boot = []
        # create_boot_cache(): offsetof(struct kmem_cache, node) + nr_node_ids pointers
        # (224 bytes before the array on 6.18), and struct kmem_cache_node
        for name, size in (("kmem_cache", 224 + ptr * k.nr_nodes), ("kmem_cache_node", 72)):
            s = slub.create_cache(name, size, S.calculate_alignment(_HW, 0, size, ptr), _HW)
            s.refcount = -1                     # "Exempt from merging for now"
            boot.append(s)
        # kmem_cache_init() makes these two before the kmalloc caches; kmemlab's Slub made
        # the kmalloc caches when it started, so they move to the front of slab_caches
        for s in reversed(boot):
            slub.slab_caches.remove(s)
            slub.slab_caches.insert(0, s)
        for c in CORE_CACHES:
            if c.when is not None and not c.when(gen):
                continue
            args = {}
            if c.usersize and gen.slab_usersize:
                args.update(useroffset=0, usersize=c.usersize)
            if c.freeptr_offset is not None:
                args["freeptr_offset"] = c.freeptr_offset
            if c.sheaf and gen.slab_sheaves:
                args["sheaf_capacity"] = c.sheaf
            ctor = KernelFunction(c.ctor) if c.ctor else None
            size = c.object_size
            if c.plus_xstate:
                size += k.xstate_size
                if "usersize" in args:
                    args["usersize"] += k.xstate_size
            s = slub.kmem_cache_create(c.name, size, c.align, c.flags, ctor, **args)
            if s is not None:
                self.caches[c.name] = s
        self.caches["cred"] = self.caches.get("cred") or self.caches.get("cred_jar")

    def cache_objects(self) -> None:
        """Every cache is a ``struct kmem_cache`` from kmem_cache with one ``kmem_cache_node``
        per node (the bootstrap caches' own included: ``bootstrap()`` copies them in)."""
        n = len(self.slub.slab_caches)
        self.alloc("kmem_cache", n)
        self.alloc("kmem_cache_node", n * self.k.nr_nodes)

    def boot_objects(self) -> None:
        """:data:`BOOT_OBJECTS`, with a share of temporary ones among them."""
        k = self.k
        scale = _scale(k)
        blocks = max(1, k.mem >> 27)                       # 128 MiB memory blocks
        for b in BOOT_OBJECTS:
            n = int(b.base * scale) + b.per_cpu * k.nr_cpus + b.per_block * blocks
            if b.cache == "kernfs_node_cache":
                n += self.slab_sysfs_nodes()
            temp = int(n * TEMPORARY_SHARE)
            live: list = []
            self.alloc(b.cache, n + temp, live)
            idx = self.rng.permutation(len(live))[:temp]
            self.temporary += [live[i] for i in idx]

    def slab_sysfs_nodes(self) -> int:
        """kernfs nodes of /sys/kernel/slab: a directory and its attribute files per cache,
        a link per alias."""
        from .slab_sysfs import attributes, sysfs_name
        k = self.k
        nattr = len(attributes(k))
        n = 0
        for s in self.slub.slab_caches:
            n += 1 + nattr + (sysfs_name(k, s) != s.name) + len(s.alias_names)
        return n

    # -- tasks ---------------------------------------------------------------------------

    def fork(self, comm: str, cpu: int, user: bool, caller: str = "") -> Task:
        """copy_process(): dup_task_struct() (task_struct + stack), copy_creds(), copy_files()
        and copy_fs() (shared by kernel threads), copy_sighand(), copy_signal(), copy_mm() (a
        user process; kernel threads have none), alloc_pid()."""
        k = self.k
        t = Task(self.bs.next_pid, comm, cpu)
        self.bs.next_pid += 1
        old, k.cpu = k.cpu, cpu                  # the parent runs on that CPU (its slabs)
        try:
            self.alloc("task_struct", 1, t.objs)
            self.alloc_stack(t, caller or _ksym(k, k.gen.stack_caller, "+0xb8/0x400"))
            for name in ("cred", "sighand_cache", "signal_cache", "pid"):
                self.alloc(name, 1, t.objs)
            if user:
                for name in ("files_cache", "fs_cache"):
                    self.alloc(name, 1, t.objs)
            else:
                self.alloc("kmalloc-256", 1, t.objs)          # struct kthread
        finally:
            k.cpu = old
        self.bs.tasks.append(t)
        return t

    def alloc_stack(self, t: Task, caller: str) -> None:
        """alloc_thread_stack_node(): VMAP_STACK (x86-64, 4.9+) takes a cached stack of this
        CPU or ``__vmalloc_node_range(THREAD_SIZE, THREAD_ALIGN, ...)`` (a 16 KiB-aligned area
        plus its guard page); without it, THREAD_SIZE_ORDER pages from the buddy allocator.
        Either way the stack counts in KernelStack."""
        k = self.k
        size = THREAD_SIZE[k.profile.bits]
        if k.gen.vmap_stack and k.profile.bits == 64:
            cached = self.bs.cached_stacks.get(t.cpu)
            if cached:
                t.stack = cached.pop()
            else:
                # THREADINFO_GFP & ~__GFP_ACCOUNT: GFP_KERNEL | __GFP_ZERO
                t.stack = k.vmalloc.vmalloc_node_range(size, size, self.gfp | G.F_ZERO,
                                                       k.cpu_to_node(t.cpu), caller)
            t.stack_kind = "vmap"
        else:
            order = (size >> k.profile.page_shift).bit_length() - 1
            t.stack = k.buddy.alloc(self.gfp | G.F_ZERO, order, K_PAGES, 0, k.cpu_to_node(t.cpu))
            t.stack_kind = "pages"
        if t.stack <= 0:
            raise self.oom(f"the kernel stack of {t.comm}")
        k.vmstat["nr_kernel_stack_kb"] += size >> 10

    def exit(self, t: Task) -> None:
        """The task exits: free_task() returns its stack (VMAP: to this CPU's cache while it
        has room, else vfree()), its objects and its address space."""
        k = self.k
        size = THREAD_SIZE[k.profile.bits]
        k.vmstat["nr_kernel_stack_kb"] -= size >> 10
        if t.stack_kind == "vmap":
            cache = self.bs.cached_stacks.setdefault(t.cpu, [])
            if len(cache) < NR_CACHED_STACKS:
                cache.append(t.stack)
            else:
                k.vmalloc.vfree(t.stack)
        else:
            k.buddy.free(t.stack, (size >> k.profile.page_shift).bit_length() - 1)
        self.exit_mm(t)
        self.free_objects(t.objs)
        self.bs.tasks.remove(t)

    def exec_mm(self, t: Task, spec: UserTask) -> None:
        """mm_alloc() + the VMAs of an exec'd program: mm_struct, vm_area_structs, their maple
        tree nodes and anon_vmas, page-table pages (pgd_alloc(), pte_alloc_one()), a few
        anonymous pages (GFP_HIGHUSER_MOVABLE) and open files."""
        k = self.k
        r = self.rng
        pick = lambda lo_hi: int(r.integers(lo_hi[0], lo_hi[1] + 1))
        vmas = pick(spec.vmas)
        anon_vmas = vmas // 4
        self.alloc("mm_struct", 1, t.mm_objs)
        self.alloc("vm_area_struct", vmas, t.mm_objs)
        self.alloc("maple_node", -(-vmas // 10) + 1, t.mm_objs)
        self.alloc("anon_vma", anon_vmas, t.mm_objs)
        self.alloc("anon_vma_chain", 2 * anon_vmas, t.mm_objs)
        self.alloc("filp", pick(spec.files), t.mm_objs)
        self.alloc("kmalloc-cg-64", 4, t.mm_objs)
        self.alloc("kmalloc-cg-1k", 1, t.mm_objs)          # the fdtable
        pt_gfp = self.gfp | G.F_ACCOUNT | G.F_ZERO           # GFP_PGTABLE_USER
        for _ in range(pick(spec.pgtables)):
            pfn = k.buddy.alloc(pt_gfp, 0, K_PGTABLE)
            if pfn < 0:
                raise self.oom(f"the page tables of {t.comm}")
            t.pgtables.append(pfn)
            k.vmstat["nr_page_table_pages"] += 1
        nr = max(1, int(pick(spec.anon_kb) * _scale(k)) >> (k.profile.page_shift - 10))
        t.anon = k.buddy.alloc_bulk(int(G.GFP_HIGHUSER_MOVABLE), nr, K_USER)
        while len(t.anon) < nr:                              # the bulk allocator may stop short
            pfn = k.buddy.alloc(int(G.GFP_HIGHUSER_MOVABLE), 0, K_USER)
            if pfn < 0:
                raise self.oom(f"the pages of {t.comm}")
            t.anon.append(pfn)

    def exit_mm(self, t: Task) -> None:
        k = self.k
        if t.anon:
            k.buddy.free_bulk(t.anon)
        for pfn in t.pgtables:
            k.buddy.free(pfn, 0)
        k.vmstat["nr_page_table_pages"] -= len(t.pgtables)
        self.free_objects(t.mm_objs)
        t.anon, t.pgtables, t.mm_objs = [], [], []

    # -- vmalloc space -------------------------------------------------------------------

    def ioremap(self, m: IoMap) -> None:
        k = self.k
        pt = k.pgtable
        prot = pt.page_kernel | (_PAGE_PCD if m.cache == "uc-" else 0)
        caller = _ksym(k, m.caller.split("+")[0], "+" + m.caller.split("+", 1)[1])
        addr = k.vmalloc.ioremap(m.phys, m.size, prot, caller)
        if addr and m.unmapped:
            k.vmalloc.iounmap(addr)

    def irq_stack(self, cpu: int) -> None:
        """arch/x86/kernel/irq_64.c ``map_irq_stack()``: the CPU's IRQ stack, a page-aligned
        per-CPU variable, vmap()ed again so that it has a guard page below it."""
        k = self.k
        if not (k.gen.irq_stack_vmap and k.profile.bits == 64):
            return
        n = THREAD_SIZE[64] >> k.profile.page_shift                 # IRQ_STACK_SIZE = 16 KiB
        pfns = [k.percpu.first_chunk_pfn(cpu, 1 + i) for i in range(n)]
        k.vmalloc.vmap(pfns, 0, _ksym(k, "irq_init_percpu_irqstack", "+0xed/0x120"))

    def temporary_pages(self, n: int) -> None:
        """Pages an initcall takes for a while (firmware buffers, an unpacked initramfs
        archive, a device probe): mostly single pages, some small blocks."""
        k = self.k
        orders = self.rng.choice([0, 0, 0, 0, 1, 1, 2, 3], size=n)
        for o in orders.tolist():
            pfn = k.buddy.alloc(self.gfp, o, K_PAGES)
            if pfn >= 0:
                self.temp_pages.append((pfn, o))

    def drop_temporary(self) -> None:
        """The temporary objects and pages go back, in no particular order and on whichever
        CPU the freeing work (a kworker, an RCU callback) runs: a slab that was full goes onto
        that CPU's partial list (put_cpu_partial()), a page onto that CPU's page list
        (free_unref_page()), so every CPU ends up with some, as on a real box."""
        k = self.k
        rng = self.rng
        old = k.cpu
        free = self.slub.kmem_cache_free
        objs = self.temporary
        cpus = rng.integers(0, k.nr_cpus, size=len(objs)).tolist()
        for i, cpu in zip(rng.permutation(len(objs)).tolist(), cpus):
            k.cpu = cpu
            free(*objs[i])
        cpus = rng.integers(0, k.nr_cpus, size=len(self.temp_pages)).tolist()
        for i, cpu in zip(rng.permutation(len(self.temp_pages)).tolist(), cpus):
            pfn, o = self.temp_pages[i]
            k.cpu = cpu
            k.buddy.free(pfn, o)
        k.cpu = old
        self.temporary, self.temp_pages = [], []

    # -- the sequence ----------------------------------------------------------------------

    def run(self) -> None:
        k = self.k
        log = k.log
        self.create_core_caches()
        self.cache_objects()
        self.irq_stack(0)                                   # init_IRQ()
        for m in ACPI_MAPS:                                 # acpi_early_init()
            self.ioremap(m)
        chunk = k.percpu.create_chunk()                     # the first dynamic percpu use past 28 KiB
        if chunk is not None:
            k.percpu.populate(chunk, PCPU_CHUNK_PAGES)
        # rest_init(): kernel_init becomes pid 1 (its task_struct is init_task's copy), kthreadd pid 2
        init = self.fork("init", 0, True)                   # kernel_init(): execs /sbin/init later
        ncpu, nnode = k.nr_cpus, k.nr_nodes
        names = [(n.format(ncpu=ncpu), 0) for n in KTHREADS["global"]]
        names += [(n.format(node=node), node * ncpu // nnode) for node in range(nnode)
                  for n in KTHREADS["per_node"]]
        per_cpu = [(n.format(cpu=cpu), cpu) for cpu in range(ncpu) for n in KTHREADS["per_cpu"]]
        early = [n for n in per_cpu if n[1] == 0]
        late = [n for n in per_cpu if n[1] != 0]
        for comm, cpu in names[:12] + early:
            self.fork(comm, cpu, False)
        for cpu in range(1, ncpu):                          # smp_init(): idle tasks, then bring-up
            self.fork(f"swapper/{cpu}", cpu, False, _ksym(k, "fork_idle", "+0x9e/0x150"))
            self.irq_stack(cpu)
        for comm, cpu in late + names[12:]:
            self.fork(comm, cpu, False)
        # initcalls
        for m in LATE_MAPS:
            self.ioremap(m)
        self.temporary_pages(int(256 * _scale(k)) + 32 * ncpu)
        self.boot_objects()
        self.drop_temporary()
        # user space: init execs, starts the services; helpers run and exit among them
        self.exec_mm(init, USER_TASKS[0])
        helpers = []
        for i, spec in enumerate(USER_TASKS[1:]):
            cpu = i % ncpu
            t = self.fork(spec.comm, cpu, True)
            self.exec_mm(t, spec)
            h = self.fork(TRANSIENT_TASKS[i % len(TRANSIENT_TASKS)].comm, (i + 1) % ncpu, True)
            self.exec_mm(h, TRANSIENT_TASKS[i % len(TRANSIENT_TASKS)])
            helpers.append(h)
        for i in self.rng.permutation(len(helpers)).tolist():
            self.exit(helpers[i])
        self.vmap_area_objects()
        log.info(f"Run /sbin/init as init process")

    def vmap_area_objects(self) -> None:
        """One ``vmap_area`` per busy, lazily freed and free range of the vmalloc space
        (5.2+), and a ``vm_struct`` (kzalloc) per mapped area; counted here once."""
        v = self.k.vmalloc
        if self.cache("vmap_area") is not None:
            self.alloc("vmap_area", len(v.busy) + len(v.purge) + len(v.free_start))
        self.alloc("kmalloc-96", len(v.busy))


def boot_init(k) -> None:
    """Run the boot sequence on a machine whose allocators are up (called by machine.py's
    ``_boot()`` after ``vmalloc_init()``)."""
    from .percpu import check_percpu
    _Boot(k).run()
    k.invariant_checks.append(check_percpu)
