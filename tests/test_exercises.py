"""Seeded exercises (issue 8): every generator over many seeds, the model's answer passes,
typical wrong answers fail with feedback that names the mistake, same seed -> same
question, hints, the instructor gate, the result record and the CLI."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import kmemlab as km
from kmemlab.cli import main
from kmemlab.exercises import CourseKey, SolutionLocked

NAMES = [n for n, _, _ in km.exercises.catalog()]
SEEDS = range(50)
REPO = Path(__file__).resolve().parent.parent
KEY = CourseKey(b"k" * 32, "the tests' key")


def answer_of(ex):
    return ex.solution(key=KEY).answer


def wrong(name, seed, **parts):
    """Check the model answer with some parts replaced; return the result."""
    ex = km.exercise(name, seed=seed)
    ans = answer_of(ex)
    ans = dict(ans) if isinstance(ans, dict) else ans
    if isinstance(ans, dict):
        ans.update(parts)
    else:
        (ans,) = parts.values()
    return ex, ex.check(ans)


def test_catalog_lists_at_least_twelve_exercises_with_topic_and_description():
    cat = km.exercises.catalog()
    assert len(cat) >= 12 and len(set(NAMES)) == len(NAMES)
    assert all(topic and desc for _, topic, desc in cat)
    assert {"buddy allocator", "slab allocator", "vmalloc", "page tables"} <= {t for _, t, _ in cat}
    assert "buddy-merge" in str(cat) and "<table>" in cat._repr_html_()


@pytest.mark.parametrize("name", NAMES)
def test_model_answer_passes_with_full_score_over_many_seeds(name):
    for seed in SEEDS:
        ex = km.exercise(name, seed=seed)
        r = ex.check(answer_of(ex))
        assert r and r.score == 1.0 and r.points == r.max_points, (seed, str(r))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_question_and_seeds_differ(name):
    qs = [km.exercise(name, seed=s).question() for s in range(12)]
    assert qs == [km.exercise(name, seed=s).question() for s in range(12)]
    assert len(set(qs)) >= 6, f"{name}: only {len(set(qs))} different problems in 12 seeds"
    assert qs[0].startswith(f"ARG exercise {name}\nARG seed 0\n")


def test_question_is_the_same_in_another_process():
    # the RNG is pinned (PCG64) and reports name no Python caller: a CLI run far away
    # poses the very question a notebook does
    for name in ("spot-the-bug", "buddy-merge", "vmalloc-size"):
        out = subprocess.run([sys.executable, "-m", "kmemlab.cli", "exercise", name, "-s", "5"],
                             capture_output=True, text=True, cwd=REPO, check=True,
                             env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}).stdout
        assert out.startswith(km.exercise(name, seed=5).question())


# -- the answers are the kernel's (derived independently of the generators) -----------

def test_buddy_of_pfn_is_pfn_xor_one_shifted_by_order():
    for seed in SEEDS:
        ex = km.exercise("buddy-of-pfn", seed=seed)
        pfn, order = int(ex.params["pfn"], 16), ex.params["order"]
        assert answer_of(ex) == pfn ^ (1 << order)


def test_kmalloc_cache_answer_follows_kmalloc_index():
    for seed in SEEDS:
        ex = km.exercise("kmalloc-cache", seed=seed)
        n = ex.params["size"]
        size = 1 << km.kmalloc_index(n) if km.kmalloc_index(n) > 2 else (96, 192)[km.kmalloc_index(n) - 1]
        assert answer_of(ex) == {"cache": size, "waste": size - n}


def test_vmalloc_size_counts_a_guard_page_and_whole_pages():
    for seed in SEEDS:
        ex = km.exercise("vmalloc-size", seed=seed)
        n, v = ex.params["size"], int(ex.params["address"], 16)
        pages = -(-n // 4096)
        first, last = v >> 21, (v + (pages - 1) * 4096) >> 21
        assert answer_of(ex) == {"pages": pages, "size": (pages + 1) * 4096,
                                 "pte_tables": last - first + 1}


def test_pt_translate_answer_is_the_frame_plus_offset_of_the_walk():
    for seed in range(20):
        ex = km.exercise("pt-translate", seed=seed)
        addr = int(ex.params["address"], 16)
        ans = answer_of(ex)
        if ex.params["kind"] == "kmalloc":     # direct map: __pa() = addr - PAGE_OFFSET
            assert ans["phys"] == addr - 0xffff888000000000
        assert ans["phys"] & 0xfff == addr & 0xfff


def test_slab_objects_answer_is_calculate_order_of_the_cpu_count():
    from kmemlab.kernel.slub import calculate_order
    for seed in SEEDS:
        ex = km.exercise("slab-objects", seed=seed)
        size, cpus = ex.params["size"], ex.params["cpus"]
        order = calculate_order(size, cpus)
        assert answer_of(ex) == {"objects": (4096 << order) // size, "pages": 1 << order}


# -- typical mistakes get specific feedback -------------------------------------------

def test_buddy_at_the_wrong_order_is_named():
    hits = 0
    for seed in SEEDS:
        ex = km.exercise("buddy-of-pfn", seed=seed)
        pfn, order = int(ex.params["pfn"], 16), ex.params["order"]
        if order >= 1:
            r = ex.check(pfn ^ (1 << (order - 1)))
            assert not r and f"buddy at order {order - 1}" in r.feedback[0], str(r)
            assert f"differs in bit {order}" in r.feedback[0]
            hits += 1
        r = ex.check(pfn)
        assert not r and "not its own buddy" in r.feedback[0]
    assert hits > 20


def test_buddy_merge_without_merging_or_one_step_too_far():
    seen_far = 0
    for seed in SEEDS:
        ex = km.exercise("buddy-merge", seed=seed)
        ans = answer_of(ex)
        page = int(ex.params["page"], 16)
        if ans["order"] > 0:
            r = ex.check({"pfn": page, "order": 0})
            assert not r and r.score < 1
            assert "no merge" in str(r) or (ans["order"] == 1 and "stopped one merge early" in str(r))
            r = ex.check({"pfn": ans["pfn"], "order": ans["order"] - 1})
            assert r.score == 0.5 and "stopped one merge early" in str(r)
        window = int(ex.params["window"].split("+")[0], 16)
        if ans["order"] < 3:
            far = ans["pfn"] & ~((2 << ans["order"]) - 1)
            if far >= window:
                r = ex.check({"pfn": far, "order": ans["order"] + 1})
                assert "merged once too often" in str(r)
                seen_far += 1
    assert seen_far > 5


def test_buddyinfo_from_an_earlier_step_is_recognised():
    for seed in range(10):
        ex = km.exercise("buddyinfo-after", seed=seed)
        m = km.Machine("tiny", kernel=km.exercises.base.EXERCISE_KERNEL, boot="bare", pcp=False)  # the exercise's machine
        start = [m.zone("DMA").free_area[o].nr_free for o in range(11)]
        r = ex.check(start)
        if tuple(start) != answer_of(ex):
            assert not r and "before step 1" in str(r)
        line = "Node 0, zone      DMA " + " ".join(map(str, answer_of(ex)))
        assert ex.check(line), "the buddyinfo line itself is accepted"
        bad = list(answer_of(ex))
        bad[10] += 1
        r = ex.check(bad)
        assert not r and "order 10: you have" in str(r)


def test_order_alloc_wrong_verdict_explains_block_or_watermark():
    reasons = set()
    for seed in SEEDS:
        ex = km.exercise("order-alloc", seed=seed)
        ok = answer_of(ex)
        r = ex.check(not ok)
        assert not r
        text = str(r)
        if ok:
            assert "stay above the min watermark" in text
            reasons.add("ok")
        elif "fragmented" in text:
            reasons.add("fragmented")
        else:
            assert "is not above the min watermark" in text
            reasons.add("watermark")
        assert ex.check("yes" if ok else "no")
    assert reasons == {"ok", "fragmented", "watermark"}


def test_kmalloc_power_of_two_instead_of_96_or_192_is_named():
    found = 0
    for seed in range(200):
        ex = km.exercise("kmalloc-cache", seed=seed)
        n = ex.params["size"]
        if 64 < n <= 96 or 128 < n <= 192:
            pow2 = 128 if n <= 96 else 256
            r = ex.check({"cache": f"kmalloc-{pow2}", "waste": pow2 - n})
            assert r.score == 0 and "kmalloc-96 and kmalloc-192" in str(r)
            assert f"waste in kmalloc-{pow2}" in str(r)
            found += 1
    assert found >= 3


def test_slab_objects_per_page_ignoring_min_objects_is_named():
    found = 0
    for seed in SEEDS:
        ex = km.exercise("slab-objects", seed=seed)
        ans = answer_of(ex)
        naive = 4096 // ex.params["size"]
        if naive != ans["objects"]:
            r = ex.check({"objects": naive, "pages": ans["pages"]})
            assert r.score == 0.5 and "min_objects" in str(r)
            found += 1
    assert found > 10


def test_slabinfo_inactive_column_is_not_the_free_object_count():
    found = 0
    for seed in SEEDS:
        ex = km.exercise("slabinfo-reading", seed=seed)
        line = next(ln for ln in ex.question().splitlines() if ln.startswith("ex_obj "))
        f = line.split()
        inactive = int(f[2]) - int(f[1])
        ans = answer_of(ex)
        assert ans["unused"] == int(f[2]) - ex.params["live"]
        assert ans["pages"] == int(f[14]) * int(f[5])
        if inactive != ans["unused"]:
            r = ex.check({"pages": ans["pages"], "unused": inactive})
            assert r.score == 0.5 and "CPU slab" in str(r)
            found += 1
    assert found > 10


def test_vmalloc_size_without_guard_page_is_named():
    for seed in range(20):
        ex = km.exercise("vmalloc-size", seed=seed)
        ans = answer_of(ex)
        _, r = wrong("vmalloc-size", seed, size=ans["pages"] * 4096)
        assert "guard page" in str(r) and r.score == pytest.approx(2 / 3)


def test_pt_translate_with_flag_bits_or_nx_left_in_is_named():
    for seed in range(20):
        ex = km.exercise("pt-translate", seed=seed)
        last = [ln for ln in ex.question().splitlines() if "entry[?]" in ln][-1]
        entry = int(last.split("= ")[1].split()[0], 16)
        addr = int(ex.params["address"], 16)
        off = addr & 0xfff
        if entry & 0x80:                        # PSE: large page; offset is wider
            continue
        r = ex.check({"index": (addr >> 12) & 511, "phys": entry + off})
        assert r.score == 0.5 and "flags" in str(r)
        r = ex.check({"index": (addr >> 12) & 511, "phys": (entry & ~0xfff) + off})
        assert "NX is bit 63" in str(r)


def test_spot_the_bug_wrong_kind_quotes_the_report():
    kinds = set()
    for seed in range(30):
        ex = km.exercise("spot-the-bug", seed=seed)
        ans = answer_of(ex)
        kinds.add(ans["bug"])
        other = next(b for b in ("double free", "out of bounds", "use after free") if b != ans["bug"])
        r = ex.check({"bug": other, "cache": ans["cache"]})
        assert r.score == 0.5 and "this report says" in str(r)
        assert ex.check({"bug": "UAF" if ans["bug"] == "use after free" else ans["bug"].upper(),
                         "cache": f"kmalloc-{ans['cache']}" if ans["cache"] < 1024 else f"kmalloc-{ans['cache'] // 1024}k"})
    assert kinds == {"double free", "out of bounds", "use after free"}


def test_choose_allocator_needs_the_reason_in_the_justification():
    for seed in range(30):
        ex = km.exercise("choose-allocator", seed=seed)
        ans = answer_of(ex)
        r = ex.check({"choice": ans["choice"], "why": "because it is the best one"})
        assert r.score == 0.5 and "should say why" in str(r)
        if ex.params["scenario"] == "dma":
            r = ex.check({"choice": "vmalloc", "why": ans["why"]})
            assert "physically contiguous" in str(r)


def test_gfp_zone_fallback_and_highmem_are_explained():
    for seed in range(40):
        ex = km.exercise("gfp-zone", seed=seed)
        p = ex.params
        if p["profile"] == "x86_64" and p["mem"] == "128M" and p["gfp"] == "GFP_KERNEL":
            r = ex.check("Normal")
            assert not r and "falls back to DMA32" in str(r)
        if p["profile"] == "i386" and p["gfp"] == "GFP_KERNEL":
            r = ex.check("HighMem")
            assert not r and "__GFP_HIGHMEM" in str(r)
            assert ex.check("ZONE_NORMAL")


def test_watermark_low_without_the_scale_factor_is_named():
    found = 0
    for seed in SEEDS:
        ex = km.exercise("watermarks", seed=seed)
        ans = answer_of(ex)
        bad = ans["min"] + ans["min"] // 4
        if bad != ans["low"]:
            _, r = wrong("watermarks", seed, low=bad)
            assert "watermark_scale_factor" in str(r)
            found += 1
    assert found > 5


# -- the machinery ---------------------------------------------------------------------

def test_hints_are_graded_and_the_last_one_repeats():
    ex = km.exercise("buddy-of-pfn", seed=1)
    assert ex.hint().startswith("Hint 1/3:")
    assert ex.hint().startswith("Hint 2/3:")
    h3 = ex.hint()
    assert h3.startswith("Hint 3/3 (that was the last hint):")
    assert ex.hint() == h3 and ex.hints_given == 3


def test_solution_and_answers_need_the_course_key(monkeypatch, tmp_path):
    ex = km.exercise("kmalloc-cache", seed=3)
    # neither the old switch nor force=True nor an attribute hands the answer out
    monkeypatch.setenv("KMEMLAB_INSTRUCTOR", "1")
    with pytest.raises(SolutionLocked, match="course key") as e:
        ex.solution()
    assert "KMEMLAB_INSTRUCTOR" not in str(e.value) and "force" not in str(e.value)
    with pytest.raises(TypeError):
        ex.solution(force=True)
    with pytest.raises(SolutionLocked, match="course key"):
        ex._problem
    assert not any(str(answer_of(ex)["waste"]) in repr(v) for k, v in vars(ex).items()
                   if not k.startswith("_Exercise__"))
    for bad in ("1", "not a key", tmp_path / "missing.key"):
        with pytest.raises(SolutionLocked, match="course key"):
            ex.solution(key=bad)
    path = tmp_path / "course.key"
    key = CourseKey.new(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for k in (key, str(path), path, path.read_text()):
        assert "Answer:" in ex.solution(key=k) and ex.check(ex.solution(key=k).answer)
    with pytest.raises(ValueError, match="never overwritten"):
        CourseKey.new(path)


def test_seeds_are_an_hmac_of_the_student_id_under_the_course_key():
    a, b = CourseKey(b"a" * 32), CourseKey(b"b" * 32)
    seeds = [a.seed_for(f"s{i}") for i in range(200)]
    assert len(set(seeds)) == 200 and all(0 <= s < 2 ** 31 for s in seeds)
    assert a.seed_for("ana") == CourseKey(b"a" * 32).seed_for("ana") != b.seed_for("ana")
    import hashlib, hmac
    mac = hmac.new(b"a" * 32, b"kmemlab-seed/1\0ana", hashlib.sha256).digest()
    assert a.seed_for("ana") == int.from_bytes(mac[:8], "big") & (2 ** 31 - 1)
    assert a.verify(b"data", a.sign(b"data")) and not b.verify(b"data", a.sign(b"data"))


def test_student_seed_follows_the_jupyterhub_login(monkeypatch):
    table = {"ana": 11, "bo": 22}
    monkeypatch.setenv("JUPYTERHUB_USER", "bo")
    assert km.exercises.student_seed(table) == 22
    assert km.exercises.student_seed(table, user="ana") == 11
    monkeypatch.setenv("JUPYTERHUB_USER", "zed")
    with pytest.raises(ValueError, match="not on this release's roster"):
        km.exercises.student_seed(table)
    monkeypatch.delenv("JUPYTERHUB_USER")
    with pytest.raises(ValueError, match="JUPYTERHUB_USER"):
        km.exercises.student_seed(table)


def test_submit_shows_the_self_check_and_records_plain_json(monkeypatch, tmp_path):
    import json
    import numpy as np
    ex = km.exercise("kmalloc-cache", seed=4)
    ans = answer_of(ex)
    monkeypatch.delenv("KMEMLAB_ANSWERS", raising=False)
    r = ex.submit(ans)
    assert r and "grader runs this cell again" in str(r)
    out = tmp_path / "answers.jsonl"
    monkeypatch.setenv("KMEMLAB_ANSWERS", str(out))
    before = ex.checks_made
    r = ex.submit({"cache": np.int64(ans["cache"]), "waste": np.int32(ans["waste"])})
    assert r and "answer saved for the grader" in str(r)
    ex.submit(("kmalloc-8", 1))
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert recs[0] == {"format": "kmemlab-answer/1", "exercise": "kmalloc-cache", "seed": 4,
                       "answer": {"cache": ans["cache"], "waste": ans["waste"]},
                       "checks": before, "hints": 0}
    assert recs[1]["answer"] == ["kmalloc-8", 1] and recs[1]["checks"] == before + 1
    with pytest.raises(TypeError, match="numbers, text"):
        ex.submit({"cache": object(), "waste": 1})
    with pytest.raises(ValueError, match="at most"):
        ex.submit({"cache": "x" * 20000, "waste": 1})
    assert len(out.read_text().splitlines()) == 2       # nothing half-written


def test_keyword_stuffing_in_a_justification_earns_nothing():
    stuffed = ("small slab cache, DMA physically contiguous device, atomic interrupt cannot "
               "sleep, too large for max order, fallback")
    for seed in range(30):
        ex = km.exercise("choose-allocator", seed=seed)
        ans = answer_of(ex)
        r = ex.check({"choice": ans["choice"], "why": stuffed})
        assert r.score == 0.5 and "several other scenarios" in str(r), str(r)


def test_check_result_is_an_immutable_record_rendering_text_and_html():
    ex = km.exercise("kmalloc-cache", seed=0)
    r = ex.check({"cache": "kmalloc-8", "waste": -1})
    assert not r and r.score == 0 and r.points == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.passed = True
    assert str(r).startswith("FAIL kmalloc-cache (seed 0)")
    assert "FAIL" in r._repr_html_() and "<li>" in r._repr_html_()
    ok = ex.check(answer_of(ex))
    assert str(ok).startswith("PASS") and "PASS" in ok._repr_html_()


@pytest.mark.parametrize("answer, message", [
    ({"cache": "kmalloc-64"}, "missing ['waste']"),
    ({"cache": 64, "waste": 1, "x": 2}, "unknown ['x']"),
    (64, "answer with a dict"),
    ({"cache": "slab", "waste": 1}, "cannot read 'slab'"),
    ({"cache": None, "waste": 1}, "no answer yet"),
    ({"cache": 64, "waste": 2.5}, "cannot read 2.5"),
])
def test_unreadable_answers_fail_and_say_what_to_type(answer, message):
    r = km.exercise("kmalloc-cache", seed=0).check(answer)
    assert not r and message in str(r)


def test_bad_exercise_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="catalog"):
        km.exercise("buddy-mrege")
    with pytest.raises(TypeError, match="seed must be an int"):
        km.exercise("buddy-merge", seed="42")
    with pytest.raises(ValueError, match="seed must be in"):
        km.exercise("buddy-merge", seed=-1)


def test_question_renders_as_text_markdown_and_html():
    ex = km.exercise("vmalloc-size", seed=2)
    assert str(ex) == ex.question()
    assert ex._repr_markdown_().startswith("**vmalloc-size**")
    assert "<pre>" in ex._repr_html_() and "ARG seed 2" in ex._repr_html_()


# -- the command line ------------------------------------------------------------------

def test_cli_exercise_prints_seed_and_question_and_with_c_the_answer(capsys, tmp_path):
    assert main(["exercise", "buddy-of-pfn", "-s", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ARG exercise buddy-of-pfn\nARG seed 3\n")
    assert "Answer:\n" not in out and "-c" in out
    assert main(["exercise", "buddy-of-pfn", "-s", "3", "-c"]) == 2
    assert "--key" in capsys.readouterr().err
    key = tmp_path / "course.key"
    CourseKey.new(key)
    assert main(["exercise", "buddy-of-pfn", "-s", "3", "-c", "--key", str(key)]) == 0
    out_c = capsys.readouterr().out
    ex = km.exercise("buddy-of-pfn", seed=3)
    assert out_c.startswith(ex.question()) and f"buddy = {answer_of(ex):#x}" in out_c


def test_cli_exercise_lists_and_rejects_unknown_names(capsys):
    assert main(["exercise", "--list"]) == 0
    assert "buddy-merge" in capsys.readouterr().out
    assert main(["exercise", "nope"]) == 2
    assert "no exercise 'nope'" in capsys.readouterr().err


def test_exercises_name_their_kernel_and_do_not_follow_the_default(monkeypatch):
    from kmemlab.kernel.machine import Machine
    before = {n: km.exercise(n, seed=7).question() for n in NAMES}
    defaults = list(Machine.__init__.__defaults__)
    names = list(Machine.__init__.__code__.co_varnames[1:Machine.__init__.__code__.co_argcount])
    defaults[names.index("kernel") - (len(names) - len(defaults))] = "5.4"
    monkeypatch.setattr(Machine.__init__, "__defaults__", tuple(defaults))
    assert Machine("tiny").kernel == "5.4"          # the patch took: a bare Machine follows it
    assert {n: km.exercise(n, seed=7).question() for n in NAMES} == before
