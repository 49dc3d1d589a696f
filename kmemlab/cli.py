"""``kmemlab`` command line.

``kmemlab lab`` opens the lecture notebooks in JupyterLab; ``kmemlab boot`` prints a
machine's boot log and /proc files in a terminal (no Jupyter needed);
``kmemlab exercise NAME -s SEED [-c]`` prints a seeded exercise (``-c``: with its answer);
``kmemlab assign SRC... -o release/ [--roster roster.csv]`` writes the students' notebooks
and ``kmemlab grade release/ submissions/ -o grades.csv`` autogrades them
(see :mod:`kmemlab.grading`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["main", "notebooks_dir"]


def notebooks_dir() -> Path:
    """The notebooks/ folder of the checkout kmemlab runs from (editable install)."""
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


def _lab(args) -> int:
    nb = Path(args.dir) if args.dir else notebooks_dir()
    if not nb.is_dir():
        print(f"kmemlab: no notebooks folder at {nb}", file=sys.stderr)
        return 1
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={nb}"]
    if args.no_browser:
        argv.append("--no-browser")
    if args.port:
        argv.append(f"--port={args.port}")
    if args.ip:
        argv.append(f"--ip={args.ip}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    argv += args.extra
    print(f"kmemlab: starting JupyterLab on {nb}; open the URL it prints below "
          "(Ctrl-C twice to stop).", flush=True)
    os.execv(sys.executable, argv)
    return 0  # not reached


def _boot(args) -> int:
    import kmemlab as km
    m = km.Machine(profile=args.profile, mem=args.mem, cpus=args.cpus, nodes=args.nodes,
                   kernel=args.kernel)
    print(m.dmesg(), end="")
    print("$ cat /proc/buddyinfo")
    print(m.proc.buddyinfo(), end="")
    return 0


def _exercise(args) -> int:
    """OSTEP style: the seed and parameters first, then the question, or with -c the
    answer and its worked explanation."""
    from . import exercises
    if args.list or not args.name:
        print(exercises.catalog())
        return 0
    ex = exercises.exercise(args.name, seed=args.seed)
    print(ex.question(), end="")
    if args.compute:
        print()
        print(ex.solution(force=True), end="")
    else:
        print("\n(run again with -c to compute the answer)")
    return 0


def _assign(args) -> int:
    from . import grading
    manifest = grading.assign(args.sources, args.output, roster=args.roster)
    students = manifest["students"]
    for name, entry in manifest["notebooks"].items():
        tests = sum(c["kind"] == "test" for c in entry["cells"])
        print(f"released {name}: {tests} graded check(s), {entry['max_points']} points")
    where = f"{len(students)} student folders in {args.output}" if students else str(args.output)
    print(f"wrote {where} and {Path(args.output) / grading.MANIFEST}")
    return 0


def _grade(args) -> int:
    from . import grading
    results = grading.grade(args.release, args.submissions, args.output, feedback=args.feedback,
                            timeout=args.timeout, jobs=args.jobs)
    total = sum(r.score for r in results)
    full = sum(r.max_points for r in results)
    print(f"graded {len(results)} submission(s): {total:g}/{full:g} points in all; "
          f"wrote {args.output}")
    return 0


def _record(args) -> int:
    from . import tracefs
    return tracefs.run_cli(args)


def _replay(args) -> int:
    from .replay import run_cli       # (kmemlab.replay the module; km.replay is the function)
    return run_cli(args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kmemlab", description="Linux kernel memory management lab")
    sub = p.add_subparsers(dest="cmd", required=True)
    lab = sub.add_parser("lab", help="open the lecture notebooks in JupyterLab")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.add_argument("--port", type=int, help="port for JupyterLab (default 8888)")
    lab.add_argument("--ip", help="address to listen on (default localhost)")
    lab.add_argument("--dir", help="folder to open instead of the lecture notebooks")
    boot = sub.add_parser("boot", help="boot a machine and print its boot log and buddyinfo")
    boot.add_argument("--profile", default="x86_64")
    boot.add_argument("--mem", default=None)
    boot.add_argument("--cpus", type=int, default=4)
    boot.add_argument("--nodes", type=int, default=1)
    boot.add_argument("--kernel", default="6.6")
    ex = sub.add_parser("exercise", help="print a seeded exercise (with -c: its answer)")
    ex.add_argument("name", nargs="?", help="exercise name (omit, or --list, for the catalog)")
    ex.add_argument("-s", "--seed", type=int, default=0, help="random seed (default 0)")
    ex.add_argument("-c", "--compute", action="store_true", help="compute and print the answer")
    ex.add_argument("-l", "--list", action="store_true", help="list the exercises")
    asg = sub.add_parser("assign", help="write the students' version of exercise notebooks")
    asg.add_argument("sources", nargs="+", help="source notebooks (.ipynb with nbgrader cells) or folders")
    asg.add_argument("-o", "--output", required=True, help="release folder to write")
    asg.add_argument("--roster", help="CSV with student_id[,seed]: one folder per student, own seed")
    grd = sub.add_parser("grade", help="autograde submissions/<student>/<notebook>.ipynb")
    grd.add_argument("release", help="the folder `kmemlab assign` wrote (with manifest.json)")
    grd.add_argument("submissions", help="folder with one sub-folder per student")
    grd.add_argument("-o", "--output", required=True, help="grades CSV to write")
    grd.add_argument("--feedback", help="folder for feedback notebooks (default: feedback/ next to the CSV)")
    grd.add_argument("--timeout", type=float, default=30, help="seconds per cell (default 30)")
    grd.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: min(2, CPUs))")
    from . import tracefs
    tracefs.add_arguments(sub.add_parser("record", help="record the real kernel's kmem tracepoints "
                                                        "(root, Linux; see kmemlab.tracefs)"))
    from .replay import add_arguments as _replay_arguments
    _replay_arguments(sub.add_parser("replay", help="replay a kmem trace on a simulated machine"))
    # anything `kmemlab lab` does not know (--ServerApp.x=..., ...) goes on to JupyterLab
    args, extra = p.parse_known_args(argv)
    if extra and args.cmd != "lab":
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return {"lab": _lab, "boot": _boot, "exercise": _exercise, "assign": _assign,
                "grade": _grade, "record": _record,
                "replay": _replay}[args.cmd](args)
    except (ValueError, TypeError) as e:
        print(f"kmemlab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
