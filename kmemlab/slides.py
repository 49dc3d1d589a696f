"""``kmemlab slides NOTEBOOK``: a lecture as reveal.js slides that work offline.

A lecture hall's projector machine may have no network at all, so the slides carry
everything they need:

1. The notebook is **executed** first (nbclient, in its own folder), so every slide shows
   its outputs. The live views are widgets, which a slide file cannot run: each output
   keeps its static picture instead (every kmemlab view renders one: the physical map as
   a PNG, the mapping picture as SVG, buddyinfo as a table), and a bqplot figure made by
   hand (lecture 02's bar chart) is drawn as an SVG of its bars by :func:`figure_svg`.
2. Cells are grouped into slides by their ``slideshow`` metadata (``slide``/``subslide``
   open one, ``fragment`` appears step by step, ``skip`` is left out, ``notes`` become
   speaker notes), and a slide whose content is taller than the frame is **split** into
   continuation slides: between cells, and inside a long code listing or a long printed
   output (a ``/proc`` file), so nothing is cut off or needs scrolling.
3. reveal.js comes from a package (``sphinx-revealjs`` ships reveal.js 5 in its wheel),
   copied next to the HTML with its local fonts; nothing is fetched from a CDN. Japanese
   text uses the machine's CJK fonts (Debian ``fonts-noto-cjk`` or ``fonts-ipafont-gothic``).

The result is a folder (``index.html`` + ``reveal/``) that opens from a USB stick.
"""

from __future__ import annotations

import copy
import html
import math
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .messages import columns

__all__ = ["build", "figure_svg", "Slide", "FRAME", "main"]

#: the slide frame reveal.js scales to the screen (16:9), and the room content may use
FRAME = (1280, 720)
_ROOM = 640                # px of content height per slide (the frame minus its margins)
_TEXT_PX = 30              # line heights, in frame pixels, of what the CSS below sets
_CODE_PX = 24
_OUT_PX = 22
_CHARS_TEXT = 64           # characters per line of body text in the frame's width (code spans are wider)
_CHARS_CODE = 86            # (18 px monospace in the frame's width)
_PICTURE_MAX = 430         # CSS max-height of pictures (px)


@dataclass
class Block:
    """Something a slide shows, with the height it needs in frame pixels."""
    html: str
    height: float
    fragment: bool = False


@dataclass
class Slide:
    """One slide: its blocks, its speaker notes, and the heading it continues."""
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    heading: str = ""
    continued: bool = False

    @property
    def height(self) -> float:
        return sum(b.height for b in self.blocks)


# -- static pictures of widgets -------------------------------------------------------------

def figure_svg(fig, width: int = 900, height: int = 340) -> str:
    """A bqplot Figure's Bars as an SVG (what a slide or a static page shows of a chart
    made by hand): grouped bars with their numbers, the axis labels and the legend."""
    import numpy as np
    bars = [m for m in fig.marks if type(m).__name__ == "Bars"]
    if not bars:
        return ('<div class="kmemlab-static-note">(an interactive chart: run the notebook to '
                'see it)</div>')
    b = bars[0]
    y = np.atleast_2d(np.asarray(b.y, dtype=float))
    xs = [str(v) for v in np.asarray(b.x).tolist()]
    top = max(1.0, float(np.nanmax(y)) * 1.15) if y.size else 1.0
    colours = list(b.colors) or ["#4477AA"]
    labels = list(b.labels or [])
    left, bottom, right, head = 60, 46, 10, 34
    pw, ph = width - left - right, height - bottom - head
    group = pw / max(1, len(xs))
    bw = group * 0.8 / max(1, y.shape[0])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'class="kmemlab-static-figure" font-family="sans-serif">']
    title = fig.title or ""
    if title:
        out.append(f'<text x="{width / 2}" y="20" font-size="18" text-anchor="middle" '
                   f'font-weight="bold">{html.escape(title)}</text>')
    out.append(f'<line x1="{left}" y1="{head + ph}" x2="{left + pw}" y2="{head + ph}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{head}" x2="{left}" y2="{head + ph}" stroke="#333"/>')
    step = 10 ** math.floor(math.log10(top / 4)) if top >= 4 else 1
    step *= next(f for f in (1, 2, 5, 10) if step * f * 5 >= top)
    v = 0.0
    while v <= top:
        yy = head + ph - ph * v / top
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" font-size="12" text-anchor="end">{v:g}</text>')
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#ddd"/>')
        v += step
    for gi, xl in enumerate(xs):
        gx = left + gi * group + group * 0.1
        out.append(f'<text x="{gx + group * 0.4:.1f}" y="{head + ph + 16}" font-size="13" '
                   f'text-anchor="middle">{html.escape(xl)}</text>')
        for si in range(y.shape[0]):
            val = float(y[si, gi]) if gi < y.shape[1] else 0.0
            h = ph * max(0.0, val) / top
            x0 = gx + si * bw
            out.append(f'<rect x="{x0:.1f}" y="{head + ph - h:.1f}" width="{bw * 0.95:.1f}" '
                       f'height="{h:.1f}" fill="{colours[si % len(colours)]}" stroke="#333" stroke-width="0.5"/>')
            out.append(f'<text x="{x0 + bw / 2:.1f}" y="{head + ph - h - 3:.1f}" font-size="11" '
                       f'text-anchor="middle">{val:g}</text>')
    for ax in fig.axes:
        lab = html.escape(ax.label or "")
        if ax.orientation == "vertical":
            out.append(f'<text transform="translate(14,{head + ph / 2}) rotate(-90)" font-size="14" '
                       f'text-anchor="middle">{lab}</text>')
        else:
            out.append(f'<text x="{left + pw / 2}" y="{height - 6}" font-size="14" '
                       f'text-anchor="middle">{lab}</text>')
    for i, lab in enumerate(labels[:y.shape[0]]):
        lx = left + 12 + i * 220
        out.append(f'<rect x="{lx}" y="{head + 4}" width="14" height="14" fill="{colours[i % len(colours)]}"/>'
                   f'<text x="{lx + 20}" y="{head + 16}" font-size="13">{html.escape(str(lab))}</text>')
    out.append("</svg>")
    return "".join(out)


_STATIC_SETUP = """\
import IPython as _IPython
try:
    import bqplot as _bq
    from kmemlab.slides import figure_svg as _figure_svg
    _IPython.get_ipython().display_formatter.formatters["text/html"].for_type(_bq.Figure, _figure_svg)
except ImportError:
    pass
"""


def execute(nb, cwd: Path, timeout: int = 600):
    """Run every cell of ``nb`` (a copy) in ``cwd``; bqplot figures get a static picture."""
    import nbformat
    from nbclient import NotebookClient
    nb = copy.deepcopy(nb)
    setup = nbformat.v4.new_code_cell(_STATIC_SETUP, id="kmemlab-slides-setup")
    nb.cells.insert(0, setup)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    nb.cells.pop(0)
    return nb


# -- cells to blocks ------------------------------------------------------------------------

def _md_html(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(text)


def _md_height(text: str) -> float:
    h = 0.0
    in_fence = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("```"):
            in_fence = not in_fence
            h += 6
            continue
        if in_fence:
            h += _CODE_PX
        elif s.startswith("#"):
            h += 64
        elif s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue                       # the |---|---| line
            per_col = _CHARS_TEXT * 1.25 / max(1, len(cells))
            h += 34 * max(1, max(math.ceil(len(c) / per_col) for c in cells))
        elif not s:
            h += 10
        else:
            h += _TEXT_PX * max(1, math.ceil(len(s) / _CHARS_TEXT))
    return h + 12


def _md_chunks(text: str) -> list[str]:
    """A Markdown cell cut where a slide may break: between paragraphs, tables, fenced
    blocks and the items of a list (never inside one)."""
    chunks, cur, fence = [], [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("```"):
            fence = not fence
        item = not fence and re.match(r"^([-*+]|\d+\.)\s", line) is not None
        if not fence and (not s or item or s.startswith("#")) and cur:
            chunks.append("\n".join(cur))
            cur = []
        if s or fence:
            cur.append(line)
    if cur:
        chunks.append("\n".join(cur))
    return [c for c in chunks if c.strip()]


def _md_blocks(text: str) -> list[Block]:
    return [Block(f'<div class="kl-md">{_md_html(c)}</div>', _md_height(c)) for c in _md_chunks(text)]


def _code_blocks(source: str, room: float) -> list[Block]:
    """A code cell's source, in pieces that each fit ``room`` (a long listing is split)."""
    from nbconvert.filters.highlight import Highlight2HTML
    hl = Highlight2HTML(pygments_lexer="ipython3")
    lines = source.splitlines() or [""]
    per = max(4, int(room // _CODE_PX) - 1)
    out = []
    for i in range(0, len(lines), per):
        chunk = "\n".join(lines[i:i + per])
        n = sum(max(1, math.ceil(len(ln) / _CHARS_CODE)) for ln in lines[i:i + per])
        out.append(Block(f'<div class="kl-code">{hl(chunk)}</div>', n * _CODE_PX + 20))
    return out


def _text_blocks(text: str, css: str, room: float) -> list[Block]:
    lines = text.rstrip("\n").splitlines() or [""]
    per = max(4, int(room // _OUT_PX) - 1)
    out = []
    for i in range(0, len(lines), per):
        chunk = lines[i:i + per]
        n = sum(max(1, math.ceil(len(ln) / 100)) for ln in chunk)
        out.append(Block(f'<pre class="{css}">{html.escape(chr(10).join(chunk))}</pre>', n * _OUT_PX + 20))
    return out


def _output_blocks(out, room: float) -> list[Block]:
    t = out.get("output_type")
    if t == "stream":
        return _text_blocks(out.get("text", ""), "kl-out", room)
    if t == "error":
        return _text_blocks("\n".join(out.get("traceback", [])), "kl-err", room)
    data = out.get("data", {})
    if "text/html" in data:           # the static picture of a view (never the widget)
        h = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
        return [_html_block(piece, room) for part in h.split(_SPLIT) if part.strip()
                for piece in _table_pieces(part, room)]
    if "image/png" in data:
        return [Block(f'<img class="kl-img" src="data:image/png;base64,{data["image/png"]}"/>', _PICTURE_MAX)]
    if "image/svg+xml" in data:
        return [Block(f'<div class="kl-html">{data["image/svg+xml"]}</div>', _PICTURE_MAX)]
    if "text/plain" in data:
        return _text_blocks(data["text/plain"], "kl-out", room)
    return []


_SPLIT = "<!--kmemlab-split-->"       # kmemlab.widgets.dashboard.SPLIT (no widget import here)


def _table_px(h: str) -> float:
    """The height of a static picture's table rows: a row is as tall as its longest cell
    wraps (about 40 characters a line in a narrow column, as km.compare()'s reasons are;
    counting rows alone left a long report 96 px below the frame; a Japanese character
    counts as two, the Japanese card's reasons wrap twice as often)."""
    px = 0.0
    for row in re.findall(r"<tr\b.*?(?:</tr>|(?=<tr\b)|$)", h, flags=re.S):
        cells = re.findall(r"<t[dh]\b[^>]*>(.*?)(?=<t[dh]\b|</tr>|$)", row, flags=re.S)
        longest = max((columns(html.unescape(re.sub(r"<[^>]+>", "", c)).strip()) for c in cells), default=0)
        px += max(30.0, 8 + 24 * math.ceil(longest / 40))
    return px


def _table_pieces(h: str, room: float) -> list[str]:
    """A static picture whose table is taller than a slide, cut between rows into tables
    that each fit (the header row repeated on each), so a long report (km.compare()'s
    card) goes on over several slides in a readable size instead of shrunk into one."""
    m = re.search(r"(<table\b[^>]*>)(.*?)(</table>)", h, flags=re.S)
    if m is None or _table_px(h) <= room - 120:
        return [h]
    rows = re.findall(r"<tr\b.*?</tr>", m.group(2), flags=re.S)
    if len(rows) < 2:
        return [h]
    head, body = rows[0], rows[1:]
    pieces, cur = [], []
    for r in body:
        if cur and _table_px(head + "".join(cur + [r])) > room - 120:
            pieces.append(cur)
            cur = []
        cur.append(r)
    pieces.append(cur)
    # each piece keeps what wraps the table (its wrapper's tags stay balanced)
    return [f"{h[:m.start()]}{m.group(1)}{head}{''.join(rs)}{m.group(3)}{h[m.end():]}" for rs in pieces]


def _html_block(h: str, room: float) -> Block:
    """One static picture: its height estimated from what it holds; one taller than the
    frame is shown smaller (CSS zoom), never cut."""
    pictures = len(re.findall(r"<(?:img|svg)\b", h))
    pre_lines = sum(p.count("\n") + 1 for p in re.findall(r"<pre\b.*?</pre>", h, flags=re.S))
    # a line of text in its own element (a report's lines: <div>kfree 570</div>)
    text_lines = len(re.findall(r"<(div|p|li)\b[^>]*>[^<]*</\1>", h))
    est = pictures * (_PICTURE_MAX + 10) + _table_px(h) + pre_lines * _OUT_PX + text_lines * _TEXT_PX + 60
    if est <= room:
        return Block(f'<div class="kl-html">{h}</div>', est)
    z = max(0.3, room / est)
    # scaled with a transform (reveal.js scales whole slides with CSS zoom: a zoom inside
    # one confuses its layout); the outer box keeps the room the scaled picture takes
    return Block(f'<div class="kl-scaled" style="height:{room:.0f}px">'
                 f'<div class="kl-html" style="transform:scale({z:.3f});transform-origin:0 0;'
                 f'width:{100 / z:.1f}%">{h}</div></div>', room)


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def slides_of(nb) -> list[Slide]:
    """The executed notebook as slides that each fit the frame."""
    slides: list[Slide] = []
    cur = None
    for cell in nb.cells:
        kind = cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")
        if kind == "skip":
            continue
        if kind == "notes":
            if cur is not None:
                cur.notes.append(_md_html(cell.source) if cell.cell_type == "markdown" else
                                 f"<pre>{html.escape(cell.source)}</pre>")
            continue
        if cur is None or kind in ("slide", "subslide"):
            cur = Slide()
            slides.append(cur)
        blocks: list[Block] = []
        if cell.cell_type == "markdown":
            if not cur.blocks and not cur.heading:
                cur.heading = _first_heading(cell.source)
            blocks += _md_blocks(cell.source)
        elif cell.cell_type == "code":
            blocks += _code_blocks(cell.source, _ROOM - 80)
            for o in cell.get("outputs", []):
                blocks += _output_blocks(o, _ROOM - 80)
        for i, b in enumerate(blocks):
            b.fragment = kind == "fragment" and i == 0
            if cur.blocks and cur.height + b.height > _ROOM:
                cur = Slide(heading=cur.heading, continued=True)      # a continuation slide
                slides.append(cur)
            cur.blocks.append(b)
    return [s for s in slides if s.blocks]


# -- the HTML ---------------------------------------------------------------------------------

_CSS = f"""
.reveal {{ font-family: "Source Sans Pro", "Noto Sans CJK JP", "IPAPGothic", "IPAGothic", sans-serif;
          font-size: 24px; }}
.reveal .slides section {{ text-align: left; height: {FRAME[1]}px; overflow: hidden; box-sizing: border-box; }}
.reveal h1, .reveal h2, .reveal h3 {{ text-transform: none; }}
.reveal .anchor-link {{ display: none; }}
.reveal h1 {{ font-size: 44px; }} .reveal h2 {{ font-size: 36px; margin-bottom: 10px; }}
.reveal h3 {{ font-size: 28px; }}
.reveal p, .reveal li {{ line-height: 1.3; margin: 4px 0; }}
.reveal table {{ font-size: 20px; }} .reveal table th, .reveal table td {{ padding: 2px 8px; }}
.reveal ul, .reveal ol {{ display: block; margin-left: 1em; }}
.reveal pre {{ width: 100%; box-sizing: border-box; box-shadow: none; margin: 6px 0; font-size: 16px; line-height: 1.35;
              white-space: pre-wrap; word-break: break-all; }}
.reveal pre code {{ max-height: none; padding: 0; }}
.kl-code .highlight {{ background: #f5f5f5; border-left: 4px solid #4477AA; padding: 4px 8px; }}
.kl-code pre {{ font-size: 18px; margin: 0; }}
.kl-out, .kl-err {{ font-size: 17px !important; line-height: 1.3; background: #fff; border-left: 4px solid #999; padding: 2px 8px; }}
.kl-err {{ color: #882255; }}
.kl-html img, .kl-html svg, .kl-img, .kl-static-figure {{ max-height: {_PICTURE_MAX}px; max-width: 100%;
              width: auto; height: auto; }}
.kl-html svg {{ width: 100%; }}
.kl-html table {{ font-size: 15px; border-collapse: collapse; }}
.kl-html td, .kl-html th {{ padding: 1px 6px; border-bottom: 1px solid #ddd; }}
.kl-scaled {{ overflow: hidden; }}
.kl-continued {{ color: #777; font-size: 18px; }}
.kmemlab-static-note {{ color: #555; font-style: italic; }}
"""


def _render(slides: list[Slide], title: str, lang: str) -> str:
    from pygments.formatters import HtmlFormatter
    sections = []
    for s in slides:
        parts = []
        if s.continued and s.heading:
            parts.append(f'<div class="kl-continued">{html.escape(s.heading)} (continued)</div>')
        for b in s.blocks:
            parts.append(f'<div class="fragment">{b.html}</div>' if b.fragment else b.html)
        if s.notes:
            parts.append(f'<aside class="notes">{"".join(s.notes)}</aside>')
        sections.append(f'<section>{"".join(parts)}</section>')
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="reveal/dist/reset.css">
<link rel="stylesheet" href="reveal/dist/reveal.css">
<link rel="stylesheet" href="reveal/dist/theme/white.css">
<style>{HtmlFormatter().get_style_defs('.highlight')}{_CSS}</style>
</head><body>
<div class="reveal"><div class="slides">
{chr(10).join(sections)}
</div></div>
<script src="reveal/dist/reveal.js"></script>
<script src="reveal/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({{width: {FRAME[0]}, height: {FRAME[1]}, margin: 0.03, center: false, hash: true,
                    slideNumber: "c/t", transition: "none", plugins: [RevealNotes]}});
</script>
</body></html>
"""


def _reveal_dir() -> Path:
    try:
        import sphinx_revealjs
    except ImportError:
        raise RuntimeError("kmemlab slides needs reveal.js from the sphinx-revealjs package: "
                           "pip install 'kmemlab[slides]' (or pip install sphinx-revealjs)") from None
    d = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (d / "dist" / "reveal.js").exists():
        raise RuntimeError(f"no reveal.js in {d}")
    return d


def _copy_reveal(dest: Path) -> None:
    src = _reveal_dir()
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "dist" / "theme").mkdir(parents=True)
    for f in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copy(src / "dist" / f, dest / "dist" / f)
    shutil.copy(src / "dist" / "theme" / "white.css", dest / "dist" / "theme" / "white.css")
    shutil.copytree(src / "dist" / "theme" / "fonts" / "source-sans-pro",
                    dest / "dist" / "theme" / "fonts" / "source-sans-pro")
    (dest / "plugin" / "notes").mkdir(parents=True)
    shutil.copy(src / "plugin" / "notes" / "notes.js", dest / "plugin" / "notes" / "notes.js")
    shutil.copy(src / "LICENSE", dest / "LICENSE")


def build(notebook, out=None, run: bool = True, timeout: int = 600) -> Path:
    """Write the slides of ``notebook`` (a path) into the folder ``out`` (default: the
    notebook's name + ``-slides`` next to it); returns the path of ``index.html``."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}")
    out = Path(out) if out is not None else notebook.with_name(notebook.stem + "-slides")
    # imported here, not at the top: `kmemlab --help` and `kmemlab boot` build every
    # subcommand's arguments, and a core install (no [slides] extra) has no nbformat
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    if run:
        nb = execute(nb, notebook.resolve().parent, timeout)
    lang = nb.metadata.get("kmemlab", {}).get("language", "en")
    title = next((_first_heading(c.source) for c in nb.cells if c.cell_type == "markdown"), notebook.stem)
    out.mkdir(parents=True, exist_ok=True)
    _copy_reveal(out / "reveal")
    index = out / "index.html"
    index.write_text(_render(slides_of(nb), title, lang), encoding="utf-8")
    return index


def main(args) -> int:
    """``kmemlab slides NOTEBOOK [-o DIR] [--no-run]``."""
    try:
        index = build(args.notebook, args.output, run=not args.no_run, timeout=args.timeout)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"kmemlab slides: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"kmemlab slides: wrote {index} (open it in a browser; works offline)")
    return 0


def add_arguments(p) -> None:
    """The arguments of ``kmemlab slides`` (cli.py registers the command)."""
    p.add_argument("notebook", help="the lecture .ipynb")
    p.add_argument("-o", "--output", default=None, help="output folder (default: NOTEBOOK-slides/)")
    p.add_argument("--no-run", action="store_true", help="use the outputs stored in the notebook")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")


