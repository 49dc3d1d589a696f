"""kmemlab assign / kmemlab grade (issue 15): the students' release has no solutions and no
manifest; seeds are HMAC(course key, student id); the manifest is signed; answer records,
CSV cells, file names and option values are read as a hostile student would write them;
grading the shipped exercise notebook in sandboxes gives the points the answers deserve,
on kmemlab's and on nbgrader's folder layout. (The attack table is in
tests/test_grading_attacks.py.)"""

from __future__ import annotations

import copy
import csv
import json
import os
from pathlib import Path

import nbformat
import pytest

import kmemlab as km
from kmemlab import grading
from kmemlab.cli import main
from kmemlab.exercises import CourseKey
from kmemlab.grading import grader as G
from kmemlab.grading.release import nbgrader_meta

REPO = Path(__file__).resolve().parent.parent
INSTRUCTOR = REPO / "notebooks" / "instructor" / "exercises" / "02-vmalloc-and-page-tables.instructor.ipynb"
NAME = "02-vmalloc-and-page-tables"
KEY = CourseKey(b"grading-tests-key" * 2, "the tests' key")
QUESTIONS = {"pt-translate-check": 2, "choose-allocator-check": 2}


def _key_file(tmp_path) -> Path:
    path = tmp_path / "course.key"
    path.write_text(f"kmemlab-course-key/1 {KEY._secret.hex()}\n")
    return path


def _by_gid(nb, gid):
    (cell,) = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == gid]
    return cell


def _solution_lines(nb) -> list[str]:
    out = []
    for c in nb.cells:
        if nbgrader_meta(c).get("solution"):
            body = c.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            out += [ln.strip() for ln in body.splitlines() if len(ln.strip()) > 12]
    return out


# -- assign -------------------------------------------------------------------------

def test_strip_solutions_replaces_each_region_by_the_stub_at_its_indentation():
    src = "a = ...\nif a:\n    ### BEGIN SOLUTION\n    b = 2\n    ### END SOLUTION\nc = 3"
    assert grading.strip_solutions(src) == "a = ...\nif a:\n    # YOUR CODE HERE\nc = 3"
    assert grading.strip_solutions("x = 42") == grading.STUB
    with pytest.raises(ValueError, match="not closed"):
        grading.strip_solutions("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="without"):
        grading.strip_solutions("x = 1\n### END SOLUTION")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("release")
    key = _key_file(tmp)
    (tmp / "roster.csv").write_text("student_id\nana\nbo\nchen\n", encoding="utf-8")
    assert main(["assign", str(INSTRUCTOR), "-o", str(tmp / "rel"), "--roster", str(tmp / "roster.csv"),
                 "--key", str(key)]) == 0
    return tmp


def test_the_release_holds_no_solution_and_no_manifest(released):
    src = nbformat.read(INSTRUCTOR, as_version=4)
    secret = _solution_lines(src)
    assert len(secret) >= 5
    files = sorted((released / "rel").rglob("*"))
    assert {p.name for p in files if p.is_file()} == {f"{NAME}.ipynb"}
    assert {p.parent.name for p in files if p.is_file()} == {"ana", "bo", "chen", grading.HUB_FOLDER}
    for p in files:
        if p.is_file():
            text = p.read_text()
            assert not [ln for ln in secret if ln in text], p
            assert "BEGIN SOLUTION" not in text and "Instructor" not in text
    assert (released / "rel.manifest.json").is_file()


def test_each_student_gets_the_hmac_seed_and_the_hub_copy_a_table(released):
    for sid in ("ana", "bo", "chen"):
        nb = nbformat.read(released / "rel" / sid / f"{NAME}.ipynb", as_version=4)
        assert f"SEED = {KEY.seed_for(sid)}  #" in _by_gid(nb, "seed").source
    hub = _by_gid(nbformat.read(released / "rel" / grading.HUB_FOLDER / f"{NAME}.ipynb", as_version=4), "seed")
    table = json.loads(hub.source.split("student_seed(")[1].split(")")[0])
    assert table == {s: KEY.seed_for(s) for s in ("ana", "bo", "chen")}
    # the hub copy draws, for a login, exactly that student's problems
    ns = {}
    code = hub.source.replace("km.exercises.catalog()", "")
    os.environ["JUPYTERHUB_USER"] = "bo"
    try:
        exec(code, ns)
    finally:
        del os.environ["JUPYTERHUB_USER"]
    assert ns["SEED"] == KEY.seed_for("bo")


def test_the_manifest_is_signed_and_a_changed_one_is_refused(released, tmp_path):
    path = released / "rel.manifest.json"
    manifest = grading.load_manifest(path, KEY)
    entry = manifest["notebooks"][NAME]
    assert {q["grade_id"]: q["points"] for q in entry["questions"]} == QUESTIONS
    assert {q["exercise"] for q in entry["questions"]} == {"pt-translate", "choose-allocator"}
    assert manifest["students"] == ["ana", "bo", "chen"] and "seed" not in json.dumps(manifest["students"])
    assert grading.load_manifest(released / "rel", KEY) == manifest        # the folder works too
    bad = copy.deepcopy(manifest)
    bad["notebooks"][NAME]["questions"][0]["points"] = 100
    (tmp_path / "m.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="signature does not match"):
        grading.load_manifest(tmp_path / "m.json", KEY)
    with pytest.raises(ValueError, match="signature does not match"):
        grading.load_manifest(path, CourseKey(b"another course's key!"))


@pytest.mark.parametrize("text, message", [
    ("name\nana\n", "student_id column"),
    ("student_id\nana\nana\n", "appears twice"),
    ("student_id,seed\nana,7\n", "seed column is not used"),
    ("student_id\n../evil\n", "cannot be a folder name"),
    ("student_id\n=1+1\n", "cannot be a folder name"),
    ("student_id\n_jupyterhub\n", "cannot be a folder name"),
    ("student_id\n", "no students"),
])
def test_bad_rosters_say_what_is_wrong(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        grading.read_roster(tmp_path / "r.csv")


def test_assign_refuses_what_it_cannot_grade_honestly(tmp_path):
    nb = nbformat.read(INSTRUCTOR, as_version=4)
    del _by_gid(nb, "pt-translate-check").metadata["kmemlab"]
    nbformat.write(nb, tmp_path / "x.ipynb")
    with pytest.raises(ValueError, match="kmemlab grades only answers it can recompute"):
        grading.assign([tmp_path / "x.ipynb"], tmp_path / "rel", ["ana"], KEY)
    with pytest.raises(ValueError, match="inside the release"):
        grading.assign([INSTRUCTOR], tmp_path / "rel", ["ana"], KEY, manifest=tmp_path / "rel" / "m.json")
    with pytest.raises(ValueError, match="needs a roster"):
        grading.assign([INSTRUCTOR], tmp_path / "rel", [], KEY)
    assert not (tmp_path / "rel").exists()          # nothing half-written


def test_assign_writes_a_new_key_once_and_then_reuses_it(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("student_id\nana\n")
    key = tmp_path / "k.key"
    assert main(["assign", str(INSTRUCTOR), "-o", str(tmp_path / "a"), "--roster", str(tmp_path / "r.csv"),
                 "--key", str(key)]) == 0
    assert "wrote a new course key" in capsys.readouterr().err and oct(key.stat().st_mode & 0o777) == "0o600"
    first = key.read_text()
    assert main(["assign", str(INSTRUCTOR), "-o", str(tmp_path / "b"), "--roster", str(tmp_path / "r.csv"),
                 "--key", str(key)]) == 0
    assert key.read_text() == first
    assert (tmp_path / "a" / "ana" / f"{NAME}.ipynb").read_bytes() == (tmp_path / "b" / "ana" / f"{NAME}.ipynb").read_bytes()


# -- reading what students wrote ------------------------------------------------------

def test_answer_records_are_plain_json_and_the_last_one_wins():
    rec = {"format": "kmemlab-answer/1", "exercise": "kmalloc-cache", "seed": 1, "answer": [1, 2],
           "checks": 3, "hints": 0}
    lines = [json.dumps(rec), "not json", json.dumps([1]), json.dumps(dict(rec, exercise="nope")),
             json.dumps(dict(rec, seed=True)), "[" * 100000, json.dumps(dict(rec, answer="second", checks=-4)),
             "x" * 200000]
    records, notes = grading.parse_answers("\n".join(lines).encode())
    assert records["kmalloc-cache"]["answer"] == "second" and records["kmalloc-cache"]["checks"] == 0
    assert notes == ["6 line(s) of the answer file were not answer records and were ignored"]
    _, notes = grading.parse_answers(b"\n" * (2 << 20))
    assert "larger than 1 MiB" in notes[0]


def test_a_question_is_graded_on_the_students_own_seed_with_notes():
    q = {"grade_id": "g", "exercise": "kmalloc-cache", "points": 2}
    right = km.exercise("kmalloc-cache", seed=5).solution(key=KEY).answer
    rec = {"seed": 5, "answer": right, "checks": 1}
    assert G.check_question(q, 5, rec).points == 2
    other = G.check_question(q, 6, rec)                 # handed in seed 5's answer, is student 6
    assert other.points < 2 and "graded on your own seed 6" in " ".join(other.feedback)
    brute = G.check_question(q, 5, dict(rec, checks=500))
    assert brute.points == 2 and "self-checked 500 times" in " ".join(brute.feedback)
    none = G.check_question(q, 5, None)
    assert none.points == 0 and none.status == "no answer"
    odd = G.check_question(q, 5, dict(rec, answer={"cache": {"__class__": 1}, "waste": [[[]]]}))
    assert odd.points == 0 and odd.status == "failed"


@pytest.mark.parametrize("value, cell", [("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2", "'-2"),
                                         ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("ana", "ana"), ("4", "4")])
def test_csv_cells_are_escaped_against_formula_injection(value, cell):
    assert grading.csv_cell(value) == cell


def test_names_a_student_chose_cannot_drive_the_terminal():
    assert G._tty("ana\x1b[2J\x1b[Hbo\n") == "ana\\x1b[2J\\x1b[Hbo\\n"


def test_submissions_that_are_not_plain_files_inside_the_folder_are_refused(tmp_path):
    subs = tmp_path / "subs"
    (subs / "fifo").mkdir(parents=True)
    os.mkfifo(subs / "fifo" / "nb.ipynb")
    (subs / "link").mkdir()
    (subs / "link" / "nb.ipynb").symlink_to("/etc/passwd")
    (subs / "dev").mkdir()
    (subs / "dev" / "nb.ipynb").symlink_to("/dev/zero")
    (subs / "inside").mkdir()
    (subs / "inside" / "real.ipynb").write_text("{}")
    (subs / "inside" / "nb.ipynb").symlink_to("real.ipynb")
    (tmp_path / "elsewhere").mkdir()
    (subs / "away").symlink_to(tmp_path / "elsewhere")
    (subs / "nbg" / "ps1").mkdir(parents=True)
    (subs / "nbg" / "ps1" / "nb.ipynb").write_text("{}")
    (subs / "file").write_text("x")
    got = {s: G._locate(subs, s, "nb", "ps1") for s in ("fifo", "link", "dev", "inside", "away", "nbg",
                                                           "file", "missing")}
    assert got["fifo"] == (None, "refused: nb.ipynb is a FIFO")
    assert got["link"][1] == got["dev"][1] == "refused: nb.ipynb is a symlink leaving the student's folder"
    assert got["inside"] == (os.path.realpath(subs / "inside" / "real.ipynb"), "")
    assert "symlink leaving the submissions folder" in got["away"][1]
    assert got["nbg"] == (str(subs / "nbg" / "ps1" / "nb.ipynb"), "")      # nbgrader's layout
    assert "not a folder" in got["file"][1] and got["missing"] == (None, "absent")
    big = subs / "inside" / "big.ipynb"
    with big.open("wb") as f:
        f.truncate(G.MAX_NOTEBOOK_BYTES + 1)
    with pytest.raises(ValueError, match="at most 16 MiB"):
        G._read_notebook(str(big))


# -- options ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--timeout", "0.5"], "--timeout must be a number from 1 to 3600"),
    (["--memory", "12"], "--memory must be a number from"),
    (["--memory", "lots"], "--memory must be a size like 512M"),
    (["--wall", "1"], "--wall must be 5 .. 86400"),
    (["--jobs", "0"], "jobs must be a whole number from 1 to 64"),
])
def test_bad_option_values_are_refused_clearly(released, tmp_path, capsys, argv, message):
    (tmp_path / "subs").mkdir()
    assert main(["grade", str(released / "rel.manifest.json"), str(tmp_path / "subs"), "-o",
                 str(tmp_path / "g.csv"), "--key", str(_key_file(tmp_path))] + argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_a_non_number_timeout_is_an_argparse_error(capsys):
    assert main(["grade", "m", "s", "-o", "g.csv", "--key", "k", "--timeout", "abc"]) == 2
    assert "invalid float value: 'abc'" in capsys.readouterr().err


def test_without_a_sandbox_grade_refuses_and_says_why(released, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(G, "sandbox_problem", lambda: "bubblewrap is not installed (test)")
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    assert main(["grade", str(released / "rel.manifest.json"), str(tmp_path / "subs"), "-o",
                 str(tmp_path / "g.csv"), "--key", str(_key_file(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "bubblewrap is not installed" in err and "--unsafe-no-sandbox" in err


def test_grade_with_the_old_release_layout_says_what_to_do(tmp_path, capsys):
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "manifest.json").write_text("{}")
    (tmp_path / "subs").mkdir()
    assert main(["grade", str(tmp_path / "rel"), str(tmp_path / "subs"), "-o", str(tmp_path / "g.csv"),
                 "--key", str(_key_file(tmp_path))]) == 2
    assert "old release layout" in capsys.readouterr().err


# -- grading the shipped notebook -------------------------------------------------------

def _model(released, sid):
    """``sid``'s release with the instructor's answer cells filled in."""
    src = nbformat.read(INSTRUCTOR, as_version=4)
    nb = nbformat.read(released / "rel" / sid / f"{NAME}.ipynb", as_version=4)
    for c in nb.cells:
        if nbgrader_meta(c).get("solution"):
            c.source = _by_gid(src, nbgrader_meta(c)["grade_id"]).source
    return nb


needs_sandbox = pytest.mark.skipif(bool(grading.sandbox_problem()) and not os.environ.get("CI"),
                                   reason=f"no sandbox here: {grading.sandbox_problem()}")


@needs_sandbox
def test_grading_the_shipped_notebook_on_both_folder_layouts(released, tmp_path, capsys):
    subs = tmp_path / "subs"
    nb = _model(released, "ana")
    (subs / "ana").mkdir(parents=True)
    nbformat.write(nb, subs / "ana" / f"{NAME}.ipynb")
    # bo hands in through nbgrader's layout, with chen's seed pasted into the seed cell
    nb = _model(released, "chen")
    (subs / "bo" / "rel").mkdir(parents=True)
    nbformat.write(nb, subs / "bo" / "rel" / f"{NAME}.ipynb")
    status = main(["grade", str(released / "rel.manifest.json"), str(subs), "-o", str(tmp_path / "g.csv"),
                   "--key", str(_key_file(tmp_path)), "--timeout", "2.5"])
    out = capsys.readouterr()
    assert status == 0, out
    assert "graded 2 submission(s)" in out.out and "1 not submitted" in out.out
    assert "grade [" in out.err and "ana/02-vmalloc" in out.err           # progress, one line each
    with (tmp_path / "g.csv").open(newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["ana"]["score"] == "4" and rows["ana"]["notes"] == ""
    assert rows["chen"]["status"] == "absent" and rows["chen"]["notes"] == "not submitted"
    assert "seed cell modified: restored with your own seed" in rows["bo"]["notes"]
    # put back with bo's own seed, the notebook's answer cells computed bo's problems
    assert rows["bo"]["score"] == "4"
    fb = nbformat.read(tmp_path / "feedback" / "ana" / f"{NAME}.ipynb", as_version=4)
    assert fb.cells[0].source.startswith("# Grade: 4 / 4 points")
    i = next(i for i, c in enumerate(fb.cells) if nbgrader_meta(c).get("grade_id") == "pt-translate-check")
    assert fb.cells[i + 1].source.startswith("**kmemlab grader: 2 / 2 points (passed)**")
    assert f"SEED = {KEY.seed_for('ana')}" in _by_gid(fb, "seed").source


@needs_sandbox
def test_unsafe_mode_grades_alike_and_warns(released, tmp_path, capsys):
    subs = tmp_path / "subs"
    (subs / "ana").mkdir(parents=True)
    nbformat.write(_model(released, "ana"), subs / "ana" / f"{NAME}.ipynb")
    assert main(["grade", str(released / "rel.manifest.json"), str(subs), "-o", str(tmp_path / "g.csv"),
                 "--key", str(_key_file(tmp_path)), "--unsafe-no-sandbox"]) == 0
    assert "submissions ran with the grader's rights" in capsys.readouterr().out
    with (tmp_path / "g.csv").open(newline="") as f:
        assert {r["student"]: r["score"] for r in csv.DictReader(f)}["ana"] == "4"


def test_no_submission_at_all_is_a_failure(released, tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    status = main(["grade", str(released / "rel.manifest.json"), str(tmp_path / "subs"), "-o",
                   str(tmp_path / "g.csv"), "--key", str(_key_file(tmp_path)), "--unsafe-no-sandbox"])
    assert status == 1 and "no submission was found" in capsys.readouterr().out
    with (tmp_path / "g.csv").open(newline="") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["absent"] * 3


def test_the_docs_say_plainly_what_is_not_supported_and_what_the_key_cannot_do():
    doc = (REPO / "docs" / "grading.md").read_text(encoding="utf-8")
    otter = doc.split("## otter-grader", 1)[1].split("\n## ", 1)[0]
    assert "Not supported" in otter and "Do not run `otter assign`" in otter
    assert "simulator" in doc and "can always *compute*" in doc and "practice" in doc
    assert "--unsafe-no-sandbox" in doc and "bubblewrap" in doc


def test_cli_key_new_writes_a_private_key_once(tmp_path, capsys):
    assert main(["key", "new", str(tmp_path / "c.key")]) == 0
    assert "keep it secret" in capsys.readouterr().out
    assert CourseKey.load(tmp_path / "c.key").seed_for("ana") >= 0
    assert main(["key", "new", str(tmp_path / "c.key")]) == 2
    assert "never overwritten" in capsys.readouterr().err
