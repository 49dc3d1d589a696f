"""The page allocator against its golden recordings (tests/golden_buddy.py): each seeded
workload replayed step by step gives the same results, buddyinfo, per-cpu counts, traces
and exact free-list order as recorded. A deliberate change regenerates the recordings
(`python tests/golden_buddy.py --regenerate`) and the diff is reviewed."""

import json

import pytest

from golden_buddy import WORKLOADS, path, run


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_replays_exactly_as_recorded(name):
    kw, seed, steps = WORKLOADS[name]
    recorded = json.loads(path(name).read_text())
    assert recorded["machine"] == kw and recorded["seed"] == seed and len(recorded["steps"]) == steps + 1
    got = json.loads(json.dumps(run(kw, seed, steps)))        # the same JSON types as stored
    for i, (want, have) in enumerate(zip(recorded["steps"], got)):
        if want != have:
            diffs = {key: (want.get(key), have.get(key)) for key in want.keys() | have.keys()
                     if want.get(key) != have.get(key)}
            pytest.fail(f"{name}: step {i} {want['op']} differs from the recording "
                        f"(recorded, replayed): {diffs}\nIf the change is deliberate: "
                        "python tests/golden_buddy.py --regenerate")


def test_recordings_cover_generations_profiles_numa_and_both_pcp_settings():
    machines = [kw for kw, _, _ in WORKLOADS.values()]
    assert {kw["kernel"] for kw in machines} >= {"4.5", "5.15", "6.6", "6.12", "6.18"}
    assert {kw["profile"] for kw in machines} >= {"x86_64", "tiny", "i386"}
    assert any(kw.get("nodes", 1) > 1 for kw in machines)
    assert any(kw.get("pcp") is False for kw in machines)
    # the workloads reach what they are there for: refills, drains, fallbacks, failures
    ops = [s for name in WORKLOADS for s in json.loads(path(name).read_text())["steps"]]
    assert any(s["op"][0] == "alloc" and s["result"] == -1 for s in ops)        # failures
    assert sum("trace" in s for s in ops) > 50
    assert {s["op"][0] for s in ops} == {"boot", "alloc", "free", "alloc_bulk", "free_bulk", "drain_all_pages"}
