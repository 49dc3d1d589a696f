"""Replay figures (issue 13): the cost of parsing a trace line, of replaying an event
(bare), events/s bare and with the full dashboard attached, on a recording of >= 50 000
events (the shipped real recording, repeated: its pointers and pfns repeat as in a long
recording of one workload). CPU time (process_time): other processes do not count.

    PYTHONPATH=. python benchmarks/bench_replay.py [--quick]
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kmemlab as km  # noqa: E402
from common import figure, floor_us  # noqa: E402

R = importlib.import_module("kmemlab.replay")


def _recording(min_events: int) -> tuple[str, int]:
    src = km.sample_recording()
    with open(src) as f:
        lines = f.readlines()
    head = [l for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#")]
    reps = -(-min_events // len(body))
    fd, path = tempfile.mkstemp(suffix=".trace")
    with os.fdopen(fd, "w") as f:
        f.writelines(head)
        for _ in range(reps):
            f.writelines(body)
    return path, reps * len(body)


def parse_us(path: str) -> tuple[float, int]:
    n = 0
    t = time.process_time()
    with open(path, "rb") as f:
        for line, _ in R._lines(f):
            got = R._split(line)
            if type(got) is str:
                continue
            ev, cpu, ts, end = got
            mo = R._LAYOUTS[ev][1].match(line, end)
            (mo.groups() if mo is not None else R._values(ev, line[end:]))
            n += 1
    return (time.process_time() - t) / n * 1e6, n


def replay_s(path: str, dashboard: bool) -> tuple[float, "R.ReplayReport"]:
    head = R.parse_header(open(path).read(200_000).splitlines())
    m = R._machine_for(head)
    d = None
    if dashboard:
        from kmemlab.widgets import Dashboard
        d = Dashboard(m)
    t = time.process_time()
    rep = km.replay(path, m, progress=False)
    if d is not None:
        d.flush()                 # the final state drawn, as at the end of a cell
    dt = time.process_time() - t
    if d is not None:
        d.close()
    return dt, rep


def run(quick: bool = False) -> list[dict]:
    path, n = _recording(12_000 if quick else 50_000)
    try:
        fl = floor_us()
        p_us, lines = parse_us(path)
        bare, rep = replay_s(path, False)
        figs = [figure("replay: parse one trace line", p_us, "us",
                       note=f"{lines} event lines of the shipped 6.18 recording"),
                figure("replay: one event, bare (parse + model)", bare / rep.events * 1e6, "us",
                       note=f"{rep.events} events, {rep.fraction_replayed:.1%} replayed"),
                figure("replay: events/s, bare", rep.events / bare, "events/s", 130_000, lower_is_better=False,
                       note=f"x floor per event {bare / rep.events * 1e6 / fl:.0f}")]
        try:
            import ipywidgets  # noqa: F401
            dash, rep_d = replay_s(path, True)
            figs.append(figure("replay: events/s, full dashboard attached", rep_d.events / dash, "events/s",
                               130_000, lower_is_better=False,
                               note=f"x floor per event {dash / rep_d.events * 1e6 / fl:.0f}; "
                                    f"{dash / bare:.2f}x the bare time"))
        except ImportError:
            pass
        return figs
    finally:
        os.unlink(path)


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
