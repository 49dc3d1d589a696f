"""configure()'s promise about nbgrader's ClearSolutions, checked with nbgrader itself: a
solution region becomes kmemlab's STUB (a comment), so the answer variable the cell sets
above the region stays ``...`` — "no answer yet" for kmemlab's checks — where nbgrader's
own stub would raise NotImplementedError; and nbgrader strips exactly what
``kmemlab assign`` (strip_solutions) strips."""

import nbformat
import pytest

pytest.importorskip("nbgrader")

SOURCE = ('answer = ...          # what kmemlab.exercises reads\n'
          '### BEGIN SOLUTION\n'
          'answer = {"cache": "kmalloc-128", "waste": 28}\n'
          '### END SOLUTION')


def test_configure_clears_a_solution_to_the_stub_and_the_answer_stays_unanswered(tmp_path):
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config

    from kmemlab.grading import STUB
    from kmemlab.grading.nbgrader import configure
    from kmemlab.grading.release import strip_solutions

    c = Config()
    configure(c, key_file=str(tmp_path / "course.key"))
    meta = {"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "ans-1",
                         "schema_version": 3}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOURCE, metadata=meta)],
                                  metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb, _ = ClearSolutions(config=c).preprocess(nb, {})
    src = nb.cells[0].source
    assert STUB in src and "kmalloc-128" not in src and "NotImplementedError" not in src, src
    ns: dict = {}
    exec(compile(src, "answer-cell", "exec"), ns)           # runs: the students' notebook runs top to bottom
    assert ns["answer"] is Ellipsis
    assert src == strip_solutions(SOURCE)
    # without configure() nbgrader's own stub raises: the promise is configure()'s doing
    plain, _ = ClearSolutions().preprocess(nbformat.from_dict(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SOURCE, metadata=meta)],
                                 metadata=nb.metadata)), {})
    assert "NotImplementedError" in plain.cells[0].source
