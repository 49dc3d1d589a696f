"""Graded use of the exercise notebooks that holds against a hostile student (issue 15).

``kmemlab assign`` (:mod:`.release`) writes the students' notebooks — no solutions, a seed
per student from the course key — and a signed manifest that stays with the instructor.
``kmemlab grade`` (:mod:`.grader`) runs every submission in its own bubblewrap sandbox
(:mod:`.sandbox`, :mod:`.runner`), takes nothing from it but the typed answer records that
``ex.submit(answer)`` wrote, and checks those answers in its own process with the
student's own seed. :mod:`.nbgrader` plugs the same seeds and the same grader into
nbgrader 0.9 (``generate_assignment``, ``autograde``, ``generate_feedback``).
See docs/grading.md.
"""

from .grader import (BRUTE_FORCE_CHECKS, GradeResult, GradeRun, QuestionOutcome,
                    SandboxUnavailable, csv_cell, grade, grade_one, parse_answers)
from .release import (FORMAT, HUB_FOLDER, MARKDOWN_STUB, STUB, assign, load_manifest,
                      manifest_path_for, questions_of, read_roster, release_notebook,
                      strip_solutions)
from .sandbox import Limits, parse_size, sandbox_problem

__all__ = ["assign", "grade", "grade_one", "release_notebook", "strip_solutions", "read_roster",
           "load_manifest", "manifest_path_for", "questions_of", "parse_answers", "csv_cell",
           "GradeResult", "GradeRun", "QuestionOutcome", "SandboxUnavailable", "Limits",
           "parse_size", "sandbox_problem", "STUB", "MARKDOWN_STUB", "FORMAT", "HUB_FOLDER",
           "BRUTE_FORCE_CHECKS"]
