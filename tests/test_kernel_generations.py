"""The generations table (kmemlab/kernel/generation.py): the model follows it, nothing else
in the model compares version numbers, docs/kernel-generations.md is generated from it, and
each generation shows the kernel facts of its release (the values below are the kernel's,
read from each release's source; they are not computed from the model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kmemlab as km
from kmemlab.kernel import generation as gen_mod
from kmemlab.kernel.generation import BASE, CHANGES, GENERATIONS, get_generation, parse_release

ROOT = Path(__file__).resolve().parent.parent
KERNEL_SRC = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "kmemlab" / "kernel").glob("*.py")
              if p.name != "generation.py"}


def machine(kernel, **kw):
    return km.Machine("x86_64", mem="128M", kernel=kernel, seed=0, **kw)


# -- the table itself ------------------------------------------------------------------------

def test_rows_name_known_releases_and_known_attributes():
    for row in CHANGES:
        assert re.fullmatch(r"\d+\.\d+", row.release), row
        assert row.attr in BASE, f"row sets {row.attr!r}, which BASE does not declare"
        assert row.what and row.source, row
        if row.attr == "names":
            assert isinstance(row.value, dict) and row.value
        else:
            assert type(row.value) is type(BASE[row.attr]) or BASE[row.attr] is None, row


def test_a_generation_has_every_row_up_to_its_release_and_none_after():
    for release in GENERATIONS:
        g = get_generation(release)
        for attr in BASE:
            if attr == "names":
                continue
            applicable = [r for r in sorted(CHANGES, key=lambda r: parse_release(r.release))
                          if r.attr == attr and parse_release(r.release) <= g.version]
            want = applicable[-1].value if applicable else BASE[attr]
            assert getattr(g, attr) == want, (release, attr)


def test_every_attribute_and_name_role_is_used_by_the_model():
    """No dead rows: each attribute is read as gen.ATTR and each name role asked for."""
    src = "\n".join(KERNEL_SRC.values())
    # Generation's own methods (meminfo_fields(), max_order()) read some attributes
    methods = (ROOT / "kmemlab" / "kernel" / "generation.py").read_text(encoding="utf-8")
    methods = methods[methods.index("class Generation"):methods.index("def get_generation")]
    for attr in BASE:
        if attr == "names":
            continue
        assert (re.search(rf"\bgen\.{attr}\b", src) or re.search(rf"\bself\.{attr}\b", methods)), \
            f"no call site reads k.gen.{attr}"
    roles = set(BASE["names"]) | {r for row in CHANGES if row.attr == "names" for r in row.value}
    for role in roles:
        assert f'"{role}"' in src, f"no call site asks for the name role {role!r}"


def test_the_model_compares_no_version_numbers():
    """Differences live in the table: no `version >= (5, 13)` and no `release == "4.5"`."""
    for name, text in KERNEL_SRC.items():
        assert not re.search(r"version\s*[<>=!]=?\s*\(", text), name
        assert not re.search(r"\.release\s*[<>=!]=", text), name
        assert ".version" not in re.sub(r"#.*", "", text), f"{name} reads a version number"


def test_doc_page_is_generated_from_the_table():
    doc = (ROOT / "docs" / "kernel-generations.md").read_text(encoding="utf-8")
    assert doc == gen_mod.markdown(), ("docs/kernel-generations.md is out of date: run "
                                       "python -m kmemlab.kernel.generation > docs/kernel-generations.md")


def test_unknown_kernel_is_refused_with_the_list():
    with pytest.raises(ValueError, match=r"4\.5.*6\.18"):
        km.Machine(mem="64M", kernel="6.9")


def test_the_default_is_the_newest_long_term_kernel():
    # 7.0 (sheaves for every cache) comes after it in GENERATIONS but is not long-term
    assert km.Machine(mem="64M").kernel == gen_mod.DEFAULT_KERNEL == "6.18"
    assert GENERATIONS.index("6.18") == len(GENERATIONS) - 2 and GENERATIONS[-1] == "7.0"


# -- traces follow the table ---------------------------------------------------------------

def _subsequence(want, have):
    it = iter(have)
    return all(any(x == w for x in it) for w in want)


@pytest.mark.parametrize("kernel", GENERATIONS)
def test_traces_pass_through_the_tables_chains_in_order(kernel):
    for _label, call, roles in gen_mod.TRACED_CALLS:
        m = machine(kernel)
        with m.trace() as t:
            call(m)
        want = [n for role in roles for n in m.gen.chain(role)]
        assert _subsequence(want, t.functions()), (kernel, _label, want, t.functions())


def test_the_articles_45_vmalloc_path_name_by_name():
    """The seed article (v4.5): vmalloc -> __vmalloc_node_flags -> __vmalloc_node ->
    __vmalloc_node_range -> __get_vm_area_node, then __vmalloc_area_node: the page array by
    kmalloc_node, each page by alloc_kmem_pages(), then map_vm_area()."""
    m = machine("4.5")
    with m.trace() as t:
        m.vmalloc(20000)
    top = t.calls[0]
    path = []
    c = top
    while c.func != "__vmalloc_node_range":
        path.append(c.func)
        c = c.children[0]
    assert path == ["vmalloc", "__vmalloc_node_flags", "__vmalloc_node"]
    steps = [x.func for x in c.children]
    assert steps == ["__get_vm_area_node", "__vmalloc_area_node"]
    area = c.children[1].children
    funcs = [x.func for x in area]
    assert funcs[0] == "__kmalloc_node"                      # the page array (5 pointers)
    assert funcs[1:6] == ["alloc_kmem_pages"] * 5            # one order-0 page at a time
    assert funcs[6] == "map_vm_area"
    assert "alloc_vmap_area" in [x.func for x in c.children[0].children]


def test_the_articles_45_kmalloc_paths():
    m = machine("4.5")
    with m.trace() as t:
        m.kmalloc(100)
    assert t.functions()[:4] == ["kmalloc", "kmalloc_index", "kmem_cache_alloc_trace", "slab_alloc"]
    with m.trace() as t:
        m.kmalloc(20000)
    assert t.functions()[:5] == ["kmalloc", "kmalloc_large", "kmalloc_order_trace", "kmalloc_order",
                                 "alloc_kmem_pages"]


def test_45_allocation_failure_is_warn_alloc_failed_with_the_articles_message():
    m = km.Machine("tiny", kernel="4.5")
    assert not m.vmalloc(64 << 20)                           # more than the machine has
    log = m.dmesg()
    assert "vmalloc: allocation failure: 67108864 bytes" in log
    # warn_alloc_failed(): the message, then the page allocator's own line (4.5 layout)
    # 4.5 prints the mode as a bare number (%pGg came in 4.6); vmalloc() asked for
    # GFP_KERNEL | __GFP_HIGHMEM; and no cpuset line (warn_alloc_failed() has none)
    assert re.search(r"vmalloc: allocation failure: 67108864 bytes\n.*python3: page allocation failure: "
                     r"order:0, mode:0x24000c2\n", log)
    assert "cpuset" not in log


def test_cpuset_line_is_its_own_line_before_50_and_on_the_failure_line_after():
    for kernel, own_line in (("4.19", True), ("5.4", False)):
        m = km.Machine("tiny", kernel=kernel)
        while m.alloc_pages(km.GFP_KERNEL, 0) is not None:
            pass
        log = m.dmesg()
        assert ("python3 cpuset=/ mems_allowed=0\n" in log) == own_line, kernel
        assert (",cpuset=/,mems_allowed=0" in log) == (not own_line), kernel


# -- the kernel's facts per release --------------------------------------------------------

#: (what, the value of each release): read from each release's source, see generation.py
FACTS = {
    "mode of GFP_KERNEL": {"4.5": "0x24000c0", "4.14": "0x14000c0", "4.19": "0x6000c0", "5.4": "0xcc0",
                           "6.6": "0xcc0", "6.18": "0xcc0"},
    "mode of GFP_ATOMIC": {"4.5": "0x2080020", "4.14": "0x1080020", "4.19": "0x480020", "5.4": "0xa20",
                           "6.1": "0xa20", "6.6": "0x820", "6.18": "0x820"},
    "GFP_NOWAIT": {"6.6": "0x800", "6.8": "0x2800", "6.18": "0x2800"},
    "MAX_ORDER": {"4.5": 11, "6.1": 11, "6.6": 10, "6.8": 10, "6.18": 10},
    "kmalloc(1024) cache": {"4.5": "kmalloc-1024", "4.19": "kmalloc-1024", "5.4": "kmalloc-1k",
                            "6.18": "kmalloc-1k"},
    "kmalloc-96 align": {"6.6": 8, "6.8": 8, "6.12": 32, "6.18": 32},
    "kmalloc-192 align": {"6.6": 8, "6.18": 64},
    "kmalloc-128 s->offset": {"5.4": 0, "5.10": 64, "6.18": 64},
    "kmalloc-cg caches": {"5.10": False, "5.15": True, "6.18": True},
}


def _fact(what, m):
    if what == "mode of GFP_KERNEL":
        return km.format_gfp(km.GFP_KERNEL, m.gen).split("(")[0]
    if what == "mode of GFP_ATOMIC":
        return km.format_gfp(km.GFP_ATOMIC, m.gen).split("(")[0]
    if what == "GFP_NOWAIT":
        return hex(m.GFP_NOWAIT)
    if what == "MAX_ORDER":
        return m.MAX_ORDER
    if what == "kmalloc(1024) cache":
        return m.kmalloc_slab(1024).name
    if what.endswith(" align"):
        return m.find_cache(what.split()[0]).align
    if what == "kmalloc-128 s->offset":
        return m.find_cache("kmalloc-128").offset
    if what == "kmalloc-cg caches":
        return m.find_cache("kmalloc-cg-64") is not None
    raise AssertionError(what)


@pytest.mark.parametrize("what", sorted(FACTS))
def test_each_generation_shows_its_releases_facts(what):
    for kernel, want in FACTS[what].items():
        assert _fact(what, machine(kernel)) == want, (what, kernel)


def test_meminfo_fields_follow_the_release():
    def fields(kernel):
        return [l.split(":")[0] for l in machine(kernel).proc.meminfo().splitlines()]
    f45, f66, f618 = fields("4.5"), fields("6.6"), fields("6.18")
    for name in ("KReclaimable", "Percpu", "FileHugePages", "SecPageTables", "Hugetlb"):
        assert name not in f45 and name in f66
    assert "Balloon" in f618 and "Balloon" not in f66
    assert f618.index("Balloon") == f618.index("FilePmdMapped") + 1
    assert f618.index("Zswap") == f618.index("SwapFree") + 1


def test_meminfo_field_order_matches_this_machines_kernel():
    """On a real Linux of the same generation, /proc/meminfo has the same fields in the same
    order, except the ones that depend on the kernel's configuration."""
    path = Path("/proc/meminfo")
    if not path.exists():
        pytest.skip("no /proc/meminfo: not Linux")
    release = Path("/proc/sys/kernel/osrelease").read_text().strip()
    major_minor = ".".join(release.split(".")[:2])
    if major_minor not in GENERATIONS:
        pytest.skip(f"this kernel is {release}: no kmemlab generation {major_minor}")
    optional = {"HardwareCorrupted", "Zswap", "Zswapped", "CmaTotal", "CmaFree", "Unaccepted",
                "HighTotal", "HighFree", "LowTotal", "LowFree", "DirectMap1G", "DirectMap4M",
                "ShadowCallStack", "GPU"}
    real = [l.split(":")[0] for l in path.read_text().splitlines()]
    model = [l.split(":")[0] for l in machine(major_minor).proc.meminfo().splitlines()]
    assert [f for f in real if f not in optional] == [f for f in model if f not in optional]


# -- inlined functions and the real kernel's symbols ------------------------------------------

def _traced_names(m) -> set[str]:
    c = m.kmem_cache_create("kmemlab_test", 72)
    names: set[str] = set()
    keep = []

    def tr(f):
        with m.trace() as t:
            f()
        names.update(t.functions())
    tr(lambda: keep.append(m.kmalloc(100)))
    tr(lambda: m.kfree(keep.pop()))
    tr(lambda: keep.append(m.kmalloc(20000)))
    tr(lambda: m.kfree(keep.pop()))
    tr(lambda: keep.append(m.kmalloc_node(100, km.GFP_KERNEL, 0)))
    tr(lambda: keep.append(m.kzalloc(3000)))
    tr(lambda: keep.append(m.vmalloc(20000)))
    tr(lambda: m.vfree(keep.pop()))
    tr(lambda: keep.append(m.vmalloc(5 << 20)))
    tr(lambda: m.vfree(keep.pop()))
    tr(lambda: keep.append(m.vmalloc_node(20000, 0)))
    tr(lambda: keep.append(m.kvmalloc(100)))
    tr(lambda: keep.append(m.kvmalloc(5 << 20)))
    tr(lambda: keep.append(m.kmem_cache_alloc(c)))
    tr(lambda: m.kmem_cache_free(c, keep.pop()))
    tr(lambda: keep.append(m.alloc_pages(km.GFP_KERNEL, 0)))
    tr(lambda: m.free_pages(keep.pop(), 0))
    tr(lambda: keep.append(m.alloc_pages(km.GFP_KERNEL, 5)))
    tr(lambda: m.free_pages(keep.pop(), 5))
    tr(lambda: [m.kmalloc(4096) for _ in range(40)])
    return names


def test_format_without_inlined_frames_keeps_their_callees():
    m = machine("6.18")
    with m.trace() as t:
        m.kmalloc(100)
    shown = t.format(inlined=False)
    assert "kmalloc_index" not in shown and "slab_alloc_node" not in shown
    assert "__kmalloc_cache_noprof()" in shown and "allocate_slab()" in shown
    assert "/* inline" in str(t)
    assert set(t.functions(inlined=False)) == {c for c in t.functions() if not get_generation("6.18").inlined(c)}


def test_618_non_inlined_names_exist_in_the_real_618_kallsyms():
    """Every function a 6.18 trace shows as a real (not inlined) frame is a symbol of a real
    6.18 kernel. Runs on this project's CI machines (Linux 6.18, root)."""
    path = Path("/proc/kallsyms")
    release = Path("/proc/sys/kernel/osrelease").read_text().strip() if path.exists() else ""
    if not release.startswith("6.18."):
        pytest.skip(f"needs a running 6.18 kernel (this is {release or 'not Linux'})")
    syms = {line.split()[2] for line in path.read_text().splitlines() if len(line.split()) >= 3}
    if len(syms) < 1000:
        pytest.skip("/proc/kallsyms is restricted here (not root?)")
    m = machine("6.18", cpus=2)
    missing = sorted(n for n in _traced_names(m) if not m.gen.inlined(n) and n not in syms)
    assert not missing, f"6.18 traces show functions a real 6.18 kernel does not have: {missing}"
    # static functions of other files share two of the names: expand() of mm/page_alloc.c is
    # inline, the symbol is another file's; the slab path's memset is the compiler's builtin
    homonyms = {"expand", "memset"}
    inlined_but_real = sorted(n for n in _traced_names(machine("6.18", cpus=2))
                              if m.gen.inlined(n) and n in syms and n not in homonyms)
    assert not inlined_but_real, f"marked inlined but present in kallsyms: {inlined_but_real}"
