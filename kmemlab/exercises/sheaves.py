"""SLUB sheaves exercise (7.0, mm/slub.c ``free_to_pcs()`` / ``__pcs_replace_full_main()``):
after a run of frees on one CPU, how many objects are in its main and spare sheaves and
how many full sheaves does the node's barn hold.

The answer comes from the model: the scenario runs on a 7.0 machine and the CPU's
``slub_percpu_sheaves`` and the node's ``node_barn`` are read afterwards.
"""

from __future__ import annotations

from .base import Exercise, Part, Problem, exercise_machine, parse_int, register
from .buddy import _mistakes

__all__ = ["SheafState"]

#: 1 KiB objects: calculate_sheaf_capacity() gives 12 (so the numbers stay small)
OBJ_SIZE = 1024


@register
class SheafState(Exercise):
    name = "sheaf-state"
    topic = "slab allocator"
    description = "7.0 sheaves: after N frees on one CPU, what is in its main and spare sheaves and the barn?"

    def build(self, rng):
        m = exercise_machine("x86_64", kernel="7.0", cpus=2, seed=self.seed)
        c = m.kmem_cache_create("ex_obj", OBJ_SIZE)
        cap = c.sheaf_capacity
        frees = int(rng.integers(cap + 2, cap * 9))
        with m.on_cpu(0):
            objs = [m.kmem_cache_alloc(c) for _ in range(frees)]
        pcs, barn = c.cpu_sheaves[1], c.node[0].barn
        assert pcs.main.size == 0 and pcs.spare is None and barn.nr_full == 0
        with m.on_cpu(1):
            for p in objs:
                m.kmem_cache_free(c, p)
        main = pcs.main.size
        spare = pcs.spare.size if pcs.spare is not None else 0
        full = barn.nr_full
        assert main + spare + full * cap == frees           # nothing flushed below 10 full sheaves
        naive_main = frees % cap
        main_pairs = [(naive_main, f"a full main sheaf is replaced *before* the object goes in "
                                   f"(free_to_pcs() checks main->size == capacity first): after a "
                                   f"multiple of {cap} frees main holds {cap}, not 0"),
                      (min(frees, cap), "main is swapped for an empty sheaf each time it is full"),
                      (frees, f"a sheaf holds at most sheaf_capacity = {cap} objects")]
        spare_pairs = [(0, "the first full main becomes the spare (__pcs_install_empty_sheaf(): no "
                           "spare yet)"),
                       (main, "the spare is the full sheaf, not a copy of main")]
        full_pairs = [(full + 1, "the spare stays on the CPU; only full mains after that go to the barn"),
                      (frees // cap, f"two full sheaves stay on the CPU (main and spare); count the barn's only"),
                      (max(full - 1, 0), "each full main that meets a full spare goes to the barn")]
        parts = (Part("main", main, parse_int, _mistakes(main, main_pairs),
                      what="objects in CPU 1's main sheaf"),
                 Part("spare", spare, parse_int, _mistakes(spare, spare_pairs),
                      what="objects in CPU 1's spare sheaf (0 if it has none)"),
                 Part("barn_full", full, parse_int, _mistakes(full, full_pairs),
                      what="full sheaves in node 0's barn"))
        q = (f"On x86_64 with kernel 7.0 and 2 CPUs, a cache of {OBJ_SIZE}-byte objects has "
             f"sheaf_capacity {cap}. CPU 0 allocates {frees} objects; then CPU 1, whose main sheaf "
             f"is empty and which has no spare, frees all {frees}. The barn starts empty and every "
             "sheaf allocation succeeds.\nHow many objects are in CPU 1's main sheaf, how many in its "
             "spare sheaf, and how many full sheaves are in the barn?")
        return Problem({"frees": frees, "capacity": cap}, q, parts,
                       ("free_to_pcs(): if main holds sheaf_capacity objects, __pcs_replace_full_main() "
                        "first, then the object goes into main.",
                        "With no spare, the full main becomes the spare and an empty sheaf the main. "
                        "With a full spare, the full main goes to the barn (up to MAX_FULL_SHEAVES = 10).",
                        f"main = ((frees - 1) mod {cap}) + 1; spare = {cap} once more than {cap} frees; "
                        f"the barn gets one full sheaf per {cap} frees after the first {2 * cap}."),
                       f"The first {cap} frees fill main; free {cap + 1} makes it the spare. Every further "
                       f"{cap} frees fill main again and push it to the barn: "
                       f"{frees} = {full} x {cap} (barn) + {spare} (spare) + {main} (main).")
