"""CONFIG_SLAB_FREELIST_RANDOM: shuffle_freelist() order from s->random_seq (mm/slub.c)."""

import pytest

import kmemlab as km


def slab_objects(m, size):
    s = m.kmalloc_slab(size)
    # a fresh cache: the first s.objects allocations empty exactly one new slab
    return s, [int(m.kmalloc(size)) for _ in range(s.objects)]


def test_off_by_default_objects_come_in_address_order():
    m = km.Machine(mem="64M", cpus=1, boot="bare")       # pristine: kmalloc-1k starts with no slab
    s, objs = slab_objects(m, 1024)
    assert s.random_seq is None
    assert objs == sorted(objs)


def test_random_freelist_is_a_cyclic_walk_of_random_seq():
    m = km.Machine(mem="64M", cpus=1, freelist_random=True, boot="bare")   # one fresh slab of kmalloc-1k
    s, objs = slab_objects(m, 1024)
    seq = s.random_seq
    assert sorted(seq) == list(range(s.objects))           # a permutation of the indices
    base = min(objs)
    idx = [(p - base) // s.size for p in objs]
    assert sorted(idx) == list(range(s.objects))           # every object once, from one slab
    assert idx != sorted(idx)
    start = seq.index(idx[0])
    assert idx == [seq[(start + i) % len(seq)] for i in range(len(seq))]
    m.check_invariants()


def test_same_seed_same_order_other_seed_other_order():
    def order(seed):
        m = km.Machine(mem="64M", cpus=1, seed=seed, freelist_random=True)
        return slab_objects(m, 512)[1]
    assert order(3) == order(3)
    assert order(3) != order(4)


def test_random_freelist_with_lifo_reuse_and_invariants():
    m = km.Machine(mem="64M", cpus=2, freelist_random=True)
    ps = [m.kmalloc(100) for _ in range(200)]
    for p in ps[::3]:
        m.kfree(p)
    last = ps[::3][-1]
    assert m.kmalloc(100) == last                            # LIFO on the cpu freelist
    m.check_invariants()


def test_freelist_random_must_be_a_bool():
    with pytest.raises(TypeError):
        km.Machine(mem="64M", freelist_random="yes")
