"""Release the exercise notebooks to students and autograde what they hand back.

This is nbgrader's ``assign`` / ``autograde`` in small, for the kmemlab exercise notebooks
(issue 8). Think of a paper exam: the teacher's copy has the answers; the students' copies
have blank boxes where the answers were, the marking scheme stays in the teacher's drawer,
and when the papers come back the teacher marks them against *that* scheme, not against
whatever a student may have scribbled over the printed questions.

``assign(sources, out, roster=None)``
    For every source notebook (cells with nbgrader metadata, see :mod:`kmemlab.notebooks`)
    write a release notebook: each ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` region is
    replaced by :data:`STUB`, outputs are cleared, locked test cells keep their source and
    metadata. With a roster (CSV with ``student_id`` and optionally ``seed``) every student
    gets a folder ``out/<student_id>/`` whose notebooks draw that student's problems: the
    first code cell with a ``SEED = <int>`` line gets the student's seed (from the CSV, or
    :func:`seed_for` of the id when the CSV has none). ``out/manifest.json`` records what was
    released: per notebook the grade ids, points and the source and sha256 of each locked cell.

``grade(release, submissions, out_csv)``
    For every ``submissions/<student>/<notebook>.ipynb``: the submitted cells are kept, but
    every locked test cell (and, with a roster, the seed cell) is put back as released —
    a modified or deleted test cell is restored (and noted) — so a submission cannot raise
    its score by editing the checks or its seed. The notebook then runs headless in a fresh
    kernel (nbclient) with a per-cell timeout; errors do not stop the run (a cell that loops
    is interrupted and counts as an error); a test cell scores its points when it ran
    without error (all or nothing per cell, as in nbgrader). The result is one CSV row per
    (student, notebook) and a feedback notebook per submission: the executed notebook with
    a summary cell on top. A submission that is not even a notebook, or crashes the kernel,
    is graded on what can be graded with the reason in ``notes``; it never stops the run.

Simplifications: no gradebook database, no manual grading, no hidden test cells that the
students never see (the check a student runs is the very check the grader runs, as in
otter-grader); the grader runs student code with the grader's own rights, so run it in a
container or a throw-away account.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["assign", "grade", "grade_submission", "strip_solutions", "read_roster", "seed_for",
           "release_notebook", "GradeResult", "CheckOutcome", "STUB", "MANIFEST", "FORMAT"]

#: what replaces a solution region in the students' version (nbgrader's code stub)
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: what replaces a Markdown solution cell
MARKDOWN_STUB = "YOUR ANSWER HERE"
MANIFEST = "manifest.json"
FORMAT = "kmemlab-release/1"

_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
# the line of an exercise notebook that draws the problems: ``SEED = 42  # your student number``
_SEED_LINE = re.compile(r"^(?P<head>SEED\s*=\s*)(?P<seed>\d+)(?P<tail>.*)$", re.M)
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
_SEED_MAX = 2 ** 63          # kmemlab.exercises.Exercise accepts seeds 0 .. 2**63-1


# -- assign ---------------------------------------------------------------------------

def strip_solutions(source: str, where: str = "cell") -> str:
    """The students' version of an answer cell: every ``### BEGIN SOLUTION`` ..
    ``### END SOLUTION`` region becomes :data:`STUB` at the region's indentation (what
    nbgrader's ClearSolutions does); a cell without markers becomes the stub entirely."""
    lines = source.splitlines()
    if not any(ln.strip() == _BEGIN for ln in lines):
        if any(ln.strip() == _END for ln in lines):
            raise ValueError(f"{where}: {_END!r} without {_BEGIN!r}")
        return STUB
    out: list[str] = []
    inside = False
    for ln in lines:
        if ln.strip() == _BEGIN:
            if inside:
                raise ValueError(f"{where}: {_BEGIN!r} inside another solution region")
            inside = True
            indent = ln[:len(ln) - len(ln.lstrip())]
            out += [indent + s for s in STUB.splitlines()]
        elif ln.strip() == _END:
            if not inside:
                raise ValueError(f"{where}: {_END!r} without {_BEGIN!r}")
            inside = False
        elif not inside:
            out.append(ln)
    if inside:
        raise ValueError(f"{where}: {_BEGIN!r} is not closed by {_END!r}")
    return "\n".join(out)


def seed_for(student_id: str) -> int:
    """The seed of a student the roster gives none: the first 4 bytes of
    SHA-256("kmemlab-seed:" + id), below 2**31 — the same on every machine and Python
    (unlike ``hash()``, which is salted per process)."""
    digest = hashlib.sha256(f"kmemlab-seed:{student_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def read_roster(path) -> dict[str, int]:
    """``student_id[,seed]`` CSV -> {student_id: seed}, in file order. Ids become folder
    names, so they must be plain (letters, digits, ``_ . @ -``) and unique."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such roster file (a CSV with a student_id column)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        if "student_id" not in cols:
            raise ValueError(f"{path}: the roster needs a header line with a student_id column "
                             f"(and optionally seed), got {cols}")
        roster: dict[str, int] = {}
        for no, row in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            sid = row.get("student_id", "")
            if not sid:
                continue
            if not _SAFE_ID.match(sid):
                raise ValueError(f"{path}:{no}: student_id {sid!r} cannot be a folder name; use "
                                 "letters, digits and _ . @ -")
            if sid in roster:
                raise ValueError(f"{path}:{no}: student_id {sid!r} appears twice")
            text = row.get("seed", "")
            if text:
                try:
                    seed = int(text, 0)
                except ValueError:
                    raise ValueError(f"{path}:{no}: seed must be a whole number, got {text!r}") from None
                if not 0 <= seed < _SEED_MAX:
                    raise ValueError(f"{path}:{no}: seed must be in 0 .. 2**63-1, got {seed}")
            else:
                seed = seed_for(sid)
            roster[sid] = seed
    if not roster:
        raise ValueError(f"{path}: the roster lists no students")
    return roster


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _nbgrader(cell) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def _seed_cell_index(nb) -> int | None:
    """The first code cell that sets ``SEED = <int>`` (how an exercise notebook learns its seed)."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and _SEED_LINE.search(c.source):
            return i
    return None


def _with_seed(source: str, seed: int) -> str:
    return _SEED_LINE.sub(lambda m: f"{m['head']}{seed}{m['tail']}", source, count=1)


def release_notebook(nb, seed: int | None = None, name: str = "notebook"):
    """The students' copy of one source notebook (a new object; ``nb`` is not changed):
    solutions stripped, outputs and execution counts cleared, nbgrader metadata kept and,
    when ``seed`` is given, the ``SEED = ...`` line set to it."""
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb.cells):
        meta = _nbgrader(c)
        if meta.get("solution"):
            if c.cell_type == "code":
                c.source = strip_solutions(c.source, f"{name} cell {i} ({meta.get('grade_id')})")
            else:
                c.source = MARKDOWN_STUB
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    if seed is not None:
        i = _seed_cell_index(nb)
        if i is None:
            raise ValueError(f"{name}: no code cell sets 'SEED = <number>', so a roster cannot "
                             "give each student a seed; add such a line to the first code cell")
        nb.cells[i].source = _with_seed(nb.cells[i].source, seed)
    return nb


def _manifest_entry(src: Path, nb, release) -> dict:
    """What grade() needs to restore and score a notebook: every cell id in order, and per
    nbgrader cell its kind, grade id, points and (for locked cells) the released source."""
    cells = []
    seed_index = _seed_cell_index(release)
    for i, c in enumerate(release.cells):
        meta = _nbgrader(c)
        if i == seed_index:
            kind = "seed"
        elif meta.get("grade") and meta.get("locked", True):
            kind = "test"
        elif meta.get("locked"):
            kind = "locked"
        elif meta.get("solution"):
            kind = "solution"
        else:
            continue
        entry = {"id": c.get("id"), "index": i, "kind": kind, "grade_id": meta.get("grade_id")}
        if kind == "test":
            entry["points"] = meta.get("points", 0)
        if kind in ("test", "locked", "seed"):
            entry.update(cell_type=c.cell_type, source=c.source, sha256=_sha(c.source),
                         nbgrader=meta or None)
        cells.append(entry)
    return {"source": str(src), "source_sha256": _sha(nbformat.writes(nb)),
            "order": [c.get("id") for c in release.cells], "cells": cells,
            "max_points": sum(c.get("points", 0) for c in cells if c["kind"] == "test")}


def _expand(sources) -> list[Path]:
    paths: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            paths += sorted(p.glob("*.ipynb"))
        elif p.is_file():
            paths.append(p)
        else:
            raise ValueError(f"{p}: no such notebook or folder")
    if not paths:
        raise ValueError("no source notebooks to release (pass .ipynb files or folders with them)")
    names = [p.stem for p in paths]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"two source notebooks are called {dup}: release names must be unique")
    return paths


def assign(sources, out, roster=None) -> dict:
    """Write the students' notebooks and ``out/manifest.json``; return the manifest.

    Without a roster: ``out/<name>.ipynb`` (students set ``SEED`` themselves). With one
    (a path to a CSV, or a {student_id: seed} dict): ``out/<student_id>/<name>.ipynb``."""
    out = Path(out)
    students = read_roster(roster) if isinstance(roster, (str, os.PathLike)) else roster
    manifest = {"format": FORMAT, "students": students, "notebooks": {}}
    releases = []
    for src in _expand(sources):
        try:
            nb = nbformat.read(src, as_version=4)
        except Exception as e:          # noqa: BLE001 — any unreadable file is the same mistake
            raise ValueError(f"{src}: not a readable notebook ({e})") from None
        if not any(_nbgrader(c) for c in nb.cells):
            raise ValueError(f"{src}: no cell has nbgrader metadata, so there is nothing to grade "
                             "(see kmemlab/notebooks.py for the ```python nbgrader ...``` marker)")
        release = release_notebook(nb, name=str(src))
        if students:
            release_notebook(nb, seed=0, name=str(src))      # fails early without a SEED line
        entry = _manifest_entry(src, nb, release)
        if not any(c["kind"] == "test" for c in entry["cells"]):
            raise ValueError(f"{src}: no graded test cell (```python nbgrader grade_id=... points=N```)")
        manifest["notebooks"][src.stem] = entry
        releases.append((src, nb))
    out.mkdir(parents=True, exist_ok=True)
    for src, nb in releases:
        if students:
            for sid, seed in students.items():
                (out / sid).mkdir(exist_ok=True)
                nbformat.write(release_notebook(nb, seed, str(src)), out / sid / f"{src.stem}.ipynb")
        else:
            nbformat.write(release_notebook(nb, name=str(src)), out / f"{src.stem}.ipynb")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    return manifest


# -- grade ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckOutcome:
    """One graded test cell of one submission: ``status`` is passed, failed, timeout or
    not run; ``message`` says why it did not pass."""
    grade_id: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass(frozen=True)
class GradeResult:
    """The grade of one (student, notebook): an immutable record that prints as text
    (terminal, grader log) and as HTML/Markdown (the feedback notebook)."""
    student: str
    notebook: str
    score: float
    max_points: float
    notes: tuple[str, ...] = ()
    checks: tuple[CheckOutcome, ...] = ()
    seconds: float = 0.0

    def row(self) -> dict:
        """The grades.csv row."""
        return {"student": self.student, "notebook": self.notebook, "score": f"{self.score:g}",
                "max": f"{self.max_points:g}", "notes": "; ".join(self.notes)}

    def __str__(self) -> str:
        lines = [f"{self.student}/{self.notebook}: {self.score:g}/{self.max_points:g} points"]
        lines += [f"  {c.status.upper():7} {c.grade_id} ({c.points:g}/{c.max_points:g})"
                  + (f": {c.message}" if c.message else "") for c in self.checks]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The summary cell on top of the feedback notebook."""
        out = [f"# Grade: {self.score:g} / {self.max_points:g} points",
               f"Student `{self.student}`, notebook `{self.notebook}`.", ""]
        if self.checks:
            out += ["| check | points | result | why |", "|---|---|---|---|"]
            out += [f"| `{c.grade_id}` | {c.points:g} / {c.max_points:g} | {c.status} | "
                    f"{html.escape(c.message).replace('|', '&#124;')} |" for c in self.checks]
        if self.notes:
            out += ["", "Notes:"] + [f"- {html.escape(n)}" for n in self.notes]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def _error_text(cell) -> str | None:
    """The first error output of an executed cell as ``Name: message`` (None: no error)."""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            value = (o.get("evalue") or "").strip().splitlines()
            return f"{o.get('ename', 'Error')}: {value[0] if value else ''}".rstrip(": ")
    return None


def _find(cells, entry, taken: set[int]) -> int | None:
    """The submitted cell that stands for a released one: same grade id, else same cell id."""
    gid = entry.get("grade_id")
    if gid:
        for i, c in enumerate(cells):
            if i not in taken and _nbgrader(c).get("grade_id") == gid:
                return i
    for i, c in enumerate(cells):
        if i not in taken and entry["id"] and c.get("id") == entry["id"]:
            return i
    return None


def _released_cell(entry, source: str):
    meta = {"nbgrader": entry["nbgrader"]} if entry.get("nbgrader") else {}
    make = nbformat.v4.new_code_cell if entry["cell_type"] == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata=meta, id=entry["id"])


def _restore(nb, entry: dict, seed: int | None) -> tuple[list[str], dict]:
    """Put every released locked cell back into the submission ``nb`` (in place); return
    the notes and {grade_id: cell} of the test cells to score."""
    notes: list[str] = []
    tests: dict = {}
    order = entry["order"]
    taken: set[int] = set()
    for e in entry["cells"]:
        label = e.get("grade_id") or e["id"]
        if e["kind"] == "solution":
            if _find(nb.cells, e, set()) is None:
                notes.append(f"answer cell {label} deleted")
            continue
        if e["kind"] == "seed":
            if seed is None:
                continue           # no roster: the students set SEED themselves
            label = f"(SEED = {seed})"
            want = _with_seed(e["source"], seed)
        else:
            want = e["source"]
        i = _find(nb.cells, e, taken)
        if i is None:
            # put it back after the nearest cell that preceded it in the release
            before = set(order[:order.index(e["id"])]) if e["id"] in order else set()
            at = 0
            for j, c in enumerate(nb.cells):
                if c.get("id") in before:
                    at = j + 1
            ids = {c.get("id") for c in nb.cells}
            cell = _released_cell(e, want)
            if cell.id in ids:
                cell.id = f"{cell.id}-restored"
            nb.cells.insert(at, cell)
            taken = {k + (k >= at) for k in taken} | {at}
            notes.append(f"{e['kind']} cell {label} deleted: restored from the release")
            i = at
        else:
            c = nb.cells[i]
            what = []
            if c.cell_type != e["cell_type"] or c.source != want:
                what.append("modified")
            if (_nbgrader(c) or None) != e.get("nbgrader"):
                what.append("metadata modified")
            if what:
                cell = _released_cell(e, want)
                cell.id = c.get("id", cell.id)
                nb.cells[i] = cell
                notes.append(f"{e['kind']} cell {label} {' and '.join(what)}: restored from the release")
            taken.add(i)
        if e["kind"] == "test":
            tests[e["grade_id"]] = nb.cells[i]
    # a submitted cell that claims a grade id it does not own is not scored and must not
    # confuse nbgrader later: drop its claim
    owned = {id(c) for c in tests.values()}
    for c in nb.cells:
        if id(c) not in owned and _nbgrader(c).get("grade") and "nbgrader" in c.get("metadata", {}):
            del c.metadata["nbgrader"]
    return notes, tests


def _kernel_env() -> dict:
    """The grader's environment for the kernel."""
    return dict(os.environ)


def _execute(nb, timeout: float, workdir: str) -> list[str]:
    """Run every code cell of ``nb`` (in place) in a fresh kernel; errors do not stop the
    run. A cell that runs longer than ``timeout`` s is interrupted and recorded as an
    error; if the kernel dies the remaining cells are not run. Returns notes."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, startup_timeout=60,
        interrupt_on_timeout=True, record_timing=False,
        # without this nbclient waits for the interrupted cell's reply as long as it takes:
        # a loop the interrupt cannot break (one in C) would hang the whole grading run
        error_on_timeout={"ename": "CellTimeoutError",
                          "evalue": f"the cell ran longer than {timeout:g} s and was interrupted",
                          "traceback": []},
        resources={"metadata": {"path": workdir}})
    notes: list[str] = []
    # the kernel's own stderr (ipykernel's start-up warnings) would garble the progress
    # lines; what a student's code prints reaches the notebook through IOPub regardless
    with client.setup_kernel(env=_kernel_env(), cwd=workdir, stderr=subprocess.DEVNULL):
        count = 0
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            t0 = time.monotonic()
            try:
                count += 1
                client.execute_cell(cell, i, execution_count=count)
            except DeadKernelError:
                _add_error(cell, "DeadKernelError", "the kernel died while running this cell")
                rest = [c for c in nb.cells[i + 1:] if c.cell_type == "code" and c.source.strip()]
                for c in rest:
                    _add_error(c, "NotRun", "not run: the kernel died in an earlier cell")
                notes.append(f"kernel died in {_cell_label(cell, i)}; {len(rest)} later cell(s) not run")
                break
            if time.monotonic() - t0 >= timeout and _error_text(cell) is None:
                _add_error(cell, "CellTimeoutError",
                           f"the cell ran longer than {timeout:g} s and was interrupted")
            if (_error_text(cell) or "").startswith(("CellTimeoutError", "KeyboardInterrupt")):
                if not any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                    _add_error(cell, "CellTimeoutError",
                               f"the cell ran longer than {timeout:g} s and was interrupted")
                notes.append(f"{_cell_label(cell, i)} timed out after {timeout:g} s")
    return notes


def _cell_label(cell, i: int) -> str:
    gid = _nbgrader(cell).get("grade_id")
    return f"cell {i} ({gid})" if gid else f"cell {i}"


def _add_error(cell, ename: str, evalue: str) -> None:
    cell.setdefault("outputs", []).insert(0, nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))


def _score(tests: dict, entry: dict) -> tuple[CheckOutcome, ...]:
    out = []
    for e in entry["cells"]:
        if e["kind"] != "test":
            continue
        cell = tests.get(e["grade_id"])
        err = _error_text(cell) if cell is not None else "NotRun: the test cell is missing"
        pts = float(e["points"])
        if err is None:
            out.append(CheckOutcome(e["grade_id"], pts, pts, "passed"))
        else:
            status = ("timeout" if err.startswith("CellTimeoutError")
                      else "not run" if err.startswith(("NotRun", "DeadKernelError")) else "failed")
            out.append(CheckOutcome(e["grade_id"], 0.0, pts, status, err))
    return tuple(out)


def grade_submission(manifest: dict, student: str, name: str, path: Path,
                     timeout: float = 30, feedback: Path | None = None) -> GradeResult:
    """Grade one submitted notebook against the release; never raises."""
    t0 = time.monotonic()
    entry = manifest["notebooks"][name]
    max_points = float(entry["max_points"])
    notes: list[str] = []
    checks: tuple[CheckOutcome, ...] = ()
    nb = None
    try:
        students = manifest.get("students")
        if students and student not in students:
            notes.append(f"{student} is not on the release's roster: its seed is not checked")
        seed = students.get(student) if students else None
        if not path.exists():
            notes.append("not submitted")
        else:
            try:
                nb = nbformat.read(path, as_version=4)
                if not isinstance(nb.get("cells"), list):
                    raise ValueError("it has no list of cells")
            except Exception as e:      # noqa: BLE001 — JSON, schema or encoding: all unreadable
                nb = None
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                notes.append(f"not a readable notebook ({type(e).__name__}: {first[:200]})")
        if nb is not None:
            restore_notes, tests = _restore(nb, entry, seed)
            notes += restore_notes
            with tempfile.TemporaryDirectory(prefix="kmemlab-grade-") as work:
                notes += _execute(nb, timeout, work)
            checks = _score(tests, entry)
        else:
            checks = tuple(CheckOutcome(e["grade_id"], 0.0, float(e["points"]), "not run")
                           for e in entry["cells"] if e["kind"] == "test")
        failed = [c.grade_id for c in checks if c.status != "passed"]
        if failed and nb is not None:
            notes.insert(0, "failed: " + ", ".join(failed))
    except Exception as e:              # noqa: BLE001 — one bad submission never stops the run
        notes.append(f"grader error: {type(e).__name__}: {e}")
    result = GradeResult(student, name, sum(c.points for c in checks), max_points,
                         tuple(notes), checks, time.monotonic() - t0)
    if feedback is not None:
        try:
            _write_feedback(result, nb, feedback)
        except Exception as e:          # noqa: BLE001
            result = GradeResult(result.student, result.notebook, result.score, result.max_points,
                                 result.notes + (f"feedback not written: {e}",), result.checks,
                                 result.seconds)
    return result


def _write_feedback(result: GradeResult, nb, path: Path) -> None:
    nb = nbformat.v4.new_notebook() if nb is None else nb
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(result.markdown(), id="kmemlab-grade-summary"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _load_manifest(release: Path) -> dict:
    path = release / MANIFEST
    if not path.is_file():
        raise ValueError(f"{release}: no {MANIFEST}; pass the folder `kmemlab assign` wrote")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


class _Progress:
    """One line per finished submission on stderr: a bar, the count, who, the score."""

    def __init__(self, total: int, stream):
        self.total, self.done, self.stream = total, 0, stream
        self.lock = threading.Lock()

    def __call__(self, r: GradeResult) -> None:
        if self.stream is None:
            return
        with self.lock:
            self.done += 1
            width = 20
            bar = "#" * (width * self.done // self.total)
            self.stream.write(f"grade [{bar:<{width}}] {self.done}/{self.total} "
                              f"{r.student}/{r.notebook}: {r.score:g}/{r.max_points:g} "
                              f"({r.seconds:.1f} s){' — ' + r.notes[0] if r.notes else ''}\n")
            self.stream.flush()


def grade(release, submissions, out_csv, feedback=None, timeout: float = 30,
          jobs: int | None = None, progress=sys.stderr) -> list[GradeResult]:
    """Grade ``submissions/<student>/<notebook>.ipynb`` against the release in ``release``;
    write ``out_csv`` (student, notebook, score, max, notes) and one feedback notebook per
    submission under ``feedback`` (default: ``feedback/`` next to the CSV). Students on the
    roster without a folder get a "not submitted" row. Returns the results, sorted."""
    release, submissions, out_csv = Path(release), Path(submissions), Path(out_csv)
    if not timeout or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    manifest = _load_manifest(release)
    if not submissions.is_dir():
        raise ValueError(f"{submissions}: no such folder (expected submissions/<student>/<notebook>.ipynb)")
    feedback = out_csv.parent / "feedback" if feedback is None else Path(feedback)
    students = sorted({p.name for p in submissions.iterdir() if p.is_dir()}
                      | set(manifest.get("students") or ()))
    work = [(s, n) for s in students for n in sorted(manifest["notebooks"])]
    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    report = _Progress(len(work), progress)
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_submission, manifest, s, n, submissions / s / f"{n}.ipynb",
                               timeout, feedback / s / f"{n}.ipynb") for s, n in work]
        for f in as_completed(futures):
            r = f.result()              # grade_submission never raises
            report(r)
            results.append(r)
    results.sort(key=lambda r: (r.student, r.notebook))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["student", "notebook", "score", "max", "notes"])
        w.writeheader()
        w.writerows(r.row() for r in results)
    return results
