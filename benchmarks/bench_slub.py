"""SLUB speed figures, with a same-run floor (a bare dict insert+delete pair).

    PYTHONPATH=. python benchmarks/bench_slub.py [out.json]
"""

import json
import random
import statistics
import sys
import time

import kmemlab as km


def median_pair_us(fn, reps=20000, rounds=7):
    meds = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        meds.append((time.perf_counter() - t) / reps * 1e6)
    return statistics.median(meds)


def main(out=None):
    m = km.Machine(mem="256M", cpus=4)
    d = {}

    def floor():
        d[1] = 1
        del d[1]

    def pair():
        m.kfree(m.kmalloc(64))

    floor_us = median_pair_us(floor)
    pair_us = median_pair_us(pair)

    rng = random.Random(0)
    m2 = km.Machine(mem="1G", cpus=4)
    live = []
    t = time.perf_counter()
    calls = 0
    while calls < 1_000_000:
        if live and rng.random() < 0.5:
            m2.kfree(live.pop(rng.randrange(len(live))))
        else:
            live.append(m2.kmalloc(rng.randint(8, 16384)))
        calls += 1
    random_s = time.perf_counter() - t
    res = {"floor_dict_pair_us": round(floor_us, 4),
           "kmalloc64_kfree_pair_us": round(pair_us, 3), "kmalloc64_target_us": 3.0,
           "kmalloc64_ratio_to_floor": round(pair_us / floor_us, 1),
           "random_1M_calls_s": round(random_s, 2), "random_target_s": 5.0,
           "random_per_call_ratio_to_floor": round(random_s / calls * 1e6 / floor_us, 1)}
    print(json.dumps(res, indent=2))
    if out:
        with open(out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
