"""km.host(): the running Linux read-only, through the same helpers as a Machine.

Two kinds of test: against this machine's real /proc and /sys (Linux only; the non-root
case needs root to drop to 'nobody'), and against a tree of files written by a simulated
Machine (km.host(root=...)), which must read back exactly what the Machine's own helpers
say — the same read interface, two implementations."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

import fake_host as F
import kmemlab as km
from kmemlab import helpers as H
from kmemlab.host import (HostError, HostFileMissing, HostParseError, HostPermissionError,
                          NotLinux, PROC_FILES)

LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/meminfo")
ROOT = LINUX and os.geteuid() == 0
CI = os.environ.get("CI") == "true"
linux = pytest.mark.skipif(not LINUX and not CI, reason="needs a running Linux (/proc, /sys)")
as_root = pytest.mark.skipif(not ROOT and not CI, reason="needs root (slabinfo, vmallocinfo, "
                                                         "pagetypeinfo are mode 0400)")


def _real(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# -- a tree written by a simulated machine ---------------------------------------------------

def write_tree(root, m, skip=()):
    """The files km.host() reads, as the Machine prints them."""
    texts = {f"proc/{n}": getattr(m.proc, n)() for n in ("buddyinfo", "pagetypeinfo", "zoneinfo",
                                                         "meminfo", "slabinfo", "vmallocinfo")}
    texts["proc/vmstat"] = "".join(f"{k} {v}\n" for k, v in H.vmstat(m).items())
    texts["proc/sys/vm/min_free_kbytes"] = f"{H.min_free_kbytes(m)}\n"
    texts["proc/sys/kernel/osrelease"] = H.utsname(m).release + "\n"
    texts["proc/sys/kernel/hostname"] = "twin\n"
    texts["sys/devices/system/cpu/online"] = f"0-{m.cpus - 1}\n"
    texts["sys/devices/system/node/online"] = f"0-{m.nodes - 1}\n" if m.nodes > 1 else "0\n"
    for s in H.for_each_slab_cache(m):
        d = f"sys/kernel/slab/{s.name}"
        for f, v in (("object_size", s.object_size), ("slab_size", s.size), ("align", s.align),
                     ("objs_per_slab", s.objects), ("order", s.order), ("aliases", 0),
                     ("hwcache_align", int(bool(s.flags & km.SLAB_HWCACHE_ALIGN))),
                     ("reclaim_account", int(bool(s.flags & km.SLAB_RECLAIM_ACCOUNT)))):
            texts[f"{d}/{f}"] = f"{v}\n"
        texts[f"{d}/ctor"] = "\n"
    return F.write(root, texts, skip)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    m = km.Machine(mem="4G", cpus=2, nodes=2, seed=5)
    for n in (16, 100, 1000, 9000):
        m.kmalloc(n)
    m.vmalloc(30000)
    m.vfree(m.vmalloc(8000))
    root = write_tree(tmp_path_factory.mktemp("host"), m)
    return m, km.host(root=root)


def test_a_machine_written_tree_reads_back_as_the_machine(twin):
    m, h = twin
    assert h.release == H.utsname(m).release and h.utsname.nodename == "twin"
    assert (h.cpus, h.nodes) == (2, 2) and list(H.for_each_online_node(h)) == [0, 1]
    assert H.NR_PAGE_ORDERS(h) == H.NR_PAGE_ORDERS(m)
    assert H.pageblock_order(h) == H.pageblock_order(m)
    assert H.migratetype_names(h) == H.migratetype_names(m)
    for zm, zh in zip(H.for_each_zone(m), H.for_each_zone(h), strict=True):
        assert (zh.node, zh.name, zh.zone_start_pfn, zh.spanned_pages, zh.present_pages,
                zh.managed_pages, zh.nr_free_pages, list(zh.lowmem_reserve)) == \
               (zm.node, zm.name, zm.zone_start_pfn, zm.spanned_pages, zm.present_pages,
                zm.managed_pages, zm.nr_free_pages, list(zm.lowmem_reserve))
        assert [H.wmark_pages(zh, i) for i in range(4)] == [H.wmark_pages(zm, i) for i in range(4)]
        assert [fa.nr_free for fa in zh.free_area] == [fa.nr_free for fa in zm.free_area]
        if H.populated_zone(zm):
            for o in range(H.NR_PAGE_ORDERS(m)):
                assert [H.free_list_count(zh.free_area[o], mt) for mt in range(5)] == \
                       [H.free_list_count(zm.free_area[o], mt) for mt in range(5)]
    assert H.max_pfn(h) == H.max_pfn(m)
    assert H.meminfo(h) == H.meminfo(m) and H.vmstat(h) == H.vmstat(m)
    assert H.totalram_pages(h) == H.totalram_pages(m) and H.nr_free_pages(h) == H.nr_free_pages(m)
    assert H.min_free_kbytes(h) == H.min_free_kbytes(m)


def test_slab_caches_of_the_tree_have_the_machines_geometry_and_slabinfo_counts(twin):
    m, h = twin
    rows = {l.split()[0]: l.split() for l in m.proc.slabinfo().splitlines()[2:]}
    caches = list(H.for_each_slab_cache(h))
    assert [s.name for s in caches] == [s.name for s in H.for_each_slab_cache(m)]
    for sh in caches:
        sm = H.find_slab_cache(m, sh.name)
        assert (sh.object_size, sh.size, sh.align, sh.objects, sh.order) == \
               (sm.object_size, sm.size, sm.align, sm.objects, sm.order)
        assert sh.flags & (km.SLAB_HWCACHE_ALIGN | km.SLAB_RECLAIM_ACCOUNT) == \
               sm.flags & (km.SLAB_HWCACHE_ALIGN | km.SLAB_RECLAIM_ACCOUNT)
        u = H.slab_cache_usage(sh)
        r = rows[sh.name]
        assert (u.active_objs, u.num_objs, u.num_slabs) == (int(r[1]), int(r[2]), int(r[14]))
        assert H.slab_cache_pages_per_slab(sh) == H.slab_cache_pages_per_slab(sm)
        assert sh.ctor is None and not H.slab_cache_is_merged(sh)
    with pytest.raises(km.NotAvailable, match="do not show individual slabs"):
        list(H.slab_cache_for_each_slab(caches[0]))
    with pytest.raises(km.NotAvailable, match="free pointer offset"):
        caches[0].offset


def test_vmap_areas_of_the_tree_are_the_machines(twin):
    m, h = twin
    busy_m, busy_h = list(H.for_each_vmap_area(m)), list(H.for_each_vmap_area(h))
    assert [(va.va_start, va.va_end) for va in busy_h] == [(va.va_start, va.va_end) for va in busy_m]
    assert not any(va.hashed for va in busy_h)
    for vh, vm_ in zip(busy_h, busy_m):
        assert (vh.vm.size, vh.vm.nr_pages, vh.vm.flags, vh.vm.caller) == \
               (vm_.vm.size, vm_.vm.nr_pages, vm_.vm.flags, vm_.vm.caller)
        assert H.get_vm_area_size(vh.vm) == H.get_vm_area_size(vm_.vm)
        assert H.find_vmap_area(h, vh.va_start + 1) is vh
    lazy = list(H.for_each_purge_vmap_area(h))
    assert [va.va_start for va in lazy] == [va.va_start for va in H.for_each_purge_vmap_area(m)]
    assert lazy and all(va.vm is None for va in lazy)


def test_the_snapshot_holds_until_refresh(tmp_path):
    m = km.Machine(mem="512M")
    write_tree(tmp_path, m)
    h = km.host(root=tmp_path)
    before = h.proc.buddyinfo()
    assert h.cat("/proc/buddyinfo") == before == m.proc.buddyinfo()
    z0 = H.nr_free_pages(h)
    pg = m.alloc_pages(km.GFP_KERNEL, 4)
    write_tree(tmp_path, m)                       # the "machine" changed under the snapshot
    assert h.proc.buddyinfo() == before and H.nr_free_pages(h) == z0
    h.refresh()
    assert h.proc.buddyinfo() == m.proc.buddyinfo() != before
    assert H.nr_free_pages(h) == z0 - 16
    assert pg is not None


def test_pagetypeinfo_is_read_only_when_asked_for(tmp_path):
    m = km.Machine(mem="512M")
    write_tree(tmp_path, m)
    h = km.host(root=tmp_path)
    z = next(H.for_each_populated_zone(h))
    assert z.free_area[3].nr_free == next(H.for_each_populated_zone(m)).free_area[3].nr_free
    assert "/proc/pagetypeinfo" not in h._texts          # zones and nr_free come from elsewhere
    assert H.free_list_count(z.free_area[3], 1) == H.free_list_count(m.zones[0].free_area[3], 1)
    assert "/proc/pagetypeinfo" in h._texts
    h.refresh()
    assert "/proc/pagetypeinfo" not in h._texts and h.proc.pagetypeinfo() == m.proc.pagetypeinfo()


def test_cat_reads_other_files_once_and_refuses_what_is_not_proc_or_sys(twin, tmp_path):
    _, h = twin
    assert h.cat("/sys/kernel/slab/kmalloc-64/object_size") == "64\n"
    assert h.cat("/proc/../proc/buddyinfo") == h.proc.buddyinfo()
    with pytest.raises(ValueError, match="under /proc and /sys"):
        h.cat("/etc/passwd")
    with pytest.raises(TypeError):
        h.cat(3)
    with pytest.raises(HostFileMissing, match="does not exist") as e:
        h.cat("/proc/no-such-file")
    assert isinstance(e.value, FileNotFoundError) and e.value.path == "/proc/no-such-file"
    with pytest.raises(AttributeError, match="buddyinfo"):
        h.proc.buddyinf()
    assert set(dir(h.proc)) == set(PROC_FILES)


def test_missing_files_are_listed_and_their_reads_say_why(tmp_path):
    m = km.Machine(mem="512M")
    write_tree(tmp_path, m, skip={"proc/pagetypeinfo", "proc/vmallocinfo"})
    h = km.host(root=tmp_path)
    assert set(h.unreadable) >= {"/proc/pagetypeinfo", "/proc/vmallocinfo"}
    assert "does not exist" in h.unreadable["/proc/pagetypeinfo"]
    z = next(H.for_each_populated_zone(h))
    assert z.free_area[0].nr_free == next(H.for_each_populated_zone(m)).free_area[0].nr_free
    with pytest.raises(km.NotAvailable, match="pagetypeinfo"):
        H.free_list_count(z.free_area[0], 0)
    with pytest.raises(km.NotAvailable, match="vmallocinfo"):
        list(H.for_each_vmap_area(h))
    assert not H.supports(h, "vmap_areas") and H.supports(h, "slab_caches")
    assert "not shown" in str(h) and "pagetypeinfo" in h._repr_html_()


@pytest.mark.parametrize("rel, garbage, match", [
    ("proc/zoneinfo", "Node 0, zone DMA\n  pages free lots\n", r"/proc/zoneinfo line 2"),
    ("proc/zoneinfo", "hello\n", r"/proc/zoneinfo line 1"),
    ("proc/buddyinfo", "Node 0, zone DMA 1 2 x\n", r"/proc/buddyinfo line 1"),
    ("proc/pagetypeinfo", "Page block order: nine\n", r"/proc/pagetypeinfo line 1"),
    ("proc/slabinfo", "slabinfo - version: 2.1\nkmalloc-8 1 2 3\n", r"/proc/slabinfo line 2"),
    ("proc/vmallocinfo", "0xffff-0xzz 4096 f\n", r"/proc/vmallocinfo line 1"),
    ("proc/meminfo", "MemTotal: many kB\n", r"/proc/meminfo line 1"),
])
def test_garbled_files_raise_a_parse_error_naming_file_and_line(tmp_path, rel, garbage, match):
    m = km.Machine(mem="256M")
    write_tree(tmp_path, m)
    (tmp_path / rel).write_text(garbage)
    h = km.host(root=tmp_path)                  # reading never fails: parsing is on first use
    with pytest.raises(HostParseError, match=match) as e:
        list(H.for_each_zone(h)), list(H.for_each_slab_cache(h)), list(H.for_each_vmap_area(h))
        H.meminfo(h), H.pageblock_order(h)
    assert isinstance(e.value, ValueError) and isinstance(e.value, HostError)


def test_not_linux_and_not_a_proc_tree(tmp_path, monkeypatch):
    with pytest.raises(NotLinux, match="not a Linux /proc"):
        km.host(root=tmp_path)
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(NotLinux, match="this is darwin.*km.Machine"):
        km.host()
    with pytest.raises(TypeError, match="directory path"):
        km.host(root=3)


def test_a_permission_error_says_root_only(tmp_path, monkeypatch):
    m = km.Machine(mem="256M")
    write_tree(tmp_path, m)
    for f in ("slabinfo", "vmallocinfo"):
        (tmp_path / "proc" / f).chmod(0o400)        # as the kernel makes them
    real_open = os.open

    def deny(path, *a, **kw):
        if str(path).endswith(("proc/slabinfo", "proc/vmallocinfo")):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **kw)
    monkeypatch.setattr(os, "open", deny)
    h = km.host(root=tmp_path)
    with pytest.raises(HostPermissionError, match=r"/proc/slabinfo is readable by root only \(mode 0400\)"):
        h.proc.slabinfo()
    with pytest.raises(PermissionError):
        h.cat("/proc/vmallocinfo")
    with pytest.raises(km.NotAvailable, match="root only"):
        list(H.for_each_vmap_area(h))
    assert not h.is_root and "root only" in h.unreadable["/proc/slabinfo"]


# -- this machine --------------------------------------------------------------------------

def _stable_lines_agree(path, read_host):
    """Real file read before and after the host's read: every line that did not change
    in that window must be in the host's text, at the same place."""
    for _ in range(20):
        a = _real(path).splitlines()
        h = read_host().splitlines()
        b = _real(path).splitlines()
        if len(a) == len(b) == len(h):
            same = [i for i in range(len(a)) if a[i] == b[i]]
            assert [h[i] for i in same] == [a[i] for i in same], path
            return len(same) / max(len(a), 1)
    pytest.fail(f"{path} changed its number of lines in every one of 20 reads")


@linux
def test_host_texts_are_the_real_files():
    h = km.host()
    for name in PROC_FILES:
        path = f"/proc/{name}"
        if path in h.unreadable:
            assert not ROOT and name in ("slabinfo", "vmallocinfo", "pagetypeinfo")
            continue

        def read_host(name=name):
            return h.refresh().cat(f"/proc/{name}")
        frac = _stable_lines_agree(path, read_host)
        assert frac > 0.3, f"{path}: only {frac:.0%} of its lines were stable"
    for path in ("/sys/kernel/slab/kmalloc-64/object_size", "/sys/devices/system/cpu/online"):
        assert h.cat(path) == _real(path)
    assert h.release == os.uname().release
    assert h.cpus == len(list(H.for_each_online_cpu(h)))
    assert h.cpus >= 1 and h.nodes >= 1
    assert h.read_seconds < 5


@linux
def test_host_helpers_agree_with_the_host_texts():
    h = km.host()
    rows = [l.replace(",", " ").split() for l in h.proc.buddyinfo().splitlines()]
    pop = list(H.for_each_populated_zone(h))
    assert [(z.node, z.name) for z in pop] == [(int(r[1]), r[3]) for r in rows]
    for z, r in zip(pop, rows):
        assert [fa.nr_free for fa in z.free_area] == [int(x) for x in r[4:]]
        block = re.search(rf"Node {z.node}, zone +{z.name}\n(.*?)(?=\nNode |\Z)", h.proc.zoneinfo(), re.S).group(1)
        assert H.min_wmark_pages(z) - z.watermark_boost == int(re.search(r"\bmin +(\d+)", block).group(1))
        assert z.managed_pages == int(re.search(r"managed +(\d+)", block).group(1))
    assert H.meminfo(h)["MemTotal"] == int(re.search(r"MemTotal: +(\d+)", h.proc.meminfo()).group(1))
    assert H.min_free_kbytes(h) == int(_real("/proc/sys/vm/min_free_kbytes"))
    caches = list(H.for_each_slab_cache(h))
    assert caches and H.find_slab_cache(h, "kmalloc-64") is not None
    s = H.find_slab_cache(h, "kmalloc-64")
    d = "/sys/kernel/slab/kmalloc-64"
    assert (s.object_size, H.slab_cache_order(s), H.slab_cache_objects_per_slab(s)) == \
           (int(_real(f"{d}/object_size")), int(_real(f"{d}/order")), int(_real(f"{d}/objs_per_slab")))
    u = H.slab_cache_usage(s)
    assert 0 <= u.active_objs <= u.num_objs and u.num_objs == u.num_slabs * s.objects
    assert H.utsname(h).release == os.uname().release
    assert num_cpus() == H.num_online_cpus(h)


def num_cpus():
    from kmemlab.host.procparse import parse_cpulist
    return len(parse_cpulist(_real("/sys/devices/system/cpu/online")))


@as_root
def test_as_root_every_file_is_read_and_the_vmap_areas_are_listed():
    h = km.host()
    assert h.is_root and not [p for p in h.unreadable if p.startswith("/proc/")]
    areas = list(H.for_each_vmap_area(h))
    lines = [l for l in h.proc.vmallocinfo().splitlines() if "unpurged" not in l]
    assert len(areas) == len(lines) > 0
    assert sum(1 for _ in H.for_each_purge_vmap_area(h)) == h.proc.vmallocinfo().count("unpurged vm_area")
    assert all(va.va_end - va.va_start == int(l.split()[1]) for va, l in zip(areas, lines))
    names = [l.split()[0] for l in h.proc.slabinfo().splitlines()[2:]]
    assert [s.name for s in H.for_each_slab_cache(h)] == names
    z = list(H.for_each_populated_zone(h))[-1]
    nmt = len(H.migratetype_names(h))
    for fa in z.free_area:
        assert sum(H.free_list_count(fa, mt) for mt in range(nmt)) >= 0
    rcu = [s for s in H.for_each_slab_cache(h) if s.flags & km.SLAB_TYPESAFE_BY_RCU]
    for s in rcu[:3]:
        assert _real(f"/sys/kernel/slab/{s.sysdir}/destroy_by_rcu").strip() == "1"


@as_root
def test_without_root_the_host_shows_what_it_can_and_says_what_it_cannot():
    if not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop to 'nobody'")
    code = textwrap.dedent("""
        import kmemlab as km
        from kmemlab import helpers as H
        h = km.host()
        assert not h.is_root
        print(sorted(p for p in h.unreadable if p.startswith("/proc/")))
        try:
            h.proc.slabinfo()
        except PermissionError as e:
            print("slabinfo:", e)
        caches = list(H.for_each_slab_cache(h))
        s = next(c for c in caches if c.name == "kmalloc-64")
        print("caches", len(caches))
        try:
            u = H.slab_cache_usage(s)
            print("usage", s.object_size, u.num_objs >= u.active_objs >= 0)
        except PermissionError as e:
            print("sysfs denied:", e)
            try:
                s.object_size
            except PermissionError as e:
                print("geometry denied:", e)
        z = list(H.for_each_populated_zone(h))[-1]
        try:
            H.free_list_count(z.free_area[0], 0)
        except km.NotAvailable as e:
            print("migratetypes:", e)
        try:
            list(H.for_each_vmap_area(h))
        except km.NotAvailable as e:
            print("vmap:", e)
        print(h)
    """)
    r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd="/", env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(km.__file__))})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "['/proc/pagetypeinfo', '/proc/slabinfo', '/proc/vmallocinfo']" in out
    assert "slabinfo: /proc/slabinfo is readable by root only (mode 0400)" in out
    assert re.search(r"caches \d{2,}", out)
    if os.stat("/sys/kernel/slab/kmalloc-64/object_size").st_mode & 0o004:
        assert "usage 64 True" in out
    else:                                 # newer kernels: every /sys/kernel/slab file is 0400
        assert "sysfs denied: the counts of slab cache kmalloc-64: /proc/slabinfo and" in out
        assert "geometry denied: /sys/kernel/slab/kmalloc-64/object_size is readable by root only (mode 0400)" in out
    assert "migratetypes:" in out and "root only" in out.split("migratetypes:")[1]
    assert "vmap: /proc/vmallocinfo is readable by root only" in out
    assert "(not root)" in out
