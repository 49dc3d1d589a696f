"""`kmemlab record`: a bounded recording that never leaves tracing enabled.

Each test looks at tracefs afterwards from a fresh mount namespace of its own (the
recorder's namespace is gone by then): no kmemlab instance may remain, and every
events/kmem/*/enable must read 0 — also after SIGTERM, SIGINT and a Ctrl-C to the
whole process group."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from kmemlab import tracefs

LINUX = sys.platform.startswith("linux")
ROOT = LINUX and os.geteuid() == 0
HAVE_UNSHARE = os.path.exists("/usr/bin/unshare")
needs_root = pytest.mark.skipif((not ROOT or not HAVE_UNSHARE) and os.environ.get("CI") != "true",
                                reason="recording needs root on Linux (tracefs) and unshare(1) "
                                       "to inspect tracefs afterwards")
WORKLOAD = ["sh", "-c", "for i in $(seq 30); do ls / >/dev/null; cat /proc/meminfo >/dev/null; done"]
EVENT_LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+\.\d+): (\w+): (.*)$")


def tracefs_state():
    """(instance names, {event: enable}) seen from a fresh private mount namespace."""
    script = ('D=$(mktemp -d) && mount -t tracefs nodev "$D" && ls "$D/instances"; echo ---; '
              'for f in "$D"/events/kmem/*/enable; do echo "$f $(cat "$f")"; done; '
              'umount "$D"; rmdir "$D"')
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    inst, _, ev = out.partition("---\n")
    enables = {}
    for line in ev.splitlines():
        path, val = line.rsplit(" ", 1)
        enables[path.split("/events/kmem/")[1].split("/")[0]] = val
    return inst.split(), enables


def assert_clean(before_instances):
    inst, enables = tracefs_state()
    assert not [i for i in inst if i.startswith(tracefs.INSTANCE_PREFIX)], inst
    assert sorted(inst) == sorted(i for i in before_instances if not i.startswith(tracefs.INSTANCE_PREFIX))
    assert enables and all(v == "0" for v in enables.values()), enables


def kmemlab_record(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "kmemlab.cli", "record", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def trailer(path):
    with open(path) as f:
        last = f.read().splitlines()[-1]
    assert last.startswith(tracefs.TRAILER), last
    return dict(x.split("=", 1) for x in last[len(tracefs.TRAILER):].split())


@needs_root
def test_a_one_second_recording_of_a_shell_workload_leaves_tracing_as_it_was(tmp_path):
    before, _ = tracefs_state()
    out = tmp_path / "rec.txt"
    p = kmemlab_record("-o", str(out), "--seconds", "1", "--",
                       "sh", "-c", WORKLOAD[2] + "; readlink /proc/self/ns/mnt")
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 0, stderr
    assert_clean(before)
    # the command ran in the machine's own mount namespace, not the recorder's
    assert stdout.strip() == os.readlink("/proc/self/ns/mnt")
    text = out.read_text()
    head = [l for l in text.splitlines() if l.startswith("#")]
    assert head[0] == tracefs.HEADER_MAGIC
    for key in ("date", "uname", "cpus", "nodes", "mem_total_kb", "events", "bounds", "command"):
        assert any(l.startswith(f"# {key}: ") for l in head), key
    assert f"# uname: Linux {os.uname().nodename} {os.uname().release}" in text
    slabs = [l.split()[2] for l in head if l.startswith("# slab: ")]
    assert len(slabs) > 20 and "kmalloc-64" in slabs
    lines = [l for l in text.splitlines() if not l.startswith("#")]
    lost = [l for l in lines if re.fullmatch(r"CPU:\d+ \[LOST \d+ EVENTS\]", l)]   # a busy machine
    lines = [l for l in lines if l not in lost]
    assert lines, "no events"
    names = set()
    for l in lines:
        mo = EVENT_LINE.match(l)
        assert mo, l
        names.add(mo.group(5))
    assert names <= set(tracefs.EVENTS) and {"kmalloc", "kfree"} & names
    t = trailer(out)
    assert t["stopped"] in ("command_exited", "time") and int(t["events"]) == len(lines)
    assert int(t["lost"]) == sum(int(l.split()[2]) for l in lost)
    assert not (tmp_path / "rec.txt.partial").exists()
    assert "wrote" in stderr and "Traceback" not in stderr


@needs_root
def test_the_event_bound_is_exact_and_the_command_is_stopped(tmp_path):
    before, _ = tracefs_state()
    out = tmp_path / "rec.txt"
    p = kmemlab_record("-o", str(out), "--seconds", "20", "--events", "200", "--",
                       "sh", "-c", "while :; do ls / >/dev/null; done")
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 0, stderr
    assert_clean(before)
    lines = [l for l in out.read_text().splitlines() if not l.startswith("#") and "[LOST" not in l]
    assert len(lines) == 200
    t = trailer(out)
    assert t["stopped"] == "events" and t["command_status"] == str(-signal.SIGTERM)


@needs_root
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 0),
                                       (signal.SIGHUP, 128 + signal.SIGHUP)])
def test_a_signal_mid_run_stops_writes_and_cleans_up(tmp_path, sig, code):
    before, _ = tracefs_state()
    out = tmp_path / "rec.txt"
    p = kmemlab_record("-o", str(out), "--seconds", "60")
    deadline = time.monotonic() + 30
    while not (tmp_path / "rec.txt.partial").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                               # well inside the recording
    p.send_signal(sig)
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == code, stderr
    assert_clean(before)
    assert trailer(out)["stopped"] == f"signal_{signal.Signals(sig).name}"
    assert "Traceback" not in stderr


@needs_root
def test_ctrl_c_to_the_process_group_stops_command_and_recorder(tmp_path):
    before, _ = tracefs_state()
    out = tmp_path / "rec.txt"
    p = kmemlab_record("-o", str(out), "--seconds", "60", "--", "sleep", "50", start_new_session=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "rec.txt.partial").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)              # what a terminal's Ctrl-C does
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    assert_clean(before)
    assert out.exists()


@needs_root
def test_an_instance_a_killed_recorder_left_is_removed(tmp_path):
    dead = 4_000_000                              # above any pid_max: no such process
    name = f"{tracefs.INSTANCE_PREFIX}{dead}-1"
    make = ('D=$(mktemp -d) && mount -t tracefs nodev "$D" && mkdir "$D/instances/{n}" && '
            'echo 1 > "$D/instances/{n}/events/kmem/kmalloc/enable"; umount "$D"; rmdir "$D"').format(n=name)
    subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", make], check=True, timeout=30)
    try:
        assert name in tracefs_state()[0]
        p = kmemlab_record("-o", str(tmp_path / "r.txt"), "--seconds", "0.2")
        _, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        assert f"removed the tracing instance {name}" in stderr
        assert name not in tracefs_state()[0]
    finally:
        rm = ('D=$(mktemp -d) && mount -t tracefs nodev "$D" && '
              '(echo 0 > "$D/instances/{n}/events/kmem/kmalloc/enable"; rmdir "$D/instances/{n}") 2>/dev/null; '
              'umount "$D"; rmdir "$D"').format(n=name)
        subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", rm], timeout=30)


@needs_root
def test_record_from_python_runs_in_a_process_of_its_own(tmp_path):
    ns = os.readlink("/proc/self/ns/mnt")
    before, _ = tracefs_state()
    r = tracefs.record(tmp_path / "r.txt", seconds=5, events=50, command=WORKLOAD)
    assert (r.events, r.stopped) == (50, "events") and r.nbytes > 0
    assert os.readlink("/proc/self/ns/mnt") == ns
    assert_clean(before)


@needs_root
def test_without_root_it_says_so_and_touches_nothing(tmp_path):
    if not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop to 'nobody'")
    before, _ = tracefs_state()
    os.chmod(tmp_path, 0o777)
    p = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "kmemlab.cli", "record", "-o", str(tmp_path / "r.txt"),
                        "--seconds", "1"], capture_output=True, text=True, timeout=60, cwd="/",
                       env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(tracefs.__file__))})
    assert p.returncode == 1
    assert "kmemlab record: kmemlab record needs root" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "r.txt").exists()
    assert_clean(before)


def test_not_linux_and_bad_bounds_are_refused_before_anything_happens(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="seconds must be a number > 0"):
        tracefs.record_here(str(tmp_path / "r"), seconds=0)
    with pytest.raises(ValueError, match="events"):
        tracefs.record_here(str(tmp_path / "r"), events=-1)
    with pytest.raises(ValueError, match="max_bytes"):
        tracefs.record_here(str(tmp_path / "r"), max_bytes=0)
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(tracefs.TracingError, match="needs Linux.*shipped recording"):
        tracefs.record_here(str(tmp_path / "r"), seconds=1)
    assert not list(tmp_path.iterdir())


def test_the_cli_refuses_bad_bounds_with_a_usage_error(capsys):
    from kmemlab.cli import main
    assert main(["record", "--seconds", "-1", "-o", "/nonexistent/x"]) == 2
    assert "seconds must be" in capsys.readouterr().err
