"""Every row of tests/bad_input_cases.py: the promised outcome, and the machine's state
afterwards exactly what it was before the bad call (only the log may grow): the /proc files
and mem_map, and for a refusal the whole state byte for byte (conftest.fingerprint)."""

from pathlib import Path

import numpy as np
import pytest

import kmemlab as km

from bad_input_cases import CASES, markdown
from machines import fingerprint


def state(m):
    mm = m.mem_map
    return (m.proc.buddyinfo(), m.proc.pagetypeinfo(), m.proc.slabinfo(), m.proc.vmallocinfo(),
            m.proc.meminfo(), mm.kind.copy(), mm.order.copy(), mm.flags.copy(), mm.owner.copy())


def same(a, b):
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


@pytest.mark.parametrize("fn, what, setup, call, outcome, note, machine",
                         [c if len(c) == 7 else (*c, {}) for c in CASES],
                         ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input(fn, what, setup, call, outcome, note, machine):
    m = km.Machine(mem="256M", **machine)
    x = setup(m) if setup else None
    before = state(m)
    exact = fingerprint(m)
    log_before = m.dmesg()
    warn_before = m.dmesg(level="warn")
    if outcome in ("TypeError", "ValueError", "KernelBug", "KernelOops", "SlabCtorError"):
        exc = {"TypeError": TypeError, "ValueError": ValueError, "SlabCtorError": km.SlabCtorError,
               "KernelBug": km.KernelBug, "KernelOops": km.KernelOops}[outcome]
        with pytest.raises(exc) as e:
            call(m, x)
        assert str(e.value)                         # says what is wrong
        if outcome.startswith("Kernel"):
            assert e.value.report.splitlines()[0] in m.dmesg()     # the report is in the log
        if outcome == "SlabCtorError":
            assert e.value.__cause__ is not None and repr(x.name) in str(e.value)
        assert same(state(m), before)
        assert fingerprint(m) == exact, "the refused call changed the machine"
    elif outcome in ("NULL", "ZERO_SIZE_PTR"):
        r = call(m, x)
        assert r == (km.NULL if outcome == "NULL" else km.ZERO_SIZE_PTR)
        assert same(state(m)[:4], before[:4])
    elif outcome == "None":
        assert call(m, x) is None
        assert same(state(m), before)
    elif outcome == "no-op":
        call(m, x)
        assert same(state(m), before) and m.dmesg() == log_before
    elif outcome == "WARN":
        call(m, x)
        assert len(m.dmesg(level="warn")) > len(warn_before)      # the kernel said something
    elif outcome == "silent":
        call(m, x)
        assert m.dmesg(level="warn") == warn_before
    elif outcome == "corrupts":
        call(m, x)
        assert m.kmalloc(64) == x                   # the bad pointer came back out
        return                                      # the model is as corrupt as the kernel's
    elif outcome == "ok":
        call(m, x)
    else:
        raise AssertionError(f"unknown outcome {outcome}")
    m.check_invariants()


def test_docs_table_is_generated_from_the_cases():
    doc = Path(__file__).resolve().parent.parent / "docs" / "bad-input.md"
    assert doc.read_text() == markdown(), "run: python tests/bad_input_cases.py > docs/bad-input.md"
