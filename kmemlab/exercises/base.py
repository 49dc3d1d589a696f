"""The exercise machinery: seeded problems, checks with specific feedback, graded hints.

An exercise is like an OSTEP homework run: the seed is echoed first, the same seed gives
the same problem on every Python (the RNG algorithm is pinned: numpy's PCG64), and the
question and its answer come out of *one* code path — :meth:`Exercise.build` boots a
:class:`~kmemlab.Machine`, runs the scenario and reads the answer off the model, so the
question cannot drift from the answer.

An answer has one or more named *parts* (``{"pfn": ..., "order": ...}``); a student may
pass a dict, a tuple in part order, or a bare value for a one-part exercise. Every part
is compared with the model's value; a wrong part is then matched against the *typical
mistakes* the generator computed (also from the model: "that is the buddy at order 2"),
so the feedback names the mistake rather than only "wrong". :class:`CheckResult` is an
immutable record that renders as HTML in a notebook and as text in a terminal, and is
truthy exactly when the answer passed.

Graded use (issue 15) never trusts a verdict computed in a student's kernel: the answer
cell's ``ex.submit(answer)`` writes a small typed record (:func:`answer_record`: JSON with
the exercise, the seed and the answer) and the grader checks that answer again in its own
process with the student's own seed (:mod:`kmemlab.grading`). The answers themselves stay
out of casual reach: no attribute holds them, ``ex.solution()`` needs the instructor's
:class:`~kmemlab.exercises.key.CourseKey`. Every exercise builds its machines through
:func:`exercise_machine`, which names the kernel release (and the bare boot) explicitly,
so a new default elsewhere cannot change a student's problem.
"""

from __future__ import annotations

import abc
import collections
import html
import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

__all__ = ["Exercise", "Problem", "Part", "CheckResult", "Solution", "SolutionLocked", "register",
           "REGISTRY", "rng_for", "exercise_machine", "answer_record", "ANSWERS_ENV",
           "RECORD_FORMAT", "EXERCISE_KERNEL", "MAX_ANSWER_BYTES"]

REGISTRY: dict[str, type["Exercise"]] = {}

#: the kernel release every exercise machine runs: stated, not inherited from a default
EXERCISE_KERNEL = "6.6"
#: where ``ex.submit()`` appends answer records; set only by the grader's sandbox
ANSWERS_ENV = "KMEMLAB_ANSWERS"
RECORD_FORMAT = "kmemlab-answer/1"
#: the largest answer a record holds (JSON bytes); the grader reads no more either
MAX_ANSWER_BYTES = 16384

# self-checks per (exercise, seed) in this Python process: the record carries the count,
# so the grader can say "checked 4096 times before submitting" (a brute force) — this is
# bookkeeping about the notebook session, not model state
_CHECKS: collections.Counter = collections.Counter()


def exercise_machine(profile: str = "x86_64", **kwargs):
    """The Machine an exercise runs its scenario on: kernel :data:`EXERCISE_KERNEL` unless
    the exercise names another, and the pristine ("bare") boot once Machine has a ``boot``
    option — so the problems a seed draws do not move when a default changes."""
    from ..kernel.machine import Machine
    kwargs.setdefault("kernel", EXERCISE_KERNEL)
    if "boot" in _machine_params():
        kwargs.setdefault("boot", "bare")
    return Machine(profile, **kwargs)


def _machine_params() -> frozenset:
    global _MACHINE_PARAMS
    if _MACHINE_PARAMS is None:
        from ..kernel.machine import Machine
        _MACHINE_PARAMS = frozenset(inspect.signature(Machine.__init__).parameters)
    return _MACHINE_PARAMS


_MACHINE_PARAMS: frozenset | None = None


def register(cls: type["Exercise"]) -> type["Exercise"]:
    """Class decorator: add an exercise to :func:`kmemlab.exercises.catalog`."""
    if cls.name in REGISTRY:
        raise ValueError(f"two exercises are called {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def rng_for(seed: int) -> np.random.Generator:
    """The exercise's own random stream: PCG64 named explicitly, so a future numpy
    default cannot change every student's problem."""
    return np.random.Generator(np.random.PCG64(seed))


class SolutionLocked(PermissionError):
    """``ex.solution()`` (or an answer attribute) without the instructor's course key."""


@dataclass(frozen=True)
class Part:
    """One answer part: the model's value, how to read a student's value, and the
    typical wrong values with the feedback each deserves.

    ``parse(value)`` turns what a student typed into the comparable form (or raises
    ValueError/TypeError with a message that says what to type); ``mistakes`` maps a
    parsed wrong value to its feedback; ``judge``, when given, replaces equality
    (free-text parts: ``judge(parsed) -> (ok, feedback)``)."""
    name: str
    answer: Any
    parse: Callable[[Any], Any] = int
    mistakes: dict = field(default_factory=dict)
    judge: Callable[[Any], tuple[bool, str]] | None = None
    show: Callable[[Any], str] = str
    what: str = ""          # how to answer, for the question text ("an int, e.g. 0x1a40")


@dataclass(frozen=True)
class Problem:
    """What :meth:`Exercise.build` returns: parameters echoed first, the question text,
    the answer parts, graded hints and the worked explanation."""
    params: dict
    question: str
    parts: tuple[Part, ...]
    hints: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer (an otter-style immutable record).

    ``passed`` is True only when every part is right; ``score`` is the fraction of parts
    right (0.0 .. 1.0); ``points`` is that fraction of the exercise's points;
    ``feedback`` has one line per part; ``parts`` is ((part name, right?), ...).
    ``bool(result)`` is ``passed``."""
    exercise: str
    seed: int
    passed: bool
    score: float
    points: float
    max_points: float
    feedback: tuple[str, ...]
    parts: tuple[tuple[str, bool], ...] = ()

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "PASS" if self.passed else "FAIL"
        lines = [f"{head} {self.exercise} (seed {self.seed}): score {self.score:.2f} "
                 f"= {self.points:g}/{self.max_points:g} points"]
        lines += [f"  {f}" for f in self.feedback]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self) -> str:
        # the verdict is spelled out in words, not only in colour
        colour = "#1a7f37" if self.passed else "#b42318"
        items = "".join(f"<li>{html.escape(f)}</li>" for f in self.feedback)
        return (f'<div style="border-left:4px solid {colour};padding:4px 10px">'
                f'<b style="color:{colour}">{"PASS" if self.passed else "FAIL"}</b> '
                f"{html.escape(self.exercise)} (seed {self.seed}) — score {self.score:.2f}, "
                f"{self.points:g}/{self.max_points:g} points<ul>{items}</ul></div>")


class Exercise(abc.ABC):
    """A seeded exercise. Subclasses set ``name``, ``topic``, ``description`` and
    implement :meth:`build`; everything else (question display, checking, hints,
    the gated solution) is here.

    >>> ex = km.exercise("buddy-of-pfn", seed=42)
    >>> ex.check(ex.solution(force=True).answer)      # doctest: +SKIP
    """

    name: ClassVar[str] = ""
    topic: ClassVar[str] = ""
    description: ClassVar[str] = ""
    points: ClassVar[int] = 2

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int (e.g. seed=42 or your student number), "
                            f"got {type(seed).__name__} {seed!r}")
        if not 0 <= int(seed) < 2 ** 63:
            raise ValueError(f"seed must be in 0 .. 2**63-1, got {seed}")
        self.seed = int(seed)
        # the answers live here and nowhere public: see solution() and the module doc
        self.__problem = self.build(rng_for(self.seed))
        self._hints_given = 0

    @property
    def _problem(self):
        raise SolutionLocked(f"the answers of {self.name} are not an attribute; an instructor "
                             "passes the course key: ex.solution(key='course.key')")

    @abc.abstractmethod
    def build(self, rng: np.random.Generator) -> Problem:
        """Draw the parameters from ``rng``, run the scenario on a Machine and return
        the :class:`Problem` (question and answer from the same run)."""

    # -- the question ---------------------------------------------------------------

    @property
    def params(self) -> dict:
        """The drawn parameters (echoed at the top of the question)."""
        return dict(self.__problem.params)

    @property
    def parts(self) -> tuple[str, ...]:
        """The names of the answer parts, in the order a tuple answer uses."""
        return tuple(p.name for p in self.__problem.parts)

    def question(self) -> str:
        """The question as plain text: seed and parameters first, then the task."""
        ps = self.__problem
        head = [f"ARG exercise {self.name}", f"ARG seed {self.seed}"]
        head += [f"ARG {k} {v}" for k, v in ps.params.items()]
        parts = self.__problem.parts
        if len(parts) == 1:
            how = [f"Answer: {parts[0].what}" if parts[0].what else "Answer: one value"]
        else:
            how = ["Answer with a dict (or a tuple in this order):"]
            how += [f"  {p.name!r}: {p.what}" for p in parts]
        return "\n".join(head) + "\n\n" + ps.question.rstrip() + "\n\n" + "\n".join(how) + "\n"

    def __str__(self) -> str:
        return self.question()

    def __repr__(self) -> str:
        return f"<exercise {self.name} seed={self.seed}>"

    def _repr_pretty_(self, p, cycle):
        p.text(self.question())

    def _repr_markdown_(self) -> str:
        return f"**{self.name}** ({self.topic}, seed {self.seed})\n\n```text\n{self.question()}```\n"

    def _repr_html_(self) -> str:
        return (f"<div><b>{html.escape(self.name)}</b> ({html.escape(self.topic)}, seed {self.seed})"
                f"<pre>{html.escape(self.question())}</pre></div>")

    # -- checking -------------------------------------------------------------------

    def _split(self, answer) -> list:
        parts = self.__problem.parts
        if isinstance(answer, dict):
            missing = [p.name for p in parts if p.name not in answer]
            extra = [k for k in answer if k not in self.parts]
            if missing or extra:
                raise ValueError(f"{self.name}: answer keys must be {list(self.parts)}"
                                 + (f"; missing {missing}" if missing else "")
                                 + (f"; unknown {extra}" if extra else ""))
            return [answer[p.name] for p in parts]
        if len(parts) == 1:
            return [answer]
        if isinstance(answer, (tuple, list)) and len(answer) == len(parts):
            return list(answer)
        raise TypeError(f"{self.name}: answer with a dict {{{', '.join(repr(n) + ': ...' for n in self.parts)}}} "
                        f"or a tuple of {len(parts)} values, got {answer!r}")

    def check(self, answer) -> CheckResult:
        """Compare ``answer`` with the model's; a part that cannot be read counts as
        wrong and the feedback says what to type."""
        parts = self.__problem.parts
        _CHECKS[(self.name, self.seed)] += 1
        try:
            values = self._split(answer)
        except (TypeError, ValueError) as e:
            return self._result([False] * len(parts), [str(e)])
        oks, feedback = [], []
        for part, value in zip(parts, values):
            ok, msg = self._check_part(part, value)
            oks.append(ok)
            label = f"{part.name}: " if len(parts) > 1 else ""
            feedback.append(f"{label}{msg}")
        return self._result(oks, feedback)

    def _check_part(self, part: Part, value) -> tuple[bool, str]:
        if value is None or value is Ellipsis:
            return False, "no answer yet"
        try:
            got = part.parse(value)
        except (TypeError, ValueError) as e:
            return False, f"cannot read {value!r}: {e}" + (f" (answer {part.what})" if part.what else "")
        if part.judge is not None:
            return part.judge(got)
        if got == part.answer:
            return True, f"correct ({part.show(part.answer)})"
        for wrong, why in part.mistakes.items():
            if got == wrong:
                return False, f"{part.show(got)} is not right: {why}"
        return False, f"{part.show(got)} is not right; try ex.hint()"

    def _result(self, oks: list[bool], feedback: list[str]) -> CheckResult:
        score = sum(oks) / len(oks)
        return CheckResult(self.name, self.seed, all(oks), score, round(score * self.points, 3),
                           float(self.points), tuple(feedback),
                           tuple((p.name, ok) for p, ok in zip(self.__problem.parts, oks)))

    @property
    def checks_made(self) -> int:
        """How many times this exercise (name and seed) was checked in this Python process."""
        return _CHECKS[(self.name, self.seed)]

    # -- graded use -------------------------------------------------------------------

    def submit(self, answer) -> CheckResult:
        """Hand ``answer`` in: show the self-check (the very check the grader runs) and,
        inside a grading run, append the answer record the grader reads
        (:func:`answer_record`). The grader never uses what this returns or prints: it
        checks the recorded answer again, in its own process, with the student's own seed.
        An answer that cannot be recorded (not numbers, text, lists or dicts of them; too
        large) raises TypeError/ValueError saying what to pass."""
        record = answer_record(self, answer)
        result = self.check(answer)
        path = os.environ.get(ANSWERS_ENV)
        if path:
            line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            note = "answer saved for the grader"
        else:
            note = "the grader runs this cell again and grades the answer it gets there"
        return CheckResult(result.exercise, result.seed, result.passed, result.score,
                           result.points, result.max_points, result.feedback + (f"({note})",),
                           result.parts)

    # -- help -------------------------------------------------------------------------

    def hint(self) -> str:
        """The next hint: the first call gives hint 1, the next hint 2, ... (the last
        one repeats)."""
        hints = self.__problem.hints
        i = min(self._hints_given, len(hints) - 1)
        self._hints_given = min(self._hints_given + 1, len(hints))
        more = "" if i + 1 < len(hints) else " (that was the last hint)"
        from ..kernel.machine import Text
        return Text(f"Hint {i + 1}/{len(hints)}{more}: {hints[i]}")

    @property
    def hints_given(self) -> int:
        """How many hints this exercise has shown (a grader may record it)."""
        return self._hints_given

    def solution(self, key=None) -> "Solution":
        """The answer and a worked explanation, for the holder of a course key
        (:class:`~kmemlab.exercises.key.CourseKey`, the path of its file, or its text);
        raises SolutionLocked without one. A self-study learner is their own instructor:
        ``kmemlab key new my.key`` makes a key."""
        from .key import CourseKey
        if key is None:
            raise SolutionLocked(f"the solution of {self.name} needs the instructor's course "
                                 "key (ex.solution(key='course.key')); try ex.hint()")
        try:
            CourseKey.coerce(key)
        except (TypeError, ValueError) as e:
            raise SolutionLocked(f"the solution of {self.name} needs a course key: {e}") from None
        ps = self.__problem
        answer = ({p.name: p.answer for p in ps.parts} if len(ps.parts) > 1 else ps.parts[0].answer)
        shown = "\n".join(f"  {p.name} = {p.show(p.answer)}" for p in ps.parts)
        return Solution(answer, f"Answer:\n{shown}\n\n{ps.explanation.rstrip()}\n")


class Solution(str):
    """The worked solution text; ``.answer`` is what ``ex.check`` accepts."""

    answer: Any

    def __new__(cls, answer, text: str):
        self = super().__new__(cls, text)
        self.answer = answer
        return self

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _plain(value, where: str):
    """``value`` as JSON-able plain data: numbers, text, True/False/None, lists and dicts
    with text keys (numpy scalars and int subclasses such as Address become int)."""
    if value is None or value is Ellipsis:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: {value!r} is not a number an answer can hold")
        return f
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, where) for v in list(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: dict keys are part names (text), got {k!r}")
            out[str(k)] = _plain(v, where)
        return out
    raise TypeError(f"{where}: an answer is numbers, text, True/False, or lists/dicts of "
                    f"them; got {type(value).__name__}")


def answer_record(ex: "Exercise", answer) -> dict:
    """The record ``ex.submit(answer)`` writes: ``{"format", "exercise", "seed",
    "answer", "checks", "hints"}`` — plain JSON the grader parses without running any of
    the student's code."""
    plain = _plain(answer, f"{ex.name} answer")
    size = len(json.dumps(plain, separators=(",", ":")))
    if size > MAX_ANSWER_BYTES:
        raise ValueError(f"{ex.name}: the answer is {size} bytes as JSON; an answer is at most "
                         f"{MAX_ANSWER_BYTES} bytes")
    return {"format": RECORD_FORMAT, "exercise": ex.name, "seed": ex.seed, "answer": plain,
            "checks": ex.checks_made, "hints": ex.hints_given}


# -- parsers shared by the generators ---------------------------------------------------

def parse_int(value) -> int:
    """An int, or a string like "0x1a40", "6720", "24 KiB" is NOT accepted (give bytes)."""
    if isinstance(value, bool):
        raise TypeError("give a number, not True/False")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        s = value.strip().replace("_", "")
        try:
            return int(s, 0)
        except ValueError:
            raise ValueError(f"{value!r} is not a number; write e.g. 4096 or 0x1000") from None
    raise TypeError(f"give an int, got {type(value).__name__}")


def parse_bool(value) -> bool:
    """True/False, or yes/no text."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("yes", "y", "true", "succeeds", "success"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "n", "false", "fails", "fail"):
        return False
    raise ValueError("answer True (it succeeds) or False (it fails)")


def show_hex(v) -> str:
    return f"{v:#x}"


def show_yes_no(v) -> str:
    return "succeeds" if v else "fails"
