"""The command line: `kmemlab boot` and `kmemlab lab` (what `./run lab` starts)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmemlab.cli import main, notebooks_dir


def test_boot_prints_the_boot_log_and_buddyinfo(capsys):
    assert main(["boot", "--profile", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "Linux version" in out and "$ cat /proc/buddyinfo" in out and "Node 0, zone      DMA" in out


def test_boot_with_bad_arguments_says_what_is_wrong(capsys):
    assert main(["boot", "--mem", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_starts_jupyterlab_in_a_working_copy_of_the_notebooks(tmp_path):
    # what `./run lab` starts: the lectures are copied into the student's working folder and
    # JupyterLab opens there, so autosave never touches the checkout
    pytest.importorskip("jupyterlab")
    from kmemlab import lectures
    work = tmp_path / "work"
    port = _free_port()
    import kmemlab
    # the child imports the kmemlab this test imported (the checkout's, or an installed wheel's)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path),
               KMEMLAB_DIR=str(work), PYTHONPATH=str(Path(kmemlab.__file__).parent.parent))
    proc = subprocess.Popen([sys.executable, "-m", "kmemlab.cli", "lab", "--no-browser",
                             f"--port={port}", "--ip=127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, cwd=tmp_path)
    try:
        seen = ""
        deadline = time.time() + 90
        while time.time() < deadline and f"127.0.0.1:{port}/lab" not in seen:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert f"http://127.0.0.1:{port}/lab" in seen, seen[-2000:]
        assert f"starting JupyterLab in your working folder {work}" in seen
        assert f"copied {len(lectures.student_files())} notebook(s) from {notebooks_dir()}" in seen
        assert sorted(lectures.student_files(work)) == sorted(lectures.student_files())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            # read on while it shuts down: a server that logs into a full pipe never exits
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise


def test_lab_without_jupyterlab_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    assert main(["lab", "--dir", str(tmp_path / "w")]) == 1
    assert "pip install 'kmemlab[lab]'" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()       # nothing copied for a lab that cannot start


# -- the top level: --version, python -m kmemlab, exit codes, a closed pipe ---------------

def test_version_prints_the_package_version(capsys):
    import kmemlab
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kmemlab {kmemlab.__version__}"


def test_usage_errors_exit_2_and_say_what_is_wrong(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
    assert main(["boot", "--frobnicate"]) == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_help_lists_every_registered_subcommand(capsys):
    from kmemlab import cli
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())      # argparse wraps long help lines
    for name, c in cli._COMMANDS.items():
        assert f"{name} {c.help}" in out


def test_a_subcommand_is_one_decorated_function(capsys):
    from kmemlab import cli

    @cli.command("test-echo", "print its word", cli.arg("word"))
    def _echo(args):
        print(args.word.upper())
        if args.word == "fail":
            raise cli.CommandError("asked to fail", code=3)
        return 0
    try:
        assert main(["test-echo", "hello"]) == 0
        assert capsys.readouterr().out == "HELLO\n"
        assert main(["test-echo", "fail"]) == 3
        assert capsys.readouterr().err == "kmemlab: asked to fail\n"
        with pytest.raises(ValueError, match="two kmemlab subcommands"):
            cli.command("test-echo", "again")(_echo)
    finally:
        del cli._COMMANDS["test-echo"]


def test_missing_files_exit_1(tmp_path, capsys):
    from kmemlab import cli

    @cli.command("test-open", "open a file", cli.arg("path"))
    def _open(args):
        open(args.path)
    try:
        assert main(["test-open", str(tmp_path / "nope")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("kmemlab: No such file or directory") and "nope" in err
    finally:
        del cli._COMMANDS["test-open"]


def _run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "kmemlab", *args], capture_output=True,
                          text=True, timeout=120, **kw)


def test_python_dash_m_kmemlab_is_the_same_command_line():
    r = _run_cli("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m kmemlab")
    r = _run_cli("exercise", "--list")
    assert r.returncode == 0 and "buddy-merge" in r.stdout


@pytest.mark.parametrize("cmd", [["boot", "--profile", "tiny"], ["exercise", "--list"], ["--help"]])
def test_a_closed_pipe_ends_quietly_with_128_plus_sigpipe(cmd):
    # `kmemlab boot | head -1` once head has gone: the reading end is closed before kmemlab
    # writes a byte, so every run hits the closed pipe (a real `| head` only sometimes does)
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "kmemlab", *cmd], stdout=w,
                                stderr=subprocess.PIPE)
    finally:
        os.close(w)
    err = proc.communicate(timeout=120)[1].decode()
    assert err == "", err
    # argparse's own --help swallows the write error (then exits 0); everything else is 141
    assert proc.returncode == (0 if cmd == ["--help"] else 128 + signal.SIGPIPE), err


def test_ctrl_c_exits_130(capsys):
    from kmemlab import cli

    @cli.command("test-interrupt", "raise KeyboardInterrupt")
    def _interrupt(args):
        raise KeyboardInterrupt
    try:
        assert main(["test-interrupt"]) == 130
        assert capsys.readouterr().err == "kmemlab: interrupted\n"
    finally:
        del cli._COMMANDS["test-interrupt"]
