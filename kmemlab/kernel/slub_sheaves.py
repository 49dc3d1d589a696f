"""Per-CPU sheaves and per-node barns: the part of mm/slub.c that caches objects in arrays
(6.18: caches created with ``kmem_cache_args.sheaf_capacity``, such as maple_node and
vm_area_struct; 7.0: every cache but the debug and boot caches, with the CPU slabs and CPU
partial lists gone).

A *sheaf* (``struct slab_sheaf``) is an array of free objects of one cache. Each CPU has a
``main`` sheaf it allocates from and frees to (``alloc_from_pcs()``, ``free_to_pcs()``,
the fast paths), a ``spare`` one, and an ``rcu_free`` one that collects ``kfree_rcu()``
objects; each node has a *barn* (``struct node_barn``) of full and empty sheaves the CPUs
trade with (``barn_replace_empty_sheaf()`` ...). A sheaf is refilled from the slabs in
bulk (``refill_sheaf()``: 6.18 through the CPU slab, ``__kmem_cache_alloc_bulk()``; 7.0
straight from the node's partial slabs, ``refill_objects()``) and flushed back to them in
bulk (``sheaf_flush_unused()`` -> ``__kmem_cache_free_bulk()``, whose
``build_detached_freelist()`` links the objects of one slab before one free).

Objects in a sheaf are allocated as far as their slab knows (``slab->inuse`` counts them,
/proc/slabinfo shows them active), as in the kernel. The sheaves and barns themselves are
kzalloc()ed / kmalloc()ed from the kmalloc caches as the kernel does (so they show in
kmalloc-64 .. kmalloc-512); in 7.0 the normal kmalloc caches get theirs at the end of boot
(``bootstrap_kmalloc_sheaves()``), and a sheaf for a kmalloc cache is allocated with
``__GFP_NO_OBJ_EXT``, which makes a nested sheaf allocation fail instead of recursing.

Simplified: the cpu_sheaves lock is not modelled (a nested allocation only happens where
the kernel has dropped it, so every trylock would succeed); pfmemalloc slabs do not exist
in the model; the remote-node defrag ratio's random skip (``get_cycles() % 1024``) is not
drawn; RCU grace periods end at ``rcu_barrier()`` (``Machine.rcu_barrier()``) and not
before; CONFIG_SLUB_STATS counters are not kept.

Sources: 6.18.35 mm/slub.c (``alloc_from_pcs()`` :5162, ``__pcs_replace_empty_main()``
:5060, ``__pcs_replace_full_main()`` :6104, ``__kfree_rcu_sheaf()`` :6305,
``kmem_cache_prefill_sheaf()`` :5413); a 7.0-rc mm/slub.c (the sheaves-for-all series,
"slab: replace cpu (partial) slabs with sheaves": ``refill_objects()``,
``calculate_sheaf_capacity()``, ``bootstrap_kmalloc_sheaves()``).
"""

from __future__ import annotations

from . import gfp as G
from .slab_common import (KMALLOC_MAX_CACHE_SIZE, KMALLOC_NORMAL, SLAB_ACCOUNT, SLAB_CACHE_DMA,
                          SLAB_DEBUG_FLAGS, SLAB_KMALLOC, SLAB_NOLEAKTRACE, SLAB_RECLAIM_ACCOUNT,
                          get_order, traced)

__all__ = ["SlabSheaf", "SlubPercpuSheaves", "NodeBarn", "SlubSheaves", "MAX_FULL_SHEAVES",
           "MAX_EMPTY_SHEAVES", "PCS_BATCH_MAX"]

#: a barn keeps at most this many full / empty sheaves (mm/slub.c)
MAX_FULL_SHEAVES = 10
MAX_EMPTY_SHEAVES = 10
#: sheaf_flush_main() frees the main sheaf in batches of this many objects
PCS_BATCH_MAX = 32
E2BIG, ENOMEM = -7, -12


class SlabSheaf:
    """``struct slab_sheaf``: ``objects`` is ``objects[0 .. size)``; the last one is the
    next to be allocated. ``addr`` is the kzalloc()ed struct (0 for the 7.0 bootstrap
    sheaf); ``capacity`` is the sheaf's own (a prefilled "oversize" sheaf may exceed the
    cache's ``sheaf_capacity``); ``node`` is set when an rcu_free sheaf is submitted."""

    __slots__ = ("cache", "objects", "capacity", "node", "addr", "owner")

    def __init__(self, cache, addr: int, capacity: int):
        self.cache = cache
        self.addr = addr
        self.capacity = capacity
        self.objects: list[int] = []
        self.node = -1
        #: who holds it: "main", "spare", "rcu_free", "barn", "rcu" (waiting for a grace
        #: period), "user" (kmem_cache_prefill_sheaf()), None (freed or in flight)
        self.owner = None

    @property
    def size(self) -> int:
        """``sheaf->size``: objects in it."""
        return len(self.objects)

    def __repr__(self):
        name = self.cache.name if self.cache is not None else "bootstrap"
        return f"<slab_sheaf of {name}: {self.size}/{self.capacity} objects at {self.addr:#x}>"

    def _repr_html_(self):
        name = self.cache.name if self.cache is not None else "bootstrap"
        return (f"<code>struct slab_sheaf</code> of <b>{name}</b>: {self.size} of {self.capacity} "
                f"objects (<code>{self.addr:#x}</code>)")


class SlubPercpuSheaves:
    """``struct slub_percpu_sheaves``: ``main`` (never None), ``spare`` (empty or full, or
    None) and ``rcu_free`` (filling with kfree_rcu() objects, or None)."""

    __slots__ = ("main", "spare", "rcu_free")

    def __init__(self, main: SlabSheaf):
        self.main = main
        self.spare: SlabSheaf | None = None
        self.rcu_free: SlabSheaf | None = None


class NodeBarn:
    """``struct node_barn``: full and empty sheaves of one node, list heads first
    (``list_add()`` puts a sheaf at the head, ``list_first_entry()`` takes it from there)."""

    __slots__ = ("sheaves_full", "sheaves_empty", "addr")

    def __init__(self, addr: int):
        self.addr = addr
        self.sheaves_full: list[SlabSheaf] = []
        self.sheaves_empty: list[SlabSheaf] = []

    @property
    def nr_full(self) -> int:
        return len(self.sheaves_full)

    @property
    def nr_empty(self) -> int:
        return len(self.sheaves_empty)

    def __repr__(self):
        return f"<node_barn: {self.nr_full} full, {self.nr_empty} empty sheaves>"


class SlubSheaves:
    """The sheaf functions of mm/slub.c, mixed into :class:`kmemlab.kernel.slub.Slub`."""

    __slots__ = ()                  # the fields are Slub's (see Slub.__slots__)

    # -- sizes and capacity ----------------------------------------------------------------

    def sheaf_struct_size(self, capacity: int) -> int:
        """``struct_size(sheaf, objects, capacity)``: the union (rcu_head, list_head, or
        capacity + pfmemalloc), cache, size, node, then the pointers."""
        p = self.ptr
        head = max(2 * p, 8) + p + 8
        head = (head + p - 1) // p * p
        return head + capacity * p

    def barn_struct_size(self) -> int:
        """``sizeof(struct node_barn)``: a spinlock, two list heads, two counters."""
        p = self.ptr
        return (4 + p - 1) // p * p + 4 * p + 8

    def kmalloc_size_roundup(self, size: int) -> int:
        """``kmalloc_size_roundup()``: the size kmalloc(size) really hands out."""
        if size > KMALLOC_MAX_CACHE_SIZE:
            return self.page_size << get_order(size, self.page_shift)
        return self.kmalloc_slab(size, G.GFP_KERNEL, 0).object_size

    def calculate_sheaf_capacity(self, s, requested: int) -> int:
        """7.0 ``calculate_sheaf_capacity()``: none for debug caches and the boot caches;
        else 4 (objects of a page or more), 12 (1 KiB+), 26 (256 B+) or 60, grown until
        the sheaf fills its kmalloc bucket exactly (4, 12, 28, 60 on 64-bit), and at least
        what the creator asked for."""
        if s.flags & SLAB_DEBUG_FLAGS or s.flags & SLAB_NOLEAKTRACE:
            return 0
        size = s.size
        capacity = 4 if size >= self.page_size else 12 if size >= 1024 else 26 if size >= 256 else 60
        bucket = self.kmalloc_size_roundup(self.sheaf_struct_size(capacity))
        capacity = (bucket - self.sheaf_struct_size(0)) // self.ptr
        return max(capacity, requested)

    def sheaf_capacity_at_create(self, s, requested: int) -> int:
        """The capacity ``do_kmem_cache_create()`` gives a new cache: 6.18 what the creator
        asked for (none on a debug cache); 7.0 ``calculate_sheaf_capacity()``, except for
        the normal kmalloc caches, which get theirs in ``bootstrap_kmalloc_sheaves()``."""
        gen = self.gen
        if gen.slab_sheaves_all:
            if self.is_kmalloc_normal(s):
                return 0
            return self.calculate_sheaf_capacity(s, requested)
        if gen.slab_sheaves and requested and not s.flags & SLAB_DEBUG_FLAGS:
            return requested
        return 0

    @staticmethod
    def is_kmalloc_normal(s) -> bool:
        """mm/slab.h ``is_kmalloc_normal()``: a kmalloc cache that is not DMA, accounted or
        reclaimable (the random copies count as normal)."""
        return bool(s.flags & SLAB_KMALLOC) and not s.flags & (SLAB_CACHE_DMA | SLAB_ACCOUNT | SLAB_RECLAIM_ACCOUNT)

    def cache_has_sheaves(self, s) -> bool:
        """6.18 ``s->cpu_sheaves != NULL``; 7.0 ``cache_has_sheaves()``: a capacity (the
        bootstrap sheaf of a capacity-0 cache is no sheaf)."""
        return s.cpu_sheaves is not None and s.sheaf_capacity > 0

    def get_barn(self, s) -> NodeBarn | None:
        """``get_barn()``: the barn of the node this CPU allocates from."""
        return s.node[self.k.numa_node_id()].barn

    # -- creating and destroying the sheaves --------------------------------------------

    def init_sheaves(self, s) -> bool:
        """``init_kmem_cache_nodes()``'s barns (kmalloc_node() on each node) and
        ``init_percpu_sheaves()`` (an empty main sheaf per CPU; 7.0: the shared bootstrap
        sheaf for a cache without capacity). False when an allocation failed, with what
        was allocated freed again (``__kmem_cache_release()``)."""
        if not s.sheaf_capacity:
            if self.gen.slab_sheaves_all:
                s.cpu_sheaves = [SlubPercpuSheaves(self.bootstrap_sheaf) for _ in range(self.k.nr_cpus)]
                self.bind_slab_free(s)
            return True
        for nid, n in enumerate(s.node):
            addr = self.kmalloc_variable(self.barn_struct_size(), G.GFP_KERNEL, nid, "__kmalloc_node_chain")
            if not addr:
                self.release_sheaves(s)
                return False
            n.barn = NodeBarn(addr)
        pcs = []
        s.cpu_sheaves = pcs
        self.bind_slab_free(s)
        for _ in range(self.k.nr_cpus):
            main = self.alloc_empty_sheaf(s, G.GFP_KERNEL)
            if main is None:
                self.release_sheaves(s)
                return False
            main.owner = "main"
            pcs.append(SlubPercpuSheaves(main))
        return True

    def release_sheaves(self, s) -> None:
        """``pcs_destroy()`` and ``free_kmem_cache_nodes()``'s barns: free the (empty)
        main sheaves and the barns of a cache being released."""
        for pcs in s.cpu_sheaves or ():
            main = pcs.main
            if main is not None and main is not self.bootstrap_sheaf and not main.objects:
                self.free_empty_sheaf(s, main)
                pcs.main = None
        s.cpu_sheaves = None
        self.bind_slab_free(s)
        for n in s.node:
            if n.barn is not None:
                self.kfree(n.barn.addr)
                n.barn = None

    def bootstrap_kmalloc_sheaves(self) -> None:
        """7.0 ``bootstrap_kmalloc_sheaves()``: the normal kmalloc caches (and their
        random copies) get barns and main sheaves now that kmalloc works
        (``bootstrap_cache_sheaves()``); a failure is a boot panic."""
        rows = list(self.kmalloc_caches[KMALLOC_NORMAL:KMALLOC_NORMAL + 1])
        if self.kmalloc_random is not None:
            rows += self.kmalloc_random
        for row in rows:
            for s in row:
                if s is None or s.cpu_sheaves is None or s.sheaf_capacity:
                    continue
                capacity = self.calculate_sheaf_capacity(s, 0)
                if not capacity:
                    continue
                for nid, n in enumerate(s.node):
                    addr = self.kmalloc_variable(self.barn_struct_size(), G.GFP_KERNEL, nid, "__kmalloc_node_chain")
                    if not addr:
                        raise MemoryError(f"Kernel panic - not syncing: Out of memory when creating kmem_cache {s.name}")
                    n.barn = NodeBarn(addr)
                for pcs in s.cpu_sheaves:
                    main = self.__alloc_empty_sheaf(s, G.GFP_KERNEL, capacity)
                    if main is None:
                        raise MemoryError(f"Kernel panic - not syncing: Out of memory when creating kmem_cache {s.name}")
                    main.owner = "main"
                    pcs.main = main
                s.sheaf_capacity = capacity

    def __alloc_empty_sheaf(self, s, gfp: int, capacity: int) -> SlabSheaf | None:
        """``__alloc_empty_sheaf()``: kzalloc() the struct. A kmalloc cache's sheaf is
        allocated with ``__GFP_NO_OBJ_EXT`` (7.0), and an allocation carrying that flag
        gets no new sheaf, so a kmalloc cache refilling its sheaves never recurses into
        another sheaf allocation (here: a depth counter stands for the flag, which the
        nested kzalloc() carries down)."""
        if self._no_obj_ext:
            return None
        mark = self.gen.slab_sheaves_all and bool(s.flags & SLAB_KMALLOC)
        if mark:
            self._no_obj_ext += 1
        try:
            addr = self.kmalloc_variable(self.sheaf_struct_size(capacity), gfp | G.F_ZERO, -1, "__kmalloc_chain")
        finally:
            if mark:
                self._no_obj_ext -= 1
        if not addr:
            return None
        return SlabSheaf(s, addr, capacity)

    @traced("alloc_empty_sheaf", detail=lambda self, s, gfp: f"{s.name}: {s.sheaf_capacity} objects")
    def alloc_empty_sheaf(self, s, gfp: int) -> SlabSheaf | None:
        """``alloc_empty_sheaf()``: a sheaf of the cache's capacity."""
        return self.__alloc_empty_sheaf(s, gfp, s.sheaf_capacity)

    def free_empty_sheaf(self, s, sheaf: SlabSheaf) -> None:
        """``free_empty_sheaf()``: kfree() the struct (objects still in it are leaked, as in
        the kernel: callers flush first)."""
        sheaf.owner = None
        self.kfree(sheaf.addr)

    # -- filling and flushing ---------------------------------------------------------------

    def refill_sheaf(self, s, sheaf: SlabSheaf, gfp: int) -> int:
        """``refill_sheaf()``: fill the sheaf up to the cache's capacity from the slabs
        (6.18 ``__kmem_cache_alloc_bulk()``, all or nothing; 7.0 ``refill_objects()``,
        which may stop short). 0, or -ENOMEM when it is not full."""
        to_fill = s.sheaf_capacity - len(sheaf.objects)
        if to_fill <= 0:
            return 0
        if self.gen.slab_sheaves_all:
            got = self.refill_objects(s, gfp, to_fill, to_fill)
        else:
            got = self.__kmem_cache_alloc_bulk(s, gfp, to_fill)
        sheaf.objects.extend(got)
        return 0 if len(got) >= to_fill else ENOMEM

    def alloc_full_sheaf(self, s, gfp: int) -> SlabSheaf | None:
        """``alloc_full_sheaf()``: a new sheaf, filled (7.0 with __GFP_NOMEMALLOC)."""
        sheaf = self.alloc_empty_sheaf(s, gfp)
        if sheaf is None:
            return None
        if self.refill_sheaf(s, sheaf, gfp | G.F_NOMEMALLOC if self.gen.slab_sheaves_all else gfp):
            self.free_empty_sheaf(s, sheaf)
            return None
        return sheaf

    @traced("__kmem_cache_alloc_bulk", detail=lambda self, s, gfp, size: f"{s.name}: {size} objects")
    def __kmem_cache_alloc_bulk(self, s, gfp: int, size: int) -> list[int]:
        """``__kmem_cache_alloc_bulk()``: ``size`` objects or none. 6.18: off the CPU
        freelist, ``___slab_alloc()`` when it runs dry; 7.0: a debug cache one by one
        through ``___slab_alloc()``, any other from ``refill_objects()``. On a shortfall
        what was taken goes back (``__kmem_cache_free_bulk()``)."""
        out: list[int] = []
        if self.gen.slab_sheaves_all and not s.debug:
            out = self.refill_objects(s, gfp, size, size)
            if len(out) < size:
                self.__kmem_cache_free_bulk(s, out)
                return []
            return out
        for _ in range(size):
            c = s.cpu_slab[self.k.cpu] if s.cpu_slab is not None else None
            obj = c.freelist if c is not None else 0
            if obj:
                c.freelist = self.get_freepointer(s, obj)
            else:
                obj = self._Slub___slab_alloc(s, gfp, -1, c, s.object_size)
                if not obj:
                    self.__kmem_cache_free_bulk(s, out)
                    return []
            out.append(obj)
        return out

    def build_detached_freelist(self, s, size: int, p: list[int]):
        """``build_detached_freelist()``: from the end of ``p[0 .. size)``, link the
        objects of the last object's slab (looking at most 3 objects of other slabs
        ahead), moving them behind the rest. Returns (new size, slab, head, tail, cnt)."""
        po, shift = self.page_offset, self.page_shift
        size -= 1
        obj = p[size]
        slab = self.page_slab[(obj - po) >> shift]
        head = tail = obj
        cnt = 1
        self.set_freepointer(s, obj, 0)
        same = size
        lookahead = 3
        while size:
            size -= 1
            obj = p[size]
            if self.page_slab.get((obj - po) >> shift) is slab:
                self.set_freepointer(s, obj, head)
                head = obj
                cnt += 1
                same -= 1
                if size != same:
                    p[size], p[same] = p[same], p[size]
                continue
            lookahead -= 1
            if not lookahead:
                break
        return same, slab, head, tail, cnt

    def __kmem_cache_free_bulk(self, s, objects: list[int]) -> None:
        """``__kmem_cache_free_bulk()``: free ``objects`` a detached freelist at a time
        (6.18 ``do_slab_free()``, 7.0 ``__slab_free()`` with head, tail and count)."""
        p = list(objects)
        size = len(p)
        bulk_free = self._Slub__slab_free if s.cpu_slab is None else self.do_slab_free
        while size:
            size, slab, head, tail, cnt = self.build_detached_freelist(s, size, p)
            bulk_free(s, slab, head, "kmem_cache_free_bulk", tail, cnt)

    def sheaf_flush_unused(self, s, sheaf: SlabSheaf) -> None:
        """``sheaf_flush_unused()``: every object of a sheaf no CPU holds back to its slab."""
        if sheaf.objects:
            objs, sheaf.objects = sheaf.objects, []
            self.__kmem_cache_free_bulk(s, objs)

    @traced("sheaf_flush_main", detail=lambda self, s: f"{s.name}: {len(s.cpu_sheaves[self.k.cpu].main.objects)} objects")
    def sheaf_flush_main(self, s) -> bool:
        """``sheaf_flush_main()`` (6.18 also ``sheaf_try_flush_main()``): free this CPU's
        main sheaf to the slabs, ``PCS_BATCH_MAX`` objects at a time from its end
        (``__sheaf_flush_main_batch()``). True: it was (at least partly) flushed."""
        while True:
            main = s.cpu_sheaves[self.k.cpu].main
            batch = min(PCS_BATCH_MAX, len(main.objects))
            objs = main.objects[len(main.objects) - batch:]
            del main.objects[len(main.objects) - batch:]
            self.__kmem_cache_free_bulk(s, objs)
            if not main.objects:
                return True

    # -- 7.0: refilling from the partial lists ----------------------------------------------

    @traced("get_partial_node_bulk", detail=lambda self, s, n, lo, hi: f"{s.name}: {lo}..{hi} objects")
    def get_partial_node_bulk(self, s, n, min_objects: int, max_objects: int) -> list:
        """``get_partial_node_bulk()``: take partial slabs off the node list until they
        hold ``max_objects`` free objects (or ``min_objects`` and the next would exceed
        the max). The slabs come back in ``list_add()`` order: the last taken first."""
        if not n.partial:
            return []
        taken: list = []
        total = 0
        for slab in list(n.partial.values()):
            free = slab.objects - slab.inuse
            if total >= min_objects and total + free > max_objects:
                break
            self.remove_partial(n, slab)
            taken.insert(0, slab)
            total += free
            if total >= max_objects:
                break
        return taken if total > 0 else []

    def get_freelist_nofreeze(self, s, slab) -> int:
        """``get_freelist_nofreeze()``: take a slab's whole freelist (it becomes full)."""
        fl = slab.freelist
        slab.freelist = 0
        slab.inuse = slab.objects
        return fl

    @traced("__refill_objects_node", detail=lambda self, s, gfp, lo, hi, n: f"{s.name}: {lo}..{hi} objects")
    def __refill_objects_node(self, s, gfp: int, min_objects: int, max_objects: int, n) -> list[int]:
        """``__refill_objects_node()``: objects from the partial slabs of one node. A
        slab with more than needed gives the rest back (``__slab_free()`` of the tail of
        its freelist: it goes to the tail of the partial list); slabs taken but not
        needed go back to the head (an empty one is discarded if the node has enough)."""
        slabs = self.get_partial_node_bulk(s, n, min_objects, max_objects)
        if not slabs:
            return []
        p: list[int] = []
        i = 0
        while i < len(slabs):
            slab = slabs[i]
            i += 1
            obj = self.get_freelist_nofreeze(s, slab)
            while obj and len(p) < max_objects:
                p.append(obj)
                obj = self.get_freepointer(s, obj)
            if obj:
                head = tail = obj
                cnt = 0
                while obj:
                    tail = obj
                    cnt += 1
                    obj = self.get_freepointer(s, obj)
                self._Slub__slab_free(s, slab, head, "refill_objects", tail, cnt)
            if len(p) >= max_objects:
                break
        discard = []
        for slab in slabs[i:]:
            if not slab.inuse and n.nr_partial >= s.min_partial:
                discard.append(slab)
                continue
            self.add_partial(n, slab, False)
        for slab in discard:
            self.discard_slab(s, slab)
        return p

    def __refill_objects_any(self, s, gfp: int, min_objects: int, max_objects: int) -> list[int]:
        """``__refill_objects_any()``: other nodes in zonelist order that keep more than
        ``min_partial`` partial slabs."""
        p: list[int] = []
        here = self.k.numa_node_id()
        for i in range(len(s.node)):
            n = s.node[(here + i) % len(s.node)]
            if n.nr_partial <= s.min_partial:
                continue
            r = self.__refill_objects_node(s, gfp, min_objects, max_objects, n)
            p += r
            if len(r) >= min_objects:
                return p
            min_objects -= len(r)
            max_objects -= len(r)
        return p

    @traced("refill_objects", detail=lambda self, s, gfp, lo, hi: f"{s.name}: {lo}..{hi} objects")
    def refill_objects(self, s, gfp: int, min_objects: int, max_objects: int) -> list[int]:
        """7.0 ``refill_objects()``: between ``min_objects`` and ``max_objects`` objects,
        from this node's partial slabs, then other nodes', then new slabs
        (``alloc_from_new_slab()``); fewer when new slabs cannot be had."""
        local = self.k.numa_node_id()
        p = self.__refill_objects_node(s, gfp, min_objects, max_objects, s.node[local])
        if len(p) >= min_objects:
            return p
        p += self.__refill_objects_any(s, gfp, min_objects - len(p), max_objects - len(p))
        if len(p) >= min_objects:
            return p
        while True:
            slab = self.new_slab(s, gfp, local)
            if slab is None:
                return p
            p += self.alloc_from_new_slab(s, slab, max_objects - len(p))
            if len(p) >= min_objects:
                return p

    @traced("alloc_from_new_slab", detail=lambda self, s, slab, count: f"{count} of slab pfn={slab.pfn:#x}")
    def alloc_from_new_slab(self, s, slab, count: int) -> list[int]:
        """7.0 ``alloc_from_new_slab()``: up to ``count`` objects off a new slab's
        freelist; a slab with objects left goes to the head of the partial list."""
        out: list[int] = []
        obj = slab.freelist
        while obj and len(out) < count:
            out.append(obj)
            obj = self.get_freepointer(s, obj)
        slab.inuse += len(out)
        slab.freelist = obj
        if slab.objects > count:
            self.add_partial(s.node[slab.node], slab, False)
        return out

    # -- the barn ----------------------------------------------------------------------------

    @traced("barn_get_empty_sheaf")
    def barn_get_empty_sheaf(self, barn: NodeBarn) -> SlabSheaf | None:
        """``barn_get_empty_sheaf()``: the first empty sheaf, or None."""
        if not barn.sheaves_empty:
            return None
        sheaf = barn.sheaves_empty.pop(0)
        sheaf.owner = None
        return sheaf

    def barn_put_empty_sheaf(self, barn: NodeBarn, sheaf: SlabSheaf) -> None:
        """``barn_put_empty_sheaf()`` (no limit check: it undoes a race)."""
        sheaf.owner = "barn"
        barn.sheaves_empty.insert(0, sheaf)

    @traced("barn_put_full_sheaf")
    def barn_put_full_sheaf(self, barn: NodeBarn, sheaf: SlabSheaf) -> None:
        """``barn_put_full_sheaf()`` (no limit check)."""
        sheaf.owner = "barn"
        barn.sheaves_full.insert(0, sheaf)

    def barn_get_full_or_empty_sheaf(self, barn: NodeBarn) -> SlabSheaf | None:
        """``barn_get_full_or_empty_sheaf()``: a full sheaf if there is one, else an empty one."""
        for lst in (barn.sheaves_full, barn.sheaves_empty):
            if lst:
                sheaf = lst.pop(0)
                sheaf.owner = None
                return sheaf
        return None

    @traced("barn_replace_empty_sheaf", done=lambda self, full, barn, empty: (
        f"a full sheaf for the empty one ({barn.nr_full} full left)" if full is not None else "no full sheaf"))
    def barn_replace_empty_sheaf(self, barn: NodeBarn, empty: SlabSheaf) -> SlabSheaf | None:
        """``barn_replace_empty_sheaf()``: swap an empty sheaf for a full one (None: the
        barn has no full sheaf)."""
        if not barn.sheaves_full:
            return None
        return self._barn_trade(barn.sheaves_full, barn.sheaves_empty, empty)

    @staticmethod
    def _barn_trade(take: list, put: list, sheaf: SlabSheaf) -> SlabSheaf:
        """One hold of ``barn->lock``: ``list_first_entry()`` of ``take`` leaves the barn,
        ``sheaf`` goes to the head of ``put`` (``list_add()``)."""
        got = take.pop(0)
        got.owner = None
        sheaf.owner = "barn"
        put.insert(0, sheaf)
        return got

    def barn_replace_full_sheaf(self, barn: NodeBarn, full: SlabSheaf):
        """``barn_replace_full_sheaf()``: swap a full sheaf for an empty one; -E2BIG when
        the barn has ``MAX_FULL_SHEAVES``, -ENOMEM when it has no empty sheaf."""
        if barn.nr_full >= MAX_FULL_SHEAVES:
            return E2BIG
        if not barn.sheaves_empty:
            return ENOMEM
        return self._barn_trade(barn.sheaves_empty, barn.sheaves_full, full)

    @traced("barn_shrink", detail=lambda self, s, barn: f"{s.name}: {barn.nr_full} full, {barn.nr_empty} empty")
    def barn_shrink(self, s, barn: NodeBarn) -> None:
        """``barn_shrink()``: flush the full sheaves to the slabs, free every sheaf."""
        full, barn.sheaves_full = barn.sheaves_full, []
        empty, barn.sheaves_empty = barn.sheaves_empty, []
        for sheaf in full:
            self.sheaf_flush_unused(s, sheaf)
            self.free_empty_sheaf(s, sheaf)
        for sheaf in empty:
            self.free_empty_sheaf(s, sheaf)

    # -- the fast paths ------------------------------------------------------------------------

    @traced("alloc_from_pcs", done=lambda self, obj, s, gfp, node: (
        f"main sheaf: object {obj:#x}, {s.cpu_sheaves[self.k.cpu].main.size} left (fast path)" if obj
        else "no object from the sheaves"))
    def alloc_from_pcs(self, s, gfp: int, node: int) -> int:
        """``alloc_from_pcs()`` (inline in ``slab_alloc_node()``): the last object of this
        CPU's main sheaf, after ``__pcs_replace_empty_main()`` if it is empty. 0 when a
        node other than this CPU's is asked for, or the object is not from it."""
        k = self.k
        if node >= 0 and node != k.numa_node_id():
            return 0
        pcs = s.cpu_sheaves[k.cpu]
        objs = pcs.main.objects
        if not objs:
            pcs = self.__pcs_replace_empty_main(s, pcs, gfp)
            if pcs is None:
                return 0
            objs = pcs.main.objects
        obj = objs[-1]
        if node >= 0 and self.page_slab[(obj - self.page_offset) >> self.page_shift].node != node:
            return 0
        objs.pop()
        return obj

    @traced("__pcs_replace_empty_main", detail=lambda self, s, pcs, gfp: (
        f"{s.name}: main sheaf empty" + (f", spare has {pcs.spare.size}" if pcs.spare is not None else ", no spare")))
    def __pcs_replace_empty_main(self, s, pcs: SlubPercpuSheaves, gfp: int) -> SlubPercpuSheaves | None:
        """``__pcs_replace_empty_main()``: a full spare becomes the main sheaf; else the
        barn trades a full sheaf for the empty main; else (a blocking request) the spare
        or a barn's empty sheaf is refilled, or a new full sheaf made, and put where the
        sheaves are then (7.0 keeps the empty main as the spare)."""
        if not self.cache_has_sheaves(s):
            return None                        # 7.0: bootstrap or debug cache, back off
        spare = pcs.spare
        if spare is not None and spare.objects:
            pcs.main, pcs.spare = spare, pcs.main
            pcs.main.owner, pcs.spare.owner = "main", "spare"
            return pcs
        barn = self.get_barn(s)
        if barn is None:
            return None
        full = self.barn_replace_empty_sheaf(barn, pcs.main)
        if full is not None:
            full.owner = "main"
            pcs.main = full
            return pcs
        if not G.gfpflags_allow_blocking(gfp):
            return None
        if pcs.spare is not None:
            empty, pcs.spare = pcs.spare, None
            empty.owner = None
        else:
            empty = self.barn_get_empty_sheaf(barn)
        # -- the lock is dropped here: what follows may allocate (and nest) --
        if empty is not None:
            nomemalloc = G.F_NOMEMALLOC if self.gen.slab_sheaves_all else 0
            if not self.refill_sheaf(s, empty, gfp | nomemalloc):
                full = empty
            else:
                self.free_empty_sheaf(s, empty)     # "very low on memory": objects in it leak
        else:
            full = self.alloc_full_sheaf(s, gfp)
        if full is None:
            return None
        pcs = s.cpu_sheaves[self.k.cpu]
        if not pcs.main.objects:
            if self.gen.slab_sheaves_all and pcs.spare is None:
                pcs.spare = pcs.main
                pcs.spare.owner = "spare"
            else:
                self.barn_put_empty_sheaf(barn, pcs.main)
            full.owner = "main"
            pcs.main = full
            return pcs
        if pcs.spare is None:
            full.owner = "spare"
            pcs.spare = full
            return pcs
        if not pcs.spare.objects:
            self.barn_put_empty_sheaf(barn, pcs.spare)
            full.owner = "spare"
            pcs.spare = full
            return pcs
        self.barn_put_full_sheaf(barn, full)
        return pcs

    @traced("free_to_pcs", done=lambda self, ok, s, obj: (
        f"onto the main sheaf: {s.cpu_sheaves[self.k.cpu].main.size} of {s.sheaf_capacity} (fast path)" if ok
        else "the sheaves are full: to the slab"))
    def free_to_pcs(self, s, obj: int) -> bool:
        """``free_to_pcs()`` (inline in ``slab_free()``): onto this CPU's main sheaf, after
        ``__pcs_replace_full_main()`` if it is full. False: free to the slab instead."""
        pcs = s.cpu_sheaves[self.k.cpu]
        if len(pcs.main.objects) >= s.sheaf_capacity:
            pcs = self.__pcs_replace_full_main(s, pcs)
            if pcs is None:
                return False
        pcs.main.objects.append(obj)
        return True

    def __pcs_install_empty_sheaf(self, s, pcs: SlubPercpuSheaves, empty: SlabSheaf, barn: NodeBarn) -> None:
        """``__pcs_install_empty_sheaf()``: the empty sheaf becomes the main one, the full
        main the spare; the unlikely cases after the lock was dropped are sorted out."""
        cap = s.sheaf_capacity
        if pcs.spare is None:
            pcs.spare = pcs.main
            pcs.spare.owner = "spare"
            empty.owner = "main"
            pcs.main = empty
            return
        if len(pcs.main.objects) < cap:
            self.barn_put_empty_sheaf(barn, empty)
            return
        if len(pcs.spare.objects) < cap:
            pcs.main, pcs.spare = pcs.spare, pcs.main
            pcs.main.owner, pcs.spare.owner = "main", "spare"
            self.barn_put_empty_sheaf(barn, empty)
            return
        self.barn_put_full_sheaf(barn, pcs.main)
        empty.owner = "main"
        pcs.main = empty

    @traced("__pcs_replace_full_main", detail=lambda self, s, pcs: (
        f"{s.name}: main sheaf full" + (f", spare has {pcs.spare.size}" if pcs.spare is not None else ", no spare")))
    def __pcs_replace_full_main(self, s, pcs: SlubPercpuSheaves) -> SlubPercpuSheaves | None:
        """``__pcs_replace_full_main()``: with no spare, a barn's empty sheaf becomes the
        main one (the full main the spare); a spare with room is swapped in; else the barn
        trades an empty sheaf for the full main, or, holding ``MAX_FULL_SHEAVES``
        already, the full spare is flushed to the slabs and used; else a new empty sheaf
        (GFP_NOWAIT), or at last the main sheaf is flushed."""
        cap = s.sheaf_capacity
        while True:
            if not self.cache_has_sheaves(s):
                return None                    # 7.0: bootstrap or debug cache, back off
            barn = self.get_barn(s)
            if barn is None:
                return None
            empty = None
            if pcs.spare is None:
                empty = self.barn_get_empty_sheaf(barn)
                if empty is not None:
                    pcs.spare = pcs.main
                    pcs.spare.owner = "spare"
                    empty.owner = "main"
                    pcs.main = empty
                    return pcs
            else:
                if len(pcs.spare.objects) < cap:
                    pcs.main, pcs.spare = pcs.spare, pcs.main
                    pcs.main.owner, pcs.spare.owner = "main", "spare"
                    return pcs
                got = self.barn_replace_full_sheaf(barn, pcs.main)
                if not isinstance(got, int):
                    got.owner = "main"
                    pcs.main = got
                    return pcs
                if got == E2BIG:
                    to_flush, pcs.spare = pcs.spare, None
                    to_flush.owner = None
                    self.sheaf_flush_unused(s, to_flush)
                    pcs = s.cpu_sheaves[self.k.cpu]
                    self.__pcs_install_empty_sheaf(s, pcs, to_flush, barn)
                    return pcs
            # alloc_empty: the lock is dropped
            empty = self.alloc_empty_sheaf(s, G.GFP_NOWAIT if self.gen.gfp_nowait_nowarn else G.GFP_NOWAIT_OLD)
            pcs = s.cpu_sheaves[self.k.cpu]
            if empty is not None:
                self.__pcs_install_empty_sheaf(s, pcs, empty, barn)
                return pcs
            if not self.sheaf_flush_main(s):
                return None
            pcs = s.cpu_sheaves[self.k.cpu]
            if len(pcs.main.objects) == cap:
                continue                       # restart
            return pcs

    # -- flushing all of a cache -------------------------------------------------------------

    def pcs_flush_all(self, s) -> None:
        """``pcs_flush_all()`` (on each CPU, from ``flush_all()``): the spare sheaf is
        flushed and freed, the rcu_free sheaf submitted (``rcu_free_sheaf_nobarn``), the
        main sheaf flushed; straight to the slabs, not to the barn."""
        pcs = s.cpu_sheaves[self.k.cpu]
        spare, pcs.spare = pcs.spare, None
        rcu, pcs.rcu_free = pcs.rcu_free, None
        if spare is not None:
            self.sheaf_flush_unused(s, spare)
            self.free_empty_sheaf(s, spare)
        if rcu is not None:
            self.call_rcu("rcu_free_sheaf_nobarn", rcu)
        if pcs.main.objects:
            self.sheaf_flush_main(s)

    # -- kfree_rcu() ---------------------------------------------------------------------------

    def call_rcu(self, func: str, arg) -> None:
        """``call_rcu()``: ``func(arg)`` after a grace period (at the next rcu_barrier())."""
        if isinstance(arg, SlabSheaf):
            arg.owner = "rcu"
        self.k.rcu_callbacks.append((func, arg))

    def rcu_barrier(self) -> int:
        """``rcu_barrier()``: run every queued RCU callback (and those they queue).
        Returns how many ran."""
        q = self.k.rcu_callbacks
        ran = 0
        while q:
            func, arg = q.pop(0)
            getattr(self, func)(arg)
            ran += 1
        return ran

    def kvfree_rcu_cb(self, addr: int) -> None:
        """The kfree_rcu() batch's kvfree() of one object, after the grace period."""
        self.kfree(addr)

    @traced("__kfree_rcu_sheaf", detail=lambda self, s, obj: f"{s.name} {obj:#x}")
    def __kfree_rcu_sheaf(self, s, obj: int) -> bool:
        """``__kfree_rcu_sheaf()``: put ``obj`` on this CPU's rcu_free sheaf (an empty
        spare, an empty sheaf from the barn, or a new one); a full rcu_free sheaf goes to
        ``call_rcu(rcu_free_sheaf)``. False: kfree_rcu() must queue it the usual way."""
        pcs = s.cpu_sheaves[self.k.cpu]
        if pcs.rcu_free is None:
            if not self.cache_has_sheaves(s):
                return False
            if pcs.spare is not None and not pcs.spare.objects:
                pcs.rcu_free, pcs.spare = pcs.spare, None
            else:
                barn = self.get_barn(s)
                if barn is None:
                    return False
                empty = self.barn_get_empty_sheaf(barn)
                if empty is None:
                    empty = self.alloc_empty_sheaf(s, G.GFP_NOWAIT if self.gen.gfp_nowait_nowarn else G.GFP_NOWAIT_OLD)
                    if empty is None:
                        return False
                    pcs = s.cpu_sheaves[self.k.cpu]
                    if pcs.rcu_free is not None:
                        self.barn_put_empty_sheaf(barn, empty)
                        empty = None
                if empty is not None:
                    pcs.rcu_free = empty
            pcs.rcu_free.owner = "rcu_free"
        rcu = pcs.rcu_free
        rcu.objects.append(obj)
        if len(rcu.objects) >= s.sheaf_capacity:
            pcs.rcu_free = None
            rcu.node = self.k.numa_node_id()
            self.call_rcu("rcu_free_sheaf", rcu)
        return True

    @traced("rcu_free_sheaf", detail=lambda self, sheaf: f"{sheaf.cache.name}: {sheaf.size} objects")
    def rcu_free_sheaf(self, sheaf: SlabSheaf) -> None:
        """``rcu_free_sheaf()``: after the grace period a full rcu_free sheaf goes to its
        node's barn as a full sheaf (while it has fewer than ``MAX_FULL_SHEAVES``), else
        it is flushed and kept as an empty one (or freed)."""
        s = sheaf.cache
        sheaf.owner = None
        barn = s.node[sheaf.node].barn if 0 <= sheaf.node < len(s.node) else None
        if barn is not None and sheaf.objects and barn.nr_full < MAX_FULL_SHEAVES:
            self.barn_put_full_sheaf(barn, sheaf)
            return
        self.sheaf_flush_unused(s, sheaf)
        if barn is not None and barn.nr_empty < MAX_EMPTY_SHEAVES:
            self.barn_put_empty_sheaf(barn, sheaf)
            return
        self.free_empty_sheaf(s, sheaf)

    def rcu_free_sheaf_nobarn(self, sheaf: SlabSheaf) -> None:
        """``rcu_free_sheaf_nobarn()``: flush and free a sheaf that left its CPU."""
        sheaf.owner = None
        self.sheaf_flush_unused(sheaf.cache, sheaf)
        self.free_empty_sheaf(sheaf.cache, sheaf)

    def flush_rcu_sheaves_on_cache(self, s) -> None:
        """``flush_rcu_sheaves_on_cache()``: every CPU submits its rcu_free sheaf."""
        k = self.k
        here = k.cpu
        try:
            for cpu, pcs in enumerate(s.cpu_sheaves):
                k.cpu = cpu
                rcu, pcs.rcu_free = pcs.rcu_free, None
                if rcu is not None:
                    self.call_rcu("rcu_free_sheaf_nobarn", rcu)
        finally:
            k.cpu = here

    def kvfree_call_rcu(self, addr: int) -> None:
        """mm/slab_common.c ``kvfree_call_rcu()`` (through ``kfree_rcu()``): a slab object
        of a cache with sheaves on this node goes to the rcu_free sheaf
        (``kfree_rcu_sheaf()``); anything else is freed after the grace period (the
        kfree_rcu batching, ``struct kfree_rcu_cpu``, is not modelled). The pointer is
        checked first, as kfree() would check it."""
        if addr <= 16:
            return
        self.check_kfree(addr, "kvfree_call_rcu")
        slab, pfn = self.lookup(addr, "kvfree_call_rcu")
        if slab is not None:
            s = slab.cache
            if s.cpu_sheaves is not None and slab.node == self.k.numa_node_id() and self.__kfree_rcu_sheaf(s, addr):
                return
        self.call_rcu("kvfree_rcu_cb", addr)

    def kvfree_rcu_barrier(self) -> int:
        """``kvfree_rcu_barrier()``: ``flush_all_rcu_sheaves()`` (every cache's rcu_free
        sheaves submitted), then ``rcu_barrier()``."""
        for s in self.slab_caches:
            if self.cache_has_sheaves(s):
                self.flush_rcu_sheaves_on_cache(s)
        return self.rcu_barrier()

    # -- prefilled sheaves ---------------------------------------------------------------------

    def kmem_cache_prefill_sheaf(self, s, gfp: int, size: int) -> SlabSheaf | None:
        """``kmem_cache_prefill_sheaf()``: a sheaf the caller owns with at least ``size``
        objects: the spare, or a barn's sheaf, or a new one, refilled to the cache's
        capacity; above the capacity an "oversize" sheaf of exactly ``size``. None (NULL)
        when it cannot be had."""
        if not size:
            return None
        if size > s.sheaf_capacity:
            if not s.sheaf_capacity and not s.flags & SLAB_DEBUG_FLAGS:
                # the caller should have created the cache with a sheaf_capacity
                self.k.warn_on("kmem_cache_prefill_sheaf", self.gen.prefill_sheaf_warn_site,
                               "kmem_cache_prefill_sheaf")
            addr = self.kmalloc_variable(self.sheaf_struct_size(size), gfp | G.F_ZERO, -1, "__kmalloc_chain")
            if not addr:
                return None
            sheaf = SlabSheaf(s, addr, size)
            objs = self.__kmem_cache_alloc_bulk(s, gfp, size)
            if not objs:
                self.kfree(addr)
                return None
            sheaf.objects = objs
            sheaf.owner = "user"
            return sheaf
        pcs = s.cpu_sheaves[self.k.cpu]
        sheaf = None
        if pcs.spare is not None:
            sheaf, pcs.spare = pcs.spare, None
        else:
            barn = self.get_barn(s)
            if barn is not None:
                sheaf = self.barn_get_full_or_empty_sheaf(barn)
        if sheaf is None:
            sheaf = self.alloc_empty_sheaf(s, gfp)
        if sheaf is not None:
            sheaf.capacity = s.sheaf_capacity
            if len(sheaf.objects) < size and self.refill_sheaf(
                    s, sheaf, gfp | G.F_NOMEMALLOC if self.gen.slab_sheaves_all else gfp):
                self.sheaf_flush_unused(s, sheaf)
                self.free_empty_sheaf(s, sheaf)
                return None
            sheaf.owner = "user"
        return sheaf

    def kmem_cache_return_sheaf(self, s, gfp: int, sheaf: SlabSheaf) -> None:
        """``kmem_cache_return_sheaf()``: an oversize sheaf is flushed and freed; else it
        becomes the spare if there is none, or is refilled into the barn (flushed and
        freed when the barn is full or the refill fails)."""
        sheaf.owner = None
        if sheaf.capacity != s.sheaf_capacity:
            self.sheaf_flush_unused(s, sheaf)
            self.kfree(sheaf.addr)
            return
        pcs = s.cpu_sheaves[self.k.cpu]
        barn = self.get_barn(s)
        if pcs.spare is None:
            sheaf.owner = "spare"
            pcs.spare = sheaf
            return
        if barn is None or barn.nr_full >= MAX_FULL_SHEAVES or self.refill_sheaf(s, sheaf, gfp):
            self.sheaf_flush_unused(s, sheaf)
            self.free_empty_sheaf(s, sheaf)
            return
        self.barn_put_full_sheaf(barn, sheaf)

    def kmem_cache_refill_sheaf(self, s, gfp: int, sheaf: SlabSheaf, size: int):
        """``kmem_cache_refill_sheaf()``: make a prefilled sheaf hold at least ``size``
        objects (a larger request than its capacity swaps in a new sheaf). Returns
        (0 or -ENOMEM, the sheaf the caller now holds)."""
        if len(sheaf.objects) >= size:
            return 0, sheaf
        if sheaf.capacity >= size:
            if sheaf.capacity == s.sheaf_capacity:
                return self.refill_sheaf(s, sheaf, gfp), sheaf
            objs = self.__kmem_cache_alloc_bulk(s, gfp, sheaf.capacity - len(sheaf.objects))
            if not objs:
                return ENOMEM, sheaf
            sheaf.objects.extend(objs)
            return 0, sheaf
        new = self.kmem_cache_prefill_sheaf(s, gfp, size)
        if new is None:
            return ENOMEM, sheaf
        self.kmem_cache_return_sheaf(s, gfp, sheaf)
        return 0, new

    def kmem_cache_alloc_from_sheaf(self, s, gfp: int, sheaf: SlabSheaf) -> int:
        """``kmem_cache_alloc_from_sheaf()``: the sheaf's last object (0 once it is empty:
        no fallback to the cache), zeroed for __GFP_ZERO."""
        if not sheaf.objects:
            return 0
        obj = sheaf.objects.pop()
        if gfp & G.F_ZERO:
            self.memset(obj, s.object_size)
        return obj

    # -- what a sheaf holds ---------------------------------------------------------------------

    def sheaves_of(self, s) -> list[SlabSheaf]:
        """Every sheaf of a cache the kernel can reach: the CPUs' main, spare and
        rcu_free sheaves, the barns', those waiting for a grace period, and the
        prefilled ones handed out (``self.user_sheaves``)."""
        out: list[SlabSheaf] = []
        for pcs in s.cpu_sheaves or ():
            for sh in (pcs.main, pcs.spare, pcs.rcu_free):
                if sh is not None and sh is not self.bootstrap_sheaf:
                    out.append(sh)
        for n in s.node:
            if n.barn is not None:
                out += n.barn.sheaves_full
                out += n.barn.sheaves_empty
        for func, arg in self.k.rcu_callbacks:
            if isinstance(arg, SlabSheaf) and arg.cache is s:
                out.append(arg)
        out += [sh for sh in self.user_sheaves.values() if sh.cache is s]
        return out
