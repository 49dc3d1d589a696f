"""Cache merging (find_mergeable(), slab_nomerge), CPU partial lists as each generation
sizes them (set_cpu_partial(), slabs_cpu_partial), the /sys/kernel/slab counts SLUB's lists
give, and CONFIG_RANDOM_KMALLOC_CACHES."""

from pathlib import Path

import pytest

import kmemlab as km

from machines import boot


def slabinfo_names(m):
    return [l.split()[0] for l in m.proc.slabinfo().splitlines()[2:]]


# -- merging ----------------------------------------------------------------------------------

def test_a_compatible_cache_is_an_alias_of_an_existing_one():
    m = boot()
    a = m.kmem_cache_create("obj_a", 64)
    b = m.kmem_cache_create("obj_b", 57)          # ALIGN(57, 8) = 64 fits a's 64-byte stride
    assert b is a and a.refcount == 2 and a.aliases == 1 and a.alias_names == ["obj_b"]
    names = slabinfo_names(m)
    assert names.count("obj_a") == 1 and "obj_b" not in names    # slabinfo lists the cache once
    p = m.kmem_cache_alloc(b)
    assert m.virt_to_page(p).pfn in {sl.pfn for sl in m._k.slub.slabs_of(a)}
    m.kmem_cache_free(a, p)
    m.check_invariants()


def test_merging_grows_object_size_and_picks_the_oldest_cache():
    m = boot()
    a = m.kmem_cache_create("first", 60)          # stride 64
    second = m.kmem_cache_create("second", 61, flags=km.SLAB_HWCACHE_ALIGN)  # HWCACHE: align 64
    assert second is a                            # 64 % 64 == 0: the alignment fits too
    c = m.kmem_cache_create("third", 64)
    assert c is a and a.object_size == 64 and a.refcount == 3    # kzalloc clears all 64 now


@pytest.mark.parametrize("args, why", [
    (dict(size=56), "a stride more than a word larger (64 - 56 >= 8)"),
    (dict(size=64, flags=km.SLAB_ACCOUNT), "SLAB_MERGE_SAME flags differ"),
    (dict(size=64, flags=km.SLAB_TYPESAFE_BY_RCU), "SLAB_NEVER_MERGE"),
    (dict(size=64, ctor=lambda addr: None), "a constructor"),
    (dict(size=64, align=128), "the alignment makes the object larger"),
])
def test_incompatible_caches_get_their_own(args, why):
    m = boot()
    a = m.kmem_cache_create("base", 64)
    b = m.kmem_cache_create("other", **args)
    assert b is not a, why
    assert "other" in slabinfo_names(m)


def test_slab_nomerge_and_slub_debug_keep_every_cache_apart():
    for kw in (dict(slab_nomerge=True), dict(slub_debug="FZPU")):
        m = boot(**kw)
        a, b = m.kmem_cache_create("x1", 64), m.kmem_cache_create("x2", 64)
        assert a is not b and a.aliases == b.aliases == 0


@pytest.mark.parametrize("kernel, merged", [("4.14", True), ("6.18", False)])
def test_kmalloc_caches_merge_only_before_usercopy_regions(kernel, merged):
    # 4.16 gave kmalloc caches a usercopy region (the whole object), which makes them
    # unmergeable (slab_unmergeable(): s->usersize); before, a 64-byte cache joined kmalloc-64
    m = boot(kernel=kernel)
    c = m.kmem_cache_create("mine", 64)
    assert (c is m.find_cache("kmalloc-64")) is merged
    assert ("mine" in slabinfo_names(m)) is not merged


def test_destroying_an_alias_only_drops_its_reference():
    m = boot()
    a = m.kmem_cache_create("root_c", 64)
    b = m.kmem_cache_create("alias_c", 64)
    p = m.kmem_cache_alloc(a)
    m.kmem_cache_destroy(b)                       # refcount 2 -> 1: nothing else happens
    assert a.refcount == 1 and "root_c" in slabinfo_names(m)
    assert "Slab cache still has objects" not in m.dmesg()
    m.kmem_cache_free(a, p)
    m.kmem_cache_destroy(a)
    assert "root_c" not in slabinfo_names(m)
    m.check_invariants()


# -- CPU partial lists -----------------------------------------------------------------------

#: /sys/kernel/slab/kmalloc-*/cpu_partial on a real 6.18 (this project's machines), with the
#: objects per slab a 2-CPU machine has
REAL_618 = {"kmalloc-8": 120, "kmalloc-64": 120, "kmalloc-192": 120, "kmalloc-256": 52, "kmalloc-512": 52,
            "kmalloc-1k": 24, "kmalloc-2k": 24, "kmalloc-4k": 6, "kmalloc-8k": 6}


@pytest.mark.parametrize("kernel, want", [
    ("6.18", REAL_618),
    ("5.10", {"kmalloc-8": 30, "kmalloc-256": 13, "kmalloc-1k": 6, "kmalloc-4k": 2}),
])
def test_cpu_partial_is_set_cpu_partial_of_the_generation(kernel, want):
    m = boot(kernel=kernel)
    for name, objects in want.items():
        s = m.find_cache(name)
        assert s.cpu_partial == objects, name
        # 5.16+: kept as slabs, half full: DIV_ROUND_UP(cpu_partial * 2, objects per slab)
        assert s.cpu_partial_slabs == -(-objects * 2 // s.objects)


def test_debug_caches_have_no_cpu_partial_list():
    m = boot(slub_debug="FZPU")
    assert m.find_cache("kmalloc-64").cpu_partial == 0


def test_cpu_partial_matches_the_real_618_machine():
    root = Path("/sys/kernel/slab")
    release = Path("/proc/sys/kernel/osrelease")
    if not root.is_dir() or not release.exists() or not release.read_text().startswith("6.18."):
        pytest.skip("needs /sys/kernel/slab of a running 6.18 kernel")
    import os
    m = boot(cpus=os.cpu_count() or 2)
    for name in REAL_618:
        real = root / name
        if real.is_dir():
            s = m.find_cache(name)
            assert int((real / "cpu_partial").read_text()) == s.cpu_partial, name
            assert int((real / "objs_per_slab").read_text()) == s.objects, name
            assert int((real / "order").read_text()) == s.order, name


def _one_free_per_full_slab(m, size, nslabs):
    s = m.kmalloc_slab(size)
    objs = [m.kmalloc(size) for _ in range(nslabs * s.objects)]
    for i in range(nslabs - 1):                   # the last slab is the CPU slab
        m.kfree(objs[i * s.objects])
    return s


def test_slabs_cpu_partial_and_cpu_slabs_as_sysfs_prints_them():
    m = boot()
    s = _one_free_per_full_slab(m, 64, 4)         # 3 slabs onto CPU 0's partial list
    slub = m._k.slub
    assert len(s.cpu_slab[0].partial) == 3 <= s.cpu_partial_slabs == 4
    # "objects(slabs)" estimated as half full, then per CPU (the real box: "192(6) C0=96(3) C1=96(3)")
    assert slub.slabs_cpu_partial_show(s) == f"{3 * s.objects // 2}(3) C0={3 * s.objects // 2}(3)\n"
    # SO_CPU: the CPU slab, plus the partial slabs counted by the head's `slabs`
    assert slub.show_slab_objects(s, "cpu_slabs") == "4 N0=4\n"
    assert slub.show_slab_objects(s, "partial") == "0\n"          # none on the node list
    assert slub.show_slab_objects(s, "slabs") == "4 N0=4\n"
    assert slub.show_slab_objects(s, "objects") == f"{4 * s.objects} N0={4 * s.objects}\n"
    # /proc/slabinfo: objects on CPU partial slabs count as active
    row = next(l for l in m.proc.slabinfo().splitlines() if l.startswith("kmalloc-64 "))
    assert row.split()[1:3] == [str(4 * s.objects), str(4 * s.objects)]


def test_before_516_the_cpu_partial_list_counts_free_objects():
    m = boot(kernel="5.10")
    s = _one_free_per_full_slab(m, 64, 4)
    head = s.cpu_slab[0].partial[0]
    assert (head.pobjects, head.slabs) == (3, 3)   # one free object in each of 3 slabs
    assert m._k.slub.slabs_cpu_partial_show(s) == "3(3) C0=3(3)\n"


def test_frozen_cpu_partial_slabs_until_67():
    for kernel, frozen in (("6.6", True), ("6.8", False)):
        m = boot(kernel=kernel)
        s = _one_free_per_full_slab(m, 64, 3)
        assert all(sl.frozen is frozen for sl in s.cpu_slab[0].partial), kernel
        m.check_invariants()


def test_a_full_cpu_partial_list_drains_to_the_node():
    m = boot()
    s = m.kmalloc_slab(64)
    _one_free_per_full_slab(m, 64, s.cpu_partial_slabs + 2)
    # the (cpu_partial_slabs + 1)th free found the list full: __put_partials() moved it
    assert s.node[0].nr_partial == s.cpu_partial_slabs and len(s.cpu_slab[0].partial) == 1
    with m.trace() as t:
        m.kmem_cache_shrink(s)
    assert "__put_partials" in t
    m.check_invariants()


# -- CONFIG_RANDOM_KMALLOC_CACHES ------------------------------------------------------------------

def _site_a(m):
    return m.kmalloc(64)


def test_random_kmalloc_caches_are_chosen_per_call_site():
    m = boot(random_kmalloc_caches=True, seed=3)
    names = slabinfo_names(m)
    assert all(f"kmalloc-rnd-{i:02d}-64" in names for i in range(1, 16))
    assert "kmalloc-rnd-16-64" not in names and m.find_cache("kmalloc-rnd-01-8k") is not None
    cache_of = lambda p: m._k.slub.page_slab[m.virt_to_page(p).pfn].cache.name   # noqa: E731
    a = {cache_of(_site_a(m)) for _ in range(20)}
    assert len(a) == 1                             # one call site, one cache
    # eight call sites (as if in eight source files): hash_64(caller ^ seed, 4) spreads them
    # over the 16 caches (kmalloc-64 itself is copy 0)
    sites = set()
    for i in range(8):
        ns = {"__name__": f"driver{i}"}
        exec(compile("def probe(m):\n    return m.kmalloc(64)\n", f"driver{i}.c", "exec"), ns)
        sites.add(cache_of(ns["probe"](m)))
    assert len(sites) >= 3
    # a flag that picks another type is never random
    assert cache_of(m.kmalloc(64, km.GFP_KERNEL_ACCOUNT)) == "kmalloc-cg-64"
    m.check_invariants()


def test_random_kmalloc_caches_need_66():
    with pytest.raises(ValueError, match="6.6"):
        km.Machine(mem="64M", kernel="6.1", random_kmalloc_caches=True)
    assert not any(n.startswith("kmalloc-rnd") for n in slabinfo_names(boot()))
