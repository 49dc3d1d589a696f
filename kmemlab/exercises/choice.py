"""Judgement exercises: kmalloc, vmalloc or kvmalloc for a scenario; which zone a GFP
mask's pages come from; a zone's watermarks (include/linux/gfp.h, mm/page_alloc.c,
mm/util.c kvmalloc_node()).

The model settles each one: whether kmalloc() of the size fails on the machine, the
zone of the page ``alloc_pages`` returned, the watermarks the boot computed.
"""

from __future__ import annotations

from ..kernel import gfp as G
from ..kernel.helpers import for_each_zone, min_free_kbytes, zone_managed_pages
from .base import Exercise, Part, Problem, exercise_machine, parse_int, register
from .buddy import _mistakes

__all__ = ["ChooseAllocator", "GfpZone", "Watermarks"]

_CHOICES = ("kmalloc", "vmalloc", "kvmalloc")
#: the reason a scenario needs its allocator, and words that show a student saw it
_REASONS = {
    "small": ("kmalloc", ("small", "slab", "cache", "fast")),
    "dma": ("kmalloc", ("physical", "contiguous", "dma", "device", "hardware")),
    "atomic": ("kmalloc", ("atomic", "sleep", "interrupt", "irq", "gfp_atomic")),
    "huge": ("vmalloc", ("max", "too large", "too big", "4 mib", "4mib", "order", "contiguous", "fragment")),
    "maybe": ("kvmalloc", ("fall", "fallback", "try", "either", "both", "fragment", "sometimes")),
}


def _parse_choice(v) -> str:
    s = str(v).strip().lower().rstrip("()")
    if s not in _CHOICES:
        raise ValueError("answer 'kmalloc', 'vmalloc' or 'kvmalloc'")
    return s


@register
class ChooseAllocator(Exercise):
    name = "choose-allocator"
    topic = "kmalloc vs vmalloc"
    description = "Choose kmalloc, vmalloc or kvmalloc for a scenario and justify it."

    def build(self, rng):
        reason = tuple(_REASONS)[int(rng.integers(len(_REASONS)))]
        m = exercise_machine("x86_64", mem="1G", seed=self.seed)
        size = {"small": int(rng.integers(16, 512)),
                "dma": int(rng.integers(16, 256)) * 1024,
                "atomic": int(rng.integers(1, 32)) * 1024,
                "huge": int(rng.integers(5, 64)) << 20,
                "maybe": int(rng.integers(2, 64)) * 4096}[reason]
        story = {
            "small": f"a {size}-byte struct for each open file of a driver, allocated in process context",
            "dma": f"a {size // 1024} KiB receive buffer that a network card writes into by DMA",
            "atomic": f"a {size // 1024} KiB scratch buffer allocated inside an interrupt handler",
            "huge": f"a {size >> 20} MiB hash table for a module, built once at load time; only the CPU touches it",
            "maybe": f"a table of {size} bytes, usually a few pages but it grows with the user's input; "
                     "only the CPU touches it, process context",
        }[reason]
        # the model decides what is mechanical: can kmalloc serve the size at all?
        p = m.kmalloc(size, int(G.GFP_KERNEL) | G.F_NOWARN)
        kmalloc_ok = bool(p)
        answer, words = _REASONS[reason]
        assert kmalloc_ok == (reason != "huge"), (reason, size)
        why_not = {
            "kmalloc": {"huge": f"kmalloc({size}) returns NULL: above KMALLOC_MAX_SIZE (order {m.NR_PAGE_ORDERS - 1}, "
                                f"{(4096 << (m.NR_PAGE_ORDERS - 1)) >> 20} MiB) no physically contiguous block exists",
                        "maybe": "kmalloc alone can fail for the large sizes on a fragmented machine; "
                                 "nothing needs physical contiguity here"},
            "vmalloc": {"small": "vmalloc maps whole pages and a vmap area per call: a small object "
                                 "belongs in a slab cache",
                        "dma": "vmalloc memory is contiguous only virtually; a device doing DMA needs "
                               "physically contiguous memory (or a scatter list)",
                        "atomic": "vmalloc may sleep (it allocates page tables with GFP_KERNEL); "
                                  "an interrupt handler cannot sleep",
                        "maybe": "vmalloc for the usual few-page case wastes page-table work; "
                                 "kvmalloc tries kmalloc first"},
            "kvmalloc": {"small": "kvmalloc would work but a small object never needs the "
                                  "vmalloc fallback: plain kmalloc",
                         "dma": "kvmalloc may fall back to vmalloc, which is not physically contiguous",
                         "atomic": "kvmalloc can never use its vmalloc fallback in an "
                                   "interrupt handler (vmalloc cannot run in atomic context): say kmalloc",
                         "huge": "kvmalloc would try kmalloc first in vain; vmalloc says what you mean"},
        }
        mistakes = {c: why_not[c].get(reason, "") for c in _CHOICES if c != answer}

        def judge_why(text: str):
            low = text.lower()
            hit = [w for w in words if w in low]
            # a sentence that names every scenario's reason ("small, DMA, atomic, too big,
            # fallback") has not chosen one: no credit, so keyword stuffing does not pay
            others = {r for r, (_, ws) in _REASONS.items() if r != reason
                      and any(w in low for w in ws if w not in words)}
            if hit and len(others) >= 2:
                return False, ("the justification names the reasons of several other "
                               "scenarios too; give the one reason that decides this one")
            if hit:
                return True, f"the justification names the reason ({hit[0]!r})"
            return False, ("the justification should say why: " + {
                "small": "a small object is served from a slab cache",
                "dma": "DMA needs physically contiguous memory",
                "atomic": "the context cannot sleep (atomic / interrupt)",
                "huge": "it is larger than kmalloc can give (KMALLOC_MAX_SIZE / MAX_ORDER)",
                "maybe": "it falls back to vmalloc when kmalloc fails",
            }[reason])

        def parse_why(v):
            if not isinstance(v, str) or len(v.split()) < 2:
                raise ValueError("write a short sentence")
            return v

        because = {
            "small": "a small object comes from a kmalloc slab cache",
            "dma": "DMA needs physically contiguous memory, which vmalloc does not give",
            "atomic": "an interrupt handler cannot sleep; kmalloc(GFP_ATOMIC) does not",
            "huge": f"kmalloc({size}) fails on the model: larger than KMALLOC_MAX_SIZE",
            "maybe": "kmalloc for the common small case, vmalloc fallback when large or fragmented",
        }[reason]
        parts = (Part("choice", answer, _parse_choice, mistakes,
                      what="'kmalloc', 'vmalloc' or 'kvmalloc'"),
                 Part("why", because, parse_why, judge=judge_why,
                      what="one sentence: why this allocator"))
        q = (f"A driver needs {story}.\nWhich allocator should it call, and why (one sentence)?")
        return Problem({"scenario": reason, "size": size}, q, parts,
                       ("Ask three questions: can the caller sleep? does hardware see the memory? "
                        "how large can it get?",
                        "kmalloc: physically contiguous, any context with GFP_ATOMIC, up to "
                        "KMALLOC_MAX_SIZE. vmalloc: only virtually contiguous, may sleep, any size.",
                        "kvmalloc (mm/util.c) tries kmalloc and falls back to vmalloc: for CPU-only "
                        "memory whose size varies."),
                       f"{answer}: {because}")


_CONFIGS = (("x86_64", "128M"), ("x86_64", "8G"), ("i386", "1G"))
_GFPS = {"GFP_KERNEL": G.GFP_KERNEL, "GFP_DMA": G.GFP_DMA, "GFP_DMA32": G.GFP_DMA32,
         "GFP_HIGHUSER_MOVABLE": G.GFP_HIGHUSER_MOVABLE, "GFP_USER": G.GFP_USER}


@register
class GfpZone(Exercise):
    name = "gfp-zone"
    topic = "zones and GFP"
    description = "Which zone the page of alloc_pages(gfp) comes from on a given machine."

    def build(self, rng):
        profile, mem = _CONFIGS[int(rng.integers(len(_CONFIGS)))]
        names = [n for n in _GFPS if not (profile == "i386" and n == "GFP_DMA32")]
        gname = names[int(rng.integers(len(names)))]
        m = exercise_machine(profile, mem=mem, seed=self.seed)
        zones = [z for z in for_each_zone(m) if zone_managed_pages(z)]
        page = m.alloc_pages(_GFPS[gname], 0)
        zone = page.zone
        highest = G.gfp_zone(int(_GFPS[gname]), m.profile)
        pairs = [(highest, f"{highest} is the highest zone {gname} may use (gfp_zone()); this "
                           f"machine has no {highest} memory, so the zonelist falls back to {zone}"),
                 ("HighMem", f"{gname} has no __GFP_HIGHMEM: the kernel needs a permanent "
                             "direct-map address for this page"),
                 ("DMA", "__GFP_DMA is not set: ZONE_DMA (the first 16 MiB) is used only as the "
                         "last fallback"),
                 ("DMA32", f"{gname} may use the zones above DMA32, and one has free memory")]
        part = Part("zone", zone, lambda v: {z.lower(): z for z in ("DMA", "DMA32", "Normal", "HighMem")}
                    .get(str(v).strip().removeprefix("ZONE_").lower()) or _bad_zone(v),
                    _mistakes(zone, pairs), what="'DMA', 'DMA32', 'Normal' or 'HighMem'")
        zl = "\n".join(f"  {z.name:<8} pfn {z.zone_start_pfn:#x}-{z.zone_end_pfn:#x}  managed {z.managed_pages}"
                       for z in zones)
        q = (f"A {profile} machine with {mem} of RAM has these populated zones:\n{zl}\n\n"
             f"alloc_pages({gname}, 0) returns a page. Which zone is it in?")
        return Problem({"profile": profile, "mem": mem, "gfp": gname}, q, (part,),
                       ("gfp_zone() gives the highest zone the mask allows: __GFP_DMA -> DMA, "
                        "__GFP_DMA32 -> DMA32, __GFP_HIGHMEM -> HighMem (if it exists), else Normal.",
                        "The zonelist tries that zone first, then the lower ones (Normal -> DMA32 -> DMA).",
                        "An empty zone is skipped; a zone with plenty of free pages serves the request."),
                       f"gfp_zone({gname}) = {highest}; the first populated zone with free memory "
                       f"from there down is {zone} (the model's page is at pfn {page.pfn:#x}).")


def _bad_zone(v):
    raise ValueError(f"{v!r} is not a zone: answer 'DMA', 'DMA32', 'Normal' or 'HighMem'")


@register
class Watermarks(Exercise):
    name = "watermarks"
    topic = "zones and GFP"
    description = "min_free_kbytes and a zone's min/low watermarks from its managed pages."

    def build(self, rng):
        mem = f"{int(rng.integers(2, 64)) * 32}M"
        # transparent_hugepage=never: khugepaged would raise min_free_kbytes (set_recommended_min_free_kbytes())
        m = exercise_machine("x86_64", mem=mem, seed=self.seed, transparent_hugepage="never")
        zones = [z for z in for_each_zone(m) if zone_managed_pages(z)]
        z = zones[-1]
        lowmem = sum(x.managed_pages for x in zones)
        mfk = min_free_kbytes(m)
        wmin, wlow = z.watermark[0], z.watermark[1]
        pages_min = mfk >> 2
        mfk_pairs = [(int((m.totalram_pages * 4 * 16) ** 0.5), "use the managed (lowmem) pages, not all of RAM"),
                     (int((lowmem * 4) ** 0.5), "min_free_kbytes = int_sqrt(lowmem_kbytes * 16)"),
                     (lowmem * 4 // 16, "a square root, not a division: int_sqrt(lowmem_kbytes * 16)")]
        low_pairs = [(wmin + wmin // 4, f"and at least managed * 10 / 10000 = {z.managed_pages * 10 // 10000} "
                                        "(watermark_scale_factor): low = min + max(min / 4, that)"),
                     (wmin + z.managed_pages * 10 // 10000, f"and at least min / 4 = {wmin // 4}: "
                                                            "low = min + max(min / 4, managed * 10 / 10000)"),
                     (wmin, "that is the min watermark"),
                     (pages_min, "that is min_free_kbytes in pages for all zones; each zone gets its "
                                 "share: pages_min * managed / lowmem_pages")]
        parts = (Part("min_free_kbytes", mfk, parse_int, _mistakes(mfk, mfk_pairs),
                      what="vm.min_free_kbytes, in KiB"),
                 Part("min", wmin, parse_int, _mistakes(wmin, [(pages_min, low_pairs[-1][1])]),
                      what=f"the {z.name} zone's min watermark, in pages"),
                 Part("low", wlow, parse_int, _mistakes(wlow, low_pairs),
                      what=f"the {z.name} zone's low watermark, in pages"))
        zl = "\n".join(f"  {x.name:<6} managed {x.managed_pages} pages" for x in zones)
        q = (f"An x86_64 machine (kernel 6.6, 4 KiB pages) with {mem} of RAM, booted with "
             f"transparent_hugepage=never (so khugepaged does not raise min_free_kbytes); its zones:\n{zl}\n\n"
             f"Compute vm.min_free_kbytes, then the {z.name} zone's min and low watermarks.")
        return Problem({"mem": mem, "zone": z.name}, q, parts,
                       ("calculate_min_free_kbytes(): int_sqrt(lowmem_kbytes * 16), clamped to "
                        "128 .. 262144 (lowmem = managed pages of the non-HighMem zones).",
                        "__setup_per_zone_wmarks(): pages_min = min_free_kbytes / 4; each zone's min is "
                        "pages_min * zone managed / lowmem managed (rounded down).",
                        "low = min + max(min / 4, managed * watermark_scale_factor(10) / 10000)."),
                       f"lowmem = {lowmem} pages = {lowmem * 4} KiB; int_sqrt({lowmem * 4 * 16}) = {mfk}; "
                       f"pages_min = {pages_min}; min = {pages_min} * {z.managed_pages} / {lowmem} = {wmin}; "
                       f"low = {wmin} + max({wmin // 4}, {z.managed_pages * 10 // 10000}) = {wlow}.")
