"""Python 3.10 to 3.13: the wheel installs and the core runs on every one this machine
has (pyenv's builds here and on CI; a machine may have fewer), printing exactly what it
prints on the Python running the tests. For every version, whether or not it is here,
vermin checks that no syntax or standard-library use needs a newer Python than 3.10.

With KMEMLAB_PYTHONS=1 (``.ci/run`` sets it) the model, widget, exercise and grading tests
run on 3.10 and 3.13, the two ends of the range, each in a venv of its own with the
newest releases pip finds. They run under ``KMEMLAB_HYPOTHESIS=quick`` (tests/conftest.py):
every property test and state machine, the long ones included, at 5 examples of at most
15 steps -- enough to show a Python that behaves differently; the main job runs them at
full size on the Python that runs the tests (3.11 here), and so does nothing else. Left
out there: the browser, packaging, lecture-notebook and command-line tests (they need a
browser or JupyterLab, which [widgets,grading] does not bring)."""

from __future__ import annotations

import functools
import os
import shutil
import sys

import pytest

from packaging_helpers import (CORE_SCRIPT, ROOT, core_venv, dist, elsewhere, interpreters,
                               job_pytest, job_result, normalised, register_job, run, venv)

PYTHONS = interpreters()
HERE = "%d.%d" % sys.version_info[:2]
OTHERS = [v for v in PYTHONS if v != HERE]
FULL = bool(os.environ.get("KMEMLAB_PYTHONS"))
#: what runs on the other Pythons under FULL leaves out, beyond JOB_LEAVES_OUT, what needs
#: JupyterLab or nbgrader, which [widgets,grading] does not bring: the lecture notebooks
#: run in the main and the lowest-versions jobs
LEAVES_OUT = ("tests/test_notebooks.py", "tests/test_cli.py", "tests/test_notebooks_nbgrader.py")


def test_vermin_finds_nothing_newer_than_python_3_10():
    vermin = shutil.which("vermin", path=os.path.dirname(sys.executable)) or shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (it is in kmemlab[test])")
    r = run([vermin, "-t=3.10-", "--violations", "--eval-annotations", "--no-tips",
             "kmemlab", "tests", "benchmarks", "setup.py"], cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def reference() -> str:
    r = run([core_venv().python, "-c", CORE_SCRIPT], cwd=elsewhere(), env=core_venv().env())
    return normalised(r.stdout)


@pytest.mark.parametrize("minor", OTHERS)
def test_the_core_prints_the_same_on_every_python(minor, reference):
    python = PYTHONS[minor]
    if python is None:
        pytest.skip(f"no Python {minor} on this machine (README: which ones were tried); "
                    "vermin checks the syntax")
    v = core_venv(python)
    r = run([v.python, "-c", CORE_SCRIPT], cwd=elsewhere(), env=v.env())
    assert normalised(r.stdout) == reference
    assert run([v.python, "-c", "import sys; print(sys.version_info[:2])"],
               env=v.env()).stdout.strip() == str(tuple(map(int, minor.split("."))))


#: the suite runs on the two ends of the range (3.11, between them, runs it anyway): CI's
#: 90 minutes hold the whole suite, the lowest-versions job and these two
SUITE_ON = [v for v in ("3.10", "3.13") if v != HERE]


def python_job(minor: str) -> str:
    """The wheel with [widgets,grading] and the newest releases in a fresh venv of Python
    ``minor``, and the tests there; the job's report."""
    v = venv(f"full-{minor}", PYTHONS[minor])
    v.pip(f"kmemlab[widgets,grading] @ {dist().wheel.as_uri()}", "pytest", "pytest-timeout",
          "hypothesis", timeout=1800)
    return job_pytest(v, *LEAVES_OUT)


if FULL:
    for _minor in SUITE_ON:
        if PYTHONS[_minor] is not None:
            register_job(f"python{_minor}", functools.partial(python_job, _minor))


@pytest.mark.skipif(not FULL, reason="the tests on other Pythons take minutes: they run "
                                     "with KMEMLAB_PYTHONS=1 (see .ci/run)")
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("minor", SUITE_ON)
def test_the_model_widget_and_grading_tests_pass_on_the_oldest_and_newest_python(minor):
    if PYTHONS[minor] is None:
        pytest.skip(f"no Python {minor} on this machine")
    print(job_result(f"python{minor}"))     # runs beside the lowest-versions job (packaging_helpers)
