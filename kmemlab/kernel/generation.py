"""Kernel generations: every difference between the releases kmemlab follows, in one table.

Think of the kernel's history as a stack of index cards, one per change: "from 5.13 on,
``__alloc_pages_nodemask()`` is called ``__alloc_pages()``". A machine booted with
``Machine(kernel="6.6")`` takes the cards up to 6.6 and ignores the rest. That stack is
:data:`CHANGES`: each row names the first release that has a change, the attribute of
:class:`Generation` it sets, the new value, what changed in a few words, and where it
shows in the kernel (a commit, or the file and function to read).

A :class:`Generation` is computed once, when a machine boots (``k.gen``). The model asks
it named questions — ``k.gen.kmalloc_cg_caches``, ``k.gen.name("__vmalloc_node_range")``,
``k.gen.chain("vfree")`` — and never compares version numbers itself, so adding a release
is adding rows here. ``docs/kernel-generations.md`` is generated from this table
(``python -m kmemlab.kernel.generation > docs/kernel-generations.md``) and a test checks
that it is up to date and that every attribute is used by the model.

Function names. ``name(role)`` gives the generation's spelling of one function; the role
is the function's v6.6 name (or its name in the release that has it). ``chain(role)``
gives the functions a call passes through, outermost first (a name written ``=name`` in
a chain is taken as it is: a function that lost its ``_noprof`` again). Two rules apply to every
name: the memory-allocation-profiling rename of v6.10 (``alloc_hooks()``: the allocator
entry points listed in :data:`NOPROF` became ``*_noprof``), applied last, and
:meth:`Generation.inlined`, which says whether the real kernel inlines a function (so
ftrace never shows it). The inlined set was checked against a real 6.18 kernel's
``/proc/kallsyms``; for older generations it is the same set, a simplification (a few
functions changed between inline and out-of-line over the years).

How sure each row is: ``source`` cites a commit id where one was read, a file where the
code was read, or "real 6.18" where it was seen on a running 6.18 kernel (this project's
CI machines). A release marked ``≈`` in ``source`` was dated from the commit's merge
window rather than read from the release's tree.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

__all__ = ["Change", "Generation", "CHANGES", "GENERATIONS", "DEFAULT_KERNEL", "NOPROF",
           "INLINED", "get_generation", "parse_release", "markdown"]

#: The releases a Machine can boot (``Machine(kernel=...)``): the seed article's 4.5, the
#: long-term kernels people run, the 2025 long-term kernel that this project's CI
#: machines run, and 7.0 (2026: per-CPU sheaves instead of CPU slabs, what current
#: distribution kernels run; not long-term).
GENERATIONS = ("4.5", "4.14", "4.19", "5.4", "5.10", "5.15", "6.1", "6.6", "6.8", "6.12", "6.18", "7.0")
#: The default: the newest long-term kernel (6.18, December 2025), which is also what the
#: machines this project is tested on run, so a default machine can be compared with the
#: real one in front of you (``cat /proc/slabinfo``, ``/sys/kernel/slab``, tracefs).
DEFAULT_KERNEL = "6.18"


class Change(NamedTuple):
    """One row of the table: from ``release`` on, ``attr`` has ``value``."""
    release: str
    attr: str
    value: Any
    what: str
    source: str


def parse_release(release: str) -> tuple[int, int]:
    """"6.12" -> (6, 12)."""
    major, minor = release.split(".")
    return int(major), int(minor)


# -- what a 4.5 kernel does: the values before the first row ------------------------------
# Every attribute a Generation has is listed here, with the oldest modelled behaviour.
BASE: dict[str, Any] = {
    # page allocator (mm/page_alloc.c)
    "max_order_inclusive": False,     # MAX_ORDER = 11 (orders 0..10) or = 10 (inclusive)
    "max_order_macro": "MAX_ORDER",
    "min_free_kbytes_max": 65536,
    "rmqueue_buddy": False,
    "warn_alloc_failed": True,        # warn_alloc_failed() and its format (before 4.10)
    "mode_pGg": False,                # "mode:%#x(%pGg)" (4.6+); 4.5 prints "mode:0x%x"
    "cpuset_on_failure_line": False,  # ",cpuset=/,mems_allowed=0" appended (5.0+)
    "order_warn_site": "mm/page_alloc.c:2998",   # the WARN_ON_ONCE of an order too large
    "warn_symbol_parens": True,       # "WARNING: ... at file:line func+0x../0x..()" (4.x)
    # per-CPU page lists (mm/page_alloc.c, include/linux/mmzone.h; see kernel/pcp.py)
    "pcp_high_order": False,          # the lists hold orders 1-3 and the THP order too
    "pcp_thp_lists": 1,               # NR_PCP_THP: one THP list, later movable + the others
    "pcp_batch_max_kb": 512,          # zone_batchsize(): "~0.1% of the zone or" this much
    "pcp_tuning": "fixed",            # how high/batch are set and used: fixed, split_high, auto
    "pcp_drain_pageblock_mt": False,  # free_pcppages_bulk() frees to the pageblock's type now
    "rmqueue_pcplist": False,         # rmqueue() -> rmqueue_pcplist() -> __rmqueue_pcplist()
    "page_del_and_expand": False,     # __rmqueue_smallest() -> page_del_and_expand() -> expand()
    # a bad __free_pages() (free_page_is_bad(), bad_page(), mm/debug.c dump_page())
    "slab_page_type": False,          # PageSlab is a page type in _mapcount, not PG_slab
    "slab_page_frozen": False,        # slab pages are frozen: refcount 0 while in use
    "dump_page_line": "page:{page:016x} count:{refcount} mapcount:0 mapping:          (null) index:0x0",
    "dump_page_bad_flags": True,      # bad_page() adds "bad because of flags:"
    "put_page_testzero_site": "include/linux/mm.h:367",   # its VM_BUG_ON_PAGE(refcount == 0)
    # GFP (include/linux/gfp.h, include/trace/events/mmflags.h)
    "gfp_layout": "4.5",
    "gfp_atomic_bit": 0x80000,        # ___GFP_ATOMIC in GFP_ATOMIC (0: no such bit)
    "gfp_nowait_nowarn": False,
    "gfp_names_bit_order": False,     # %pGg's single-bit names in bit order (else 6.6's list)
    # SLUB and kmalloc (include/linux/slab.h, mm/slab_common.c, mm/slub.c)
    "kmalloc_caches_by_type": False,  # kmalloc_caches[type][index] (else [index] + dma array)
    "kmalloc_rcl_caches": False,
    "kmalloc_cg_caches": False,
    "kmalloc_kilo_names": False,      # kmalloc-1k (else kmalloc-1024)
    "kmalloc_pow2_align": False,
    "kmalloc_align_pow2_divisor": False,
    "kmalloc_dma_inline": False,      # constant-size kmalloc(GFP_DMA) stays inline
    "kmalloc_zero_via_kmalloc": False,
    "kmalloc_large_accounted": False,
    "kmem_buckets": False,
    "slab_kmalloc_flag": False,
    "kmalloc_orig_size": False,
    "freeptr_mid_object": False,
    "slab_freeptr_offset": False,     # kmem_cache_args.freeptr_offset: an RCU cache's free pointer in the object
    "slab_track_stackdepot": False,
    "new_slab_objects": True,
    "slab_usersize": False,           # kmem_cache_create_usercopy(): caches carry a usercopy region
    "slab_bug_mask_fixup": False,     # new_slab() fixes GFP_SLAB_BUG_MASK bits (else BUG())
    "kmalloc_large_fix_flags": False, # kmalloc_large() fixes them too
    "kfree_nonslab_check": "bug",     # kfree() of a non-slab, non-compound page: "bug", "none", "warn"
    "slab_cpu_partial_slabs": False,  # CPU partial lists sized in slabs (cpu_partial_slabs), not pobjects
    "slab_cpu_partial_objects": (2, 6, 13, 30),   # set_cpu_partial(): size >= PAGE_SIZE, >= 1024, >= 256, else
    "slab_cpu_partial_frozen": True,  # CPU partial slabs are frozen
    "kmalloc_redzone": False,         # the bytes after kmalloc's orig_size are checked ("kmalloc Redzone")
    "krealloc_orig_size": False,      # __do_krealloc() uses orig_size and re-poisons the red zone
    "kmalloc_create_96_192_first": False,  # create_kmalloc_caches(): kmalloc-96/-192 before kmalloc-8
    "slab_alloc_try_thisnode": False, # ___slab_alloc(): a node request tries that node alone first
    "random_kmalloc_caches": False,   # CONFIG_RANDOM_KMALLOC_CACHES exists
    "kmem_cache_destroy_unlinks": False,  # a failed destroy still unlinks the cache
    "slab_sheaves": False,            # per-CPU sheaves: /sys/kernel/slab/*/sheaf_capacity
    "slab_sheaves_unmergeable": False,  # a cache with sheaves is never merged
    "slab_sheaves_all": False,        # every cache gets sheaves (calculate_sheaf_capacity())
    "slab_cpu_slab": True,            # struct kmem_cache_cpu: CPU slabs, CPU partial lists
    "slab_never_merge_consistency": False,  # SLAB_CONSISTENCY_CHECKS is in SLAB_NEVER_MERGE
    "slab_alloc_node_split": False,   # __slab_alloc_node() below slab_alloc_node()
    "kmem_cache_alloc_node_step": False,  # kmalloc_trace()/__do_kmalloc_node() -> __kmem_cache_alloc_node()
    # vmalloc (mm/vmalloc.c, mm/util.c)
    "vmalloc_node_flags": True,       # vmalloc() -> __vmalloc_node_flags() (before 5.8)
    "vmalloc_api_highmem": True,      # vmalloc() passes GFP_KERNEL | __GFP_HIGHMEM (before 5.8)
    "vmalloc_kmem_pages": True,       # pages by alloc_kmem_pages() (4.5 and 4.6 only)
    "vmalloc_bulk": False,
    "vmalloc_bulk_mempolicy": False,
    "vmalloc_old_messages": True,
    "vmalloc_map_names": "map_vm_area",
    "vmalloc_kmsan_wrapper": False,
    "vmalloc_unmap_name": "unmap_vmap_area",
    "find_unlink_vmap_area": False,
    "vfree_unaligned_warns": False,
    "vmallocinfo_purge_after": False,
    "vmalloc_pud_prealloc": False,
    "p4d_level": False,               # the p4d level in the page-table walkers (4.11+)
    "kvmalloc_nofs_fallback": False,
    "kvmalloc_int_max": False,
    "kvmalloc_int_max_nowarn": False,
    "kvmalloc": False,                # kvmalloc() and friends (4.12+)
    "vmemdup_user": False,
    "kvmalloc_warn_site": "",
    "vmalloc_size0_warn_site": "",
    "free_large_kmalloc_warn_site": "",
    "ksize_warn_site": "mm/slab_common.c:1101",
    "prefill_sheaf_warn_site": "",  # kmem_cache_prefill_sheaf() on a cache without sheaves
    "kvmalloc_no_direct_reclaim": False,
    "vrealloc": False,
    "vrealloc_requested_size": False,  # vm_struct remembers the requested size (6.15+)
    "vrealloc_warn_site": "mm/vmalloc.c:4083",
    # the kmem tracepoints (include/trace/events/kmem.h) and tracefs
    "kmem_ptr_hashed": False,         # %p prints a hash (4.15+), not the address
    "kmem_call_site_symbolic": False, # call_site=%pS (else %lx)
    "kmem_pfn_hex": False,            # pfn=0x%lx (else %lu)
    "kmem_free_name": False,          # kmem_cache_free: name=%s
    "kmem_accounted": False,          # accounted=%s on the alloc events
    "kmem_unified_node": False,       # node=%d on kmalloc/kmem_cache_alloc (no *_node events)
    "kmem_cache_alloc_name": False,   # kmem_cache_alloc: name=%s
    "kmalloc_large_double_event": False,
    "tracefs_migrate_disable": False, # the 5-flag columns and 7-digit pids of today's trace
    # /proc/meminfo field list (fs/proc/meminfo.c)
    "meminfo_vmalloc_used": False,
    "meminfo_shmem_huge": False,
    "meminfo_hugetlb": False,
    "meminfo_percpu": False,
    "meminfo_kreclaimable": False,
    "meminfo_file_huge": False,
    "meminfo_zswap": False,
    "meminfo_secpagetables": False,
    "meminfo_balloon": False,
    # /proc/zoneinfo (mm/vmstat.c zoneinfo_show_print)
    "zoneinfo_boost": False,
    "zoneinfo_promo": False,
    "zoneinfo_cma": False,
    "zoneinfo_per_node": False,       # a "per-node stats" block, node_unreclaimable (node LRU)
    "zoneinfo_all_zones": False,      # unpopulated zones too (up to "protection")
    "zoneinfo_pcp_high_min_max": False,   # pagesets print high_min and high_max
    # the vmstat counters zoneinfo prints (mm/vmstat.c vmstat_text[], x86_64 distribution
    # config: NUMA, ZSMALLOC, SWAP, NUMA_BALANCING, IOMMU_SUPPORT; no UNACCEPTED_MEMORY)
    "zoneinfo_zone_stats": (
        "nr_free_pages", "nr_alloc_batch", "nr_inactive_anon", "nr_active_anon", "nr_inactive_file",
        "nr_active_file", "nr_unevictable", "nr_mlock", "nr_anon_pages", "nr_mapped", "nr_file_pages",
        "nr_dirty", "nr_writeback", "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_page_table_pages",
        "nr_kernel_stack", "nr_unstable", "nr_bounce", "nr_vmscan_write", "nr_vmscan_immediate_reclaim",
        "nr_writeback_temp", "nr_isolated_anon", "nr_isolated_file", "nr_shmem", "nr_dirtied", "nr_written",
        "nr_pages_scanned", "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local",
        "numa_other", "workingset_refault", "workingset_activate", "workingset_nodereclaim",
        "nr_anon_transparent_hugepages", "nr_free_cma"),
    "zoneinfo_node_stats": (),
    # the memory-allocation-profiling rename (see NOPROF)
    "noprof": False,
    # functions this generation inlines on top of INLINED (4.x: alloc_pages() was inline)
    "inlined_extra": frozenset({"alloc_pages"}),
    # Function names that are not just the profiling rename: role -> a name, or a chain
    # (a tuple, outermost first). A role is the function's v6.6 name, or, for a chain,
    # "<path>_chain". These are 4.5's (CONFIG_NUMA, as distributions build it).
    "names": {
        # what other allocators call to get pages (alloc_pages_node() and friends are
        # inline wrappers of the entry)
        "__alloc_pages_chain": ("__alloc_pages_nodemask",),
        # alloc_pages() itself: the mempolicy functions above the entry
        # (4.x: alloc_pages() is an inline wrapper of alloc_pages_current())
        "alloc_pages_chain": ("alloc_pages", "alloc_pages_current", "__alloc_pages_nodemask"),
        # SLUB's alloc_slab_page() for NUMA_NO_NODE
        "alloc_slab_page_chain": ("alloc_pages", "alloc_pages_current", "__alloc_pages_nodemask"),
        # kmalloc_large() after its own functions
        "kmalloc_large_pages_chain": ("alloc_pages", "alloc_pages_current", "__alloc_pages_nodemask"),
        # __kmalloc_node()'s large path for NUMA_NO_NODE, after its own functions
        "__kmalloc_node_large_pages_chain": ("__alloc_pages_nodemask",),
        "rmqueue": "buffered_rmqueue",
        "__rmqueue_fallback": "__rmqueue_fallback",
        "steal_suitable_fallback": "steal_suitable_fallback",
        # __free_pages() of a block the per-cpu lists do not take (4.5: order > 0)
        "free_pages_chain": ("__free_pages", "__free_pages_ok", "free_one_page"),
        "free_slab_pages_chain": ("__free_pages", "__free_pages_ok", "free_one_page"),
        # ... and of one they take (4.5: order 0), down to the function that adds it to the list
        "free_pages_pcp_chain": ("__free_pages", "free_hot_cold_page"),
        "free_slab_pages_pcp_chain": ("__free_pages", "free_hot_cold_page"),
        "kmalloc_cache_chain": ("kmem_cache_alloc_trace", "slab_alloc"),
        "kmalloc_cache_node_chain": ("kmem_cache_alloc_node_trace",),
        "kmalloc_large_chain": ("kmalloc_large", "kmalloc_order_trace", "kmalloc_order", "alloc_kmem_pages"),
        "kmalloc_large_node_chain": ("kmalloc_large_node", "alloc_kmem_pages_node"),
        "__kmalloc_chain": ("__kmalloc",),
        "__kmalloc_node_chain": ("__kmalloc_node",),
        # what __kmalloc_node() (6.1+ __do_kmalloc_node()) calls for a size above
        # KMALLOC_MAX_CACHE_SIZE, before the page allocator
        "__do_kmalloc_node_large_chain": ("kmalloc_large_node", "alloc_kmem_pages_node"),
        "kvmalloc_kmalloc_chain": ("__kmalloc_node",),
        "kmem_cache_alloc_chain": ("kmem_cache_alloc", "slab_alloc"),
        # kfree() of a slab object, and kmem_cache_free(), down to the free fast path
        # (4.5: slab_free() is the fast path itself)
        "kfree_slab_chain": ("slab_free",),
        "slab_free_chain": ("slab_free",),
        # what krealloc() allocates with (kmalloc_track_caller())
        "kmalloc_track_caller_chain": ("__kmalloc_track_caller",),
        # the function whose name the cache-creation failure message prints (__func__)
        "kmem_cache_create": "kmem_cache_create",
        # a CPU partial list going to the node partial lists
        "__put_partials": "unfreeze_partials",
        "kfree_large": "__free_kmem_pages",
        "free_debug_processing": "free_debug_processing",
        "__alloc_pages_bulk": "__alloc_pages_bulk",
        "alloc_pages_bulk_array_mempolicy": "alloc_pages_bulk_array_mempolicy",
        "kvmalloc_node": "kvmalloc_node",
        "vfree_chain": ("vfree", "__vunmap"),
        "kvmalloc_chain": ("__vmalloc_node_flags_caller", "__vmalloc_node"),
    },
}

def _with(names: tuple, after: str, *new: str) -> tuple:
    """``names`` with ``new`` inserted after ``after`` (a counter added to an enum)."""
    i = names.index(after) + 1
    return names[:i] + new + names[i:]


#: mm/vmstat.c vmstat_text[]: the zone and node counters zoneinfo prints, 5.10.13's lists
#: (Rtoax/linux-5.10.13), then what later releases add or drop
_ZONE_STATS_5_10 = (
    "nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
    "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock",
    "nr_page_table_pages", "nr_bounce", "nr_zspages", "nr_free_cma", "numa_hit", "numa_miss",
    "numa_foreign", "numa_interleave", "numa_local", "numa_other")
_NODE_STATS_5_10 = (
    "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
    "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file",
    "workingset_nodes", "workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon",
    "workingset_activate_file", "workingset_restore_anon", "workingset_restore_file",
    "workingset_nodereclaim", "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty", "nr_writeback",
    "nr_writeback_temp", "nr_shmem", "nr_shmem_hugepages", "nr_shmem_pmdmapped", "nr_file_hugepages",
    "nr_file_pmdmapped", "nr_anon_transparent_hugepages", "nr_vmscan_write", "nr_vmscan_immediate_reclaim",
    "nr_dirtied", "nr_written", "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired",
    "nr_foll_pin_released", "nr_kernel_stack")
_ZONE_STATS_6_6 = tuple(n for n in _ZONE_STATS_5_10 if n != "nr_page_table_pages")
_ZONE_STATS_6_18 = _with(tuple(n for n in _ZONE_STATS_6_6 if n != "nr_bounce"), "nr_free_pages", "nr_free_pages_blocks")
_NODE_STATS_6_6 = _with(_NODE_STATS_5_10, "nr_written", "nr_throttled_written") + (
    "nr_page_table_pages", "nr_sec_page_table_pages", "nr_swapcached", "pgpromote_success", "pgpromote_candidate")
_NODE_STATS_6_8 = _NODE_STATS_6_6 + ("pgdemote_kswapd", "pgdemote_direct", "pgdemote_khugepaged")
_NODE_STATS_6_12 = _with(_NODE_STATS_6_8, "nr_sec_page_table_pages", "nr_iommu_pages")
_NODE_STATS_6_18 = _with(_with(tuple(n for n in _NODE_STATS_6_12 if n != "nr_writeback_temp"),
                               "pgpromote_candidate", "pgpromote_candidate_nrl"),
                         "pgdemote_khugepaged", "pgdemote_proactive") + (
    "nr_hugetlb", "nr_balloon_pages", "nr_kernel_file_pages")

#: The table, in release order. Where a row cites "4.5:", "6.6:" ... with a line number,
#: the code was read in a tree of that release (Makefile checked; 6.12 and 6.18 lines are
#: of 6.12.19 and 6.18.35).
CHANGES: tuple[Change, ...] = (
    # --- 4.x ---------------------------------------------------------------------------
    Change("4.6", "dump_page_line",
           "page:{page:016x} refcount:{refcount} mapcount:0 mapping:          (null) index:0x0",
           "dump_page() prints refcount: (page->_count renamed _refcount)",
           "0139aa7b7fa1 'mm: rename _count, field of the struct page, to _refcount' (≈ 4.6); 4.5: mm/debug.c"),
    Change("4.8", "zoneinfo_per_node", True,
           "zoneinfo: the node's first populated zone opens with 'per-node stats'; the LRU and most "
           "counters move there; 'node_unreclaimable:' replaces 'all_unreclaimable:'",
           "75ef71840539 'mm, vmstat: add infrastructure for per-node vmstats' (node-based LRU, ≈ 4.8)"),
    Change("4.8", "zoneinfo_zone_stats", _ZONE_STATS_5_10,
           "the per-zone counters zoneinfo prints (5.10's list)",
           "5.10.13: mm/vmstat.c vmstat_text[] (Rtoax/linux-5.10.13); ≈ for 4.8 - 5.9 and 5.11 - 6.5 (not read)"),
    Change("4.8", "zoneinfo_node_stats", _NODE_STATS_5_10,
           "the per-node counters zoneinfo prints (5.10's list)",
           "5.10.13: mm/vmstat.c vmstat_text[] (Rtoax/linux-5.10.13); ≈ for 4.8 - 5.9 and 5.11 - 6.5 (not read)"),
    Change("4.12", "rmqueue_pcplist", True,
           "rmqueue() takes order-0 pages through rmqueue_pcplist() -> __rmqueue_pcplist() (before, "
           "buffered_rmqueue() itself)", "066b23935578 'mm, page_alloc: split buffered_rmqueue()' (≈ 4.12); "
           "4.5: mm/page_alloc.c:2210"),
    Change("4.12", "zoneinfo_all_zones", True,
           "zoneinfo lists every zone, an unpopulated one up to its 'protection' line (which moves "
           "before the counters)", "'mm, vmstat: print non-populated zones in zoneinfo' (≈ 4.12); "
           "5.10.13: mm/vmstat.c zoneinfo_show()"),
    Change("4.15", "names", {"free_pages_pcp_chain": ("__free_pages", "free_unref_page", "free_unref_page_commit"),
                             "free_slab_pages_pcp_chain": ("__free_pages", "free_unref_page",
                                                           "free_unref_page_commit")},
           "free_hot_cold_page() renamed free_unref_page() (no more cold pages); the list work in "
           "free_unref_page_commit()", "2d4894b5d2ae 'mm: remove cold parameter from free_hot_cold_page*' (≈ 4.15)"),
    Change("4.15", "dump_page_line",
           "page:{page:016x} refcount:{refcount} mapcount:0 mapping:0000000000000000 index:0x0",
           "%p prints a NULL mapping as zeros", "ad67b74d2469 'printk: hash addresses printed with %p' (≈ 4.15)"),
    Change("4.19", "pcp_batch_max_kb", 1024, "zone_batchsize() caps the batch at 1 MiB (was 512 KiB)",
           "d8a759b57035 'mm, page_alloc: double zone's batchsize' (≈ 4.19); 4.5: mm/page_alloc.c:4566; "
           "5.10.13: zone_batchsize()"),
    Change("4.6", "mode_pGg", True,
           "allocation-failure reports decode the mask: mode:%#x(%pGg) (4.5 prints mode:0x%x)",
           "4.5: mm/page_alloc.c:2693 has no %pGg; 'mm, printk: introduce new format string for flags'"),
    Change("4.7", "vmalloc_kmem_pages", False,
           "vmalloc takes its pages with alloc_page()/alloc_pages_node() again, not alloc_kmem_pages()",
           "4949148ad433 (alloc_kmem_pages() removed); 4.5: mm/vmalloc.c __vmalloc_area_node()"),
    Change("4.7", "names", {"kmalloc_large_chain": ("kmalloc_large", "kmalloc_order_trace", "kmalloc_order"),
                            "kmalloc_large_node_chain": ("kmalloc_large_node", "alloc_pages_node"),
                            "__do_kmalloc_node_large_chain": ("kmalloc_large_node", "alloc_pages_node"),
                            "kfree_large": "__free_pages"},
           "large kmalloc blocks come from alloc_pages()/alloc_pages_node() (not alloc_kmem_pages*()) and go "
           "back with __free_pages()", "4949148ad433; 4.5: mm/slab_common.c:1003 kmalloc_order(), "
           "mm/slub.c:3613 kfree()"),
    Change("4.8", "meminfo_shmem_huge", True, "ShmemHugePages:, ShmemPmdMapped: in /proc/meminfo",
           "fs/proc/meminfo.c, shmem THP (≈ 4.8)"),
    Change("4.10", "warn_alloc_failed", False,
           "warn_alloc_failed() becomes warn_alloc(): '%s: %pV, mode:%#x(%pGg), nodemask=(null)', then "
           "'%s cpuset=/ mems_allowed=0' on a line of its own", "mm/page_alloc.c warn_alloc() (≈ 4.10)"),
    Change("4.10", "warn_symbol_parens", False,
           "WARNING lines print the site as %pS (no '()' after it)",
           "4.5: kernel/panic.c:464 '%pS()'; 6.6: kernel/panic.c:658 __warn() '%pS' (release of the change ≈)"),
    Change("4.10", "gfp_layout", "4.10",
           "__GFP_OTHER_NODE removed: __GFP_WRITE and __GFP_KSWAPD_RECLAIM move down a bit "
           "(GFP_KERNEL prints 0x14000c0 instead of 0x24000c0)",
           "41b6167e8f74 'mm: get rid of __GFP_OTHER_NODE'; 4.5: include/linux/gfp.h:13-38"),
    Change("4.11", "p4d_level", True, "the generic page-table code gains the p4d level (vmap_p4d_range())",
           "c2febafc6773 'mm: convert generic code to 5-level paging'; 4.5: vmap_page_range_noflush -> vmap_pud_range"),
    Change("4.12", "names", {"rmqueue": "rmqueue"}, "buffered_rmqueue() renamed rmqueue()",
           "mm/page_alloc.c (≈ 4.12); 4.5: mm/page_alloc.c:2210 buffered_rmqueue()"),
    Change("4.14", "order_warn_site", "mm/page_alloc.c:4086",
           "the order check moved to __alloc_pages_nodemask(): `if (unlikely(order >= MAX_ORDER))`",
           "mm/page_alloc.c (≈; the line of that release not read)"),
    Change("4.12", "kvmalloc", True, "kvmalloc(), kvzalloc(), kvmalloc_node(): kmalloc, else vmalloc",
           "a7c3e901a46f 'mm: introduce kv[mz]alloc helpers'"),
    Change("4.16", "vmemdup_user", True, "vmemdup_user(): memdup_user() with kvmalloc()",
           "50fd2f298bef 'new primitive: vmemdup_user()' (≈)"),
    Change("4.15", "gfp_layout", "4.15",
           "__GFP_COLD and __GFP_NOTRACK removed: GFP_KERNEL prints 0x6000c0",
           "include/linux/gfp.h of 4.15 (≈)"),
    Change("4.15", "meminfo_hugetlb", True, "Hugetlb: in /proc/meminfo",
           "fs/proc/meminfo.c hugetlb_report_meminfo() (≈)"),
    Change("4.15", "kmem_ptr_hashed", True, "%p prints a per-boot hash of the pointer (tracepoints' ptr=, page=)",
           "ad67b74d2469 'printk: hash addresses printed with %p'"),
    Change("4.16", "meminfo_percpu", True, "Percpu: in /proc/meminfo",
           "7e8a6304d541 '/proc/meminfo: add percpu populated pages count'"),
    Change("4.20", "kmalloc_caches_by_type", True,
           "kmalloc_caches[] gets a type dimension: kmalloc_caches[kmalloc_type(flags)][index]",
           "1291523f2c1d 'mm, slab/slub: introduce kmalloc-reclaimable caches'; 4.5: mm/slab_common.c:800-806"),
    Change("4.20", "kmalloc_rcl_caches", True,
           "reclaimable kmalloc caches kmalloc-rcl-* for __GFP_RECLAIMABLE", "1291523f2c1d"),
    Change("4.20", "kmalloc_dma_inline", True,
           "a constant-size kmalloc(GFP_DMA) stays on the inline path (before, it went to __kmalloc())",
           "include/linux/slab.h kmalloc(); 4.5: slab.h:451 `if (!(flags & GFP_DMA))`"),
    Change("4.20", "meminfo_kreclaimable", True, "KReclaimable: in /proc/meminfo",
           "61c5904a6c02 'mm: add KReclaimable to /proc/meminfo' (≈)"),
    # --- 5.x ---------------------------------------------------------------------------
    Change("5.8", "dump_page_bad_flags", False, "bad_page() no longer prints 'bad because of flags:'",
           "'mm, page_alloc: ... bad_flags' cleanup (≈ 5.8: 5.7-rc1 reports still print it); 6.6: "
           "mm/page_alloc.c bad_page()"),
    Change("5.14", "pcp_high_order", True,
           "the pcp lists hold orders 1-3 (PAGE_ALLOC_COSTLY_ORDER) and the THP order too, one list per "
           "order and migratetype", "44042b449872 'mm/page_alloc: allow high-order pages to be stored on "
           "the per-cpu lists' (≈ 5.14); 6.6: include/linux/mmzone.h:671"),
    Change("5.14", "pcp_tuning", "split_high",
           "pcp->high is the zone's low watermark split over the node's CPUs (zone_highsize()); "
           "consecutive frees give back more (free_factor, nr_pcp_free())",
           "'mm/page_alloc: disassociate the pcp->high from pcp->batch', 'mm/page_alloc: scale the number "
           "of pages that are batch freed' (≈ 5.14); 6.6: mm/page_alloc.c:5258, :2320"),
    Change("5.0", "gfp_layout", "5.0",
           "the GFP bits reshuffled to today's values: GFP_KERNEL prints 0xcc0", "include/linux/gfp.h of 5.0"),
    Change("5.0", "gfp_atomic_bit", 0x200, "___GFP_ATOMIC is bit 0x200", "include/linux/gfp.h of 5.0"),
    Change("5.0", "cpuset_on_failure_line", True,
           "warn_alloc() appends ',cpuset=/,mems_allowed=0' to the failure line (before: its own line)",
           "ef8444ea01d7 'mm, oom: reorganize the oom report in dump_header' (v5.0-rc1)"),
    Change("5.0", "kmalloc_kilo_names", True, "kmalloc cache names kmalloc-1k .. kmalloc-8k (were kmalloc-1024 ..)",
           "mm/slab_common.c kmalloc_info[]; 4.5: slab_common.c:883-897"),
    Change("5.0", "names", {"vfree_chain": ("vfree", "__vfree", "__vunmap")}, "vfree() -> __vfree() -> __vunmap()",
           "mm/vmalloc.c"),
    Change("5.14", "zoneinfo_boost", True, "zoneinfo prints 'boost' (watermark boosting, which 5.0 added)",
           "the print came after 'cma' (lore patch 'mm/vmstat: ... boost' against a zoneinfo with cma); "
           "not in 5.10.13's zoneinfo_show_print() (Rtoax/linux-5.10.13 mm/vmstat.c); 6.6: mm/vmstat.c (≈ 5.14)"),
    Change("5.2", "vmallocinfo_purge_after", True,
           "/proc/vmallocinfo lists lazily freed areas after the busy ones (show_purge_info())",
           "mm/vmalloc.c s_show()"),
    Change("5.3", "meminfo_vmalloc_used", True, "VmallocUsed: counts vmalloc pages (0 in 4.4 - 5.2)",
           "97105f0ab7b8 'mm: vmalloc: show number of vmalloc pages in /proc/meminfo'"),
    Change("5.4", "kmalloc_pow2_align", True,
           "power-of-two kmalloc caches are aligned to their size",
           "59bb47985c1d 'mm, sl[aou]b: guarantee natural alignment for kmalloc(power-of-two)'"),
    Change("5.4", "meminfo_file_huge", True, "FileHugePages:, FilePmdMapped: in /proc/meminfo",
           "60fbf0ab5da1 'mm,thp: stats for file backed THP' (≈)"),
    Change("5.7", "freeptr_mid_object", True,
           "the free pointer moves to the middle of the object (s->offset = object_size / 2)",
           "3202fa62fb43 'slub: relocate freelist pointer to middle of object'"),
    Change("5.7", "min_free_kbytes_max", 262144, "min_free_kbytes' upper clamp 64 MiB -> 256 MiB",
           "59d336bdf693 'mm/page_alloc: increase default min_free_kbytes bound'"),
    Change("5.8", "vmalloc_node_flags", False, "vmalloc() calls __vmalloc_node() directly",
           "mm/vmalloc.c, the __vmalloc() cleanup of 5.8; 4.5: vmalloc.c:1721 __vmalloc_node_flags()"),
    Change("5.8", "vmalloc_api_highmem", False,
           "vmalloc() passes GFP_KERNEL; __vmalloc_area_node() adds __GFP_HIGHMEM for the pages",
           "mm/vmalloc.c; 4.5: vmalloc.c:1737 `GFP_KERNEL | __GFP_HIGHMEM`"),
    Change("5.8", "vmalloc_map_names", "map_kernel_range",
           "map_vm_area() -> map_kernel_range(); vmap_page_range() gone", "mm/vmalloc.c"),
    Change("5.8", "vmalloc_unmap_name", "unmap_kernel_range_noflush", "unmap step: unmap_kernel_range_noflush()",
           "mm/vmalloc.c"),
    Change("5.8", "names", {"kvmalloc_chain": ("__vmalloc_node",)}, "kvmalloc_node() falls back through __vmalloc_node()",
           "mm/util.c kvmalloc_node()"),
    Change("5.9", "kmalloc_large_accounted", True,
           "kmalloc_large() blocks count in Slab:/SUnreclaim: (NR_SLAB_UNRECLAIMABLE_B)",
           "6a486c0ad4dc 'mm, sl[ou]b: improve memory accounting' (≈)"),
    Change("5.9", "vmalloc_pud_prealloc", True,
           "x86-64 preallocates the vmalloc area's PUD pages (P4D on 5-level) at boot",
           "6eb82f994026 'x86/mm: Pre-allocate P4D/PUD pages for vmalloc area' (x86-mm pull of 2020-08-03); "
           "6.18: arch/x86/mm/init_64.c:1325 preallocate_vmalloc_pages()"),
    Change("5.13", "names", {"__alloc_pages_chain": ("__alloc_pages",),
                             "alloc_pages_chain": ("alloc_pages", "__alloc_pages"),
                             "alloc_slab_page_chain": ("alloc_pages", "__alloc_pages"),
                             "kmalloc_large_pages_chain": ("alloc_pages", "__alloc_pages"),
                             "__kmalloc_node_large_pages_chain": ("__alloc_pages",),
                             "free_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok",
                                                  "free_one_page"),
                             "free_slab_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok",
                                                       "free_one_page"),
                             "free_pages_pcp_chain": ("__free_pages", "free_the_page", "free_unref_page",
                                                      "free_unref_page_commit"),
                             "free_slab_pages_pcp_chain": ("__free_pages", "free_the_page", "free_unref_page",
                                                           "free_unref_page_commit")},
           "__alloc_pages_nodemask() -> __alloc_pages(), alloc_pages_current() -> alloc_pages(); "
           "free_the_page() between __free_pages() and __free_pages_ok() / free_unref_page()",
           "'mm/page_alloc: combine __alloc_pages and __alloc_pages_nodemask', 'mm/mempolicy: rename "
           "alloc_pages_current to alloc_pages' (≈ 5.13)"),
    Change("5.13", "inlined_extra", frozenset(), "alloc_pages() is a real function (in mm/mempolicy.c)",
           "4.5: include/linux/gfp.h:444-470 (inline); 6.6: mm/mempolicy.c:2281"),
    Change("5.13", "vmalloc_bulk", True,
           "vmalloc takes its pages from the bulk allocator (vm_area_alloc_pages(), __alloc_pages_bulk(), "
           "at most 100 a call)", "5c1f4e690eec 'mm/vmalloc: switch to bulk allocator in __vmalloc_area_node()'"),
    Change("5.13", "vmalloc_old_messages", False,
           "vmalloc failures print 'vmalloc error: size N, ...' (were 'vmalloc: allocation failure ...')",
           "mm/vmalloc.c __vmalloc_node_range(), __vmalloc_area_node(); 4.5: vmalloc.c:1625, :1687"),
    Change("5.13", "vmalloc_map_names", "vmap_pages_range",
           "mapping: vmap_pages_range() -> vmap_small_pages_range_noflush() -> vmap_pages_*_range()",
           "mm/vmalloc.c (huge vmalloc series); 6.6: vmalloc.c:628"),
    Change("5.13", "vmalloc_unmap_name", "vunmap_range_noflush", "unmap step: vunmap_range_noflush()",
           "mm/vmalloc.c"),
    Change("5.14", "kmalloc_cg_caches", True, "memcg kmalloc caches kmalloc-cg-* for __GFP_ACCOUNT",
           "494c1dfe855e 'mm: memcg/slab: create a new set of kmalloc-cg-<n> caches'"),
    Change("5.14", "kvmalloc_int_max", True, "kvmalloc() of more than INT_MAX bytes: WARN_ON_ONCE and NULL",
           "mm/util.c kvmalloc_node()"),
    Change("5.14", "kvmalloc_warn_site", "mm/util.c:593", "the INT_MAX warning's site",
           "mm/util.c of 5.14/5.15 (≈: line not read)"),
    Change("5.13", "vmalloc_size0_warn_site", "mm/vmalloc.c:3247", "__vmalloc_node_range(): WARN_ON_ONCE(!size)",
           "(≈: 6.6's line; not read for 5.13 - 6.1)"),
    Change("5.17", "free_large_kmalloc_warn_site", "mm/slab_common.c:994",
           "free_large_kmalloc(): WARN_ON_ONCE(order == 0), then 'object pointer: 0x%p'",
           "(≈: 6.6's line; not read for 5.17 - 6.1)"),
    Change("5.16", "names", {"kfree_large": "free_nonslab_page"},
           "kfree() of a large block: free_nonslab_page()",
           "d0fe47c64152 'slub: add back check for free nonslab objects' (in the 5.16 merge next to b47291ef02b0)"),
    Change("5.12", "kmem_free_name", True, "kmem_cache_free events carry name=",
           "'mm, tracing: record slab name for kmem_cache_free()' (≈ 5.12); 6.6: kmem.h:132"),
    Change("5.9", "kmem_call_site_symbolic", True, "kmem events print call_site=%pS (symbol+off/size), not %lx",
           "(≈: 4.5 kmem.h:37 has %lx, 6.6 kmem.h:44 %pS; release of the change not read)"),
    Change("5.9", "kmem_pfn_hex", True, "mm_page_* events print pfn=0x%lx",
           "(≈: 4.5 kmem.h:189 has %lu, 6.6 kmem.h:152 0x%lx; release not read)"),
    Change("5.14", "tracefs_migrate_disable", True,
           "trace lines: 7-digit pids and a fifth flag column (migrate-disable), the header to match",
           "kernel/trace/trace_output.c (≈; seen on a real 6.18)"),
    Change("5.16", "kvmalloc_int_max_nowarn", True, "... silent with __GFP_NOWARN", "mm/util.c kvmalloc_node()"),
    Change("5.16", "vmalloc_bulk_mempolicy", True,
           "alloc_pages_bulk_array_mempolicy() above __alloc_pages_bulk() when no node is asked for",
           "mm/vmalloc.c vm_area_alloc_pages(); 6.6: mempolicy.c:2379"),
    Change("5.17", "names", {"kfree_large": "free_large_kmalloc"},
           "free_nonslab_page() renamed free_large_kmalloc()", "the struct slab series (≈ 5.17); 6.6: slab_common.c:990"),
    Change("5.17", "slab_track_stackdepot", True,
           "struct track stores a stack depot handle, not 16 return addresses", "mm/slub.c (CONFIG_STACKDEPOT)"),
    Change("5.17", "kvmalloc_nofs_fallback", True,
           "kvmalloc(): GFP_NOFS/GFP_NOIO may fall back to vmalloc, non-blocking flags may not, "
           "__GFP_NOFAIL dropped from the kmalloc attempt", "mm/util.c kvmalloc_node(); 6.6: util.c:585"),
    Change("5.18", "zoneinfo_promo", True, "zoneinfo prints the 'promo' watermark (WMARK_PROMO)",
           "c574bbe91703 'NUMA balancing: optimize page placement for memory tiering system' (≈)"),
    Change("5.13", "zoneinfo_cma", True, "zoneinfo prints 'cma' (zone_cma_pages())",
           "not in 5.10.13's zoneinfo_show_print(), before 'boost' was added (≈ 5.12/5.13); 6.6: mm/vmstat.c"),
    Change("5.18", "kmem_accounted", True, "kmalloc/kmem_cache_alloc events carry accounted=",
           "'mm/tracing: add accounted entry into output of allocation tracepoints' (≈ 5.18)"),
    Change("5.19", "meminfo_zswap", True, "Zswap:, Zswapped: in /proc/meminfo (CONFIG_ZSWAP)",
           "f6498b776d28 'mm: zswap: add basic meminfo and vmstat coverage'"),
    # --- SLUB: CPU partial lists, usercopy, flag fix-ups, kfree() of a non-slab page -----
    Change("4.7", "names", {"kfree_slab_chain": ("slab_free", "do_slab_free"),
                            "slab_free_chain": ("slab_free", "do_slab_free")},
           "slab_free() wraps do_slab_free(), which holds the fast path",
           "4.5: mm/slub.c:2760 slab_free() is the fast path, no do_slab_free(); present in 4.8 (≈ 4.7)"),
    Change("4.8", "slab_bug_mask_fixup", True,
           "new_slab() clears __GFP_HIGHMEM/__GFP_DMA32 with 'Unexpected gfp: ... Fix your code!' instead of BUG()",
           "72baeef0c271 'slab: do not panic on invalid gfp_mask' (≈ 4.8; dump_stack() added ≈ 4.10); "
           "4.5: mm/slub.c:1495 pr_emerg + BUG()"),
    Change("4.16", "slab_usersize", True,
           "caches carry a usercopy region; kmalloc caches' is the whole object, which makes them unmergeable",
           "8eb8284b4129 'usercopy: Prepare for usercopy whitelisting' (4.16); 6.18: mm/slab_common.c slab_unmergeable()"),
    Change("4.16", "names", {"kmem_cache_create": "kmem_cache_create_usercopy"},
           "cache creation fails in kmem_cache_create_usercopy()", "6.6: mm/slab_common.c:356 (__func__)"),
    Change("5.9", "kmalloc_large_fix_flags", True, "kmalloc_large() fixes GFP_SLAB_BUG_MASK bits too",
           "'mm: slab: check GFP_SLAB_BUG_MASK before alloc_pages in kmalloc_order' (June 2020, ≈ 5.9); "
           "6.6: mm/slab_common.c:1163"),
    Change("5.14", "kfree_nonslab_check", "none",
           "kfree() of a non-slab page checks PageCompound only under CONFIG_DEBUG_VM (VM_BUG_ON_PAGE)",
           "f227f0faf63b 'slub: fix unreclaimable slab stat for bulk free' (as d0fe47c64152's log says, ≈ 5.14)"),
    Change("5.15", "names", {"__put_partials": "__unfreeze_partials"},
           "unfreeze_partials() split: __unfreeze_partials() does the work",
           "the PREEMPT_RT SLUB series (≈ 5.15); 6.6: mm/slub.c:2600"),
    Change("5.16", "kfree_nonslab_check", "warn",
           "kfree() of an order-0 non-slab page WARNs and frees it", "d0fe47c64152 'slub: add back check for free nonslab objects'"),
    Change("5.16", "slab_cpu_partial_slabs", True,
           "CPU partial lists are limited in slabs (cpu_partial_slabs = cpu_partial * 2 / objects per slab)",
           "b47291ef02b0 'mm, slub: change percpu partial accounting from objects to pages'"),
    Change("5.16", "slab_cpu_partial_objects", (6, 24, 52, 120),
           "default cpu_partial quadrupled (doubled for objects of a page or more)",
           "23e98ad1ce89 'mm/slub: increase default cpu partial list sizes'; real 6.18 /sys/kernel/slab/*/cpu_partial"),
    Change("6.1", "names", {"kfree_slab_chain": ("__kmem_cache_free", "slab_free", "do_slab_free"),
                            "kmalloc_track_caller_chain": ("__kmalloc_node_track_caller", "__do_kmalloc_node")},
           "kfree() (mm/slab_common.c) calls SLUB's __kmem_cache_free(); kmalloc_track_caller() goes "
           "__kmalloc_node_track_caller() -> __do_kmalloc_node()",
           "the common-kmalloc rework (≈ 6.1); 6.6: mm/slab_common.c:1075, :1043"),
    Change("6.2", "kmalloc_redzone", True,
           "kmalloc objects' bytes after orig_size are checked as 'kmalloc Redzone'; ksize() switches that off; "
           "kzalloc() zeroes orig_size bytes only",
           "946fa0dbf2d8 'mm/slub: extend redzone check to extra allocated kmalloc space than requested' "
           "(slab/for-6.2/kmalloc_redzone)"),
    Change("6.6", "random_kmalloc_caches", True,
           "CONFIG_RANDOM_KMALLOC_CACHES: 15 copies kmalloc-rnd-NN-* of the normal kmalloc caches, chosen by "
           "hash_64(caller ^ random_kmalloc_seed)", "3c6152940584 'Randomized slab caches for kmalloc()'; "
           "6.6: include/linux/slab.h:349, :400"),
    Change("6.8", "slab_cpu_partial_frozen", False,
           "only the CPU slab is frozen: CPU partial slabs are not (and not on the node list either)",
           "'slub: Delay freezing of partial slabs' (Chengming Zhou, 6.8); 6.8: mm/slub.c:2886 __put_partials()"),
    Change("6.8", "names", {"__put_partials": "__put_partials",
                            "kfree_slab_chain": ("slab_free", "do_slab_free")},
           "__unfreeze_partials() becomes __put_partials(); kfree() lives in mm/slub.c and calls slab_free()",
           "6.8: mm/slub.c:2886, :4389"),
    Change("6.10", "slab_alloc_try_thisnode", True,
           "a node request first tries that node only (GFP_NOWAIT | __GFP_THISNODE), then any node",
           "absent in 6.8, 6.12.19: mm/slub.c:3677 try_thisnode (≈ 6.10)"),
    Change("6.12", "kmalloc_create_96_192_first", True,
           "create_kmalloc_caches() makes kmalloc-96 and kmalloc-192 before kmalloc-8 of each type",
           "6.8: after kmalloc-64/-128; 6.12.19: mm/slab_common.c create_kmalloc_caches(); real 6.18 /proc/slabinfo"),
    Change("6.12", "kmem_cache_destroy_unlinks", True,
           "kmem_cache_destroy() with objects left WARNs, then unlinks the cache anyway (it leaks)",
           "6.12.19: mm/slab_common.c kmem_cache_destroy() list_del() before `if (err) return` (6.8: kept, ≈)"),
    Change("6.12", "names", {"kmem_cache_create": "__kmem_cache_create_args"},
           "kmem_cache_create() is a macro over __kmem_cache_create_args()", "6.12.19: mm/slab_common.c:269"),
    Change("6.13", "krealloc_orig_size", True,
           "krealloc() keeps the object while the new size fits object_size, records it as orig_size and "
           "re-poisons the kmalloc red zone behind it",
           "'mm/slub: Improve redzone check and zeroing for krealloc()' (Feng Tang, v3 Oct 2024, ≈ 6.13); "
           "6.12.19: slab_common.c:1203 still ksize(); 6.18.35: mm/slub.c:6994 __do_krealloc()"),
    Change("6.18", "slab_sheaves", True,
           "per-CPU sheaves and per-node barns for caches created with kmem_cache_args.sheaf_capacity "
           "(maple_node, vm_area_struct: 32); /sys/kernel/slab/*/sheaf_capacity",
           "6.18.35: mm/slub.c:5162 alloc_from_pcs(), :8638 do_kmem_cache_create(), :9128 sheaf_capacity_show(); "
           "real 6.18 /sys/kernel/slab/maple_node/sheaf_capacity"),
    Change("6.18", "prefill_sheaf_warn_site", "mm/slub.c:5429",
           "kmem_cache_prefill_sheaf() of a cache without sheaves WARNs once, then hands out an oversize sheaf "
           "(7.0: the line is taken to be the same)", "6.18.35: mm/slub.c:5429 WARN_ON_ONCE(s->sheaf_capacity == 0 ..."),
    Change("6.18", "slab_sheaves_unmergeable", True, "slab_unmergeable(): `if (s->cpu_sheaves) return 1`",
           "6.18.35: mm/slab_common.c:167"),
    Change("7.0", "slab_sheaves_all", True,
           "sheaves for every cache but debug and boot caches (capacity 4/12/28/60 by object size, filling a "
           "kmalloc bucket); kmalloc caches get theirs at the end of boot; sheaves refill from the partial "
           "lists (refill_objects())",
           "7.0-rc mm/slub.c calculate_sheaf_capacity(), bootstrap_kmalloc_sheaves(), refill_objects() "
           "(\"slab: add sheaves to most caches\", Vlastimil Babka, for-7.0); the empty main stays as the "
           "spare: \"slub: keep empty main sheaf as spare in __pcs_replace_empty_main()\" (slab/for-7.0)"),
    Change("7.0", "slab_sheaves_unmergeable", False,
           "caches with sheaves merge again; one created with an explicit sheaf_capacity gets SLAB_NO_MERGE",
           "\"mm/slab: make caches with sheaves mergeable\" (v3 04/21, Jan 2026)"),
    Change("7.0", "slab_cpu_slab", False,
           "struct kmem_cache_cpu, the CPU slabs, CONFIG_SLUB_CPU_PARTIAL and the do_slab_free() fast path are "
           "gone: a sheaf miss takes one object from a partial or new slab; cpu_partial reads 0, "
           "slabs_cpu_partial 0(0)",
           "\"slab: remove struct kmem_cache_cpu\", \"slab: remove SLUB_CPU_PARTIAL\" (for-7.0); 7.0-rc "
           "mm/slub.c ___slab_alloc(), cpu_partial_show()"),
    Change("7.0", "slab_never_merge_consistency", True, "SLAB_CONSISTENCY_CHECKS joins SLAB_NEVER_MERGE",
           "\"slab: add SLAB_CONSISTENCY_CHECKS to SLAB_NEVER_MERGE\" (for-7.0)"),
    Change("7.0", "names", {"kfree_slab_chain": ("slab_free",), "slab_free_chain": ("slab_free",)},
           "slab_free() calls free_to_pcs() or __slab_free(): no do_slab_free()",
           "\"slab: remove the do_slab_free() fastpath\" (for-7.0); 7.0-rc mm/slub.c slab_free()"),
    Change("6.18", "names", {"krealloc": "=krealloc_node_align_noprof"},
           "krealloc() takes an alignment and a node: krealloc_node_align_noprof()",
           "6.18.35: mm/slub.c:7117; real 6.18 kallsyms"),
    # --- 6.x ---------------------------------------------------------------------------
    Change("6.1", "dump_page_line",
           "page:{page:016x} refcount:{refcount} mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}",
           "dump_page() adds the pfn", "(≈: 5.x); 6.6: mm/debug.c:98"),
    Change("6.6", "zoneinfo_zone_stats", _ZONE_STATS_6_6,
           "the per-zone counters zoneinfo prints (page tables and kernel stacks are node counters)",
           "6.6: mm/vmstat.c vmstat_text[]"),
    Change("6.6", "zoneinfo_node_stats", _NODE_STATS_6_6,
           "the per-node counters zoneinfo prints", "6.6: mm/vmstat.c vmstat_text[]"),
    Change("6.7", "pcp_tuning", "auto",
           "pcp->high is tuned between high_min (low watermark split) and high_max (1/8 of the zone split): "
           "it grows while a CPU refills or frees in a row, shrinks while the zone is below its high "
           "watermark (ZONE_BELOW_HIGH); refills double (alloc_factor)",
           "'mm: tune PCP high automatically', 'mm, page_alloc: scale the number of pages that are batch "
           "allocated' (Ying Huang, ≈ 6.7); 6.8/6.18: mm/page_alloc.c nr_pcp_alloc(), nr_pcp_high()"),
    Change("6.7", "zoneinfo_pcp_high_min_max", True, "zoneinfo pagesets print high_min and high_max",
           "'mm: add framework for PCP high auto-tuning' (≈ 6.7); 6.18: mm/vmstat.c:1831; real 6.18 zoneinfo"),
    Change("6.8", "zoneinfo_node_stats", _NODE_STATS_6_8,
           "pgdemote_* node counters", "6.8: mm/vmstat.c vmstat_text[]"),
    Change("6.10", "pcp_thp_lists", 2, "two THP pcp lists: movable, and unmovable/reclaimable",
           "'mm: page_alloc: allow THP pcp lists for unmovable' (≈ 6.10); 6.8: include/linux/mmzone.h:657 "
           "NR_PCP_THP 1; 6.12.19: :661 NR_PCP_THP 2"),
    Change("6.10", "pcp_drain_pageblock_mt", True,
           "free_pcppages_bulk() frees to the pageblock's migratetype (no cached pcppage migratetype)",
           "'mm: page_alloc: remove pcppage migratetype caching' (≈ 6.10); 6.8: mm/page_alloc.c:1225; "
           "6.18: :1530"),
    Change("6.10", "page_del_and_expand", True, "__rmqueue_smallest() -> page_del_and_expand() -> expand()",
           "'mm: page_alloc: consolidate free page accounting' (≈ 6.10); 6.12.19: mm/page_alloc.c:1423"),
    Change("6.10", "slab_page_type", True,
           "slab pages are marked by a page type in _mapcount, not PG_slab: __free_pages() of one reports "
           "'nonzero mapcount'", "46df8e73a4a3 'mm: free up PG_slab' (≈ 6.10); 6.8: page-flags.h:112 PG_slab; "
           "6.12.19: mm/page_alloc.c:888 page_bad_reason()"),
    Change("6.12", "zoneinfo_node_stats", _NODE_STATS_6_12,
           "nr_iommu_pages", "6.12.19: mm/vmstat.c vmstat_text[]"),
    Change("6.12", "dump_page_line",
           "page: refcount:{refcount} mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}",
           "dump_page() no longer prints the struct page's address", "6.12.19: mm/debug.c:78; 6.8: mm/debug.c:98"),
    Change("6.14", "slab_page_frozen", True,
           "slab pages are frozen (refcount 0): __free_pages() of one trips put_page_testzero()'s "
           "VM_BUG_ON_PAGE(page_ref_count(page) == 0)",
           "the frozen-pages series, 'slab: allocate frozen pages' (≈ 6.14); 6.18: mm/slub.c alloc_slab_page()"),
    Change("6.18", "zoneinfo_zone_stats", _ZONE_STATS_6_18,
           "nr_free_pages_blocks (free pages in pageblock-sized blocks); nr_bounce gone",
           "6.18.35: mm/vmstat.c vmstat_text[]; real 6.18 /proc/zoneinfo (both ≈ 6.16/6.17)"),
    Change("6.18", "zoneinfo_node_stats", _NODE_STATS_6_18,
           "nr_writeback_temp gone; pgpromote_candidate_nrl, pgdemote_proactive, nr_hugetlb, "
           "nr_balloon_pages, nr_kernel_file_pages", "6.18.35: mm/vmstat.c vmstat_text[]; real 6.18 /proc/zoneinfo"),
    Change("6.6", "put_page_testzero_site", "include/linux/mm.h:1095", "put_page_testzero()'s VM_BUG_ON_PAGE",
           "6.6: include/linux/mm.h:1095"),
    Change("6.8", "put_page_testzero_site", "include/linux/mm.h:1115", "put_page_testzero()'s VM_BUG_ON_PAGE",
           "6.8: include/linux/mm.h:1115"),
    Change("6.12", "put_page_testzero_site", "include/linux/mm.h:1140", "put_page_testzero()'s VM_BUG_ON_PAGE",
           "6.12.19: include/linux/mm.h:1140"),
    Change("6.18", "put_page_testzero_site", "include/linux/mm.h:1101", "put_page_testzero()'s VM_BUG_ON_PAGE",
           "6.18.35: include/linux/mm.h:1101"),
    Change("6.0", "names", {"kvmalloc_chain": ()}, "kvmalloc_node() calls __vmalloc_node_range() itself",
           "mm/util.c kvmalloc_node()"),
    Change("6.0", "meminfo_secpagetables", True, "SecPageTables: in /proc/meminfo",
           "ebc97a52b5d6 'mm: add NR_SECONDARY_PAGETABLE' (≈)"),
    Change("6.1", "rmqueue_buddy", True, "rmqueue() -> rmqueue_buddy() for what the pcp lists do not serve",
           "mm/page_alloc.c (≈ 6.1); 6.6: page_alloc.c:2634"),
    Change("6.1", "slab_kmalloc_flag", True, "SLAB_KMALLOC on kmalloc caches", "mm/slab_common.c"),
    Change("6.1", "kmalloc_orig_size", True,
           "kmalloc objects remember the requested size (orig_size) with SLAB_STORE_USER; "
           "the bytes after it are a 'kmalloc Redzone'", "6edf2576a6cc 'mm/slub: enable debugging memory wasting of kmalloc'"),
    Change("6.1", "kmalloc_zero_via_kmalloc", True,
           "kmalloc(0) leaves the inline path: __kmalloc() -> kmalloc_slab() returns ZERO_SIZE_PTR",
           "include/linux/slab.h kmalloc(): `if (__builtin_constant_p(size) && size)`"),
    Change("6.1", "new_slab_objects", False, "___slab_alloc() calls get_partial()/new_slab() itself",
           "mm/slub.c (≈); 4.5: slub.c new_slab_objects()"),
    Change("6.1", "slab_alloc_node_split", True, "slab_alloc_node() -> __slab_alloc_node()",
           "mm/slub.c (≈); 6.6: slub.c:3329, absent in 4.5"),
    Change("6.1", "kmem_cache_alloc_node_step", True,
           "kmalloc_trace() and __do_kmalloc_node() go through __kmem_cache_alloc_node()",
           "mm/slab_common.c, mm/slub.c (≈ 6.1); 6.6: slub.c:3513"),
    Change("6.1", "names", {"kmalloc_cache_chain": ("kmalloc_trace", "__kmem_cache_alloc_node"),
                            "kmalloc_cache_node_chain": ("kmalloc_node_trace", "__kmem_cache_alloc_node"),
                            "kmalloc_large_chain": ("kmalloc_large", "__kmalloc_large_node", "alloc_pages_node"),
                            "kmalloc_large_node_chain": ("kmalloc_large_node", "__kmalloc_large_node",
                                                         "alloc_pages_node"),
                            "kmalloc_large_pages_chain": ("__alloc_pages",),
                            "__kmalloc_chain": ("__kmalloc", "__do_kmalloc_node"),
                            "__kmalloc_node_chain": ("__kmalloc_node", "__do_kmalloc_node"),
                            "__do_kmalloc_node_large_chain": ("__kmalloc_large_node", "alloc_pages_node"),
                            "kvmalloc_kmalloc_chain": ("__kmalloc_node", "__do_kmalloc_node")},
           "kmalloc's names: kmem_cache_alloc_trace -> kmalloc_trace -> __kmem_cache_alloc_node; "
           "kmalloc_order_trace -> __kmalloc_large_node -> alloc_pages_node(); __kmalloc -> __do_kmalloc_node",
           "the common-kmalloc rework (≈ 6.1); 6.6: mm/slab_common.c:1115, :1157, :1008"),
    Change("6.1", "kmem_unified_node", True,
           "kmalloc_node/kmem_cache_alloc_node events folded into kmalloc/kmem_cache_alloc with node=",
           "'mm/tracing: unify NUMA and UMA tracepoints' (≈ 6.1); 6.6: kmem.h:12-83"),
    Change("6.1", "vmalloc_kmsan_wrapper", True, "__vmap_pages_range_noflush() (the KMSAN wrapper)",
           "mm/vmalloc.c; 6.6: vmalloc.c:579"),
    Change("6.2", "names", {"free_debug_processing": "free_to_partial_list"},
           "a debug cache's free goes through free_to_partial_list()", "mm/slub.c"),
    Change("6.3", "gfp_atomic_bit", 0, "__GFP_ATOMIC removed: GFP_ATOMIC prints 0x820",
           "include/linux/gfp_types.h"),
    Change("6.3", "names", {"vfree_chain": ("vfree",)}, "vfree() does the work itself (around remove_vm_area())",
           "the vfree() rework (≈ 6.3); 6.6: vmalloc.c:2807"),
    Change("6.3", "find_unlink_vmap_area", True, "remove_vm_area() -> find_unlink_vmap_area()",
           "'mm: vmalloc: Switch to find_unlink_vmap_area() in vm_unmap_ram()' (≈ 6.3); 6.6: vmalloc.c:1868"),
    Change("6.3", "vfree_unaligned_warns", True,
           "vfree() of an unaligned address warns 'bad address' and goes on to 'nonexistent vm area' "
           "(before: BUG)", "mm/vmalloc.c vfree(), remove_vm_area()"),
    Change("6.4", "max_order_inclusive", True, "MAX_ORDER means the largest order (10), no longer the count (11)",
           "23baf831a32c 'mm, treewide: redefine MAX_ORDER sanely'; 6.6: `order > MAX_ORDER`"),
    Change("6.6", "kvmalloc_warn_site", "mm/util.c:622", "kvmalloc_node(): size > INT_MAX", "6.6: mm/util.c:622"),
    Change("6.6", "free_large_kmalloc_warn_site", "mm/slab_common.c:994", "free_large_kmalloc()'s WARN",
           "6.6: mm/slab_common.c:994"),
    Change("6.6", "order_warn_site", "mm/page_alloc.c:4402",
           "the order check: `WARN_ON_ONCE_GFP(order > MAX_ORDER, gfp)` first thing in __alloc_pages()",
           "6.6: mm/page_alloc.c:4402"),
    Change("6.6", "names", {"free_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok"),
                            "free_slab_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok")},
           "__free_pages_ok() takes zone->lock and calls __free_one_page() itself",
           "6.6: mm/page_alloc.c:1258"),
    Change("6.7", "names", {"alloc_pages_chain": ("alloc_pages", "alloc_pages_mpol", "__alloc_pages")},
           "alloc_pages() -> alloc_pages_mpol() -> __alloc_pages()",
           "'mempolicy: alloc_pages_mpol() for NUMA policy without vma' (absent in 6.6.0, 6.8: mempolicy.c:2090)"),
    Change("6.8", "max_order_macro", "MAX_PAGE_ORDER", "MAX_ORDER renamed MAX_PAGE_ORDER; NR_PAGE_ORDERS = 11",
           "5e0a760b4441 'mm, treewide: rename MAX_ORDER to MAX_PAGE_ORDER', fd37721803c6; 6.8: mmzone.h:30"),
    Change("6.8", "order_warn_site", "mm/page_alloc.c:4545", "`WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp)`",
           "6.8: mm/page_alloc.c:4545"),
    Change("6.8", "kvmalloc_warn_site", "mm/util.c:632", "kvmalloc_node(): size > INT_MAX", "6.8: mm/util.c:632"),
    Change("6.8", "free_large_kmalloc_warn_site", "mm/slub.c:4371", "free_large_kmalloc() in mm/slub.c",
           "6.8: mm/slub.c:4371"),
    Change("6.8", "gfp_nowait_nowarn", True, "GFP_NOWAIT includes __GFP_NOWARN (0x2800)",
           "16f5dfbc851b 'gfp: include __GFP_NOWARN in GFP_NOWAIT'; 6.8: include/linux/gfp_types.h:329"),
    Change("6.8", "kmem_cache_alloc_node_step", False,
           "__kmem_cache_alloc_node() gone with SLAB: kmalloc_trace() calls slab_alloc_node() directly",
           "SLAB removal; 6.8: mm/slub.c:4005 kmalloc_trace()"),
    Change("6.8", "names", {"kmalloc_cache_chain": ("kmalloc_trace",),
                            "kmalloc_cache_node_chain": ("kmalloc_node_trace",),
                            "kmem_cache_alloc_chain": ("kmem_cache_alloc",),
                            "alloc_slab_page_chain": ("__alloc_pages",),
                            "free_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok",
                                                 "free_one_page"),
                            "free_slab_pages_chain": ("__free_pages", "free_the_page", "__free_pages_ok",
                                                      "free_one_page")},
           "kmalloc in mm/slub.c; alloc_slab_page() uses alloc_pages_node() only; __free_pages_ok() -> "
           "free_one_page()", "6.8: mm/slub.c:4005, :2183; mm/page_alloc.c:1262, :1246"),
    Change("6.10", "noprof", True,
           "memory-allocation profiling: allocator entry points become *_noprof behind alloc_hooks()",
           "the alloc_tag series (≈ 6.10); 6.12: include/linux/gfp.h:333, slab.h:884"),
    Change("6.10", "names", {"free_pages_chain": ("__free_pages", "free_unref_page", "__free_pages_ok",
                                                  "free_one_page"),
                             "free_slab_pages_chain": ("__free_pages", "free_unref_page", "__free_pages_ok",
                                                       "free_one_page"),
                             "free_pages_pcp_chain": ("__free_pages", "free_unref_page", "free_unref_page_commit"),
                             "free_slab_pages_pcp_chain": ("__free_pages", "free_unref_page",
                                                           "free_unref_page_commit"),
                             "__alloc_pages_bulk": "alloc_pages_bulk"},
           "free_the_page() folded into free_unref_page(); __alloc_pages_bulk() a macro over alloc_pages_bulk_noprof()",
           "5b8d75913a0e 'mm: combine free_the_page() and free_unref_page()' (≈ 6.10); 6.12: gfp.h:217"),
    Change("6.11", "names", {"kmalloc_cache_chain": ("__kmalloc_cache",),
                             "kmalloc_cache_node_chain": ("__kmalloc_cache_node",),
                             "kmalloc_large_chain": ("__kmalloc_large", "___kmalloc_large_node",
                                                     "alloc_pages_node"),
                             "kmalloc_large_node_chain": ("__kmalloc_large_node", "___kmalloc_large_node",
                                                          "alloc_pages_node"),
                             "__do_kmalloc_node_large_chain": ("__kmalloc_large_node", "___kmalloc_large_node",
                                                               "alloc_pages_node"),
                             "kvmalloc_node": "__kvmalloc_node"},
           "kmalloc_trace -> __kmalloc_cache_noprof, kmalloc_large -> __kmalloc_large_noprof -> "
           "___kmalloc_large_node, kvmalloc_node -> __kvmalloc_node_noprof (kmem_buckets)",
           "a0a44d9175b3 'mm, slab: don't wrap internal functions with alloc_hooks()' (≈); 6.12: slub.c:4310, :4246"),
    Change("6.11", "kmalloc_large_double_event", True,
           "a large kmalloc through __do_kmalloc_node() fires kmalloc twice: in __kmalloc_large_node_noprof() "
           "(call_site inside the caller of __do_kmalloc_node) and again for the caller, same ptr",
           "6.12.19 mm/slub.c __do_kmalloc_node() (6.8 traces once); seen on a real 6.18"),
    Change("6.11", "kmem_buckets", True,
           "kmem_buckets: the kmalloc_buckets cache and bucket caches memdup_user-* and msg_msg-*",
           "b32801d1255b 'mm/slab: Introduce kmem_buckets_create() and family'; real 6.18 /sys/kernel/slab"),
    Change("6.11", "kmalloc_align_pow2_divisor", True,
           "kmalloc caches aligned to the largest power of two dividing the size (kmalloc-96: 32, kmalloc-192: 64)",
           "ad59baa31695 'slab, rust: extend kmalloc() alignment guarantees' (slab for-next with kmem_buckets, "
           "July 2024); real 6.18 /sys/kernel/slab/kmalloc-96/align"),
    Change("6.12", "vrealloc", True, "vrealloc(): resize a vmalloc allocation (a larger size copies into a new area)",
           "6.12.19: mm/vmalloc.c:4068 vrealloc_noprof()"),
    Change("6.12", "slab_freeptr_offset", True,
           "kmem_cache_create() takes struct kmem_cache_args; its freeptr_offset lets a SLAB_TYPESAFE_BY_RCU "
           "cache keep the free pointer inside the object (struct file's f_freeptr; 6.18: vm_area_struct's "
           "vm_freeptr at offset 0, so the cache's stride is 192, not 256)",
           "6.12.19: mm/slub.c:5347 calculate_sizes(), mm/slab_common.c:230 create_cache(), fs/file_table.c:525; "
           "absent in 6.8; 6.18.35: mm/slub.c:7928, mm/vma_init.c:17; real 6.18 /sys/kernel/slab/vm_area_struct"),
    Change("6.15", "vrealloc_requested_size", True,
           "vrealloc() keeps vm->requested_size: grows in place up to the area's pages, copies only what was asked",
           "'mm: vmalloc: support more granular vrealloc() sizing' (≈ 6.15); 6.18: mm/vmalloc.c:4136"),
    Change("6.18", "vrealloc_warn_site", "mm/vmalloc.c:4152", "vrealloc_node_align_noprof()'s WARN site",
           "6.18.35: mm/vmalloc.c:4152"),
    Change("6.18", "names", {"vrealloc": "=vrealloc_node_align_noprof"},
           "vrealloc() takes an alignment and a node: vrealloc_node_align_noprof()",
           "6.18.35: mm/vmalloc.c:4136; real 6.18 kallsyms"),
    Change("6.12", "order_warn_site", "mm/page_alloc.c:4730", "the order check, in __alloc_pages_noprof()",
           "6.12.19: mm/page_alloc.c:4730"),
    Change("6.12", "kvmalloc_warn_site", "mm/util.c:670", "__kvmalloc_node_noprof(): size > INT_MAX",
           "6.12.19: mm/util.c:670"),
    Change("6.12", "vmalloc_size0_warn_site", "mm/vmalloc.c:3773", "WARN_ON_ONCE(!size)", "6.12.19: mm/vmalloc.c:3773"),
    Change("6.12", "free_large_kmalloc_warn_site", "mm/slub.c:4711", "free_large_kmalloc()'s WARN",
           "6.12.19: mm/slub.c:4711"),
    Change("6.12", "names", {"free_pages_chain": ("__free_pages", "free_unref_page", "__free_pages_ok",
                                                  "free_one_page", "split_large_buddy"),
                             "free_slab_pages_chain": ("__free_pages", "free_unref_page", "__free_pages_ok",
                                                       "free_one_page", "split_large_buddy")},
           "free_one_page() -> split_large_buddy() -> __free_one_page()", "6.12.19: mm/page_alloc.c:1229"),
    Change("6.14", "names", {"__alloc_pages_chain": ("__alloc_pages", "__alloc_frozen_pages"),
                             "alloc_pages_chain": ("alloc_pages", "alloc_frozen_pages", "=alloc_pages_mpol",
                                                   "__alloc_frozen_pages"),
                             "alloc_slab_page_chain": ("alloc_frozen_pages", "=alloc_pages_mpol",
                                                       "__alloc_frozen_pages"),
                             "kmalloc_large_chain": ("__kmalloc_large", "___kmalloc_large_node"),
                             "kmalloc_large_node_chain": ("__kmalloc_large_node", "___kmalloc_large_node"),
                             "__do_kmalloc_node_large_chain": ("__kmalloc_large_node", "___kmalloc_large_node"),
                             "kmalloc_large_pages_chain": ("alloc_frozen_pages", "=alloc_pages_mpol",
                                                           "__alloc_frozen_pages"),
                             "__kmalloc_node_large_pages_chain": ("alloc_frozen_pages", "=alloc_pages_mpol",
                                                                  "__alloc_frozen_pages"),
                             "alloc_pages_bulk_array_mempolicy": "alloc_pages_bulk_mempolicy",
                             "kvmalloc_kmalloc_chain": ("__do_kmalloc_node",)},
           "frozen pages: the page allocator's entry is __alloc_frozen_pages_noprof(); alloc_pages() goes "
           "alloc_frozen_pages_noprof() -> alloc_pages_mpol() (static, no _noprof); slab pages and large "
           "kmalloc blocks are frozen; alloc_pages_bulk_array*() -> alloc_pages_bulk*(); kvmalloc in mm/slub.c "
           "calls __do_kmalloc_node()",
           "the frozen-pages series (syzbot saw __alloc_frozen_pages_noprof in Dec 2024 linux-next: ≈ 6.14); "
           "6.18: mempolicy.c:2482, :2377, page_alloc.c:5203, slub.c:3110, :5638, :7178; the alloc_pages_bulk "
           "rename (≈ 6.14); the kvmalloc move to slub.c is between 6.13 and 6.15 (≈)"),
    Change("6.15", "gfp_names_bit_order", True,
           "%pGg and the tracepoints print single GFP bits in bit order after the composite masks",
           "ca29a0bf1221 'tracing: gfp: Remove duplication of recording GFP flags' (tracing pull for 6.15); "
           "real 6.18 events/kmem/kmalloc/format"),
    Change("6.15", "names", {"free_pages_chain": ("__free_pages", "___free_pages", "__free_frozen_pages",
                                                  "__free_pages_ok", "free_one_page", "split_large_buddy"),
                             "free_slab_pages_chain": ("free_frozen_pages", "__free_frozen_pages",
                                                       "__free_pages_ok", "free_one_page", "split_large_buddy"),
                             "free_pages_pcp_chain": ("__free_pages", "___free_pages", "__free_frozen_pages",
                                                      "free_frozen_page_commit"),
                             "free_slab_pages_pcp_chain": ("free_frozen_pages", "__free_frozen_pages",
                                                           "free_frozen_page_commit")},
           "__free_pages() -> ___free_pages() -> __free_frozen_pages(); slab pages and large kmalloc blocks "
           "go back through free_frozen_pages()",
           "8c57b687e833 'mm, bpf: Introduce free_pages_nolock()' (≈ 6.15); 6.18: page_alloc.c:5311, :2934, "
           ":2984; slub.c:6835"),
    Change("6.15", "kmem_cache_alloc_name", True, "kmem_cache_alloc events carry name=",
           "(≈: absent in 6.12.19 kmem.h:44, present in 6.18.35 kmem.h:46)"),
    Change("6.16", "meminfo_balloon", True, "Balloon: in /proc/meminfo",
           "'meminfo: add a per node counter for balloon drivers' (March 2025, ≈ 6.16); 6.18: fs/proc/meminfo.c:163"),
    Change("6.16", "kvmalloc_no_direct_reclaim", True,
           "kvmalloc's kmalloc attempt above a page drops __GFP_DIRECT_RECLAIM instead of adding __GFP_NORETRY "
           "(vmemdup_user(20000) traces gfp_flags=GFP_NOWAIT|__GFP_IO|__GFP_FS|__GFP_HARDWALL)",
           "'mm: kvmalloc: make kmalloc fast path real fast path' (April 2025, ≈ 6.16); 6.18: mm/slub.c:7133 "
           "kmalloc_gfp_adjust(); real 6.18 kmem trace"),
    Change("6.16", "names", {"__rmqueue_fallback": "__rmqueue_claim",
                             "steal_suitable_fallback": "try_to_claim_block"},
           "__rmqueue_fallback() split into __rmqueue_claim()/__rmqueue_steal(); steal_suitable_fallback() -> "
           "try_to_claim_block()", "6.18: mm/page_alloc.c __rmqueue(); real 6.18 kallsyms (≈ 6.15/6.16)"),
    Change("6.18", "order_warn_site", "mm/page_alloc.c:5215", "the order check, in __alloc_frozen_pages_noprof()",
           "6.18.35: mm/page_alloc.c:5215"),
    Change("6.18", "kvmalloc_warn_site", "mm/slub.c:7199", "__kvmalloc_node_noprof() (now in mm/slub.c)",
           "6.18.35: mm/slub.c:7199"),
    Change("6.18", "vmalloc_size0_warn_site", "mm/vmalloc.c:3838", "WARN_ON_ONCE(!size)", "6.18.35: mm/vmalloc.c:3838"),
    Change("6.18", "free_large_kmalloc_warn_site", "mm/slub.c:6844", "free_large_kmalloc()'s WARN",
           "6.18.35: mm/slub.c:6844"),
    Change("6.18", "ksize_warn_site", "mm/slab_common.c:1008", "__ksize(): WARN_ON(folio_size <= KMALLOC_MAX_CACHE_SIZE)",
           "6.18.35: mm/slab_common.c:1008; 6.6: slab_common.c:1101"),
)

#: Allocator entry points that memory-allocation profiling (6.10) renamed to ``*_noprof``
#: (include/linux/alloc_tag.h ``alloc_hooks()``, and each allocator's header).
NOPROF = frozenset({
    "alloc_pages", "alloc_pages_node", "__alloc_pages", "alloc_pages_mpol", "__alloc_pages_node",
    "__alloc_frozen_pages", "alloc_frozen_pages", "alloc_pages_bulk", "alloc_pages_bulk_mempolicy",
    "alloc_pages_bulk_array_mempolicy", "__alloc_pages_bulk", "get_free_pages", "__get_free_pages",
    "get_zeroed_page",
    "kmalloc", "kmalloc_node", "__kmalloc", "__kmalloc_node", "kmalloc_trace", "kmalloc_node_trace",
    "__kmalloc_node_track_caller",
    "__kmalloc_cache", "__kmalloc_cache_node", "kmalloc_large", "kmalloc_large_node", "__kmalloc_large",
    "__kmalloc_large_node", "kmem_cache_alloc", "kmem_cache_alloc_node", "kzalloc", "kcalloc",
    "kmalloc_array", "krealloc", "kvmalloc_node", "__kvmalloc_node", "kvmalloc", "kvzalloc",
    "vmalloc", "vzalloc", "vmalloc_node", "vzalloc_node", "__vmalloc", "__vmalloc_node",
    "__vmalloc_node_range", "vrealloc",
})

#: Functions the real kernel inlines (not in ``/proc/kallsyms``, so ``function`` and
#: ``function_graph`` tracers never show them). Checked on a real 6.18 x86-64 kernel.
INLINED = frozenset({
    "kmalloc", "kmalloc_node", "kmalloc_noprof", "kmalloc_node_noprof", "kzalloc", "kzalloc_noprof",
    "kmalloc_index", "kmalloc_type", "kmalloc_slab", "__do_kmalloc_node", "slab_alloc", "slab_alloc_node", "__slab_alloc_node",
    "__slab_alloc", "get_partial", "new_slab", "alloc_slab_page", "get_freelist", "slab_free",
    "do_slab_free", "memset", "alloc_debug_processing", "shuffle_freelist", "kmalloc_large", "discard_slab", "add_partial",
    "alloc_page", "alloc_pages_node", "alloc_pages_node_noprof", "__alloc_pages_node", "rmqueue",
    "rmqueue_buddy", "__rmqueue", "__rmqueue_smallest", "__rmqueue_fallback", "__rmqueue_claim",
    "__rmqueue_steal", "rmqueue_pcplist", "rmqueue_bulk", "page_del_and_expand",
    "zone_watermark_fast", "free_the_page",
    "vm_area_alloc_pages", "__vmalloc_area_node", "vmap_pages_p4d_range", "vmap_pages_pud_range",
    "vmap_pages_pmd_range", "vmap_pages_pte_range", "free_unmap_vmap_area", "vmap_p4d_range",
    "vmap_pud_range", "vmap_pmd_range", "vmap_pte_range",
    # the sheaves (6.18): not in a real 6.18's kallsyms; 7.0 is taken to inline the same
    "alloc_from_pcs", "free_to_pcs", "sheaf_flush_main", "refill_sheaf", "alloc_full_sheaf",
    "sheaf_flush_unused", "barn_replace_full_sheaf", "pcs_flush_all", "free_empty_sheaf",
})


class Generation:
    """What one kernel release does differently: the attributes of :data:`BASE` with every
    row of :data:`CHANGES` up to ``release`` applied. Read it as ``k.gen``.

    >>> g = get_generation("6.6")
    >>> g.kmalloc_cg_caches, g.chain("alloc_pages_chain")
    (True, ('alloc_pages', '__alloc_pages'))
    """

    def __init__(self, release: str):
        if release not in GENERATIONS:
            raise ValueError(f"kernel must be one of {', '.join(GENERATIONS)}, got {release!r}")
        self.release = release
        self.version = parse_release(release)
        values = dict(BASE)
        names: dict[str, Any] = dict(BASE["names"])
        for row in sorted(CHANGES, key=lambda r: parse_release(r.release)):
            if parse_release(row.release) > self.version:
                continue
            if row.attr == "names":
                names.update(row.value)
            else:
                values[row.attr] = row.value
        values["names"] = names
        self.__dict__.update(values)
        self.names: dict[str, Any]

    # -- names --------------------------------------------------------------------------

    def _spell(self, func: str) -> str:
        if func.startswith("="):           # written "=name" in the table: spelled as it is
            return func[1:]
        return f"{func}_noprof" if self.noprof and func in NOPROF else func

    def name(self, role: str) -> str:
        """The generation's name of one function (``role``: its v6.6 name)."""
        n = self.names.get(role, role)
        if isinstance(n, tuple):
            raise TypeError(f"{role!r} is a chain of functions on {self.release}: use chain()")
        return self._spell(n)

    def chain(self, role: str) -> tuple[str, ...]:
        """The functions a call passes through on this generation, outermost first. A role
        named ``*_chain`` must be in the table; any other role is the function itself."""
        if role.endswith("_chain") and role not in self.names:
            raise KeyError(f"no chain {role!r} in the generation table")
        c = self.names.get(role, (role,))
        if isinstance(c, str):
            c = (c,)
        return tuple(self._spell(f) for f in c)

    def inlined(self, func: str) -> bool:
        """True when the real kernel inlines ``func`` (ftrace never shows it)."""
        return func in INLINED or func in self.inlined_extra

    # -- constants that follow from the rows --------------------------------------------

    def max_order(self, nr_page_orders: int) -> int:
        """``MAX_ORDER`` (or ``MAX_PAGE_ORDER``) for a machine with ``nr_page_orders``
        orders: the count before 6.4, the largest order from 6.4 on."""
        return nr_page_orders - 1 if self.max_order_inclusive else nr_page_orders

    def meminfo_fields(self, highmem: bool) -> tuple[str, ...]:
        """The field names of ``/proc/meminfo`` in order (fs/proc/meminfo.c
        ``meminfo_proc_show()``, then ``hugetlb_report_meminfo()`` and x86's
        ``arch_report_meminfo()``), for a distribution-like x86 configuration:
        CONFIG_MEMORY_FAILURE, CONFIG_TRANSPARENT_HUGEPAGE and CONFIG_ZSWAP on, no CMA,
        no unaccepted memory; ``highmem`` for i386's CONFIG_HIGHMEM."""
        f = ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active",
             "Inactive", "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)",
             "Unevictable", "Mlocked"]
        if highmem:
            f += ["HighTotal", "HighFree", "LowTotal", "LowFree"]
        f += ["SwapTotal", "SwapFree"]
        if self.meminfo_zswap:
            f += ["Zswap", "Zswapped"]
        f += ["Dirty", "Writeback", "AnonPages", "Mapped", "Shmem"]
        if self.meminfo_kreclaimable:
            f.append("KReclaimable")
        f += ["Slab", "SReclaimable", "SUnreclaim", "KernelStack", "PageTables"]
        if self.meminfo_secpagetables:
            f.append("SecPageTables")
        f += ["NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit", "Committed_AS",
              "VmallocTotal", "VmallocUsed", "VmallocChunk"]
        if self.meminfo_percpu:
            f.append("Percpu")
        f += ["HardwareCorrupted", "AnonHugePages"]
        if self.meminfo_shmem_huge:
            f += ["ShmemHugePages", "ShmemPmdMapped"]
        if self.meminfo_file_huge:
            f += ["FileHugePages", "FilePmdMapped"]
        if self.meminfo_balloon:
            f.append("Balloon")
        f += ["HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "Hugepagesize"]
        if self.meminfo_hugetlb:
            f.append("Hugetlb")
        return tuple(f)

    def __repr__(self) -> str:
        return f"<kernel generation {self.release}>"

    def __deepcopy__(self, memo):
        return self            # immutable once built, shared by snapshots

    def __reduce__(self):
        return (get_generation, (self.release,))


@lru_cache(maxsize=None)
def get_generation(release: str) -> Generation:
    """The :class:`Generation` of ``release`` (one object per release, shared)."""
    return Generation(release)


# -- the documentation page ---------------------------------------------------------------

def _fmt(value: Any, attr: str = "") -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, frozenset)):
        if not all(isinstance(v, str) for v in value):
            return "(" + ", ".join(f"`{v}`" for v in value) + ")"
        return " → ".join(f"`{v.lstrip('=')}`" for v in value) or "(none)"
    if isinstance(value, int):
        return f"`{value:#x}`" if attr.startswith("gfp_") else f"`{value}`"
    if isinstance(value, dict):
        return "; ".join(f"`{k}`: {_fmt(v)}" for k, v in value.items())
    return f"`{value.lstrip('=')}`"


def markdown() -> str:
    """``docs/kernel-generations.md``: the table, generated."""
    out = ["# What `Machine(kernel=...)` changes", "",
           "<!-- generated from kmemlab/kernel/generation.py: "
           "python -m kmemlab.kernel.generation > docs/kernel-generations.md -->", "",
           f"kmemlab follows {len(GENERATIONS)} kernel generations: "
           + ", ".join(f"`{g}`" for g in GENERATIONS)
           + f" (the default is `{DEFAULT_KERNEL}`). The algorithms are the same in all of them; what "
             "changes is what the real kernels of those releases did differently and what a student "
             "can see: function names in `m.trace()`, numbers and messages in `dmesg`, names in "
             "`/proc/slabinfo`, fields of `/proc/meminfo`, and a few rules.",
           "",
           "Each row is one change in the real kernel, from the release named on. A machine of a "
           "generation has every change up to its release. *Release* is the first kernel release "
           "with the change (which may be between two modelled generations); *source* names the "
           "commit or file it follows (≈: dated from its merge window, not read from that release's "
           "tree; \"real 6.18\": seen on a running 6.18 kernel).",
           "",
           "| release | what changed | attribute (`k.gen.…`) | value | source |",
           "|---|---|---|---|---|"]
    for row in sorted(CHANGES, key=lambda r: parse_release(r.release)):
        attr = "`name()`/`chain()`" if row.attr == "names" else f"`{row.attr}`"
        out.append(f"| {row.release} | {row.what.replace('|', chr(92) + '|')} | {attr} | "
                   f"{_fmt(row.value, row.attr).replace('|', chr(92) + '|')} | {row.source.replace('|', chr(92) + '|')} |")
    out += _per_generation()
    out += ["", "## Renamed by memory-allocation profiling (6.10 on)", "",
            "These entry points are spelled `NAME_noprof` on 6.10 and later:", "",
            ", ".join(f"`{n}`" for n in sorted(NOPROF)), "",
            "## Inlined by the real kernel", "",
            "Traces show these functions (they teach the path) but mark them *inlined*: a real "
            "kernel's `function_graph` tracer cannot see them (checked against a 6.18 kernel's "
            "`/proc/kallsyms`). `print(t.format(inlined=False))` prints only what a real tracer shows.",
            "", ", ".join(f"`{n}`" for n in sorted(INLINED)), "",
            "## What does not change with `kernel=`", "",
            "The buddy algorithm, SLUB's slab geometry (`calculate_order()`), the vmap area allocator "
            "(lowest fit, lazy purge), page-table layouts and the address map of a profile.", ""]
    return "\n".join(out)


#: what the per-generation tables show: (label, how to get it from a booted machine)
def _value_rows():
    from . import gfp as G

    def meminfo_kb(m, field):
        return next(int(l.split()[1]) for l in m.proc.meminfo().splitlines() if l.startswith(field + ":"))

    def delta(m, field, call):
        before = meminfo_kb(m, field)
        call(m)
        return str(meminfo_kb(m, field) - before)

    return [
        ("`format_gfp(GFP_KERNEL)` (the `mode:` of a failure report)", lambda m: G.format_gfp(G.GFP_KERNEL, m.gen)),
        ("`format_gfp(GFP_ATOMIC)`", lambda m: G.format_gfp(G.GFP_ATOMIC, m.gen)),
        ("`m.GFP_NOWAIT` printed", lambda m: G.format_gfp(m.GFP_NOWAIT, m.gen)),
        ("`m.MAX_ORDER`", lambda m: str(m.MAX_ORDER)),
        ("cache of `kmalloc(1024)`", lambda m: m.kmalloc_slab(1024).name),
        ("cache of `kmalloc(100, GFP_KERNEL_ACCOUNT)`", lambda m: m.kmalloc_slab(100, G.GFP_KERNEL_ACCOUNT).name),
        ("`kmalloc-rcl-*` caches", lambda m: "yes" if m.find_cache("kmalloc-rcl-64") else "no"),
        ("free pointer offset in `kmalloc-128`", lambda m: str(m.find_cache("kmalloc-128").offset)),
        ("alignment of `kmalloc-96` / `kmalloc-1k`",
         lambda m: f"{m.kmalloc_slab(96).align} / {m.kmalloc_slab(1024).align}"),
        ("`VmallocUsed` after `vmalloc(20000)`, kB", lambda m: delta(m, "VmallocUsed", lambda m: m.vmalloc(20000))),
        ("`Slab` after `kmalloc(20000)`, kB", lambda m: delta(m, "Slab", lambda m: m.kmalloc(20000))),
        ("`kvmalloc(5 MiB, GFP_NOFS)` falls back to vmalloc",
         lambda m: "no kvmalloc" if not m.gen.kvmalloc else
         "yes" if m.is_vmalloc_addr(m.kvmalloc(5 << 20, G.GFP_NOFS)) else "no"),
        ("fields in `/proc/meminfo`", lambda m: str(len(m.proc.meminfo().splitlines()))),
    ]


#: calls whose traced path the per-generation table shows: (label, call, the table's chains)
TRACED_CALLS = (
    ("`m.alloc_pages(GFP_KERNEL, 0)`", lambda m: m.alloc_pages(), ("alloc_pages_chain",)),
    ("`m.kmalloc(100)`", lambda m: m.kmalloc(100), ("kmalloc_cache_chain",)),
    ("`m.kmalloc(20000)`", lambda m: m.kmalloc(20000), ("kmalloc_large_chain",)),
    ("`m.vmalloc(20000)`", lambda m: m.vmalloc(20000), ("__vmalloc_node_range",)),
)


def _per_generation() -> list[str]:
    """Two tables computed by booting a 128 MiB machine of every generation."""
    from .machine import Machine
    machines = {g: Machine(mem="128M", kernel=g) for g in GENERATIONS}
    out = ["", "## What a student sees, per generation", "",
           "Computed by booting a 128 MiB x86-64 machine of each generation "
           "(`tests/test_kernel_generations.py` checks that the traces contain these names).", "",
           "| call: traced through | " + " | ".join(GENERATIONS) + " |",
           "|---|" + "---|" * len(GENERATIONS)]
    for label, _, roles in TRACED_CALLS:
        cells = []
        for g in GENERATIONS:
            gen = machines[g].gen
            cells.append(" → ".join(f"`{n}`" for role in roles for n in gen.chain(role)))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "| value | " + " | ".join(GENERATIONS) + " |", "|---|" + "---|" * len(GENERATIONS)]
    for label, get in _value_rows():
        cells = [f"`{get(machines[g])}`".replace("|", chr(92) + "|") for g in GENERATIONS]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


if __name__ == "__main__":      # python -m kmemlab.kernel.generation > docs/kernel-generations.md
    print(markdown(), end="")
