"""``/proc/sys/vm``: the page allocator's and the VM's sysctl knobs, read-only.

kernel/sysctl.c and mm/page_alloc.c (``page_alloc_sysctl_table``), mm/util.c
(``overcommit_*``) and mm/mmap.c (``admin_reserve_kbytes``) register these; each file
prints its integers the way ``proc_dointvec()`` does: the values separated by a tab, then
a newline (``lowmem_reserve_ratio`` holds one per zone type).

Only the knobs whose values the model uses are here: the watermarks
(``min_free_kbytes``, ``watermark_scale_factor``, ``watermark_boost_factor``),
``lowmem_reserve_ratio``, the per-cpu page list fraction, and the overcommit settings that
``CommitLimit`` in ``/proc/meminfo`` follows. They show the boot defaults; writing them is
not modelled.
"""

from __future__ import annotations

__all__ = ["register_vm_sysctls", "WATERMARK_SCALE_FACTOR", "WATERMARK_BOOST_FACTOR",
           "OVERCOMMIT_RATIO", "OVERCOMMIT_GUESS"]

#: mm/page_alloc.c: int watermark_scale_factor = 10 (tenths of a percent of the zone)
WATERMARK_SCALE_FACTOR = 10
#: mm/page_alloc.c: int watermark_boost_factor __read_mostly = 15000 (5.0+)
WATERMARK_BOOST_FACTOR = 15000
#: mm/util.c: int sysctl_overcommit_ratio __read_mostly = 50 (CommitLimit: 50 % of RAM + swap)
OVERCOMMIT_RATIO = 50
#: include/uapi/linux/mman.h OVERCOMMIT_GUESS (the default of vm.overcommit_memory)
OVERCOMMIT_GUESS = 0


def _ints(*values: int) -> str:
    """proc_dointvec(): "%d" values joined by tabs, then "\\n"."""
    return "\t".join(str(v) for v in values) + "\n"


def lowmem_reserve_ratio(k) -> list[int]:
    """``sysctl_lowmem_reserve_ratio[]`` as the file lists it: one entry per zone type of
    the machine, then ZONE_MOVABLE's (0) and, with CONFIG_ZONE_DEVICE, ZONE_DEVICE's (0)
    from 4.18 on; before, the array had MAX_NR_ZONES - 1 entries (no ZONE_DEVICE slot)."""
    from .buddy import LOWMEM_RESERVE_RATIO
    # k.zone_types: the profile's zones, ZONE_MOVABLE and (CONFIG_ZONE_DEVICE, 64-bit) ZONE_DEVICE
    ratios = [LOWMEM_RESERVE_RATIO[name] for name in k.zone_types]
    if not k.gen.lowmem_reserve_ratio_all_zones:
        ratios.pop()              # int sysctl_lowmem_reserve_ratio[MAX_NR_ZONES-1]
    return ratios


def admin_reserve_kbytes(k) -> int:
    """mm/mmap.c ``init_admin_reserve()``: min(free memory / 32, 8 MiB) at boot, in kB."""
    return min(k.boot_free_kbytes // 32, 8 << 10)


def register_vm_sysctls(vfs, k) -> None:
    """The ``/proc/sys/vm`` files of this generation (``vm_table`` + ``page_alloc_sysctl_table``)."""
    gen = k.gen
    files = {
        "min_free_kbytes": lambda k: _ints(k.buddy.min_free_kbytes),
        "watermark_scale_factor": lambda k: _ints(WATERMARK_SCALE_FACTOR),
        "lowmem_reserve_ratio": lambda k: _ints(*lowmem_reserve_ratio(k)),
        "overcommit_memory": lambda k: _ints(OVERCOMMIT_GUESS),
        "overcommit_ratio": lambda k: _ints(OVERCOMMIT_RATIO),
        "admin_reserve_kbytes": lambda k: _ints(admin_reserve_kbytes(k)),
    }
    if gen.zoneinfo_boost:                  # watermark boosting came with the "boost" line (5.0)
        files["watermark_boost_factor"] = lambda k: _ints(WATERMARK_BOOST_FACTOR)
    # 5.14 replaced percpu_pagelist_fraction by percpu_pagelist_high_fraction (both 0 = default)
    files[gen.pcp_fraction_sysctl] = lambda k: _ints(0)
    for name, show in files.items():
        vfs.register(f"/proc/sys/vm/{name}", show)
