"""kmemlab's seeds and grader inside nbgrader 0.9 (the course tool JupyterHubs already run).

In ``nbgrader_config.py``::

    c = get_config()
    from kmemlab.grading.nbgrader import configure
    configure(c, key_file="/srv/course/kmemlab.key")      # the course key, outside the Hub

That plugs in two preprocessors:

:class:`KmemlabSeeds` (``nbgrader generate_assignment``)
    nbgrader releases one notebook for the whole class, so the seed cell becomes
    ``SEED = km.exercises.student_seed({...})``: a table of every student in the gradebook
    (``nbgrader db student add ...`` first) with their HMAC seed, looked up by the JupyterHub
    login (``$JUPYTERHUB_USER``) — the self-check in the notebook and the grade agree. A seed
    draws a problem; it is not a secret (the grader never reads the table).

:class:`KmemlabAutograde` (``nbgrader autograde``, in place of nbgrader's Execute)
    runs the notebook in kmemlab's sandbox (one per submission, as JupyterHub user
    ``<student>``), copies the outputs in for the feedback, and then grades every cell that
    hands in a kmemlab exercise (``metadata.kmemlab.exercise``) *here*, in nbgrader's process,
    from the answer records: the cell's outputs become kmemlab's feedback (HTML) and an
    ``execute_result`` holding the points, which nbgrader reads as partial credit — so the
    gradebook has points per part and ``nbgrader generate_feedback`` shows kmemlab's
    mistake-specific feedback. Nothing the student's kernel printed in a graded cell is kept.
    nbgrader grade cells without an exercise keep nbgrader's own meaning (no error = full
    points, judged from the student's kernel): kmemlab cannot vouch for them, and says so
    in the log.

``kmemlab grade`` reads nbgrader's ``submitted/<student>/<assignment>/`` layout as well, for
a course that wants kmemlab's CSV and feedback notebooks without the gradebook.
"""

from __future__ import annotations

import html

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from ..exercises.key import CourseKey
from .grader import _cell_errors, check_question, parse_answers
from .release import (STUB, nbgrader_meta, questions_of, seed_cell_index, seed_source,
                      student_edition)
from .sandbox import Limits, parse_size, run_submission, sandbox_problem

__all__ = ["KmemlabSeeds", "KmemlabAutograde", "configure"]


class KmemlabSeeds(NbGraderPreprocessor):
    """generate_assignment: the seed cell picks each student's seed by JupyterHub login."""

    key_file = Unicode("", help="the kmemlab course key file").tag(config=True)

    def preprocess(self, nb, resources):
        key = CourseKey.load(self.key_file)
        from nbgrader.api import Gradebook
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            students = sorted(s.id for s in gb.students)
        if not students:
            raise ValueError("the gradebook has no students, so nobody would get a seed: add them "
                             "first (nbgrader db student add ID), then generate the assignment")
        i = seed_cell_index(nb)
        if i is None:
            raise ValueError(f"{resources['nbgrader']['notebook']}: no code cell sets "
                             "'SEED = <number>'; kmemlab's exercises need one")
        nb.cells[i].source = seed_source(nb.cells[i].source, table={s: key.seed_for(s) for s in students})
        student_edition(nb)            # the instructor's banner does not go to students
        self.log.info("kmemlab: seeds for %d students written into the seed cell", len(students))
        return nb, resources


class KmemlabAutograde(NbGraderPreprocessor):
    """autograde: run in kmemlab's sandbox, grade kmemlab's cells in this process."""

    key_file = Unicode("", help="the kmemlab course key file").tag(config=True)
    timeout = Float(30, help="seconds per cell").tag(config=True)
    memory = Unicode("2G", help="address-space limit per process").tag(config=True)
    max_output = Integer(1 << 20, help="output bytes kept per notebook").tag(config=True)
    unsafe_no_sandbox = Bool(False, help="run without bubblewrap (student code gets your rights)"
                             ).tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        key = CourseKey.load(self.key_file)
        limits = Limits(timeout=self.timeout, memory=parse_size(self.memory, "memory"),
                        output=self.max_output)
        sandbox = not self.unsafe_no_sandbox
        if sandbox and sandbox_problem():
            raise RuntimeError(f"kmemlab: no sandbox ({sandbox_problem()}); set "
                               "c.KmemlabAutograde.unsafe_no_sandbox = True to grade anyway")
        questions = questions_of(nb, resources["nbgrader"]["notebook"])
        seed = key.seed_for(student)
        code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
        run = run_submission(nbformat.writes(nb), student, limits, sandbox, code_cells)
        notes = []
        executed = None
        if run.executed:
            try:
                executed = nbformat.reads(run.executed.decode("utf-8"), as_version=4)
            except Exception:           # noqa: BLE001 — garbage from the sandbox
                executed = None
        if executed is not None and len(executed.cells) == len(nb.cells):
            for mine, theirs in zip(nb.cells, executed.cells):
                if mine.cell_type == "code" and theirs.get("cell_type") == "code":
                    mine.outputs = theirs.get("outputs", [])
                    mine.execution_count = theirs.get("execution_count")
            notes += _cell_errors(executed)
        else:
            notes.append("the run left no executed notebook: graded on the answers handed in")
        if run.killed:
            notes.append("the run was stopped at its wall-time limit")
        records, rec_notes = parse_answers(run.answers)
        notes += rec_notes
        graded = {q["grade_id"] for q in questions}
        for c in nb.cells:
            meta = nbgrader_meta(c)
            if meta.get("grade") and meta.get("grade_id") not in graded:
                self.log.warning("kmemlab: grade cell %s hands in no kmemlab exercise; nbgrader "
                                 "judges it from the student's kernel", meta.get("grade_id"))
        self.log.info("kmemlab: grading %s's %d question(s) with their own seed, in a %s", student,
                      len(questions), "sandbox" if sandbox else "plain process (no sandbox)")
        first = True
        for q in questions:
            outcome = check_question(q, seed, records.get(q["exercise"]))
            cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == q["grade_id"])
            lines = [f"kmemlab grader: {outcome.points:g} / {outcome.max_points:g} points "
                     f"({outcome.status}) for {q['exercise']}, checked from the answer handed in, "
                     f"with {student}'s own seed"] + list(outcome.feedback)
            if first and notes:
                lines += [f"note: {n}" for n in notes]
            first = False
            items = "".join(f"<li>{html.escape(x)}</li>" for x in lines[1:])
            cell.outputs = [
                nbformat.v4.new_output("display_data", data={
                    "text/html": f"<div class='kmemlab-grade'><b>{html.escape(lines[0])}</b><ul>{items}</ul></div>",
                    "text/plain": "\n".join(lines)}),
                nbformat.v4.new_output("execute_result", data={"text/plain": f"{outcome.points:g}"},
                                       execution_count=cell.get("execution_count")),
            ]
        return nb, resources


def configure(c, key_file: str, timeout: float = 30, memory: str = "2G",
              unsafe_no_sandbox: bool = False) -> None:
    """Plug kmemlab's seeds and grader into an nbgrader config ``c`` (see the module doc)."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.converters.generate_assignment import GenerateAssignment
    from nbgrader.preprocessors import Execute
    for cls in ("KmemlabSeeds", "KmemlabAutograde"):
        c[cls].key_file = str(key_file)
    c.KmemlabAutograde.timeout = float(timeout)
    c.KmemlabAutograde.memory = str(memory)
    c.KmemlabAutograde.unsafe_no_sandbox = bool(unsafe_no_sandbox)
    release = list(GenerateAssignment.class_traits()["preprocessors"].default())
    c.GenerateAssignment.preprocessors = [KmemlabSeeds] + release
    grading = list(Autograde.class_traits()["autograde_preprocessors"].default())
    c.Autograde.autograde_preprocessors = [KmemlabAutograde if p is Execute else p for p in grading]
    # the stub of a cleared answer is kmemlab's `...` ("no answer yet"), not nbgrader's
    # default stub, which raises (tests/test_grading_nbgrader_stub.py runs nbgrader's
    # ClearSolutions with this config)
    c.ClearSolutions.code_stub = {"python": STUB}
