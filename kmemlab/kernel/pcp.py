"""Per-CPU page lists: ``struct per_cpu_pages`` and how the kernel sizes them.

Every populated zone has one ``struct per_cpu_pages`` per CPU (``zone->per_cpu_pageset``):
a small cache of free pages that the CPU takes pages from and gives pages back to without
the zone lock. mm/page_alloc.c keeps:

- ``lists[NR_PCP_LISTS]``: one list per migratetype (``MIGRATE_PCPTYPES`` = 3) and, from
  5.14, per low order (0 .. ``PAGE_ALLOC_COSTLY_ORDER`` = 3) plus the THP order
  (``pageblock_order``; one list before 6.10, one for movable and one for the others
  after): ``order_to_pindex()``. Before 5.14 only order-0 pages are cached.
- ``count`` pages on the lists, ``batch`` how many move to or from the buddy lists at a
  time, ``high`` where freeing starts to give pages back (``free_pcppages_bulk()``).

How ``batch`` and ``high`` are computed (``zone_batchsize()``, ``zone_highsize()``,
``zone_set_pageset_high_and_batch()``) is the generation's, :attr:`Generation.pcp_tuning`:

- ``"fixed"`` (4.5 .. 5.13): ``high = 6 * batch``; a free past ``high`` gives ``batch``
  pages back, an empty list takes ``batch`` pages (``pageset_set_batch()``).
- ``"split_high"`` (5.14 .. 6.6): ``high`` is the zone's low watermark split across the
  node's CPUs (at least ``4 * batch``); consecutive frees give back more each time
  (``free_factor``, ``nr_pcp_free()``), an allocation halves that again.
- ``"auto"`` (6.7 on): ``high`` is tuned between ``high_min`` (the low-watermark split) and
  ``high_max`` (an eighth of the zone split across the CPUs): it grows while a CPU
  refills (``nr_pcp_alloc()``, ``alloc_factor``) and while it frees more than it holds
  (``nr_pcp_high()``, ``free_count``), and shrinks back when the zone drops below its
  high watermark (``ZONE_BELOW_HIGH``).

Simplifications (said where they apply): ``vmstat_update()``'s once-a-second
``decay_pcp_high()`` and the remote-node ``drain_zone_pages()`` are not modelled (kmemlab
has no timer), nor is ``PCPF_FREE_HIGH_BATCH`` (it depends on the CPU's cache size, which
kmemlab does not model), reclaim (``ZONE_RECLAIM_ACTIVE``), ``percpu_pagelist_high_fraction``
and the 4.x ``__GFP_COLD`` tail placement.
"""

from __future__ import annotations

__all__ = ["PerCpuPages", "MIGRATE_PCPTYPES", "PAGE_ALLOC_COSTLY_ORDER", "PCP_BATCH_SCALE_MAX",
           "MIN_PERCPU_PAGELIST_HIGH_FRACTION", "PCPF_PREV_FREE_HIGH_ORDER",
           "zone_batchsize", "zone_highsize", "calculate_normal_threshold"]

MIGRATE_PCPTYPES = 3                    # MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE
PAGE_ALLOC_COSTLY_ORDER = 3
PCP_BATCH_SCALE_MAX = 5                 # CONFIG_PCP_BATCH_SCALE_MAX (default; real 6.18 config)
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8
BOOT_PAGESET_HIGH = 0
BOOT_PAGESET_BATCH = 1
PCPF_PREV_FREE_HIGH_ORDER = 1 << 0      # pcp->flags (6.7+)


class PerCpuPages:
    """``struct per_cpu_pages`` of one zone on one CPU.

    ``lists[pindex]`` holds pfns (of the block's first frame) with the **list head last**:
    taking the head (``list_first_entry``) and adding at the head (``list_add``) are
    ``pop()`` / ``append()``, the tail (``list_last_entry``, what ``free_pcppages_bulk()``
    takes first) is ``lists[pindex][0]``. Read the lists in kernel order with
    :meth:`pcp_list`."""

    __slots__ = ("count", "high", "high_min", "high_max", "batch", "flags", "alloc_factor",
                 "free_count", "free_factor", "lists", "stat_threshold")

    def __init__(self, nr_lists: int):
        # per_cpu_pages_init(): the boot pageset values until zone_pcp_update() runs
        self.count = 0
        self.high = BOOT_PAGESET_HIGH
        self.high_min = BOOT_PAGESET_HIGH
        self.high_max = BOOT_PAGESET_HIGH
        self.batch = BOOT_PAGESET_BATCH
        self.flags = 0
        self.alloc_factor = 0           # 6.7+: refill batches double while a CPU only allocates
        self.free_count = 0             # 6.7+: consecutive pages freed
        self.free_factor = 0            # 5.14 .. 6.6: consecutive frees
        self.lists: list[list[int]] = [[] for _ in range(nr_lists)]
        self.stat_threshold = 0         # per_cpu_zonestat.stat_threshold ("vm stats threshold")

    def pcp_list(self, pindex: int) -> list[int]:
        """The pfns on ``lists[pindex]``, list head first (as ``list_for_each_entry``)."""
        return self.lists[pindex][::-1]

    def __repr__(self):
        return f"<per_cpu_pages count={self.count} high={self.high} batch={self.batch}>"


def _rounddown_pow_of_two(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def zone_batchsize(managed_pages: int, page_size: int, max_batch_bytes: int) -> int:
    """``zone_batchsize()``: about 0.1 % of the zone, at most ``max_batch_bytes`` (512 KiB
    before 4.19, 1 MiB after), divided by 4 and rounded down to 2**n - 1 ("a power of 2
    value was found to be more likely to have suboptimal cache aliasing")."""
    batch = min(managed_pages >> 10, max_batch_bytes // page_size)
    batch //= 4
    if batch < 1:
        batch = 1
    return _rounddown_pow_of_two(batch + batch // 2) - 1


def zone_highsize(total_pages: int, batch: int, nr_split_cpus: int) -> int:
    """``zone_highsize()``: ``total_pages`` (the zone's low watermark, or the managed
    pages over a fraction) split across the CPUs of the zone's node, at least
    ``batch << 2`` ("the historical relationship between high and batch")."""
    return max(total_pages // max(nr_split_cpus, 1), batch << 2)


def calculate_normal_threshold(managed_pages: int, page_shift: int, nr_cpus: int) -> int:
    """mm/vmstat.c ``calculate_normal_threshold()``: how far a CPU's vmstat diff may
    drift before it is folded (zoneinfo's "vm stats threshold")."""
    mem = managed_pages >> (27 - page_shift)            # in 128 MiB units
    threshold = 2 * nr_cpus.bit_length() * (1 + mem.bit_length())
    return min(125, threshold)
