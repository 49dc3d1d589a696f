"""Buddy-allocator exercises: the buddy of a pfn, merging on free, buddyinfo after a
sequence, whether an order-k allocation succeeds (mm/page_alloc.c).

Every answer is read off a booted ``tiny`` machine (16 MiB, one DMA zone: small enough
to show whole free lists): the buddy is the block whose free makes the model merge, the
merged block is what ``zone->free_area`` holds afterwards, the success is whether
``alloc_pages`` returned a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel import gfp as G
from .base import (Exercise, Part, Problem, exercise_machine, parse_bool, parse_int, register,
                   show_hex, show_yes_no)

if TYPE_CHECKING:
    from ..kernel.machine import Machine

__all__ = ["BuddyOfPfn", "BuddyMerge", "BuddyinfoAfter", "OrderAllocSucceeds"]

#: take every page, watermarks or not (the exercises build their own free-area states)
_DRAIN = int(G.GFP_KERNEL | G.__GFP_MEMALLOC | G.__GFP_NOWARN)
_TRY = int(G.GFP_KERNEL | G.__GFP_NOWARN)


def _drained(order: int = 0, seed: int = 0) -> tuple[Machine, list[int]]:
    """A tiny machine whose DMA zone is allocated entirely in order-``order`` blocks. The
    per-cpu page lists are off (``pcp=False``: each page goes straight to the buddy lists and
    back), so a free merges at once, as the exercises about buddy arithmetic ask."""
    m = exercise_machine("tiny", seed=seed, pcp=False)
    got = []
    while (pg := m.alloc_pages(_DRAIN, order)) is not None:
        got.append(pg.pfn)
    for o in range(order - 1, -1, -1):        # the remainder, so nothing is left free
        while m.alloc_pages(_DRAIN, o) is not None:
            pass
    return m, got


def free_block_of(m: Machine, pfn: int, zone: str = "DMA") -> tuple[int, int] | None:
    """(head pfn, order) of the free buddy block holding ``pfn``, or None (PageBuddy look-up)."""
    z = m.zone(zone)
    for o in range(m.NR_PAGE_ORDERS):
        head = pfn & ~((1 << o) - 1)
        if z.free_order(head) == o:
            return head, o
    return None


def _nr_free(m: Machine, zone: str = "DMA") -> tuple[int, ...]:
    z = m.zone(zone)
    return tuple(z.free_area[o].nr_free for o in range(m.NR_PAGE_ORDERS))


def _mistakes(right, pairs) -> dict:
    """Typical wrong values -> feedback, first message wins, never the right answer."""
    out: dict = {}
    for wrong, why in pairs:
        if wrong is not None and wrong != right and wrong not in out:
            out[wrong] = why
    return out


@register
class BuddyOfPfn(Exercise):
    name = "buddy-of-pfn"
    topic = "buddy allocator"
    description = "Which pfn is the buddy of a block at a given order (__find_buddy_pfn)."

    def build(self, rng):
        order = int(rng.integers(0, 8))
        m, blocks = _drained(order)
        # read the buddy off the model: free our block, then the others (in a random
        # order) until one free merges it: that one was its buddy
        for _ in range(20):
            pfn = int(blocks[int(rng.integers(len(blocks)))])
            snap = m.snapshot()
            m.free_pages(m.pfn_to_page(pfn), order)
            buddy = None
            for b in rng.permutation(len(blocks)):
                other = int(blocks[int(b)])
                if other == pfn:
                    continue
                m.free_pages(m.pfn_to_page(other), order)
                if m.zone("DMA").free_order(pfn) != order:
                    buddy = other
                    break
            m.restore(snap)
            if buddy is not None:
                break
        bit = 1 << order
        above = not pfn & bit
        pairs = [(pfn, "a block is not its own buddy"),
                 (pfn ^ (bit << 1), f"that is the buddy at order {order + 1}; at order {order} "
                                    f"the buddy differs in bit {order} (pfn ^ {bit:#x})")]
        if order:
            pairs.append((pfn ^ (bit >> 1), f"that is the buddy at order {order - 1}; at order "
                                            f"{order} the buddy differs in bit {order}"))
        if above:
            pairs.append((pfn - bit, f"bit {order} of {pfn:#x} is clear, so this block is the lower "
                                     f"half and its buddy lies above it: pfn + {bit:#x}"))
        else:
            pairs.append((pfn + bit, f"bit {order} of {pfn:#x} is set, so this block is the upper "
                                     f"half and its buddy lies below it: pfn - {bit:#x}"))
        pairs.append((pfn ^ order, f"xor with the order ({order}) itself, not with 1 << order "
                                   f"({bit:#x})"))
        q = (f"The buddy allocator frees the order-{order} block at pfn {pfn:#x} "
             f"({pfn}; {bit} page{'s' if bit > 1 else ''}).\n"
             f"__free_one_page() looks for its buddy: which pfn starts the buddy block?")
        part = Part("buddy", buddy, parse_int, _mistakes(buddy, pairs), show=show_hex,
                    what="a pfn, e.g. 0x1a40")
        return Problem(
            {"order": order, "pfn": f"{pfn:#x}"}, q, (part,),
            ("Two buddies of order k together form an aligned block of order k+1.",
             "So the buddy of the block at pfn differs from it in exactly one bit: bit k.",
             f"__find_buddy_pfn(pfn, order) = pfn ^ (1 << order); here 1 << {order} = {bit:#x}."),
            f"__find_buddy_pfn(): {pfn:#x} ^ (1 << {order}) = {buddy:#x}. Freeing the block at "
            f"{buddy:#x} on the model merged the two into the order-{order + 1} block at "
            f"{min(pfn, buddy):#x}.")


@register
class BuddyMerge(Exercise):
    name = "buddy-merge"
    topic = "buddy allocator"
    description = "Freeing a page merges it with free buddies: which block results?"

    def build(self, rng):
        n = int(rng.integers(3, 5))                       # a window of 8 or 16 pages
        m, pages = _drained(0)
        held = set(pages)
        size = 1 << n
        starts = [s for s in range(0, m.max_pfn, 2 * size) if all(p in held for p in range(s, s + 2 * size))]
        start = int(starts[int(rng.integers(len(starts)))]) + size * int(rng.integers(0, 2))
        window = list(range(start, start + size))
        target = window[int(rng.integers(size))]
        others = [p for p in window if p != target]
        nfree = int(rng.integers(size // 4, size))
        freed = sorted(int(p) for p in rng.choice(others, size=nfree, replace=False))
        for p in freed:
            m.free_pages(m.pfn_to_page(p), 0)
        before = {p: free_block_of(m, p) for p in freed}
        m.free_pages(m.pfn_to_page(target), 0)
        head, order = free_block_of(m, target)
        row = " ".join("F" if p in freed else ("X" if p == target else "A") for p in window)
        q = (f"On a machine whose pages are all allocated, the {size} pages at pfn "
             f"{start:#x}..{start + size - 1:#x} look like this (F free, A allocated, X the page "
             f"freed now;\nevery page outside this window stays allocated):\n\n"
             f"  {start:#x}: {row}\n\n"
             f"free_pages(page at pfn {target:#x}, order 0) runs. After all merging, which free "
             f"block holds pfn {target:#x}?\nGive its first pfn and its order.")
        pairs_pfn = [(target, f"{target:#x} would only be right with no merge at all: its order-0 "
                              f"buddy {target ^ 1:#x} is {'free' if target ^ 1 in freed else 'allocated'}")]
        pairs_order = []
        if order:
            lo = target & ~((1 << (order - 1)) - 1)
            pairs_pfn.append((lo, f"stopped one merge early: the order-{order - 1} buddy "
                                  f"{lo ^ (1 << (order - 1)):#x} is a free order-{order - 1} block too"))
            pairs_order.append((order - 1, f"stopped one merge early: the order-{order - 1} buddy "
                                           f"is free, so the block grows to order {order}"))
        pairs_order.append((0, "no merge at all? check the order-0 buddy pfn ^ 1"))
        if order < n:
            hi = target & ~((1 << (order + 1)) - 1)
            b = head ^ (1 << order)
            pairs_pfn.append((hi, f"merged once too often: the order-{order} buddy at {b:#x} is not "
                                  "a whole free block of that order"))
            pairs_order.append((order + 1, f"merged once too often: the order-{order} buddy at "
                                           f"{b:#x} is not entirely free"))
        parts = (Part("pfn", head, parse_int, _mistakes(head, pairs_pfn), show=show_hex,
                      what="first pfn of the merged block, e.g. 0x1a40"),
                 Part("order", order, parse_int, _mistakes(order, pairs_order),
                      what="its order (0 .. 10)"))
        steps = []
        p, o = target, 0
        while o < order:
            steps.append(f"order {o}: buddy {p ^ (1 << o):#x} is free -> merge into {p & ~(1 << o):#x} order {o + 1}")
            p &= ~(1 << o)
            o += 1
        steps.append(f"order {o}: buddy {p ^ (1 << o):#x} is not a free order-{o} block -> stop")
        return Problem(
            {"window": f"{start:#x}+{size}", "freed": len(freed), "page": f"{target:#x}"}, q, parts,
            ("A free block merges with its buddy (pfn ^ (1 << order)) only when the buddy is a "
             "free block of the same order.",
             "Start at order 0 with buddy pfn ^ 1; after each merge the block starts at "
             "pfn & ~(1 << order) and the order goes up by one.",
             "Write the merge chain: order 0 buddy, order 1 buddy, ... until a buddy is not free "
             "as a whole block."),
            "__free_one_page() merge chain:\n  " + "\n  ".join(steps) +
            f"\nResult: the free block at {head:#x} of order {order} (the freed pages formed "
            f"{len(set(before.values()))} free blocks before).")


@register
class BuddyinfoAfter(Exercise):
    name = "buddyinfo-after"
    topic = "buddy allocator"
    description = "/proc/buddyinfo after a sequence of alloc_pages / free_pages calls."

    def build(self, rng):
        m = exercise_machine("tiny", pcp=False)     # the buddy lists alone, as the question says
        z = m.zone("DMA")
        start = _nr_free(m)
        info = m.proc.buddyinfo().rstrip()
        lists = "\n".join(f"  free_area[{o:2d}]: " + (" ".join(f"{p:#x}" for p in sorted(z.free_area[o].free_list()))
                                                       or "-")
                          for o in range(m.NR_PAGE_ORDERS))
        ops, states, live = [], [start], []
        names = iter("ABCDEFGH")
        for _ in range(int(rng.integers(4, 7))):
            if live and rng.random() < 0.4:
                nm, pg, o = live.pop(int(rng.integers(len(live))))
                m.free_pages(pg, o)
                ops.append(f"free_pages({nm}, order={o})")
            else:
                o = int(rng.integers(0, 5))
                pg = m.alloc_pages(_TRY, o)
                nm = next(names)
                live.append((nm, pg, o))
                ops.append(f"{nm} = alloc_pages(GFP_KERNEL, order={o})   # returns pfn {pg.pfn:#x}")
            states.append(_nr_free(m))
        answer = states[-1]
        known = {}
        for i, st in enumerate(states[:-1]):
            if st != answer:
                known.setdefault(st, "that is the state before step 1 (nothing done yet)" if i == 0 else
                                 f"that is buddyinfo after step {i}; steps {i + 1}.. still change it")

        def judge(got):
            if got == answer:
                return True, "correct: " + " ".join(map(str, answer))
            if got in known:
                return False, known[got]
            diffs = [f"order {o}: you have {g}, the model {a}" for o, (g, a) in enumerate(zip(got, answer)) if g != a]
            return False, ("; ".join(diffs) + ". An allocation that splits an order-j block leaves "
                           "one free block at each order between k and j-1; a free merges only "
                           "with a free buddy of the same order")

        def parse(v):
            if isinstance(v, str):
                tail = v.split("zone", 1)[-1].split()
                v = [x for x in tail if x.isdigit()]
            vals = tuple(parse_int(x) for x in v)
            if len(vals) != m.NR_PAGE_ORDERS:
                raise ValueError(f"give {m.NR_PAGE_ORDERS} counts, orders 0..{m.NR_PAGE_ORDERS - 1}")
            return vals

        q = (f"A freshly booted 'tiny' machine (one zone, DMA). /proc/buddyinfo:\n\n"
             f"  {info}\n\n"
             f"The free blocks (first pfn of each) are:\n{lists}\n\n"
             f"These calls run, in order (the allocator takes the first block of the smallest "
             f"order that has one):\n\n" + "\n".join(f"  {i + 1}. {op}" for i, op in enumerate(ops)) +
             "\n\nWhat does /proc/buddyinfo show afterwards (the 11 counts, orders 0..10)?")
        part = Part("nr_free", answer, parse, judge=judge, show=lambda v: " ".join(map(str, v)),
                    what="11 numbers, a list like [1, 0, 2, ...] or the buddyinfo line")
        return Problem({"steps": len(ops)}, q, (part,),
                       ("Do one step at a time and keep the free lists written down.",
                        "alloc order k: take the smallest order j >= k with a block; its upper "
                        "halves go back at orders j-1, j-2, ..., k (one each).",
                        "free order k: merge with pfn ^ (1 << k) while that buddy is a free block "
                        "of the same order; count the merged block at its final order."),
                       "After each step:\n" + "\n".join(f"  {i}. {_line(st)}" for i, st in enumerate(states)))


def _line(counts) -> str:
    return "Node 0, zone      DMA " + "".join(f"{c:6d} " for c in counts)


@register
class OrderAllocSucceeds(Exercise):
    name = "order-alloc"
    topic = "buddy allocator"
    description = "Does an order-k GFP_KERNEL allocation succeed on a shown free-area state?"

    def build(self, rng):
        k = int(rng.integers(1, 6))
        m, pages = _drained(0)
        z = m.zone("DMA")
        wmin, wlow, whigh = z.watermark[:3]
        case = ("ok", "fragmented", "watermark")[int(rng.integers(3))]
        held = sorted(pages)
        half = len(held) // 2
        # isolated single pages from the lower half (every other pfn: no two are buddies),
        # whole aligned blocks from the upper half
        all_held = set(held)
        singles = [p for p in held[:half] if p % 2 == 0 and p + 1 in all_held]
        if case == "watermark":
            nsingle = int(rng.integers(max(1, wmin - 60), wmin - (1 << k)))
        else:
            nsingle = int(rng.integers(wmin + (1 << k), wmin + 200))
        for p in rng.choice(singles, size=nsingle, replace=False):
            m.free_pages(m.pfn_to_page(int(p)), 0)
        hset = set(held[half:])
        blk_order = {"ok": int(rng.integers(k, k + 3)), "fragmented": k - 1, "watermark": k}[case]
        nblocks = int(rng.integers(1, 4)) if case != "watermark" else 1
        size = 1 << blk_order
        starts = [s for s in range(held[half] & ~(2 * size - 1), held[-1], 2 * size)
                  if all(p in hset for p in range(s, s + 2 * size))]
        for s in rng.choice(starts, size=nblocks, replace=False):
            for p in range(int(s), int(s) + size):
                m.free_pages(m.pfn_to_page(p), 0)
        counts = _nr_free(m)
        free = z.nr_free_pages
        snap = m.snapshot()
        ok = m.alloc_pages(_TRY, k) is not None
        m.restore(snap)
        has_block = any(counts[o] for o in range(k, m.NR_PAGE_ORDERS))
        wm_ok = free - ((1 << k) - 1) > wmin
        if ok:
            why_wrong = (f"free_area[{min(o for o in range(k, m.NR_PAGE_ORDERS) if counts[o])}] has a block "
                         f"(split as needed), and {free} - ({1 << k} - 1) = {free - (1 << k) + 1} free "
                         f"pages stay above the min watermark {wmin}")
        elif not has_block:
            why_wrong = (f"{free} pages are free, but no free block has order >= {k}: the memory "
                         "is fragmented into smaller blocks")
        else:
            why_wrong = (f"a block of order >= {k} exists, but {free} - ({1 << k} - 1) = "
                         f"{free - (1 << k) + 1} is not above the min watermark {wmin}: "
                         "__zone_watermark_ok() refuses, and kmemlab has no reclaim")
        q = (f"A 'tiny' machine's only zone after a long run:\n\n  {_line(counts)}\n\n"
             f"  pages free {free}   watermarks: min {wmin}  low {wlow}  high {whigh}  "
             f"(lowmem_reserve 0)\n\n"
             f"Does alloc_pages(GFP_KERNEL, order={k}) succeed? (kmemlab has no reclaim or "
             "compaction: the slow path retries at the min watermark, then fails.)")
        part = Part("succeeds", ok, parse_bool, {not ok: why_wrong}, show=show_yes_no,
                    what="True if it returns a page, False if it fails")
        return Problem({"order": k}, q, (part,),
                       (f"Two conditions: a free block of order >= {k}, and enough free pages.",
                        "__zone_watermark_ok(): free_pages - (2^order - 1) must stay above the "
                        "watermark; the fast path wants low, the slow path settles for min.",
                        f"Look at buddyinfo columns {k}..10, then compute {free} - {(1 << k) - 1}."),
                       f"{'Succeeds' if ok else 'Fails'}: block of order >= {k}: "
                       f"{'yes' if has_block else 'no'}; {free} - {(1 << k) - 1} > min {wmin}: "
                       f"{'yes' if wm_ok else 'no'}.")
