"""Widget speed figures, as JSON on stdout.

1. Python-side update after one allocation on a 4 GiB machine with the dashboard
   attached (recolour the touched blocks, PNG encode, bars, dmesg): target <= 20 ms.
2. A 100 000-call workload (alloc_pages/free_pages pairs) with the dashboard attached
   versus detached: target <= 1.5x.
The same-run floor is a bare dict insert+delete pair, so figures from different machines
can be compared as ratios.
"""

import json
import statistics
import time

import kmemlab as km
from kmemlab.widgets import Dashboard


def floor_ns(n=200_000):
    d = {}
    t = time.perf_counter_ns()
    for i in range(n):
        d[i] = None
        del d[i]
    return (time.perf_counter_ns() - t) / n


def one_update_ms(reps=30):
    m = km.Machine(mem="4G", seed=0)
    d = Dashboard(m)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        pg = m.alloc_pages(km.GFP_KERNEL, 0)
        d.flush()                 # the full Python-side redraw of every view
        times.append((time.perf_counter() - t) * 1e3)
        m.free_pages(pg, 0)
        d.flush()
    d.close()
    return statistics.median(times)


def workload_s(attached, calls=100_000):
    m = km.Machine(mem="4G", seed=0)
    d = Dashboard(m) if attached else None
    rng = m._k.rng
    orders = rng.integers(0, 4, calls // 2).tolist()
    live = []
    t = time.perf_counter()
    for i, o in enumerate(orders):
        live.append((m.alloc_pages(km.GFP_KERNEL, o), o))
        if len(live) > 500 or i % 3 == 0:
            pg, oo = live.pop(0)
            m.free_pages(pg, oo)
    while live:                   # complete the pairs: calls total
        pg, oo = live.pop()
        m.free_pages(pg, oo)
    if d is not None:
        d.flush()                 # the final state is drawn, as at the end of a cell
    dt = time.perf_counter() - t
    redraws = d.view("physmap").redraws if d else 0
    if d is not None:
        d.close()
    return dt, redraws


def main():
    fl = floor_ns()
    upd = one_update_ms()
    detached, _ = workload_s(False)
    attached, redraws = workload_s(True)
    print(json.dumps({
        "floor_dict_insert_delete_ns": round(fl, 1),
        "update_after_one_alloc_4G_ms": round(upd, 2),
        "update_target_ms": 20,
        "update_in_floor_units": round(upd * 1e6 / fl),
        "workload_100k_detached_s": round(detached, 3),
        "workload_100k_attached_s": round(attached, 3),
        "attached_over_detached": round(attached / detached, 2),
        "attached_target_ratio": 1.5,
        "physmap_redraws_during_workload": redraws,
    }, indent=1))


if __name__ == "__main__":
    main()
