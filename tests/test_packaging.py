"""kmemlab as a course's hub administrator gets it: the sdist and the wheel are built once
(from the checkout, the wheel from the sdist), installed into fresh venvs outside the
checkout, and run from another folder.

- the wheel carries the lectures (English, Japanese), the exercise notebooks, the notebook
  sources, the docs, the GPL-2.0 text and py.typed; the sdist carries everything git tracks;
- `pip install --no-deps kmemlab numpy` imports and runs a Machine with no Jupyter package;
- the Binder/JupyterHub recipe (binder/requirements.txt in a copy of the sdist, binder/apt.txt,
  binder/postBuild) gives a JupyterLab whose `kmemlab lab --no-browser` lists the lectures
  in a per-user working copy, and saving a notebook there leaves the installed copy alone;
- `kmemlab --version`, `python -m kmemlab --help`, `kmemlab exercise ... | head -1`.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from packaging_helpers import (CORE_SCRIPT, ROOT, core_venv, dist, elsewhere, run,
                               unpacked_sdist, venv)

SKIP_PARTS = {".ipynb_checkpoints", "__pycache__"}


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not SKIP_PARTS & set(p.relative_to(root).parts))


def _requires(metadata: str) -> list[str]:
    return email.parser.Parser().parsestr(metadata).get_all("Requires-Dist") or []


# -- what the wheel and the sdist carry ------------------------------------------------------

def test_the_wheel_carries_every_notebook_and_doc_the_checkout_has():
    names = set(dist().wheel_names())
    for folder, name in (("notebooks", "notebooks"), ("docs", "docs"), ("tests/data/recordings", "recordings")):
        files = _tree(ROOT / folder)
        assert files, f"nothing in {folder}/"
        missing = [f for f in files if f"kmemlab/share/{name}/{f}" not in names]
        assert not missing, f"not in the wheel: {missing}"
        for f in files:             # byte for byte what the checkout has
            assert dist().wheel_text(f"kmemlab/share/{name}/{f}") == \
                (ROOT / folder / f).read_text(encoding="utf-8"), f
    # the lectures in both languages, the exercises and the sources are among them
    shipped = {n.removeprefix("kmemlab/share/notebooks/") for n in names
               if n.startswith("kmemlab/share/notebooks/")}
    assert any(re.fullmatch(r"\d\d-[\w-]+\.ipynb", n) for n in shipped)
    assert any(re.fullmatch(r"ja/\d\d-[\w-]+\.ipynb", n) for n in shipped)
    assert any(n.startswith("exercises/") and n.endswith(".ipynb") for n in shipped)
    assert any(n.startswith("src/") and n.endswith(".md") for n in shipped)
    assert not any(SKIP_PARTS & set(n.split("/")) for n in names)


def test_the_wheel_carries_the_licence_types_and_honest_metadata():
    d = dist()
    names = d.wheel_names()
    lic = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert lic and d.wheel_text(lic[0]) == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in d.wheel_text(lic[0])
    assert "Version 2, June 1991" in d.wheel_text(lic[0])
    assert "kmemlab/py.typed" in names and "kmemlab/__main__.py" in names
    meta = email.parser.Parser().parsestr(d.metadata())
    assert meta["License-Expression"] == "GPL-2.0-only"
    classifiers = set(meta.get_all("Classifier"))
    for c in ("Framework :: Jupyter", "Intended Audience :: Education",
              "Topic :: System :: Operating System Kernels :: Linux", "Typing :: Typed",
              *(f"Programming Language :: Python :: 3.{m}" for m in (10, 11, 12, 13))):
        assert c in classifiers, c
    assert meta["Requires-Python"] == ">=3.10"
    assert meta.get_all("Project-URL")
    # the default install is the core (numpy) and the widget stack; grading and JupyterLab
    # are extras, so a browser-side Python can take the core alone
    default = {re.match(r"[\w.-]+", r).group().lower() for r in _requires(d.metadata())
               if "extra ==" not in r}
    assert default == {"numpy", "ipywidgets", "bqplot", "pillow"}
    extras = set(meta.get_all("Provides-Extra"))
    assert {"widgets", "grading", "lab", "test"} <= extras
    for r in _requires(d.metadata()):
        if re.match(r"(nbclient|nbformat|ipykernel|jupyterlab)\b", r):
            assert "extra ==" in r, r


def test_the_sdist_carries_everything_git_tracks():
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    tracked = run(["git", "-C", ROOT, "ls-files"]).stdout.split()
    top = dist().sdist_names()[0].split("/")[0]
    inside = {n.removeprefix(top + "/") for n in dist().sdist_names()}
    missing = [f for f in tracked if f not in inside and f != ".gitignore"
               and (ROOT / f).exists()]
    assert not missing, f"tracked but not in the sdist: {missing}"


def test_the_sdists_tests_collect_on_their_own():
    # a distribution builds from the sdist and runs its tests: every helper must be there
    src = unpacked_sdist()
    r = run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             "tests"], cwd=src, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = re.search(r"(\d+) tests? collected", r.stdout)
    assert m and int(m.group(1)) > 100, r.stdout[-1000:]


# -- the core alone --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def core():
    return core_venv()


def test_the_core_runs_with_numpy_alone(core):
    r = run([core.python, "-c", CORE_SCRIPT], cwd=elsewhere(), env=core.env())
    assert r.stdout.rstrip().endswith(f"core ok {_version()}"), r.stdout
    assert "KernelBug: " in r.stdout and "pgd index" in r.stdout
    assert r.stderr == ""


def test_the_core_cli_says_which_extra_a_command_needs(core):
    env = core.env(HOME=str(elsewhere("core-home")))
    r = run([core.bin("kmemlab"), "boot", "--profile", "tiny"], cwd=elsewhere(), env=env)
    assert "Linux version" in r.stdout
    r = run([core.bin("kmemlab"), "lab", "--no-browser"], cwd=elsewhere(), env=env, check=False)
    assert r.returncode == 1 and "pip install 'kmemlab[lab]'" in r.stderr, r.stderr
    assert not any(elsewhere("core-home").iterdir())      # nothing copied for a lab that cannot start
    (elsewhere() / "x.ipynb").write_text("{}")
    r = run([core.bin("kmemlab"), "assign", "x.ipynb", "-o", "rel", "--roster", "r.csv", "--key", "k.key"],
            cwd=elsewhere(), env=env, check=False)
    assert r.returncode == 1 and "pip install 'kmemlab[grading]'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = run([core.bin("kmemlab"), "slides", "x.ipynb"], cwd=elsewhere(), env=env, check=False)
    assert r.returncode == 1 and "pip install 'kmemlab[slides]'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = run([core.bin("kmemlab"), "--help"], cwd=elsewhere(), env=env)
    assert "slides" in r.stdout and "record" in r.stdout


# -- the Binder / JupyterHub recipe, and the command line of a full install ------------------

@pytest.fixture(scope="module")
def lab():
    """What repo2docker does with binder/: pip install -r binder/requirements.txt in the
    repository (here: a copy of the sdist, so nothing touches the checkout), then postBuild."""
    repo = unpacked_sdist()
    v = venv("lab")
    v.pip("-r", repo / "binder" / "requirements.txt", cwd=repo, timeout=1200)
    run([repo / "binder" / "postBuild"], cwd=repo, env=v.env(HOME=str(elsewhere("binder-home"))))
    return v


def _version() -> str:
    text = (ROOT / "kmemlab" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def test_version_and_python_dash_m(lab):
    r = run([lab.bin("kmemlab"), "--version"], cwd=elsewhere(), env=lab.env())
    assert r.stdout == f"kmemlab {_version()}\n"
    meta = run([lab.python, "-c", "import importlib.metadata as m; print(m.version('kmemlab'))"],
               cwd=elsewhere(), env=lab.env())
    assert meta.stdout.strip() == _version()
    r = run([lab.python, "-m", "kmemlab", "--help"], cwd=elsewhere(), env=lab.env())
    assert r.stdout.startswith("usage: python -m kmemlab") and "lab" in r.stdout
    where = run([lab.python, "-c", "import kmemlab; print(kmemlab.__file__)"], cwd=elsewhere(),
                env=lab.env()).stdout.strip()
    assert str(lab.path) in where and str(ROOT) not in where


def test_a_pipe_closed_early_ends_quietly(lab):
    for reader in ("head -1", "true"):      # `true` leaves before kmemlab writes a byte
        r = run(["bash", "-c", f"kmemlab exercise buddy-merge -s 3 | {reader}"],
                cwd=elsewhere(), env=lab.env())
        assert r.stderr == "", r.stderr
        if reader == "head -1":
            assert r.stdout == "ARG exercise buddy-merge\n", r.stdout
    r = run(["bash", "-c", "kmemlab boot --mem 1G | true; echo ${PIPESTATUS[0]}"],
            cwd=elsewhere(), env=lab.env())
    assert r.stderr == "" and r.stdout.strip() in ("0", "141")


def test_binder_apt_packages_are_installed_and_give_a_japanese_font():
    pkgs = [line.partition("#")[0].strip()
            for line in (ROOT / "binder" / "apt.txt").read_text().splitlines()]
    pkgs = [p for p in pkgs if p]
    assert pkgs
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system: cannot check binder/apt.txt here")
    missing = [p for p in pkgs if "install ok installed" not in
               run(["dpkg-query", "-W", "-f=${Status}", p], check=False).stdout]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"{missing} not installed (`./run test` as root installs them; CI must)")
    assert not missing, f"binder/apt.txt packages not installed: {missing}"
    r = run(["fc-list", ":lang=ja", "family"])
    assert r.stdout.strip(), "no font with Japanese glyphs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET", body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read()


def test_kmemlab_lab_serves_the_lectures_from_a_working_copy(lab):
    home = elsewhere("lab-home")
    shipped = json.loads(run([lab.python, "-c", "import json; from kmemlab import lectures; "
                              "print(json.dumps([str(lectures.notebooks_dir()), "
                              "lectures.student_files()]))"], cwd=elsewhere(), env=lab.env()).stdout)
    share, students = Path(shipped[0]), shipped[1]
    assert str(lab.path) in str(share), share           # the installed copy, not the checkout
    before = {f: hashlib.sha256((share / f).read_bytes()).hexdigest() for f in students}
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen([lab.bin("kmemlab"), "lab", "--no-browser", f"--port={port}",
                             "--ip=127.0.0.1", f"--IdentityProvider.token={token}"],
                            cwd=elsewhere(), env=lab.env(HOME=str(home)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()
    api = f"http://127.0.0.1:{port}/api/contents"
    try:
        deadline, listing = time.monotonic() + 180, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                listing = json.loads(_get(f"{api}?token={token}")[1])
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        assert listing is not None, "".join(log)[-3000:]
        top = {c["name"] for c in listing["content"]}
        assert {f.split("/")[0] for f in students} <= top, (top, students)
        ja = {c["name"] for c in json.loads(_get(f"{api}/ja?token={token}")[1])["content"]}
        assert {f.split("/", 1)[1] for f in students if f.startswith("ja/")} == ja
        work = home / "kmemlab-notebooks"
        assert f"starting JupyterLab in your working folder {work}" in "".join(log)
        # what autosave does: it writes the working copy, never the installed one
        lecture = next(f for f in students if "/" not in f and f.endswith(".ipynb"))
        nb = json.loads(_get(f"{api}/{lecture}?token={token}&content=1")[1])
        nb["content"]["cells"].append({"cell_type": "markdown", "metadata": {},
                                       "source": "my note", "id": "my-note"})
        status, _ = _get(f"{api}/{lecture}?token={token}", "PUT",
                         {"type": "notebook", "format": "json", "content": nb["content"]})
        assert status == 200
        assert "my note" in (work / lecture).read_text(encoding="utf-8")
        assert _get(f"http://127.0.0.1:{port}/lab?token={token}")[0] == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    after = {f: hashlib.sha256((share / f).read_bytes()).hexdigest() for f in students}
    assert after == before, "the installed notebooks changed"
    # the next start keeps the student's note (and says nothing: no newer lecture ships)
    r = run([lab.bin("kmemlab"), "notebooks", "--sync"], cwd=elsewhere(),
            env=lab.env(HOME=str(home)))
    assert "my note" in (work / lecture).read_text(encoding="utf-8")
    assert r.stdout == f"kmemlab: {work} is up to date\n", r.stdout


TYPED_CLIENT = '''
import kmemlab as km
from kmemlab import lectures
from kmemlab.cli import main

m = km.Machine(profile="x86_64", mem="128M")
p = m.kmalloc(100)
reveal_type(p)
reveal_type(m.alloc_pages(km.GFP_KERNEL, order=2))
reveal_type(m.vmalloc(8192))
reveal_type(m.ksize(p))
reveal_type(m.walk(p))
reveal_type(m.explain(p))
reveal_type(m.proc.buddyinfo())
reveal_type(m.snapshot())
reveal_type(km.exercise("buddy-merge", seed=1))
reveal_type(lectures.sync("/tmp/x"))
reveal_type(main([]))
m.kmalloc(100).no_such_attribute
'''
REVEALED = ["kmemlab.kernel.types.Address", "kmemlab.kernel.types.Page | None",
            "kmemlab.kernel.types.Address", "int", "kmemlab.kernel.pgtable.Walk",
            "kmemlab.kernel.machine.Text", "kmemlab.kernel.machine.Text",
            "kmemlab.kernel.machine.Snapshot", "kmemlab.exercises.base.Exercise",
            "kmemlab.lectures.SyncReport", "int"]


def test_a_type_checker_sees_the_public_api_through_py_typed(core):
    # mypy reads the installed wheel (its py.typed marker): a user's checker gets real types
    mypy = shutil.which("mypy", path=os.path.dirname(sys.executable))
    if mypy is None:
        pytest.skip("mypy is not installed (it is in kmemlab[test])")
    d = elsewhere("types")
    (d / "client.py").write_text(TYPED_CLIENT)
    r = run([mypy, "--python-executable", core.python, "--cache-dir", d / "cache",
             "--follow-imports=silent", "client.py"], cwd=d, check=False, timeout=600)
    revealed = [t.removeprefix("builtins.")            # mypy versions differ in spelling int
                for t in re.findall(r'Revealed type is "([^"]+)"', r.stdout)]
    assert revealed == REVEALED, r.stdout
    assert '"Address" has no attribute "no_such_attribute"' in r.stdout, r.stdout
    assert "import-not-found" not in r.stdout and "import-untyped" not in r.stdout, r.stdout
