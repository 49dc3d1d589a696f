"""Replay figures (issue 13): the cost of parsing a trace line, of replaying an event
(bare), events/s bare and with the full dashboard attached, on a real recording of
60 000 events (benchmarks/data/shell-loop-60k-6.18.trace.gz: ``kmemlab record --events
60000 --buffer-size 64M`` of a shell loop on the project's 2-CPU Linux 6.18 VM, 0 events
lost). Where that file is missing, the small shipped recording repeated to 60 000 events.
CPU time (process_time), the best of five bare and five attached replays taken in turn:
other processes do not count; the attached dashboard paces its redraws by that CPU time
too (``coalesce.pacing_clock``). Also like_host() of a 24 GiB host (boot + its caches) and
km.compare().

    PYTHONPATH=. python benchmarks/bench_replay.py [--quick]
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import kmemlab as km  # noqa: E402
from common import figure, floor_us  # noqa: E402

R = importlib.import_module("kmemlab.replay")
RECORDING = HERE / "data" / "shell-loop-60k-6.18.trace.gz"


def _recording(min_events: int) -> tuple[bytes, str]:
    if RECORDING.exists():
        data = gzip.open(RECORDING, "rb").read()
        if min_events < 60_000:                      # --quick: the first part of it
            lines = data.split(b"\n")
            head = [line for line in lines if line.startswith(b"#")]
            body = [line for line in lines if line and not line.startswith(b"#")][:min_events]
            data = b"\n".join(head + body) + b"\n"
        return data, RECORDING.name
    src = open(km.sample_recording(), "rb").read().split(b"\n")
    head = [line for line in src if line.startswith(b"#")]
    body = [line for line in src if line and not line.startswith(b"#")]
    reps = -(-min_events // len(body))
    return b"\n".join(head + body * reps) + b"\n", f"the shipped recording x{reps}"


def parse_us(data: bytes) -> tuple[float, int]:
    """Reading and parsing alone: chunks, lines, the fast split path, the regex fallback."""
    best = None
    for _ in range(3):
        n = 0
        t = time.process_time()
        rd = R._Reader(io.BytesIO(data))
        fast, slow = R._parse_fast, R._parse_slow
        while rd.fill():
            for line in rd.lines:
                if line is None:
                    continue
                got = fast(line)
                if got is None:
                    got = slow(line)
                    if type(got) is str:
                        continue
                n += 1
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    return best / n * 1e6, n


def _replay_once(data: bytes, head: dict, dashboard: bool, acc: list) -> tuple[float, "R.ReplayReport"]:
    """CPU seconds of one replay on a fresh machine, and its report; with ``dashboard``,
    ``acc`` gets (seconds in the dashboard's redraws, how many)."""
    m = R._machine_for(head)
    d = None
    acc[:] = [0.0, 0]
    if dashboard:                         # widgets only when asked for (ipywidgets may be missing)
        from kmemlab.widgets import Dashboard, base, coalesce
        hub_redraw = base.Hub._redraw

        def timed_redraw(hub):
            t = time.process_time()
            try:
                hub_redraw(hub)
            finally:
                acc[0] += time.process_time() - t
                acc[1] += 1
        base.Hub._redraw = timed_redraw
        # the views pace their redraws by this process's CPU time, not wall time (as
        # bench_widgets.py does): during an unpaced replay a notebook's wall time is its
        # CPU time, and wall time here would make the number of redraws depend on what
        # the shared cores run besides (115k .. 182k events/s attached in five replays of one run)
        old_clock = coalesce.pacing_clock
        coalesce.pacing_clock = time.process_time
        try:
            d = Dashboard(m)
        finally:
            coalesce.pacing_clock = old_clock
    t = time.process_time()
    try:
        r = km.replay(data, m, progress=False)
        if d is not None:
            d.flush()                     # the final state drawn, as at the end of a cell
    finally:
        if dashboard:
            base.Hub._redraw = hub_redraw
    dt = time.process_time() - t
    if d is not None:
        d.close()
    return dt, r


def replay_s(data: bytes, dashboard: bool, rounds: int = 5) -> dict:
    """Bare replays and (with ``dashboard``) attached ones in turn, ``rounds`` of each
    (paired: the shared cores' load changes both sides alike): the best of each, as
    ``{"bare": (seconds, report), "attached": (seconds, report, (redraw seconds, redraws))}``."""
    head = R.parse_header(data[:300_000].decode("utf-8", "replace").splitlines())
    out: dict = {}
    acc = [0.0, 0]
    for _ in range(rounds):
        sides = ("bare", "attached") if dashboard else ("bare",)
        for side in sides:
            dt, r = _replay_once(data, head, side == "attached", acc)
            if side not in out or dt < out[side][0]:
                out[side] = (dt, r) if side == "bare" else (dt, r, tuple(acc))
    return out


def like_host_s() -> tuple[float, str]:
    """like_host() of this Linux (its caches from /sys/kernel/slab), 24 GiB of RAM: the
    host's own when it has that much, else asked for with mem=."""
    try:
        h = km.host()
    except Exception as e:                      # not Linux
        return float("nan"), str(e)
    kw = {} if abs(h.mem - (24 << 30)) < (2 << 30) else {"mem": "24G"}
    best = m = None
    for _ in range(3):
        t = time.perf_counter()
        m = km.Machine.like_host(h, **kw)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    created = sum(c.how == "created" for c in m.twin.caches)
    return best, f"Linux {h.release}, {len(m.twin.caches)} caches ({created} created)" + (" mem=24G" if kw else "")


def run(quick: bool = False) -> list[dict]:
    data, what = _recording(12_000 if quick else 50_000)
    fl = floor_us()
    p_us, lines = parse_us(data)
    try:
        import ipywidgets  # noqa: F401
        widgets = True
    except ImportError:
        widgets = False
    runs = replay_s(data, widgets)
    bare, rep = runs["bare"]
    per = bare / rep.events * 1e6
    figs = [figure("replay: read + parse one trace line", p_us, "us", note=f"{lines} event lines of {what}"),
            figure("replay: one event, bare (parse + model)", per, "us",
                   note=f"{rep.events} events, {rep.fraction_replayed:.1%} replayed"),
            figure("replay: one event, model and bookkeeping only", per - p_us, "us",
                   note="bare per event less the parse per line"),
            figure("replay: events/s, bare", rep.events / bare, "events/s", 130_000, lower_is_better=False,
                   note=f"{per / fl:.0f} x floor per event")]
    if widgets:
        dash, rep_d, drawing = runs["attached"]
        per_d = dash / rep_d.events * 1e6
        figs.append(figure("replay: events/s, full dashboard attached", rep_d.events / dash, "events/s",
                           130_000, lower_is_better=False,
                           note=f"{per_d / fl:.0f} x floor per event; {dash / bare:.2f}x the bare time"))
        figs.append(figure("replay: one event, full dashboard attached", per_d, "us"))
        # where the attached time goes: the coalesced redraws (the views' own drawing),
        # the rest being the replay and the bus
        figs.append(figure("replay: dashboard redraws, share of the attached time", 100 * drawing[0] / dash, "%",
                           note=f"{drawing[1]} hub redraws (the final one included) in {drawing[0]:.3f} s; "
                                f"attached less redraws: {(dash - drawing[0]) / rep_d.events * 1e6:.2f} us/event, "
                                f"{(dash - drawing[0] - bare) / rep_d.events * 1e6:.2f} us/event more than bare "
                                f"(the change events to the views: the bus and the hub)"))
    if not quick:
        secs, note = like_host_s()
        if secs == secs:                        # not NaN: there is a Linux host
            figs.append(figure("like_host(): boot a 24 GiB twin with the host's caches", secs, "s", 1.5, note=note))
            h = km.host()
            m = km.Machine.like_host(h)
            t = time.perf_counter()
            km.compare(h, m)
            figs.append(figure("km.compare(host, twin)", (time.perf_counter() - t) * 1e3, "ms"))
    return figs


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
