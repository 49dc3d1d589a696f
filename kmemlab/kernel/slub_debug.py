"""SLUB debugging: red zones, poisoning, sanity checks and owner tracking.

Booting with ``slub_debug=FZPU`` (or ``slub_debug=FZP,kmalloc-128`` for some caches)
makes SLUB surround each object with guard bytes and check them, the way a bank teller
counts the notes twice: ``Z`` red zones (0xbb around a free object, 0xcc around an
allocated one), ``P`` poison (a free object holds 0x6b ... 0xa5, padding 0x5a),
``F`` sanity checks on every free (double free, pointer not at an object start),
``U`` who allocated and freed each object. Problems are reported in dmesg as
mm/slub.c's ``slab_bug()`` / ``object_err()`` / ``check_bytes_and_report()`` print them
(v6.6 wording: "Left Redzone", "Right Redzone", "kmalloc Redzone", "Poison",
"End Poison", "Object padding"). ``slub_debug`` turns on ``no_hash_pointers``
(v5.12+), so reports show real addresses.

Debug caches follow the v6.2+ paths: no per-cpu slab; each allocation takes one object
from a node partial slab (``alloc_single_from_partial`` / ``alloc_single_from_new_slab``)
and each free goes straight back (``free_to_partial_list``).

A free that the checks refuse (``free_debug_processing()`` fails: the kernel prints
"Object at ... not freed" and leaks the object) raises :class:`KernelBug` in kmemlab,
after the report; the object stays allocated, as in the kernel. An allocation that
finds a corrupted free object reports it, marks that slab's objects all used
("Marking all objects used") and carries on with another slab, as the kernel does.

Simplifications: the alloc/free tracks and kmalloc's orig_size are kept beside the
slab (the kernel stores them in the object's metadata area, which kmemlab leaves as
0x5a); stack traces are one line.
"""

from __future__ import annotations

from .errors import KernelBug
from .gfp import F_THISNODE
from .slab_common import (OBJECT_POISON, POISON_END, POISON_FREE, POISON_INUSE, SLAB_CONSISTENCY_CHECKS,
                          SLAB_DEBUG_FLAGS, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLUB_RED_ACTIVE,
                          SLUB_RED_INACTIVE, caller_name)

__all__ = ["SlubDebug", "parse_slub_debug"]

#: setup_slub_debug(): the option letters
_LETTERS = {"F": SLAB_CONSISTENCY_CHECKS, "Z": SLAB_RED_ZONE, "P": SLAB_POISON, "U": SLAB_STORE_USER}
_IGNORED = set("TAO")        # trace, failslab, skip-order: accepted, not modelled
_ALL = SLAB_DEBUG_FLAGS
#: struct page flags the slab report prints (PG_slab, PG_head)
_PG_SLAB_BIT, _PG_HEAD_BIT = 0x200, 0x10000


def parse_slub_debug(k, text: str):
    """``setup_slub_debug()``: "FZPU" for every cache, "FZP,kmalloc-128,foo" for the
    named ones, "" or "-" for none; a bare "slub_debug" (here "1") means all of FZPU.
    Returns (flags, names or None for every cache)."""
    text = text.strip()
    if text in ("", "-"):
        return 0, None
    if text == "1":
        return _ALL, None
    letters, _, names = text.partition(",")
    flags = 0
    for ch in letters:
        c = ch.upper()
        if c in _LETTERS:
            flags |= _LETTERS[c]
        elif c in _IGNORED:
            continue
        elif c == "-":
            flags = 0
        else:
            k.log.printk("err", f"slub_debug option '{ch}' unknown. skipped")
    only = {n.strip() for n in names.split(",") if n.strip()} if names else None
    if flags:
        k.log.printk("info", "**********************************************************\n"
                             "**   NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE NOTICE   **\n"
                             "**                                                      **\n"
                             "** This system shows unhashed kernel memory addresses   **\n"
                             "** via the console, logs, and other interfaces. This    **\n"
                             "** might reduce the security of your system.            **\n"
                             "**********************************************************")
    return flags, only


class SlubDebug:
    """The debug half of the slab allocator (``k.slub.dbg``)."""

    def __init__(self, slub):
        self.slub = slub
        self.k = slub.k
        self.tracks: dict[int, list] = {}     # object -> [alloc track, free track]
        self.orig_size: dict[int, int] = {}   # object -> requested kmalloc size
        self.errors = 0                       # slab_bug() reports so far

    # -- byte-level helpers --------------------------------------------------------

    def _bytes(self, addr: int, n: int) -> bytes:
        return self.slub.read(addr, n)

    def init_object(self, s, obj: int, val: int) -> None:
        """``init_object()``: red zones to ``val``, poison the object bytes."""
        fill = self.slub.fill
        poison_size = s.object_size
        if s.flags & SLAB_RED_ZONE:
            fill(obj - s.red_left_pad, val, s.red_left_pad)
            if s.orig_size_tracked and val == SLUB_RED_ACTIVE:
                poison_size = self.orig_size.get(obj, s.object_size)
        if s.flags & OBJECT_POISON:
            fill(obj, POISON_FREE, poison_size - 1)
            fill(obj + poison_size - 1, POISON_END, 1)
        if s.flags & SLAB_RED_ZONE:
            fill(obj + poison_size, val, s.inuse - poison_size)

    # -- reports -------------------------------------------------------------------

    def _taint(self) -> None:
        if "B" not in self.k.tainted:
            self.k.tainted += "B"

    def slab_bug(self, s, msg: str) -> list[str]:
        self.errors += 1
        lines = ["=" * 77, f"BUG {s.name} ({self.k.taint_string()}): {msg}", "-" * 77, ""]
        return lines

    def slab_fix(self, s, msg: str) -> str:
        return f"FIX {s.name}: {msg}"

    def _hexdump(self, label: str, addr: int, n: int) -> list[str]:
        """print_hex_dump(DUMP_PREFIX_ADDRESS, 16, 1, ascii)."""
        data = self._bytes(addr, n)
        out = []
        for i in range(0, n, 16):
            row = data[i:i + 16]
            hexpart = " ".join(f"{b:02x}" for b in row)
            asc = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
            out.append(f"{label}{addr + i:016x}: {hexpart:<49}{asc}")
        return out

    def _track_lines(self, s, obj: int) -> list[str]:
        if not s.flags & SLAB_STORE_USER:
            return []
        out = []
        now = self.k.clock.ns // 4_000_000                # jiffies at HZ=250
        t = self.tracks.get(obj)
        for i, what in enumerate(("Allocated", "Freed")):
            if t is not None and t[i] is not None:
                caller, cpu, pid, when = t[i]
                out.append(f"{what} in {caller} age={now - when} cpu={cpu} pid={pid}")
                out.append(f" {caller}")
        return out

    def _slab_info(self, slab) -> str:
        mm = self.k.mem_map
        flags = ["slab"] + (["head"] if slab.order else [])
        return (f"Slab 0x{self.k.virt_of_page(slab.pfn):016x} objects={slab.objects} used={slab.inuse} "
                f"fp=0x{slab.freelist:016x} flags=0x{_PG_SLAB_BIT | (_PG_HEAD_BIT if slab.order else 0):x}"
                f"({'|'.join(flags)}|node={slab.node}|zone={int(mm.zone[slab.pfn])})")

    def _dump_stack(self) -> list[str]:
        k = self.k
        return [f"{k.cpu_line()}",
                f"Hardware name: {k.hardware_name}", "Call Trace:", " <TASK>",
                " dump_stack_lvl+0x48/0x70", " </TASK>"]

    def print_trailer(self, s, slab, p: int) -> list[str]:
        out = self._track_lines(s, p)
        out.append(self._slab_info(slab))
        fp = self.slub.get_freepointer(s, p)
        out.append(f"Object 0x{p:016x} @offset={p - slab.addr} fp=0x{fp:016x}")
        out.append("")
        if s.flags & SLAB_RED_ZONE:
            out += self._hexdump("Redzone  ", p - s.red_left_pad, s.red_left_pad)
        elif p > slab.addr + 16:
            out += self._hexdump("Bytes b4 ", p - 16, 16)
        out += self._hexdump("Object   ", p, min(s.object_size, self.slub.page_size))
        if s.flags & SLAB_RED_ZONE:
            out += self._hexdump("Redzone  ", p + s.object_size, s.inuse - s.object_size)
        off = self._info_end(s)
        end = self._size_from_object(s)
        if off != end:
            out += self._hexdump("Padding  ", p + off, end - off)
        return out + self._dump_stack()

    def _info_end(self, s) -> int:
        off = s.offset + self.slub.ptr if s.offset >= s.inuse else s.inuse
        if s.flags & SLAB_STORE_USER:
            off += 2 * self.slub.track_size()
            if s.orig_size_tracked:
                off += 4
        return off

    def _size_from_object(self, s) -> int:
        return s.size - s.red_left_pad if s.flags & SLAB_RED_ZONE else s.size

    def object_err(self, s, slab, obj: int, reason: str) -> list[str]:
        out = self.slab_bug(s, reason) + self.print_trailer(s, slab, obj)
        self._taint()                                  # add_taint(TAINT_BAD_PAGE) after the report
        return out

    def slab_err(self, s, slab, msg: str) -> list[str]:
        out = self.slab_bug(s, msg) + [self._slab_info(slab)] + self._dump_stack()
        self._taint()
        return out

    def _log(self, lines: list[str]) -> str:
        text = "\n".join(lines)
        self.k.log.printk("err", text)
        return text

    # -- checks ------------------------------------------------------------------------

    def check_valid_pointer(self, s, slab, obj: int) -> bool:
        if not obj:
            return True
        base = slab.addr
        o = obj - s.red_left_pad
        return base <= o < base + slab.objects * s.size and (o - base) % s.size == 0

    def check_bytes(self, s, slab, obj: int, what: str, start: int, value: int, n: int,
                    out: list[str]) -> bool:
        """``check_bytes_and_report()``: report and restore bytes that are not ``value``."""
        if n <= 0:
            return True
        data = self._bytes(start, n)
        bad = [i for i, b in enumerate(data) if b != value]
        if not bad:
            return True
        first, last = bad[0], bad[-1]
        fault = start + first
        end = start + last + 1
        out += self.slab_bug(s, f"{what} overwritten")
        out.append(f"0x{fault:016x}-0x{end - 1:016x} @offset={fault - slab.addr}. "
                   f"First byte 0x{data[first]:x} instead of 0x{value:x}")
        out += self.print_trailer(s, slab, obj)
        self._taint()
        out.append(self.slab_fix(s, f"Restoring {what} 0x{fault:016x}-0x{end - 1:016x}=0x{value:x}"))
        self.slub.fill(fault, value, end - fault)
        return False

    def check_object(self, s, slab, obj: int, val: int, out: list[str]) -> bool:
        """``check_object()``: red zones, poison, padding, and a free object's pointer."""
        ok = True
        end = obj + s.object_size
        if s.flags & SLAB_RED_ZONE:
            ok &= self.check_bytes(s, slab, obj, "Left Redzone", obj - s.red_left_pad, val,
                                   s.red_left_pad, out)
            ok &= self.check_bytes(s, slab, obj, "Right Redzone", end, val, s.inuse - s.object_size, out)
            if s.orig_size_tracked and val == SLUB_RED_ACTIVE:
                orig = self.orig_size.get(obj, s.object_size)
                if s.object_size > orig:
                    ok &= self.check_bytes(s, slab, obj, "kmalloc Redzone", obj + orig, val,
                                           s.object_size - orig, out)
        elif s.flags & SLAB_POISON and s.object_size < s.inuse:
            ok &= self.check_bytes(s, slab, obj, "Alignment padding", end, POISON_INUSE,
                                   s.inuse - s.object_size, out)
        if s.flags & SLAB_POISON:
            if val != SLUB_RED_ACTIVE and s.flags & OBJECT_POISON:
                ok &= self.check_bytes(s, slab, obj, "Poison", obj, POISON_FREE, s.object_size - 1, out)
                ok &= self.check_bytes(s, slab, obj, "End Poison", end - 1, POISON_END, 1, out)
            off = self._info_end(s)
            ok &= self.check_bytes(s, slab, obj, "Object padding", obj + off, POISON_INUSE,
                                   self._size_from_object(s) - off, out)
        if s.offset < s.inuse and val == SLUB_RED_ACTIVE:
            return ok
        if not self.check_valid_pointer(s, slab, self.slub.get_freepointer(s, obj)):
            out += self.object_err(s, slab, obj, "Freepointer corrupt")
            self.slub.set_freepointer(s, obj, 0)
            ok = False
        return ok

    def on_freelist(self, s, slab, search: int, out: list[str]) -> bool:
        """``on_freelist()``: is ``search`` on the slab's freelist? Also repairs a
        corrupt chain and a wrong inuse count, reporting both."""
        fp = slab.freelist
        obj = 0
        nr = 0
        while fp and nr <= slab.objects:
            if fp == search:
                return True
            if not self.check_valid_pointer(s, slab, fp):
                if obj:
                    out += self.object_err(s, slab, obj, "Freechain corrupt")
                    self.slub.set_freepointer(s, obj, 0)
                else:
                    out += self.slab_err(s, slab, "Freepointer corrupt")
                    slab.freelist = 0
                    slab.inuse = slab.objects
                    out.append(self.slab_fix(s, "Freelist cleared"))
                    return False
                break
            obj = fp
            fp = self.slub.get_freepointer(s, obj)
            nr += 1
        if slab.inuse != slab.objects - nr:
            out += self.slab_err(s, slab, f"Wrong object count. Counter is {slab.inuse} but "
                                          f"counted were {slab.objects - nr}")
            slab.inuse = slab.objects - nr
            out.append(self.slab_fix(s, "Object count adjusted"))
        return search == 0

    # -- allocation and free (v6.2+ debug paths) ---------------------------------------

    def _track(self):
        k = self.k
        return (caller_name(), k.cpu, k.pid, k.clock.ns // 4_000_000)

    def get_orig_size(self, s, obj: int) -> int:
        """``get_orig_size()``: the size kmalloc() was asked for (6.1+, SLAB_STORE_USER
        kmalloc caches), else the object size."""
        return self.orig_size.get(obj, s.object_size) if s.orig_size_tracked else s.object_size

    def set_orig_size(self, s, obj: int, size: int) -> None:
        """``set_orig_size()`` (``skip_orig_size_check()`` sets it to object_size)."""
        if s.orig_size_tracked:
            self.orig_size[obj] = size

    def _partial_slab(self, s, nid: int, any_node: bool):
        """The slab ``get_partial()`` gives a debug cache: the head of this node's partial
        list, else another node's (``get_any_partial()``: one with more than min_partial)."""
        nodes = [nid] + ([i for i in range(len(s.node)) if i != nid and s.node[i].nr_partial > s.min_partial]
                         if any_node else [])
        for i in nodes:
            n = s.node[i]
            if n.partial:
                slab = next(iter(n.partial.values()))
                self.slub.remove_partial(n, slab)
                return slab
        return None

    def alloc(self, s, gfp: int, node: int, orig_size: int) -> int:
        """``alloc_single_from_partial()`` / ``alloc_single_from_new_slab()`` with
        ``alloc_debug_processing()``: one object straight from a node partial slab (or a
        new slab), checked; a slab whose free object is corrupted is marked all used
        ("Marking all objects used") and another one is tried."""
        slub = self.slub
        k = self.k
        nid = k.numa_node_id() if node < 0 else node
        orig_size = orig_size or s.object_size
        while True:
            slab = self._partial_slab(s, nid, node < 0 or not gfp & F_THISNODE)
            if slab is None:
                slab = slub.new_slab(s, gfp, node)
                if slab is None:
                    slub.slab_out_of_memory(s, gfp, nid)
                    return 0
            n = s.node[slab.node]
            obj = slab.freelist
            slab.freelist = slub.get_freepointer(s, obj)
            slab.inuse += 1
            out: list[str] = []
            if s.flags & SLAB_CONSISTENCY_CHECKS:
                if not self.check_valid_pointer(s, slab, obj):
                    out += self.object_err(s, slab, obj, "Freelist Pointer check fails")
                elif not self.check_object(s, slab, obj, SLUB_RED_INACTIVE, out):
                    pass
            tr = k.tracer
            if tr is not None:
                tr.leaf("alloc_debug_processing", "checks, red zones, poison" + (": failed" if out else ""))
            if out:
                out.append(self.slab_fix(s, "Marking all objects used"))
                self._log(out)
                slab.inuse = slab.objects
                slab.freelist = 0
                slub.add_full(s, n, slab)
                continue
            if s.orig_size_tracked:
                self.orig_size[obj] = orig_size
            if s.flags & SLAB_STORE_USER:
                self.tracks[obj] = [self._track(), None]
            self.init_object(s, obj, SLUB_RED_ACTIVE)
            if slab.inuse == slab.objects:
                slub.add_full(s, n, slab)
            else:
                slub.add_partial(n, slab, False)       # back at the head, as it was
            return obj

    def check_free(self, s, slab, obj: int, fn: str) -> None:
        """The checks of ``free_debug_processing()`` that need no repair (an object start,
        not already free), run before a caller changes anything (krealloc()). Raises the
        KernelBug free() would raise, with the same report."""
        if not s.flags & SLAB_CONSISTENCY_CHECKS:
            return
        out: list[str] = []
        if not self.check_valid_pointer(s, slab, obj):
            out += self.slab_err(s, slab, f"Invalid object pointer 0x{obj:016x}")
            reason = "not the start of an object"
        elif obj in self.free_set(s, slab):
            out += self.object_err(s, slab, obj, "Object already free")
            reason = "double free (object already free)"
        else:
            return
        out.append(self.slab_fix(s, f"Object at 0x{obj:016x} not freed"))
        text = self._log(out)
        raise KernelBug(f"{fn}({obj:#x}) in {s.name}: {reason}", text)

    def free(self, s, slab, obj: int, fn: str) -> None:
        """``free_to_partial_list()`` with ``free_debug_processing()``."""
        slub = self.slub
        if s.flags & SLAB_CONSISTENCY_CHECKS:
            out: list[str] = []
            if not self.check_valid_pointer(s, slab, obj):
                out += self.slab_err(s, slab, f"Invalid object pointer 0x{obj:016x}")
                reason = "not the start of an object"
            elif self.on_freelist(s, slab, obj, out):
                out += self.object_err(s, slab, obj, "Object already free")
                reason = "double free (object already free)"
            elif not self.check_object(s, slab, obj, SLUB_RED_ACTIVE, out):
                reason = "the object's guard bytes were overwritten"
            else:
                reason = ""
            if out:
                out.append(self.slab_fix(s, f"Object at 0x{obj:016x} not freed"))
                text = self._log(out)
                raise KernelBug(f"{fn}({obj:#x}) in {s.name}: {reason or 'slab corrupted'}", text)
        if s.flags & SLAB_STORE_USER:
            t = self.tracks.setdefault(obj, [None, None])
            t[1] = self._track()
        self.init_object(s, obj, SLUB_RED_INACTIVE)
        self.orig_size.pop(obj, None)
        n = s.node[slab.node]
        prior = slab.freelist
        slub.set_freepointer(s, obj, prior)
        slab.freelist = obj
        slab.inuse -= 1
        empty = slab.inuse == 0 and n.nr_partial >= s.min_partial
        if not prior:
            slub.remove_full(s, n, slab)
            if not empty:
                slub.add_partial(n, slab, True)
        elif empty:
            slub.remove_partial(n, slab)
        if empty:
            slub.discard_slab(s, slab)

    # -- validation and shutdown ----------------------------------------------------------

    def validate_cache(self, s) -> int:
        """``validate_slab_cache()``: check every slab on the partial and full lists."""
        slub = self.slub
        slub.flush_all(s)
        before = self.errors
        out: list[str] = []
        for n in s.node:
            for slab in list(n.partial.values()) + list(n.full.values()):
                if not self.on_freelist(s, slab, 0, out):
                    continue
                free = self.free_set(s, slab)
                for i in range(slab.objects):
                    p = slab.addr + s.red_left_pad + i * s.size
                    val = SLUB_RED_INACTIVE if p in free else SLUB_RED_ACTIVE
                    if not self.check_object(s, slab, p, val, out):
                        break
        if out:
            self._log(out)
        return self.errors - before

    def free_set(self, s, slab) -> set[int]:
        free = set()
        p = slab.freelist
        while p and len(free) <= slab.objects:
            free.add(p)
            p = self.slub.get_freepointer(s, p)
        return free

    def report_objects_remaining(self, s, slab) -> None:
        """``list_slab_objects()`` as ``__kmem_cache_shutdown()`` prints it."""
        out = self.slab_err(s, slab, f"Objects remaining in {s.name} on __kmem_cache_shutdown()")
        free = self.free_set(s, slab)
        for i in range(slab.objects):
            p = slab.addr + s.red_left_pad + i * s.size
            if p not in free:
                out.append(f"Object 0x{p:016x} @offset={p - slab.addr}")
                out += self._track_lines(s, p)
        self._log(out)
