"""``kmemlab grade``: grade what students hand in, trusting nothing a student controls.

For every student on the roster and every notebook of the release:

1. **Find and read the submission safely.** ``submissions/<student>/<notebook>.ipynb`` or
   nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``. A FIFO, a device, a
   symlink that leaves the student's folder, or a file over 16 MiB is refused with a note
   (never opened in a way that could hang). Folders of people not on the roster are
   reported, not graded.
2. **Put the released cells back.** Locked cells (seed, questions, the ``ex.submit()``
   cells) that were modified or deleted are restored from the signed manifest, with a
   note; the seed cell gets the student's own seed, computed from the roster and the
   course key (never read from the notebook).
3. **Run it in its own sandbox** (:mod:`kmemlab.grading.sandbox`), as JupyterHub user
   ``<student>``. Whatever runs there — patched checks, fake exercises, IPython hooks,
   dropped asserts, signals, fork bombs, floods of output — can only change what *that*
   run writes: its answer records and its executed notebook.
4. **Grade the answers in the grader's own process.** From the run the grader takes only
   the answer records (``ex.submit()``'s JSON lines: exercise, seed, answer), and checks
   each answer with ``km.exercise(name, seed=<the student's seed>).check(answer)`` right
   here: points per answer part, and the same mistake-specific feedback the student's
   self-check gives. Nothing the notebook printed counts; a notebook that drew another
   seed is graded on the student's own and says so.
5. **Write the results as it goes.** ``grades.csv`` is rewritten atomically after every
   student (a grader killed half-way loses nothing already graded); CSV cells are escaped
   against formula injection; each student gets a feedback notebook (their executed
   notebook with the grader's verdict after every graded cell and a summary on top).
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..exercises import REGISTRY, exercise
from ..exercises.base import MAX_ANSWER_BYTES, RECORD_FORMAT
from ..exercises.key import CourseKey
from .release import (_SEED_LINE, kmemlab_meta, load_manifest, nbgrader_meta, seed_source)
from .sandbox import Limits, limits_note, run_submission, sandbox_problem

__all__ = ["grade", "grade_one", "GradeResult", "QuestionOutcome", "GradeRun",
           "SandboxUnavailable", "MAX_NOTEBOOK_BYTES", "BRUTE_FORCE_CHECKS"]

MAX_NOTEBOOK_BYTES = 16 << 20
#: more self-checks than this before handing an answer in gets a note (a brute force?)
BRUTE_FORCE_CHECKS = 25
_FEEDBACK_ID = "kmemlab-grade"


class SandboxUnavailable(RuntimeError):
    """No sandbox here and ``--unsafe-no-sandbox`` was not given."""


@dataclass(frozen=True)
class QuestionOutcome:
    """One graded question of one submission."""
    grade_id: str
    exercise: str
    points: float
    max_points: float
    status: str                 # passed, partial, failed, no answer
    feedback: tuple[str, ...] = ()
    parts: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class GradeResult:
    """The grade of one (student, notebook). ``status``: graded, absent (not submitted)
    or not graded (refused, unreadable, not on the roster, a grader error)."""
    student: str
    notebook: str
    score: float
    max_points: float
    status: str = "graded"
    notes: tuple[str, ...] = ()
    questions: tuple[QuestionOutcome, ...] = ()
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{self.student}/{self.notebook}: {self.score:g}/{self.max_points:g} points"
                 + ("" if self.status == "graded" else f" ({self.status})")]
        for q in self.questions:
            lines.append(f"  {q.status.upper():9} {q.grade_id} ({q.points:g}/{q.max_points:g})")
            lines += [f"      {f}" for f in q.feedback]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The summary cell on top of the feedback notebook."""
        out = [f"# Grade: {self.score:g} / {self.max_points:g} points",
               f"Student `{_md(self.student)}`, notebook `{_md(self.notebook)}`. Graded by "
               "kmemlab's grader from the answers you handed in (`ex.submit(...)`), checked "
               "again with your own seed; what this notebook printed does not count.", ""]
        if self.questions:
            out += ["| question | points | result |", "|---|---|---|"]
            out += [f"| `{_md(q.grade_id)}` | {q.points:g} / {q.max_points:g} | {q.status} |"
                    for q in self.questions]
        if self.notes:
            out += ["", "Notes:"] + [f"- {_md(n)}" for n in self.notes]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.markdown()


@dataclass
class GradeRun:
    """Everything one ``grade()`` call did: the results, a summary, the exit status."""
    results: list[GradeResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def not_graded(self) -> list[GradeResult]:
        return [r for r in self.results if r.status == "not graded"]

    @property
    def submitted(self) -> list[GradeResult]:
        return [r for r in self.results if r.status == "graded"]

    @property
    def exit_status(self) -> int:
        """0: every submission graded; 1: some could not be, or none was found at all."""
        return 1 if self.not_graded or not self.submitted or self._all_timed_out() else 0

    def _all_timed_out(self) -> bool:
        subs = self.submitted
        return bool(subs) and all(any("timed out" in n for n in r.notes) for r in subs)

    def summary(self) -> str:
        total = sum(r.score for r in self.submitted)
        full = sum(r.max_points for r in self.results if r.status != "not graded")
        absent = [r for r in self.results if r.status == "absent"]
        lines = [f"graded {len(self.submitted)} submission(s) ({total:g}/{full:g} points in all); "
                 f"{len(absent)} not submitted; {len(self.not_graded)} could not be graded"]
        for r in self.not_graded:
            lines.append(_tty(f"  not graded: {r.student}/{r.notebook}: {'; '.join(r.notes)}"))
        if not self.submitted:
            lines.append("  no submission was found: check the folder layout "
                         "(submissions/<student>/<notebook>.ipynb or nbgrader's "
                         "submitted/<student>/<assignment>/<notebook>.ipynb)")
        if self._all_timed_out():
            lines.append("  every submission timed out in some cell: is the --timeout too short?")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _tty(text) -> str:
    """Student-controlled text for a terminal: control characters (escape sequences that
    could clear or rewrite the screen) shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _md(text: str) -> str:
    """Student-controlled text in Markdown: HTML escaped, table pipes and backticks neutral."""
    return html.escape(str(text)).replace("|", "&#124;").replace("`", "&#96;")


# -- reading a submission without trusting the file system ------------------------------

def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _locate(subs: Path, student: str, notebook: str, assignment: str) -> tuple[str | None, str]:
    """(path, why) of a student's notebook: ``why`` is "" when found, "absent" when there
    is none, else the reason it is refused."""
    folder = subs / student
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return None, "absent"
    real_subs = os.path.realpath(subs)
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(folder)
        if not _inside(target, real_subs) or not os.path.isdir(target):
            return None, "refused: the student's folder is a symlink leaving the submissions folder"
    elif not stat.S_ISDIR(st.st_mode):
        return None, "refused: the student's entry is not a folder"
    real_folder = os.path.realpath(folder)
    for rel in (f"{notebook}.ipynb", f"{assignment}/{notebook}.ipynb"):
        p = os.path.join(str(folder), rel)
        try:
            lst = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISLNK(lst.st_mode):
            target = os.path.realpath(p)
            if not _inside(target, real_folder):
                return None, f"refused: {rel} is a symlink leaving the student's folder"
            p = target
            try:
                lst = os.stat(p)
            except OSError:
                return None, f"refused: {rel} is a dangling symlink"
        if not stat.S_ISREG(lst.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(lst.st_mode) else "a device" if
                    stat.S_ISCHR(lst.st_mode) or stat.S_ISBLK(lst.st_mode) else
                    "a socket" if stat.S_ISSOCK(lst.st_mode) else "not a regular file")
            return None, f"refused: {rel} is {kind}"
        return p, ""
    return None, "absent"


def _read_notebook(path: str):
    """The notebook at ``path`` (a regular file, checked again on the open descriptor)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"{st.st_size} bytes; a notebook is at most {MAX_NOTEBOOK_BYTES >> 20} MiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    if not isinstance(nb.get("cells"), list):
        raise ValueError("it has no list of cells")
    for c in nb.cells:
        if not isinstance(c, dict) or c.get("cell_type") not in ("code", "markdown", "raw") \
                or not isinstance(c.get("source", ""), str):
            raise ValueError("a cell is not a notebook cell")
    return nb


# -- putting the released cells back ----------------------------------------------------

def _find(cells, entry, taken: set[int]) -> int | None:
    """The submitted cell that stands for a released one: same grade id, else same cell id."""
    gid = entry.get("grade_id")
    if gid:
        for i, c in enumerate(cells):
            if i not in taken and nbgrader_meta(c).get("grade_id") == gid:
                return i
    for i, c in enumerate(cells):
        if i not in taken and entry["id"] and c.get("id") == entry["id"]:
            return i
    return None


def _released_cell(entry, source: str):
    meta = {}
    if entry.get("nbgrader"):
        meta["nbgrader"] = entry["nbgrader"]
    if entry.get("kmemlab"):
        meta["kmemlab"] = entry["kmemlab"]
    make = nbformat.v4.new_code_cell if entry["cell_type"] == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata=meta, id=entry["id"])


def _same_seed_cell(got: str, released: str, seed: int) -> bool:
    """The seed cell as released to this student: with their seed, or as the JupyterHub
    release has it (``student_seed({...})``, which picks the same seed for this login)."""
    m = _SEED_LINE.search(got)
    if m is None:
        return False
    value = m["seed"].strip()
    if value != str(seed) and not value.startswith("km.exercises.student_seed("):
        return False
    strip = lambda s: _SEED_LINE.sub("SEED = <seed>", s, count=1)  # noqa: E731
    return strip(got) == strip(released)


def restore(nb, entry: dict, seed: int) -> list[str]:
    """Put every released locked cell back into the submission ``nb`` (in place); return
    the notes. The seed cell gets ``seed``."""
    notes: list[str] = []
    order = entry["order"]
    taken: set[int] = set()
    for e in entry["cells"]:
        label = e.get("grade_id") or e["id"]
        if e["kind"] == "solution":
            if _find(nb.cells, e, set()) is None:
                notes.append(f"answer cell {label} deleted")
            continue
        want = seed_source(e["source"], seed) if e["kind"] == "seed" else e["source"]
        i = _find(nb.cells, e, taken)
        if i is None:
            before = set(order[:order.index(e["id"])]) if e["id"] in order else set()
            at = 0
            for j, c in enumerate(nb.cells):
                if c.get("id") in before:
                    at = j + 1
            cell = _released_cell(e, want)
            if cell.id in {c.get("id") for c in nb.cells}:
                cell.id = f"{cell.id}-restored"
            nb.cells.insert(at, cell)
            taken = {k + (k >= at) for k in taken} | {at}
            notes.append(f"{e['kind']} cell {label} deleted: restored from the release")
            continue
        c = nb.cells[i]
        if e["kind"] == "seed":
            changed = [] if _same_seed_cell(c.get("source", ""), e["source"], seed) else ["modified"]
        else:
            changed = ["modified"] if c.get("cell_type") != e["cell_type"] or c.get("source") != want else []
        if (nbgrader_meta(c) or None) != e.get("nbgrader"):
            changed.append("metadata modified")
        cell = _released_cell(e, want)
        cell.id = c.get("id") or cell.id
        nb.cells[i] = cell
        if changed:
            what = " and ".join(changed)
            if e["kind"] == "seed":
                notes.append(f"seed cell {what}: restored with your own seed {seed}")
            else:
                notes.append(f"{e['kind']} cell {label} {what}: restored from the release")
        taken.add(i)
    # a submitted cell that claims a grade id it does not own is not graded: drop its claim
    owned = {id(nb.cells[i]) for i in taken}
    for c in nb.cells:
        if id(c) not in owned and "nbgrader" in c.get("metadata", {}) and nbgrader_meta(c).get("grade"):
            del c.metadata["nbgrader"]
    for c in nb.cells:
        if c.get("cell_type") == "code":
            c.outputs = []
            c.execution_count = None
    return notes


# -- answers --------------------------------------------------------------------------

def parse_answers(data: bytes) -> tuple[dict[str, dict], list[str]]:
    """The answer records of one run, the last one per exercise wins; and notes on what
    could not be read. Plain JSON only: no student code runs here."""
    notes: list[str] = []
    if len(data) > 1 << 20:
        notes.append("the answer file is larger than 1 MiB: the rest was ignored")
        data = data[:1 << 20]
    records: dict[str, dict] = {}
    bad = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            if len(line) > MAX_ANSWER_BYTES + 4096:
                raise ValueError("too long")
            rec = json.loads(line.decode("utf-8"))
            if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
                raise ValueError("not an answer record")
            name, seed = rec.get("exercise"), rec.get("seed")
            if not isinstance(name, str) or name not in REGISTRY:
                raise ValueError("unknown exercise")
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError("bad seed")
            for k in ("checks", "hints"):
                v = rec.get(k, 0)
                rec[k] = v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0
            if "answer" not in rec:
                raise ValueError("no answer")
            records[name] = rec
        except (ValueError, UnicodeDecodeError, RecursionError):
            bad += 1
    if bad:
        notes.append(f"{bad} line(s) of the answer file were not answer records and were ignored")
    return records, notes


def check_question(q: dict, seed: int, rec: dict | None) -> QuestionOutcome:
    """Grade one question here, in the grader's process, with the student's own seed."""
    gid, name, pts = q["grade_id"], q["exercise"], float(q["points"])
    if rec is None:
        return QuestionOutcome(gid, name, 0.0, pts, "no answer",
                               ("no answer was handed in: the cell with "
                                f"`.submit(...)` for {name} did not run, or raised an error",))
    ex = exercise(name, seed=seed)
    try:
        r = ex.check(rec["answer"])
    except Exception as e:          # noqa: BLE001 — a hostile value is a wrong answer
        return QuestionOutcome(gid, name, 0.0, pts, "failed",
                               (f"the answer could not be read ({type(e).__name__})",))
    feedback = list(r.feedback)
    if rec["seed"] != seed:
        feedback.append(f"your notebook drew seed {rec['seed']}; graded on your own seed {seed}")
    if rec["checks"] > BRUTE_FORCE_CHECKS:
        feedback.append(f"self-checked {rec['checks']} times before handing in")
    points = round(pts * r.score, 2)
    status = "passed" if r.passed else "partial" if points > 0 else "failed"
    return QuestionOutcome(gid, name, points, pts, status, tuple(feedback), r.parts)


def _shown_pass(nb, gid: str, name: str) -> bool:
    """Did the graded cell of the executed notebook display a PASS for ``name``?"""
    for c in nb.cells:
        if nbgrader_meta(c).get("grade_id") == gid:
            for o in c.get("outputs", []):
                text = o.get("text", "") if o.get("output_type") == "stream" else \
                    (o.get("data", {}) or {}).get("text/plain", "")
                if isinstance(text, list):
                    text = "".join(text)
                if isinstance(text, str) and f"PASS {name}" in text:
                    return True
    return False


def _cell_errors(nb) -> list[str]:
    """Notes on how the run went, from the runner's error outputs."""
    from .runner import DEAD, STUCK, TIMEOUT
    notes = []
    for i, c in enumerate(nb.cells):
        names = [o.get("ename") for o in c.get("outputs", []) if o.get("output_type") == "error"]
        label = nbgrader_meta(c).get("grade_id") or f"cell {i}"
        if TIMEOUT in names:
            notes.append(f"{label} timed out")
        if STUCK in names:
            notes.append(f"{label} ignored the interrupt: the later cells were not run")
        if DEAD in names:
            notes.append(f"the kernel died in {label}: the later cells were not run")
    return notes


# -- feedback -------------------------------------------------------------------------

def _question_markdown(q: QuestionOutcome) -> str:
    head = (f"**kmemlab grader: {q.points:g} / {q.max_points:g} points ({q.status})** for "
            f"`{_md(q.exercise)}` — checked from the answer you handed in, with your seed.")
    return "\n".join([head, ""] + [f"- {_md(f)}" for f in q.feedback])


def feedback_notebook(result: GradeResult, nb) -> "nbformat.NotebookNode":
    """The student's notebook with the grader's verdict after each graded cell and a
    summary on top (cells a submission planted with the grader's ids are dropped)."""
    nb = nbformat.v4.new_notebook() if nb is None else nb
    nb.cells = [c for c in nb.cells if not str(c.get("id", "")).startswith(_FEEDBACK_ID)]
    by_gid = {q.grade_id: q for q in result.questions}
    cells = [nbformat.v4.new_markdown_cell(result.markdown(), id=f"{_FEEDBACK_ID}-summary")]
    for c in nb.cells:
        cells.append(c)
        q = by_gid.pop(nbgrader_meta(c).get("grade_id"), None)
        if q is not None:
            cells.append(nbformat.v4.new_markdown_cell(
                _question_markdown(q), id=f"{_FEEDBACK_ID}-{len(cells)}"))
    for q in by_gid.values():          # graded cell missing from the notebook
        cells.append(nbformat.v4.new_markdown_cell(_question_markdown(q), id=f"{_FEEDBACK_ID}-{len(cells)}"))
    nb.cells = cells
    nb.metadata.setdefault("kmemlab", {})
    nb.metadata["kmemlab"] = {"grade": {"score": result.score, "max": result.max_points}}
    return nb


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- one submission -------------------------------------------------------------------

def grade_one(manifest: dict, key: CourseKey, student: str, name: str, path: str | None,
              why: str, limits: Limits, sandbox: bool, feedback: Path | None) -> GradeResult:
    """Grade one (student, notebook); never raises."""
    t0 = time.monotonic()
    entry = manifest["notebooks"][name]
    questions = entry["questions"]
    max_points = float(entry["max_points"])
    zero = tuple(QuestionOutcome(q["grade_id"], q["exercise"], 0.0, float(q["points"]), "no answer")
                 for q in questions)
    if why:
        status = "absent" if why == "absent" else "not graded"
        note = "not submitted" if why == "absent" else why
        result = GradeResult(student, name, 0.0, max_points, status, (note,), zero)
        return _with_feedback(result, None, feedback)
    notes: list[str] = []
    nb = None
    try:
        try:
            nb = _read_notebook(path)
        except Exception as e:          # noqa: BLE001 — JSON, schema, encoding, size: unreadable
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            result = GradeResult(student, name, 0.0, max_points, "not graded",
                                 (f"not a readable notebook ({type(e).__name__}: {first})",), zero,
                                 time.monotonic() - t0)
            return _with_feedback(result, None, feedback)
        seed = key.seed_for(student)
        notes += restore(nb, entry, seed)
        code_cells = sum(1 for c in nb.cells if c.get("cell_type") == "code")
        run = run_submission(nbformat.writes(nb), student, limits, sandbox, code_cells)
        if run.killed:
            notes.append(f"the run was stopped after {limits.wall_for(code_cells):g} s (wall-time limit)")
        elif run.returncode != 0:
            last = (run.log.strip().splitlines() or [""])[-1][:200]
            notes.append(f"the run ended early (exit status {run.returncode}"
                         + (f"; {last}" if last else "") + "): graded on the answers handed in before")
        executed = None
        if run.executed:
            try:
                executed = nbformat.reads(run.executed.decode("utf-8"), as_version=4)
            except Exception:           # noqa: BLE001 — a run that wrote garbage
                executed = None
        if executed is not None:
            notes += _cell_errors(executed)
            dropped = executed.metadata.get("kmemlab", {}).get("output_dropped")
            if dropped:
                notes.append(f"the notebook printed more than {limits.output >> 10} KiB; "
                              f"{dropped} bytes of output were dropped")
        elif not run.killed:
            notes.append("the run left no executed notebook (the runner was killed or failed)")
        records, rec_notes = parse_answers(run.answers)
        notes += rec_notes
        outcomes = []
        for q in questions:
            qo = check_question(q, seed, records.get(q["exercise"]))
            if executed is not None and qo.status != "passed" and _shown_pass(executed, q["grade_id"], q["exercise"]):
                notes.append(f"{q['grade_id']}: the notebook showed PASS but the grader's own "
                             "check does not pass: the self-check was changed or bypassed")
            outcomes.append(qo)
        failed = [q.grade_id for q in outcomes if q.status != "passed"]
        if failed:
            notes.insert(0, "not full marks: " + ", ".join(failed))
        result = GradeResult(student, name, round(sum(q.points for q in outcomes), 2), max_points,
                             "graded", tuple(notes), tuple(outcomes), time.monotonic() - t0)
        return _with_feedback(result, executed if executed is not None else nb, feedback)
    except Exception as e:              # noqa: BLE001 — one bad submission never stops the run
        result = GradeResult(student, name, 0.0, max_points, "not graded",
                             tuple(notes) + (f"grader error: {type(e).__name__}: {e}",), zero,
                             time.monotonic() - t0)
        return _with_feedback(result, None, feedback)


def _with_feedback(result: GradeResult, nb, feedback: Path | None) -> GradeResult:
    if feedback is None:
        return result
    try:
        _write_atomic(feedback / result.student / f"{result.notebook}.ipynb",
                      nbformat.writes(feedback_notebook(result, nb)))
    except Exception as e:              # noqa: BLE001
        return GradeResult(result.student, result.notebook, result.score, result.max_points,
                           result.status, result.notes + (f"feedback not written: {e}",),
                           result.questions, result.seconds)
    return result


# -- the CSV --------------------------------------------------------------------------

def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe (OWASP's CSV-injection advice)."""
    s = str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def write_csv(path: Path, results: list[GradeResult], manifest: dict) -> None:
    many = len(manifest["notebooks"]) > 1
    cols = [(n, q["grade_id"]) for n, e in sorted(manifest["notebooks"].items()) for q in e["questions"]]
    head = ["student", "notebook", "score", "max", "status"] + \
           [f"{n}/{g}" if many else g for n, g in cols] + ["notes"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    for r in sorted(results, key=lambda r: (r.student, r.notebook)):
        per = {q.grade_id: f"{q.points:g}" for q in r.questions}
        w.writerow([csv_cell(x) for x in
                    [r.student, r.notebook, f"{r.score:g}", f"{r.max_points:g}", r.status]
                    + [per.get(g, "") if n == r.notebook else "" for n, g in cols]
                    + ["; ".join(r.notes)]])
    _write_atomic(path, buf.getvalue())


# -- the whole class ------------------------------------------------------------------

class _Progress:
    """One line per finished submission on stderr: a bar, the count, who, the score."""

    def __init__(self, total: int, stream):
        self.total, self.done, self.stream = max(total, 1), 0, stream

    def __call__(self, r: GradeResult) -> None:
        self.done += 1
        if self.stream is None:
            return
        width = 20
        bar = "#" * (width * self.done // self.total)
        self.stream.write(_tty(f"grade [{bar:<{width}}] {self.done}/{self.total} {r.student}/{r.notebook}: "
                               f"{r.score:g}/{r.max_points:g} ({r.seconds:.1f} s)"
                               f"{' — ' + r.notes[0] if r.notes else ''}") + "\n")
        self.stream.flush()


def grade(manifest, submissions, out_csv, key, feedback=None, limits: Limits | None = None,
          jobs: int | None = None, sandbox: bool = True, progress="stderr",
          assignment: str | None = None) -> GradeRun:
    """Grade every roster student's notebooks in ``submissions`` against the signed
    ``manifest`` (or the release folder next to it); write ``out_csv`` after every student
    and a feedback notebook per student under ``feedback`` (default ``feedback/`` next to
    the CSV). Raises ValueError on bad arguments and :class:`SandboxUnavailable` when
    there is no sandbox and ``sandbox=False`` was not chosen."""
    limits = Limits() if limits is None else limits
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 64):
        raise ValueError(f"jobs must be a whole number from 1 to 64, got {jobs!r}")
    key = CourseKey.coerce(key)
    manifest = load_manifest(manifest, key)
    submissions, out_csv = Path(submissions), Path(out_csv)
    if not submissions.is_dir():
        raise ValueError(f"{submissions}: no such folder (expected submissions/<student>/<notebook>.ipynb)")
    feedback = out_csv.parent / "feedback" if feedback is None else Path(feedback)
    for p, what in ((out_csv, "the grades CSV"), (feedback, "the feedback folder")):
        if os.path.realpath(p).startswith(os.path.realpath(submissions).rstrip("/") + "/"):
            raise ValueError(f"{what} ({p}) must not be inside the submissions folder")
    if sandbox:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(f"no sandbox: {problem}. Student code must not run with your "
                                     "rights; pass --unsafe-no-sandbox to grade anyway")
    run = GradeRun()
    note = limits_note(sandbox)
    if note:
        run.warnings.append(note)
    assignment = assignment or manifest.get("assignment") or ""
    roster = list(manifest["students"])
    work = []
    for sid in roster:
        for name in sorted(manifest["notebooks"]):
            path, why = _locate(submissions, sid, name, assignment)
            work.append((sid, name, path, why))
    others = sorted(p.name for p in submissions.iterdir() if p.name not in set(roster)
                    and not p.name.startswith("."))
    for o in others:
        for name in sorted(manifest["notebooks"]):
            r = GradeResult(o, name, 0.0, float(manifest["notebooks"][name]["max_points"]),
                            "not graded", ("not on the release's roster: not graded",))
            run.results.append(r)
    report = _Progress(len(work), sys.stderr if progress == "stderr" else progress)
    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, manifest, key, s, n, p, w, limits, sandbox, feedback)
                   for s, n, p, w in work]
        for f in as_completed(futures):
            r = f.result()
            with lock:
                run.results.append(r)
                write_csv(out_csv, run.results, manifest)
                report(r)
    if not work:
        write_csv(out_csv, run.results, manifest)
    run.results.sort(key=lambda r: (r.student, r.notebook))
    return run
