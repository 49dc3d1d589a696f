"""m.cat() and m.ls(): the files the model knows, printed as `cat` prints them on that kernel
(kmemlab/kernel/vfs.py, sysctl.py, slab_sysfs.py); compared with this real machine where it
runs Linux 6.18."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

import kmemlab as km
import real_linux
from kmemlab.kernel.boot import DEFAULT_XSTATE_SIZE
from kmemlab.kernel.procfs import PROC_FILES


@pytest.fixture(scope="module")
def m():
    return km.Machine(mem="1G", cpus=2, seed=1)


@pytest.fixture(scope="module")
def bare():
    return km.Machine(mem="1G", cpus=2, seed=1, boot="bare")


# -- /proc ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PROC_FILES)
def test_cat_of_every_proc_file_is_what_m_proc_prints(m, bare, name):
    for mach in (m, bare):
        assert mach.cat(f"/proc/{name}") == getattr(mach.proc, name)()


def test_cat_returns_text_that_prints_as_the_file(m):
    out = m.cat("/proc/buddyinfo")
    assert isinstance(out, str) and repr(out) == str(out) and out.startswith("Node 0, zone      DMA ")


def test_paths_are_normalised_as_the_shell_opens_them(m):
    expect = m.cat("/proc/meminfo")
    for p in ("/proc//meminfo", "/proc/./meminfo", "/proc/sys/../meminfo", Path("/proc/meminfo"),
              b"/proc/meminfo"):
        assert m.cat(p) == expect


def test_unknown_path_raises_the_shells_no_such_file_error(m):
    with pytest.raises(FileNotFoundError) as e:
        m.cat("/proc/foo")
    assert str(e.value) == "cat: /proc/foo: No such file or directory"
    assert e.value.errno == errno.ENOENT and e.value.filename == "/proc/foo"
    with pytest.raises(FileNotFoundError, match=r"^ls: /sys/kernel/mm: No such file or directory$"):
        m.ls("/sys/kernel/mm")
    with pytest.raises(FileNotFoundError, match="kmalloc-64/nonsense"):
        m.cat("/sys/kernel/slab/kmalloc-64/nonsense")
    with pytest.raises(FileNotFoundError, match="no-such-cache"):
        m.cat("/sys/kernel/slab/no-such-cache/order")


def test_a_directory_is_not_a_file(m):
    with pytest.raises(IsADirectoryError, match=r"^cat: /proc/sys/vm: Is a directory$"):
        m.cat("/proc/sys/vm/")
    with pytest.raises(IsADirectoryError):
        m.cat("/sys/kernel/slab/kmalloc-64")


def test_bad_paths_say_what_to_pass(m):
    with pytest.raises(ValueError, match="absolute path"):
        m.cat("proc/meminfo")
    with pytest.raises(TypeError, match="path must be a string"):
        m.cat(42)


def test_ls_lists_what_the_model_knows(m):
    assert m.ls("/") == ["proc", "sys"]
    assert set(PROC_FILES) | {"sys"} == set(m.ls("/proc"))
    assert m.ls("/sys") == ["kernel"] and m.ls("/sys/kernel") == ["slab"]
    assert m.ls("/proc/meminfo") == ["/proc/meminfo"]          # `ls FILE` names the file
    assert str(m.ls("/proc/sys")) == "vm"


def test_reading_files_changes_nothing(m):
    before = (m.proc.buddyinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(), m.proc.meminfo())
    for path in ("/proc/meminfo", "/sys/kernel/slab/kmalloc-64/objects", "/proc/sys/vm/min_free_kbytes"):
        m.cat(path)
    m.ls("/sys/kernel/slab")
    assert (m.proc.buddyinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(), m.proc.meminfo()) == before


def test_files_follow_restore():
    m = km.Machine(mem="256M", boot="bare")
    s = m.snapshot()
    before = m.cat("/sys/kernel/slab/kmalloc-64/objects")
    p = [m.kmalloc(64) for _ in range(10)]
    assert m.cat("/sys/kernel/slab/kmalloc-64/objects") == "64 N0=64\n" != before
    m.restore(s)
    assert m.cat("/sys/kernel/slab/kmalloc-64/objects") == before == "0\n"
    assert p


# -- /proc/sys/vm -----------------------------------------------------------------------------

def test_vm_sysctls_print_like_proc_dointvec(m):
    assert m.cat("/proc/sys/vm/min_free_kbytes") == f"{m._k.buddy.min_free_kbytes}\n"
    assert m.cat("/proc/sys/vm/watermark_scale_factor") == "10\n"
    assert m.cat("/proc/sys/vm/watermark_boost_factor") == "15000\n"
    assert m.cat("/proc/sys/vm/overcommit_ratio") == "50\n"
    # DMA, DMA32, Normal, Movable, Device: tab separated
    assert m.cat("/proc/sys/vm/lowmem_reserve_ratio") == "256\t256\t32\t0\t0\n"


def test_vm_sysctls_per_generation_and_profile():
    old = km.Machine(mem="128M", kernel="4.5", boot="bare")
    names = set(old.ls("/proc/sys/vm"))
    assert "percpu_pagelist_fraction" in names and "percpu_pagelist_high_fraction" not in names
    assert "watermark_boost_factor" not in names                    # watermark boosting: 5.0
    assert old.cat("/proc/sys/vm/lowmem_reserve_ratio") == "256\t256\t32\t0\n"   # MAX_NR_ZONES - 1
    new = km.Machine(mem="128M", boot="bare")
    assert "percpu_pagelist_high_fraction" in new.ls("/proc/sys/vm")
    i386 = km.Machine("i386", mem="1G", boot="bare")
    assert i386.cat("/proc/sys/vm/lowmem_reserve_ratio") == "256\t32\t0\t0\n"    # no ZONE_DEVICE


def test_admin_reserve_is_a_32nd_of_free_memory_up_to_8_mib():
    assert km.Machine(mem="1G", boot="bare").cat("/proc/sys/vm/admin_reserve_kbytes") == "8192\n"
    t = km.Machine("tiny", boot="bare")
    free_kb = t._k.boot_free_kbytes
    assert t.cat("/proc/sys/vm/admin_reserve_kbytes") == f"{free_kb // 32}\n" and free_kb // 32 < 8192


# -- /sys/kernel/slab -------------------------------------------------------------------------

def test_slab_directory_names_follow_sysfs_slab_add(m):
    names = m.ls("/sys/kernel/slab")
    assert names == sorted(names, key=str.encode)
    # unmergeable caches (usercopy region, constructor, RCU, boot caches) under their own name
    for n in ("kmalloc-64", "kmem_cache", "kmem_cache_node", "task_struct", "dentry", "inode_cache",
              "vm_area_struct", "maple_node", "kmalloc_buckets", "memdup_user-8"):
        assert n in names and m.ls(f"/sys/kernel/slab/{n}")[0] == "aliases"
    # mergeable ones: a :[flags]-size directory, the name links to it
    for n, d in (("vmap_area", ":0000072"), ("pid", ":A-0000192"), ("files_cache", ":A-0000704"),
                 ("kernfs_node_cache", ":0000136"), ("anon_vma_chain", ":A-0000064"),
                 ("fs_cache", ":A-0000064")):
        assert n in names and d in names
        assert m.cat(f"/sys/kernel/slab/{n}/slab_size") == m.cat(f"/sys/kernel/slab/{d}/slab_size")
        assert m.ls(f"/sys/kernel/slab/{n}") == m.ls(f"/sys/kernel/slab/{d}")
    # fs_cache (56 bytes, cache-line aligned) would merge into the older anon_vma_chain: its directory
    assert m.cat("/sys/kernel/slab/fs_cache/object_size") == "64\n"


def test_slab_attributes_agree_with_slabinfo(m):
    rows = {l.split()[0]: l.split() for l in m.proc.slabinfo().splitlines()[2:]}
    for name in ("kmalloc-64", "dentry", "task_struct", "kmem_cache"):
        r = rows[name]
        num = lambda attr: int(m.cat(f"/sys/kernel/slab/{name}/{attr}").split()[0])
        assert num("objects") == int(r[1]) and num("total_objects") == int(r[2])
        assert num("slab_size") == int(r[3]) and num("objs_per_slab") == int(r[4])
        assert 1 << num("order") == int(r[5]) and num("slabs") == int(r[13])
        objects = m.cat(f"/sys/kernel/slab/{name}/objects")
        assert re.fullmatch(r"\d+ N0=\d+\n", objects), objects


def test_slab_attributes_of_a_debug_cache():
    d = km.Machine(mem="256M", slub_debug="FZPU", boot="bare")
    for attr in ("sanity_checks", "red_zone", "poison", "store_user"):
        assert d.cat(f"/sys/kernel/slab/kmalloc-64/{attr}") == "1\n"
    assert d.cat("/sys/kernel/slab/kmalloc-64/trace") == "0\n"


def test_slab_attribute_set_per_generation():
    assert "sheaf_capacity" in km.Machine(mem="128M", boot="bare").ls("/sys/kernel/slab/kmalloc-64")
    old = km.Machine(mem="128M", kernel="6.12", boot="bare").ls("/sys/kernel/slab/kmalloc-64")
    assert "sheaf_capacity" not in old and "usersize" in old
    assert "usersize" not in km.Machine(mem="128M", kernel="4.5", boot="bare").ls("/sys/kernel/slab/kmalloc-64")


def test_ctor_prints_the_constructor_symbol(m):
    assert m.cat("/sys/kernel/slab/inode_cache/ctor") == "init_once+0x0/0x10\n"
    assert m.cat("/sys/kernel/slab/kmalloc-64/ctor") == ""


# -- next to this real machine ------------------------------------------------------------------

needs_real_618 = real_linux.needs_real_618("/sys/kernel/slab/kmalloc-64/order")

#: attributes that do not depend on what the machine has done since it booted; cpu_partial
#: (CONFIG_SLUB_CPU_PARTIAL) and aliases (slab merging) are SLUB's and checked with it
STATIC = ("slab_size", "object_size", "objs_per_slab", "order", "sheaf_capacity", "min_partial", "ctor",
          "align", "hwcache_align", "reclaim_account", "destroy_by_rcu", "shrink", "sanity_checks",
          "trace", "red_zone", "poison", "store_user", "validate", "cache_dma", "remote_node_defrag_ratio",
          "usersize")


@pytest.fixture(scope="module")
def twin():
    """A model of this project's CI machines: 2 CPUs, 24 GiB, 6.18, and this CPU's FPU
    context where dmesg still says it (task_struct's size depends on it)."""
    return km.Machine(mem="24G", cpus=2, xstate_size=real_linux.xstate_size() or DEFAULT_XSTATE_SIZE)


@needs_real_618
def test_kmalloc_64_attributes_equal_the_real_ones(twin):
    real = Path("/sys/kernel/slab/kmalloc-64")
    assert sorted(os.listdir(real)) == twin.ls("/sys/kernel/slab/kmalloc-64")
    for attr in STATIC:
        assert twin.cat(f"/sys/kernel/slab/kmalloc-64/{attr}") == (real / attr).read_text(), attr


@needs_real_618
def test_core_caches_static_attributes_equal_the_real_ones(twin):
    # caches that are directories of their own on the real machine: its sysfs shows their
    # own values (an alias shows its root's)
    for name in ("kmem_cache", "kmem_cache_node", "task_struct", "mm_struct", "filp", "names_cache",
                 "dentry", "inode_cache", "radix_tree_node", "maple_node", "vm_area_struct",
                 "sighand_cache", "anon_vma", "proc_inode_cache", "shmem_inode_cache", "kmalloc-8k",
                 "kmalloc-cg-192", "kmalloc-rcl-96", "dma-kmalloc-1k", "kmalloc_buckets", "memdup_user-96"):
        if name == "task_struct" and real_linux.xstate_size() is None:
            continue        # the CPU's FPU context is unknown (tests/test_boot.py skips it too)
        real = Path("/sys/kernel/slab") / name
        assert not real.is_symlink(), name
        for attr in STATIC:
            assert twin.cat(f"/sys/kernel/slab/{name}/{attr}") == (real / attr).read_text(), (name, attr)


@needs_real_618
def test_vm_sysctl_defaults_equal_the_real_ones(twin):
    for name in ("watermark_scale_factor", "watermark_boost_factor", "lowmem_reserve_ratio",
                 "percpu_pagelist_high_fraction", "overcommit_memory", "overcommit_ratio", "admin_reserve_kbytes"):
        assert twin.cat(f"/proc/sys/vm/{name}") == Path(f"/proc/sys/vm/{name}").read_text(), name
    assert set(twin.ls("/proc/sys/vm")) <= set(os.listdir("/proc/sys/vm"))
