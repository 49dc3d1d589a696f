"""km.compare(host, twin): the report card of a host against its twin, checked on fake
hosts (km.host(root=...)) whose numbers the tests set: what must agree agrees, what was
made to differ differs, with the reason that applies."""

import os
import sys

import html

import pytest

import fake_host as F
import kmemlab as km
from kmemlab import helpers as H
from kmemlab.compare import AGREES, CLOSE, DIFFERS, NOT_SHOWN, REASONS

LINUX = sys.platform.startswith("linux") and os.path.exists("/proc/meminfo")
ROOT = LINUX and os.geteuid() == 0
CI = os.environ.get("CI") == "true"


def busy_host(tmp_path, *, deferred_pages=0, thp=True, root=True):
    """A 2 GiB host that has been running: less free memory, a page cache, khugepaged's
    min_free_kbytes, 1000 pages more reserved in DMA32, task stacks in vmalloc, one cache
    whose geometry no kmem_cache_create() gives, and (optionally) memory still waiting for
    deferred struct-page init."""
    src = km.Machine(mem="2G", cpus=2, seed=1)
    t = F.machine_texts(src)
    zi = t["proc/zoneinfo"]
    managed32 = src.zone("DMA32").managed_pages - 1000
    zi = F.set_zone_field(zi, "DMA32", "managed", managed32)
    t["proc/zoneinfo"] = zi
    mi = t["proc/meminfo"]
    total_kb = (src.zone("DMA").managed_pages + managed32 + deferred_pages) * 4
    mi = F.set_field(mi, "MemTotal:", total_kb)
    mi = F.set_field(mi, "MemFree:", 1_000_000)
    mi = F.set_field(mi, "Cached:", 300_000)
    mi = F.set_field(mi, "AnonPages:", 200_000)
    t["proc/meminfo"] = mi
    if thp:
        # set_recommended_min_free_kbytes(): 512 pages x 2 zones (DMA, DMA32) x 11, in kB
        t["proc/sys/vm/min_free_kbytes"] = f"{512 * 2 * 11 * 4}\n"
    else:
        t["proc/sys/vm/min_free_kbytes"] = "12345\n"
    t.update(F.slab_dir("odd_cache", 100, 4096, 8, 1, 0))
    t["proc/slabinfo"] += F.slabinfo_row("odd_cache", 1, 1, 4096, 1, 1, 1)
    t["proc/vmallocinfo"] += "".join(
        f"0x{0xffffc90000100000 + i * 0x5000:x}-0x{0xffffc90000105000 + i * 0x5000:x}   20480 "
        f"kernel_clone+0x9b/0x3c0 pages=4 vmalloc N0=4\n" for i in range(3))
    skip = () if root else ("proc/slabinfo", "proc/vmallocinfo", "proc/pagetypeinfo")
    return km.host(root=F.write(tmp_path, t, skip=skip)), src


@pytest.fixture
def card(tmp_path):
    h, src = busy_host(tmp_path)
    twin = km.Machine.like_host(h, caches=[s.name for s in H.for_each_slab_cache(h) if s.name != "odd_cache"])
    return km.compare(h, twin), h, twin, src


def test_what_the_twin_copies_agrees(card):
    c, h, twin, _ = card
    for what in ("CPUs online", "NUMA nodes", "page size", "buddy orders (NR_PAGE_ORDERS)", "pageblock order",
                 "RAM (present pages)", "kernel (generation kmemlab follows)"):
        assert c.row("machine", what).verdict == AGREES, what
    for zone in ("DMA", "DMA32"):
        for what in ("start_pfn", "spanned", "present"):
            assert c.row(f"zone {zone} (node 0)", what).verdict == AGREES, (zone, what)
    assert c.row("zone DMA (node 0)", "managed").verdict == AGREES
    for what in ("VmallocTotal", "Hugepagesize", "SwapTotal"):
        assert c.row("memory totals (/proc/meminfo)", what).verdict == AGREES, what
    geo = c.row("slab caches", "geometry (stride, objects/slab, order) of the caches on both")
    assert geo.verdict == AGREES and geo.twin == f"{len(list(H.for_each_slab_cache(twin)))} agree"


def test_what_was_made_to_differ_differs_with_its_reason(card):
    c, h, twin, src = card
    r = c.row("zone DMA32 (node 0)", "managed")
    assert (r.host, r.twin) == (src.zone("DMA32").managed_pages - 1000, twin.zone("DMA32").managed_pages)
    assert r.verdict == CLOSE and r.why == REASONS["reserved"]          # 1000 of ~500 000 pages
    # khugepaged's min_free_kbytes: the twin boots with THP (madvise) as the host did
    mfk = c.row("memory totals (/proc/meminfo)", "min_free_kbytes")
    assert (mfk.host, mfk.twin, mfk.verdict) == (45056, H.min_free_kbytes(twin), AGREES)
    wm = c.row("zone DMA32 (node 0)", "watermark min")
    assert (wm.host, wm.twin) == (src.zone("DMA32").watermark[0], twin.zone("DMA32").watermark[0])
    assert wm.verdict in (AGREES, CLOSE)          # the zone's managed pages differ by 1000
    free = c.row("memory totals (/proc/meminfo)", "MemFree")
    assert (free.host, free.verdict, free.why) == (1_000_000, DIFFERS, REASONS["free"])
    cached = c.row("memory totals (/proc/meminfo)", "Cached")
    assert (cached.host, cached.twin, cached.why) == (300_000, 0, REASONS["page_cache"])
    assert c.row("memory totals (/proc/meminfo)", "AnonPages").why == REASONS["userspace"]
    only = c.row("slab caches", "caches only the first has")
    assert only.host == "odd_cache" and only.verdict == DIFFERS
    # the twin boots like a running system: it has task stacks of its own, so kernel_clone()'s
    # areas are on both sides (no "only one side has" row); the host has its own plus 3
    assert all(r.what != "areas of kernel_clone()" for r in c.rows)
    assert c.row("vmalloc", "vmap areas in use").host == len(list(H.for_each_vmap_area(src))) + 3
    assert len(c.agrees) + len(c.close) + len(c.differs) + len(c.not_shown) == len(c.rows)


def test_a_cache_of_another_geometry_is_named_with_its_numbers(tmp_path):
    h, _ = busy_host(tmp_path)
    twin = km.Machine.like_host(h)
    twin_odd = H.find_slab_cache(twin, "odd_cache")
    c = km.compare(h, twin)
    r = c.row("slab caches", "kmem_cache odd_cache")
    assert (r.host, r.twin, r.verdict) == ("4096/1/0", f"{twin_odd.size}/{twin_odd.objects}/{twin_odd.order}", DIFFERS)
    assert r.why == REASONS["unknown"]
    assert c.row("slab caches", "geometry (stride, objects/slab, order) of the caches on both").verdict == DIFFERS


def test_deferred_struct_page_init_is_named_where_the_zones_manage_less(tmp_path):
    h, _ = busy_host(tmp_path, deferred_pages=100_000, thp=False)
    twin = km.Machine.like_host(h, caches=False)
    c = km.compare(h, twin)
    r = c.row("zone DMA32 (node 0)", "managed")
    # MemTotal counts 100 000 pages the zones do not manage: the zone is short of them
    assert r.verdict == CLOSE          # only 1000 pages: reserved memory, not deferral
    total = c.row("memory totals (/proc/meminfo)", "MemTotal")
    assert "deferred struct-page initialisation" in total.why and "400,000 kB" in total.why
    assert c.row("memory totals (/proc/meminfo)", "min_free_kbytes").why == REASONS["min_free_admin"]


def test_a_reader_without_root_gets_not_shown_rows(tmp_path):
    h, _ = busy_host(tmp_path, root=False)
    c = km.compare(h, km.Machine.like_host(h, caches=False))
    assert c.row("vmalloc", "vmap areas").verdict == NOT_SHOWN
    assert "root" in c.row("vmalloc", "vmap areas").why
    assert c.row("machine", "pageblock order").verdict == NOT_SHOWN


def test_a_machine_against_itself_agrees_everywhere():
    m = km.Machine(mem="1G", cpus=2)
    m.kmalloc(100)
    m.vmalloc(20000)
    c = km.compare(m, m)
    assert not c.differs and not c.close and not c.not_shown, [r.what for r in c.differs]
    assert c.summary().startswith(f"{len(c.rows)} agree")


def test_text_and_html_show_every_row_and_each_reason_once(card):
    c, *_ = card
    text = str(c)
    assert text.splitlines()[0].endswith(c.summary())
    for r in c.rows:
        assert r.what[:20] in text
    # said once under each run of rows it explains, not again (a booted twin's free memory
    # differs in more than one place)
    said = [r.why == REASONS["free"] and r.verdict != AGREES for r in c.rows]
    runs = sum(1 for i, x in enumerate(said) if x and (i + 1 == len(said) or not said[i + 1]))
    assert text.count(REASONS["free"][:40]) == runs >= 1
    page = c._repr_html_()
    assert page.count("<tr>") >= len(c.rows) and "&ne; differs" in page and "= agrees" in page
    assert all(html.escape(r.what)[:20] in page for r in c.rows)
    assert "<script" not in page


def test_bad_arguments():
    with pytest.raises(TypeError, match="two programs"):
        km.compare("host", km.Machine(mem="256M"))


@pytest.mark.skipif(not ROOT and not CI, reason="needs a running Linux as root")
def test_this_machine_against_its_twin():
    h = km.host()
    c = km.compare(h, km.Machine.like_host(h))
    assert c.row("slab caches", "geometry (stride, objects/slab, order) of the caches on both").verdict == AGREES
    assert c.row("machine", "RAM (present pages)").verdict == AGREES
    assert c.row("memory totals (/proc/meminfo)", "VmallocTotal").verdict == AGREES
    assert c.row("memory totals (/proc/meminfo)", "MemTotal").verdict in (AGREES, CLOSE)
