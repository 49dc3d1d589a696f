"""The assign/grade pipeline (issue 8, kmemlab.grading): the students' version has no
solutions but the very checks and metadata; roster seeds are per student and
reproducible; grading made-up submissions (model answers, a wrong part, a crash, an
infinite loop, a deleted / tampered test cell, tampered metadata, a changed seed, a file
that is not a notebook, a missing one) gives the points the real checks give."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from kmemlab import grading
from kmemlab.cli import main

REPO = Path(__file__).resolve().parent.parent
NB = REPO / "notebooks" / "exercises" / "02-vmalloc-and-page-tables.ipynb"   # the smaller one
NAME = NB.stem
CHECKS = {"vmalloc-size-check": 3, "pt-translate-check": 2}


def _cells(nb, kind):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get(kind)]


def _by_gid(nb, gid):
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
    return cell


# -- assign -------------------------------------------------------------------------

def test_strip_solutions_replaces_each_region_by_the_stub_at_its_indentation():
    src = "a = 1\nif a:\n    ### BEGIN SOLUTION\n    b = 2\n    ### END SOLUTION\nc = 3"
    assert grading.strip_solutions(src) == (
        "a = 1\nif a:\n    # YOUR CODE HERE\n    raise NotImplementedError()\nc = 3")
    assert grading.strip_solutions("x = 42") == grading.STUB     # no markers: the whole cell
    with pytest.raises(ValueError, match="not closed"):
        grading.strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="without"):
        grading.strip_solutions("x = 1\n### END SOLUTION")


def test_assign_strips_solutions_and_keeps_checks_and_metadata(tmp_path):
    manifest = grading.assign([NB], tmp_path / "rel")
    src = nbformat.read(NB, as_version=4)
    rel = nbformat.read(tmp_path / "rel" / NB.name, as_version=4)
    assert [c.id for c in rel.cells] == [c.id for c in src.cells]
    for s, r in zip(src.cells, rel.cells):
        assert r.metadata == s.metadata
        if s.metadata.get("nbgrader", {}).get("solution"):
            assert "BEGIN SOLUTION" not in r.source and "raise NotImplementedError()" in r.source
            body = s.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            assert all(ln not in r.source for ln in body.splitlines() if ln.strip())
        else:
            assert r.source == s.source          # questions, checks, SEED = 42 unchanged
        if r.cell_type == "code":
            assert r.outputs == [] and r.execution_count is None
    entry = manifest["notebooks"][NAME]
    tests = {c["grade_id"]: c for c in entry["cells"] if c["kind"] == "test"}
    assert {g: c["points"] for g, c in tests.items()} == CHECKS
    assert entry["max_points"] == sum(CHECKS.values())
    for gid, c in tests.items():
        assert c["source"] == _by_gid(src, gid).source and ".check(" in c["source"]
        assert c["sha256"] == grading._sha(c["source"])
    assert json.loads((tmp_path / "rel" / "manifest.json").read_text()) == manifest
    assert manifest["students"] is None


def _seed_of(path) -> int:
    nb = nbformat.read(path, as_version=4)
    (line,) = [ln for c in nb.cells for ln in c.source.splitlines() if ln.startswith("SEED =")]
    return int(line.split("=")[1].split("#")[0])


def test_roster_gives_each_student_a_seed_of_their_own_reproducibly(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,seed\nana,7\nbo,\nchen,\ndee,\n", encoding="utf-8")
    m1 = grading.assign([NB], tmp_path / "a", roster=roster)
    m2 = grading.assign([NB], tmp_path / "b", roster=roster)
    seeds = {s: _seed_of(tmp_path / "a" / s / NB.name) for s in ("ana", "bo", "chen", "dee")}
    assert seeds["ana"] == 7 and len(set(seeds.values())) == 4
    assert seeds == m1["students"] == m2["students"]
    assert all(seeds[s] == grading.seed_for(s) for s in ("bo", "chen", "dee"))
    for s in seeds:       # byte for byte the same release twice
        assert (tmp_path / "a" / s / NB.name).read_bytes() == (tmp_path / "b" / s / NB.name).read_bytes()
    # not Python's salted hash(): another process with another hash seed agrees
    code = "from kmemlab.grading import seed_for; print(seed_for('bo'), seed_for('chen'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="12345")).stdout
    assert out.split() == [str(seeds["bo"]), str(seeds["chen"])]


@pytest.mark.parametrize("text, message", [
    ("name,seed\nana,1\n", "student_id column"),
    ("student_id\nana\nana\n", "appears twice"),
    ("student_id,seed\nana,seven\n", "whole number"),
    ("student_id\n../evil\n", "cannot be a folder name"),
    ("student_id\n", "no students"),
])
def test_bad_rosters_say_what_is_wrong(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        grading.read_roster(tmp_path / "r.csv")


def test_a_roster_needs_a_seed_line_in_the_notebook(tmp_path):
    nb = nbformat.read(NB, as_version=4)
    for c in nb.cells:
        c.source = c.source.replace("SEED = 42", "S = 42")
    nbformat.write(nb, tmp_path / "noseed.ipynb")
    with pytest.raises(ValueError, match="SEED = <number>"):
        grading.assign([tmp_path / "noseed.ipynb"], tmp_path / "rel", roster={"ana": 1})
    assert not (tmp_path / "rel").exists()        # nothing half-written


def test_cli_assign_writes_the_release(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("student_id\nana\nbo\n", encoding="utf-8")
    assert main(["assign", str(NB), "-o", str(tmp_path / "rel"), "--roster", str(tmp_path / "r.csv")]) == 0
    assert "5 points" in capsys.readouterr().out
    assert (tmp_path / "rel" / "ana" / NB.name).is_file() and (tmp_path / "rel" / "manifest.json").is_file()
    assert main(["assign", str(tmp_path / "missing.ipynb"), "-o", str(tmp_path / "x")]) == 2
    assert "no such notebook" in capsys.readouterr().err


# -- grade --------------------------------------------------------------------------

STUDENTS = ["model", "partial", "crash", "dies", "loop", "deleted", "tampered", "meta", "reseed",
            "badjson", "absent"]


def _answered(rel_nb, src_nb, **answers):
    """A student's notebook: their release with the model answers filled in, some
    answer cells replaced by ``answers`` (grade_id -> source)."""
    nb = copy.deepcopy(rel_nb)
    for c in _cells(nb, "solution"):
        gid = c.metadata.nbgrader.grade_id
        c.source = answers.get(gid, _by_gid(src_nb, gid).source)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    # the grading kernels must import this checkout's kmemlab whether it is installed
    # (./run test) or only on PYTHONPATH (a bare checkout), as tests/test_notebooks.py does
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([old] if old else []))
    try:
        yield _graded(tmp_path_factory)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def _graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    roster = tmp / "roster.csv"
    roster.write_text("student_id\n" + "\n".join(STUDENTS) + "\n", encoding="utf-8")
    assert main(["assign", str(NB), "-o", str(tmp / "release"), "--roster", str(roster)]) == 0
    src = nbformat.read(NB, as_version=4)
    wrong2 = 'answer2 = {"index": 0, "phys": 0}'
    wrong1 = 'answer1 = {"pages": 0, "size": 0, "pte_tables": 0}'
    subs = {}
    for s in STUDENTS:
        rel = nbformat.read(tmp / "release" / s / NB.name, as_version=4)
        subs[s] = _answered(rel, src)
    subs["partial"] = _answered(rel, src, **{"pt-translate-answer": wrong2})
    subs["crash"] = _answered(rel, src, **{"vmalloc-size-answer": 'raise RuntimeError("oops")'})
    subs["dies"] = _answered(rel, src, **{"vmalloc-size-answer": "import os\nos._exit(1)"})
    subs["loop"] = _answered(rel, src, **{"vmalloc-size-answer": "while True:\n    pass"})
    nb = _answered(rel, src, **{"vmalloc-size-answer": wrong1})
    nb.cells.remove(_by_gid(nb, "vmalloc-size-check"))
    subs["deleted"] = nb
    nb = _answered(rel, src, **{"pt-translate-answer": wrong2})
    _by_gid(nb, "pt-translate-check").source = "assert True"
    subs["tampered"] = nb
    nb = _answered(rel, src, **{"vmalloc-size-answer": wrong1})
    _by_gid(nb, "pt-translate-check").metadata.nbgrader.points = 100
    cheat = _by_gid(nb, "vmalloc-size-check")
    cheat.metadata.nbgrader.update(grade=False, locked=False)
    cheat.source = "answer1 = None  # no check here"
    subs["meta"] = nb
    nb = subs["reseed"]
    for c in nb.cells:
        c.source = c.source.replace(f"SEED = {_seed_of(tmp / 'release' / 'reseed' / NB.name)}", "SEED = 1")
    for s in STUDENTS:
        if s in ("badjson", "absent"):
            continue
        (tmp / "subs" / s).mkdir(parents=True)
        nbformat.write(subs[s], tmp / "subs" / s / NB.name)
    (tmp / "subs" / "badjson").mkdir()
    (tmp / "subs" / "badjson" / NB.name).write_text('{"cells": [', encoding="utf-8")
    assert main(["grade", str(tmp / "release"), str(tmp / "subs"), "-o", str(tmp / "grades.csv"),
                 "--timeout", "5", "--jobs", "2"]) == 0
    with (tmp / "grades.csv").open(newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return tmp, rows


EXPECTED = {"model": 5, "partial": 3, "crash": 2, "dies": 0, "loop": 2, "deleted": 2, "tampered": 3,
            "meta": 2, "reseed": 5, "badjson": 0, "absent": 0}


def test_grades_csv_has_the_points_the_real_checks_give(graded):
    _, rows = graded
    assert sorted(rows) == sorted(STUDENTS)
    assert {s: float(r["score"]) for s, r in rows.items()} == EXPECTED
    assert all(r["max"] == "5" and r["notebook"] == NAME for r in rows.values())
    assert rows["model"]["notes"] == ""


@pytest.mark.parametrize("student, notes", [
    ("partial", ["failed: pt-translate-check"]),
    ("crash", ["failed: vmalloc-size-check"]),
    ("dies", ["kernel died in cell 4 (vmalloc-size-answer); 4 later cell(s) not run"]),
    ("loop", ["failed: vmalloc-size-check", "cell 4 (vmalloc-size-answer) timed out after 5 s"]),
    ("deleted", ["test cell vmalloc-size-check deleted: restored from the release"]),
    ("tampered", ["test cell pt-translate-check modified: restored from the release"]),
    ("meta", ["test cell pt-translate-check metadata modified: restored from the release",
              "test cell vmalloc-size-check modified and metadata modified: restored from the release"]),
    ("reseed", ["modified: restored from the release"]),
    ("badjson", ["not a readable notebook"]),
    ("absent", ["not submitted"]),
])
def test_grades_csv_notes_say_why(graded, student, notes):
    _, rows = graded
    for n in notes:
        assert n in rows[student]["notes"], rows[student]["notes"]


def test_feedback_notebook_is_the_executed_submission_with_a_summary_on_top(graded):
    tmp, _ = graded
    fb = nbformat.read(tmp / "feedback" / "partial" / NB.name, as_version=4)
    head = fb.cells[0]
    assert head.cell_type == "markdown" and head.source.startswith("# Grade: 3 / 5 points")
    assert "| `pt-translate-check` | 0 / 2 | failed | AssertionError: FAIL pt-translate" in head.source
    check = _by_gid(fb, "vmalloc-size-check")
    assert check.execution_count and not any(o.output_type == "error" for o in check.outputs)
    # the loop was interrupted and the notebook ran on
    fb = nbformat.read(tmp / "feedback" / "loop" / NB.name, as_version=4)
    ans = _by_gid(fb, "vmalloc-size-answer")
    assert any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in ans.outputs)
    assert "| timeout |" not in fb.cells[0].source      # the check itself failed, not timed out
    assert not any(o.output_type == "error" for o in _by_gid(fb, "pt-translate-check").outputs)
    # a deleted check goes back where it was: right after its answer cell
    fb = nbformat.read(tmp / "feedback" / "deleted" / NB.name, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in fb.cells]
    assert ids.index("vmalloc-size-check") == ids.index("vmalloc-size-answer") + 1
    assert "| `vmalloc-size-check` | 0 / 3 | failed |" in fb.cells[0].source
    # a dead kernel: the checks after it are "not run"
    fb = nbformat.read(tmp / "feedback" / "dies" / NB.name, as_version=4)
    assert "| `pt-translate-check` | 0 / 2 | not run |" in fb.cells[0].source
    # the roster's seed was put back
    assert _seed_of(tmp / "feedback" / "reseed" / NB.name) == grading.seed_for("reseed")
    assert nbformat.read(tmp / "feedback" / "badjson" / NB.name, as_version=4).cells[0].source.startswith(
        "# Grade: 0 / 5 points")


def test_grade_without_a_release_folder_says_what_to_pass(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    assert main(["grade", str(tmp_path), str(tmp_path / "subs"), "-o", str(tmp_path / "g.csv")]) == 2
    assert "manifest.json" in capsys.readouterr().err
