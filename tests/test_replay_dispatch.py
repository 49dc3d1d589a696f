"""The replay calls the kernel functions the Machine API calls (Slub.kmem_cache_alloc,
kmem_cache_free, kfree) once it has checked the cache itself: across a restore() between
two steps (which replaces the kernel state and every cache object) and a cache the
notebook destroyed, it does what the Machine API does."""

import importlib

import kmemlab as km
from kmemlab import helpers as H

R = importlib.import_module("kmemlab.replay")
SAMPLE = km.sample_recording()


def state(m):
    return (m.proc.buddyinfo(), m.proc.slabinfo(), m.proc.meminfo(),
            [(s.name, H.slab_cache_usage(s)) for s in H.for_each_slab_cache(m)])


def report(r):
    return r.replayed, r.events, dict(r.skipped), dict(r.differences), r.implied_frees, r.slab_pages


def twin_machine():
    return km.Machine(mem="2G", cpus=2, kernel="6.18")


def test_a_restore_between_two_steps_leaves_what_an_uninterrupted_replay_leaves():
    full = km.replay(SAMPLE, twin_machine(), progress=False)
    m = twin_machine()
    rp = R.Replayer(SAMPLE, m, progress=False)
    n = rp.step(full.events // 2)
    assert n == full.events // 2 and rp.report.by_event["kmem_cache_alloc"] > 0
    m.restore(m.snapshot())               # the same state in new objects: the old ones are stale
    while rp.step(1000):
        pass
    rp.close()
    m.check_invariants()
    assert report(rp.report) == report(full)
    assert state(m) == state(full.machine)


def test_a_cache_destroyed_between_steps_is_refused_as_the_machine_api_refuses_it():
    m = twin_machine()
    rp = R.Replayer(SAMPLE, m, progress=False)
    rp.step(400)
    name, cache = next((n, c) for n, c in rp._caches.items() if not c.name.startswith("kmalloc"))
    m.kmem_cache_destroy(cache)           # objects still allocated: leaked, as the kernel does
    while rp.step(1000):
        pass
    rp.close()
    m.check_invariants()                  # nothing went into the destroyed cache's old slabs unchecked
    full = km.replay(SAMPLE, twin_machine(), progress=False)
    assert rp.report.events == full.events
    assert rp.report.by_event == full.by_event
