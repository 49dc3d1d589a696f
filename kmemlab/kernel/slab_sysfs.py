"""``/sys/kernel/slab``: one directory per slab cache, one file per attribute (mm/slub.c).

What ``ls /sys/kernel/slab`` and ``cat /sys/kernel/slab/kmalloc-64/order`` show, from
mm/slub.c ``sysfs_slab_add()``, ``create_unique_id()``, ``sysfs_slab_alias()`` and the
``slab_attrs[]`` table (6.18, for a kernel configured like this project's machines:
CONFIG_SLUB_DEBUG, CONFIG_ZONE_DMA, CONFIG_NUMA and CONFIG_HARDENED_USERCOPY on,
CONFIG_SLUB_STATS, CONFIG_FAILSLAB and CONFIG_KFENCE off):

- a cache that can never be merged (``slab_unmergeable()``: debug flags, SLAB_TYPESAFE_BY_RCU,
  a constructor, a usercopy region, a boot cache) is a directory under its own name;
- a mergeable cache is a directory named by ``create_unique_id()`` — ``:`` then a flag letter
  per merge-relevant flag (``d`` DMA, ``D`` DMA32, ``a`` reclaimable, ``F`` consistency
  checks, ``A`` accounted), ``-`` if there was one, and the object stride as ``%07u``
  (``:A-0000192``) — and its name, like every cache merged into it, is a symbolic link to
  that directory;
- each attribute file prints one value and a newline; the object counts
  (``show_slab_objects()``) print the total, then `` N<node>=<count>`` for every node with a
  non-zero count.

The attributes that read SLUB's bookkeeping (``partial``, ``cpu_slabs``, ``objects``,
``total_objects``, ...) follow the model's per-node and per-CPU lists; ``cpu_partial`` and
``slabs_cpu_partial`` read the per-CPU partial slabs where the model keeps them. Not
modelled: the 4.x ``reserved``, ``alloc_calls`` and ``free_calls`` files, writing any
attribute (``shrink``, ``validate``, ``min_partial`` ... are read-only here).
"""

from __future__ import annotations

from . import slub as S
from .vfs import Dir, File, Link

__all__ = ["register_slab_sysfs", "ATTRIBUTES", "slab_unmergeable", "create_unique_id",
           "sysfs_name"]

#: SLAB_NEVER_MERGE (mm/slab_common.c) as far as the model has these flags
_NEVER_MERGE = (S.SLAB_RED_ZONE | S.SLAB_POISON | S.SLAB_STORE_USER | S.SLAB_TYPESAFE_BY_RCU
                | S.SLAB_NO_MERGE)
#: flags whose letters create_unique_id() writes, in its order
_ID_FLAGS = ((S.SLAB_CACHE_DMA, "d"), (S.SLAB_RECLAIM_ACCOUNT, "a"),
             (S.SLAB_CONSISTENCY_CHECKS, "F"), (S.SLAB_ACCOUNT, "A"))


def slab_unmergeable(k, s) -> bool:
    """mm/slab_common.c ``slab_unmergeable()``: slab_nomerge, a never-merge flag, a
    constructor, a usercopy region (CONFIG_HARDENED_USERCOPY), per-CPU sheaves (6.18), or
    a boot cache (refcount -1)."""
    return bool(getattr(k.slub, "slab_nomerge", False) or s.flags & _NEVER_MERGE or s.ctor is not None
                or s.usersize or s.sheaf_capacity or s.refcount < 0)


def create_unique_id(s) -> str:
    """mm/slub.c ``create_unique_id()``: ``:[dDaFA]-%07u`` of the object stride."""
    letters = "".join(ch for flag, ch in _ID_FLAGS if s.flags & flag)
    return ":" + (letters + "-" if letters else "") + f"{s.size:07d}"


def sysfs_name(k, s) -> str:
    """The name of the cache's directory under /sys/kernel/slab."""
    return s.name if slab_unmergeable(k, s) else create_unique_id(s)


# -- the attribute files ------------------------------------------------------------------

def _per_node(k, total: int, nodes: list[int]) -> str:
    """show_slab_objects()' line: the total, then " N%d=%lu" for each node with a count."""
    return f"{total}" + "".join(f" N{n}={c}" for n, c in enumerate(nodes) if c) + "\n"


def _node_counts(k, s, fn) -> str:
    nodes = [fn(n) for n in s.node]
    return _per_node(k, sum(nodes), nodes)


def _partial_free(n) -> int:
    return sum(sl.objects - sl.inuse for sl in n.partial.values())


def _cpu_slabs(k, s) -> str:
    """SO_CPU: one per CPU that has a cpu slab, plus the slabs on its per-CPU partial list."""
    nodes = [0] * len(s.node)
    for c in s.cpu_slab:
        if c.slab is not None:
            nodes[c.slab.node] += 1
        for sl in _cpu_partial_slabs(c):
            nodes[sl.node] += 1
    return _per_node(k, sum(nodes), nodes)


def _cpu_partial_slabs(c) -> list:
    """The slabs on a CPU's partial list (CONFIG_SLUB_CPU_PARTIAL), head first."""
    return list(getattr(c, "partial", None) or ())


def _slabs_cpu_partial(k, s) -> str:
    """``slabs_cpu_partial``: "objects(slabs)" in all, then " C<cpu>=objects(slabs)" for
    each CPU with partial slabs; objects are estimated as half of each slab, as the
    kernel's slub_set_cpu_partial() comment says."""
    per_cpu = [len(_cpu_partial_slabs(c)) for c in s.cpu_slab]
    slabs = sum(per_cpu)
    out = f"{slabs * s.objects // 2}({slabs})"
    out += "".join(f" C{cpu}={n * s.objects // 2}({n})" for cpu, n in enumerate(per_cpu) if n)
    return out + "\n"


def _flag(bit):
    return lambda k, s: f"{int(bool(s.flags & bit))}\n"


def _ctor(k, s) -> str:
    """``%pS`` of the constructor (``init_once+0x0/0x10``), nothing when there is none."""
    if s.ctor is None:
        return ""
    sym = getattr(s.ctor, "ksym", None)
    return f"{sym if sym else getattr(s.ctor, '__name__', 'ctor') + '+0x0/0x10'}\n"


#: attribute name -> show(k, s), in slab_attrs[] order; the table the directory lists
ATTRIBUTES = {
    "slab_size": lambda k, s: f"{s.size}\n",
    "object_size": lambda k, s: f"{s.object_size}\n",
    "objs_per_slab": lambda k, s: f"{s.objects}\n",
    "order": lambda k, s: f"{s.order}\n",
    "sheaf_capacity": lambda k, s: f"{s.sheaf_capacity}\n",
    "min_partial": lambda k, s: f"{s.min_partial}\n",
    "cpu_partial": lambda k, s: f"{getattr(s, 'cpu_partial', 0)}\n",
    "objects_partial": lambda k, s: _node_counts(k, s, lambda n: sum(sl.inuse for sl in n.partial.values())),
    "partial": lambda k, s: _node_counts(k, s, lambda n: n.nr_partial),
    "cpu_slabs": _cpu_slabs,
    "ctor": _ctor,
    "aliases": lambda k, s: f"{0 if s.refcount < 0 else s.refcount - 1}\n",
    "align": lambda k, s: f"{s.align}\n",
    "hwcache_align": _flag(S.SLAB_HWCACHE_ALIGN),
    "reclaim_account": _flag(S.SLAB_RECLAIM_ACCOUNT),
    "destroy_by_rcu": _flag(S.SLAB_TYPESAFE_BY_RCU),
    "shrink": lambda k, s: "",
    "slabs_cpu_partial": _slabs_cpu_partial,
    "total_objects": lambda k, s: _node_counts(k, s, lambda n: n.total_objects),
    "objects": lambda k, s: _node_counts(k, s, lambda n: n.total_objects - _partial_free(n)),
    "slabs": lambda k, s: _node_counts(k, s, lambda n: n.nr_slabs),
    "sanity_checks": _flag(S.SLAB_CONSISTENCY_CHECKS),
    "trace": lambda k, s: "0\n",           # SLAB_TRACE ('T' in slub_debug) is not modelled
    "red_zone": _flag(S.SLAB_RED_ZONE),
    "poison": _flag(S.SLAB_POISON),
    "store_user": _flag(S.SLAB_STORE_USER),
    "validate": lambda k, s: "",
    "cache_dma": _flag(S.SLAB_CACHE_DMA),
    "remote_node_defrag_ratio": lambda k, s: "100\n",      # s->remote_node_defrag_ratio = 1000, / 10
    "usersize": lambda k, s: f"{s.usersize}\n",
}


def attributes(k) -> list[str]:
    """The attribute files of this generation's caches."""
    names = list(ATTRIBUTES)
    if not k.gen.slab_sheaves:
        names.remove("sheaf_capacity")
    if not k.gen.slab_usersize:
        names.remove("usersize")
    return names


# -- the directory ----------------------------------------------------------------------

def _entries(k) -> dict[str, object]:
    """name -> the cache (a directory) or the directory name it links to."""
    out: dict[str, object] = {}
    for s in k.slub.slab_caches:
        d = sysfs_name(k, s)
        # two mergeable caches with one unique id would have been merged into the older
        # one (find_mergeable()): the older keeps the directory, the name links to it
        out.setdefault(d, s)
        if d != s.name:
            out.setdefault(s.name, d)
        for alias in getattr(s, "alias_names", ()):
            out.setdefault(alias, d)
    return out


def _resolve(k, parts: tuple[str, ...]):
    entries = _entries(k)
    if not parts:
        return Dir(lambda k, _n=tuple(entries): _n)
    target = entries.get(parts[0])
    if target is None or len(parts) > 2:
        return None
    if isinstance(target, str):
        # a link in the middle of the path: continue from its target, as path walk does
        return Link(target) if len(parts) == 1 else Link(f"../{target}/{parts[1]}")
    s = target
    names = attributes(k)
    if len(parts) == 1:
        return Dir(lambda k, _n=tuple(names): _n)
    if parts[1] not in names:
        return None
    show = ATTRIBUTES[parts[1]]
    return File(lambda k, _s=s, _f=show: _f(k, _s))


def register_slab_sysfs(vfs) -> None:
    """``slab_sysfs_init()``: the ``/sys/kernel/slab`` kset."""
    vfs.register_tree("/sys/kernel/slab", _resolve)
