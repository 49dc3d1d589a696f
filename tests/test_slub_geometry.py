"""kmalloc_index() and slab geometry, derived from the kernel's algorithms in the test."""

import re

import pytest

import kmemlab as km


def kernel_kmalloc_index(size):
    # include/linux/slab.h __kmalloc_index(), written out as the kernel's if-chain
    if size == 0:
        return 0
    if size <= 8:
        return 3
    if 64 < size <= 96:
        return 1
    if 128 < size <= 192:
        return 2
    n = 3
    while size > (1 << n):
        n += 1
    return n


BOUNDARIES = sorted({s for n in range(3, 22) for s in ((1 << n) - 1, 1 << n, (1 << n) + 1) if s <= 1 << 21}
                    | {0, 1, 7, 8, 9, 64, 65, 95, 96, 97, 128, 129, 191, 192, 193})


@pytest.mark.parametrize("size", BOUNDARIES)
def test_kmalloc_index_matches_the_kernel_chain_at_every_boundary(size):
    assert km.kmalloc_index(size) == kernel_kmalloc_index(size)


def test_kmalloc_index_known_values_and_errors():
    assert [km.kmalloc_index(s) for s in (1, 8, 9, 16, 17, 65, 96, 97, 129, 193, 4097, 8192)] == \
        [3, 3, 4, 4, 5, 1, 1, 7, 2, 8, 13, 13]
    with pytest.raises(ValueError):
        km.kmalloc_index((2 << 20) + 1)
    with pytest.raises(TypeError):
        km.kmalloc_index(1.5)
    assert km.KMALLOC_MAX_CACHE_SIZE == 8192 and km.KMALLOC_MIN_SIZE == 8


def test_runtime_kmalloc_slab_agrees_with_kmalloc_index_for_all_small_sizes():
    m = km.Machine(mem="64M", cpus=2)
    for size in range(1, 8193):
        s = m.kmalloc_slab(size)
        idx = km.kmalloc_index(size)
        expect = 96 if idx == 1 else 192 if idx == 2 else 1 << idx
        assert s.object_size == expect, size
    assert m.kmalloc_slab(8193) is None


def get_order(size):
    order = 0
    while (4096 << order) < size:
        order += 1
    return order


def ref_calculate_order(size, cpus):
    """mm/slub.c calculate_order()/calc_slab_order() (v6.6), independently written."""
    fls = cpus.bit_length()
    min_objects = 4 * (fls + 1)
    min_objects = min(min_objects, (4096 << 3) // size)

    def slab_order(min_obj, max_order, fract):
        o = get_order(min_obj * size)
        while o <= max_order:
            if (4096 << o) % size <= (4096 << o) // fract:
                return o
            o += 1
        return o

    while min_objects > 1:
        for fract in (16, 8, 4):
            o = slab_order(min_objects, 3, fract)
            if o <= 3:
                return o
        min_objects -= 1
    o = slab_order(1, 3, 1)
    return o if o <= 3 else slab_order(1, 10, 1)


# /proc/slabinfo of an 8-CPU v6.x machine (KERNEL.md §2): size -> (objs/slab, pages/slab)
REAL_8CPU = {8: (512, 1), 16: (256, 1), 32: (128, 1), 64: (64, 1), 96: (42, 1), 128: (32, 1),
             192: (21, 1), 256: (32, 2), 512: (32, 4), 1024: (32, 8), 2048: (16, 8),
             4096: (8, 8), 8192: (4, 8)}


def slabinfo_rows(m):
    rows = {}
    for line in m.proc.slabinfo().splitlines()[2:]:
        f = line.split()
        rows[f[0]] = tuple(int(x) for x in f[1:6]) + (int(f[13]), int(f[14]))
    return rows


def test_eight_cpu_geometry_matches_a_real_slabinfo():
    rows = slabinfo_rows(km.Machine(mem="64M", cpus=8))
    for size, (objs, pages) in REAL_8CPU.items():
        name = "kmalloc-" + (f"{size >> 10}k" if size >= 1024 else str(size))
        assert rows[name][3:5] == (objs, pages), name
        assert rows[name][2] == size


@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 16, 64])
def test_kmalloc_geometry_for_each_cpu_count_follows_calculate_order(cpus):
    m = km.Machine(mem="64M", cpus=cpus, boot="bare")       # 64 CPUs would not fit a booted 64M
    rows = slabinfo_rows(m)
    for size in REAL_8CPU:
        name = "kmalloc-" + (f"{size >> 10}k" if size >= 1024 else str(size))
        order = ref_calculate_order(size, cpus)
        assert rows[name][3:5] == ((4096 << order) // size, 1 << order), (cpus, name)
        for prefix in ("kmalloc-rcl-", "dma-kmalloc-", "kmalloc-cg-"):
            assert rows[prefix + name[8:]][2:5] == rows[name][2:5]


@pytest.mark.parametrize("cpus", [1, 2, 4, 8, 16, 64])
@pytest.mark.parametrize("size", [24, 72, 100, 200, 300, 700, 1000, 1500, 3000, 5000, 12000])
def test_user_cache_geometry_follows_calculate_order(cpus, size):
    m = km.Machine(mem="64M", cpus=cpus, boot="bare")       # 64 CPUs would not fit a booted 64M
    c = m.kmem_cache_create(f"obj{size}", size)
    stride = (size + 7) & ~7                     # ALIGN(size, sizeof(void *)), align 8
    order = ref_calculate_order(stride, cpus)
    assert (c.size, c.order, c.objects) == (stride, order, (4096 << order) // stride)
    assert c.offset == (size // 2) & ~7          # v5.7+: free pointer mid-object


def test_one_cpu_machine_uses_eight_min_objects():
    # min_objects = 4 * (fls(1) + 1) = 8: kmalloc-512 fits 8 objects in one order-0 page
    m = km.Machine(mem="64M", cpus=1)
    assert m.kmalloc_slab(512).oo == (0, 8)
    assert km.Machine(mem="64M", cpus=2).kmalloc_slab(512).oo == (1, 16)


def test_hwcache_align_and_min_partial():
    m = km.Machine(mem="64M", cpus=4)
    c = m.kmem_cache_create("aligned", 20, 0, km.SLAB_HWCACHE_ALIGN)
    assert c.align == 32 and c.size == 32          # 20 <= 64/2 -> 32
    assert m.kmalloc_slab(8).min_partial == 5 and m.kmalloc_slab(8192).min_partial == 6


def test_old_kernel_names_and_offset():
    m = km.Machine(mem="64M", kernel="4.19")
    names = [s.name for s in m.slab_caches]
    assert "kmalloc-1024" in names and "kmalloc-1k" not in names
    assert not any(n.startswith("kmalloc-rcl-") for n in names)
    assert m.kmalloc_slab(64).offset == 0
    assert "kmalloc-rcl-1k" in [s.name for s in km.Machine(mem="64M", kernel="5.4").slab_caches]


def test_slabinfo_format_is_exact():
    m = km.Machine(mem="64M", cpus=8, boot="bare")         # pristine: kmalloc-128 holds only these
    ps = [m.kmalloc(128) for _ in range(40)]
    text = m.proc.slabinfo()
    lines = text.split("\n")
    assert lines[0] == "slabinfo - version: 2.1"
    assert lines[1] == ("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
                        " : tunables <limit> <batchcount> <sharedfactor>"
                        " : slabdata <active_slabs> <num_slabs> <sharedavail>")
    row = next(l for l in lines if l.startswith("kmalloc-128 "))
    # 40 objects need 2 slabs of 32; the CPU slab counts as fully active
    assert row == ("kmalloc-128           64     64    128   32    1 : tunables    0    0    0 "
                   ": slabdata      2      2      0")
    pat = re.compile(r"^\S.{16} [ \d]{6} [ \d]{6} [ \d]{6} [ \d]{4} [ \d]{4} : tunables    0    0    0 "
                     r": slabdata [ \d]{6} [ \d]{6}      0$")
    assert all(pat.match(l) for l in lines[2:-1])
    # the oldest cache comes last: 6.12+ creates kmalloc-96 first, as the real 6.18 /proc/slabinfo shows
    assert lines[-1] == "" and lines[-2].startswith("kmalloc-96 ")
    # booted: kmem_cache_init()'s bootstrap caches are older still, as on the real 6.18 box
    # ("kmalloc-96, kmem_cache_node, kmem_cache" are its last three lines); 6.8 made kmalloc-8 first
    for kernel, first in (("6.18", "kmalloc-96"), ("6.8", "kmalloc-8")):
        booted = km.Machine(mem="64M", kernel=kernel).proc.slabinfo().split("\n")
        assert [l.split()[0] for l in booted[-4:-1]] == [first, "kmem_cache_node", "kmem_cache"], kernel
    for p in ps:
        m.kfree(p)
    m.check_invariants()
