"""docs/kernel-generations.md cannot drift from the model: its two "(checked)" tables are
parsed here and every cell is compared with what a machine of that generation does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kmemlab as km
from kmemlab.kernel.machine import SUPPORTED_KERNELS

DOC = Path(__file__).resolve().parent.parent / "docs" / "kernel-generations.md"


def _table(heading: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, rows) of the first Markdown table after ``## heading``."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {heading}")
    lines = [l for l in text[start:].splitlines()[1:]]
    rows = []
    for l in lines:
        if l.startswith("|"):
            rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", l.strip().strip("|"))])
        elif rows:
            break
    header, body = rows[0], [r for r in rows[2:]]
    return header, body


def _names(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def _machine(version: str):
    return km.Machine("x86_64", mem="128M", kernel=version, seed=0)


def _traced(m, call: str) -> list[str]:
    if call.startswith("`m.vfree(m.vmalloc(20000))`"):
        addr = m.vmalloc(20000)
        with m.trace() as t:
            m.vfree(addr)
        return t.functions()
    expr = re.match(r"`([^`]+)`", call).group(1)
    with m.trace() as t:
        eval(expr, {"m": m, "km": km})
    return t.functions()


def test_the_tables_cover_every_supported_generation():
    for heading in ("Traced function names", "Values per generation"):
        header, rows = _table(heading)
        assert tuple(header[1:]) == SUPPORTED_KERNELS, heading
        assert rows and all(len(r) == len(header) for r in rows), heading


TRACE_HEADER, TRACE_ROWS = _table("Traced function names")


@pytest.mark.parametrize("row", TRACE_ROWS, ids=[r[0] for r in TRACE_ROWS])
def test_traced_names_in_the_doc_are_what_each_generation_traces(row):
    versions = TRACE_HEADER[1:]
    listed = {v: _names(cell) for v, cell in zip(versions, row[1:])}
    every = set().union(*listed.values())
    for v in versions:
        funcs = set(_traced(_machine(v), row[0]))
        missing = listed[v] - funcs
        assert not missing, f"{row[0]} on {v}: the doc lists {sorted(missing)}, the trace has not"
        extra = (every - listed[v]) & funcs
        assert not extra, (f"{row[0]} on {v}: {sorted(extra)} appear in the trace but the doc "
                           f"lists them only for other generations")


def _meminfo_kb(m, field: str) -> int:
    return next(int(l.split()[1]) for l in m.proc.meminfo().splitlines() if l.startswith(field + ":"))


def _value(label: str, v: str) -> str:
    m = _machine(v)
    version = tuple(int(x) for x in v.split("."))
    if label.startswith("`km.format_gfp(km.GFP_KERNEL"):
        return km.format_gfp(km.GFP_KERNEL, version)
    if label.startswith("`km.format_gfp(km.GFP_ATOMIC"):
        return km.format_gfp(km.GFP_ATOMIC, version)
    if label == "cache of `kmalloc(1024)`":
        return m.kmalloc_slab(1024).name
    if label == "cache of `kmalloc(100, GFP_KERNEL_ACCOUNT)`":
        return m.kmalloc_slab(100, km.GFP_KERNEL_ACCOUNT).name
    if label.startswith("reclaimable kmalloc caches"):
        return "yes" if any(s.name.startswith("kmalloc-rcl-") for s in m.slab_caches) else "no"
    if label.startswith("free pointer offset in `kmalloc-128`"):
        return str(m.find_cache("kmalloc-128").offset)
    if label == "alignment of `kmalloc-1k` objects":
        return str(m.kmalloc_slab(1024).align)
    if label.startswith("`VmallocUsed` after `vmalloc(20000)`"):
        before = _meminfo_kb(m, "VmallocUsed")
        m.vmalloc(20000)
        return str(_meminfo_kb(m, "VmallocUsed") - before)
    if label.startswith("`Slab` after one `kmalloc(20000)`"):
        before = _meminfo_kb(m, "Slab")
        m.kmalloc(20000)
        return str(_meminfo_kb(m, "Slab") - before)
    if label.startswith("`kvmalloc(5 MiB, GFP_NOFS)`"):
        return "yes" if m.is_vmalloc_addr(m.kvmalloc(5 << 20, km.GFP_NOFS)) else "no"
    raise AssertionError(f"no check for the row {label!r}: add one to this test")


VALUE_HEADER, VALUE_ROWS = _table("Values per generation")


@pytest.mark.parametrize("row", VALUE_ROWS, ids=[r[0] for r in VALUE_ROWS])
def test_values_in_the_doc_are_what_each_generation_gives(row):
    for v, cell in zip(VALUE_HEADER[1:], row[1:]):
        assert _value(row[0], v) == cell.strip("`"), f"{row[0]} on {v}"


def test_every_kmemlab_location_in_the_doc_exists():
    """The last column of the big table names functions in kmemlab modules: they exist."""
    import importlib
    header, rows = _table("Every difference, with its source")
    assert header[-1] == "where in kmemlab"
    for row in rows:
        assert len(row) == len(header), f"row with {len(row)} cells: {row[0][:60]}"
        for part in row[-1].split(";"):
            ticks = re.findall(r"`([\w.]+)`", re.sub(r"\([^)]*\)", "", part))
            if not ticks or not ticks[0].endswith(".py"):
                continue
            mod = importlib.import_module(f"kmemlab.kernel.{ticks[0][:-3]}")
            src = Path(mod.__file__).read_text(encoding="utf-8")
            for name in ticks[1:]:
                attr = name.split(".")[-1]
                assert re.search(rf"\b{re.escape(attr)}\b", src), \
                    f"{ticks[0]} has no {name} (row: {row[0][:60]})"
