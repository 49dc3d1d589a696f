"""Where the lectures are, and the working copies a student edits.

kmemlab ships its lecture notebooks (English and ``ja/``), the exercise notebooks, the
notebook sources (``src/``) and the docs. In a wheel they are package data under
``kmemlab/share/notebooks`` and ``kmemlab/share/docs`` (``setup.py`` copies the checkout's
``notebooks/`` and ``docs/`` there at build time); in a checkout (``pip install -e``) they
are the checkout's own ``notebooks/`` and ``docs/``. :func:`notebooks_dir` and
:func:`docs_dir` find them either way.

Those shipped copies are never opened for editing: JupyterLab's autosave would change
the checkout (or the installed package) during a lecture. ``kmemlab lab`` opens a
per-user **working folder** instead (:func:`working_dir`: ``$KMEMLAB_DIR`` or
``~/kmemlab-notebooks``) that :func:`sync` fills from the shipped set:

- a notebook that is missing is copied (the first run copies them all; an upgrade that
  ships a new lecture adds it);
- a notebook the student has not changed is brought up to date when a newer kmemlab
  ships a different one (the folder remembers, in ``.kmemlab/shipped.json``, what it was
  given);
- a notebook the student has changed is never overwritten: the report says that a newer
  one ships, and ``kmemlab lab --reset`` puts fresh copies in place after moving the
  student's versions to ``reset-backup-<time>/`` in the same folder — nothing is lost.

The working folder gets what a student should see (:func:`student_files`): the lectures,
the exercise notebooks in their students' version and the README, but not the Markdown
sources nor any notebook that still has its ``### BEGIN SOLUTION`` regions (an
instructor's version). ``kmemlab notebooks --copy DIR`` writes the same set (or, with
``--all``, everything shipped) for a course's shared folder or nbgitpuller repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["notebooks_dir", "docs_dir", "working_dir", "student_files", "shipped_files",
           "sync", "copy_set", "SyncReport", "STATE_FILE", "WORKDIR_ENV", "DEFAULT_DIRNAME",
           "save_widget_state"]

_PKG = Path(__file__).resolve().parent
#: the environment variable that moves the working folder (default ``~/kmemlab-notebooks``)
WORKDIR_ENV = "KMEMLAB_DIR"
#: the working folder's name in the home folder (not ``~/kmemlab``: that is where a
#: ``git clone`` of kmemlab lands, and the checkout is never a working folder)
DEFAULT_DIRNAME = "kmemlab-notebooks"
#: what the working folder remembers of the copies it was given (relative to the folder)
STATE_FILE = ".kmemlab/shipped.json"
#: how an instructor's notebook is recognised: it still holds the nbgrader solution regions
SOLUTION_MARKER = "### BEGIN SOLUTION"
_SKIP_PARTS = {".ipynb_checkpoints", "__pycache__", ".kmemlab"}


def _shipped(name: str) -> Path:
    installed = _PKG / "share" / name               # a wheel: package data
    if installed.is_dir():
        return installed
    checkout = _PKG.parent / name                   # a checkout (editable install)
    if checkout.is_dir() and (_PKG.parent / "pyproject.toml").is_file():
        return checkout
    raise FileNotFoundError(
        f"kmemlab's {name}/ folder is not installed next to {_PKG} (looked in {installed} "
        f"and {checkout}); reinstall kmemlab from its wheel or sdist")


def notebooks_dir() -> Path:
    """The shipped notebooks: lectures, ``ja/``, ``exercises/``, ``src/`` and README.md.
    Read them; never edit them (see :func:`sync`)."""
    return _shipped("notebooks")


def docs_dir() -> Path:
    """The shipped docs (``bad-input.md``, ``kernel-generations.md``, ...)."""
    return _shipped("docs")


def working_dir(path: str | os.PathLike | None = None) -> Path:
    """The student's working folder: ``path``, else ``$KMEMLAB_DIR``, else ``~/kmemlab-notebooks``."""
    if path is None:
        path = os.environ.get(WORKDIR_ENV) or Path.home() / DEFAULT_DIRNAME
    return Path(path).expanduser().resolve()


#: JupyterLab's "Save Jupyter widget state in notebooks" (ipywidgets' jupyterlab-manager
#: plugin, off by default): the user-settings file that holds it, under the settings folder
WIDGET_STATE_SETTINGS = Path("@jupyter-widgets") / "jupyterlab-manager" / "plugin.jupyterlab-settings"


def save_widget_state(settings_dir: str | os.PathLike | None = None) -> str | None:
    """Turn on JupyterLab's "save widget state" for this user, so that a saved lecture
    reopened later (its kernel gone) shows its pictures as they were instead of "Error
    displaying widget: model not found" (the widget manager then restores the models
    from the notebook's metadata). ``settings_dir``: JupyterLab's user settings folder
    (default ``$JUPYTERLAB_SETTINGS_DIR``, else ``<jupyter config dir>/lab/user-settings``,
    where JupyterLab looks). A settings file the user already has is left alone, whatever
    it says. Returns a line for the report, or None when nothing was written."""
    if settings_dir is None:
        settings_dir = os.environ.get("JUPYTERLAB_SETTINGS_DIR")
        if not settings_dir:
            from jupyter_core.paths import jupyter_config_dir
            settings_dir = Path(jupyter_config_dir()) / "lab" / "user-settings"
    path = Path(settings_dir).expanduser() / WIDGET_STATE_SETTINGS
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{\n    // kmemlab lab: keep the lectures\' pictures in saved notebooks\n'
                    '    "saveState": true\n}\n', encoding="utf-8")
    return f"JupyterLab will save widget state in notebooks (set in {path})"


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not _SKIP_PARTS & set(p.relative_to(root).parts))


def shipped_files(root: Path | None = None) -> list[str]:
    """Every shipped file under ``root`` (default :func:`notebooks_dir`), as relative
    POSIX paths."""
    return _files(notebooks_dir() if root is None else root)


def is_instructor_version(path: Path) -> bool:
    """A notebook with a code cell that still holds its solution region
    (``### BEGIN SOLUTION``); text that merely mentions the marker does not count."""
    if path.suffix != ".ipynb":
        return False
    text = path.read_text(encoding="utf-8")
    if SOLUTION_MARKER not in text:
        return False
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return False                     # not a notebook we can read: not ours to judge
    for c in cells:
        src = c.get("source", "") if isinstance(c, dict) else ""
        src = "".join(src) if isinstance(src, list) else str(src)
        if c.get("cell_type") == "code" and SOLUTION_MARKER in src:
            return True
    return False


def student_files(root: Path | None = None) -> list[str]:
    """What a student's folder gets: every shipped ``.ipynb`` and ``.md`` outside ``src/``
    that is not an instructor's version, as relative POSIX paths."""
    root = notebooks_dir() if root is None else root
    return [rel for rel in _files(root)
            if rel.split("/")[0] != "src" and rel.endswith((".ipynb", ".md"))
            and not is_instructor_version(root / rel)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class SyncReport:
    """What :func:`sync` did to a working folder (relative paths)."""
    folder: Path
    source: Path
    copied: list[str] = field(default_factory=list)     # were missing: copied in
    updated: list[str] = field(default_factory=list)    # unchanged by the student, newer shipped
    kept: list[str] = field(default_factory=list)       # the student's edits; a different one ships
    backed_up: list[str] = field(default_factory=list)  # --reset moved these to backup
    backup: Path | None = None

    def lines(self) -> list[str]:
        out = []
        if self.copied:
            out.append(f"copied {len(self.copied)} notebook(s) from {self.source}")
        if self.updated:
            out.append("brought up to date (you had not changed them): " + ", ".join(self.updated))
        if self.kept:
            out.append("kept your edited " + ", ".join(self.kept) + " (this kmemlab ships a "
                       "different version: `kmemlab lab --reset` takes it and keeps yours in a "
                       "backup folder)")
        if self.backed_up:
            out.append(f"reset: your versions of {', '.join(self.backed_up)} are in {self.backup}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _check_not_shipped(dest: Path, source: Path) -> None:
    d, s = dest.resolve(), source.resolve()
    if d == s or s in d.parents or d in s.parents:
        raise ValueError(f"{dest} is (or holds, or is inside) kmemlab's shipped notebooks "
                         f"{source}: they are never edited; choose another folder")


def sync(dest: str | os.PathLike | None = None, reset: bool = False,
         source: Path | None = None) -> SyncReport:
    """Fill the working folder ``dest`` (default :func:`working_dir`) from the shipped
    notebooks: copy what is missing, update what the student left unchanged, never
    overwrite the student's edits; ``reset=True`` replaces every changed copy after moving
    it to ``dest/reset-backup-<time>/``. Files of the student's own are never touched."""
    source = notebooks_dir() if source is None else Path(source)
    dest = working_dir(dest)
    _check_not_shipped(dest, source)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(20, "not a folder", str(dest))
    state_path = dest / STATE_FILE
    try:
        given: dict[str, str] = json.loads(state_path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        given = {}
    report = SyncReport(dest, source)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for rel in student_files(source):
        src, dst = source / rel, dest / rel
        new = _sha256(src)
        if dst.is_file():
            have = _sha256(dst)
            if have == new:
                given[rel] = new
                continue
            if have == given.get(rel):                   # untouched copy of an older release
                report.updated.append(rel)
            elif reset:
                report.backup = dest / f"reset-backup-{stamp}"
                (report.backup / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(dst, report.backup / rel)
                report.backed_up.append(rel)
            else:                                        # the student's edits win
                if given.get(rel) != new:                # ... over a different shipped one
                    report.kept.append(rel)
                continue
        elif dst.exists():
            raise IsADirectoryError(21, "in the way of a notebook", str(dst))
        else:
            report.copied.append(rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        _copy_atomic(src, dst)
        given[rel] = new
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({"source": str(source), "files": given}, indent=1,
                                     sort_keys=True) + "\n", encoding="utf-8")
    return report


def _copy_atomic(src: Path, dst: Path) -> None:
    # a half-written notebook (disk full, Ctrl-C) must never replace a good one
    tmp = dst.with_name(f".{dst.name}.kmemlab-tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def copy_set(dest: str | os.PathLike, everything: bool = False, force: bool = False,
             source: Path | None = None) -> list[str]:
    """Write a fresh set of notebooks into ``dest`` (a course's shared folder, an
    nbgitpuller repository): the students' set, or with ``everything=True`` every shipped
    file (instructors' versions and ``src/`` too). A file already there with the same
    content is left alone; one that differs is an error listing them all, unless
    ``force=True`` overwrites them. Returns the files written."""
    source = notebooks_dir() if source is None else Path(source)
    dest = Path(dest).expanduser().resolve()
    _check_not_shipped(dest, source)
    files = shipped_files(source) if everything else student_files(source)
    differ = [rel for rel in files if (dest / rel).is_file()
              and _sha256(dest / rel) != _sha256(source / rel)]
    if differ and not force:
        raise FileExistsError(17, f"{len(differ)} file(s) differ from the shipped ones "
                                  f"({', '.join(differ)}); pass --force to overwrite them",
                              str(dest))
    written = []
    for rel in files:
        dst = dest / rel
        if dst.is_file() and rel not in differ:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        _copy_atomic(source / rel, dst)
        written.append(rel)
    return written
