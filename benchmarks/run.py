"""Run every benchmark and write benchmarks/results.json and benchmarks/results.md.

    python benchmarks/run.py [--quick]

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
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
               "machine": platform.machine(), "floor_us_dict_insert_delete": round(floor_us(), 5),
               "figures": []}
    for path in sorted(HERE.glob("bench_*.py")):
        mod = importlib.import_module(path.stem)
        t = time.perf_counter()
        figs = mod.run(quick=quick)
        print(f"{path.stem}: {len(figs)} figures in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        for f in figs:
            f["suite"] = path.stem
        results["figures"] += figs
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"Floor (dict insert+delete pair): {results['floor_us_dict_insert_delete']} us, "
             f"Python {results['python']}, {results['date']}", "",
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
