"""Widget speed figures (``run(quick) -> list[figure]``, see common.py / run.py).

1. Python-side update after one allocation on a 4 GiB machine with the full dashboard
   attached (recolour the touched blocks, PNG encode, bars, slabinfo, dmesg): target <= 20 ms.
2. A workload of alloc_pages/free_pages pairs (100 000 calls; 20 000 with --quick) with
   the dashboard attached versus detached: target <= 1.5x. The dashboard's views share one
   subscription and one coalescer; the physical map redraws at most 4x/s during a burst.
3. Per path (kmalloc fast path, alloc_pages, vmalloc): attached/detached with the two sides
   run in alternate chunks. In both 2 and 3 the views pace their redraws by CPU time
   (``coalesce.pacing_clock``), not wall time: the redraws a CPU-bound cell makes, the same
   number whatever else the shared cores run.
Run alone: ``python benchmarks/bench_widgets.py [--quick]`` prints the figures as JSON.
"""

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kmemlab as km  # noqa: E402
from common import figure  # noqa: E402
from kmemlab.widgets import Dashboard  # noqa: E402


def one_update_ms(reps=30):
    m = km.Machine(mem="4G", seed=0)
    d = Dashboard(m)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        pg = m.alloc_pages(km.GFP_KERNEL, 0)
        d.flush()                 # the full Python-side redraw of every stale view
        times.append((time.perf_counter() - t) * 1e3)
        m.free_pages(pg, 0)
        d.flush()
    d.close()
    return statistics.median(times)


def workload_s(attached, calls=100_000):
    from kmemlab.widgets import coalesce

    m = km.Machine(mem="4G", seed=0)
    old = coalesce.pacing_clock
    coalesce.pacing_clock = time.process_time     # redraws paced by this run's CPU time (see _AttachedCPU)
    try:
        d = Dashboard(m) if attached else None
    finally:
        coalesce.pacing_clock = old
    rng = m._k.rng
    orders = rng.integers(0, 4, calls // 2).tolist()
    live = []
    t = time.process_time()       # CPU time: the machine's other processes do not count
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
    dt = time.process_time() - t
    redraws = (d.view("physmap").redraws, d.view("buddy").redraws) if d else (0, 0)
    if d is not None:
        d.close()
    return dt, redraws


class _AttachedCPU:
    """The views' pacing clock (``coalesce.pacing_clock``) for the attached/detached
    figures: the CPU time this process spent in the attached machine's chunks. A live
    session paces by wall time, which during a cell's burst is the notebook's CPU time;
    wall time here would make the number of redraws depend on what the shared cores run
    besides (the ratio swung 0.77 .. 1.40 between runs).

    Read cheaply: the CPU time at the start of the running chunk plus the wall time since
    (``perf_counter``, ~70 ns, what a live session's ``time.monotonic`` costs); each
    chunk's end adds its CPU time, so what another process takes within one chunk (~1 ms)
    never adds up. Reading ``process_time`` at every wake (~700 ns here) charged the
    attached side ~2 % of an alloc_pages burst that a live session does not pay."""

    def __init__(self):
        self.total = 0.0
        self._since = None
        self._wall = 0.0

    def __call__(self) -> float:
        if self._since is None:
            return self.total
        return self.total + (time.perf_counter() - self._wall)

    def run(self, now: float) -> None:
        self._since = now
        self._wall = time.perf_counter()

    def halt(self, now: float) -> None:
        self.total += now - self._since
        self._since = None


def _path_step(path: str):
    if path == "kmalloc":
        def step(m, n):
            kmalloc, kfree = m.kmalloc, m.kfree
            for _ in range(n):
                kfree(kmalloc(64))
    elif path == "alloc_pages":
        def step(m, n):
            alloc, free, gfp = m.alloc_pages, m.free_pages, km.GFP_KERNEL
            for _ in range(n):
                free(alloc(gfp, 0), 0)
    else:
        def step(m, n):
            for _ in range(n):
                m.vfree(m.vmalloc(16384))
    return step


def path_ratio(path: str, calls: int, chunk: int = 500) -> tuple[float, float, dict]:
    """CPU seconds for ``calls`` calls of one path on two 4 GiB machines, one with the
    full dashboard attached (its redraws during the burst and the final one included),
    one without, run in alternate chunks of ``chunk`` pairs so that a change in the load
    of the shared cores hits both sides alike. The dashboard paces its redraws by the
    attached side's CPU time (:class:`_AttachedCPU`): the redraws a CPU-bound cell makes,
    the same number in every run. Returns (attached s, detached s, redraws per view)."""
    from kmemlab.widgets import coalesce

    clock = _AttachedCPU()
    old = coalesce.pacing_clock
    coalesce.pacing_clock = clock
    try:
        ma = km.Machine(mem="4G", seed=0)
        d = Dashboard(ma)
    finally:
        coalesce.pacing_clock = old
    md = km.Machine(mem="4G", seed=0)
    step = _path_step(path)
    for m in (ma, md):
        keep = [m.kmalloc(64) for _ in range(64)]      # warm the CPU slab: the fast path
        for p in keep:
            m.kfree(p)
    d.flush()
    before = {type(v).__name__: v.redraws for v in d.views}
    att = det = 0.0
    pairs = calls // 2
    done = 0
    while done < pairs:
        n = min(chunk, pairs - done)
        t0 = time.process_time()
        clock.run(t0)
        step(ma, n)
        if done + n >= pairs:
            d.flush()                 # the final state is drawn, as at the end of a cell
        t1 = time.process_time()
        clock.halt(t1)
        step(md, n)
        t2 = time.process_time()
        att += t1 - t0
        det += t2 - t1
        done += n
    redraws = {type(v).__name__: v.redraws - before[type(v).__name__] for v in d.views}
    d.close()
    return att, det, redraws


def dropped_dashboards(n: int = 20, calls: int = 100_000) -> float:
    """kmalloc/kfree after ``n`` Dashboards were made and dropped without close(), over
    the same with none (issue 19: they used to stay subscribed, 50x slower)."""
    import gc

    def pair_s(m):
        t = time.process_time()
        for _ in range(calls // 2):
            m.kfree(m.kmalloc(64))
        return time.process_time() - t
    a = km.Machine(mem="128M", seed=0)
    b = km.Machine(mem="128M", seed=0)
    for _ in range(n):
        Dashboard(b)
    gc.collect()
    return min(pair_s(b) for _ in range(3)) / min(pair_s(a) for _ in range(3))


def bus_fast_path(calls: int = 100_000, rounds: int = 5) -> list:
    """kmalloc/kfree pairs with one view attached (one watcher, no callback: the bus's
    specialised ``changed``) against the same bus forced onto its general loop, and both
    against the detached machine; interleaved rounds on one machine, best of each."""
    from kmemlab.kernel.events import Bus
    from kmemlab.widgets import BuddyChart

    m = km.Machine(mem="128M", seed=0)
    bus = m._bus
    view = None

    def pair_s():
        t = time.process_time()
        for _ in range(calls // 2):
            m.kfree(m.kmalloc(64))
        return time.process_time() - t
    det, fast, loop = [], [], []
    for _ in range(rounds):
        det.append(pair_s())
        view = BuddyChart(m)              # a view whose WAKE ignores kmalloc: the bus's cost alone
        assert "changed" in bus.__dict__
        fast.append(pair_s())
        bus.changed = Bus.changed.__get__(bus)   # the general loop, same listener
        loop.append(pair_s())
        view.close()
    # one bus.changed() call alone (a kmalloc's event, the watcher not armed), both ways
    direct = Bus()
    waker = _Waker()
    direct.watch(waker.wake).changes.armed = False
    spec, general = direct.changed, Bus.changed.__get__(direct)
    one, gen = [], []
    for _ in range(10 * rounds):
        one.append(_per_call_us(lambda: spec("kmalloc", 5, 0, 0, 0x1000, 64)))
        gen.append(_per_call_us(lambda: general("kmalloc", 5, 0, 0, 0x1000, 64)))
    per = min(det) / calls * 1e6
    return [figure("widgets: kmalloc pair, 128M, nothing attached, per call", per, "us"),
            figure("widgets: bus, one watcher, specialised / detached", min(fast) / min(det), "ratio",
                   note=f"{calls} calls"),
            figure("widgets: bus, one watcher, general loop / detached", min(loop) / min(det), "ratio",
                   note=f"{calls} calls; the cost before the specialised changed()"),
            figure("widgets: bus.changed(), one watcher, specialised, per call", min(one), "us"),
            figure("widgets: bus.changed(), one watcher, general loop, per call", min(gen), "us"),
            figure("widgets: bus.changed() specialised / general loop", min(one) / min(gen), "ratio",
                   target=1.0)]


class _Waker:
    def wake(self):
        pass


def _per_call_us(fn, number: int = 20_000) -> float:
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number * 1e6


def attached_split(path: str, calls: int = 200_000, chunk: int = 500) -> dict[str, float]:
    """Where the attached cost of one path goes (issue 19), four 4 GiB machines run in
    alternate chunks: detached; a bus whose ``changed`` does nothing (the call sites'
    cost: the guard, the arguments, the call); one watcher and no view (the call plus
    writing the :class:`~kmemlab.kernel.events.Changes` record, wakes doing nothing); the
    full dashboard (plus the wakes, the coalescer and the redraws). Returns each side's
    CPU time over the detached one's."""
    from kmemlab.widgets import coalesce

    def nothing(type, pfn=-1, nr_pages=0, kind=0, addr=0, size=0, detail=None):
        pass
    clock = _AttachedCPU()
    old = coalesce.pacing_clock
    coalesce.pacing_clock = clock
    try:
        sides = {k: km.Machine(mem="4G", seed=0) for k in ("detached", "call", "record", "dashboard")}
        d = Dashboard(sides["dashboard"])
    finally:
        coalesce.pacing_clock = old
    waker = _Waker()
    sub_call = sides["call"].watch(waker.wake)
    sides["call"]._bus.changed = nothing
    sub_rec = sides["record"].watch(waker.wake)
    step = _path_step(path)
    for m in sides.values():
        for p in [m.kmalloc(64) for _ in range(64)]:
            m.kfree(p)
    d.flush()
    spent = dict.fromkeys(sides, 0.0)
    for _ in range(calls // 2 // chunk):
        for k, m in sides.items():
            t0 = time.process_time()
            if k == "dashboard":
                clock.run(t0)
            step(m, chunk)
            t1 = time.process_time()
            if k == "dashboard":
                clock.halt(t1)
            spent[k] += t1 - t0
    d.flush()
    d.close()
    sub_call.close()
    sub_rec.close()
    return {k: v / spent["detached"] for k, v in spent.items()}


def paths(quick: bool = False) -> list:
    """attached/detached per path (issue 19: <= 1.5x kmalloc fast path, <= 1.2x alloc_pages):
    the two sides in alternate chunks, the redraws paced by the attached side's CPU time
    (:func:`path_ratio`); the best of three (one with --quick)."""
    out = []
    for path, calls, target in (("kmalloc", 40_000 if quick else 200_000, 1.5),
                                ("alloc_pages", 40_000 if quick else 200_000, 1.2),
                                ("vmalloc", 4_000 if quick else 20_000, None)):
        runs = [path_ratio(path, calls) for _ in range(1 if quick else 3)]
        att, det, redraws = min(runs, key=lambda r: r[0] / r[1])
        ratios = ", ".join(f"{a / b:.3f}" for a, b, _ in runs)
        drawn = ", ".join(f"{t} {n}" for t, n in sorted(redraws.items()) if n)
        out.append(figure(f"widgets: {path} pair, detached, per call", det / calls * 1e6, "us"))
        out.append(figure(f"widgets: {path} attached / detached, full dashboard, 4G", att / det,
                          "ratio", target=target,
                          note=f"{calls} calls; runs {ratios}; redraws during the attached run: {drawn or 'none'} "
                               f"({att:.2f} s of attached CPU time)"))
        if path != "vmalloc":
            sp = min((attached_split(path, calls) for _ in range(1 if quick else 2)),
                     key=lambda r: r["dashboard"])
            over = sp["dashboard"] - 1
            out.append(figure(f"widgets: {path} attached cost, share in the call sites / the record / "
                              "wakes and redraws", 100 * (sp["call"] - 1) / over, "%",
                              note=f"{calls} calls, four machines in alternate chunks: bus.changed doing "
                                   f"nothing {sp['call']:.3f}x, one watcher's record {sp['record']:.3f}x, "
                                   f"full dashboard {sp['dashboard']:.3f}x of detached; the record "
                                   f"{100 * (sp['record'] - sp['call']) / over:.0f} %, wakes and redraws "
                                   f"{100 * (sp['dashboard'] - sp['record']) / over:.0f} % of the attached cost"))
    return out


def run(quick: bool = False) -> list:
    calls = 20_000 if quick else 100_000
    upd = one_update_ms(10 if quick else 30)
    detached, runs = [], []
    for _ in range(1 if quick else 3):            # interleaved, best of each
        detached.append(workload_s(False, calls)[0])
        runs.append(workload_s(True, calls))
    detached = min(detached)
    attached, (pm_redraws, bars_redraws) = min(runs, key=lambda r: r[0])
    return paths(quick) + bus_fast_path(40_000 if quick else 100_000, 3 if quick else 5) + [
        figure("widgets: kmalloc/kfree after 20 dropped dashboards / none", dropped_dashboards(),
               "ratio", target=1.1),
        figure("widgets: update after one alloc, 4G, full dashboard", upd, "ms", target=20),
        figure(f"widgets: {calls} calls detached", detached, "s"),
        figure(f"widgets: {calls} calls, dashboard attached", attached, "s"),
        figure("widgets: attached / detached", attached / detached, "ratio", target=1.5,
               note=f"physmap redrew {pm_redraws}x, buddy chart {bars_redraws}x during the workload"),
    ]


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
