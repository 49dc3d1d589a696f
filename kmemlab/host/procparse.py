"""Parsers of the ``/proc`` texts a Linux kernel prints (the formats of mm/vmstat.c,
fs/proc/meminfo.c, mm/slab_common.c, mm/vmalloc.c), for ``km.host()``.

Each takes the text and the path it came from and returns plain data; a text that is
not in the kernel's format raises :class:`~kmemlab.host.errors.HostParseError` naming
the file and the line, never an IndexError from deep inside. The parsers accept the
layouts of v4.14 .. v6.18 (fields that an older kernel lacks are simply absent).
"""

from __future__ import annotations

import re

from .errors import HostParseError

__all__ = ["parse_buddyinfo", "parse_pagetypeinfo", "parse_zoneinfo", "parse_meminfo",
           "parse_vmstat", "parse_slabinfo", "parse_vmallocinfo", "parse_cpulist",
           "sysfs_count"]


def _bad(path: str, lineno: int, line: str, why: str) -> HostParseError:
    shown = line if len(line) <= 80 else line[:77] + "..."
    return HostParseError(f"{path} line {lineno} is not in the kernel's format ({why}): {shown!r}", path)


def parse_buddyinfo(text: str, path: str = "/proc/buddyinfo") -> list[tuple[int, str, list[int]]]:
    """``Node 0, zone   Normal   8823   4839 ...`` -> [(node, zone, nr_free per order)]."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        mo = re.match(r"Node (\d+), zone +(\S+) +((?:\d+ *)+)$", line)
        if not mo:
            raise _bad(path, i, line, "expected 'Node N, zone NAME' and one count per order")
        out.append((int(mo.group(1)), mo.group(2), [int(x) for x in mo.group(3).split()]))
    return out


def parse_pagetypeinfo(text: str, path: str = "/proc/pagetypeinfo"):
    """-> (pageblock_order, migratetype names, {(node, zone): [[count per order] per type]},
    {(node, zone): [pageblocks per type]}). A count printed as ``>100000`` (the kernel
    stops counting there) is returned as 100000."""
    pbo = None
    names: list[str] = []
    free: dict[tuple[int, str], list[list[int]]] = {}
    blocks: dict[tuple[int, str], list[int]] = {}
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            if line.startswith("Page block order:"):
                pbo = int(line.split(":")[1])
            elif line.startswith("Pages per block:") or line.startswith("Free pages count"):
                continue
            elif line.startswith("Number of blocks type"):
                names = line[len("Number of blocks type"):].split()
            elif line.startswith("Number of mixed blocks"):
                continue
            elif ", type " in line:
                head, _, rest = line.partition(", type ")
                node, zone = _node_zone(head)
                f = rest.split()
                free.setdefault((node, zone), []).append([int(x.lstrip(">")) for x in f[1:]])
                if f[0] not in names:
                    names.append(f[0])
            elif line.startswith("Node "):
                f = line.replace(",", " ").split()
                node, zone = int(f[1]), f[3]
                blocks[(node, zone)] = [int(x) for x in f[4:]]
            else:
                raise ValueError("unexpected line")
        except (ValueError, IndexError) as e:
            raise _bad(path, i, line, str(e) or "unexpected line") from None
    if pbo is None:
        raise HostParseError(f"{path} has no 'Page block order:' line: not a pagetypeinfo text", path)
    return pbo, tuple(names), free, blocks


def _node_zone(head: str) -> tuple[int, str]:
    f = head.replace(",", " ").split()
    if len(f) != 4 or f[0] != "Node" or f[2] != "zone":
        raise ValueError("expected 'Node N, zone NAME'")
    return int(f[1]), f[3]


def parse_zoneinfo(text: str, path: str = "/proc/zoneinfo") -> list[dict]:
    """One dict per zone block: node, name, the header fields (free, boost, min, low,
    high, promo, spanned, present, managed, cma), protection, start_pfn, the zone
    counters (``counters``) and, on the first zone of a node, ``node_stats``."""
    zones: list[dict] = []
    z = None
    section = None
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        try:
            if line.startswith("Node "):
                node, name = _node_zone(line)
                z = {"node": node, "name": name, "protection": [], "start_pfn": 0,
                     "counters": {}, "node_stats": {}}
                zones.append(z)
                section = "head"
                continue
            if z is None:
                raise ValueError("text before the first 'Node N, zone NAME' line")
            if s == "per-node stats":
                section = "node"
            elif s.startswith("pages free"):
                z["free"] = int(s.split()[2])
                section = "head"
            elif s.startswith("protection:"):
                inner = s[s.index("(") + 1:s.rindex(")")]
                z["protection"] = [int(x) for x in inner.split(",") if x.strip()]
                section = "counters"
            elif s == "pagesets":
                section = "pagesets"
            elif s.startswith("start_pfn:"):
                z["start_pfn"] = int(s.split()[1])
            elif section == "pagesets" or s.startswith(("node_unreclaimable", "all_unreclaimable")):
                continue
            else:
                f = s.split()
                if len(f) != 2:
                    raise ValueError("expected 'name value'")
                key, val = f[0], int(f[1])
                if section == "head":
                    z[key] = val
                elif section == "node":
                    z["node_stats"][key] = val
                else:
                    z["counters"][key] = val
        except (ValueError, IndexError) as e:
            raise _bad(path, i, line, str(e) or "unexpected line") from None
    for z in zones:
        for key in ("free", "min", "low", "high", "spanned", "present", "managed"):
            if key not in z:
                raise HostParseError(f"{path}: zone {z['name']} of node {z['node']} has no "
                                     f"'{key}' line: not a zoneinfo text", path)
    return zones


def parse_meminfo(text: str, path: str = "/proc/meminfo") -> dict[str, int]:
    """``MemTotal:       24683584 kB`` -> {"MemTotal": 24683584} (kB; HugePages_* are counts)."""
    out = {}
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        f = rest.split()
        if not sep or not f or not f[0].isdigit() or len(f) > 2 or (len(f) == 2 and f[1] != "kB"):
            raise _bad(path, i, line, "expected 'Name: value [kB]'")
        out[name.strip()] = int(f[0])
    if "MemTotal" not in out:
        raise HostParseError(f"{path} has no MemTotal line: not a meminfo text", path)
    return out


def parse_vmstat(text: str, path: str = "/proc/vmstat") -> dict[str, int]:
    """``nr_free_pages 980656`` per line -> dict."""
    out = {}
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        if len(f) != 2 or not f[1].lstrip("-").isdigit():
            raise _bad(path, i, line, "expected 'name value'")
        out[f[0]] = int(f[1])
    return out


def parse_slabinfo(text: str, path: str = "/proc/slabinfo") -> list[dict]:
    """The rows of slabinfo 2.1: name, active_objs, num_objs, objsize, objperslab,
    pagesperslab, active_slabs, num_slabs."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("slabinfo - version: 2."):
        raise HostParseError(f"{path} does not start with 'slabinfo - version: 2.x'", path)
    rows = []
    for i, line in enumerate(lines[1:], 2):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        try:
            if len(f) < 16 or f[6] != ":" or f[11] != ":":
                raise ValueError("expected 16 fields with ': tunables' and ': slabdata'")
            rows.append({"name": f[0], "active_objs": int(f[1]), "num_objs": int(f[2]),
                         "objsize": int(f[3]), "objperslab": int(f[4]), "pagesperslab": int(f[5]),
                         "active_slabs": int(f[13]), "num_slabs": int(f[14])})
        except (ValueError, IndexError) as e:
            raise _bad(path, i, line, str(e)) from None
    return rows


_VM_WORDS = ("ioremap", "vmalloc", "vmap", "user", "dma-coherent", "vpages")


def parse_vmallocinfo(text: str, path: str = "/proc/vmallocinfo") -> list[dict]:
    """One dict per line: start, end, size, caller (None for ``unpurged vm_area`` /
    ``vm_map_ram``), kind ("busy", "unpurged", "vm_map_ram"), nr_pages, phys, the flag
    words, vpages and the per-node page counts (N0=4 ...)."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        try:
            lo, _, hi = f[0].partition("-")
            rec = {"start": int(lo, 16), "end": int(hi, 16), "size": int(f[1]), "caller": None,
                   "kind": "busy", "nr_pages": 0, "phys": None, "words": [], "nodes": {}}
            if not lo.startswith("0x") or not hi.startswith("0x"):
                raise ValueError("expected 0xSTART-0xEND")
            rest = f[2:]
            if rest[:2] == ["unpurged", "vm_area"]:
                rec["kind"] = "unpurged"
            elif rest == ["vm_map_ram"]:
                rec["kind"] = "vm_map_ram"
            else:
                rec["caller"] = rest[0]
                if len(rest) > 1 and rest[1].startswith("[") and rest[1].endswith("]"):
                    rec["caller"] += " " + rest[1]      # %pS of module code: "f+0x1d/0x40 [mod]"
                    rest = rest[1:]
                for w in rest[1:]:
                    if w.startswith("pages="):
                        rec["nr_pages"] = int(w[6:])
                    elif w.startswith("phys="):
                        rec["phys"] = int(w[5:], 16)
                    elif re.fullmatch(r"N\d+=\d+", w):
                        n, c = w[1:].split("=")
                        rec["nodes"][int(n)] = int(c)
                    else:
                        rec["words"].append(w)
        except (ValueError, IndexError) as e:
            raise _bad(path, i, line, str(e) or "expected 'START-END SIZE CALLER ...'") from None
        out.append(rec)
    return out


def parse_cpulist(text: str, path: str = "") -> list[int]:
    """A kernel cpu/node list (``0-3,8,10-11``) -> [0, 1, 2, 3, 8, 10, 11]."""
    out: list[int] = []
    s = text.strip()
    if not s:
        return out
    try:
        for part in s.split(","):
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise HostParseError(f"{path} is not a cpu/node list like '0-3,8': {s[:40]!r}", path) from None
    return out


def sysfs_count(text: str, path: str = "") -> int:
    """The leading number of a /sys/kernel/slab counter (``2032 N0=2032`` -> 2032)."""
    f = text.split()
    if not f or not f[0].lstrip("-").isdigit():
        raise HostParseError(f"{path} does not start with a number: {text[:40]!r}", path)
    return int(f[0])
