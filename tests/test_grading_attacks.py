"""Every attack of issue 15 (tests/grading_attacks.py), graded in one class run with real
sandboxes: the attacker gets the points its wrong answers deserve and a note, the victim
graded beside them keeps full marks, grades.csv has every row, and nothing outside the
attacker's sandbox changed (the victim's submission, the installed package, grades.csv
after the grader has finished, no process left behind)."""

from __future__ import annotations

import csv
import hashlib
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

import kmemlab as km
from kmemlab import grading
from kmemlab.cli import main
from kmemlab.exercises import CourseKey
from kmemlab.notebooks import render

sys.path.insert(0, str(Path(__file__).parent))
from grading_attacks import ATTACKS, WRONG1, WRONG2, fill  # noqa: E402

pytestmark = pytest.mark.slow

if grading.sandbox_problem():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must grade in a sandbox: {grading.sandbox_problem()}")
    pytest.skip(f"no sandbox here: {grading.sandbox_problem()}", allow_module_level=True)

#: a small exercise notebook in the source format: two graded questions, cheap exercises
SOURCE = """# Test exercises
+++ subslide
## Learning goals
- none
+++ slide
## Q
```python nbgrader locked grade_id=seed
import kmemlab as km
SEED = 42
```
```python nbgrader locked grade_id=kmalloc-cache-question
ex1 = km.exercise("kmalloc-cache", seed=SEED)
```
```python nbgrader solution grade_id=kmalloc-cache-answer
answer1 = ...
### BEGIN SOLUTION
answer1 = ex1.solution(key=KEY).answer
### END SOLUTION
```
```python nbgrader locked grade_id=buddy-question
ex2 = km.exercise("buddy-of-pfn", seed=SEED)
```
```python nbgrader solution grade_id=buddy-answer
answer2 = ...
### BEGIN SOLUTION
answer2 = int(ex2.params["pfn"], 16) ^ (1 << ex2.params["order"])
### END SOLUTION
```
```python nbgrader grade_id=kmalloc-cache-check points=2 exercise=kmalloc-cache
ex1.submit(answer1)
```
```python nbgrader grade_id=buddy-check points=2 exercise=buddy-of-pfn
ex2.submit(answer2)
```
+++ slide
## Summary
- none
"""
NAME = "t"
KEY = CourseKey(b"attack-tests-key" * 2, "the tests' key")
FILE_ATTACKS = [a for a in ATTACKS if a.file]
STUDENTS = ["model", "half", "part", "victim"] + [f"atk-{a.name}" for a in ATTACKS if not a.file.startswith("folder:")]


def _answers(seed):
    a1 = km.exercise("kmalloc-cache", seed=seed).solution(key=KEY).answer
    a2 = km.exercise("buddy-of-pfn", seed=seed).solution(key=KEY).answer
    return a1, a2


def _fill(nb, a1: str, a2: str):
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "kmalloc-cache-answer":
            c.source = a1
        elif gid == "buddy-answer":
            c.source = a2
    return nb


def _index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _attack(nb, attack, values):
    code = fill(attack.code, **values)
    if attack.where == "before-check":
        nb.cells.insert(_index(nb, "kmalloc-cache-check"), nbformat.v4.new_code_cell(code))
    elif attack.where == "end":
        nb.cells.append(nbformat.v4.new_code_cell(code))
    elif attack.where == "replace-seed-new-id":
        nb.cells[_index(nb, "seed")] = nbformat.v4.new_code_cell(code)
    elif attack.where.startswith("replace:"):
        nb.cells[_index(nb, attack.where.split(":", 1)[1])].source = code
    else:
        raise AssertionError(attack.where)
    return nb


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _package_hashes():
    pkg = Path(km.__file__).parent
    return {p: _sha(p) for p in sorted(pkg.rglob("*.py"))}


def _procs_with(marker: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if marker in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace"):
                    out.append(int(p))
            except OSError:
                pass
    return out


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    src = tmp / f"{NAME}.instructor.ipynb"
    src.write_text(render(SOURCE, NAME)["en"], encoding="utf-8")
    (tmp / "course.key").write_text(f"kmemlab-course-key/1 {KEY._secret.hex()}\n")
    roster = tmp / "roster.csv"
    roster.write_text("student_id\n" + "\n".join(STUDENTS) + "\n", encoding="utf-8")
    assert main(["assign", str(src), "-o", str(tmp / "release"), "--roster", str(roster),
                 "--key", str(tmp / "course.key")]) == 0
    manifest = tmp / "release.manifest.json"
    subs, grades, fb = tmp / "subs", tmp / "out" / "grades.csv", tmp / "out" / "feedback"
    marker = f"kmemlab-attack-marker-{os.getpid()}"
    vseed = KEY.seed_for("victim")
    v1, v2 = _answers(vseed)
    values = dict(victim_sub=subs / "victim" / f"{NAME}.ipynb", victim_fb=fb / "victim" / f"{NAME}.ipynb",
                  grades=grades, manifest=manifest, key=tmp / "course.key", marker=marker,
                  victim_seed=vseed, victim_answer1=repr(v1))
    for s in STUDENTS:
        nb = nbformat.read(tmp / "release" / s / f"{NAME}.ipynb", as_version=4)
        a1, a2 = _answers(KEY.seed_for(s))
        if s.startswith("atk-"):
            # a classmate's answers must be wrong for the attacker's own seed (else the
            # seed attacks would prove nothing)
            assert v1["cache"] != a1["cache"] and v1["waste"] != a1["waste"], s
            nb = _fill(nb, WRONG1, WRONG2)
            attack = next(a for a in ATTACKS if f"atk-{a.name}" == s)
            if not attack.file:
                nb = _attack(nb, attack, values)
        elif s == "half":
            nb = _fill(nb, f"answer1 = {a1!r}", WRONG2)
        elif s == "part":
            nb = _fill(nb, f"answer1 = {{'cache': {a1['cache']}, 'waste': -5}}", WRONG2)
        else:
            nb = _fill(nb, f"answer1 = {a1!r}", f"answer2 = {a2!r}")
        (subs / s).mkdir(parents=True)
        nbformat.write(nb, subs / s / f"{NAME}.ipynb")
    for a in FILE_ATTACKS:
        folder = subs / f"atk-{a.name}"
        path = folder / f"{NAME}.ipynb"
        if a.file == "fifo":
            path.unlink()
            os.mkfifo(path)
        elif a.file == "symlink-passwd":
            path.unlink()
            path.symlink_to("/etc/passwd")
        elif a.file.startswith("folder:"):
            (subs / a.file.split(":", 1)[1]).mkdir()
            nbformat.write(nbformat.read(subs / "victim" / f"{NAME}.ipynb", as_version=4),
                           subs / a.file.split(":", 1)[1] / f"{NAME}.ipynb")
    before = {"victim": _sha(values["victim_sub"]), "package": _package_hashes(), "manifest": _sha(manifest)}
    t0 = time.monotonic()
    status = main(["grade", str(manifest), str(subs), "-o", str(grades), "--key", str(tmp / "course.key"),
                   "--timeout", "10", "--wall", "60", "--jobs", "2"])
    took = time.monotonic() - t0
    csv_after = grades.read_bytes()
    time.sleep(5)                   # the detached rewriter would strike now
    with grades.open(newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return dict(tmp=tmp, rows=rows, status=status, before=before, values=values, took=took,
                csv_after=csv_after, grades=grades, fb=fb, marker=marker, manifest=manifest)


def _feedback_text(attacked, student) -> str:
    path = attacked["fb"] / student / f"{NAME}.ipynb"
    nb = nbformat.read(path, as_version=4)
    parts = []
    for c in nb.cells:
        parts.append(c.source)
        for o in c.get("outputs", []):
            parts.append(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                         + str(o.get("ename", "")) + ": " + str(o.get("evalue", "")))
    return "\n".join(parts)


def test_honest_students_get_what_their_answers_deserve_per_part(attacked):
    rows = attacked["rows"]
    assert rows["model"]["score"] == "4" and rows["model"]["notes"] == ""
    assert rows["victim"]["score"] == "4" and rows["victim"]["notes"] == ""
    assert rows["half"]["score"] == "2" and rows["half"]["kmalloc-cache-check"] == "2"
    assert rows["part"]["score"] == "1" and rows["part"]["kmalloc-cache-check"] == "1"
    fb = _feedback_text(attacked, "part")
    assert "kmemlab grader: 1 / 2 points (partial)" in fb and "waste: -5 is not right" in fb


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(attacked, attack):
    rows = attacked["rows"]
    who = attack.file.split(":", 1)[1] if attack.file.startswith("folder:") else f"atk-{attack.name}"
    key = "'" + who if who[:1] in "=+-@" else who
    assert key in rows, sorted(rows)
    row = rows[key]
    assert row["status"] == attack.status, row
    assert float(row["score"] or 0) == attack.points, row
    text = row["notes"]
    if attack.status == "graded":
        text += _feedback_text(attacked, who)
    assert attack.note in text, (row["notes"], text[-3000:])


def test_the_victim_and_the_class_are_untouched(attacked):
    before, values = attacked["before"], attacked["values"]
    assert _sha(values["victim_sub"]) == before["victim"]
    assert _package_hashes() == before["package"]
    assert _sha(attacked["manifest"]) == before["manifest"]
    rows = attacked["rows"]
    expected = set(STUDENTS) | {"'=1+1"}
    assert set(rows) == expected                     # every row, the escaped one too
    assert attacked["grades"].read_bytes() == attacked["csv_after"]   # nobody rewrote it later
    assert not _procs_with(attacked["marker"])       # nothing outlived its sandbox
    assert attacked["status"] == 1                   # some could not be graded: say so


def test_nothing_of_the_grader_was_visible_inside(attacked):
    text = _feedback_text(attacked, "atk-read-grader-files")
    assert "FOUND []" in text, text[-2000:]
    assert "OTHER KERNELS []" in _feedback_text(attacked, "atk-connection-files")
    over = _feedback_text(attacked, "atk-overwrite-others")
    assert "WROTE" not in over.replace("'WROTE'", "") and over.count("refused") >= 4
    assert "read-only" in _feedback_text(attacked, "atk-patch-package")
    assert "NET OPEN" not in _feedback_text(attacked, "atk-network").replace("'NET OPEN'", "")
    assert "fork refused after" in _feedback_text(attacked, "atk-fork-bomb") or \
        "ended early" in attacked["rows"]["atk-fork-bomb"]["notes"]


def test_bounded_output_and_time(attacked):
    flood = attacked["fb"] / "atk-print-flood" / f"{NAME}.ipynb"
    assert flood.stat().st_size < 4 << 20            # 60 MiB printed, a small feedback file
    # the loop that ignores Ctrl-C cost one timeout (+ the probe), not one per later cell
    nb = nbformat.read(attacked["fb"] / "atk-ignore-interrupt" / f"{NAME}.ipynb", as_version=4)
    errors = [o.ename for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert "KernelStuck" in errors and errors.count("NotRun") >= 2
