"""What the packaging tests share: the sdist and the wheel, built once per test session;
fresh virtual environments outside the checkout (pip reuses its download cache, so a
second session installs from disk); commands run from a folder that is not the checkout.

Nothing here imports kmemlab: the point is to test what an installed copy does."""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="kmemlab-packaging-"))
os.chmod(_TMP, 0o755)       # tests that run a venv's python as another user (test_host) must read it
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)

#: the environment of every command: no PYTHONPATH (it would reach the checkout), pip quiet
ENV = {k: v for k, v in os.environ.items()
       if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "KMEMLAB_DIR")}
ENV.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")


def run(cmd, *, cwd=None, env=None, timeout=900, check=True, input=None):
    """Run ``cmd``; on an unexpected exit code fail the test with the command's output."""
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or ENV, capture_output=True,
                       text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {r.returncode}\n--- stdout\n"
                    f"{r.stdout[-4000:]}\n--- stderr\n{r.stderr[-4000:]}", pytrace=False)
    return r


def elsewhere(name: str = "cwd") -> Path:
    """An empty folder outside the checkout to run installed commands from."""
    d = _TMP / "elsewhere" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


#: what the lowest-versions and other-Python jobs leave out of the suite they run in their
#: own venv (the main job runs all of it, on this Python with the newest releases): the
#: browser and packaging tests; the comparisons with the host kernel, which read this
#: machine (its load, its /proc), not the dependencies; the generation table's static
#: checks; and the long parametrised sweeps of pure arithmetic and sandboxing (every bad
#: call's fingerprint, every cache's geometry, every sandbox escape)
JOB_LEAVES_OUT = ("tests/browser", "tests/test_packaging.py", "tests/test_packaging_lowest.py",
                  "tests/test_packaging_pythons.py", "tests/test_twin.py",
                  "tests/test_compare.py", "tests/test_host.py", "tests/test_record.py",
                  "tests/test_kernel_generations.py", "tests/test_bad_input.py",
                  "tests/test_slub_geometry.py", "tests/test_grading_attacks.py")
#: single tests of that kind in files the jobs run (this one reads the host's load)
JOB_DESELECTS = ("tests/test_boot.py::test_meminfo_is_the_real_machines_order_of_magnitude",)


def job_pytest(v: "Venv", *leave_out: str, timeout: int = 3000):
    """Run the suite of the checkout against what ``v`` has installed, with
    KMEMLAB_HYPOTHESIS=quick (tests/conftest.py), leaving out JOB_LEAVES_OUT and
    ``leave_out``; fail with the end of its output, else return it (the slowest tests
    and the count, printed: ``-rP`` shows it)."""
    args = [a for t in (*JOB_LEAVES_OUT, *leave_out) for a in ("--ignore", t)]
    args += [a for t in JOB_DESELECTS for a in ("--deselect", t)]
    # the pytest script, not `python -m pytest`: the checkout must not shadow the wheel
    r = run([v.bin("pytest"), "-q", "-p", "no:cacheprovider", "-x", "--durations=15", *args,
             "tests"], cwd=ROOT, env=v.env(KMEMLAB_HYPOTHESIS="quick"), timeout=timeout,
            check=False)
    tail = r.stdout[-6000:] + r.stderr[-3000:]
    if r.returncode != 0 or not re.search(r"\d+ passed", r.stdout):
        pytest.fail(f"the tests in {v.path} failed\n{tail}", pytrace=False)
    print(tail)
    return tail


#: the CI jobs of this session (name -> a function that installs and runs its tests),
#: registered when their test module is collected; see job_result()
_JOBS: dict[str, object] = {}
_RUNNING: dict[str, concurrent.futures.Future] = {}


def register_job(name: str, fn) -> None:
    """Make ``fn`` (no arguments; fails through ``pytest.fail``, returns the job's report) one
    of this session's CI jobs. Call it at import time, only when the job is switched on."""
    _JOBS[name] = fn


def job_result(name: str) -> str:
    """The report of the job ``name``: the first call starts every registered job at once,
    each in a thread that waits on its own venv's pip and pytest, so that the jobs' child
    processes share CI's two CPUs instead of queueing (3 jobs of 12-15 min each take about
    20 min together, not 40); this call then waits for ``name``'s. A job's failure is raised
    here, in its own test."""
    if not _RUNNING:
        dist()              # built once, here: the jobs' threads must not race to build it
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(_JOBS) or 1,
                                                     thread_name_prefix="kmemlab-job")
        for n, fn in _JOBS.items():
            _RUNNING[n] = pool.submit(fn)
        pool.shutdown(wait=False)
    return _RUNNING[name].result()


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as z:
            return z.namelist()

    def wheel_text(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as z:
            return z.read(name).decode("utf-8")

    def metadata(self) -> str:
        return self.wheel_text(next(n for n in self.wheel_names()
                                    if n.endswith(".dist-info/METADATA")))

    def sdist_names(self) -> list[str]:
        with tarfile.open(self.sdist) as t:
            return t.getnames()


@functools.lru_cache(maxsize=None)
def dist() -> Dist:
    """``python -m build``: the sdist from the checkout, then the wheel from that sdist
    (so a file the sdist forgets is missing from the wheel too). Once per session."""
    pytest.importorskip("build", reason="the packaging tests build with `build` (pip install build)")
    out = _TMP / "dist"
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=600)
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return Dist(sdist, wheel)


@functools.lru_cache(maxsize=None)
def unpacked_sdist() -> Path:
    """The sdist unpacked outside the checkout (what a distribution, or repo2docker, sees)."""
    out = _TMP / "sdist"
    with tarfile.open(dist().sdist) as t:
        t.extractall(out, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(out)
    (top,) = out.iterdir()
    return top


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def env(self, **extra: str) -> dict[str, str]:
        """ENV with this venv first on PATH, as an activated venv has it."""
        return {**ENV, "PATH": f"{self.path / 'bin'}{os.pathsep}{ENV.get('PATH', '')}",
                "VIRTUAL_ENV": str(self.path), **extra}

    def pip(self, *args, cwd=None, timeout=900):
        return run([self.python, "-m", "pip", "install", "-q", *args], cwd=cwd or elsewhere(),
                   env=self.env(), timeout=timeout)


@functools.lru_cache(maxsize=None)
def venv(name: str, python: str = sys.executable) -> Venv:
    """A fresh, empty venv outside the checkout (once per session and name)."""
    path = _TMP / "venvs" / name
    run([python, "-m", "venv", path], cwd=elsewhere())
    return Venv(path)


def interpreters() -> dict[str, str | None]:
    """Python 3.10 .. 3.13 on this machine: ``python3.X`` on PATH, or pyenv's builds
    (their shims only answer for the selected version); None where there is none."""
    found: dict[str, str | None] = {}
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        candidates = [shutil.which(f"python{minor}"), f"/usr/bin/python{minor}",
                      *sorted(map(str, pyenv_root.glob(f"{minor}.*/bin/python{minor}")))]
        found[minor] = None
        for c in candidates:
            if c and os.access(c, os.X_OK):
                r = subprocess.run([c, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=60)
                if r.returncode == 0 and r.stdout.strip() == minor:
                    found[minor] = c
                    break
    return found


#: what a core-only install must do, from a folder that is not the checkout: boot, allocate,
#: read /proc, walk page tables, trip a BUG, check an exercise -- without any Jupyter package.
#: Its output is deterministic, so the same script must print the same on every Python.
CORE_SCRIPT = r'''
import importlib.util, sys
import kmemlab as km
absent = [m for m in ("ipywidgets", "bqplot", "PIL", "pandas", "nbformat", "nbclient",
                      "ipykernel", "jupyter_client", "jupyterlab", "IPython")
          if importlib.util.find_spec(m) is not None]
assert not absent, f"a core-only venv has {absent}"
m = km.Machine(profile="x86_64", mem="128M", cpus=2, kernel="6.6", seed=1)
p = m.kmalloc(100)
assert m.ksize(p) == 128, m.ksize(p)
v = m.vmalloc(20000)
print(m.proc.buddyinfo(), end="")
print(m.proc.vmallocinfo(), end="")
print(m.walk(v))
print(m.explain(v + 5000))
m.kfree(p)
m.vfree(v)
try:
    m.vfree(v)
except km.KernelBug as e:
    print("KernelBug:", str(e).splitlines()[0])
else:
    raise AssertionError("a double vfree() must be a KernelBug")
m.check_invariants()
r = km.replay(km.sample_recording())     # the wheel's own real recording
assert r.replayed > 0, r
ex = km.exercise("buddy-merge", seed=3)
print(ex.question().splitlines()[0])
print(sorted(m._repr_mimebundle_()))        # display(m) without widgets: plain text
try:
    km.widgets
except ModuleNotFoundError as e:
    assert "kmemlab[widgets]" in str(e), e
else:
    raise AssertionError("km.widgets without ipywidgets must say what to install")
# nothing but the standard library and numpy was loaded: what a browser-side Python needs
foreign = sorted(n for n in {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
                 if n not in ("__main__", "kmemlab", "numpy", "_distutils_hack")
                 and not n.startswith(("_cython", "cython_runtime")))
assert not foreign, f"the core loaded {foreign}"
# and it started no thread and no process, which a browser-side Python cannot
import os, threading
assert threading.active_count() == 1, threading.enumerate()
children = f"/proc/self/task/{os.getpid()}/children"
if os.path.exists(children):
    assert open(children).read().split() == [], "the core started a process"
print("core ok", km.__version__)
'''


@functools.lru_cache(maxsize=None)
def core_venv(python: str = sys.executable) -> Venv:
    """``pip install --no-deps kmemlab.whl numpy`` into a fresh venv of ``python``."""
    v = venv(f"core-{Path(python).name}-{abs(hash(python))}", python)
    v.pip("--no-deps", dist().wheel, "numpy")
    return v


def normalised(out: str) -> str:
    """CORE_SCRIPT's output without what may differ between Python versions: the simulated
    caller of vmalloc is named from the Python frame (function+offset/size of bytecode)."""
    return re.sub(r"<module>\+0x[0-9a-f]+/0x[0-9a-f]+", "<module>+OFF", out)
