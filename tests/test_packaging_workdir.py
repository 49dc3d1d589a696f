"""The student's working folder (`kmemlab lab`) and `kmemlab notebooks --copy`: lectures are
copied from the shipped set, a student's edits are never overwritten, a reset keeps a
backup, the shipped copies are never edited, instructors' versions stay out."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from kmemlab import lectures
from kmemlab.cli import main

LECTURE = '{"cells": [{"cell_type": "markdown", "source": "# %s"}], "nbformat": 4}\n'
INSTRUCTOR = ('{"cells": [{"cell_type": "code", "source": ["### BEGIN SOLUTION\\n", "x = 1\\n",'
              ' "### END SOLUTION"]}], "nbformat": 4}\n')
#: a lecture that talks about the marker is still a lecture
MENTIONS = ('{"cells": [{"cell_type": "markdown", "source": "nbgrader marks answers with '
            '### BEGIN SOLUTION"}], "nbformat": 4}\n')
STUDENT = '{"cells": [{"cell_type": "code", "source": "# YOUR CODE HERE"}], "nbformat": 4}\n'


def _shipped(root: Path, version: str = "1") -> Path:
    """A small stand-in for kmemlab/share/notebooks."""
    files = {
        "01-intro.ipynb": LECTURE % ("intro " + version),
        "02-buddy.ipynb": MENTIONS,
        "ja/01-intro.ipynb": LECTURE % "はじめに",
        "README.md": "# the lectures\n",
        "exercises/01-ex.ipynb": STUDENT,
        "exercises/instructor/01-ex.ipynb": INSTRUCTOR,
        "src/01-intro.md": "# intro\n",
        ".ipynb_checkpoints/01-intro-checkpoint.ipynb": LECTURE % "old",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


STUDENT_SET = ["01-intro.ipynb", "02-buddy.ipynb", "README.md", "exercises/01-ex.ipynb",
               "ja/01-intro.ipynb"]


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_students_set_leaves_out_sources_checkpoints_and_instructors_versions(tmp_path):
    src = _shipped(tmp_path / "shipped")
    assert lectures.student_files(src) == STUDENT_SET
    assert "src/01-intro.md" in lectures.shipped_files(src)
    assert "exercises/instructor/01-ex.ipynb" in lectures.shipped_files(src)
    assert not any(".ipynb_checkpoints" in f for f in lectures.shipped_files(src))


def test_first_run_copies_everything_and_a_second_changes_nothing(tmp_path):
    src = _shipped(tmp_path / "shipped")
    before = _tree(src)
    work = tmp_path / "work"
    r = lectures.sync(work, source=src)
    assert r.copied == STUDENT_SET and not (r.updated or r.kept or r.backed_up)
    assert f"copied 5 notebook(s) from {src}" in str(r)
    for rel in STUDENT_SET:
        assert (work / rel).read_text(encoding="utf-8") == before[rel]
    again = lectures.sync(work, source=src)
    assert not (again.copied or again.updated or again.kept) and str(again) == ""
    assert _tree(src) == before                                  # the shipped set untouched


def test_a_students_edits_are_never_overwritten_and_reset_keeps_a_backup(tmp_path):
    src = _shipped(tmp_path / "shipped")
    work = tmp_path / "work"
    lectures.sync(work, source=src)
    mine = LECTURE % "my notes"
    (work / "01-intro.ipynb").write_text(mine, encoding="utf-8")
    (work / "my-own.ipynb").write_text(mine, encoding="utf-8")
    (work / "02-buddy.ipynb").unlink()                           # deleted by mistake
    r = lectures.sync(work, source=src)                          # the same release: quiet
    assert r.copied == ["02-buddy.ipynb"] and not r.kept
    assert (work / "01-intro.ipynb").read_text(encoding="utf-8") == mine
    (work / "02-buddy.ipynb").unlink()
    _shipped(src, version="2")                                   # a newer kmemlab ships
    r = lectures.sync(work, source=src)
    assert r.kept == ["01-intro.ipynb"] and r.copied == ["02-buddy.ipynb"]
    assert "kept your edited 01-intro.ipynb" in str(r) and "kmemlab lab --reset" in str(r)
    assert (work / "01-intro.ipynb").read_text(encoding="utf-8") == mine
    r = lectures.sync(work, reset=True, source=src)
    assert r.backed_up == ["01-intro.ipynb"] and r.backup.parent == work
    assert (r.backup / "01-intro.ipynb").read_text(encoding="utf-8") == mine
    assert (work / "01-intro.ipynb").read_text(encoding="utf-8") == LECTURE % "intro 2"
    assert (work / "my-own.ipynb").read_text(encoding="utf-8") == mine   # never touched
    assert f"your versions of 01-intro.ipynb are in {r.backup}" in str(r)


def test_an_untouched_copy_follows_a_newer_release(tmp_path):
    src = _shipped(tmp_path / "shipped")
    work = tmp_path / "work"
    lectures.sync(work, source=src)
    _shipped(src, version="2")
    r = lectures.sync(work, source=src)
    assert r.updated == ["01-intro.ipynb"] and not r.kept
    assert (work / "01-intro.ipynb").read_text(encoding="utf-8") == LECTURE % "intro 2"
    state = json.loads((work / lectures.STATE_FILE).read_text(encoding="utf-8"))
    assert set(state["files"]) == set(STUDENT_SET)


def test_a_file_of_the_same_name_that_was_there_first_is_kept(tmp_path):
    src = _shipped(tmp_path / "shipped")
    work = tmp_path / "work"
    (work).mkdir()
    (work / "02-buddy.ipynb").write_text("mine", encoding="utf-8")
    r = lectures.sync(work, source=src)
    assert r.kept == ["02-buddy.ipynb"] and (work / "02-buddy.ipynb").read_text() == "mine"


def test_the_shipped_folder_itself_is_refused(tmp_path, capsys):
    src = _shipped(tmp_path / "shipped")
    for bad in (src, src / "ja", tmp_path):
        with pytest.raises(ValueError, match="never edited"):
            lectures.sync(bad, source=src)
    with pytest.raises(ValueError, match="never edited"):
        lectures.copy_set(src / "exercises", source=src)
    # and the real one, through the command line (what `kmemlab lab --dir` runs first)
    assert main(["notebooks", "--sync", "--dir", str(lectures.notebooks_dir())]) == 2
    assert "never edited" in capsys.readouterr().err


def test_a_file_where_the_working_folder_should_be_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "work").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        lectures.sync(tmp_path / "work", source=_shipped(tmp_path / "shipped"))


def test_the_working_folder_defaults_to_KMEMLAB_DIR_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KMEMLAB_DIR", str(tmp_path / "course"))
    assert lectures.working_dir() == (tmp_path / "course").resolve()
    monkeypatch.delenv("KMEMLAB_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lectures.working_dir() == (tmp_path / "kmemlab-notebooks").resolve()
    # a `git clone` of kmemlab in the home folder is ~/kmemlab: the working folder is not
    assert lectures.working_dir() != (tmp_path / "kmemlab").resolve()
    assert lectures.working_dir("~/elsewhere") == (tmp_path / "elsewhere").resolve()


def test_copy_set_writes_a_fresh_set_and_never_clobbers_without_force(tmp_path):
    src = _shipped(tmp_path / "shipped")
    dest = tmp_path / "hub-shared"
    assert lectures.copy_set(dest, source=src) == STUDENT_SET
    assert lectures.copy_set(dest, source=src) == []             # identical: nothing to do
    (dest / "02-buddy.ipynb").write_text("edited", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"02-buddy.ipynb\); pass --force"):
        lectures.copy_set(dest, source=src)
    assert (dest / "02-buddy.ipynb").read_text() == "edited"     # refused: nothing written
    assert lectures.copy_set(dest, force=True, source=src) == ["02-buddy.ipynb"]
    every = lectures.copy_set(tmp_path / "all", everything=True, source=src)
    assert "src/01-intro.md" in every and "exercises/instructor/01-ex.ipynb" in every


def test_the_real_shipped_set_and_the_notebooks_command(tmp_path, capsys):
    root = lectures.notebooks_dir()
    students = lectures.student_files(root)
    # every lecture in every language is there, and no notebook with solutions in it
    lectures_en = sorted(p.name for p in root.glob("*.ipynb"))
    assert lectures_en and set(lectures_en) <= set(students)
    assert {f"ja/{p.name}" for p in (root / "ja").glob("*.ipynb")} <= set(students)
    for rel in students:
        assert not lectures.is_instructor_version(root / rel), rel
    assert (lectures.docs_dir() / "bad-input.md").is_file()
    assert main(["notebooks"]) == 0
    out = capsys.readouterr().out
    assert f"shipped notebooks: {root}" in out and all(f"  {rel}" in out for rel in students)
    dest = tmp_path / "course"
    assert main(["notebooks", "--copy", str(dest)]) == 0
    assert f"wrote {len(students)} file(s) into {dest}" in capsys.readouterr().out
    assert lectures.student_files(dest) == students
    (dest / students[0]).write_text("changed")
    assert main(["notebooks", "--copy", str(dest)]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert main(["notebooks", "--force"]) == 2
    assert "go with --copy" in capsys.readouterr().err


def test_notebooks_sync_fills_the_working_folder_without_starting_jupyterlab(tmp_path, capsys):
    work = tmp_path / "w"
    assert main(["notebooks", "--sync", "--dir", str(work)]) == 0
    n = len(lectures.student_files())
    assert f"copied {n} notebook(s)" in capsys.readouterr().out
    assert lectures.student_files(work) == lectures.student_files()
    assert main(["notebooks", "--sync", "--dir", str(work)]) == 0
    assert capsys.readouterr().out == f"kmemlab: {work.resolve()} is up to date\n"
    for bad in (["notebooks", "--reset"], ["notebooks", "--sync", "--copy", str(work)]):
        assert main(bad) == 2
        assert re.search(r"kmemlab: --\w+ (and --\w+ )?goe?s? with --", capsys.readouterr().err)


def test_a_missing_extra_is_named_with_its_pip_command(capsys):
    from kmemlab import cli

    @cli.command("test-needs", "import an optional module", cli.arg("module"))
    def _needs(args):
        raise ModuleNotFoundError(f"No module named {args.module!r}", name=args.module)
    try:
        assert main(["test-needs", "nbclient"]) == 1
        assert "pip install 'kmemlab[grading]'" in capsys.readouterr().err
        assert main(["test-needs", "jupyterlab"]) == 1
        assert "pip install 'kmemlab[lab]'" in capsys.readouterr().err
        with pytest.raises(ModuleNotFoundError):      # not one of ours: a real bug, shown
            main(["test-needs", "no_such_module_anywhere"])
    finally:
        del cli._COMMANDS["test-needs"]


def test_kmemlab_lab_turns_on_saving_widget_state_once_and_never_over_the_users_setting(tmp_path, monkeypatch):
    # (the browser test reopens a saved notebook with it: tests/browser/test_view_lifetime_browser.py)
    from kmemlab.lectures import WIDGET_STATE_SETTINGS, save_widget_state
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "settings"))
    line = save_widget_state()
    path = tmp_path / "settings" / WIDGET_STATE_SETTINGS
    assert line and str(path) in line
    text = path.read_text(encoding="utf-8")
    assert '"saveState": true' in text
    assert save_widget_state() is None and path.read_text(encoding="utf-8") == text
    mine = tmp_path / "mine"
    (mine / WIDGET_STATE_SETTINGS).parent.mkdir(parents=True)
    (mine / WIDGET_STATE_SETTINGS).write_text('{"saveState": false}')
    assert save_widget_state(mine) is None
    assert (mine / WIDGET_STATE_SETTINGS).read_text() == '{"saveState": false}'
