"""``ReplayControl``: play, pause and step a replay from a notebook (a video player's bar).

    r = km.Replayer(km.sample_recording(), m)            # a kmemlab.replay.Replayer
    display(m, r.control())                              # the dashboard and the bar

The bar drives a :class:`kmemlab.replay.Replayer` through its public methods only
(``play``, ``pause``, ``step``, ``subscribe``): play runs in the background of the
kernel's event loop, so the pause button is seen at once while the dashboard above
animates. The speed menu: a tenth of the recorded pace, the recorded pace, ten times
it, or as fast as the model goes. A click the replayer refuses (or an error inside a
replay) is shown in the bar; the widget never raises from a click.

Self-contained (ipywidgets only): a dashboard shows it by putting ``control.box`` in its
layout. The words follow ``km.widgets.set_language()`` where that exists (en, ja).
"""

from __future__ import annotations

import html
import time

import ipywidgets as W

__all__ = ["ReplayControl", "SPEEDS", "STEPS"]

#: the speed menu: label key -> Replayer speed (None: as fast as possible)
SPEEDS = (("x0.1", 0.1), ("x1", 1.0), ("x10", 10.0), ("max", None))
#: how many events one click on "step" does
STEPS = (1, 10, 100, 1000, 10000)

_WORDS = {
    "en": {"play": "play", "pause": "pause", "step": "step", "events": "events", "speed": "speed",
           "x0.1": "0.1x recorded time", "x1": "recorded time", "x10": "10x recorded time",
           "max": "as fast as possible", "ready": "ready", "playing": "playing", "paused": "paused",
           "finished": "finished", "recorded": "s of recorded time", "replayed": "replayed",
           "error": "error", "done": "events done"},
    "ja": {"play": "再生", "pause": "一時停止", "step": "ステップ", "events": "イベント", "speed": "速度",
           "x0.1": "記録時間の0.1倍", "x1": "記録どおりの速さ", "x10": "記録時間の10倍", "max": "最高速",
           "ready": "準備完了", "playing": "再生中", "paused": "一時停止中", "finished": "終了",
           "recorded": "秒ぶんの記録", "replayed": "再現", "error": "エラー", "done": "イベント処理済み"},
}


def _language(lang: str | None) -> str:
    if lang is None:
        try:
            from .messages import get_language      # the widgets' language switch, where present
            lang = get_language()
        except ImportError:
            lang = "en"
    if lang not in _WORDS:
        raise ValueError(f"lang must be one of {', '.join(_WORDS)}, got {lang!r}")
    return lang


class ReplayControl:
    """The play/pause/step bar of a :class:`~kmemlab.replay.Replayer` (``box`` is the
    widget; ``display(control)`` shows it)."""

    #: the bar's text is refreshed at most this often while playing (seconds)
    UPDATE = 0.1

    def __init__(self, replayer, lang: str | None = None):
        from ..replay import Replayer
        if not isinstance(replayer, Replayer):
            raise TypeError(f"ReplayControl takes a kmemlab.replay.Replayer, got {type(replayer).__name__}")
        self.replayer = replayer
        self.lang = _language(lang)
        w = _WORDS[self.lang]
        self._w = w
        self.play_button = W.Button(description=w["play"], icon="play", tooltip=w["play"],
                                    layout=W.Layout(width="auto", min_width="7em"))
        self.step_button = W.Button(description=w["step"], icon="step-forward", tooltip=w["step"],
                                    layout=W.Layout(width="auto", min_width="6em"))
        self.step_size = W.Dropdown(options=[(f"{n:,} {w['events']}", n) for n in STEPS], value=100,
                                    layout=W.Layout(width="auto"))
        speeds = [v for _, v in SPEEDS]
        current = replayer.speed if replayer.speed in speeds else None
        # by index: a Dropdown given value=None selects nothing (its box would be blank)
        self.speed = W.Dropdown(options=[(w[k], v) for k, v in SPEEDS], index=speeds.index(current),
                                description=w["speed"], layout=W.Layout(width="auto"),
                                style={"description_width": "initial"})
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, layout=W.Layout(flex="1 1 8em", min_width="6em"))
        self.label = W.HTML(layout=W.Layout(flex="2 1 16em"))
        self.box = W.HBox([self.play_button, self.step_button, self.step_size, self.speed, self.progress, self.label],
                          layout=W.Layout(flex_flow="row wrap", align_items="center", width="100%"))
        self.play_button.on_click(self._on_play)
        self.step_button.on_click(self._on_step)
        self.speed.observe(self._on_speed, names="value")
        self._last = 0.0
        self._error = ""
        self._unsubscribe = replayer.subscribe(self._on_replayer)
        self._show(force=True)

    # -- clicks (never raise) -----------------------------------------------------------

    def _guard(self, fn):
        try:
            self._error = ""
            fn()
        except Exception as e:           # a widget never dies on a bad click
            self._error = f"{type(e).__name__}: {e}"
        self._show(force=True)

    def _on_play(self, _button=None) -> None:
        r = self.replayer

        def go():
            if r.state == r.PLAYING:
                r.pause()
            else:
                r.play(speed=self.speed.value)
        self._guard(go)

    def _on_step(self, _button=None) -> None:
        r = self.replayer

        def go():
            r.pause()
            r.step(int(self.step_size.value))
        self._guard(go)

    def _on_speed(self, change) -> None:
        r = self.replayer

        def go():
            if r.state == r.PLAYING:
                r.play(speed=change["new"])      # goes on at the new pace from here
            else:
                r.speed = change["new"]          # one of SPEEDS: a valid Replayer speed
        self._guard(go)

    # -- what the bar shows ----------------------------------------------------------------

    def _on_replayer(self, r) -> None:
        self._show(force=r.state != getattr(self, "_shown_state", None))

    def text(self) -> str:
        """The bar's status line (as plain text)."""
        r, w = self.replayer, self._w
        rep = r.report
        parts = [w[r.state], f"{rep.events:,} {w['done']}", f"{r.position:.3f} {w['recorded']}"]
        if rep.events:
            parts.append(f"{rep.fraction_replayed:.1%} {w['replayed']}")
        if r.error is not None and not self._error:
            self._error = f"{type(r.error).__name__}: {r.error}"
        if self._error:
            parts.append(f"{w['error']}: {self._error}")
        return " · ".join(parts)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.UPDATE:
            return
        self._last = now
        r, w = self.replayer, self._w
        playing = r.state == r.PLAYING
        self.play_button.description = w["pause"] if playing else w["play"]
        self.play_button.icon = "pause" if playing else "play"
        self.play_button.disabled = self.step_button.disabled = r.state == r.FINISHED
        frac = r.fraction
        self.progress.value = frac if frac is not None else (1.0 if r.state == r.FINISHED else 0.0)
        text = html.escape(self.text())
        colour = "#b42318" if self._error else "#333"
        self.label.value = f"<span style='color:{colour};font-size:0.95em'>{text}</span>"
        self._shown_state = r.state

    def close(self) -> None:
        self._unsubscribe()
        self.box.close()

    def to_html(self) -> str:
        return f"<div class='kmemlab-replaycontrol'>{html.escape(self.text())}</div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/plain"] = self.text()
        return bundle
