"""``kmemlab assign``: the students' notebooks, and the signed manifest the grader keeps.

Think of a paper exam: the students' copies have blank boxes where the teacher's copy has
the answers, and the marking scheme stays in the teacher's drawer. Here:

* every ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` region of an answer cell becomes
  :data:`STUB` (the students' version runs from top to bottom without an error: an answer
  not given yet is ``...``, which the check calls "no answer yet");
* every student gets ``OUT/<student_id>/<notebook>.ipynb`` with their own seed written into
  the seed cell (``SEED = <seed>``), the seed being :meth:`CourseKey.seed_for` of their id;
  ``OUT/_jupyterhub/<notebook>.ipynb`` is one notebook for everybody in which
  ``SEED = km.exercises.student_seed({...})`` picks the seed of the JupyterHub login;
* the manifest — the graded questions (grade id, exercise, points), the released locked
  cells the grader puts back, the roster — goes to ``OUT.manifest.json`` *next to* the
  release, never into it, and is signed with the course key: a changed manifest is
  refused by ``kmemlab grade``.

An exercise notebook marks its cells with nbgrader metadata (see :mod:`kmemlab.notebooks`):
a locked seed cell with a ``SEED = <int>`` line, locked question cells, solution (answer)
cells and graded cells ``ex.submit(answer)`` with ``metadata.kmemlab.exercise`` naming the
exercise whose answer they hand in. kmemlab grades only what it can recompute: a graded
cell without an exercise is refused here, not silently scored from a student's kernel.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
from pathlib import Path

import nbformat

from ..exercises import REGISTRY
from ..exercises.key import CourseKey

__all__ = ["assign", "release_notebook", "strip_solutions", "read_roster", "load_manifest",
           "manifest_path_for", "release_name", "questions_of", "STUB", "MARKDOWN_STUB", "FORMAT", "HUB_FOLDER"]

#: what replaces a solution region in the students' version: a comment only, so the
#: answer variable the cell sets above the region stays ``...`` ("no answer yet")
STUB = "# YOUR CODE HERE"
MARKDOWN_STUB = "YOUR ANSWER HERE"
FORMAT = "kmemlab-release/2"
#: the one-notebook-for-everybody release (student ids cannot start with "_")
HUB_FOLDER = "_jupyterhub"
MAX_MANIFEST_BYTES = 32 << 20

_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
# the line of an exercise notebook that draws the problems: ``SEED = 42  # ...``
_SEED_LINE = re.compile(r"^(?P<head>SEED\s*=\s*)(?P<seed>[^#\n]*?)(?P<tail>\s*(#.*)?)$", re.M)
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


# -- the students' version -----------------------------------------------------------

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


def nbgrader_meta(cell) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def kmemlab_meta(cell) -> dict:
    return dict(cell.get("metadata", {}).get("kmemlab", {}) or {})


def seed_cell_index(nb) -> int | None:
    """The first code cell that sets ``SEED = ...`` (how an exercise notebook learns its seed)."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and _SEED_LINE.search(c.source):
            return i
    return None


def seed_source(source: str, seed: int | None = None, table: dict | None = None) -> str:
    """The seed cell with ``SEED = <seed>`` (one student's notebook) or, with ``table``,
    ``SEED = km.exercises.student_seed({...})`` (the JupyterHub notebook)."""
    if table is not None:
        value = "km.exercises.student_seed(" + json.dumps(table, sort_keys=True) + ")"
        note = "  # your seed follows your JupyterHub login"
    else:
        value, note = str(int(seed)), "  # your own seed: do not change it"
    return _SEED_LINE.sub(lambda m: f"{m['head']}{value}{note}", source, count=1)


def release_notebook(nb, seed: int | None = None, name: str = "notebook", table: dict | None = None):
    """The students' copy of one source notebook (a new object; ``nb`` is not changed):
    solutions stripped, outputs and execution counts cleared, nbgrader metadata kept;
    with ``seed`` (or a JupyterHub ``table``) the seed cell set accordingly."""
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb.cells):
        meta = nbgrader_meta(c)
        if meta.get("solution"):
            if c.cell_type == "code":
                c.source = strip_solutions(c.source, f"{name} cell {i} ({meta.get('grade_id')})")
            else:
                c.source = MARKDOWN_STUB
        elif c.cell_type == "code" and _BEGIN in c.source:
            raise ValueError(f"{name} cell {i}: a solution region in a cell that is not an "
                             "nbgrader solution cell would be released as it is")
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    student_edition(nb)
    if seed is not None or table is not None:
        i = seed_cell_index(nb)
        if i is None:
            raise ValueError(f"{name}: no code cell sets 'SEED = <number>', so students cannot "
                             "get seeds of their own; add that line to the first code cell")
        nb.cells[i].source = seed_source(nb.cells[i].source, seed, table)
    return nb


# -- roster, manifest ----------------------------------------------------------------

def read_roster(path) -> list[str]:
    """``student_id`` CSV -> the ids in file order. Ids become folder names, so they are
    plain (letters, digits, ``_ . @ -``, not starting with ``_ . @ -``) and unique. A
    ``seed`` column is refused: seeds come from the course key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such roster file (a CSV with a student_id column)")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        if "student_id" not in cols:
            raise ValueError(f"{path}: the roster needs a header line with a student_id column, "
                             f"got {cols}")
        if "seed" in cols:
            raise ValueError(f"{path}: a seed column is not used any more: every student's seed "
                             "is computed from the course key (drop the column)")
        ids: list[str] = []
        for no, row in enumerate(reader, 2):
            sid = (row.get("student_id") or "").strip()
            if not sid:
                continue
            if not _SAFE_ID.match(sid):
                raise ValueError(f"{path}:{no}: student_id {sid!r} cannot be a folder name; use "
                                 "letters, digits and _ . @ - (starting with a letter or digit)")
            if sid in ids:
                raise ValueError(f"{path}:{no}: student_id {sid!r} appears twice")
            ids.append(sid)
    if not ids:
        raise ValueError(f"{path}: the roster lists no students")
    return ids


def _roster(roster) -> list[str]:
    if isinstance(roster, (str, os.PathLike)):
        return read_roster(roster)
    ids = list(roster or [])
    if not ids:
        raise ValueError("a release needs a roster (a CSV with a student_id column): every "
                         "student gets a seed of their own")
    for sid in ids:
        if not isinstance(sid, str) or not _SAFE_ID.match(sid):
            raise ValueError(f"student id {sid!r} cannot be a folder name")
    if len(set(ids)) != len(ids):
        raise ValueError("a student id appears twice in the roster")
    return ids


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def questions_of(nb, name: str = "notebook") -> list[dict]:
    """The graded questions of an exercise notebook: per graded cell its grade id, the
    exercise it hands in (``metadata.kmemlab.exercise``), its points and answer parts."""
    out = []
    for i, c in enumerate(nb.cells):
        meta = nbgrader_meta(c)
        if not meta.get("grade"):
            continue
        exercise = kmemlab_meta(c).get("exercise")
        where = f"{name} cell {i} ({meta.get('grade_id')})"
        if c.cell_type != "code" or not exercise:
            raise ValueError(f"{where}: a graded cell must hand in an exercise's answer "
                             "(```python nbgrader grade_id=... points=N exercise=NAME```); "
                             "kmemlab grades only answers it can recompute")
        if exercise not in REGISTRY:
            raise ValueError(f"{where}: no exercise {exercise!r}")
        try:
            points = float(meta.get("points", 0))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: points must be a number") from None
        if not points > 0:
            raise ValueError(f"{where}: a graded cell needs points > 0")
        out.append({"grade_id": meta.get("grade_id"), "exercise": exercise, "points": points,
                    "id": c.get("id")})
    return out


def _manifest_entry(src: Path, nb, release) -> dict:
    """What grade() needs: the graded questions, and per locked cell of the release its
    kind and source (the grader puts modified or deleted locked cells back)."""
    cells = []
    seed_index = seed_cell_index(release)
    for i, c in enumerate(release.cells):
        meta = nbgrader_meta(c)
        if i == seed_index:
            kind = "seed"
        elif meta.get("grade"):
            kind = "question"
        elif meta.get("locked"):
            kind = "locked"
        elif meta.get("solution"):
            kind = "solution"
        else:
            continue
        entry = {"id": c.get("id"), "index": i, "kind": kind, "grade_id": meta.get("grade_id")}
        if kind != "solution":
            entry.update(cell_type=c.cell_type, source=c.source, sha256=_sha(c.source),
                         nbgrader=meta or None, kmemlab=kmemlab_meta(c) or None)
        cells.append(entry)
    questions = questions_of(nb, str(src))
    return {"source": str(src), "source_sha256": _sha(nbformat.writes(nb)),
            "order": [c.get("id") for c in release.cells], "cells": cells,
            "questions": questions, "max_points": sum(q["points"] for q in questions)}


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
    names = [release_name(p) for p in paths]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"two source notebooks are called {dup}: release names must be unique")
    return paths


def release_name(src: Path) -> str:
    """``01-buddy`` for ``01-buddy.ipynb`` and for the instructor's ``01-buddy.instructor.ipynb``."""
    return Path(src).stem.removesuffix(".instructor")


def student_edition(nb):
    """``nb`` (in place) without the instructor's banner and edition mark."""
    meta = nb.metadata.get("kmemlab")
    if isinstance(meta, dict) and "edition" in meta:
        meta["edition"] = "student: the solutions are stripped"
    if nb.cells and nb.cells[0].cell_type == "markdown":
        from ..notebooks import INSTRUCTOR_BANNER
        lines = nb.cells[0].source.split("\n\n")
        nb.cells[0].source = "\n\n".join(p for p in lines if not p.startswith(INSTRUCTOR_BANNER))
    return nb


def manifest_path_for(out) -> Path:
    """Where ``assign`` puts the manifest by default: ``OUT.manifest.json`` next to ``OUT``."""
    out = Path(out)
    return out.parent / f"{out.name}.manifest.json"


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def assign(sources, out, roster, key, manifest=None, assignment: str | None = None) -> dict:
    """Write the students' notebooks under ``out`` and the signed manifest (default
    :func:`manifest_path_for`); return the manifest. ``roster``: a CSV path or a list of
    ids; ``key``: a :class:`CourseKey` or its file."""
    out = Path(out)
    key = CourseKey.coerce(key)
    students = _roster(roster)
    manifest_path = Path(manifest) if manifest is not None else manifest_path_for(out)
    if manifest_path.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"{manifest_path} is inside the release {out}: the manifest stays with "
                         "the instructor (pass --manifest outside the release folder)")
    assignment = assignment or out.name
    if not _SAFE_ID.match(assignment):
        raise ValueError(f"assignment name {assignment!r}: use letters, digits and _ . @ -")
    seeds = {sid: key.seed_for(sid) for sid in students}
    entries, releases = {}, []
    for src in _expand(sources):
        try:
            nb = nbformat.read(src, as_version=4)
        except Exception as e:          # noqa: BLE001 — any unreadable file is the same mistake
            raise ValueError(f"{src}: not a readable notebook ({e})") from None
        if not any(nbgrader_meta(c) for c in nb.cells):
            raise ValueError(f"{src}: no cell has nbgrader metadata, so there is nothing to grade "
                             "(see kmemlab/notebooks.py for the ```python nbgrader ...``` marker)")
        release = release_notebook(nb, seed=0, name=str(src))   # fails early without a SEED line
        entry = _manifest_entry(src, nb, release)
        if not entry["questions"]:
            raise ValueError(f"{src}: no graded cell (```python nbgrader grade_id=... points=N "
                             "exercise=NAME```)")
        entries[release_name(src)] = entry
        releases.append((src, nb))
    manifest = {"format": FORMAT, "assignment": assignment, "key_id": key.key_id,
                "students": students, "notebooks": entries}
    manifest["signature"] = key.sign(_canonical(manifest))
    out.mkdir(parents=True, exist_ok=True)
    for src, nb in releases:
        for sid in students:
            (out / sid).mkdir(exist_ok=True)
            nbformat.write(release_notebook(nb, seeds[sid], str(src)),
                           out / sid / f"{release_name(src)}.ipynb")
        (out / HUB_FOLDER).mkdir(exist_ok=True)
        nbformat.write(release_notebook(nb, name=str(src), table=seeds),
                       out / HUB_FOLDER / f"{release_name(src)}.ipynb")
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    return manifest


def load_manifest(path, key) -> dict:
    """The manifest at ``path`` (or, for a release folder, the one next to it), checked
    against ``key``: a manifest changed after ``kmemlab assign`` is refused."""
    key = CourseKey.coerce(key)
    path = Path(path)
    if path.is_dir():
        if (path / "manifest.json").exists() and not manifest_path_for(path).exists():
            raise ValueError(f"{path}/manifest.json is an old release layout (the manifest inside "
                             "the students' release); release again with `kmemlab assign`")
        path = manifest_path_for(path)
    if not path.is_file():
        raise ValueError(f"{path}: no manifest; pass the OUT.manifest.json that `kmemlab assign` "
                         "wrote (or the release folder next to it)")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValueError(f"{path}: too large to be a manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise ValueError(f"{path}: format {got!r}, expected {FORMAT!r}")
    if manifest.get("key_id") != key.key_id or not key.verify(_canonical(manifest),
                                                             manifest.get("signature")):
        raise ValueError(f"{path}: the manifest's signature does not match this course key: it "
                         "was changed after `kmemlab assign`, or the key is another course's")
    return manifest
