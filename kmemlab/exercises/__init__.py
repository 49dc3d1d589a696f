"""Seeded exercises that check themselves (issue 8).

>>> import kmemlab as km
>>> km.exercises.catalog()                    # name, topic, one-line description
>>> ex = km.exercise("buddy-merge", seed=42)  # same seed -> same problem, every time
>>> ex                                        # the question (parameters echoed first)
>>> ex.check({"pfn": 0x1a40, "order": 2})     # PASS/FAIL, score, feedback per part
>>> ex.hint()                                 # hint 1, then 2, ...
>>> ex.solution()                             # only with KMEMLAB_INSTRUCTOR=1 (or force=True)

From a terminal: ``kmemlab exercise buddy-merge -s 42`` (``-c`` prints the answer).
"""

from __future__ import annotations

from . import buddy, choice, slab, vmalloc  # noqa: F401  (each registers its exercises)
from .base import (INSTRUCTOR_ENV, REGISTRY, CheckResult, Exercise, Problem, Solution,
                   SolutionLocked)

__all__ = ["catalog", "exercise", "Exercise", "CheckResult", "Problem", "Solution",
           "SolutionLocked", "INSTRUCTOR_ENV"]


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

