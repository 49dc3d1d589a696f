"""The kmem tracepoints of `m.trace(events="kmem")`: each generation's formats, fired where
the kernel fires them, in text a student can diff against /sys/kernel/tracing/trace."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

import kmemlab as km

REAL = Path(__file__).parent / "data" / "kmem-6.18-real.txt"
LINE = re.compile(r"^ *(?P<comm>\S+)-(?P<pid>\d+) +\[(?P<cpu>\d{3})\] (?P<flags>\S{5}) +"
                  r"(?P<ts>\d+\.\d{6}): (?P<event>\w+): (?P<rest>.*)$")


def machine(kernel="6.18", **kw):
    return km.Machine(mem="128M", cpus=2, kernel=kernel, seed=kw.pop("seed", 0), **kw)


def fields(rest: str) -> list[tuple[str, str]]:
    return re.findall(r"(\w+)=(\S+)", rest)


def workload(m):
    c = m.kmem_cache_create("kmemlab_obj", 72)
    p = m.kmalloc(100)
    m.kfree(p)
    o = m.kmem_cache_alloc(c)
    m.kmem_cache_free(c, o)
    m.kfree(m.kcalloc(256, 40, km.GFP_KERNEL_ACCOUNT | km.__GFP_NOWARN))


def test_618_lines_have_the_shape_of_real_618_lines():
    """Every event kmemlab prints on 6.18 has the fields, in the order and with the value
    shapes, of the real lines recorded on this project's 6.18 machine (tests/data)."""
    real = {}
    for line in REAL.read_text().splitlines():
        mo = LINE.match(line)
        if mo:
            real.setdefault(mo["event"], fields(mo["rest"]))
    m = machine()
    with m.trace(events="kmem") as t:
        workload(m)
    seen = set()
    for line in t.text().splitlines():
        if line.startswith("#"):
            continue
        mo = LINE.match(line)
        assert mo, f"not a tracefs line: {line!r}"
        ours = fields(mo["rest"])
        want = real[mo["event"]]
        assert [k for k, _ in ours] == [k for k, _ in want], mo["event"]
        for (k, v), (_, w) in zip(ours, want):
            if k in ("ptr", "page"):
                assert re.fullmatch(r"[0-9a-f]{16}", v) and re.fullmatch(r"[0-9a-f]{16}", w)
            elif k == "call_site":
                assert re.fullmatch(r"\w+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\S+\])?", v), v
            elif k == "pfn":
                assert v.startswith("0x") and w.startswith("0x")
            elif k in ("bytes_req", "bytes_alloc", "order", "migratetype"):
                assert v.isdigit()
            elif k == "accounted":
                assert v in ("true", "false")
        seen.add(mo["event"])
    assert seen == set(km.kernel.kmem_events.KMEM_EVENTS)


def test_the_header_is_tracefs_header():
    real = REAL.read_text().splitlines()[:12]
    m = machine()
    with m.trace(events="kmem") as t:
        m.kmalloc(64)
    ours = t.text().splitlines()[:12]
    counts = re.compile(r"entries-in-buffer/entries-written: \d+/\d+")
    assert [counts.sub("", l) for l in ours] == [counts.sub("", l) for l in real]
    assert f"entries-in-buffer/entries-written: {len(t.events)}/{len(t.events)}   #P:2" in ours[2]


def test_a_large_kmalloc_through_do_kmalloc_node_fires_twice_on_611_and_later():
    """Real 6.18 (tests/data): pipe_resize_ring()'s kcalloc(256, 40) is reported by
    __kmalloc_large_node_noprof() (call_site inside __kmalloc_noprof) and again for the
    caller, with the same ptr; 6.8 reports it once."""
    def pipe_resize_ring(m):
        return m.kcalloc(256, 40, km.GFP_KERNEL_ACCOUNT | km.__GFP_NOWARN)
    for kernel, n in (("6.8", 1), ("6.12", 2), ("6.18", 2)):
        m = machine(kernel)
        with m.trace(events="kmalloc") as t:
            pipe_resize_ring(m)
        ev = [e for e in t.events if e.event == "kmalloc"]
        assert len(ev) == n, kernel
        assert len({e.fields["ptr"] for e in ev}) == 1
        assert ev[-1].fields["call_site"].startswith("pipe_resize_ring+")
        if n == 2:
            assert ev[0].fields["call_site"] == m.gen.name("__kmalloc")
    # a constant-size kmalloc(20000) goes __kmalloc_large_noprof(): one event
    m = machine()
    with m.trace(events="kmalloc") as t:
        m.kmalloc(20000)
    assert [e.fields["bytes_alloc"] for e in t.events] == [32768]


def test_vmemdup_user_is_the_issues_real_618_kvmalloc_line():
    """vmemdup_user(20000) on a real 6.18: the kmalloc attempt carries
    GFP_NOWAIT|__GFP_IO|__GFP_FS|__GFP_HARDWALL (kmalloc_gfp_adjust(): no direct reclaim)."""
    m = machine()
    with m.trace(events="kmalloc") as t:
        m.vmemdup_user(b"x" * 20000)
    line = t.text().splitlines()[-1]
    assert "call_site=vmemdup_user+" in line
    assert "gfp_flags=GFP_NOWAIT|__GFP_IO|__GFP_FS|__GFP_HARDWALL " in line
    m = machine("6.12")           # still __GFP_NORETRY there (mm/util.c kmalloc_gfp_adjust)
    with m.trace(events="kmalloc") as t:
        m.vmemdup_user(b"x" * 20000)
    assert "__GFP_NORETRY" in t.text()


def test_pointers_hash_per_machine_and_pairs_still_match():
    texts = []
    for seed in (0, 0, 1):
        m = machine(seed=seed)
        with m.trace(events="kmem") as t:
            p = m.kmalloc(64)
            m.kfree(p)
            m.kfree(0)
        texts.append(t)
    a, b, c = texts
    assert a.text() == b.text()                        # same machine, same hashes
    ptr = lambda t, ev: [re.search(r"ptr=(\w+)", l)[1] for l in t.text().splitlines() if f" {ev}: " in l]
    assert ptr(a, "kmalloc")[0] == ptr(a, "kfree")[0] != "0" * 16
    assert ptr(a, "kfree")[1] == "0" * 16              # kfree(NULL): traced, NULL unhashed
    assert ptr(a, "kmalloc") != ptr(c, "kmalloc")      # another machine, another key


def test_45_prints_the_articles_formats():
    m = machine("4.5", boot="bare")    # a fresh kmalloc-128: its first kmalloc allocates the slab
    with m.trace(events="kmem") as t:
        p = m.kmalloc(100)
        m.kmalloc_node(64, km.GFP_KERNEL, 0)
        m.kfree(p)
    text = t.text()
    assert re.search(r"kmalloc: call_site=[0-9a-f]{16} ptr=ffff8880[0-9a-f]{8} bytes_req=100 "
                     r"bytes_alloc=128 gfp_flags=GFP_KERNEL$", text, re.M)
    assert re.search(r"kmalloc_node: .* node=0$", text, re.M)
    assert re.search(r"mm_page_alloc: page=ffffea[0-9a-f]{10} pfn=\d+ order=0 migratetype=0 "
                     r"gfp_flags=GFP_KERNEL\|GFP_NOWARN\|GFP_NORETRY$", text, re.M)
    assert "[000] .... " in text and "migrate-disable" not in text


def test_events_argument_is_checked():
    m = machine()
    with pytest.raises(ValueError, match="kmalloc"):
        with m.trace(events="kmem:kmalloc"):
            pass
    with m.trace(events=["kfree"]) as t:
        m.kfree(m.kmalloc(8))
    assert [e.event for e in t.events] == ["kfree"]
    with m.trace() as t:                               # no events: the function graph as before
        m.kmalloc(8)
    assert t.events == [] and str(t).startswith("# tracer: function_graph")


def _real_formats() -> dict[str, str]:
    if os.geteuid() != 0 or not Path("/proc/kallsyms").exists():
        pytest.skip("reading the real tracefs formats needs root on Linux")
    release = Path("/proc/sys/kernel/osrelease").read_text()
    if not release.startswith("6.18."):
        pytest.skip(f"needs a running 6.18 kernel (this is {release.strip()})")
    script = ('d=$(mktemp -d); mount -t tracefs nodev "$d" || exit 3; '
              'for e in kmalloc kmem_cache_alloc kfree kmem_cache_free mm_page_alloc mm_page_free; do '
              'printf "%s\\t" $e; grep -o \'print fmt: "[^"]*"\' "$d/events/kmem/$e/format"; done; '
              'umount "$d"; rmdir "$d"')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        pytest.skip(f"no private tracefs here: {r.stderr.strip()}")
    return {e: f.split('"')[1] for e, f in (l.split("\t") for l in r.stdout.splitlines())}


def test_618_formats_are_the_running_kernels_print_fmt():
    """Read-only: the print fmt of each event on this 6.18 machine (mounted privately,
    nothing enabled) has the field names kmemlab prints, in order."""
    real = _real_formats()
    m = machine()
    with m.trace(events="kmem") as t:
        workload(m)
    for e in t.events:
        ours = [k for k, _ in fields(km.kernel.kmem_events.format_event(e, m.gen, t._key))]
        assert ours == re.findall(r"(\w+)=", real[e.event]), e.event
