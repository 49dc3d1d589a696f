"""A directory laid out like a Linux machine's /proc and /sys, for km.host(root=...):
written from a simulated Machine, then edited so that a test controls every number."""

from __future__ import annotations

import re

import kmemlab as km
from kmemlab import helpers as H

#: sysfs flag files (mm/slub.c SLAB_ATTR_RO) and the flag each shows
FLAG_FILES = (("hwcache_align", km.SLAB_HWCACHE_ALIGN), ("reclaim_account", km.SLAB_RECLAIM_ACCOUNT),
              ("destroy_by_rcu", km.SLAB_TYPESAFE_BY_RCU), ("cache_dma", km.SLAB_CACHE_DMA),
              ("poison", km.SLAB_POISON), ("red_zone", km.SLAB_RED_ZONE), ("store_user", km.SLAB_STORE_USER),
              ("sanity_checks", km.SLAB_CONSISTENCY_CHECKS))


def slab_dir(name, object_size, slab_size, align, objs_per_slab, order, flags=0, ctor="",
             slabs=0, objects=0):
    """The files of /sys/kernel/slab/<name>/ as a 6.18 kernel shows them."""
    d = {"object_size": object_size, "slab_size": slab_size, "align": align, "objs_per_slab": objs_per_slab,
         "order": order, "aliases": 0, "ctor": ctor, "slabs": slabs, "total_objects": slabs * objs_per_slab,
         "objects": objects}
    for f, bit in FLAG_FILES:
        d[f] = int(bool(flags & bit))
    return {f"sys/kernel/slab/{name}/{f}": f"{v}\n" for f, v in d.items()}


def machine_texts(m, release="6.18.44-test", hostname="fakehost"):
    """The files km.host() reads, as the Machine prints them (root: with slabinfo and
    vmallocinfo)."""
    texts = {f"proc/{n}": getattr(m.proc, n)() for n in ("buddyinfo", "pagetypeinfo", "zoneinfo",
                                                         "meminfo", "slabinfo", "vmallocinfo")}
    texts["proc/vmstat"] = "".join(f"{k} {v}\n" for k, v in H.vmstat(m).items())
    texts["proc/sys/vm/min_free_kbytes"] = f"{H.min_free_kbytes(m)}\n"
    texts["proc/sys/kernel/osrelease"] = release + "\n"
    texts["proc/sys/kernel/hostname"] = hostname + "\n"
    texts["proc/sys/kernel/arch"] = "x86_64\n"
    texts["sys/devices/system/cpu/online"] = f"0-{m.cpus - 1}\n" if m.cpus > 1 else "0\n"
    texts["sys/devices/system/node/online"] = f"0-{m.nodes - 1}\n" if m.nodes > 1 else "0\n"
    for s in H.for_each_slab_cache(m):
        u = H.slab_cache_usage(s)
        texts.update(slab_dir(s.name, s.object_size, s.size, s.align, s.objects, s.order, s.flags,
                              slabs=u.num_slabs, objects=u.active_objs))
    return texts


def set_field(text, pattern, value):
    """Replace the number after ``pattern`` (a regex) in one place of a text."""
    new, n = re.subn(rf"({pattern}\s*)(\d+)", lambda mo: mo.group(1) + str(value), text, count=1)
    assert n == 1, f"{pattern!r} not found"
    return new


def set_zone_field(zoneinfo, zone, field, value):
    """Set ``field`` (managed, min, ...) of one zone block of a zoneinfo text."""
    head = re.search(rf"Node 0, zone +{zone}\n", zoneinfo)
    assert head, zone
    end = zoneinfo.find("\nNode ", head.end())
    end = len(zoneinfo) if end < 0 else end
    block = set_field("\n" + zoneinfo[head.end():end], rf"\n +{field}", value)[1:]
    return zoneinfo[:head.end()] + block + zoneinfo[end:]


def slabinfo_row(name, active, num, objsize, objperslab, pagesperslab, slabs):
    return (f"{name:<17} {active:6d} {num:6d} {objsize:6d} {objperslab:4d} {pagesperslab:4d} : tunables    0    0"
            f"    0 : slabdata {slabs:6d} {slabs:6d}      0\n")


def write(root, texts, skip=()):
    for rel, text in texts.items():
        if rel in skip:
            continue
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root
