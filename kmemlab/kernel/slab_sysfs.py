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
``total_objects``, ``slabs_cpu_partial``, ...) are SLUB's own show functions
(:meth:`kmemlab.kernel.slub.Slub.show_slab_objects`, ``slabs_cpu_partial_show``); this
module only lays them out as files. Not
modelled: the 4.x ``reserved``, ``alloc_calls`` and ``free_calls`` files, writing any
attribute (``shrink``, ``validate``, ``min_partial`` ... are read-only here).
"""

from __future__ import annotations

from . import slab_common as S
from .vfs import Dir, File, Link

__all__ = ["register_slab_sysfs", "ATTRIBUTES", "slab_unmergeable", "create_unique_id",
           "sysfs_name"]

#: flags whose letters create_unique_id() writes, in its order
_ID_FLAGS = ((S.SLAB_CACHE_DMA, "d"), (S.SLAB_RECLAIM_ACCOUNT, "a"),
             (S.SLAB_CONSISTENCY_CHECKS, "F"), (S.SLAB_ACCOUNT, "A"))


def slab_unmergeable(k, s) -> bool:
    """mm/slab_common.c ``slab_unmergeable()`` (:meth:`SlabCommon.slab_unmergeable`)."""
    return k.slub.slab_unmergeable(s)


def create_unique_id(s) -> str:
    """mm/slub.c ``create_unique_id()``: ``:[dDaFA]-%07u`` of the object stride."""
    letters = "".join(ch for flag, ch in _ID_FLAGS if s.flags & flag)
    return ":" + (letters + "-" if letters else "") + f"{s.size:07d}"


def sysfs_name(k, s) -> str:
    """The name of the cache's directory under /sys/kernel/slab."""
    return s.name if slab_unmergeable(k, s) else create_unique_id(s)


# -- the attribute files ------------------------------------------------------------------

def _objects(what: str):
    """An attribute printed by mm/slub.c ``show_slab_objects()`` (:meth:`Slub.show_slab_objects`)."""
    return lambda k, s: k.slub.show_slab_objects(s, what)


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
    "cpu_partial": lambda k, s: f"{s.cpu_partial}\n",
    "objects_partial": _objects("objects_partial"),
    "partial": _objects("partial"),
    "cpu_slabs": _objects("cpu_slabs"),
    "ctor": _ctor,
    "aliases": lambda k, s: f"{s.aliases}\n",
    "align": lambda k, s: f"{s.align}\n",
    "hwcache_align": _flag(S.SLAB_HWCACHE_ALIGN),
    "reclaim_account": _flag(S.SLAB_RECLAIM_ACCOUNT),
    "destroy_by_rcu": _flag(S.SLAB_TYPESAFE_BY_RCU),
    "shrink": lambda k, s: "",
    "slabs_cpu_partial": lambda k, s: k.slub.slabs_cpu_partial_show(s),
    "total_objects": _objects("total_objects"),
    "objects": _objects("objects"),
    "slabs": _objects("slabs"),
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
        for alias in s.alias_names:
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
