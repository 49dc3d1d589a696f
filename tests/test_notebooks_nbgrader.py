"""nbgrader cell metadata in notebook sources (kmemlab.notebooks) and in the exercise
notebooks: answer cells are solution cells with BEGIN/END SOLUTION markers, check cells
are locked autograded cells with points, grade_ids are unique."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from kmemlab import notebooks as nbsrc

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISE_NBS = sorted((NB_DIR / "exercises").glob("*.ipynb"))

SRC = """# T
```python nbgrader solution grade_id=a1
### BEGIN SOLUTION
x = 1
### END SOLUTION
```
```python nbgrader grade_id=t1 points=3
assert x == 1
```
```python
y = 2
```
"""


def test_fence_options_become_nbgrader_metadata():
    nb = nbformat.reads(nbsrc.render(SRC, "x")["en"], as_version=4)
    sol, test, plain = [c for c in nb.cells if c.cell_type == "code"]
    assert sol.metadata.nbgrader == {"grade": False, "grade_id": "a1", "locked": False,
                                     "schema_version": 3, "solution": True, "task": False}
    assert test.metadata.nbgrader == {"grade": True, "grade_id": "t1", "locked": True, "points": 3,
                                      "schema_version": 3, "solution": False, "task": False}
    assert "nbgrader" not in plain.metadata
    assert sol.metadata.slideshow.slide_type == "-"


@pytest.mark.parametrize("fence, message", [
    ("```python nbgrader points=1", "needs grade_id"),
    ("```python nbgrader grade_id=a solution points=1", "either 'solution' or has 'points=N'"),
    ("```python nbgrader grade_id=a", "either 'solution' or has 'points=N'"),
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


def test_sources_in_a_subfolder_build_into_that_folder(tmp_path):
    (tmp_path / "src" / "exercises").mkdir(parents=True)
    (tmp_path / "src" / "exercises" / "01-e.md").write_text(SRC, encoding="utf-8")
    assert nbsrc.build(tmp_path) == [tmp_path / "exercises" / "01-e.ipynb"]
    nb = nbformat.read(tmp_path / "exercises" / "01-e.ipynb", as_version=4)
    assert nb.metadata.kmemlab.generated_from == "src/exercises/01-e.md"


def test_there_are_exercise_notebooks():
    assert len(EXERCISE_NBS) >= 2


@pytest.mark.parametrize("path", EXERCISE_NBS, ids=[p.name for p in EXERCISE_NBS])
def test_exercise_notebook_pairs_solution_cells_with_locked_graded_checks(path):
    nb = nbformat.read(path, as_version=4)
    graded = [c for c in nb.cells if "nbgrader" in c.metadata]
    sols = [c for c in graded if c.metadata.nbgrader.solution]
    tests = [c for c in graded if c.metadata.nbgrader.grade]
    assert sols and len(sols) == len(tests)
    ids = [c.metadata.nbgrader.grade_id for c in graded]
    assert len(ids) == len(set(ids))
    for c in sols:
        assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source
        assert not c.metadata.nbgrader.locked
    for c in tests:
        assert c.metadata.nbgrader.locked and c.metadata.nbgrader.points > 0
        assert ".check(" in c.source and "assert result" in c.source
