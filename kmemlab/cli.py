"""``kmemlab`` command line.

``kmemlab lab`` opens the lecture notebooks in JupyterLab; ``kmemlab boot`` prints a
machine's boot log and /proc files in a terminal (no Jupyter needed);
``kmemlab exercise NAME -s SEED [-c]`` prints a seeded exercise (``-c``: with its answer);
``kmemlab assign SRC... -o release/ --roster roster.csv --key course.key`` writes the
students' notebooks and ``kmemlab grade release.manifest.json submissions/ -o grades.csv
--key course.key`` grades them, one sandbox per submission (see :mod:`kmemlab.grading`).
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
    if args.compute and not args.key:
        raise ValueError("-c prints the answer only with the instructor's course key: "
                         "add --key FILE (`kmemlab key new FILE` makes one for self-study)")
    key = exercises.CourseKey.load(args.key) if args.compute else None
    ex = exercises.exercise(args.name, seed=args.seed)
    print(ex.question(), end="")
    if args.compute:
        print()
        print(ex.solution(key=key), end="")
    else:
        print("\n(run again with -c --key FILE to compute the answer)")
    return 0


def _assign(args) -> int:
    from . import grading
    from .exercises import CourseKey
    key_path = Path(args.key)
    if not key_path.exists():
        CourseKey.new(key_path)
        print(f"wrote a new course key to {key_path}: keep it secret and keep a backup "
              "(every student's seed and the manifest depend on it)", file=sys.stderr)
    manifest = grading.assign(args.sources, args.output, roster=args.roster, key=key_path,
                              manifest=args.manifest, assignment=args.assignment)
    for name, entry in manifest["notebooks"].items():
        print(f"released {name}: {len(entry['questions'])} graded question(s), "
              f"{entry['max_points']:g} points")
    where = grading.manifest_path_for(args.output) if args.manifest is None else args.manifest
    print(f"wrote {len(manifest['students'])} student folders and {grading.HUB_FOLDER}/ "
          f"(one notebook for JupyterHub) in {args.output}; the manifest is {where} "
          "(keep it, with the key, away from students)")
    return 0


def _grade(args) -> int:
    from . import grading
    try:
        limits = grading.Limits(timeout=args.timeout, memory=grading.parse_size(args.memory, "--memory"),
                                wall=args.wall)
    except ValueError as e:            # "timeout must be ..." -> "--timeout must be ..."
        msg = str(e)
        raise ValueError(msg if msg.startswith("--") else f"--{msg}") from None
    try:
        run = grading.grade(args.manifest, args.submissions, args.output, key=args.key,
                            feedback=args.feedback, limits=limits, jobs=args.jobs,
                            sandbox=not args.unsafe_no_sandbox, assignment=args.assignment)
    except grading.SandboxUnavailable as e:
        print(f"kmemlab: {e}", file=sys.stderr)
        return 2
    print(run.summary())
    print(f"wrote {args.output}")
    return run.exit_status


def _key(args) -> int:
    from .exercises import CourseKey
    key = CourseKey.new(args.file)
    print(f"wrote course key {key.key_id} to {args.file}: keep it secret and keep a backup")
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
    ex.add_argument("-c", "--compute", action="store_true",
                    help="compute and print the answer (needs --key)")
    ex.add_argument("--key", help="the course key file (for -c)")
    ex.add_argument("-l", "--list", action="store_true", help="list the exercises")
    asg = sub.add_parser("assign", help="write the students' version of exercise notebooks")
    asg.add_argument("sources", nargs="+", help="instructor notebooks (.ipynb with nbgrader cells) or folders")
    asg.add_argument("-o", "--output", required=True, help="release folder to write (give it to students)")
    asg.add_argument("--roster", required=True, help="CSV with a student_id column")
    asg.add_argument("--key", required=True, help="the course key file (written if it does not exist)")
    asg.add_argument("--manifest", help="where the grader's manifest goes (default: OUTPUT.manifest.json)")
    asg.add_argument("--assignment", help="assignment name (nbgrader's folder; default: the output folder's name)")
    grd = sub.add_parser("grade", help="autograde submissions/<student>/<notebook>.ipynb in sandboxes")
    grd.add_argument("manifest", help="the OUTPUT.manifest.json `kmemlab assign` wrote (or the release folder)")
    grd.add_argument("submissions", help="folder with one sub-folder per student (nbgrader's submitted/ works)")
    grd.add_argument("-o", "--output", required=True, help="grades CSV to write")
    grd.add_argument("--key", required=True, help="the course key file")
    grd.add_argument("--feedback", help="folder for feedback notebooks (default: feedback/ next to the CSV)")
    grd.add_argument("--timeout", type=float, default=30, help="seconds per cell (default 30)")
    grd.add_argument("--wall", type=float, default=None, help="seconds per submission (default: from --timeout)")
    grd.add_argument("--memory", default="2G", help="address-space limit per process (default 2G)")
    grd.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: min(2, CPUs))")
    grd.add_argument("--assignment", help="nbgrader assignment folder name (default: the release's)")
    grd.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="grade without bubblewrap: student code runs with your rights")
    key = sub.add_parser("key", help="write a new course key (kmemlab key new FILE)")
    key.add_argument("action", choices=["new"])
    key.add_argument("file")
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
                "grade": _grade, "key": _key, "record": _record,
                "replay": _replay}[args.cmd](args)
    except (ValueError, TypeError) as e:
        print(f"kmemlab: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
