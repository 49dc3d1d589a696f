"""Replayer.play()/pause()/step(): the replay as a player a dashboard drives — in the
background of an event loop (as in a notebook), paced by the recorded time, paused and
resumed without losing or repeating an event."""

import asyncio
import importlib
import time

import pytest

import kmemlab as km
from kmemlab import helpers as H

R = importlib.import_module("kmemlab.replay")
SAMPLE = km.sample_recording()


def ev(name, fields, ts, cpu=0):
    return f"            sh-100     [{cpu:03d}] .....  {ts:.6f}: {name}: {fields}\n"


def timed_trace(times):
    """kmalloc(64) events at the given recorded times (seconds)."""
    return "".join(ev("kmalloc", f"call_site=f+0x1/0x2 ptr={i + 1:016x} bytes_req=64 bytes_alloc=64 "
                                 "gfp_flags=GFP_KERNEL node=-1 accounted=false", 100.0 + t)
                   for i, t in enumerate(times))


def fingerprint(m):
    return m.proc.buddyinfo(), [(s.name, H.slab_cache_usage(s)) for s in H.for_each_slab_cache(m)]


def twin_machine():
    return km.Machine(mem="2G", cpus=2, kernel="6.18")


def test_play_without_an_event_loop_plays_to_the_end_like_replay():
    a, b = twin_machine(), twin_machine()
    full = km.replay(SAMPLE, a, progress=False)
    r = R.Replayer(SAMPLE, b, progress=False)
    assert r.state == "ready" and r.fraction < 0.1          # the header is read
    r.play()
    assert r.state == "finished" and r.fraction == 1.0
    assert (r.report.events, r.report.replayed, r.report.skipped) == (full.events, full.replayed, full.skipped)
    assert fingerprint(a) == fingerprint(b)


def test_play_pause_and_resume_in_the_background_lose_and_repeat_nothing():
    a, b = twin_machine(), twin_machine()
    full = km.replay(SAMPLE, a, progress=False)
    r = R.Replayer(SAMPLE, b, progress=False)
    r.SLICE = 0.002                       # small slices: several per play
    states = []
    r.subscribe(lambda rp: states.append(rp.state) if not states or states[-1] != rp.state else None)

    async def main():
        r.play()
        assert r.state == "playing"       # returned at once: the loop plays it
        while r.report.events == 0:
            await asyncio.sleep(0)
        r.pause()
        await asyncio.sleep(0.01)
        paused_at = r.report.events
        assert r.state == "paused" and 0 < paused_at < full.events
        await asyncio.sleep(0.02)
        assert r.report.events == paused_at          # nothing happens while paused
        r.play()
        while r.state != "finished":
            await asyncio.sleep(0.001)
    asyncio.run(main())
    assert (r.report.events, r.report.replayed, r.report.skipped) == (full.events, full.replayed, full.skipped)
    assert fingerprint(a) == fingerprint(b)
    assert states == ["playing", "paused", "playing", "finished"]


def test_speed_one_plays_in_recorded_time():
    r = R.Replayer(timed_trace([0.0, 0.05, 0.3, 0.6]), km.Machine(mem="256M"), progress=False)

    async def main():
        r.play(speed=1.0)
        await asyncio.sleep(0.15)
        first = r.report.events           # 0.0 and 0.05 are due, 0.3 is not
        await asyncio.sleep(0.25)
        second = r.report.events          # 0.3 is due by 0.4
        while r.state != "finished":
            await asyncio.sleep(0.01)
        return first, second
    t = time.perf_counter()
    first, second = asyncio.run(main())
    assert (first, second) == (2, 3)
    assert time.perf_counter() - t >= 0.6
    assert r.report.replayed == 4 and r.position == pytest.approx(0.6)


def test_step_until_stops_before_what_is_not_due():
    m = km.Machine(mem="256M")
    r = R.Replayer(timed_trace([0.0, 0.1, 0.2, 0.3]), m, progress=False)
    assert r.step(10, until=0.15) == 2 and r.position == pytest.approx(0.1)
    assert r.step(10, until=0.15) == 0
    assert r.step(1) == 1 and r.position == pytest.approx(0.2)
    assert r.step(10) == 1 and r.step(10) == 0 and r.state == "finished"


def test_the_machine_runs_on_its_own_cpu_between_steps():
    m = km.Machine(mem="256M", cpus=2)
    text = timed_trace([0.0]).replace("[000]", "[001]")
    r = R.Replayer(text, m, progress=False)
    r.step(1)
    assert m.cpu == 0                     # the event ran on CPU 1, the notebook stays on 0
    assert H.find_slab_cache(m, "kmalloc-64").cpu_slab[1].slab is not None


def test_bad_arguments_say_what_to_pass():
    r = R.Replayer(timed_trace([0.0]), km.Machine(mem="256M"), progress=False)
    with pytest.raises(ValueError, match="speed"):
        r.play(speed=-1)
    with pytest.raises(ValueError, match="number of events"):
        r.step(-1)
    with pytest.raises(TypeError, match="until"):
        r.step(1, until="soon")
    with pytest.raises(TypeError, match="callable"):
        r.subscribe(3)
    r.close()
    assert r.step(5) == 0 and r.state == "finished"
    assert r.play().state == "finished"
