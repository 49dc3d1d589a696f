"""Build the lecture notebooks from their sources in ``notebooks/src/``.

A notebook is written once, as a small Markdown file, and this module turns it into
``.ipynb`` files: ``notebooks/<name>.ipynb`` (English) and ``notebooks/<lang>/<name>.ipynb``
for every translation. Code cells exist once in the source, so every edition runs the
very same code; the generated notebooks carry no outputs and no execution counts, and
a test rebuilds them and compares, so a notebook cannot drift from its source.

    python -m kmemlab.notebooks build            # regenerate every notebook
    python -m kmemlab.notebooks check            # exit 1 if a committed one is stale

Source format (``notebooks/src/<name>.md``)::

    # Title of the notebook                  <- Markdown: everything outside python fences
    Some text.
    :::ja                                    <- this cell's Japanese text follows
    # ノートブックの題
    +++ slide                                <- new cell; RISE/nbconvert slide type "slide"
    ## A section
    ```python                                <- a code cell (shared by every language)
    m = km.Machine("tiny")
    ```
    +++                                      <- plain cell break (slide type "-")

- ```` ```python ```` opens a code cell, a bare ```` ``` ```` closes it; other fences
  (```` ```c ````, ```` ```text ````) stay Markdown, and markers inside them are text.
- ``+++`` ends the current Markdown cell; ``+++ <type>`` also gives the next cell (Markdown
  or code) the slide type ``slide``, ``subslide``, ``fragment``, ``skip`` or ``notes``.
  Other cells get ``-`` (continue the slide), except the first, which opens a ``slide``.
- ```` ```python nbgrader solution grade_id=ans-1 ```` marks a code cell for nbgrader
  (``metadata.nbgrader``): ``solution`` = an answer cell (students' version strips the
  ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` part); ``points=N exercise=NAME`` = a
  locked graded cell worth N points that hands in the answer of exercise NAME
  (``metadata.kmemlab.exercise``, see :mod:`kmemlab.grading`); ``locked`` = a read-only
  cell (the seed, a question). Every nbgrader cell needs a unique ``grade_id``.
- A source with solution cells builds twice: ``<folder>/<name>.ipynb`` is the students'
  edition (solutions stripped, as ``kmemlab assign`` does) and
  ``instructor/<folder>/<name>.instructor.ipynb`` keeps the solutions.
- Sources in ``src/<folder>/<name>.md`` (e.g. ``src/exercises/``) build into
  ``<folder>/<name>.ipynb``.
- In code, ``km.widgets.set_language("en")`` becomes ``set_language("<lang>")`` in each
  translation, so the views of the Japanese edition are labelled in Japanese; the rest of
  the code is the same in every edition.
- ``:::<lang>`` (two letters) starts the translation of the current Markdown cell. Once
  one cell of a notebook has a ``<lang>`` text, every Markdown cell must have one: a
  missing translation is a build error, so editions keep the same cells.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["Cell", "BuildError", "parse", "render", "build", "sources", "source_name", "main",
           "SLIDE_TYPES", "DEFAULT_LANG"]

DEFAULT_LANG = "en"
#: slide types RISE and ``jupyter nbconvert --to slides`` understand
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")

_CELL_BREAK = re.compile(r"^\+\+\+(?:\s+(\S+))?\s*$")
_LANG = re.compile(r"^:::([a-z]{2})\s*$")
_FENCE = re.compile(r"^(`{3,})(.*)$")


class BuildError(ValueError):
    """A notebook source that does not follow the format (the message names the line)."""


@dataclass
class Cell:
    """One cell of a source: ``text`` per language for Markdown, ``code`` for code."""
    kind: str                                   # "markdown" or "code"
    slide_type: str = "-"
    text: dict[str, list[str]] = field(default_factory=dict)
    code: list[str] = field(default_factory=list)
    line: int = 0                               # where it starts in the source (1-based)
    nbgrader: dict | None = None                # metadata.nbgrader of a code cell
    kmemlab: dict | None = None                 # metadata.kmemlab (the exercise a graded cell hands in)

    def markdown(self, lang: str) -> str:
        return "\n".join(self.text.get(lang, [])).strip("\n")


def parse(source: str, name: str = "<source>") -> list[Cell]:
    """Split a notebook source into cells (see the module docstring for the format)."""
    cells: list[Cell] = []
    cur: Cell | None = None        # the Markdown cell being filled
    lang = DEFAULT_LANG
    pending = "slide"              # slide type for the next cell: a deck opens with a slide
    code: Cell | None = None       # the code cell being filled
    md_fence = ""                  # the fence of a non-python block inside Markdown
    grade_ids: set[str] = set()

    def close_markdown():
        nonlocal cur
        if cur is not None and any(cur.markdown(lg) for lg in cur.text):
            cells.append(cur)
        elif cur is not None and cur.slide_type != "-":
            raise BuildError(f"{name}:{cur.line}: '+++ {cur.slide_type}' is followed by nothing")
        cur = None

    for no, line in enumerate(source.splitlines(), 1):
        if code is not None:
            if line.strip() == "```":
                while code.code and not code.code[-1].strip():
                    code.code.pop()
                if not code.code:
                    raise BuildError(f"{name}:{code.line}: empty python cell")
                cells.append(code)
                code = None
            else:
                code.code.append(line)
            continue
        fence = _FENCE.match(line)
        if md_fence:
            if fence and fence.group(1) == md_fence and not fence.group(2).strip():
                md_fence = ""
        elif fence and fence.group(2).split()[:1] == ["python"]:
            slide = cur.slide_type if cur is not None and not cur.markdown(DEFAULT_LANG) else pending
            if cur is not None and not cur.markdown(DEFAULT_LANG):
                cur = None          # a '+++ type' marker directly before the code cell
            close_markdown()
            words = fence.group(2).split()[1:]
            exercise = [w.split("=", 1)[1] for w in words if w.startswith("exercise=")]
            code = Cell("code", slide, line=no,
                        nbgrader=_nbgrader([w for w in words if not w.startswith("exercise=")],
                                           f"{name}:{no}", grade_ids, bool(exercise)),
                        kmemlab={"exercise": exercise[0]} if exercise else None)
            pending = "-"
            lang = DEFAULT_LANG
            continue
        elif fence:
            md_fence = fence.group(1)
        else:
            brk = _CELL_BREAK.match(line)
            if brk:
                close_markdown()
                slide = brk.group(1) or "-"
                if slide not in SLIDE_TYPES:
                    raise BuildError(f"{name}:{no}: unknown slide type {slide!r}; use one of "
                                     + ", ".join(SLIDE_TYPES))
                cur = Cell("markdown", slide, text={DEFAULT_LANG: []}, line=no)
                lang = DEFAULT_LANG
                continue
            m = _LANG.match(line)
            if m:
                if cur is None or not cur.markdown(DEFAULT_LANG):
                    raise BuildError(f"{name}:{no}: ':::{m.group(1)}' needs English text before it "
                                     "in the same cell")
                lang = m.group(1)
                if lang in cur.text:
                    raise BuildError(f"{name}:{no}: the cell at line {cur.line} already has "
                                     f"a :::{lang} text")
                cur.text[lang] = []
                continue
        if cur is None:
            if not line.strip():
                continue
            cur = Cell("markdown", pending, text={DEFAULT_LANG: []}, line=no)
            pending = "-"
            lang = DEFAULT_LANG
        cur.text[lang].append(line)
    if code is not None:
        raise BuildError(f"{name}:{code.line}: python cell is not closed with ```")
    if md_fence:
        raise BuildError(f"{name}: a {md_fence} fence is not closed")
    close_markdown()
    if not cells:
        raise BuildError(f"{name}: no cells")
    return cells


def _nbgrader(words: list[str], where: str, seen: set[str], exercise: bool = False) -> dict | None:
    """``nbgrader solution grade_id=x`` / ``nbgrader grade_id=x points=2`` / ``nbgrader
    locked grade_id=x`` -> the cell metadata nbgrader (schema 3) reads; None for a plain
    code cell."""
    if not words:
        if exercise:
            raise BuildError(f"{where}: exercise=NAME belongs to a graded nbgrader cell (points=N)")
        return None
    if words[0] != "nbgrader":
        raise BuildError(f"{where}: after ```python only 'nbgrader ...' may follow, got {words[0]!r}")
    opts = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1:])
    unknown = set(opts) - {"solution", "grade_id", "points", "locked"}
    if unknown:
        raise BuildError(f"{where}: unknown nbgrader option(s) {sorted(unknown)}; use solution, "
                         "locked, grade_id=ID, points=N, exercise=NAME")
    gid = opts.get("grade_id", "")
    if not gid:
        raise BuildError(f"{where}: an nbgrader cell needs grade_id=...")
    if gid in seen:
        raise BuildError(f"{where}: grade_id {gid!r} is used twice")
    seen.add(gid)
    solution = "solution" in opts
    grade = "points" in opts
    locked = "locked" in opts
    if solution + grade + locked != 1:
        raise BuildError(f"{where}: an nbgrader cell is either 'solution', 'locked' or has 'points=N'")
    if exercise and not grade:
        raise BuildError(f"{where}: exercise=NAME belongs to a graded cell (points=N)")
    meta = {"grade": grade, "grade_id": gid, "locked": grade or locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        try:
            meta["points"] = int(opts["points"])
        except ValueError:
            raise BuildError(f"{where}: points must be a whole number, got {opts['points']!r}") from None
    return meta


def languages(cells: list[Cell]) -> list[str]:
    """The editions a source yields: English first, then its translations, sorted."""
    langs = {lg for c in cells for lg in c.text} - {DEFAULT_LANG}
    return [DEFAULT_LANG] + sorted(langs)


def render(source: str, name: str) -> dict[str, str]:
    """The ``.ipynb`` text of every edition of one source, keyed by language."""
    cells = parse(source, name)
    out = {}
    for lang in languages(cells):
        nb_cells = []
        for i, c in enumerate(cells):
            meta = {"slideshow": {"slide_type": c.slide_type}}
            cid = f"cell-{i:02d}"
            if c.kind == "code":
                if c.nbgrader is not None:
                    meta = dict(meta, nbgrader=c.nbgrader)
                if c.kmemlab is not None:
                    meta = dict(meta, kmemlab=c.kmemlab)
                code = "\n".join(c.code)
                if lang != DEFAULT_LANG:       # the widgets speak the edition's language
                    code = code.replace(f'set_language("{DEFAULT_LANG}")', f'set_language("{lang}")')
                cell = nbformat.v4.new_code_cell(code, metadata=meta, id=cid)
            else:
                if lang not in c.text:
                    raise BuildError(f"{name}:{c.line}: this cell has no :::{lang} text, but other "
                                     f"cells have one (every cell of the {lang} edition needs it)")
                cell = nbformat.v4.new_markdown_cell(c.markdown(lang), metadata=meta, id=cid)
            nb_cells.append(cell)
        nb = nbformat.v4.new_notebook(cells=nb_cells, metadata={
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
            "kmemlab": {"generated_from": f"src/{name}.md", "language": lang,
                        "note": "generated by `python -m kmemlab.notebooks build`: edit the source"},
        })
        nbformat.validate(nb)
        out[lang] = nbformat.writes(nb) + "\n"
    return out


def notebooks_dir() -> Path:
    from .cli import notebooks_dir as nbdir
    return nbdir()


def sources(root: Path | None = None) -> list[Path]:
    """Every notebook source, ``notebooks/src/*.md`` and ``notebooks/src/<folder>/*.md``
    (README.md excluded)."""
    root = notebooks_dir() if root is None else root
    return sorted(p for pat in ("*.md", "*/*.md") for p in (root / "src").glob(pat)
                  if p.name != "README.md")


def source_name(root: Path, src: Path) -> str:
    """``exercises/01-buddy`` for ``src/exercises/01-buddy.md``."""
    return src.relative_to(root / "src").with_suffix("").as_posix()


def output_path(root: Path, name: str, lang: str) -> Path:
    return root / f"{name}.ipynb" if lang == DEFAULT_LANG else root / lang / f"{name}.ipynb"


#: the line that opens the instructor's edition (and that a release removes)
INSTRUCTOR_BANNER = "> **Instructor's edition: it contains the solutions.**"


def generated(root: Path | None = None) -> list[Path]:
    """Every notebook file :func:`build` writes (both editions of exercise sources)."""
    root = notebooks_dir() if root is None else root
    return [path for src in sources(root)
            for lang, text in render(src.read_text(encoding="utf-8"), source_name(root, src)).items()
            for path, _ in editions(text, source_name(root, src), lang, root)]


def instructor_path(root: Path, name: str, lang: str) -> Path:
    """``instructor/exercises/01-x.instructor.ipynb``: the edition with the solutions."""
    sub = Path("instructor") if lang == DEFAULT_LANG else Path("instructor") / lang
    return root / sub / f"{name}.instructor.ipynb"


def editions(text: str, name: str, lang: str, root: Path) -> list[tuple[Path, str]]:
    """The files one rendered notebook becomes: itself, or — when it has solution cells —
    the students' edition (solutions stripped) and the instructor's."""
    nb = nbformat.reads(text, as_version=4)
    if not any(c.get("metadata", {}).get("nbgrader", {}).get("solution") for c in nb.cells):
        return [(output_path(root, name, lang), text)]
    from .grading.release import release_notebook
    nb.metadata["kmemlab"]["edition"] = "student"
    student = release_notebook(nb, name=name)
    nb.metadata["kmemlab"]["edition"] = "INSTRUCTOR: contains the solutions; never give it to students"
    title, _, rest = nb.cells[0].source.partition("\n")
    nb.cells[0].source = (f"{title}\n\n{INSTRUCTOR_BANNER} Students get `notebooks/{name}.ipynb` "
                          f"or a `kmemlab assign` release.\n\n{rest}").rstrip()
    return [(output_path(root, name, lang), nbformat.writes(student) + "\n"),
            (instructor_path(root, name, lang), nbformat.writes(nb) + "\n")]


def build(root: Path | None = None, check: bool = False) -> list[Path]:
    """Regenerate every notebook under ``root``; return the files that changed (with
    ``check=True`` write nothing and return the files that are stale or missing)."""
    root = notebooks_dir() if root is None else root
    changed = []
    for src in sources(root):
        name = source_name(root, src)
        outputs = [out for lang, rendered in render(src.read_text(encoding="utf-8"), name).items()
                   for out in editions(rendered, name, lang, root)]
        for path, text in outputs:
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if old != text:
                changed.append(path)
                if not check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m kmemlab.notebooks",
                                description="build the lecture notebooks from notebooks/src/*.md")
    p.add_argument("command", choices=["build", "check"],
                   help="build: regenerate the .ipynb files; check: exit 1 if any is stale")
    p.add_argument("--root", type=Path, default=None, help="the notebooks folder (default: the checkout's)")
    args = p.parse_args(argv)
    try:
        changed = build(args.root, check=args.command == "check")
    except BuildError as e:
        print(f"kmemlab.notebooks: {e}", file=sys.stderr)
        return 2
    root = notebooks_dir() if args.root is None else args.root
    for path in changed:
        rel = path.relative_to(root)
        print(f"{'stale' if args.command == 'check' else 'wrote'}: notebooks/{rel}")
    if args.command == "check" and changed:
        print("run `python -m kmemlab.notebooks build` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
