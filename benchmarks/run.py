"""Run every benchmark and write benchmarks/results.json and benchmarks/results.md.

    python benchmarks/run.py [--quick] [SUITE ...]

With SUITE names (``bench_replay``, ``replay``, ...) only those run, and their figures
replace the same suites' figures in the existing results.json (each keeps its own date:
the figures of a suite are compared with the floor of the run that made them).

Each bench_*.py module has ``run(quick) -> list[dict]`` (see common.figure). Figures are
compared with a floor measured in the same run (a dict insert+delete pair).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import floor_us  # noqa: E402


def main() -> int:
    quick = "--quick" in sys.argv
    wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in sys.argv[1:] if not a.startswith("-")}
    paths = sorted(HERE.glob("bench_*.py"))
    unknown = wanted - {p.stem for p in paths}
    if unknown:
        print(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(p.stem for p in paths)})",
              file=sys.stderr)
        return 2
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    floor = round(floor_us(), 5)
    results = {"date": now, "python": platform.python_version(),
               "machine": platform.machine(), "floor_us_dict_insert_delete": floor, "figures": []}
    if wanted and (HERE / "results.json").exists():
        old = json.loads((HERE / "results.json").read_text())
        results["figures"] = [f for f in old["figures"] if f.get("suite") not in wanted]
        for f in results["figures"]:
            f.setdefault("run_date", old["date"])
            f.setdefault("run_floor_us", old["floor_us_dict_insert_delete"])
    for path in paths:
        if wanted and path.stem not in wanted:
            continue
        mod = importlib.import_module(path.stem)
        t = time.perf_counter()
        figs = mod.run(quick=quick)
        print(f"{path.stem}: {len(figs)} figures in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        for f in figs:
            f["suite"] = path.stem
            f["run_date"], f["run_floor_us"] = now, floor
        results["figures"] += figs
    results["figures"].sort(key=lambda f: f["suite"])
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"Floor (dict insert+delete pair): {results['floor_us_dict_insert_delete']} us, "
             f"Python {results['python']}, {results['date']}", "",
             "Each figure's own run (date, floor) is in results.json (run_date, run_floor_us).", "",
             "| figure | value | unit | target | x floor | met |", "|---|---:|---|---:|---:|---|"]
    for f in results["figures"]:
        met = {True: "yes", False: "**no**", None: ""}[f.get("meets_target")]
        lines.append(f"| {f['name']} | {f['value']:g} | {f['unit']} | {f['target'] if f['target'] is not None else ''} "
                     f"| {f.get('floor_ratio', '')} | {met} |")
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
