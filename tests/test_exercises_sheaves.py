"""The sheaf-state exercise (kmemlab/exercises/sheaves.py): its answer, read from the 7.0
model, is the one worked out by hand from free_to_pcs()/__pcs_replace_full_main() —
main = ((N - 1) mod cap) + 1, spare = cap, barn = (N - cap - 1) // cap full sheaves —
and the typical wrong answers get their own feedback."""

import re

import pytest

import kmemlab as km


def frees_and_cap(ex):
    text = str(ex)
    return int(re.search(r"ARG frees (\d+)", text).group(1)), int(re.search(r"ARG capacity (\d+)", text).group(1))


@pytest.mark.parametrize("seed", range(8))
def test_answer_is_the_hand_derivation(seed):
    ex = km.exercise("sheaf-state", seed=seed)
    n, cap = frees_and_cap(ex)
    assert cap == 12                                     # calculate_sheaf_capacity() of 1 KiB objects
    main = (n - 1) % cap + 1
    barn = (n - cap - 1) // cap
    assert barn <= 10                                    # below MAX_FULL_SHEAVES: nothing flushed
    assert ex.check({"main": main, "spare": cap, "barn_full": barn}).passed


def test_wrong_answers_get_specific_feedback():
    ex = km.exercise("sheaf-state", seed=3)
    n, cap = frees_and_cap(ex)
    main = (n - 1) % cap + 1
    barn = (n - cap - 1) // cap
    r = ex.check({"main": main, "spare": 0, "barn_full": barn + 1})
    assert not r.passed and r.score == pytest.approx(1 / 3)
    text = " ".join(r.feedback)
    assert "spare" in text and "barn" in text
    bad = ex.check({"main": "lots", "spare": cap, "barn_full": barn})     # unreadable: said so, not graded right
    assert not bad.passed and "cannot read 'lots'" in bad.feedback[0]
    naive = ex.check({"main": n % cap, "spare": cap, "barn_full": barn})
    assert "free_to_pcs()" in naive.feedback[0] or n % cap == main
