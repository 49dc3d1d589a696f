"""Views and exercises read the model through its public read interface only
(kmemlab.helpers, the Machine's public API), never its private state (``m._k``,
``slab_cache._slub``, ``free_area._zone``, ...): the rule of DESIGN.md ("Nothing outside
kmemlab/kernel/ touches the model's private state"), checked on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kmemlab"
CHECKED = ("widgets", "exercises")
#: IPython's and ipywidgets' display protocol: private by name, public by contract
PROTOCOL = ("_repr_", "_ipython_")


def _files(*packages):
    return sorted(f for p in packages for f in (ROOT / p).rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and not name.startswith(PROTOCOL)


def _defined(files) -> set[str]:
    """Private names these files give their own objects: ``self._x = ...``, methods and
    class attributes called ``_x``."""
    out = set()
    for f in files:
        for n in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _private(n.name):
                out.add(n.name)
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and _private(n.attr):
                out.add(n.attr)
            elif isinstance(n, ast.ClassDef):
                for b in n.body:
                    targets = b.targets if isinstance(b, ast.Assign) else (
                        [b.target] if isinstance(b, ast.AnnAssign) else [])
                    out |= {t.id for t in targets if isinstance(t, ast.Name) and _private(t.id)}
                for b in n.body:                    # __slots__ = ("_x", ...)
                    if (isinstance(b, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                          for t in b.targets)):
                        out |= {e.value for e in ast.walk(b.value)
                                if isinstance(e, ast.Constant) and isinstance(e.value, str) and _private(e.value)}
    return out


#: private names of the model (kmemlab/kernel): ``m._k``, ``s._slub``, ``fa._zone``, ...
MODEL_PRIVATE = _defined(_files("kernel")) | {"_k", "_bus", "_id"}
#: private names the views and exercises give their own objects (the hub's ``v._changes``)
OWN = _defined(_files(*CHECKED)) - MODEL_PRIVATE


def private_reads(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: expression`` of every read of another object's private attribute in
    ``source``: ``x._name`` where x is not ``self``/``cls`` and ``_name`` is the model's
    or not one of the views' own; ``getattr(x, "_name")`` and friends alike. A view's own
    ``self._name`` is its business, except ``self._k`` (a copy of the machine's state)."""
    bad = []
    for n in ast.walk(ast.parse(source, filename)):
        name = base = None
        if isinstance(n, ast.Attribute) and _private(n.attr):
            name, base = n.attr, n.value
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
              and n.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(n.args) >= 2
              and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str)
              and _private(n.args[1].value)):
            name, base = n.args[1].value, n.args[0]
        if name is None:
            continue
        own_object = isinstance(base, ast.Name) and base.id in ("self", "cls")
        if own_object:
            if name == "_k":
                bad.append(f"{filename}:{n.lineno}: {ast.unparse(n)}")
        elif name in MODEL_PRIVATE or name not in OWN:
            bad.append(f"{filename}:{n.lineno}: {ast.unparse(n)}")
    return bad


def test_the_model_has_private_names_to_look_for():
    # the check would pass vacuously if the model's names were not found
    assert {"_k", "_slub", "_zone", "_lists"} <= MODEL_PRIVATE
    assert "_changes" in OWN and "_k" not in OWN


@pytest.mark.parametrize("code", [
    "m._k.slub.page_slab[pfn]",
    "self.machine._k.vmalloc.areas()",
    "getattr(m._k, 'tracer', None)",
    "getattr(self.machine, '_k')",
    "s._slub.slabs_of(s)",
    "fa._zone._lists[0][1]",
    "self._k = m.snapshot()",    # a view keeping the machine's state under the model's name
    "v._wake_fn(v)",             # a name the model uses: not a view's own, whatever v is
])
def test_the_check_finds_private_reads(code):
    assert private_reads(code)


@pytest.mark.parametrize("code", [
    "self._changes.take()", "v._changes.merge(taken)", "self._views", "self._align", "view.widget._repr_mimebundle_()",
    "page_slab(m, pfn).slab_cache.size", "m.mem_map.owner[idx]",
])
def test_the_check_lets_public_and_own_reads_pass(code):
    assert private_reads(code) == []


def test_views_and_exercises_read_no_private_model_state():
    files = _files(*CHECKED)
    assert len(files) >= 10
    bad = [b for f in files for b in private_reads(f.read_text(), str(f.relative_to(ROOT.parent)))]
    assert bad == [], "read these through kmemlab.helpers (docs/read-interface.md):\n" + "\n".join(bad)
