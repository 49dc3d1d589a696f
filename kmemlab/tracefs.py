"""``kmemlab record``: a bounded recording of the real kernel's kmem tracepoints.

Like a flight recorder that is switched on for one flight only: ``kmemlab record``
(root, Linux) mounts tracefs inside a mount namespace of its own (so nothing appears in
the machine's mount table), creates a private tracing instance under ``instances/``,
enables ``events/kmem/{kmalloc,kfree,kmem_cache_alloc,kmem_cache_free,mm_page_alloc,
mm_page_free}`` there, optionally runs a command, streams ``trace_pipe`` to a file until
a bound is reached (seconds, events, bytes, or the command's exit), and then always
disables the events and removes the instance — also on Ctrl-C, SIGTERM, SIGHUP and
errors. The global tracing state (``/sys/kernel/tracing/events/kmem/*/enable``) is never
touched: only the instance's own switches are. An instance left behind by a recorder
that was killed with SIGKILL is removed by the next ``kmemlab record``.

The file is the text ``trace_pipe`` prints, after a header of ``#`` lines that
:func:`kmemlab.replay` reads (uname, CPUs, RAM, date, the command, and every slab cache
of ``/sys/kernel/slab`` with its geometry and flags), and a trailer saying why the
recording stopped and how many events were lost.

    kmemlab record -o trace.txt --seconds 2 -- sh -c 'for i in $(seq 100); do ls / >/dev/null; done'

The command runs in the machine's own mount namespace (the recorder moves only itself).
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["record", "record_here", "TracingError", "EVENTS", "RecordResult", "HEADER_MAGIC",
           "add_arguments", "run_cli"]

#: the tracepoints a recording enables (include/trace/events/kmem.h)
EVENTS = ("kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free", "mm_page_alloc", "mm_page_free")
HEADER_MAGIC = "# kmemlab-record: 1"
TRAILER = "# kmemlab-record-end:"
INSTANCE_PREFIX = "kmemlab-"

# <sched.h>, <sys/mount.h>
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class TracingError(Exception):
    """The recording cannot start or could not clean up; the message says what to do."""


@dataclass
class RecordResult:
    """What :func:`record_here` did: where it wrote, how many events, why it stopped."""
    path: str
    events: int = 0
    lost: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    stopped: str = ""
    command_status: int | None = None
    signal: int | None = None
    warnings: list[str] = field(default_factory=list)

    def __str__(self):
        return (f"wrote {self.events} events ({self.nbytes} bytes, {self.lost} lost) in "
                f"{self.seconds:.2f} s to {self.path}; stopped: {self.stopped}")


# -- system calls ---------------------------------------------------------------------------

_libc = None


def _sys(name: str, *args) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{name}(): {os.strerror(e)}")


def _private_mount_namespace() -> int:
    """Move this thread into a new mount namespace whose mounts propagate nowhere; return
    an fd of the namespace it came from (for the command to go back to)."""
    back = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _sys("unshare", CLONE_NEWNS)
        _sys("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    except OSError:
        os.close(back)
        raise
    return back


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


# -- the tracing instance -----------------------------------------------------------------

class _Instance:
    """A tracefs mount in this (private) namespace and one instance in it. ``close()``
    undoes everything that was done, step by step, each step tried even if one fails."""

    def __init__(self, buffer_kb: int):
        self.mnt = tempfile.mkdtemp(prefix="kmemlab-tracefs-")
        self.mounted = False
        self.dir = None
        self.enabled: list[str] = []
        self.pipe = None
        try:
            _sys("mount", b"nodev", self.mnt.encode(), b"tracefs", 0, None)
        except OSError as e:
            os.rmdir(self.mnt)
            raise TracingError(f"cannot mount tracefs ({e.strerror}): is CONFIG_TRACING on?") from None
        self.mounted = True
        self.reaped = _reap_stale(self.mnt)
        name = f"{INSTANCE_PREFIX}{os.getpid()}-{int(time.time())}"
        self.dir = os.path.join(self.mnt, "instances", name)
        try:
            os.mkdir(self.dir)
        except OSError as e:
            self.dir = None
            self.close()
            raise TracingError(f"cannot create a tracing instance ({e.strerror})") from None
        try:
            _write(os.path.join(self.dir, "tracing_on"), "0")
            _write(os.path.join(self.dir, "buffer_size_kb"), str(buffer_kb))
            notrace = os.path.join(self.dir, "set_event_notrace_pid")
            if os.path.exists(notrace):          # v5.8+: leave the recorder's own writes out
                _write(notrace, str(os.getpid()))
            for ev in EVENTS:
                path = os.path.join(self.dir, "events", "kmem", ev, "enable")
                if not os.path.exists(path):
                    continue                      # an older kernel without that event
                self.enabled.append(path)
                _write(path, "1")
            if not self.enabled:
                raise TracingError("this kernel has none of the kmem tracepoints "
                                   f"({', '.join(EVENTS)})")
            self.pipe = os.open(os.path.join(self.dir, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK)
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        _write(os.path.join(self.dir, "tracing_on"), "1")

    def stop(self) -> None:
        _write(os.path.join(self.dir, "tracing_on"), "0")

    def close(self) -> list[str]:
        """Disable, remove, unmount; returns what could not be undone (empty: all clean)."""
        problems = []
        if self.dir is not None and os.path.isdir(self.dir):
            try:
                self.stop()
            except OSError as e:
                problems.append(f"tracing_on: {e.strerror}")
            for path in self.enabled:
                try:
                    _write(path, "0")
                except OSError as e:
                    problems.append(f"{path}: {e.strerror}")
        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None
        if self.dir is not None:
            for i in range(50):
                try:
                    os.rmdir(self.dir)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or i == 49:
                        problems.append(f"cannot remove the tracing instance {os.path.basename(self.dir)} "
                                        f"({e.strerror}): remove it with rmdir "
                                        f"/sys/kernel/tracing/instances/{os.path.basename(self.dir)}")
                        break
                    time.sleep(0.02)
        if self.mounted:
            try:
                _sys("umount2", self.mnt.encode(), MNT_DETACH)
                self.mounted = False
            except OSError as e:
                problems.append(f"umount {self.mnt}: {e.strerror}")
        if not self.mounted:
            try:
                os.rmdir(self.mnt)
            except OSError:
                pass
        return problems


def _reap_stale(mnt: str) -> list[str]:
    """Remove instances of earlier recorders that died without cleaning up (SIGKILL):
    ``kmemlab-<pid>-...`` whose process is gone."""
    gone = []
    inst = os.path.join(mnt, "instances")
    try:
        names = os.listdir(inst)
    except OSError:
        return gone
    for name in names:
        if not name.startswith(INSTANCE_PREFIX):
            continue
        try:
            pid = int(name[len(INSTANCE_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        d = os.path.join(inst, name)
        for ev in EVENTS:
            try:
                _write(os.path.join(d, "events", "kmem", ev, "enable"), "0")
            except OSError:
                pass
        try:
            os.rmdir(d)
            gone.append(name)
        except OSError:
            pass
    return gone


# -- the header -----------------------------------------------------------------------------

def header_lines(command, seconds, events, max_bytes) -> list[str]:
    """The ``#`` lines before the trace: where, when, what, and the host's slab caches."""
    import shlex

    import kmemlab as km
    h = km.host()
    u = h.utsname
    lines = [HEADER_MAGIC,
             f"# date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
             f"# uname: {u.sysname} {u.nodename} {u.release} {u.version} {u.machine}",
             f"# cpus: {h.cpus}",
             f"# nodes: {h.nodes}",
             f"# mem_total_kb: {h.mem >> 10}",
             f"# present_kb: {_present_kb(h)}",
             f"# page_size: {os.sysconf('SC_PAGE_SIZE')}",
             "# events: " + " ".join(f"kmem:{e}" for e in EVENTS),
             f"# bounds: seconds={seconds} events={events or '-'} bytes={max_bytes}",
             "# command: " + (shlex.join(command) if command else "-"),
             "# slab-caches: name object_size size align objs_per_slab order flags ctor aliases"]
    from kmemlab.helpers import for_each_slab_cache
    for s in for_each_slab_cache(h):
        try:
            lines.append(f"# slab: {quote(s.name, safe='-_.:@+()')} {s.object_size} {s.size} {s.align} "
                         f"{s.objects} {s.order} {s.flags:#010x} {'1' if s.ctor else '0'} {s.refcount - 1}")
        except km.NotAvailable:
            continue
    return lines


def _present_kb(h) -> str:
    """The RAM the zones span that exists (their present pages), in kB: what a twin's
    ``mem`` is (MemTotal is that less what the kernel reserved at boot)."""
    import kmemlab as km
    from kmemlab.helpers import PAGE_SIZE, for_each_zone
    try:
        return str(sum(z.present_pages for z in for_each_zone(h)) * PAGE_SIZE(h) >> 10)
    except km.NotAvailable:
        return "-"


# -- recording --------------------------------------------------------------------------------

def record_here(output: str, seconds: float = 10.0, events: int | None = None,
                max_bytes: int = 100 << 20, command=None, buffer_kb: int = 4096,
                quiet: bool = False) -> RecordResult:
    """Record in this process (it moves into a private mount namespace for good: call it
    from a process of its own, as ``kmemlab record`` does; :func:`record` spawns one).

    Stops at ``seconds``, after ``events`` events, at ``max_bytes`` of trace text, when
    ``command`` (a list of arguments) exits, or on SIGINT/SIGTERM/SIGHUP; the file is
    written in every case. Raises :class:`TracingError` when it cannot start (not Linux,
    not root, no tracefs) and after writing when it could not clean up."""
    if not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
    if events is not None and (not isinstance(events, int) or events <= 0):
        raise ValueError(f"events must be a whole number > 0, got {events!r}")
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a whole number > 0, got {max_bytes!r}")
    if not sys.platform.startswith("linux"):
        raise TracingError(f"kmemlab record needs Linux (its tracefs); this is {sys.platform}. "
                           "Replay the shipped recording instead (km.replay(km.sample_recording())).")
    if os.geteuid() != 0:
        raise TracingError("kmemlab record needs root: tracefs and the kmem tracepoints are "
                           "root only (run it with sudo)")
    command = list(command or [])

    def say(msg):
        if not quiet:
            print(f"kmemlab record: {msg}", file=sys.stderr, flush=True)

    stop_signal = []
    old = {}

    def on_signal(signum, frame):
        stop_signal.append(signum)
    for s in _STOP_SIGNALS:
        old[s] = signal.signal(s, on_signal)
    res = RecordResult(output)
    inst = None
    proc = None
    out = None
    back = None
    try:
        head = header_lines(command, seconds, events, max_bytes)    # before tracing starts
        tmp = output + ".partial" if output != "-" else None
        out = open(tmp, "w", encoding="utf-8") if tmp else sys.stdout
        out.write("\n".join(head) + "\n# tracer: nop\n#\n")
        try:
            back = _private_mount_namespace()
        except OSError as e:
            raise TracingError(f"cannot make a private mount namespace ({e.strerror})") from None
        inst = _Instance(buffer_kb)
        for name in inst.reaped:
            say(f"removed the tracing instance {name} a killed recorder left behind")
        inst.start()
        t0 = time.monotonic()
        if command and not stop_signal:
            proc = _spawn(command, back)
        say(f"recording {', '.join(EVENTS)} for up to {seconds:g} s"
            + (f" or {events} events" if events else "") + (f" while {command[0]} runs" if command else "")
            + " (Ctrl-C stops)")
        res.stopped = _pump(inst, out, res, t0, seconds, events, max_bytes, proc, stop_signal)
        inst.stop()
        res.seconds = time.monotonic() - t0
        if res.stopped not in ("events", "bytes"):
            _drain(inst, out, res, events, max_bytes)
    except BaseException as e:
        res.stopped = res.stopped or f"error: {e}"
        raise
    finally:
        if proc is not None:
            res.command_status = _end_command(proc)
        problems = inst.close() if inst is not None else []
        if back is not None:
            os.close(back)
        for s, h in old.items():
            signal.signal(s, h)
        if stop_signal:
            res.signal = stop_signal[0]
        if out is not None:
            try:
                out.write(f"{TRAILER} events={res.events} lost={res.lost} seconds={res.seconds:.3f} "
                          f"stopped={res.stopped.replace(' ', '_') or 'error'}"
                          + (f" command_status={res.command_status}" if res.command_status is not None else "")
                          + "\n")
                out.flush()
            except OSError:
                pass                 # stdout closed under us (| head): the tracing is cleaned up
            if out is not sys.stdout:
                out.close()
                os.replace(output + ".partial", output)
        res.warnings = problems
    if problems:
        raise TracingError("the recording was written, but cleaning up failed: " + "; ".join(problems))
    return res


def _pump(inst, out, res, t0, seconds, events, max_bytes, proc, stop_signal) -> str:
    """Copy trace_pipe to ``out`` until a bound; returns why it stopped. The pipe is read
    without blocking and polled every 20 ms: poll() on trace_pipe reports data only once
    the buffer is ``buffer_percent`` full, too late for a bound in events."""
    partial = b""
    while True:
        if stop_signal:
            return f"signal {signal.Signals(stop_signal[0]).name}"
        if time.monotonic() - t0 >= seconds:
            return "time"
        if proc is not None and proc.poll() is not None:
            return "command exited"
        partial, got, why = _take(inst, out, res, partial, events, max_bytes)
        if why:
            return why
        if not got:
            time.sleep(0.02)


def _take(inst, out, res, partial, events, max_bytes):
    """One non-blocking read: (partial line kept, whether data came, bound reached)."""
    try:
        chunk = os.read(inst.pipe, 1 << 20)
    except (BlockingIOError, InterruptedError):
        return partial, False, ""
    if not chunk:
        return partial, False, ""
    data = partial + chunk
    lines = data.split(b"\n")
    partial = lines.pop()
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        if line.startswith("CPU:") and "[LOST" in line:
            try:
                res.lost += int(line.split("[LOST", 1)[1].split()[0])
            except (ValueError, IndexError):
                pass
            out.write(line + "\n")
            continue
        if res.nbytes + len(raw) + 1 > max_bytes:
            return b"", True, "bytes"
        out.write(line + "\n")
        res.events += 1
        res.nbytes += len(raw) + 1
        if events is not None and res.events >= events:
            return b"", True, "events"
    return partial, True, ""


def _drain(inst, out, res, events, max_bytes) -> None:
    """What is still in the buffer after tracing stopped."""
    partial = b""
    while True:
        partial, got, why = _take(inst, out, res, partial, events, max_bytes)
        if why or not got:
            return


def _spawn(command, back: int):
    """Start the command in the machine's own mount namespace. Through nsenter(1) when it
    is there: subprocess can then vfork, so no copy of the recorder's address space is made
    and torn down again (those frees of pages allocated before the recording would be
    unpaired in the trace); else fork with setns() in the child."""
    import shutil
    nsenter = shutil.which("nsenter")
    try:
        if nsenter:
            return subprocess.Popen([nsenter, f"--mount=/proc/self/fd/{back}", "--", *command],
                                    pass_fds=(back,))

        def home(fd=back):
            _sys("setns", fd, CLONE_NEWNS)
        return subprocess.Popen(command, preexec_fn=home, pass_fds=(back,))
    except OSError as e:
        raise TracingError(f"cannot run {command[0]!r}: {e.strerror}") from None


def _end_command(proc) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def record(output: str, seconds: float = 10.0, events: int | None = None,
           max_bytes: int = 100 << 20, command=None, timeout: float | None = None,
           buffer_size: int = 4 << 20) -> RecordResult:
    """``kmemlab record`` from Python (a notebook): runs the recorder in a process of its
    own, so the caller's mount namespace is never touched. Needs root and Linux.

    >>> r = km.tracefs.record("trace.txt", seconds=2, command=["sh", "-c", "ls / >/dev/null"])
    """
    argv = [sys.executable, "-m", "kmemlab.tracefs", "-o", os.fspath(output), "--seconds", str(seconds),
            "--max-size", str(max_bytes), "--buffer-size", str(buffer_size)]
    if events:
        argv += ["--events", str(events)]
    if command:
        argv += ["--", *command]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout if timeout is not None else seconds + 60)
    if p.returncode != 0:
        raise TracingError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
                           f"kmemlab record exited with {p.returncode}")
    return _result_from_file(os.fspath(output))


def _result_from_file(path: str) -> RecordResult:
    res = RecordResult(path)
    with open(path, "rb") as f:
        try:
            f.seek(-4096, os.SEEK_END)
        except OSError:
            f.seek(0)
        tail = f.read().decode("utf-8", "replace").splitlines()
    for line in reversed(tail):
        if line.startswith(TRAILER):
            kv = dict(x.split("=", 1) for x in line[len(TRAILER):].split() if "=" in x)
            res.events, res.lost = int(kv.get("events", 0)), int(kv.get("lost", 0))
            res.seconds = float(kv.get("seconds", 0))
            res.stopped = kv.get("stopped", "").replace("_", " ")
            break
    res.nbytes = os.path.getsize(path)
    return res


# -- the command line ---------------------------------------------------------------------------

def parse_size(text: str) -> int:
    from .kernel.layout import parse_size as ps
    return ps(text, "--max-size")


def parse_buffer_size(text: str) -> int:
    """``--buffer-size 64M`` -> bytes (4K .. 1G per CPU)."""
    from .kernel.layout import parse_size as ps
    n = ps(text, "--buffer-size")
    if not 4096 <= n <= 1 << 30:
        import argparse
        raise argparse.ArgumentTypeError(f"--buffer-size must be 4K .. 1G per CPU, got {text}")
    return n


def add_arguments(p) -> None:
    """The options of ``kmemlab record``."""
    import argparse
    p.add_argument("-o", "--output", default=None,
                   help="file to write (default kmemlab-record-<host>-<time>.txt; - for stdout)")
    p.add_argument("--seconds", type=float, default=10.0, help="stop after this many seconds (default 10)")
    p.add_argument("--events", type=int, default=None, help="stop after this many events")
    p.add_argument("--max-size", type=parse_size, default=100 << 20,
                   help="stop at this much trace text (default 100M)")
    p.add_argument("--buffer-size", type=parse_buffer_size, default=4 << 20,
                   help="the instance's ring buffer per CPU (default 4M; a busy machine loses events "
                        "with less than ~16M a CPU for a few seconds: the trailer counts them)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="-- COMMAND ...: run it while recording and stop when it exits (a command "
                        "still running at a bound is stopped with SIGTERM)")


def run_cli(args) -> int:
    """``kmemlab record ...``: exit 0 when the recording was written and everything was
    cleaned up (also after Ctrl-C), 128+signal after SIGTERM/SIGHUP, 1 on failure."""
    command = list(args.command or [])
    if command and command[0] == "--":
        command = command[1:]
    output = args.output or f"kmemlab-record-{os.uname().nodename}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    try:
        res = record_here(output, args.seconds, args.events, args.max_size, command,
                          buffer_kb=getattr(args, "buffer_size", 4 << 20) >> 10)
    except TracingError as e:
        print(f"kmemlab record: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"kmemlab record: {e}", file=sys.stderr)
        return 2
    print(f"kmemlab record: {res}", file=sys.stderr)
    if res.signal in (signal.SIGTERM, signal.SIGHUP):
        return 128 + res.signal
    return 0


def main(argv=None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="kmemlab record", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run_cli(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
