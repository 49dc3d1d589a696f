"""km.Machine.like_host(): a simulated machine shaped like a Linux host — its RAM, CPUs,
nodes, kernel generation and slab caches with the host's geometry; and the two kernel
facts it needs: kmem_cache_args.freeptr_offset (6.12+) and zone spans as
zone_spanned_pages_in_node() computes them.

The fake hosts are directories laid out like / (km.host(root=...)) whose numbers the
tests write; on a real Linux 6.18 as root (CI) the twin of this very machine is checked
cache by cache against /sys/kernel/slab."""

import os
import sys

import pytest

import fake_host as F
import kmemlab as km
from kmemlab import helpers as H
from kmemlab.host import NotLinux
from kmemlab.replay import nearest_generation
from kmemlab.twin import KNOWN_FREEPTR_OFFSETS, twin_shape

LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/meminfo")
ROOT = LINUX and os.geteuid() == 0
CI = os.environ.get("CI") == "true"
RCU_HW = km.SLAB_TYPESAFE_BY_RCU | km.SLAB_HWCACHE_ALIGN


# -- kmem_cache_args.freeptr_offset ------------------------------------------------------------

def test_an_rcu_cache_with_freeptr_offset_keeps_the_free_pointer_inside_the_object():
    m = km.Machine(mem="256M", cpus=2, kernel="6.18")
    # 6.18 mm/vma_init.c: sizeof(struct vm_area_struct) = 192, freeptr_offset = 0,
    # SLAB_HWCACHE_ALIGN | SLAB_TYPESAFE_BY_RCU; real 6.18: slab_size 192, 21 per slab, order 0
    vma = m.kmem_cache_create("vm_area_struct", 192, 0, RCU_HW, freeptr_offset=0)
    assert (vma.size, vma.objects, vma.order, vma.offset) == (192, 21, 0, 0)
    # without it calculate_sizes() puts the pointer behind the object: 200 -> 256 (64-aligned)
    old = m.kmem_cache_create("vma_old", 192, 0, RCU_HW)
    assert (old.size, old.objects, old.offset) == (256, 16, 192)
    # a constructor wins (the kernel's first branch): the pointer goes behind the object
    ctor = m.kmem_cache_create("vma_ctor", 192, 0, RCU_HW, lambda a: None, freeptr_offset=0)
    assert (ctor.size, ctor.offset) == (256, 192)
    # objects come and go through the in-object free pointer
    objs = [m.kmem_cache_alloc(vma) for _ in range(50)]
    assert len(set(objs)) == 50
    for p in objs[::2]:
        m.kmem_cache_free(vma, p)
    assert H.get_freepointer(vma, objs[-2]) in set(objs[::2]) | {0}
    m.check_invariants()
    again = {m.kmem_cache_alloc(vma) for _ in range(60)}
    assert len(again) == 60 and not again & set(objs[1::2])      # live objects are never handed out
    assert set(objs[::2]) <= again                                # the freed ones come back
    m.check_invariants()


@pytest.mark.parametrize("size, flags, offset", [
    (192, RCU_HW, 192),                    # not inside the object
    (192, RCU_HW, 4),                      # not aligned to sizeof(freeptr_t)
    (192, km.SLAB_HWCACHE_ALIGN, 0),       # not an RCU cache
])
def test_create_cache_refuses_a_bad_freeptr_offset_like_the_kernel(size, flags, offset):
    m = km.Machine(mem="256M", kernel="6.18")
    before = [s.name for s in H.for_each_slab_cache(m)]
    assert m.kmem_cache_create("bad", size, 0, flags, freeptr_offset=offset) is None
    # 6.12+: the pr_warn() is in __kmem_cache_create_args() and prints its __func__
    assert "__kmem_cache_create_args(bad) failed with error -22" in m.dmesg()
    assert [s.name for s in H.for_each_slab_cache(m)] == before


def test_freeptr_offset_exists_from_6_12_on():
    assert km.Machine(mem="256M", kernel="6.12").kmem_cache_create(
        "f", 184, 0, RCU_HW, freeptr_offset=144).size == 192
    with pytest.raises(TypeError, match="6.12"):
        km.Machine(mem="256M", kernel="6.8").kmem_cache_create("f", 184, 0, RCU_HW, freeptr_offset=0)
    with pytest.raises(ValueError):
        km.Machine(mem="256M").kmem_cache_create("f", 184, 0, RCU_HW, freeptr_offset=-8)
    assert KNOWN_FREEPTR_OFFSETS["vm_area_struct"][0] == 0


# -- zone spans -----------------------------------------------------------------------------------

def test_a_zone_spans_its_range_clamped_to_the_node_with_the_pci_hole_inside():
    """zone_spanned_pages_in_node(): DMA32 of a 24 GiB PC runs to 4 GiB although RAM stops at
    3 GiB (the real 6.18 VM: spanned 1044480, present 782336, 1528 pageblocks)."""
    m = km.Machine(mem="24G", cpus=2)
    dma, dma32, normal = list(H.for_each_populated_zone(m))
    assert (dma.zone_start_pfn, dma.spanned_pages, dma.present_pages) == (1, 4095, 3998)
    assert (dma32.zone_start_pfn, dma32.spanned_pages, dma32.present_pages) == (4096, 1044480, 782336)
    assert (normal.zone_start_pfn, normal.spanned_pages) == (1 << 20, 21 << 18)
    blocks = m.proc.pagetypeinfo().split("Number of blocks")[1]
    assert "zone    DMA32            0         1528" in blocks
    small = km.Machine(mem="2G")
    assert small.zone("DMA32").zone_end_pfn == (2 << 30) >> 12      # the node ends first
    m.check_invariants()


# -- like_host on a fake host ----------------------------------------------------------------------

def fake_tree(tmp_path, release="6.18.44-test", mem="2G", cpus=2, extra=None):
    src = km.Machine(mem=mem, cpus=cpus, seed=3)
    texts = F.machine_texts(src, release=release)
    # three caches the host has and the twin's boot does not, with the geometry a real
    # 6.18 kernel gives them (mm/slub.c calculate_sizes(), read by hand):
    texts.update(F.slab_dir("vm_area_struct", 192, 192, 64, 21, 0, RCU_HW))       # freeptr_offset
    texts.update(F.slab_dir("inode_with_ctor", 60, 72, 8, 56, 0, 0, ctor="init_once+0x0/0x30"))   # ptr behind
    texts.update(F.slab_dir("dma_buf_cache", 100, 104, 8, 39, 0, km.SLAB_CACHE_DMA))
    texts.update(extra or {})
    return F.write(tmp_path, texts, skip=("proc/slabinfo",)), src


def test_like_host_has_the_hosts_shape_and_its_caches_geometry(tmp_path):
    root, src = fake_tree(tmp_path)
    h = km.host(root=root)
    m = km.Machine.like_host(h)
    assert (m.cpus, m.nodes, m.kernel) == (2, 1, "6.18")
    assert [(z.zone_start_pfn, z.spanned_pages, z.present_pages) for z in H.for_each_zone(m)] == \
        [(z.zone_start_pfn, z.spanned_pages, z.present_pages) for z in H.for_each_zone(src)]
    assert m.twin.shape.mem == 2 << 30
    for hc in H.for_each_slab_cache(h):
        c = H.find_slab_cache(m, hc.name)
        assert c is not None, hc.name
        assert (c.size, c.objects, c.order) == (hc.size, hc.objects, hc.order), hc.name
        assert (c.object_size, c.align) == (hc.object_size, hc.align), hc.name
    vma = H.find_slab_cache(m, "vm_area_struct")
    assert vma.offset == 0 and vma.flags & km.SLAB_TYPESAFE_BY_RCU
    assert H.find_slab_cache(m, "inode_with_ctor").ctor.__name__ == "init_once"
    assert H.find_slab_cache(m, "dma_buf_cache").flags & km.SLAB_CACHE_DMA
    how = {c.name: c.how for c in m.twin.caches}
    # the twin boots like a running system: its boot made vm_area_struct (with 6.18's free
    # pointer inside the object) before like_host() came to it
    assert how["vm_area_struct"] == "booted" and how["kmalloc-64"] == "booted"
    assert how["inode_with_ctor"] == "created"
    # a pristine twin creates vm_area_struct itself and finds the free pointer it needs
    bare = km.Machine.like_host(h, boot="bare")
    how = {c.name: c.how for c in bare.twin.caches}
    assert how["vm_area_struct"] == "created" and how["kmalloc-64"] == "booted"
    assert [c.name for c in bare.twin.caches if c.freeptr_offset is not None] == ["vm_area_struct"]
    assert H.find_slab_cache(bare, "vm_area_struct").offset == 0
    text = str(bare.twin)
    assert "free pointer inside the object: vm_area_struct" in text and "2G RAM" in text
    assert "<li>" in m.twin._repr_html_()
    m.check_invariants()


def test_like_host_follows_the_nearest_generation_and_overrides(tmp_path):
    root, _ = fake_tree(tmp_path, release="6.10.3-arch1")
    m = km.Machine.like_host(root, mem="1G", caches=["vm_area_struct"])
    assert m.kernel == "6.8"                       # the newest kmemlab follows not newer than 6.10
    assert sum(z.present_pages for z in H.for_each_zone(m)) < (1 << 30) >> 12
    assert any("mem='1G' asked for" in n for n in m.twin.notes)
    # 6.8 has no freeptr_offset: the RCU cache gets the stride of its time
    assert H.find_slab_cache(m, "vm_area_struct").size == 256
    assert H.find_slab_cache(m, "dma_buf_cache") is None
    assert not [c for c in m.twin.caches if c.how == "created" and c.name != "vm_area_struct"]
    bare = km.Machine.like_host(root, caches=False)
    assert bare.twin.caches == [] and H.find_slab_cache(bare, "vm_area_struct") is None


def test_like_host_bad_input_says_what_to_pass(tmp_path):
    root, _ = fake_tree(tmp_path)
    with pytest.raises(TypeError, match="Machine\\(\\) arguments"):
        km.Machine.like_host(root, ram="4G")
    with pytest.raises(TypeError, match="cache names"):
        km.Machine.like_host(root, caches="dentry")
    with pytest.raises(TypeError, match="km.host"):
        km.Machine.like_host(42)
    with pytest.raises(NotLinux):
        km.Machine.like_host(tmp_path / "nothing-here")


def test_the_shape_of_a_large_host_is_clamped_and_says_so(tmp_path):
    root, _ = fake_tree(tmp_path)
    # a 96 GiB host: more RAM than the x86_64 profile models
    zi = (root / "proc/zoneinfo").read_text()
    (root / "proc/zoneinfo").write_text(F.set_zone_field(zi, "DMA32", "present", 96 << 18))
    s = twin_shape(km.host(root=root))
    assert s.mem == 64 << 30
    assert any("supports" in n and "64G" in n for n in s.notes)


# -- the real host -------------------------------------------------------------------------------

@pytest.mark.skipif(not ROOT and not CI, reason="needs a running Linux as root (/sys/kernel/slab's "
                                                "geometry files and /proc/slabinfo)")
def test_the_twin_of_this_machine_has_its_cache_geometry():
    h = km.host()
    m = km.Machine.like_host(h)
    assert m.kernel == nearest_generation(h.release)
    checked = 0
    for hc in H.for_each_slab_cache(h):
        c = H.find_slab_cache(m, hc.name)
        if c is None:
            continue
        assert (c.size, c.objects, c.order) == (hc.size, hc.objects, hc.order), \
            f"{hc.name}: host {hc.size}/{hc.objects}/{hc.order}, twin {c.size}/{c.objects}/{c.order}"
        checked += 1
    created = [c.name for c in m.twin.caches if c.how == "created"]
    assert created and checked >= len(created)
    assert not [c for c in m.twin.caches if c.how == "failed"]
    assert sum(z.present_pages for z in H.for_each_zone(m)) == sum(z.present_pages for z in H.for_each_zone(h))
    assert (m.cpus, m.nodes) == (h.cpus, min(h.nodes, 8))
