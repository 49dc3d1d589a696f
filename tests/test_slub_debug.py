"""SLUB debugging reports (slub_debug=FZPU), modelled on lib/slub_kunit.c."""

import pytest

import kmemlab as km


@pytest.fixture
def m():
    return km.Machine(mem="64M", cpus=2, slub_debug="FZPU")


def log(m):
    import re
    return re.sub(r"^\[[ \d.]+\] ", "", m.dmesg(), flags=re.M)


def test_debug_layout_of_kmalloc_64():
    m = km.Machine(mem="64M", cpus=2, slub_debug="FZPU")
    s = m.kmalloc_slab(64)
    # object 64 + right red zone 8 (inuse 72) + free pointer 8 + 2 tracks of 32 +
    # orig_size 4 + left red zone 64 (aligned to 64), rounded to 64
    assert (s.inuse, s.offset, s.red_left_pad) == (72, 72, 64)
    assert s.size == (72 + 8 + 64 + 4 + 8 + 64 + 63) & ~63
    p = m.kmalloc(40)
    assert m.read(p, 40) == b"\x6b" * 39 + b"\xa5"            # poisoned, not zeroed
    assert m.read(p + 40, 24) == b"\xcc" * 24                 # kmalloc red zone
    assert m.read(p - 8, 8) == b"\xcc" * 8
    assert m.ksize(p) == 64


def test_double_free_is_reported_and_raises(m):
    p = m.kmalloc(128)
    m.kfree(p)
    with pytest.raises(km.KernelBug) as e:
        m.kfree(p)
    text = log(m)
    assert ("=" * 77 + "\nBUG kmalloc-128 (Not tainted): Object already free\n" + "-" * 77 + "\n\n") in text
    assert "BUG kmalloc-128 (Not tainted): Object already free" in text
    assert f"FIX kmalloc-128: Object at {int(p):#018x} not freed" in text
    assert f"Object 0x{int(p):016x} @offset=" in text
    assert "Allocated in test_double_free_is_reported_and_raises" in text
    assert "Freed in test_double_free_is_reported_and_raises" in text
    assert "Object already free" in e.value.report
    m.check_invariants()
    assert m.kmalloc(128) == p and m.kmalloc(128) != p       # the freelist is intact


def test_write_past_the_end_of_a_kmalloc_object(m):
    p = m.kmalloc(100)
    m.write(p + 100, b"\x12")                              # inside kmalloc-128, past 100
    with pytest.raises(km.KernelBug):
        m.kfree(p)
    text = log(m)
    assert "BUG kmalloc-128 (Not tainted): kmalloc Redzone overwritten" in text
    assert f"0x{int(p) + 100:016x}-0x{int(p) + 100:016x} @offset=" in text
    assert "First byte 0x12 instead of 0xcc" in text
    assert f"FIX kmalloc-128: Restoring kmalloc Redzone 0x{int(p) + 100:016x}" in text
    assert m.read(p + 100, 1) == b"\xcc"                   # restored, as the FIX line says
    q = m.kmalloc(128)
    m.write(q + 128, b"\x12")                              # past the object: right red zone
    with pytest.raises(km.KernelBug):
        m.kfree(q)
    assert "Right Redzone overwritten" in log(m)
    assert "Tainted: G" in log(m)                          # TAINT_BAD_PAGE after the first


def test_use_after_free_write_is_found_by_validate_and_by_alloc(m):
    c = m.kmem_cache_create("TestSlub_1th_word_free", 64, 0, km.SLAB_POISON)
    p = m.kmem_cache_alloc(c)
    m.kmem_cache_free(c, p)
    m.write(p, b"\x78")
    assert m.validate_slabs(c) == 1                        # test_first_word: Poison overwritten
    assert "BUG TestSlub_1th_word_free (Not tainted): Poison overwritten" in log(m)
    assert m.validate_slabs(c) == 0                        # the FIX restored it
    m.write(p + 50, b"\x9a")                               # test_clobber_50th_byte
    q = m.kmem_cache_alloc(c)                              # the alloc check finds it
    assert q != p
    assert "FIX TestSlub_1th_word_free: Marking all objects used" in log(m)
    m.check_invariants()


def test_invalid_pointer_free(m):
    p = m.kmalloc(64)
    with pytest.raises(km.KernelBug):
        m.kfree(p + 8)
    assert f"Invalid object pointer 0x{int(p) + 8:016x}" in log(m)
    m.kfree(p)
    m.check_invariants()


def test_red_zone_of_a_free_object(m):
    c = m.kmem_cache_create("TestSlub_RZ_free", 64, 0, km.SLAB_RED_ZONE)
    p = m.kmem_cache_alloc(c)
    m.kmem_cache_free(c, p)
    m.write(p + 64, b"\xab")
    assert m.validate_slabs(c) == 1
    assert "Right Redzone overwritten" in log(m)


def test_per_cache_debug_option():
    m = km.Machine(mem="64M", slub_debug="FZP,kmalloc-128")
    assert m.kmalloc_slab(100).debug and not m.kmalloc_slab(64).debug
    m2 = km.Machine(mem="64M", slub_debug="Q")
    assert "slub_debug option 'Q' unknown. skipped" in m2.dmesg()


def test_debug_machine_keeps_invariants_under_churn(m):
    live = []
    for i in range(300):
        if live and i % 3 == 0:
            m.kfree(live.pop(i % len(live)))
        else:
            live.append(m.kmalloc(8 + (i * 37) % 3000))
    m.check_invariants()
    assert m.validate_slabs() == 0
    for p in live:
        m.kfree(p)
    m.check_invariants()
