"""Slab view, virtual map, the shared hub and the console's kmalloc/vmalloc buttons."""

import numpy as np
import pytest

import kmemlab as km
from kmemlab.kernel.mem_map import K_SLAB
from kmemlab.kernel.vmalloc import VM_NO_GUARD
from kmemlab.widgets import Console, Dashboard, PhysMap, SlabView, VirtMap
from kmemlab.widgets.palette import SLAB_BASE, slab_shade
from kmemlab.widgets.slabview import OBJ_FREE, OBJ_USED


@pytest.fixture
def m():
    return km.Machine(profile="x86_64", mem="128M", seed=1)


def test_slab_bars_follow_slabinfo_geometry():
    m = km.Machine(profile="x86_64", mem="128M", seed=1, boot="bare")   # kmalloc-128 starts empty
    sv = SlabView(m)
    ptrs = [m.kmalloc(100) for _ in range(40)]        # kmalloc-128: 32 objects per 4 KiB slab
    sv.flush()
    row = next(r for r in sv.rows if r["name"] == "kmalloc-128")
    assert row["objperslab"] == 4096 // 128 and row["num_slabs"] == 2
    assert row["num_objs"] == 64 and row["active_objs"] >= 40
    i = list(sv.total_bars.x).index("kmalloc-128")
    assert sv.total_bars.y[i] == 64 and sv.active_bars.y[i] == row["active_objs"]
    assert "kmalloc-128" in sv.table.value
    assert ptrs


def test_slab_objects_drawn_used_and_free_as_allocated(m):
    sv = SlabView(m)
    c = m.kmem_cache_create("lab_obj", 200)
    objs = [m.kmem_cache_alloc(c) for _ in range(6)]
    m.kmem_cache_free(c, objs[2])
    sv.flush()
    s = c if not hasattr(c, "cache") else c.cache
    slab = sv.slab
    assert slab.cache.name == "lab_obj"
    st = sv.object_states()
    start = slab.addr + slab.cache.red_left_pad
    used = {(int(o) - start) // slab.cache.size for i, o in enumerate(objs) if i != 2}
    assert {int(i) for i in np.flatnonzero(st == OBJ_USED)} == used
    assert st[(int(objs[2]) - start) // slab.cache.size] != OBJ_USED
    # each state is its own mark (its own shape): the drawn cells are the objects in it
    cols = int(sv._gx.max + 0.5)
    for mark, state in ((sv.objects, OBJ_USED), (sv.objects_free, OBJ_FREE)):
        drawn = sorted(int(y) * cols + int(x) for x, y in zip(mark.x, mark.y)) if mark.visible else []
        assert drawn == [int(i) for i in np.flatnonzero(st == state)]
    assert "5 of" in sv.slab_heading.value
    assert s is not None and OBJ_FREE == 0


def test_physmap_shades_slab_frames_by_object_size(m):
    pm = PhysMap(m)
    a = m.kmalloc(16)
    b = m.kmalloc(2048)
    pm.flush()
    pa, pb = m.virt_to_phys(a) >> 12, m.virt_to_phys(b) >> 12
    assert m.mem_map.kind[pa] == K_SLAB == m.mem_map.kind[pb]
    assert pm.pixels[pa] == SLAB_BASE + slab_shade(16) and pm.pixels[pb] == SLAB_BASE + slab_shade(2048)
    assert pm.pixels[pa] != pm.pixels[pb]


def test_virtmap_band_has_each_vm_area_with_its_guard_and_lazy_areas(m):
    vmv = VirtMap(m)
    ps = m.PAGE_SIZE
    v1 = m.vmalloc(3 * ps)
    v2 = m.vmalloc(5 * ps)
    vmv.flush()
    areas = [a for a in vmv.areas if a[0] != "lazy"]
    expected = []
    for vm in m._k.vmalloc.areas():
        if vm.flags & VM_NO_GUARD:            # a per-CPU chunk of the booted machine
            expected.append(("pages", vm.addr, vm.addr + vm.size))
            continue
        expected += [("pages", vm.addr, vm.addr + vm.size - ps), ("guard", vm.addr + vm.size - ps, vm.addr + vm.size)]
    assert areas == expected
    assert ("pages", int(v2), int(v2) + 5 * ps) in areas
    m.vfree(v1)
    vmv.flush()
    assert ("lazy", int(v1), int(v1) + 4 * ps) in vmv.areas       # purged later, not reusable yet
    names = [r.name for r in m.layout]
    html = vmv.regions_html.value
    assert all(n in html for n in ("direct map", "vmalloc", "vmemmap", "kernel text") if n in names)
    assert "<svg" in vmv.to_html()


def test_console_kmalloc_vmalloc_buttons_and_matching_frees(m):
    c = Console(m)
    c.bytes.value = "100"
    c.kmalloc_button.click()
    c.bytes.value = "16K"
    c.vmalloc_button.click()
    (f1, p, n1), (f2, v, n2) = c.live
    assert (f1, n1, f2, n2) == ("kmalloc", 100, "vmalloc", 16384)
    assert m.ksize(p) == 128 and m.find_vm_area(v) is not None
    if c.trace is not None:                                    # the vmalloc call's trace is shown
        assert c.trace.value.startswith("# tracer")
    c.free_button.click()                                      # the newest (vmalloc) is selected
    assert "vfree(" in c.message.value and m.find_vm_area(v) is None
    c.allocations.value = 0
    c.free_button.click()
    assert "kfree(" in c.message.value and c.live == []
    c.bytes.value = "lots"
    c.kmalloc_button.click()
    assert "not a size" in c.message.value
    m.check_invariants()


def test_dashboard_subscribes_once_and_wakes_only_concerned_views(m):
    d = Dashboard(m)
    assert len(m._bus.subscribers) == 1
    d.flush()
    before = {type(v).__name__: v.redraws for v in d.views}
    pg = m.alloc_pages(km.GFP_KERNEL, 0)
    d.flush()
    after = {type(v).__name__: v.redraws for v in d.views}
    grew = {k for k in after if after[k] > before[k]}
    assert {"PhysMap", "BuddyChart"} <= grew
    assert not {"VirtMap", "SlabView", "WalkView"} & grew      # alloc_pages does not concern them
    m.vmalloc(8192)
    d.flush()
    assert d.view("virtmap").redraws == after["VirtMap"] + 1
    d.close()
    assert m._bus.subscribers == [] and d.closed
    assert pg


def test_burst_redraws_each_view_at_its_own_rate_and_draws_the_final_state():
    from kmemlab.widgets.base import Hub

    class Clock:
        t = 0.0

        def __call__(self):
            return self.t
    clock = Clock()
    m = km.Machine(mem="128M", seed=3)
    hub = Hub(m, clock=clock)
    from kmemlab.widgets import BuddyChart
    pm, bc = PhysMap(m, hub=hub), BuddyChart(m, hub=hub)
    r_pm, r_bc = pm.redraws, bc.redraws
    pages = []
    for _ in range(4000):                       # 4000 events over one simulated second
        pages.append(m.alloc_pages(km.GFP_KERNEL, 0))
        clock.t += 0.00025
    assert 4 <= bc.redraws - r_bc <= 6          # the chart: 5 pictures a second in a burst
    assert 10 <= pm.redraws - r_pm <= 12        # the map: ~11 a second (issue 19: >= 10)
    hub.flush()
    assert all(pm.pixels[p.pfn] == km.kernel.mem_map.K_PAGES for p in pages)


def test_the_slab_list_offers_the_slabs_around_the_one_shown_not_thousands():
    from kmemlab.widgets.slabview import _SLAB_CHOICES, SlabView
    m = km.Machine(mem="128M", seed=0)
    held = [m.kmalloc(1024) for _ in range(8 * 3 * _SLAB_CHOICES)]     # 8 per slab: > 3 lists' worth
    sv = SlabView(m)
    sv.select_slab(m.virt_to_page(held[len(held) // 2]).pfn)
    pfns = [v for _, v in sv.slab_box.options]
    assert len(pfns) == _SLAB_CHOICES and sv.slab_box.value == sv.slab.pfn in pfns
    sv.select_cache("kmalloc-1k")
    assert sv.slab_box.value == [v for _, v in sv.slab_box.options][0]   # the lowest pfn, first
    sv.close()
