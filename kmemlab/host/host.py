"""``km.host()``: the running Linux, read-only, through the same helpers as a Machine.

Reading the host is like photographing a busy kitchen: ``km.host()`` takes one picture
of ``/proc/{buddyinfo,pagetypeinfo,zoneinfo,meminfo,vmstat,slabinfo,vmallocinfo}``,
``/sys/kernel/slab``, the CPU and NUMA node lists and ``uname``, and every answer comes
from that picture until ``h.refresh()`` takes the next one. Nothing is ever written.

Three files are readable by root only (mode 0400: ``slabinfo``, ``vmallocinfo``,
``pagetypeinfo``). Without root ``km.host()`` still works: the slab caches come from
``/sys/kernel/slab``, and what needs the missing files raises
:class:`~kmemlab.host.errors.HostPermissionError` saying so (``h.unreadable`` lists them).
"""

from __future__ import annotations

import html
import os
import sys
import time

from ..kernel.helpers import NotAvailable, PrintkRecord, ReadSource, SlabCacheUsage, UtsName
from ..kernel.machine import Text
from . import procparse as P
from .errors import HostError, HostFileMissing, HostParseError, HostPermissionError, NotLinux
from .objects import HostFreeArea, HostKmemCache, HostVmapArea, HostVmStruct, HostZone, vm_flags

__all__ = ["Host", "host", "PROC_FILES"]

#: the /proc files a snapshot holds (``h.proc.<name>()``)
PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo", "vmstat", "slabinfo", "vmallocinfo")
_ROOT_ONLY = {"slabinfo", "pagetypeinfo", "vmallocinfo"}
#: read on first use (and then kept until refresh()): the kernel walks every free block
#: (up to 100000 per list) and every pageblock to print it — from under a millisecond
#: on a fresh machine to 50 ms and more once memory is fragmented
_ON_DEMAND = ("/proc/pagetypeinfo",)
_SNAPSHOT_EXTRA = ("/proc/sys/vm/min_free_kbytes", "/sys/devices/system/node/online",
                   "/sys/devices/system/cpu/online")
_SLAB = "/sys/kernel/slab"
#: enum zone_type names in order (include/linux/mmzone.h); zone_idx of a host zone
_ZONE_ORDER = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")


def host(root: str = "/") -> "Host":
    """Read this Linux machine (read-only): ``h = km.host()``.

    ``root`` reads another tree laid out like ``/`` (a copy of a machine's ``/proc`` and
    ``/sys`` files, or a test fixture). Raises :class:`~kmemlab.host.errors.NotLinux` on a
    system without ``/proc`` (macOS, Windows).

    >>> h = km.host()
    >>> print(h.proc.buddyinfo())
    >>> from kmemlab.helpers import for_each_slab_cache
    >>> len(list(for_each_slab_cache(h)))
    """
    return Host(root)


class _Proc:
    """``h.proc``: each method returns the snapshot's text of ``/proc/<name>``."""

    def __init__(self, h: "Host"):
        self._h = h

    def __dir__(self):
        return list(PROC_FILES)

    def __getattr__(self, name):
        if name in PROC_FILES:
            def read():
                return self._h.cat(f"/proc/{name}")
            read.__name__ = name
            read.__doc__ = f"``/proc/{name}`` as ``cat`` printed it at the last refresh()."
            return read
        raise AttributeError(f"h.proc has no {name!r}; it has: {', '.join(PROC_FILES)}")


class Host:
    """The running Linux as a read-only snapshot (``km.host()``).

    ``h.cat(path)`` returns a ``/proc`` or ``/sys`` file as it was read, ``h.proc.buddyinfo()``
    (and the other :data:`PROC_FILES`) the same texts, ``h.refresh()`` reads again. The
    helpers of :mod:`kmemlab.helpers` take it as they take a Machine.
    Attributes: ``release`` (``uname -r``), ``utsname``, ``cpus``, ``nodes``, ``mem``
    (``MemTotal`` in bytes), ``is_root``, ``unreadable`` (path -> why), ``read_at``
    (``time.time()`` of the snapshot), ``read_seconds`` (what reading took).
    """

    def __init__(self, root: str = "/"):
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a directory path, got {type(root).__name__}")
        root = os.fspath(root)
        if root == "/" and not sys.platform.startswith("linux"):
            raise NotLinux(f"km.host() reads a running Linux kernel's /proc and /sys; this is "
                           f"{sys.platform}. Use a simulated km.Machine(), or km.replay() of "
                           "the shipped recording.")
        if not os.path.isdir(os.path.join(root, "proc")) or not os.path.exists(os.path.join(root, "proc/meminfo")):
            raise NotLinux(f"{os.path.join(root, 'proc')} has no meminfo: not a Linux /proc "
                           "(km.host() needs a running Linux, or a root= tree laid out like one)")
        self._root = root
        self.proc = _Proc(self)
        self._geometry: dict[tuple[str, str], str] = {}   # (sysdir, file) -> text, kept across refresh
        self.refresh()

    # -- reading --------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return os.path.join(self._root, path.lstrip("/")) if self._root != "/" else path

    def _read(self, path: str) -> str:
        """The whole file, or a HostError that says what went wrong."""
        try:
            fd = os.open(self._path(path), os.O_RDONLY)
        except FileNotFoundError:
            raise HostFileMissing(f"{path} does not exist on this kernel (too old, configured "
                                  "out, or its filesystem is not mounted)", path) from None
        except PermissionError:
            raise self._denied(path) from None
        except OSError as e:
            raise HostError(f"cannot read {path}: {e.strerror}", path) from None
        try:
            chunks = []
            while True:
                b = os.read(fd, 1 << 16)
                if not b:
                    break
                chunks.append(b)
        except PermissionError:
            raise self._denied(path) from None
        except OSError as e:
            raise HostError(f"cannot read {path}: {e.strerror}", path) from None
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8", "replace")

    def _denied(self, path: str) -> HostPermissionError:
        name = path.rsplit("/", 1)[-1]
        try:
            mode = os.stat(self._path(path)).st_mode & 0o777
        except OSError:
            mode = 0o400 if path.startswith("/proc/") and name in _ROOT_ONLY else None
        if mode is not None and not mode & 0o044:
            return HostPermissionError(f"{path} is readable by root only (mode {mode:04o}): run as "
                                       "root (sudo) to see it" + _WITHOUT.get(name, ""), path)
        return HostPermissionError(f"{path}: permission denied (run as root to read it)", path)

    def refresh(self) -> "Host":
        """Read the snapshot's files again (``/proc/pagetypeinfo``, slow for the kernel
        to print, is read when first asked for)."""
        t = time.perf_counter()
        texts: dict[str, str] = {}
        unreadable: dict[str, HostError] = {}
        for name in PROC_FILES:
            path = f"/proc/{name}"
            if path in _ON_DEMAND:
                continue
            try:
                texts[path] = self._read(path)
            except HostError as e:
                unreadable[path] = e
        for path in _SNAPSHOT_EXTRA:
            try:
                texts[path] = self._read(path)
            except HostError as e:
                unreadable[path] = e
        self._texts = texts
        self._unreadable = unreadable
        self._extra: dict[str, str] = {}
        self._slab_dirs = self._list_slab()
        self._parsed: dict[str, object] = {}
        if self._root == "/":
            u = os.uname()
            self.utsname = UtsName(u.sysname, u.nodename, u.release, u.version, u.machine)
        else:
            self.utsname = UtsName(*(self._kernel_sysctl(n, d) for n, d in (
                ("ostype", "Linux"), ("hostname", "localhost"), ("osrelease", "unknown"),
                ("version", ""), ("arch", "x86_64"))))
        self.read_at = time.time()
        self._usage_counts = self._slab_counts_without_slabinfo()
        self.read_seconds = time.perf_counter() - t
        return self

    def _kernel_sysctl(self, name: str, default: str) -> str:
        try:
            return self._read(f"/proc/sys/kernel/{name}").strip()
        except HostError:
            return default

    def _list_slab(self):
        """(real dirs, alias -> real dir) of /sys/kernel/slab, or None without it."""
        try:
            entries = list(os.scandir(self._path(_SLAB)))
        except FileNotFoundError:
            self._unreadable[_SLAB] = HostFileMissing(f"{_SLAB} does not exist (not SLUB, or "
                                                      "CONFIG_SLUB_SYSFS is off)", _SLAB)
            return None
        except OSError as e:
            self._unreadable[_SLAB] = HostError(f"cannot list {_SLAB}: {e.strerror}", _SLAB)
            return None
        dirs, links = [], {}
        for e in entries:
            if e.is_symlink():
                links[e.name] = os.path.basename(os.readlink(e.path))
            elif e.is_dir():
                dirs.append(e.name)
        return sorted(dirs), links

    def _slab_counts_without_slabinfo(self):
        """Without /proc/slabinfo the snapshot's counts come from sysfs (3 files a cache)."""
        if "/proc/slabinfo" in self._texts or self._slab_dirs is None:
            return None
        counts = {}
        for d in self._slab_dirs[0]:
            try:
                vals = [P.sysfs_count(self._read(f"{_SLAB}/{d}/{f}"), f"{_SLAB}/{d}/{f}")
                        for f in ("slabs", "total_objects", "objects")]
            except HostPermissionError as e:
                # newer kernels make every /sys/kernel/slab file mode 0400: one try is enough
                self._unreadable[f"{_SLAB}/*/slabs"] = HostPermissionError(
                    f"the files in {_SLAB}/<cache>/ are readable by root only on this kernel "
                    "(mode 0400): the slab caches are listed by name only", e.path)
                return {}
            except HostError as e:
                counts[d] = e
                continue
            counts[d] = SlabCacheUsage(vals[0], vals[1], vals[1] - vals[2])
        return counts

    def _slab_attr(self, sysdir: str, file: str) -> str:
        key = (sysdir, file)
        text = self._geometry.get(key)
        if text is None:
            text = self._read(f"{_SLAB}/{sysdir}/{file}")
            self._geometry[key] = text
        return text

    def _slab_usage(self, cache: HostKmemCache) -> SlabCacheUsage:
        counts = self._usage_counts or {}
        got = counts.get(cache.sysdir)
        if isinstance(got, SlabCacheUsage):
            return got
        if isinstance(got, HostError):
            raise type(got)(str(got), got.path)
        denied = self._unreadable.get(f"{_SLAB}/*/slabs")
        if denied is not None:
            raise HostPermissionError(f"the counts of slab cache {cache.name}: /proc/slabinfo and "
                                      f"{_SLAB}/{cache.sysdir}/ are readable by root only", denied.path)
        raise NotAvailable(f"the counts of slab cache {cache.name}: neither /proc/slabinfo nor "
                           f"{_SLAB}/{cache.sysdir}/ could be read")

    # -- the files ----------------------------------------------------------------------

    def cat(self, path: str) -> Text:
        """A ``/proc`` or ``/sys`` file as ``cat`` prints it: the snapshot's text for the
        files refresh() reads, any other file read on first use and kept until the
        next refresh().

        >>> print(h.cat("/sys/kernel/slab/kmalloc-64/order"))
        0
        """
        if not isinstance(path, str):
            raise TypeError(f"cat() takes a path like '/proc/buddyinfo', got {type(path).__name__}")
        norm = os.path.normpath(path)
        if not (norm.startswith("/proc/") or norm.startswith("/sys/")):
            raise ValueError(f"h.cat() reads the kernel's files under /proc and /sys, not {path!r}")
        if norm in _ON_DEMAND:
            self._read_on_demand(norm)
        if norm in self._texts:
            return Text(self._texts[norm])
        if norm in self._unreadable:
            e = self._unreadable[norm]
            raise type(e)(str(e), e.path)
        if norm not in self._extra:
            self._extra[norm] = self._read(norm)
        return Text(self._extra[norm])

    def _read_on_demand(self, path: str) -> bool:
        """Read one of the _ON_DEMAND files into the snapshot once; whether it is there."""
        if path not in self._texts and path not in self._unreadable:
            try:
                self._texts[path] = self._read(path)
            except HostError as e:
                self._unreadable[path] = e
        return path in self._texts

    @property
    def unreadable(self) -> dict[str, str]:
        """The snapshot's files that could not be read, and why."""
        for path in _ON_DEMAND:
            self._read_on_demand(path)
        return {p: str(e) for p, e in self._unreadable.items()}

    @property
    def is_root(self) -> bool:
        return "/proc/slabinfo" in self._texts

    @property
    def release(self) -> str:
        """``uname -r``."""
        return self.utsname.release

    @property
    def cpus(self) -> int:
        """Online CPUs (``/sys/devices/system/cpu/online``)."""
        return len(self._source().online_cpus())

    @property
    def nodes(self) -> int:
        """Online NUMA nodes (``/sys/devices/system/node/online``; 1 without CONFIG_NUMA)."""
        return len(self._source().online_nodes())

    @property
    def mem(self) -> int:
        """``MemTotal`` in bytes."""
        return self._source().meminfo()["MemTotal"] << 10

    # -- parsed views of the snapshot (parsed on first use) -------------------------------

    def _parse(self, key: str, fn, path: str):
        if key not in self._parsed:
            self._parsed[key] = fn(self.cat(path), path)
        return self._parsed[key]

    def __kmemlab_source__(self) -> "HostSource":
        return self._source()

    def _source(self) -> "HostSource":
        src = self._parsed.get("source")
        if src is None:
            src = self._parsed["source"] = HostSource(self)
        return src

    # -- display ---------------------------------------------------------------------------

    def _summary_lines(self) -> list[str]:
        lines = [f"{self.utsname.nodename}: {self.utsname.sysname} {self.release} {self.utsname.machine}, "
                 f"{self.cpus} CPUs, {self.nodes} NUMA node(s), {_gib(self.mem)} RAM",
                 f"read {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.read_at))} in "
                 f"{self.read_seconds * 1e3:.1f} ms" + ("" if self.is_root else " (not root)")]
        for p, why in self.unreadable.items():
            lines.append(f"not shown: {why}")
        return lines

    def __repr__(self):
        return (f"<kmemlab host {self.utsname.nodename} Linux {self.release} cpus={self.cpus} "
                f"nodes={self.nodes} mem={_gib(self.mem)}"
                + ("" if self.is_root else " not-root") + ">")

    def __str__(self):
        return "\n".join(self._summary_lines())

    def _repr_html_(self):
        lines = self._summary_lines()
        body = "".join(f"<li>{html.escape(l)}</li>" for l in lines[2:])
        return (f'<div class="kmemlab-host"><b>{html.escape(lines[0])}</b><br>{html.escape(lines[1])}'
                + (f"<ul>{body}</ul>" if body else "") + "</div>")


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n >> 20} MiB"


_WITHOUT = {"slabinfo": "; the slab caches are still listed from /sys/kernel/slab",
            "vmallocinfo": "; without it the vmap areas cannot be shown",
            "pagetypeinfo": "; without it the per-migratetype free counts cannot be shown"}


class HostSource(ReadSource):
    """The read interface over a :class:`Host` snapshot (what the helpers call)."""

    description = "this host"

    def __init__(self, h: Host):
        self.h = h
        self._zones = None
        self._caches = None
        self._vmap = None

    @property
    def features(self) -> frozenset:
        h = self.h
        feats = {"slab_caches"}
        if "/proc/vmallocinfo" in h._texts:
            feats.add("vmap_areas")
        if h._read_on_demand("/proc/pagetypeinfo"):
            feats.add("migratetypes")
        return frozenset(feats)

    def _list(self, path: str, fallback: list[int]) -> list[int]:
        try:
            return P.parse_cpulist(self.h.cat(path), path)
        except HostFileMissing:
            return fallback

    def online_nodes(self) -> list[int]:
        return self._list("/sys/devices/system/node/online", [0]) or [0]

    def online_cpus(self) -> list[int]:
        return self._list("/sys/devices/system/cpu/online", list(range(os.cpu_count() or 1)))

    def utsname(self) -> UtsName:
        return self.h.utsname

    def page_shift(self) -> int:
        return 12 if self.h._root != "/" else (os.sysconf("SC_PAGE_SIZE").bit_length() - 1)

    def _buddy(self):
        return self.h._parse("buddyinfo", P.parse_buddyinfo, "/proc/buddyinfo")

    def nr_page_orders(self) -> int:
        rows = self._buddy()
        if not rows:
            raise HostParseError("/proc/buddyinfo is empty", "/proc/buddyinfo")
        return len(rows[0][2])

    def _pagetype(self):
        return self.h._parse("pagetypeinfo", P.parse_pagetypeinfo, "/proc/pagetypeinfo")

    def pageblock_order(self) -> int:
        return self._pagetype()[0]

    def migratetype_names(self) -> tuple[str, ...]:
        return self._pagetype()[1]

    def zones(self) -> list[HostZone]:
        if self._zones is None:
            self._zones = self._build_zones()
        return list(self._zones)

    def _build_zones(self) -> list[HostZone]:
        recs = self.h._parse("zoneinfo", P.parse_zoneinfo, "/proc/zoneinfo")
        norders = self.nr_page_orders()
        free = {(n, z): counts for n, z, counts in self._buddy()}
        zones = []
        for rec in recs:
            key = (rec["node"], rec["name"])
            nr = free.get(key, [0] * norders)
            if len(nr) != norders:
                raise HostParseError(f"/proc/buddyinfo: zone {rec['name']} has {len(nr)} orders, "
                                     f"the first zone {norders}", "/proc/buddyinfo")
            fas = [HostFreeArea(o, nr[o], self._by_migratetype, key) for o in range(norders)]
            idx = _ZONE_ORDER.index(rec["name"]) if rec["name"] in _ZONE_ORDER else len(zones)
            zones.append(HostZone(rec, idx, fas))
        return zones

    def _by_migratetype(self, key, order: int, nr_free: int) -> tuple[int, ...]:
        """free_list counts of one zone and order from /proc/pagetypeinfo (read now, once
        per snapshot). A count the kernel stopped at (``>100000``) is completed from
        buddyinfo's nr_free when it is the only one."""
        _, names, by_mt, _ = self._pagetype()
        rows = by_mt.get(key)
        mts = [r[order] if order < len(r) else 0 for r in rows] if rows else [0] * len(names)
        capped = [i for i, c in enumerate(mts) if c >= 100000]
        if len(capped) == 1:
            i = capped[0]
            mts[i] = max(100000, nr_free - (sum(mts) - mts[i]))
        return tuple(mts)

    def max_pfn(self) -> int:
        ends = [z.zone_end_pfn for z in self.zones() if z.populated()]
        return max(ends) if ends else 0

    def max_low_pfn(self) -> int:
        high = [z.zone_start_pfn for z in self.zones() if z.name == "HighMem" and z.populated()]
        return min(high) if high else self.max_pfn()

    def min_free_kbytes(self) -> int:
        path = "/proc/sys/vm/min_free_kbytes"
        return P.sysfs_count(self.h.cat(path), path)

    def vmstat(self) -> dict[str, int]:
        return self.h._parse("vmstat", P.parse_vmstat, "/proc/vmstat")

    def meminfo(self) -> dict[str, int]:
        return self.h._parse("meminfo", P.parse_meminfo, "/proc/meminfo")

    def slab_caches(self) -> list[HostKmemCache]:
        if self._caches is None:
            self._caches = self._build_caches()
        return list(self._caches)

    def _build_caches(self) -> list[HostKmemCache]:
        h = self.h
        listing = h._slab_dirs
        dirs, links = listing if listing is not None else ([], {})
        dirset = set(dirs)
        by_target: dict[str, list[str]] = {}
        for name, target in links.items():
            by_target.setdefault(target, []).append(name)
        out = []
        if "/proc/slabinfo" in h._texts:
            for r in h._parse("slabinfo", P.parse_slabinfo, "/proc/slabinfo"):
                name = r["name"]
                sysdir = name if name in dirset else links.get(name)
                order = (r["pagesperslab"].bit_length() - 1) if r["pagesperslab"] else 0
                usage = SlabCacheUsage(r["num_slabs"], r["num_objs"], r["num_objs"] - r["active_objs"])
                aliases = tuple(sorted(a for a in by_target.get(sysdir, ()) if a != name))
                out.append(HostKmemCache(h, name, sysdir, aliases, r["objsize"], r["objperslab"],
                                         order, usage))
            return out
        if listing is None:
            raise h._unreadable.get("/proc/slabinfo") or NotAvailable("the host's slab caches")
        for d in dirs:
            names = sorted(by_target.get(d, ()))
            out.append(HostKmemCache(h, d, d, tuple(n for n in names if n != d), None, None, None, None))
        return out

    def _vmalloc(self):
        if self._vmap is None:
            recs = self.h._parse("vmallocinfo", P.parse_vmallocinfo, "/proc/vmallocinfo")
            hashed = any(r["end"] - r["start"] != r["size"] for r in recs)
            busy, lazy = [], []
            for r in recs:
                if r["kind"] == "unpurged":
                    lazy.append(HostVmapArea(r, None, hashed))
                elif r["kind"] == "vm_map_ram":
                    busy.append(HostVmapArea(r, None, hashed))
                else:
                    busy.append(HostVmapArea(r, HostVmStruct(r, vm_flags(r["words"])), hashed))
            self._vmap = (busy, lazy)
        return self._vmap

    def vmap_areas(self) -> list[HostVmapArea]:
        return list(self._vmalloc()[0])

    def purge_vmap_areas(self) -> list[HostVmapArea]:
        return list(self._vmalloc()[1])

    def tracing_is_on(self) -> bool:
        for path in ("/sys/kernel/tracing/tracing_on", "/sys/kernel/debug/tracing/tracing_on"):
            try:
                return self.h.cat(path).strip() == "1"
            except HostFileMissing:
                continue
        raise NotAvailable("whether tracing is on: tracefs is not mounted at /sys/kernel/tracing")

    def printk_records(self) -> list[PrintkRecord]:
        """/dev/kmsg, read now (not part of the snapshot): ``level,seq,usec,flags;text``."""
        path = self.h._path("/dev/kmsg")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise HostFileMissing("/dev/kmsg does not exist", "/dev/kmsg") from None
        except PermissionError:
            raise HostPermissionError("/dev/kmsg: permission denied (kernel.dmesg_restrict is set: "
                                      "run as root)", "/dev/kmsg") from None
        out = []
        try:
            while True:
                try:
                    rec = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except BrokenPipeError:       # EPIPE: records were overwritten while reading
                    continue
                if not rec:
                    break
                head, _, text = rec.decode("utf-8", "replace").partition(";")
                f = head.split(",")
                if len(f) < 3:
                    continue
                out.append(PrintkRecord(text.split("\n", 1)[0], int(f[0]) & 7, int(f[2]) * 1000, int(f[1])))
        finally:
            os.close(fd)
        return out
