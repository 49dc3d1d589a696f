"""The booted machine (kmemlab/kernel/boot.py, percpu.py): what a kernel holds once init
runs, per the kernel's rules, consistent across /proc; next to this real 6.18 machine."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import kmemlab as km
import real_linux
from kmemlab.kernel.boot import DEFAULT_XSTATE_SIZE, TASK_STRUCT_FIXED_SIZE
from kmemlab.kernel.generation import GENERATIONS
from kmemlab.kernel.helpers import find_slab_cache
from kmemlab.kernel.percpu import pcpu_build_alloc_info


def meminfo(m) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^([\w()]+): +(\d+)", m.proc.meminfo(), re.M)}


def slabinfo(text: str) -> dict[str, list[int]]:
    rows = {}
    for line in text.splitlines()[2:]:
        f = line.split()
        rows[f[0]] = [int(f[i]) for i in (1, 2, 3, 4, 5, 13, 14)]
    return rows


@pytest.fixture(scope="module")
def m():
    return km.Machine(mem="1G", cpus=2, seed=0)


# -- the choice --------------------------------------------------------------------------------

def test_default_boot_is_a_running_system_and_bare_the_pristine_one(m):
    bare = km.Machine(mem="1G", cpus=2, seed=0, boot="bare")
    assert m.boot == "init" and bare.boot == "bare"
    # the pristine machine: no stacks, no per-CPU chunk, no vmap area, no object allocated
    b = meminfo(bare)
    assert b["KernelStack"] == b["Percpu"] == b["VmallocUsed"] == b["AnonPages"] == 0
    assert bare.proc.vmallocinfo() == ""
    assert all(r[0] == 0 for name, r in slabinfo(bare.proc.slabinfo()).items() if name != "kmalloc_buckets")
    assert "kmem_cache" not in slabinfo(bare.proc.slabinfo())
    i = meminfo(m)
    for field in ("Slab", "SUnreclaim", "SReclaimable", "KernelStack", "PageTables", "VmallocUsed",
                  "Percpu", "AnonPages"):
        assert i[field] > 0, field
    assert i["MemFree"] < b["MemFree"]


def test_bad_boot_values_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"boot must be one of 'init', 'bare'.*got 'full'"):
        km.Machine(boot="full")
    with pytest.raises(ValueError, match="boot must be one of"):
        km.Machine(boot=None)


def test_boot_is_deterministic_under_seed():
    a, b, c = (km.Machine(mem="512M", seed=s) for s in (7, 7, 8))
    for f in ("buddyinfo", "slabinfo", "vmallocinfo", "meminfo", "pagetypeinfo"):
        assert getattr(a.proc, f)() == getattr(b.proc, f)(), f
    assert a.dmesg() == b.dmesg()
    pfns = lambda mach: [mach.vmalloc_to_page(mach.vmalloc(64 << 10) + i * 4096).pfn for i in range(16)]
    assert pfns(a) == pfns(b) != pfns(c)


def test_every_profile_and_generation_boots_consistent():
    for kw in (dict(profile="tiny"), dict(profile="i386", mem="2G"), dict(profile="x86_64-la57", mem="1G"),
               dict(mem="8G", nodes=2, cpus=4), dict(mem="4G", cpus=3), dict(mem="256M", cpus=1)):
        mach = km.Machine(**kw)
        mach.check_invariants()
        assert meminfo(mach)["KernelStack"] > 0
    for g in GENERATIONS:
        mach = km.Machine(mem="256M", kernel=g)
        mach.check_invariants()


def test_a_machine_too_small_for_the_boot_state_says_so():
    with pytest.raises(ValueError, match='cannot hold what a booted system holds.*boot="bare"'):
        km.Machine("tiny", mem="4M", cpus=8)


# -- the seed article's lesson ------------------------------------------------------------------

def test_vmalloc_64k_maps_scattered_frames_on_the_default_machine():
    """kmalloc memory is physically contiguous, vmalloc memory only virtually: on a machine
    that has run for a while (every default machine), the 16 frames behind vmalloc(64K)
    come from all over RAM. Only the pristine machine hands them out in a row."""
    for seed in range(5):
        mach = km.Machine("x86_64", mem="128M", seed=seed)
        v = mach.vmalloc(64 << 10)
        pfns = [mach.vmalloc_to_page(v + i * 4096).pfn for i in range(16)]
        assert any(b != a + 1 for a, b in zip(pfns, pfns[1:])), (seed, pfns)
        assert max(pfns) - min(pfns) > 64, (seed, pfns)     # spread over more than 256 KiB
        p = mach.kmalloc(8192)
        assert mach.virt_to_phys(p + 4096) == mach.virt_to_phys(p) + 4096
    bare = km.Machine("x86_64", mem="128M", boot="bare")
    v = bare.vmalloc(64 << 10)
    pfns = [bare.vmalloc_to_page(v + i * 4096).pfn for i in range(16)]
    assert pfns == list(range(pfns[0], pfns[0] + 16))


def test_the_dashboards_vmalloc_button_draws_crossing_lines_on_the_default_machine():
    pytest.importorskip("ipywidgets")
    from kmemlab.widgets import Dashboard
    mach = km.Machine("x86_64", mem="128M", seed=0)
    d = Dashboard(mach)
    console = d.view("console")
    console.bytes.value = "64K"
    console.vmalloc_button.click()
    d.flush()
    title = html.unescape(d.view("mapping").heading.value)
    assert "vmalloc: 65536 bytes" in title and "scattered" in title, title
    assert "physically contiguous too" not in title


# -- what is there, by the kernel's rules --------------------------------------------------------

def test_bootstrap_caches_come_first_and_hold_a_struct_per_cache(m):
    rows = slabinfo(m.proc.slabinfo())
    assert list(rows)[-2:] == ["kmem_cache_node", "kmem_cache"]   # the oldest caches, listed last
    slub = m._k.slub
    live = lambda mach, name: mach._k.slub.live_objects(next(s for s in mach._k.slub.slab_caches if s.name == name))
    # slabinfo counts a CPU slab as in use: the exact number is the allocated objects
    assert live(m, "kmem_cache") == len(slub.slab_caches) == len(rows)
    assert live(m, "kmem_cache_node") == len(rows) * m.nodes
    assert rows["kmem_cache"][2:5] == [256, 16, 1] and rows["kmem_cache_node"][2:5] == [128, 32, 1]
    two = km.Machine(mem="1G", cpus=2, nodes=2)
    assert two.cat("/sys/kernel/slab/kmem_cache/object_size") == "240\n"     # 224 + 2 node pointers
    assert live(two, "kmem_cache_node") == 2 * len(two._k.slub.slab_caches)


def test_tasks_have_stacks_in_vmalloc_space_counted_in_kernelstack(m):
    k = m._k
    tasks = k.boot.tasks
    info = m.proc.vmallocinfo()
    stacks = re.findall(r"^0x([0-9a-f]+)-0x[0-9a-f]+   20480 (kernel_clone\+0xb8/0x400|fork_idle\+0x9e/0x150) "
                        r"pages=4 vmalloc N0=4$", info, re.M)
    cached = sum(len(c) for c in k.boot.cached_stacks.values())
    assert len(stacks) == len(tasks) + cached
    assert all(int(a, 16) % (16 << 10) == 0 for a, _ in stacks)          # THREAD_ALIGN
    assert sum(1 for _, c in stacks if c.startswith("fork_idle")) == m.cpus - 1
    assert meminfo(m)["KernelStack"] == 16 * len(tasks)
    # the kernel threads: per CPU, per node and global, as a 6.18 machine runs them
    comms = [t.comm for t in tasks]
    assert {"kthreadd", "ksoftirqd/0", "ksoftirqd/1", "kswapd0", "migration/1", "init"} <= set(comms)
    assert len(comms) == len(set(comms))


def test_stacks_per_generation():
    old = km.Machine(mem="256M", kernel="4.5")
    assert "_do_fork" not in old.proc.vmallocinfo() and "kernel_clone" not in old.proc.vmallocinfo()
    assert meminfo(old)["KernelStack"] == 16 * len(old._k.boot.tasks)     # order-2 pages
    mid = km.Machine(mem="256M", kernel="4.19")
    assert re.search(r" 20480 _do_fork\+0x[0-9a-f]+/0x[0-9a-f]+ pages=4 vmalloc", mid.proc.vmallocinfo())
    assert "irq_init_percpu_irqstack" not in mid.proc.vmallocinfo()        # IRQ stacks vmapped: 5.2
    i386 = km.Machine("i386", mem="1G")
    assert meminfo(i386)["KernelStack"] == 8 * len(i386._k.boot.tasks)   # no VMAP_STACK on 32-bit


def test_percpu_areas(m):
    pc = m._k.percpu
    # dmesg as the 2-CPU 6.18 machines print it
    assert "percpu: Embedded 57 pages/cpu s202520 r0 d30952 u1048576" in m.dmesg()
    assert "pcpu-alloc: s202520 r0 d30952 u1048576 alloc=1*2097152\n" in m.dmesg()
    # the second chunk: 2 MiB at the top of the vmalloc space, no guard page
    top = re.search(r"^0x([0-9a-f]+)-0x([0-9a-f]+) 2097152 pcpu_get_vm_areas\+0x0/0x1050 vmalloc$",
                    m.proc.vmallocinfo(), re.M)
    assert top and int(top.group(2), 16) == m.VMALLOC_END
    assert meminfo(m)["Percpu"] == (57 + pc.chunks[0].nr_populated) * 2 * 4
    # the first chunk stays memblock-reserved: one 57-page run per CPU, 1 MiB apart
    units = [pfn for cpu, pfn in pc.first_units]
    assert units[1] - units[0] == 256
    assert all(m.mem_map.kind_name(p) == "reserved" for u in units for p in range(u, u + 57))
    assert m.mem_map.kind_name(units[0] + 57) != "reserved"


@pytest.mark.parametrize("cpus, unit, units, line", [
    (1, 2 << 20, 1, "[0] 0 "), (2, 1 << 20, 2, "[0] 0 1 "), (3, 512 << 10, 4, "[0] 0 1 2 - "),
    (4, 512 << 10, 4, "[0] 0 1 2 3 "), (8, 256 << 10, 8, "[0] 0 1 2 3 4 5 6 7 ")])
def test_pcpu_build_alloc_info_packs_units_into_2m_atoms(cpus, unit, units, line):
    ai = pcpu_build_alloc_info([0] * cpus, 202520, 0, 28 << 10, 2 << 20)
    assert (ai.unit_size, ai.nr_units, ai.dyn_size) == (unit, units, 30952)
    mach = km.Machine(mem="1G", cpus=cpus)
    assert f"pcpu-alloc: {line}\n" in mach.dmesg()


def test_ioremap_areas_show_their_physical_address(m):
    info = m.proc.vmallocinfo()
    assert re.search(r"^0x[0-9a-f]{16}-0x[0-9a-f]{16}    8192 acpi_os_map_iomem\+0x1bc/0x1e0 "
                     r"phys=0x00000000000a0000 ioremap$", info, re.M)
    mmcfg = re.search(r"^0x([0-9a-f]+)-0x[0-9a-f]+ 1052672 pci_mmcfg_arch_map\+0x2b/0x60 "
                      r"phys=0x00000000eec00000 ioremap$", info, re.M)
    assert mmcfg and int(mmcfg.group(1), 16) % (512 << 10) == 0     # IOREMAP_MAX_ORDER alignment
    # mapped uncached (PCD) onto device memory, not RAM
    w = m.walk(int(mmcfg.group(1), 16) + 0x2000)
    assert w.phys == 0xeec02000 and "PCD" in w.levels[-1].flags
    assert "unpurged vm_area" in info                       # ACPI tables unmapped again


def test_user_processes_have_page_tables_and_memory(m):
    k = m._k
    users = [t for t in k.boot.tasks if t.pgtables]
    assert {t.comm for t in users} >= {"init", "systemd-journal", "bash"}
    mi = meminfo(m)
    assert mi["AnonPages"] == sum(len(t.anon) for t in users) * 4 == mi["Inactive(anon)"]
    kernel_tables = len(k.pgtable.tables)
    assert mi["PageTables"] == (kernel_tables + sum(len(t.pgtables) for t in users)) * 4
    assert all(m.mem_map.kind_name(p) == "user" for t in users for p in t.anon)


def test_free_lists_are_mixed_after_boot(m):
    """Allocations come and go while a kernel boots. The pages freed last wait on the
    per-CPU lists (free_unref_page(): orders 0-3 since 5.14), most recent first, so the
    order-0 list is not in address order; the refills (rmqueue_bulk()) split blocks, so
    the buddy lists hold low-order remainders; and the pcp and buddy lists together are
    free memory that is no longer one clean run."""
    dma32 = m.zone("DMA32")
    pcp = dma32.per_cpu_pageset[0]
    heads = pcp.pcp_list(0) + pcp.pcp_list(1)
    assert len(heads) > 16 and heads != sorted(heads)
    assert sum(dma32.free_area[o].nr_free for o in range(4)) >= 2
    assert sum(p.count for z in m.zones for p in z.per_cpu_pageset) == sum(z.nr_pcp_pages for z in m.zones)
    bare = km.Machine("x86_64", mem="128M", boot="bare").zone("DMA32")
    assert sum(bare.free_area[o].nr_free for o in range(4)) < sum(dma32.free_area[o].nr_free for o in range(4))


# -- consistent, and next to the real machine ------------------------------------------------------

def test_proc_files_agree_with_each_other(m):
    m.check_invariants()           # check_proc_files(): meminfo vs buddyinfo, slabinfo, vmallocinfo
    mi = meminfo(m)
    rows = slabinfo(m.proc.slabinfo())
    assert mi["Slab"] == sum(r[6] * r[4] for r in rows.values()) * 4
    used = sum(int(n) for n in re.findall(r" pages=(\d+) vmalloc", m.proc.vmallocinfo()))
    assert mi["VmallocUsed"] == used * 4


def test_a_broken_count_is_caught():
    mach = km.Machine(mem="256M")
    mach._k.vmstat["nr_kernel_stack_kb"] += 16
    with pytest.raises(AssertionError, match="KernelStack"):
        mach.check_invariants()


needs_real_618 = real_linux.needs_real_618("/proc/slabinfo")

CORE = ("kmem_cache", "kmem_cache_node", "vmap_area", "vm_area_struct", "task_struct", "mm_struct",
        "files_cache", "filp", "names_cache", "dentry", "inode_cache", "radix_tree_node", "maple_node",
        "sighand_cache", "signal_cache", "pid", "anon_vma", "kernfs_node_cache", "proc_inode_cache",
        "proc_dir_entry", "shmem_inode_cache", "sock_inode_cache", "pool_workqueue", "kmalloc-64", "kmalloc-8k")


@pytest.fixture(scope="module")
def twin():
    """A booted 2-CPU 24 GiB machine with this CPU's FPU context (task_struct's size
    depends on it: boot.TASK_STRUCT_FIXED_SIZE), where dmesg still says what it is."""
    return km.Machine(mem="24G", cpus=2, xstate_size=real_linux.xstate_size() or DEFAULT_XSTATE_SIZE)


@needs_real_618
def test_core_caches_have_the_real_geometry(twin):
    real = slabinfo(Path("/proc/slabinfo").read_text())
    model = slabinfo(twin.proc.slabinfo())
    # without the boot line the CPU's FPU context is unknown: task_struct is left to the test below
    for name in CORE if real_linux.xstate_size() else [n for n in CORE if n != "task_struct"]:
        assert name in real and name in model, name
        # objsize, objperslab, pagesperslab
        assert model[name][2:5] == real[name][2:5], (name, model[name], real[name])


@needs_real_618
def test_task_struct_carries_this_cpus_fpu_context(twin):
    """arch_task_struct_size: the fixed 6.18 part plus the context size dmesg printed at
    boot gives this machine's task_struct object_size (2472 bytes on an AVX-512 CPU: 5840)."""
    size = real_linux.xstate_size()
    if size is None:
        pytest.skip("dmesg no longer has the x86/fpu 'context size is N bytes' boot line")
    real = int(Path("/sys/kernel/slab/task_struct/object_size").read_text())
    assert TASK_STRUCT_FIXED_SIZE + size == real
    assert find_slab_cache(twin, "task_struct").object_size == real


def test_task_struct_size_follows_xstate_size():
    """The default CPU (AVX, PKRU, CET: 880 bytes) and an AVX-512 one (2472): task_struct's
    stride, objects per slab and slab order as the two kinds of 6.18 box show them."""
    for xstate, geometry in ((None, [4288, 7, 8]), (2472, [5888, 5, 8])):
        m = km.Machine(mem="256M", cpus=2, xstate_size=xstate)
        assert find_slab_cache(m, "task_struct").object_size == TASK_STRUCT_FIXED_SIZE + (xstate or 880)
        assert slabinfo(m.proc.slabinfo())["task_struct"][2:5] == geometry
        # the usercopy region: the FPU registers (2448 on the AVX-512 box, 856 on the other)
        assert m.cat("/sys/kernel/slab/task_struct/usersize") == f"{(xstate or 880) - 24}\n"
        m.check_invariants()


@needs_real_618
def test_meminfo_is_the_real_machines_order_of_magnitude(twin):
    """Fields a running system fills: non-zero and within 10x of this machine's. Slab,
    SUnreclaim and PageTables also grow with what the machine has done since boot (its page
    cache, its processes, every kmalloc its load made: a CI box running the suite holds
    80 MB of SUnreclaim after a few hours): the booted model may not exceed them, and is at
    least a hundredth (of SUnreclaim, for Slab: see below)."""
    real = {k: int(v) for k, v in re.findall(r"^([\w()]+): +(\d+)", Path("/proc/meminfo").read_text(), re.M)}
    model = meminfo(twin)
    for field in ("KernelStack", "Percpu", "VmallocUsed"):
        assert model[field] > 0 and real[field] / 10 <= model[field] <= real[field] * 10, \
            (field, model[field], real[field])
    for field in ("SUnreclaim", "PageTables"):
        assert real[field] / 100 <= model[field] <= real[field], (field, model[field], real[field])
    # Slab also holds SReclaimable: the inode and dentry caches of every file the box has
    # touched (1.7 GB of ext4_inode_cache/dentry after a day of pip installs here), which
    # the model, having no filesystem, never grows: bound it by the unreclaimable part below
    assert real["SUnreclaim"] / 100 <= model["Slab"] <= real["Slab"], (model["Slab"], real["SUnreclaim"], real["Slab"])
    assert abs(model["MemTotal"] - real["MemTotal"]) < real["MemTotal"] // 100      # within 1 %


@pytest.mark.parametrize("bad, error", [(100, ValueError), (70000, ValueError), ("2472", TypeError),
                                        (2472.0, TypeError), (True, TypeError)])
def test_xstate_size_is_checked(bad, error):
    with pytest.raises(error, match="xstate_size"):
        km.Machine(mem="128M", xstate_size=bad)
