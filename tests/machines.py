"""What tests share (imported by name: ``from machines import boot, fingerprint``;
a module of its own, since tests/ and tests/browser/ each have a conftest): ``boot()``, a
small machine per profile and generation, and ``fingerprint(m)``, everything a machine
holds, for "the refused call changed nothing"."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

import kmemlab as km

#: (profile, kernel) pairs the ``machine`` fixture boots: every profile once, the seed
#: article's 4.5, the long-term kernels either side of each SLUB change (cpu partial in
#: slabs 5.16, frozen partial slabs until 6.7, krealloc's orig_size 6.13) and the default
MACHINES = [("x86_64", "6.18"), ("x86_64", "6.6"), ("x86_64", "5.10"), ("x86_64", "4.5"),
            ("x86_64", "6.12"), ("x86_64-la57", "6.8"), ("i386", "6.1"), ("tiny", "5.15")]


def boot(profile: str = "x86_64", kernel: str = "6.18", **kw) -> km.Machine:
    """A small machine of ``profile`` (64 MiB; the tiny profile's own size)."""
    kw.setdefault("mem", None if profile == "tiny" else "64M")
    kw.setdefault("cpus", 2)
    return km.Machine(profile=profile, kernel=kernel, **kw)


#: fields that are not the machine's state but the record of its reports: the log, the
#: taint flags and the count of slub_debug reports (a refused call reports), the
#: listeners, an active trace
_SKIP = {"log", "bus", "tracer", "_warned_once", "tainted", "errors"}


def _canon(obj, out: list, seen: dict) -> None:
    """Append a canonical description of ``obj`` to ``out``: ordered containers in their
    order, unordered ones sorted, objects by their attributes, shared objects once."""
    t = type(obj)
    if obj is None or t in (bool, int, float, str):
        out.append(repr(obj))
        return
    if t in (bytes, bytearray):
        out.append(hashlib.sha256(obj).hexdigest())
        return
    if isinstance(obj, np.ndarray):
        out.append(f"nd{obj.dtype}{obj.shape}:" + hashlib.sha256(obj.tobytes()).hexdigest())
        return
    if isinstance(obj, memoryview):
        return                                   # a view of an array described elsewhere
    if isinstance(obj, np.random.Generator):
        out.append(repr(obj.bit_generator.state))
        return
    if callable(obj) and not hasattr(obj, "__dict__") and not hasattr(obj, "__slots__"):
        out.append(getattr(obj, "__qualname__", repr(type(obj))))
        return
    key = id(obj)
    if key in seen:
        out.append(f"@{seen[key]}")
        return
    seen[key] = len(seen)
    if isinstance(obj, (list, tuple)):
        out.append(f"{t.__name__}[")
        for x in obj:
            _canon(x, out, seen)
        out.append("]")
    elif isinstance(obj, OrderedDict):
        out.append("od{")
        for k_, v in obj.items():
            _canon(k_, out, seen)
            _canon(v, out, seen)
        out.append("}")
    elif isinstance(obj, dict):
        out.append("{")
        for k_ in sorted(obj, key=repr):
            _canon(k_, out, seen)
            _canon(obj[k_], out, seen)
        out.append("}")
    elif isinstance(obj, (set, frozenset)):
        out.append("set" + repr(sorted(obj, key=repr)))
    else:
        names = sorted(set(getattr(obj, "__dict__", {})) | set(getattr(type(obj), "__slots__", ())))
        out.append(f"{t.__name__}(")
        for n in names:
            if n in _SKIP or n == "__weakref__" or not hasattr(obj, n):
                continue
            out.append(n + "=")
            _canon(getattr(obj, n), out, seen)
        out.append(")")


def fingerprint(m: km.Machine) -> str:
    """A digest of everything the machine's kernel holds (memory contents, mem_map, the
    buddy and SLUB structures and their order, counters, the random state), but not its
    log: two machines with the same fingerprint are in the same state."""
    out: list[str] = []
    _canon(m._k, out, {})
    return hashlib.sha256("\x00".join(out).encode()).hexdigest()
