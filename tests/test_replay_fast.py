"""The replay's fast line parser (str.split on tracefs's own layout) gives what the regex
parser gives, or declines: on every line kmemlab ships, on the model's own traces of every
generation, and on mutated lines (hypothesis)."""

import gzip
import importlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import kmemlab as km
from kmemlab.kernel.generation import GENERATIONS

R = importlib.import_module("kmemlab.replay")
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "tests/data/recordings/shell-loop-6.18.trace", ROOT / "tests/data/recordings/trace-cmd-report-6.18.txt"]
BENCH = ROOT / "benchmarks/data/shell-loop-60k-6.18.trace.gz"


def agree(line: str) -> bool:
    fast = R._parse_fast(line)
    return fast is None or fast == R._parse_slow(line)


def _lines():
    out = []
    for p in SHIPPED:
        out += p.read_text().splitlines()
    if BENCH.exists():
        out += gzip.open(BENCH, "rt").read().splitlines()[:20000]
    return out


LINES = _lines()


def test_shipped_lines_parse_alike_and_most_take_the_fast_path():
    fast = 0
    for line in LINES:
        assert agree(line), line
        fast += R._parse_fast(line) is not None
    events = sum(1 for line in LINES if not isinstance(R._parse_slow(line), str))
    assert fast >= 0.9 * events          # trace-cmd's lines and module call sites take the slow path


def test_the_models_own_traces_parse_alike_on_every_generation():
    for kernel in GENERATIONS:
        m = km.Machine(mem="256M", kernel=kernel)
        c = m.kmem_cache_create("thing", 100)
        with m.trace(events="kmem") as t:
            p = m.kmalloc(100)
            q = m.kmem_cache_alloc(c)
            pg = m.alloc_pages(km.GFP_KERNEL, 1)
            m.kfree(p)
            m.kmem_cache_free(c, q)
            m.free_pages(pg, 1)
            m.kfree(m.kmalloc(20000))
        for line in str(t).splitlines():
            assert agree(line), (kernel, line)


_SAMPLE_EVENTS = [line for line in LINES[:3000] if R._parse_fast(line) is not None][:200]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_SAMPLE_EVENTS), st.integers(0, 400), st.integers(0, 3),
       st.sampled_from(["", " ", "x", "-", "=", ":", "[", "]", "0", ".", "\t", "  ", "a b"]))
def test_mutated_lines_parse_alike_or_take_the_slow_path(line, pos, cut, text):
    pos = min(pos, len(line))
    mutated = line[:pos] + text + line[pos + cut:]
    assert agree(mutated), mutated


# -- the whole replay: the fast path against the reference ---------------------------------------

def _state(report):
    """What a replay leaves behind, as the public read interface shows it, and its report
    without the line that says how long it took."""
    m = report.machine
    rows = [r for r in report._rows() if " replayed in " not in r]
    return (rows, report.replayed, report.events, dict(report.skipped), dict(report.ignored),
            dict(report.differences), report.implied_frees, report.slab_pages,
            m.proc.buddyinfo(), m.proc.pagetypeinfo(), m.proc.slabinfo(), m.proc.meminfo(), m.dmesg())


def _bench_head(n: int) -> str:
    text = gzip.open(BENCH, "rt").read().splitlines()
    return "\n".join([line for line in text if line.startswith("#")]
                     + [line for line in text if not line.startswith("#")][:n]) + "\n"


def _recordings():
    out = [SHIPPED[0].read_text()]
    if BENCH.exists():
        out.append(_bench_head(15_000))
    return out


def test_the_fast_path_and_the_reference_path_leave_the_same_state(monkeypatch):
    """km.replay() (the fast parser, 4096-event steps) against the reference: every line
    through the regex parser, one event per step(): the same machine and the same report."""
    for text in _recordings():
        fast = km.replay(text, progress=False)
        monkeypatch.setattr(R, "_fast_match", lambda line: None)   # the loop's _parse_fast()
        rp = R.Replayer(text, progress=False)
        while rp.step(1):
            pass
        rp.close()
        monkeypatch.undo()
        assert fast.events > 1000
        assert _state(fast) == _state(rp.report)
        fast.machine.check_invariants()
