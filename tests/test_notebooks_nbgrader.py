"""nbgrader cell metadata in notebook sources (kmemlab.notebooks) and in the exercise
notebooks: the students' edition has no solutions and the instructor's edition (kept
apart, named so) has them; answer cells are solution cells, graded cells are locked,
carry points and name the exercise whose answer they hand in with ``ex.submit``; the
graded questions are predictions, the ones the simulator prints directly are practice.
Then nbgrader 0.9 itself, end to end, with kmemlab's seeds and grader plugged in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from kmemlab import notebooks as nbsrc

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISE_NBS = sorted((NB_DIR / "exercises").glob("*.ipynb"))
INSTRUCTOR_NBS = sorted((NB_DIR / "instructor" / "exercises").glob("*.instructor.ipynb"))
#: questions the simulator answers with one call: practice only, never graded (issue 15)
PRACTICE_ONLY = {"kmalloc-cache", "slab-objects", "spot-the-bug", "vmalloc-size", "gfp-zone",
                 "watermarks", "buddyinfo-after", "order-alloc", "slabinfo-reading"}

SRC = """# T
```python nbgrader solution grade_id=a1
### BEGIN SOLUTION
x = 1
### END SOLUTION
```
```python nbgrader grade_id=t1 points=3 exercise=buddy-of-pfn
assert x == 1
```
```python nbgrader locked grade_id=l1
z = 0
```
```python
y = 2
```
"""


def test_fence_options_become_nbgrader_metadata():
    nb = nbformat.reads(nbsrc.render(SRC, "x")["en"], as_version=4)
    sol, test, locked, plain = [c for c in nb.cells if c.cell_type == "code"]
    assert sol.metadata.nbgrader == {"grade": False, "grade_id": "a1", "locked": False,
                                     "schema_version": 3, "solution": True, "task": False}
    assert test.metadata.nbgrader == {"grade": True, "grade_id": "t1", "locked": True, "points": 3,
                                      "schema_version": 3, "solution": False, "task": False}
    assert test.metadata.kmemlab == {"exercise": "buddy-of-pfn"}
    assert locked.metadata.nbgrader == {"grade": False, "grade_id": "l1", "locked": True,
                                        "schema_version": 3, "solution": False, "task": False}
    assert "nbgrader" not in plain.metadata and "kmemlab" not in sol.metadata
    assert sol.metadata.slideshow.slide_type == "-"


@pytest.mark.parametrize("fence, message", [
    ("```python nbgrader points=1", "needs grade_id"),
    ("```python nbgrader grade_id=a solution points=1", "either 'solution', 'locked' or has 'points=N'"),
    ("```python nbgrader grade_id=a", "either 'solution', 'locked' or has 'points=N'"),
    ("```python nbgrader grade_id=a solution exercise=buddy-of-pfn", "belongs to a graded cell"),
    ("```python exercise=buddy-of-pfn", "belongs to a graded nbgrader cell"),
    ("```python nbgrader grade_id=a points=two", "points must be a whole number"),
    ("```python nbgrader grade_id=a points=1 hidden", "unknown nbgrader option(s) ['hidden']"),
    ("```python nbgrade grade_id=a points=1", "only 'nbgrader ...' may follow"),
])
def test_bad_nbgrader_markers_are_build_errors(fence, message):
    with pytest.raises(nbsrc.BuildError, match=re.escape(message)):
        nbsrc.render(f"# T\n{fence}\nx = 1\n```\n", "bad")


def test_grade_ids_must_be_unique():
    src = "# T\n```python nbgrader grade_id=a points=1\nx\n```\n```python nbgrader grade_id=a points=1\ny\n```\n"
    with pytest.raises(nbsrc.BuildError, match="grade_id 'a' is used twice"):
        nbsrc.render(src, "dup")


def test_sources_in_a_subfolder_build_into_that_folder_in_two_editions(tmp_path):
    (tmp_path / "src" / "exercises").mkdir(parents=True)
    (tmp_path / "src" / "exercises" / "01-e.md").write_text(SRC, encoding="utf-8")
    student = tmp_path / "exercises" / "01-e.ipynb"
    teacher = tmp_path / "instructor" / "exercises" / "01-e.instructor.ipynb"
    assert nbsrc.build(tmp_path) == [student, teacher]
    nb = nbformat.read(student, as_version=4)
    assert nb.metadata.kmemlab.generated_from == "src/exercises/01-e.md"
    assert "x = 1" not in nb.cells[1].source and "BEGIN SOLUTION" not in nbformat.writes(nb)
    t = nbformat.read(teacher, as_version=4)
    assert "x = 1" in t.cells[1].source and "Instructor's edition" in t.cells[0].source
    assert t.metadata.kmemlab.edition.startswith("INSTRUCTOR")


def test_there_are_exercise_notebooks_in_both_editions():
    assert len(EXERCISE_NBS) >= 2
    assert [p.name.replace(".instructor", "") for p in INSTRUCTOR_NBS] == [p.name for p in EXERCISE_NBS]


@pytest.mark.parametrize("path", EXERCISE_NBS, ids=[p.name for p in EXERCISE_NBS])
def test_the_students_edition_has_no_solutions(path):
    text = path.read_text(encoding="utf-8")
    teacher = nbformat.read(NB_DIR / "instructor" / "exercises" / path.name.replace(".ipynb", ".instructor.ipynb"),
                            as_version=4)
    secret = [ln.strip() for c in teacher.cells if c.metadata.get("nbgrader", {}).get("solution")
              for ln in c.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0].splitlines()
              if len(ln.strip()) > 12]
    assert secret and not [ln for ln in secret if json.dumps(ln)[1:-1] in text]
    assert "BEGIN SOLUTION" not in text and "Instructor" not in text


@pytest.mark.parametrize("path", INSTRUCTOR_NBS, ids=[p.name for p in INSTRUCTOR_NBS])
def test_exercise_notebook_graded_cells_hand_in_predictions(path):
    nb = nbformat.read(path, as_version=4)
    graded = [c for c in nb.cells if "nbgrader" in c.metadata]
    sols = [c for c in graded if c.metadata.nbgrader.solution]
    tests = [c for c in graded if c.metadata.nbgrader.grade]
    ids = [c.metadata.nbgrader.grade_id for c in graded]
    assert sols and tests and len(ids) == len(set(ids))
    assert graded[0].metadata.nbgrader.grade_id == "seed" and graded[0].metadata.nbgrader.locked
    assert "SEED = " in graded[0].source
    for c in sols:
        assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source
        assert not c.metadata.nbgrader.locked
        assert c.source.split("\n")[0].split(" = ")[1].startswith(("...", "{")), "an answer starts as ..."
    for c in tests:
        assert c.metadata.nbgrader.locked and c.metadata.nbgrader.points > 0
        ex = c.metadata.kmemlab.exercise
        assert ex in {n for n, _, _ in __import__("kmemlab").exercises.catalog()}
        assert ex not in PRACTICE_ONLY, f"{ex}: the simulator prints its answer; practice only"
        assert ".submit(" in c.source and "assert" not in c.source


# -- nbgrader 0.9 end to end ---------------------------------------------------------------

STUDENTS = ("model", "half", "wrong")


def _copied_answer(key, own_seed: int) -> dict:
    """The right pt-translate answer of the first seed from 7 on whose every part differs
    from the answer to ``own_seed``: a copy scores 0 of 2 whatever the course key is (the
    key is new each run; seed 7's table index is the student's own in about one key of 30,
    which gave 1 of 2 points)."""
    import kmemlab as km
    own = km.exercise("pt-translate", seed=own_seed).solution(key=key).answer
    for seed in range(7, 1000):
        ans = km.exercise("pt-translate", seed=seed).solution(key=key).answer
        if all(ans[k] != own[k] for k in own):
            return ans
    raise AssertionError("no seed gives a wholly different answer")


def _nbgrader(course, *args):
    import os
    import subprocess
    import sys
    # nbgrader runs `alembic` from PATH: the venv's bin folder must be on it
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    r = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True,
                       text=True, timeout=900, env=env)
    assert r.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course in nbgrader 0.9 with kmemlab configured: three made-up students (model answers,
    half of them, wrong ones copied from another seed), generate_assignment, autograde and
    generate_feedback run by nbgrader's own command line."""
    pytest.importorskip("nbgrader")
    from kmemlab import grading
    if grading.sandbox_problem() and not __import__("os").environ.get("CI"):
        pytest.skip(f"no sandbox here: {grading.sandbox_problem()}")
    from kmemlab.exercises import CourseKey
    tmp = tmp_path_factory.mktemp("nbgrader")
    key = CourseKey.new(tmp / "course.key")
    (tmp / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(tmp)!r}\n"
        "c.CourseDirectory.course_id = 'kmemlab-test'\n"
        "from kmemlab.grading.nbgrader import configure\n"
        f"configure(c, key_file={str(tmp / 'course.key')!r}, timeout=30)\n")
    teacher = nbformat.read(INSTRUCTOR_NBS[-1], as_version=4)      # vmalloc + page tables
    (tmp / "source" / "ps1").mkdir(parents=True)
    nbformat.write(teacher, tmp / "source" / "ps1" / "vm.ipynb")
    for s in STUDENTS:
        _nbgrader(tmp, "db", "student", "add", s)
    _nbgrader(tmp, "generate_assignment", "ps1")
    release = nbformat.read(tmp / "release" / "ps1" / "vm.ipynb", as_version=4)
    solutions = {c.metadata.nbgrader.grade_id: c.source for c in teacher.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    import kmemlab as km
    right = {s: km.exercise("choose-allocator", seed=key.seed_for(s)).solution(key=key).answer["choice"]
             for s in STUDENTS}
    for s in STUDENTS:
        nb = nbformat.read(tmp / "release" / "ps1" / "vm.ipynb", as_version=4)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid in solutions and s == "model":
                c.source = solutions[gid]
            elif gid == "seed" and s == "model":
                c.source = c.source.replace("km.exercises.student_seed(", "7 or km.exercises.student_seed(")
            elif gid == "pt-translate-answer" and s != "wrong":
                c.source = solutions[gid]
            elif gid == "pt-translate-answer":     # another seed's right answer, copied
                c.source = f"answer2 = {_copied_answer(key, key.seed_for(s))!r}"
            elif gid == "choose-allocator-answer" and s == "half":    # the choice, no reason
                c.source = f'answer3 = {{"choice": {right[s]!r}, "why": "because"}}'
            elif gid == "choose-allocator-answer" and s == "wrong":   # keyword stuffing
                bad = next(x for x in ("kmalloc", "vmalloc", "kvmalloc") if x != right[s])
                c.source = (f'answer3 = {{"choice": {bad!r}, "why": "small slab cache, DMA physically '
                            'contiguous, atomic interrupt, too large for max order, fallback"}')
        (tmp / "submitted" / s / "ps1").mkdir(parents=True)
        nbformat.write(nb, tmp / "submitted" / s / "ps1" / "vm.ipynb")
        (tmp / "submitted" / s / "ps1" / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    _nbgrader(tmp, "autograde", "ps1")
    _nbgrader(tmp, "generate_feedback", "ps1")
    return dict(tmp=tmp, key=key, release=release)


@pytest.mark.slow
def test_nbgrader_release_carries_per_student_seeds_and_no_solutions(course):
    key, release = course["key"], course["release"]
    seed = next(c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "seed")
    table = json.loads(seed.source.split("student_seed(")[1].split(")")[0])
    assert table == {s: key.seed_for(s) for s in STUDENTS} and len(set(table.values())) == 3
    text = nbformat.writes(release)
    assert "BEGIN SOLUTION" not in text and "NotImplementedError" not in text and "Instructor" not in text
    assert "frame + (addr" not in text


@pytest.mark.slow
def test_nbgrader_autograde_scores_per_part_from_kmemlab_s_grader(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course['tmp'] / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("ps1", s).score for s in STUDENTS}
        parts = {s: {g: gb.find_grade(g, "vm", "ps1", s).auto_score
                     for g in ("pt-translate-check", "choose-allocator-check")} for s in STUDENTS}
    assert scores == {"model": 4.0, "half": 3.0, "wrong": 0.0}, (scores, parts)
    # half chose right but gave no reason: 1 of 2 points, not all-or-nothing
    assert parts["half"] == {"pt-translate-check": 2.0, "choose-allocator-check": 1.0}
    assert parts["wrong"] == {"pt-translate-check": 0.0, "choose-allocator-check": 0.0}


@pytest.mark.slow
def test_nbgrader_feedback_shows_kmemlab_s_feedback(course):
    html_text = (course["tmp"] / "feedback" / "wrong" / "ps1" / "vm.html").read_text()
    assert "kmemlab grader: 0 / 2 points" in html_text
    assert "is not right" in html_text                   # per part, as the self-check says
    assert "several other scenarios" in html_text          # the mistake-specific feedback
    model = (course["tmp"] / "feedback" / "model" / "ps1" / "vm.html").read_text()
    assert model.count("kmemlab grader: 2 / 2 points (passed)") == 2


@pytest.mark.slow
def test_kmemlab_grade_reads_nbgrader_s_submitted_folder(course, tmp_path):
    import csv
    from kmemlab import grading
    from kmemlab.cli import main
    teacher = course["tmp"] / "source" / "ps1" / "vm.ipynb"
    (tmp_path / "r.csv").write_text("student_id\n" + "\n".join(STUDENTS) + "\n")
    grading.assign([teacher], tmp_path / "ps1", tmp_path / "r.csv", course["key"])
    assert main(["grade", str(tmp_path / "ps1.manifest.json"), str(course["tmp"] / "submitted"),
                 "-o", str(tmp_path / "g.csv"), "--key", str(course["tmp"] / "course.key")]) == 0
    with (tmp_path / "g.csv").open(newline="") as f:
        rows = {r["student"]: float(r["score"]) for r in csv.DictReader(f)}
    assert rows == {"model": 4.0, "half": 3.0, "wrong": 0.0}
