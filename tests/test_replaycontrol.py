"""The replay's play/pause/step bar (kmemlab/widgets/replaycontrol.py): clicks drive the
Replayer through its public methods, the bar shows where the replay is, a refused click
shows an error and never raises."""

import asyncio
import importlib

import pytest

import kmemlab as km

pytest.importorskip("ipywidgets")
from kmemlab.widgets.replaycontrol import ReplayControl  # noqa: E402

R = importlib.import_module("kmemlab.replay")


def trace(n):
    return "".join(f"            sh-100     [000] .....  {100 + i / 100:.6f}: kmalloc: call_site=f+0x1/0x2 "
                   f"ptr={i + 1:016x} bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false\n"
                   for i in range(n))


def test_step_button_steps_the_chosen_number_of_events_and_the_bar_says_so():
    r = km.Replayer(trace(300), km.Machine(mem="256M"), progress=False)
    c = r.control()
    assert c.text().startswith("ready · 0 events done")
    c.step_size.value = 100
    c.step_button.click()
    assert r.report.events == 100 and r.state == "ready"
    assert "100 events done" in c.label.value and "0.990 s of recorded time" in c.label.value
    assert 0 < c.progress.value < 1
    c.step_size.value = 1000
    c.step_button.click()
    assert r.state == "finished" and c.progress.value == 1.0
    assert c.play_button.disabled and c.step_button.disabled
    assert "finished" in c.text() and "100.0% replayed" in c.text()


@pytest.mark.parametrize("speed, label", [(None, "as fast as possible"), (1.0, "recorded time"),
                                          (10.0, "10x recorded time")])
def test_the_speed_menu_shows_the_replayers_speed(speed, label):
    c = km.Replayer(trace(10), km.Machine(mem="256M"), speed=speed, progress=False).control()
    assert c.speed.value == speed and c.speed.label == label      # None too: not a blank box


def test_play_and_pause_in_the_background():
    r = km.Replayer(trace(2000), km.Machine(mem="256M"), progress=False)
    r.SLICE = 0.001
    c = ReplayControl(r)
    c.speed.value = None                  # as fast as possible

    async def main():
        c.play_button.click()
        assert r.state == "playing" and c.play_button.description == "pause"
        while r.report.events == 0:
            await asyncio.sleep(0)
        c.play_button.click()
        await asyncio.sleep(0.01)
        n = r.report.events
        assert r.state == "paused" and c.play_button.description == "play" and n < 2000
        c.play_button.click()
        while r.state != "finished":
            await asyncio.sleep(0.001)
    asyncio.run(main())
    assert r.report.replayed == 2000 and "finished" in c.text()


def test_a_bad_click_is_shown_not_raised():
    r = km.Replayer(trace(5), km.Machine(mem="256M"), progress=False)
    c = ReplayControl(r, lang="ja")
    assert c.play_button.description == "再生"
    c.step_size.options = [("bad", -3)]
    c.step_size.value = -3
    c.step_button.click()                 # step(-3) is refused
    assert "エラー: ValueError" in c.label.value and r.report.events == 0
    with pytest.raises(TypeError, match="Replayer"):
        ReplayControl("not a replayer")
    with pytest.raises(ValueError, match="lang"):
        ReplayControl(r, lang="fr")
    assert "kmemlab-replaycontrol" in c.to_html()
    c.close()
