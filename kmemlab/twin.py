"""``km.Machine.like_host()``: a simulated machine shaped like the Linux it runs on.

Like a tailor's dummy made from one person's measurements: the twin has the host's RAM,
CPUs and NUMA nodes, follows the kernel generation nearest to the host's ``uname -r``,
and carries the host's slab caches, each created with the ``object_size``, ``align``,
flags and constructor ``/sys/kernel/slab`` shows, so that its caches have the host's
geometry (object stride, objects per slab, slab order). What it does not have is the
host's life: no user space, no page cache, no reclaim — ``km.compare(host, twin)`` says
which numbers agree and which do not, and why.

What "RAM" means here. ``MemTotal`` is ``totalram_pages()``: the pages the kernel
manages, i.e. RAM less what boot reserved (the kernel image, ``mem_map``, firmware
tables, crash kernels). The twin's ``mem`` is the RAM itself: what the firmware's map
calls usable, which is what the zones' ``present_pages`` count (the first MiB's holes,
page 0 and 640K-1M, are never RAM on a PC, on the host as in the model). The twin's
MemTotal then follows from the model's own reservations. The difference matters on
machines that hand memory to their zones late: on this project's 6.18 VM
(``deferred_init=lazy``) MemTotal is 23.5 GiB while the zones manage 6-11 GiB and
grow as the machine runs; the twin is a 24 GiB machine whose zones manage it all.

Simplifications (each shows in ``m.twin.notes`` when it applies): kmemlab models x86
(other architectures get an x86_64 twin); RAM is clamped to what the profile supports
(64 MiB .. 64 GiB) and split evenly between NUMA nodes; a merged cache (one sysfs
directory, several names) is created once, under its first name; the free-pointer
offset of an RCU cache that keeps it inside the object is not in sysfs: kmemlab knows
``vm_area_struct``'s (0) and puts the others' at 0 too (only the stride depends on it).
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field

from .kernel.boot import TASK_STRUCT_FIXED_SIZE, XSTATE_SIZE_RANGE
from .kernel.helpers import NotAvailable, find_slab_cache, for_each_slab_cache, for_each_zone
from .kernel.layout import format_size, get_profile, parse_size
from .kernel.machine import Machine
from .kernel.slub import SLAB_TYPESAFE_BY_RCU, SLAB_USER_FLAGS

__all__ = ["like_host", "twin_shape", "host_xstate_size", "TwinShape", "TwinInfo", "KNOWN_FREEPTR_OFFSETS"]

#: caches whose creator passes ``kmem_cache_args.freeptr_offset``, and where it points:
#: name -> (offset, the field, where it is set)
KNOWN_FREEPTR_OFFSETS = {
    "vm_area_struct": (0, "vm_freeptr", "6.18: mm/vma_init.c:17 vma_state_init(); vm_freeptr shares the "
                                        "first word with vm_start (include/linux/mm_types.h:822)"),
}
#: the page frames of the first MiB that are never RAM on a PC: page 0 (BIOS data) and
#: 640K-1M (VGA, option ROMs); the model leaves them out as the host's e820 map does
_FIRST_MIB_HOLES = 0x1000 + (0x100000 - 0x9f000)
#: ``uname -m`` -> the machine profile that models it
_ARCH_PROFILE = {"x86_64": "x86_64", "i386": "i386", "i486": "i386", "i586": "i386", "i686": "i386"}
_MACHINE_ARGS = ("profile", "mem", "cpus", "nodes", "seed", "kernel", "slub_debug", "freelist_random",
                 "slab_nomerge", "random_kmalloc_caches", "pcp", "transparent_hugepage", "boot", "xstate_size")


@dataclass
class TwinShape:
    """The Machine() arguments that make a host's twin, and why each has its value."""
    profile: str
    mem: int
    cpus: int
    nodes: int
    kernel: str
    notes: list[str] = field(default_factory=list)
    xstate_size: int | None = None      # the host CPU's FPU context (None: Machine's default)

    def kwargs(self) -> dict:
        kw = {"profile": self.profile, "mem": self.mem, "cpus": self.cpus, "nodes": self.nodes,
              "kernel": self.kernel}
        if self.xstate_size is not None:
            kw["xstate_size"] = self.xstate_size
        return kw


@dataclass
class TwinCache:
    """What like_host() did with one host cache: ``how`` is "created", "booted" (the
    twin's kernel made it at boot, e.g. kmalloc-64), or "failed"."""
    name: str
    how: str
    freeptr_offset: int | None = None
    why: str = ""


@dataclass
class TwinInfo:
    """``m.twin``: the host a twin was made from and what making it did."""
    host: str
    release: str
    shape: TwinShape
    caches: list[TwinCache] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def notes(self) -> list[str]:
        return self.shape.notes

    def _lines(self) -> list[str]:
        s = self.shape
        created = sum(c.how == "created" for c in self.caches)
        booted = sum(c.how == "booted" for c in self.caches)
        rcu = [c.name for c in self.caches if c.freeptr_offset is not None]
        lines = [f"twin of {self.host} (Linux {self.release}): kernel {s.kernel}, {format_size(s.mem)} RAM, "
                 f"{s.cpus} CPUs, {s.nodes} node(s); booted in {self.seconds:.2f} s",
                 f"{created} of the host's slab caches created from /sys/kernel/slab, {booted} made by the "
                 "twin's own boot" + (f"; free pointer inside the object: {', '.join(rcu)}" if rcu else "")]
        lines += [f"not created: {c.name} ({c.why})" for c in self.caches if c.how == "failed"]
        lines += s.notes
        return lines

    def __str__(self):
        return "\n".join(self._lines())

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        lines = self._lines()
        return ("<div class='kmemlab-twin'><b>" + html.escape(lines[0]) + "</b><ul>"
                + "".join(f"<li>{html.escape(l)}</li>" for l in lines[1:]) + "</ul></div>")


def _as_host(host):
    from .host import Host
    from .host import host as read_host
    if host is None:
        return read_host()
    if isinstance(host, Host):
        return host
    if isinstance(host, (str, os.PathLike)):
        return read_host(root=host)
    raise TypeError(f"host must be km.host() (or a directory laid out like /, or None for this "
                    f"machine), got {type(host).__name__}")


def twin_shape(host) -> TwinShape:
    """The profile, RAM, CPUs, nodes and kernel generation of ``host``'s twin."""
    from .replay import nearest_generation
    h = _as_host(host)
    notes: list[str] = []
    arch = h.utsname.machine
    profile = _ARCH_PROFILE.get(arch)
    if profile is None:
        profile = "x86_64"
        notes.append(f"the host is {arch}; kmemlab models x86, so the twin is an x86_64 machine")
    prof = get_profile(profile)
    page = 1 << prof.page_shift
    try:
        present = sum(z.present_pages for z in for_each_zone(h))
        mem = present * page + _FIRST_MIB_HOLES
        why = (f"RAM = the zones' present pages ({present} x {page} bytes, what the firmware calls usable) "
               "and the first MiB's holes")
    except NotAvailable:
        mem = -(-h.mem // (1 << 20)) << 20
        why = "RAM = MemTotal rounded up to a MiB (/proc/zoneinfo could not be read)"
    notes.append(why)
    if not prof.min_mem <= mem <= prof.max_mem:
        clamped = min(max(mem, prof.min_mem), prof.max_mem)
        notes.append(f"the host has {format_size(mem)} of RAM; the {profile} profile supports "
                     f"{format_size(prof.min_mem)} .. {format_size(prof.max_mem)}: the twin has {format_size(clamped)}")
        mem = clamped
    cpus = h.cpus
    if not 1 <= cpus <= 512:
        notes.append(f"the host has {cpus} CPUs; the twin has {min(max(cpus, 1), 512)} (kmemlab: 1 .. 512)")
        cpus = min(max(cpus, 1), 512)
    nodes = h.nodes
    if nodes > 1:
        notes.append(f"{nodes} NUMA nodes: the twin splits its RAM evenly between them")
    if nodes > min(8, cpus):
        notes.append(f"the host has {nodes} NUMA nodes; the twin has {min(8, cpus)} (kmemlab: up to 8, one CPU each)")
        nodes = min(8, cpus)
    kernel = nearest_generation(h.release)
    notes.append(f"kernel {kernel}: the generation kmemlab follows nearest to {h.release!r}")
    return TwinShape(profile, mem, cpus, nodes, kernel, notes, host_xstate_size(h, notes))


def host_xstate_size(h, notes: list[str] | None = None) -> int | None:
    """The host CPU's FPU context (``fpu_kernel_cfg.default_size``) as its task_struct
    shows it: object_size less the 6.18 rest (:data:`~kmemlab.kernel.boot.TASK_STRUCT_FIXED_SIZE`),
    or None where the host has no readable task_struct cache or the difference is not a
    context size (another architecture, another release's task_struct)."""
    try:
        ts = find_slab_cache(h, "task_struct")
        size = None if ts is None else ts.object_size - TASK_STRUCT_FIXED_SIZE
    except (NotAvailable, ValueError):
        return None
    if size not in XSTATE_SIZE_RANGE:
        return None
    if notes is not None:
        notes.append(f"task_struct: the host's CPU saves {size} bytes of FPU state per task "
                     f"(object_size {size + TASK_STRUCT_FIXED_SIZE}), and so does the twin's (xstate_size)")
    return size


def like_host(host=None, *, caches=True, machine_class=Machine, **overrides) -> Machine:
    """A Machine shaped like ``host`` (default: ``km.host()``, this machine); see the
    module docstring. ``overrides`` are Machine() arguments that replace the host's
    (``mem="4G"``, ``cpus=2``, ``kernel="6.6"``, ``seed=``, ``slub_debug=`` ...);
    ``caches=False`` boots without the host's slab caches, an iterable of names creates
    only those. ``m.twin`` says what was done (:class:`TwinInfo`).

    >>> m = km.Machine.like_host()
    >>> print(m.twin)
    >>> print(km.compare(km.host(), m))
    """
    unknown = set(overrides) - set(_MACHINE_ARGS)
    if unknown:
        raise TypeError(f"like_host() got {', '.join(sorted(unknown))}: the overrides are Machine() "
                        f"arguments ({', '.join(_MACHINE_ARGS)}) or caches=")
    t0 = time.perf_counter()
    h = _as_host(host)
    shape = twin_shape(h)
    for key in overrides:
        if key in ("profile", "mem", "cpus", "nodes", "kernel", "xstate_size"):
            shape.notes.append(f"{key}={overrides[key]!r} asked for (the host's would be "
                               f"{getattr(shape, key)!r})")
    kwargs = {**shape.kwargs(), **overrides}
    m = machine_class(**kwargs)
    shape.kernel, shape.cpus, shape.nodes = m.kernel, m.cpus, m.nodes
    shape.mem = parse_size(kwargs["mem"], "mem")
    info = TwinInfo(h.utsname.nodename, h.release, shape)
    if caches is not False:
        wanted = None if caches is True else set(_names(caches))
        info.caches = _create_caches(m, h, wanted, shape.notes)
    info.seconds = time.perf_counter() - t0
    m.twin = info
    return m


def _names(caches):
    if isinstance(caches, str):
        raise TypeError("caches= takes True, False or a list of cache names, not one string")
    try:
        names = list(caches)
    except TypeError:
        raise TypeError(f"caches= takes True, False or a list of cache names, got {caches!r}") from None
    if not all(isinstance(n, str) for n in names):
        raise TypeError("caches= takes cache names (strings)")
    return names


def _noop_ctor(symbol: str):
    """A constructor standing for the host's (the twin's objects need no initialising;
    what matters is that a ctor moves SLUB's free pointer behind the object)."""
    name = symbol.split("+", 1)[0] or "ctor"

    def ctor(addr):
        return None
    ctor.__name__ = ctor.__qualname__ = name
    return ctor


def create_cache_like(m: Machine, name: str, object_size: int, align: int, flags: int, ctor, size: int):
    """``kmem_cache_create()`` of a cache as a host shows it (sysfs ``object_size``,
    ``align``, flags, ``ctor``), so that its stride is the host's ``size``: where the
    host's stride has no room for a free pointer behind the object of an RCU cache
    without a constructor, its creator passed ``kmem_cache_args.freeptr_offset`` (6.12+),
    and so does the twin. Returns (cache or None, the freeptr_offset used or None)."""
    flags &= SLAB_USER_FLAGS
    if align & (align - 1):
        align = 0
    fn = _noop_ctor(ctor if isinstance(ctor, str) else "ctor") if ctor else None
    try:
        c = m.kmem_cache_create(name, object_size, align, flags, fn)
    except (ValueError, TypeError):
        return None, None
    if (c is not None and size and c.size > size and m.gen.slab_freeptr_offset
            and flags & SLAB_TYPESAFE_BY_RCU and fn is None):
        # sysfs does not show where the free pointer is: kmemlab knows vm_area_struct's
        fp = KNOWN_FREEPTR_OFFSETS.get(name, (0,))[0]
        m.kmem_cache_destroy(c)
        return m.kmem_cache_create(name, object_size, align, flags, None, freeptr_offset=fp), fp
    return c, None


def _create_caches(m: Machine, h, wanted, notes: list[str]) -> list[TwinCache]:
    """Create the host's caches in the twin, oldest first (so its slabinfo lists them in
    the host's order). A cache the twin's boot already made is left as it is."""
    out: list[TwinCache] = []
    try:
        host_caches = list(for_each_slab_cache(h))
    except NotAvailable as e:
        notes.append(f"no slab caches created: {e}")
        return out
    if h.is_root:
        host_caches.reverse()          # /proc/slabinfo lists the newest first
    have = {s.name for s in for_each_slab_cache(m)}
    for hc in host_caches:
        name = hc.name
        if name.startswith(":"):       # a merged cache known by its sysfs id only (not root)
            if not hc.alias_names:
                continue
            name = hc.alias_names[0]
        if wanted is not None and name not in wanted:
            continue
        if name in have:
            out.append(TwinCache(name, "booted"))
            continue
        try:
            object_size, align, flags, ctor, size = hc.object_size, hc.align, hc.flags, hc.ctor, hc.size
        except (NotAvailable, ValueError) as e:
            out.append(TwinCache(name, "failed", why=f"its geometry could not be read: {e}"))
            continue
        c, fp = create_cache_like(m, name, object_size, align, flags, ctor, size)
        if c is None:
            out.append(TwinCache(name, "failed", why="the twin's kernel refused it (see m.dmesg())"))
            continue
        have.add(name)
        out.append(TwinCache(name, "created", fp))
    return out
