"""The lowest-versions job: the lower bounds pyproject.toml declares really install together
and work.

Every direct dependency of ``kmemlab[widgets,grading,lab,test]`` that applies to this
Python is pinned to its lower bound in a constraints file (what ``uv pip install
--resolution lowest-direct`` does, with pip), the things they need float to what pip
picks, and the wheel goes into a fresh venv with them; a yanked release as a bound fails.
Then the model, widget, exercise, grading, lecture-notebook and command-line tests run
there, against the installed wheel, under ``KMEMLAB_HYPOTHESIS=quick`` (tests/conftest.py):
every property test and state machine, the long ones included, at 5 examples of at most
15 steps, enough to show a dependency release that behaves differently. The main job runs
them at full size, and the tests this one leaves out (packaging_helpers.JOB_LEAVES_OUT:
browser, packaging, host-comparison and the long sweeps), with the newest releases.

The pins come from the wheel's own metadata, so they cannot drift from pyproject.toml.
The job takes several minutes: it runs with KMEMLAB_LOWEST=1 (``.ci/run`` sets it) and is
skipped, saying so, otherwise.
"""

from __future__ import annotations

import email.parser
import os

import pytest

from packaging_helpers import dist, elsewhere, job_pytest, job_result, register_job, run, venv

packaging = pytest.importorskip("packaging.requirements")
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402
from packaging.version import Version  # noqa: E402

EXTRAS = ("widgets", "grading", "lab", "test")
#: direct dependencies of [test] that only the browser and packaging tests use (not run here)
NOT_HERE = {"kmemlab", "playwright", "voila", "build", "vermin", "mypy"}


def _requirements() -> list[Requirement]:
    meta = email.parser.Parser().parsestr(dist().metadata())
    return [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def lower_bounds() -> dict[str, str]:
    """name -> the lowest version the metadata allows on this Python, for the default
    install and every extra in EXTRAS."""
    pins: dict[str, str] = {}
    for req in _requirements():
        if req.marker is not None and not any(req.marker.evaluate({"extra": e})
                                              for e in ("", *EXTRAS)):
            continue
        name = canonicalize_name(req.name)
        if name in NOT_HERE:
            continue
        lows = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if not lows:
            raise AssertionError(f"{req}: no lower bound")
        low = max(lows, key=Version)
        pins[name] = max(pins.get(name, low), low, key=Version)
    return pins


def test_every_dependency_declares_a_lower_bound():
    for req in _requirements():
        if canonicalize_name(req.name) == "kmemlab":
            continue
        assert any(s.operator in (">=", "==", "~=") for s in req.specifier), str(req)
    pins = lower_bounds()
    assert {"numpy", "ipywidgets", "bqplot", "pillow", "nbformat", "nbclient", "ipykernel",
            "jupyterlab", "pytest", "hypothesis"} <= set(pins), pins


def lowest_job() -> str:
    """Install every lower bound together with the wheel in a fresh venv and run the tests
    there; the job's report (its slowest tests and the count)."""
    pins = lower_bounds()
    constraints = elsewhere("lowest") / "constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    v = venv("lowest")
    r = v.pip("-c", constraints, f"kmemlab[{','.join(EXTRAS[:3])}] @ {dist().wheel.as_uri()}",
              # [test]'s own pins (not the extra: it brings the browser and packaging tools)
              *(f"{n}=={pins[n]}" for n in ("pytest", "pytest-timeout", "hypothesis", "nbgrader")),
              timeout=1800)
    # a yanked release is no lower bound: installers skip it unless pinned (uv's
    # --resolution lowest, and pip, would take the next one)
    yanked = [line for line in r.stderr.splitlines() if "yanked version" in line]
    assert not yanked, "\n".join(yanked)
    got = dict(line.split("==", 1) for line in run([v.python, "-m", "pip", "freeze"],
                                                      env=v.env()).stdout.split()
               if "==" in line)
    got = {canonicalize_name(n): ver for n, ver in got.items()}
    wrong = {n: (want, got.get(n)) for n, want in pins.items()
             if got.get(n) is None or Version(got[n]) != Version(want)}
    assert not wrong, f"not installed at their lower bound (wanted, got): {wrong}"
    return job_pytest(v)


LOWEST = bool(os.environ.get("KMEMLAB_LOWEST"))
if LOWEST:
    register_job("lowest", lowest_job)


@pytest.mark.skipif(not LOWEST, reason="the lowest-versions job takes minutes: it runs with "
                                       "KMEMLAB_LOWEST=1 (see .ci/run)")
@pytest.mark.timeout(3600)
def test_the_lowest_declared_versions_install_together_and_pass_the_tests():
    print(job_result("lowest"))     # runs beside the other-Python jobs (packaging_helpers)
