"""Grading figures (issue 15): 50 submissions of the shipped exercise notebook 02 (model
answers) graded with one bubblewrap sandbox each versus
the same runner without a sandbox (``--unsafe-no-sandbox``), and what one submission costs
in memory.

The runs without a sandbox are the same-run floor of the sandbox figure: both grade the same
notebooks with the same runner, jobs and limits, interleaved A-B-B-A (25 submissions a leg)
so that the other load on a shared machine hits both alike. Target: the sandbox costs at
most 20 % more wall time. Memory: the largest resident set of one submission's processes
(the kernel, usually; RUSAGE_CHILDREN of the grader, which every sandboxed process rolls up
into) and the grader's own growth per submission.

    python benchmarks/bench_grading.py [--quick]      # or via benchmarks/run.py
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from common import figure, rss_mb

from kmemlab import grading
from kmemlab.exercises import CourseKey

NOTEBOOK = (Path(__file__).resolve().parent.parent / "notebooks" / "instructor" / "exercises"
            / "02-vmalloc-and-page-tables.instructor.ipynb")


def _class(tmp: Path, n: int):
    """A class of ``n`` students handing in the shipped notebook with the model answers."""
    import nbformat
    key = CourseKey(b"benchmark-course-key" * 2)
    src = tmp / "b.instructor.ipynb"
    src.write_bytes(NOTEBOOK.read_bytes())
    teacher = nbformat.read(src, as_version=4)
    answers = {c.metadata.nbgrader.grade_id: c.source for c in teacher.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    students = [f"s{i:03d}" for i in range(n)]
    grading.assign([src], tmp / "rel", students, key)
    for s in students:
        nb = nbformat.read(tmp / "rel" / s / "b.ipynb", as_version=4)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                c.source = answers[gid]
        (tmp / "subs" / s).mkdir(parents=True)
        nbformat.write(nb, tmp / "subs" / s / "b.ipynb")
    return key, students


def _leg(tmp: Path, key, students, sandbox: bool, tag: str) -> float:
    """Grade ``students`` (a sub-folder view of the class) and return the wall time."""
    import shutil
    subs = tmp / f"subs-{tag}"
    subs.mkdir()
    for s in students:
        shutil.copytree(tmp / "subs" / s, subs / s)
    # a manifest with just these students: assign them again (same key, same seeds)
    grading.assign([tmp / "b.instructor.ipynb"], tmp / f"rel-{tag}", students, key)
    t = time.perf_counter()
    run = grading.grade(tmp / f"rel-{tag}.manifest.json", subs, tmp / f"g-{tag}.csv", key,
                        sandbox=sandbox, jobs=2, progress=None)
    took = time.perf_counter() - t
    bad = [r for r in run.results if r.score != r.max_points]
    if bad:
        raise RuntimeError(f"benchmark grading went wrong: {bad[0]}")
    return took


def run(quick: bool = False) -> list[dict]:
    n = 12 if quick else 50
    problem = grading.sandbox_problem()
    if problem:
        return [figure("grading: sandbox wall-time cost", float("nan"), "%", 20.0,
                       note=f"not measured: {problem}")]
    with tempfile.TemporaryDirectory(prefix="kmemlab-bench-grading-") as d:
        tmp = Path(d)
        key, students = _class(tmp, n)
        half = n // 2
        a, b = students[:half], students[half:]
        rss0 = rss_mb()
        times = {"unsafe": 0.0, "sandbox": 0.0}
        for i, (mode, group) in enumerate((("unsafe", a), ("sandbox", b), ("sandbox", a), ("unsafe", b))):
            times[mode] += _leg(tmp, key, group, mode == "sandbox", f"{i}-{mode}")
        grader_growth = (rss_mb() - rss0) / (2 * n)
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cost = (times["sandbox"] / times["unsafe"] - 1) * 100
    per = {k: v / n for k, v in times.items()}
    return [
        figure(f"grading {n} submissions in bubblewrap sandboxes (2 jobs)", times["sandbox"], "s",
               note=f"{per['sandbox']:.2f} s per submission"),
        figure(f"grading {n} submissions without a sandbox (the floor)", times["unsafe"], "s",
               note=f"{per['unsafe']:.2f} s per submission"),
        figure("grading: sandbox wall-time cost over no sandbox", cost, "%", 20.0,
               note="same notebooks, runner, limits and jobs; legs interleaved A-B-B-A"),
        figure("grading: peak RSS of one submission's largest process", child_peak, "MiB",
               note="the Jupyter kernel with kmemlab and the exercises loaded (RUSAGE_CHILDREN)"),
        figure("grading: grader RSS growth per submission", grader_growth, "MiB", 1.0,
               note="results, CSV and feedback stay small; outputs are capped at 1 MiB"),
    ]


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
