"""One sandbox per submission: Debian's bubblewrap (``bwrap``) and resource limits.

What a submission's code sees and may do (everything else is not there at all):

* its own copy of the notebook (``/kmemlab/in/submission.ipynb``, read-only), a private
  writable working folder and ``/tmp`` (size-limited tmpfs, gone afterwards), and two
  files it may write: the answer records and the executed notebook (``/kmemlab/out/``);
* the Python installation, the kmemlab package and ``/usr``, all read-only (patching the
  installed kmemlab cannot reach the next student); no other submission, no manifest, no
  course key, no grades, no feedback, no home folder, no checkout;
* new user, pid, network, ipc and uts namespaces: its ``/proc`` shows only its own
  processes, so the grader cannot be found, signalled or read; the network is an empty
  loopback (the kernel's ZMQ sockets work, nothing else does); no nested namespaces, no
  capabilities, a new session (no terminal to inject keystrokes into);
* limits: CPU time and address space (``RLIMIT_CPU``/``RLIMIT_AS``) per process, the
  largest file (``RLIMIT_FSIZE``), a process/thread count (``RLIMIT_NPROC`` inside the
  sandbox's own user namespace; as root, where the kernel exempts uid 0 from that limit, a
  ``pids`` cgroup when one is writable), an output budget kept by the runner, and a wall
  time after which the grader kills bwrap — ``--die-with-parent`` and the pid namespace
  take every process of the submission with it, detached or not.

Without bubblewrap (or where user namespaces are disabled) :func:`sandbox_problem` says
why; ``kmemlab grade`` then refuses unless told ``--unsafe-no-sandbox``, which runs the
same runner as a plain child process: limits and a private folder, but no isolation at all.
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "RunResult", "run_submission", "sandbox_problem", "parse_size"]

_IN, _WORK, _OUT = "/kmemlab/in", "/kmemlab/work", "/kmemlab/out"
_LOG_CAP = 64 << 10
_counter = itertools.count(1)


def parse_size(text, what: str = "size") -> int:
    """``"2G"``, ``"512M"``, ``"65536"`` -> bytes (binary units)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    digits = s[:-1] if s[-1:] in "KMG" else s
    if not digits.isdigit():
        raise ValueError(f"{what} must be a size like 512M or 2G, got {text!r}")
    return int(digits) * mult


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``timeout`` is per cell; ``wall`` (None: from the
    timeout and the number of cells) is the whole run, kernel start included."""
    timeout: float = 30.0
    memory: int = 2 << 30           # RLIMIT_AS of every process
    nproc: int = 128                # processes + threads
    output: int = 1 << 20           # output bytes kept per notebook
    disk: int = 64 << 20            # tmpfs size and the largest file written
    wall: float | None = None

    def __post_init__(self):
        for name, lo, hi in (("timeout", 1, 3600), ("memory", 256 << 20, 1 << 40),
                             ("nproc", 16, 4096), ("output", 1 << 10, 256 << 20),
                             ("disk", 1 << 20, 16 << 30)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ValueError(f"{name} must be a number from {lo} to {hi}, got {v!r}")
        if self.wall is not None and not 5 <= self.wall <= 24 * 3600:
            raise ValueError(f"wall must be 5 .. 86400 seconds, got {self.wall!r}")

    def wall_for(self, code_cells: int) -> float:
        """The whole run's limit: ``wall``, or every cell's timeout plus a minute for the
        kernel to start, at most half an hour (a notebook of 10 000 cells is no excuse)."""
        if self.wall is not None:
            return self.wall
        return min(self.timeout * (code_cells + 2) + 60, 1800.0)


@dataclass
class RunResult:
    """What a sandboxed run left behind (all of it written by untrusted code)."""
    executed: bytes | None
    answers: bytes
    log: str
    seconds: float
    returncode: int | None
    killed: str | None              # "wall" when the grader had to kill the run
    sandboxed: bool
    limits_note: str = ""


# -- where Python lives, what to bind ---------------------------------------------------

def _package_dir() -> Path:
    import kmemlab
    return Path(kmemlab.__file__).resolve().parent


def _python() -> str:
    """The grader's interpreter by a path that exists in the sandbox (``..`` resolved; the
    venv's own symlink kept, so Python still finds its venv)."""
    return os.path.abspath(sys.executable)


def _python_roots() -> list[str]:
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                           sys.base_exec_prefix)}
    roots |= {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix)}
    pkg = str(_package_dir())
    if not any(pkg.startswith(r.rstrip("/") + "/") for r in roots):
        roots.add(pkg)          # an editable install or PYTHONPATH: the package dir alone
    # bind the outer ones only (a venv inside the base prefix is covered)
    return sorted(r for r in roots if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in roots))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for p in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            args += ["--ro-bind", p, p]
    for p in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
              "/etc/hosts", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/alternatives"):
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def _env(student: str, answers: str, home: str, tmp: str) -> dict:
    pkg_parent = str(_package_dir().parent)
    return {
        "PATH": os.pathsep.join([os.path.dirname(_python()), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "USER": "student",
        "PYTHONPATH": pkg_parent, "PYTHONDONTWRITEBYTECODE": "1",
        "KMEMLAB_ANSWERS": answers, "JUPYTERHUB_USER": student,
        "JUPYTER_RUNTIME_DIR": os.path.join(tmp, "jupyter-runtime"), "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": os.path.join(tmp, "ipython"), "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def _bwrap_base(limits: Limits) -> list[str]:
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "kmemlab-grade",
            "--clearenv", "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.disk), "--tmpfs", "/tmp",
            "--size", str(limits.disk), "--tmpfs", _WORK]
    args += _system_binds()
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    return args


# -- the pids cgroup (root only) --------------------------------------------------------

_CGROUP_BASE: list = []


def _pids_cgroup_base() -> str | None:
    """A cgroup folder under which this process may make children with ``pids.max``
    (cgroup v2, or v1's pids hierarchy); None where there is none (checked once)."""
    if _CGROUP_BASE:
        return _CGROUP_BASE[0]
    base = None
    if os.geteuid() == 0:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            lines = []
        candidates = []
        for ln in lines:
            _, ctrls, path = ln.split(":", 2)
            if "pids" in ctrls.split(","):
                candidates.append(f"/sys/fs/cgroup/pids{path}")
            elif ctrls == "":
                candidates += [f"/sys/fs/cgroup{path}", f"/sys/fs/cgroup/unified{path}"]
        for c in candidates:
            probe = os.path.join(c, f"kmemlab-probe-{os.getpid()}")
            try:
                os.mkdir(probe)
            except OSError:
                continue
            try:
                with open(os.path.join(probe, "pids.max"), "w") as f:
                    f.write("64")
                base = c
            except OSError:
                pass
            finally:
                try:
                    os.rmdir(probe)
                except OSError:
                    pass
            if base:
                break
    _CGROUP_BASE.append(base)
    return base


def _make_cgroup(nproc: int) -> str | None:
    base = _pids_cgroup_base()
    if base is None:
        return None
    path = os.path.join(base, f"kmemlab-grade-{os.getpid()}-{next(_counter)}")
    try:
        os.mkdir(path)
        with open(os.path.join(path, "pids.max"), "w") as f:
            f.write(str(nproc))
    except OSError:
        return None
    return path


def _remove_cgroup(path: str | None) -> None:
    if not path:
        return
    for _ in range(50):
        try:
            pids = [int(p) for p in Path(path, "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    try:
        os.rmdir(path)
    except OSError:
        pass


# -- availability ---------------------------------------------------------------------

_PROBLEM: list = []


def sandbox_problem() -> str | None:
    """None when bubblewrap can run the grader's Python here; otherwise why not (checked
    once per process)."""
    if _PROBLEM:
        return _PROBLEM[0]
    why = None
    if shutil.which("bwrap") is None:
        why = ("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap); it "
               "keeps each submission away from the others, the grader and the network")
    else:
        args = _bwrap_base(Limits()) + ["--", _python(), "-c", "import kmemlab"]
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                               env=_env("probe", "/dev/null", _WORK, "/tmp"))
            if r.returncode != 0:
                why = ("bubblewrap cannot start a sandbox here (" +
                       (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1] +
                       "); user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone)")
        except (OSError, subprocess.TimeoutExpired) as e:
            why = f"bubblewrap failed to start: {e}"
    _PROBLEM.append(why)
    return why


def limits_note(sandbox: bool) -> str:
    """What the limits cannot cover on this machine (said once in the grader's summary)."""
    if not sandbox:
        return "no sandbox: submissions ran with the grader's rights (--unsafe-no-sandbox)"
    if os.geteuid() == 0 and _pids_cgroup_base() is None:
        return ("running as root without a writable pids cgroup: the process-count limit is "
                "not enforced (the kernel exempts root from RLIMIT_NPROC); grade as an ordinary user")
    return ""


# -- one run --------------------------------------------------------------------------

def _read_capped(path: str, cap: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(cap + 1)
    except OSError:
        return b""


def _drain(pipe, sink: list) -> None:
    size = 0
    for chunk in iter(lambda: pipe.read(8192), b""):
        if size < _LOG_CAP:
            sink.append(chunk[:_LOG_CAP - size])
        size += len(chunk)
    pipe.close()


def run_submission(notebook_text: str, student: str, limits: Limits, sandbox: bool = True,
                   code_cells: int = 20, executed_cap: int | None = None) -> RunResult:
    """Run one (already restored) notebook in its own sandbox; return what it left."""
    executed_cap = executed_cap or (limits.output * 4 + len(notebook_text) + (1 << 20))
    wall = limits.wall_for(code_cells)
    host = tempfile.mkdtemp(prefix="kmemlab-grade-")
    cgroup = None
    try:
        for d in ("in", "out", "work", "tmp"):
            os.mkdir(os.path.join(host, d), 0o700)
        nb_path = os.path.join(host, "in", "submission.ipynb")
        ans_path = os.path.join(host, "out", "answers.jsonl")
        exe_path = os.path.join(host, "out", "executed.ipynb")
        with open(nb_path, "w", encoding="utf-8") as f:
            f.write(notebook_text)
        for p in (ans_path, exe_path):
            open(p, "wb").close()
        runner = ["-m", "kmemlab.grading.runner", "--timeout", repr(float(limits.timeout)),
                  "--max-output", str(limits.output)]
        if sandbox:
            cmd = _bwrap_base(limits) + [
                "--ro-bind", nb_path, f"{_IN}/submission.ipynb",
                "--bind", ans_path, f"{_OUT}/answers.jsonl",
                "--bind", exe_path, f"{_OUT}/executed.ipynb",
                "--chdir", _WORK]
            env = _env(student, f"{_OUT}/answers.jsonl", _WORK, "/tmp")
            for k, v in env.items():
                cmd += ["--setenv", k, v]
            cmd += ["--", _python()] + runner + [
                "--notebook", f"{_IN}/submission.ipynb", "--out", f"{_OUT}/executed.ipynb",
                "--workdir", _WORK, "--nproc", str(limits.nproc)]
            cgroup = _make_cgroup(limits.nproc)
            cwd, popen_env = "/", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            work = os.path.join(host, "work")
            cmd = [_python()] + runner + ["--notebook", nb_path, "--out", exe_path,
                                               "--workdir", work]
            popen_env = _env(student, ans_path, work, os.path.join(host, "tmp"))
            cwd = work

        def limit_child():
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            cpu = int(wall) + 5
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.disk, limits.disk))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=cwd, env=popen_env,
                                start_new_session=True, preexec_fn=limit_child)
        log: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(proc.stdout, log), daemon=True)
        reader.start()
        killed = None
        try:
            proc.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            killed = "wall"
        finally:
            # the whole tree: bwrap's group (the sandbox dies with it: pid namespace and
            # --die-with-parent); without a sandbox, the runner's session
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            _remove_cgroup(cgroup)
            cgroup = None
        reader.join(timeout=5)
        seconds = time.monotonic() - t0
        executed = _read_capped(exe_path, executed_cap)
        if len(executed) > executed_cap:
            executed = None
        answers = _read_capped(ans_path, 1 << 20)
        return RunResult(executed or None, answers, b"".join(log).decode("utf-8", "replace"),
                         seconds, proc.returncode, killed, sandbox)
    finally:
        _remove_cgroup(cgroup)
        shutil.rmtree(host, ignore_errors=True)
