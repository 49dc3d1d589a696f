"""Seeded exercises that check themselves (issue 8).

>>> import kmemlab as km
>>> km.exercises.catalog()                    # name, topic, one-line description
>>> ex = km.exercise("buddy-merge", seed=42)  # same seed -> same problem, every time
>>> ex                                        # the question (parameters echoed first)
>>> ex.check({"pfn": 0x1a40, "order": 2})     # PASS/FAIL, score, feedback per part
>>> ex.hint()                                 # hint 1, then 2, ...
>>> ex.submit({"pfn": 0x1a40, "order": 2})    # graded notebooks: the self-check + a record
>>> ex.solution(key="course.key")             # the answer: only with a course key

From a terminal: ``kmemlab exercise buddy-merge -s 42`` (``-c --key FILE`` prints the
answer). In a course every student's seed comes from the instructor's key
(:class:`CourseKey`); on JupyterHub ``SEED = km.exercises.student_seed({...})`` picks the
login's seed from the table the release carries.
"""

from __future__ import annotations

from . import buddy, choice, sheaves, slab, vmalloc  # noqa: F401  (each registers its exercises)
import os

from .base import (REGISTRY, CheckResult, Exercise, Problem, Solution, SolutionLocked,
                   answer_record)
from .key import CourseKey

__all__ = ["catalog", "exercise", "student_seed", "Exercise", "CheckResult", "Problem",
           "Solution", "SolutionLocked", "CourseKey", "answer_record"]


class Catalog(list):
    """The exercise list: rows of (name, topic, description); prints as a table."""

    def __str__(self) -> str:
        w = max(len(r[0]) for r in self)
        t = max(len(r[1]) for r in self)
        return "\n".join(f"{n:<{w}}  {tp:<{t}}  {d}" for n, tp, d in self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self) -> str:
        import html
        rows = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(tp)}</td>"
                       f"<td>{html.escape(d)}</td></tr>" for n, tp, d in self)
        return f"<table><tr><th>name</th><th>topic</th><th>description</th></tr>{rows}</table>"


def catalog() -> Catalog:
    """Every exercise as (name, topic, one-line description), grouped by topic."""
    return Catalog(sorted(((c.name, c.topic, c.description) for c in REGISTRY.values()),
                          key=lambda r: (r[1], r[0])))


def exercise(name: str, seed: int = 0) -> Exercise:
    """The exercise ``name`` with the problem that ``seed`` draws (use a student number
    as the seed to give each student their own variant)."""
    if not isinstance(name, str):
        raise TypeError(f"exercise name must be a str such as 'buddy-merge', got {name!r}")
    cls = REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"no exercise {name!r}; km.exercises.catalog() lists: "
                         + ", ".join(sorted(REGISTRY)))
    return cls(seed)



def student_seed(seeds: dict, user: str | None = None) -> int:
    """The seed of ``user`` (default: the JupyterHub login, ``$JUPYTERHUB_USER``) in the
    table a JupyterHub release carries, so the problems in a student's notebook are the
    ones the grader grades. The table is public by design: a seed only draws a problem,
    and the grader computes every seed from the roster and the course key, never from it."""
    if not isinstance(seeds, dict):
        raise TypeError(f"seeds must be the release's dict {{login: seed}}, got {type(seeds).__name__}")
    who = user if user is not None else os.environ.get("JUPYTERHUB_USER", "")
    if not who:
        raise ValueError("no JupyterHub login here ($JUPYTERHUB_USER is not set): open this "
                         "notebook on the course's JupyterHub, or ask your instructor for the "
                         "notebook with your own seed")
    if who not in seeds:
        raise ValueError(f"{who!r} is not on this release's roster; ask your instructor to "
                         "add you (and release again)")
    return int(seeds[who])
