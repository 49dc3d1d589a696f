"""Exhaustion (issue 9): drive each profile out of memory with each allocator. Allocations
fail cleanly with the kernel's own messages, and freeing everything gives every page back
— except what the kernel itself keeps: page-table pages of the vmalloc area, and the empty
slabs SLUB holds until kmem_cache_shrink()."""

import re

import pytest

import kmemlab as km

PROFILES = [("tiny", "16M"), ("x86_64", "128M"), ("x86_64-la57", "128M"), ("i386", "128M")]

ALLOCATORS = {
    # name: (allocate -> handle or falsy, free(handle), the failure report in dmesg)
    "alloc_pages": (lambda m: m.alloc_pages(km.GFP_KERNEL, 0), lambda m, h: m.free_pages(h, 0),
                    r"page allocation failure: order:0, mode:0xcc0\(GFP_KERNEL\)"),
    "kmalloc-256": (lambda m: m.kmalloc(256), lambda m, h: m.kfree(h),
                    r"page allocation failure: order:\d, mode:0x\w+\(GFP_KERNEL"),
    "kmalloc_large": (lambda m: m.kmalloc(64 << 10), lambda m, h: m.kfree(h),
                      r"page allocation failure: order:4, mode:0x\w+\(GFP_KERNEL\|__GFP_COMP\)"),
    "vmalloc": (lambda m: m.vmalloc(64 << 10), lambda m, h: m.vfree(h),
                r"vmalloc error: size \d+, (failed to allocate pages|vm_struct allocation failed"
                r"|failed to allocated page array size \d+), mode:0x\w+"),
    "kvmalloc": (lambda m: m.kvmalloc(64 << 10), lambda m, h: m.kvfree(h),
                 r"vmalloc error: size \d+, (failed to allocate pages|vm_struct allocation failed"
                 r"|failed to allocated page array size \d+), mode:0x\w+"),
}


def free_pages(m):
    # free in the buddy lists and on the per-cpu lists (which NR_FREE_PAGES leaves out)
    return sum(z.nr_free_pages + z.nr_pcp_pages for z in m.zones)


@pytest.mark.parametrize("profile, mem", PROFILES, ids=[p for p, _ in PROFILES])
@pytest.mark.parametrize("allocator", list(ALLOCATORS))
def test_out_of_memory_fails_cleanly_and_everything_comes_back(profile, mem, allocator):
    alloc, free, report = ALLOCATORS[allocator]
    m = km.Machine(profile=profile, mem=mem)
    k = m._k
    def accounted():      # free pages + what the kernel keeps for itself
        return (free_pages(m) + k.vmstat["nr_page_table_pages"] + k.vmstat["nr_slab_unreclaimable"]
                + k.vmstat["nr_slab_reclaimable"])
    boot = accounted()
    vmalloc_at_boot = k.vmstat["nr_vmalloc"]          # a booted machine's stacks and per-CPU chunk
    m.dmesg(clear=True)
    held = []
    for _ in range(m.totalram_pages * 16 + 100):     # 16 kmalloc-256 objects per page at most
        h = alloc(m)
        if not h:
            break
        held.append(h)
    else:
        pytest.fail("memory never ran out")
    assert held, "not even one allocation succeeded"
    assert re.search(report, m.dmesg()), m.dmesg()[-2000:]
    m.check_invariants()
    # the machine still works at the floor: atomic requests may dip into the reserve
    atomic = m.alloc_pages(km.GFP_ATOMIC | km.__GFP_NOWARN, 0)
    for h in held:
        free(m, h)
    if atomic is not None:
        m.free_pages(atomic, 0)
    m.vm_unmap_aliases()
    for cache in m.slab_caches:
        m.kmem_cache_shrink(cache)
    m.check_invariants()
    assert accounted() == boot, "pages leaked"
    assert k.vmstat["nr_vmalloc"] == vmalloc_at_boot
