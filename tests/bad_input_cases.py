"""Bad input on every public function, with what kmemlab does about it.

One table serves twice: tests/test_bad_input.py checks every row against the model, and
`python tests/bad_input_cases.py > docs/bad-input.md` writes the table in the docs (a test
checks the committed file is up to date). Outcomes:

- ``TypeError`` / ``ValueError``: Python misuse; the message says what to pass.
- ``KernelBug`` / ``KernelOops``: what the real kernel would BUG or oops on; the report is in dmesg.
- ``NULL`` / ``None``: a C-style failure (``km.NULL`` or ``None``), logged unless ``__GFP_NOWARN``.
- ``no-op``: the kernel ignores it too (``kfree(NULL)``).
- ``WARN``: the kernel warns in dmesg and carries on.
- ``corrupts``: the kernel does not check this either; the damage is the kernel's (a lesson).
- ``silent``: a correct call (or one the kernel lets through): it works and nothing is logged.
- ``SlabCtorError``: a cache's constructor raised; the error names the cache.

Unless the outcome is ``corrupts`` or a successful call, the machine's state afterwards is
exactly what it was before (except the log).
"""

from __future__ import annotations

import numpy as np

import kmemlab as km

G = km.GFP_KERNEL
NOWARN = km.__GFP_NOWARN
PAGE = 4096


def _freed_page(m):
    a = m.get_free_pages(G, 1)
    m.free_pages(a, 1)
    return a


def _freed_pcp_page(m):
    pg = m.alloc_pages(G, 0)
    m.free_pages(pg, 0)                  # an order-0 page: onto the CPU's per-cpu list
    return pg


def _freed_vmalloc(m):
    v = m.vmalloc(PAGE)
    m.vfree(v)
    return v


def _written(m, size, n):
    p = m.kmalloc(size)
    m.write(p, b"x" * n)
    return p


def _shrunk_and_freed(m, p):
    q = m.krealloc(p, 50)
    assert q == p                   # it still fits: the same object
    m.kfree(q)


def _ctor_raises(m):
    return m.kmem_cache_create("boom", 72, ctor=lambda addr: 1 // 0)


#: SLUB, kmalloc, krealloc and kmem_cache_* (mm/slub.c, mm/slab_common.c). ``silent``: the
#: call works and the kernel prints nothing (the state changes as the call says).
SLUB_CASES = [
    ("kfree", "(void *)-1", None, lambda m, x: m.kfree(-1), "KernelBug",
     "not NULL: ZERO_OR_NULL_PTR() only covers addresses up to 16; virt_to_page() of it BUGs "
     "(CONFIG_DEBUG_VIRTUAL: arch/x86/mm/physaddr.c)"),
    ("kfree", "ERR_PTR(-ENOMEM)", None, lambda m, x: m.kfree(km.ERR_PTR(-km.ENOMEM)), "KernelBug",
     "an error pointer is a pointer to the kernel: the same BUG"),
    ("kfree", "an object freed already (slub_debug=F)", lambda m: (lambda p: (m.kfree(p), p)[1])(m.kmalloc(64)),
     lambda m, x: m.kfree(x), "KernelBug", "\"Object already free\", the object is not freed again",
     {"slub_debug": "F"}),
    ("kfree", "an alloc_pages() page that is not compound (4.5)",
     lambda m: m.page_address(m.alloc_pages(G, 0)), lambda m, x: m.kfree(x), "KernelBug",
     "4.5 .. 5.13: BUG_ON(!PageCompound(page)) in kfree()", {"kernel": "4.5"}),
    ("ksize", "(void *)-1", None, lambda m, x: m.ksize(-1), "KernelBug", "virt_to_folio() of a bad pointer"),
    ("krealloc", "(void *)-1", None, lambda m, x: m.krealloc(-1, 64), "KernelBug",
     "not NULL, so not kmalloc(): refused before anything is allocated"),
    ("krealloc", "a pointer that was never allocated (a free page)", _freed_page,
     lambda m, x: m.krealloc(x, 64), "KernelBug",
     "the kfree() at its end would be a bad page: refused before anything is allocated"),
    ("krealloc", "an object freed already (slub_debug=F)", lambda m: (lambda p: (m.kfree(p), p)[1])(m.kmalloc(64)),
     lambda m, x: m.krealloc(x, 200), "KernelBug", "\"Object already free\", before the new object is allocated",
     {"slub_debug": "F"}),
    ("krealloc", "kmalloc(100), 100 bytes written, shrunk to 50, kfree (slub_debug=FZPU, 6.18)",
     lambda m: _written(m, 100, 100), _shrunk_and_freed, "silent",
     "6.13+: __do_krealloc() sets orig_size to 50 and paints bytes 50.. as the kmalloc red zone again",
     {"slub_debug": "FZPU"}),
    ("krealloc", "the same on 6.12 (slub_debug=FZPU)", lambda m: _written(m, 100, 100), _shrunk_and_freed,
     "silent", "before 6.13: ksize() turned the kmalloc red zone check off (skip_orig_size_check())",
     {"slub_debug": "FZPU", "kernel": "6.12"}),
    ("krealloc", "the same on 6.6 (slub_debug=FZPU)", lambda m: _written(m, 100, 100), _shrunk_and_freed,
     "silent", "", {"slub_debug": "FZPU", "kernel": "6.6"}),
    ("kmalloc", "__GFP_DMA | __GFP_HIGHMEM (a new slab)", None,
     lambda m, x: m.kmalloc(64, G | km.__GFP_DMA | km.__GFP_HIGHMEM), "WARN",
     "kmalloc_type() picks dma-kmalloc-64; new_slab() -> kmalloc_fix_flags(): \"Unexpected gfp: 0x2 "
     "(__GFP_HIGHMEM). Fixing up to gfp: ... Fix your code!\", then it allocates"),
    ("kmalloc", "__GFP_DMA | __GFP_HIGHMEM (the CPU freelist has objects)",
     lambda m: m.kfree(m.kmalloc(64, G | km.__GFP_DMA)),
     lambda m, x: m.kmalloc(64, G | km.__GFP_DMA | km.__GFP_HIGHMEM), "silent",
     "the fast path looks at no zone bits, in the kernel either: only a new slab checks them"),
    ("kmalloc", "__GFP_HIGHMEM (4.5)", None, lambda m, x: m.kmalloc(64, G | km.__GFP_HIGHMEM), "KernelBug",
     "4.5 .. 4.7: new_slab() printed \"gfp: 2\" and BUG()ed (only a new slab checks: a pristine "
     "machine's kmalloc-64 has none)", {"kernel": "4.5", "boot": "bare"}),
    ("kmem_cache_destroy", "a kmalloc cache", None, lambda m, x: m.kmem_cache_destroy(m.find_cache("kmalloc-64")),
     "KernelBug", "the kernel does not check it (kmalloc_caches[] would point at a destroyed cache); "
     "kmemlab refuses"),
    ("kmem_cache_destroy", "a kmem_buckets cache (6.11+)", None,
     lambda m, x: m.kmem_cache_destroy(m.find_cache("memdup_user-64")), "KernelBug",
     "memdup_user() keeps pointing at it"),
    ("kmem_cache_alloc", "a cache whose constructor raises", _ctor_raises,
     lambda m, x: m.kmem_cache_alloc(x), "SlabCtorError",
     "C constructors cannot fail: the ctor's exception is the error's __cause__, the cache and the "
     "pages are as they were"),
    ("kmem_cache_alloc", "a destroyed cache", lambda m: (lambda c: (m.kmem_cache_destroy(c), c)[1])(
        m.kmem_cache_create("gone", 64)), lambda m, x: m.kmem_cache_alloc(x), "ValueError",
     "in C a use after free of the struct kmem_cache"),
    ("kmem_cache_create", "size 0", None, lambda m, x: m.kmem_cache_create("empty", 0), "None",
     "\"kmem_cache_create(empty) integrity check failed\", NULL"),
]

#: (function, what is passed, setup(m) -> x or None, call(m, x), outcome, kernel behaviour / note
#:  [, Machine keyword arguments])
CASES = [
    # sizes and numbers
    ("kmalloc", "a string size", None, lambda m, x: m.kmalloc("100"), "TypeError", ""),
    ("kmalloc", "a float size", None, lambda m, x: m.kmalloc(100.0), "TypeError", ""),
    ("kmalloc", "a bool size", None, lambda m, x: m.kmalloc(True), "TypeError", ""),
    ("kmalloc", "a negative size", None, lambda m, x: m.kmalloc(-1), "ValueError",
     "size_t cannot be negative"),
    ("kmalloc", "a numpy integer size", lambda m: m.kmalloc(np.int64(100)),
     lambda m, x: m.kfree(x), "ok",
     "numpy integers are accepted everywhere"),
    ("kmalloc", "size 0", None, lambda m, x: m.kmalloc(0), "ZERO_SIZE_PTR", "as the kernel: ((void *)16)"),
    ("kmalloc", "size 2**64", None, lambda m, x: m.kmalloc(2**64), "ValueError", "does not fit in size_t"),
    ("kmalloc", "64 MiB (above the largest buddy block)", None, lambda m, x: m.kmalloc(64 << 20), "NULL",
     "WARN in __alloc_pages (order > MAX_ORDER), NULL"),
    ("kmalloc", "flags that are not a GFP mask", None, lambda m, x: m.kmalloc(64, "GFP_KERNEL"), "TypeError", ""),
    ("kmalloc", "undefined GFP bits", None, lambda m, x: m.kmalloc(64, 1 << 30), "ValueError", ""),
    ("kcalloc", "n * size overflowing size_t", None, lambda m, x: m.kcalloc(2**40, 2**40), "NULL",
     "kmalloc_array(): check_mul_overflow() -> NULL"),
    ("alloc_pages", "order 11", None, lambda m, x: m.alloc_pages(G, 11), "None",
     "WARN_ON_ONCE(order > MAX_ORDER), NULL without a report"),
    ("alloc_pages", "order -1", None, lambda m, x: m.alloc_pages(G, -1), "ValueError", ""),
    ("alloc_pages_node", "a node that does not exist", None, lambda m, x: m.alloc_pages_node(5, G, 0), "ValueError", ""),
    ("vmalloc", "size 0", None, lambda m, x: m.vmalloc(0), "NULL", "WARN_ON_ONCE(!size) in 6.x"),
    ("vmalloc", "more than totalram", None, lambda m, x: m.vmalloc(1 << 40), "NULL",
     "\"vmalloc error: size ..., exceeds total pages\""),
    ("vmalloc", "a string size", None, lambda m, x: m.vmalloc("1M"), "TypeError", ""),
    # frees
    ("kfree", "NULL", None, lambda m, x: m.kfree(km.NULL), "no-op", "kfree(NULL) is allowed"),
    ("kfree", "ZERO_SIZE_PTR", None, lambda m, x: m.kfree(km.ZERO_SIZE_PTR), "no-op", ""),
    ("kfree", "a vmalloc address", lambda m: m.vmalloc(PAGE),
     lambda m, x: m.kfree(x), "KernelBug",
     "virt_to_page() of a non-direct-map address: kernel BUG at arch/x86/mm/physaddr.c"),
    ("kfree", "a pointer into the middle of an object (no slub_debug)", lambda m: m.kmalloc(64) + 8,
     lambda m, x: m.kfree(x), "corrupts",
     "as in the kernel: nothing checks it, the bad pointer joins the freelist and the next kmalloc(64) returns it"),
    ("kfree", "a pointer into the middle of an object (slub_debug=F)", lambda m: m.kmalloc(64) + 8,
     lambda m, x: m.kfree(x), "KernelBug", "SLUB: Invalid object pointer", {"slub_debug": "F"}),
    ("kfree", "an alloc_pages() page that is not compound",
     lambda m: m.page_address(m.alloc_pages(G, 0)),
     lambda m, x: m.kfree(x), "WARN",
     "6.x free_large_kmalloc() WARNs for order 0 and frees it"),
    ("vfree", "a kmalloc address", lambda m: m.kmalloc(64),
     lambda m, x: m.vfree(x), "KernelBug",
     "\"Trying to vfree() nonexistent vm area\""),
    ("vfree", "an address vfree()d already", _freed_vmalloc,
     lambda m, x: m.vfree(x), "KernelBug",
     "\"Trying to vfree() nonexistent vm area\""),
    ("vfree", "NULL", None, lambda m, x: m.vfree(km.NULL), "no-op", ""),
    ("free_pages", "a block freed already", _freed_page,
     lambda m, x: m.free_pages(x, 1),
     "KernelBug", "BUG: Bad page state"),
    ("free_pages", "the wrong order", lambda m: m.alloc_pages(G, 3),
     lambda m, x: m.free_pages(x, 2), "KernelBug",
     "BUG: Bad page state"),
    ("free_pages", "None (a failed alloc_pages)", None, lambda m, x: m.free_pages(None, 0), "TypeError", ""),
    # the page allocator's refusals (free_page_is_bad(), put_page_testzero(); kmemlab
    # reports them as a CONFIG_DEBUG_VM kernel does, before anything changes)
    ("free_pages", "a slab page (virt_to_page() of a kmalloc object)", lambda m: m.virt_to_page(m.kmalloc(64)),
     lambda m, x: m.free_pages(x, 0), "KernelBug",
     "6.14+ slab pages are frozen (refcount 0): put_page_testzero()'s \"VM_BUG_ON_PAGE(page_ref_count(page) == 0)\""),
    ("free_pages", "a slab page", lambda m: m.virt_to_page(m.kmalloc(64)),
     lambda m, x: m.free_pages(x, 0), "KernelBug",
     "\"Bad page state\", \"page dumped because: nonzero mapcount\": the slab page type (6.10 - 6.13)",
     {"kernel": "6.12"}),
    ("free_pages", "a slab page", lambda m: m.virt_to_page(m.kmalloc(64)),
     lambda m, x: m.free_pages(x, 0), "KernelBug",
     "\"Bad page state\", \"PAGE_FLAGS_CHECK_AT_FREE flag(s) set\": PG_slab (4.5 - 6.9)", {"kernel": "4.5"}),
    ("free_pages", "a page freed already, still on a per-cpu list", _freed_pcp_page,
     lambda m, x: m.free_pages(x, 0), "KernelBug", "refcount 0: \"VM_BUG_ON_PAGE(page_ref_count(page) == 0)\""),
    ("free_pages", "a tail page of a compound block", lambda m: m.alloc_pages(G | km.__GFP_COMP, 2),
     lambda m, x: m.free_pages(m.pfn_to_page(x.pfn + 1), 0), "KernelBug",
     "\"VM_BUG_ON_PAGE(PageTail(page))\""),
    ("free_pages", "a frame of the kernel image", None, lambda m, x: m.free_pages(m.pfn_to_page((16 << 20) >> 12), 0),
     "KernelBug", "PG_reserved: \"Bad page state\", \"PAGE_FLAGS_CHECK_AT_FREE flag(s) set\""),
    ("drain_all_pages", "a zone of another machine", None,
     lambda m, x: m.drain_all_pages(km.Machine(profile="tiny").zone("DMA")), "TypeError", ""),
    ("drain_all_pages", "a zone name that does not exist", None, lambda m, x: m.drain_all_pages("Highmem"),
     "ValueError", ""),
    ("free_pages", "a vmalloc address", lambda m: m.vmalloc(PAGE),
     lambda m, x: m.free_pages(x, 0), "KernelBug", ""),
    ("kmem_cache_free", "an object of another cache",
     lambda m: (m.kmem_cache_create("a", 64), m.kmalloc(64)),
     lambda m, x: m.kmem_cache_free(*x), "WARN",
     "\"kmem_cache_free: Wrong slab cache\", freed into the right cache"),
    # memory access
    ("read", "an unmapped vmalloc address", None, lambda m, x: m.read(0xffffc90000000000 + (1 << 30), 1),
     "KernelOops", "BUG: unable to handle page fault"),
    ("write", "past the end of a vmalloc area (the guard page)",
     lambda m: m.vmalloc(PAGE),
     lambda m, x: m.write(x + PAGE, b"x"), "KernelOops", ""),
    ("write", "text instead of bytes", lambda m: m.kmalloc(64),
     lambda m, x: m.write(x, "hi"), "TypeError", ""),
    ("read", "a negative length", lambda m: m.kmalloc(64),
     lambda m, x: m.read(x, -1), "ValueError", ""),
    ("virt_to_phys", "a vmalloc address", lambda m: m.vmalloc(PAGE),
     lambda m, x: m.virt_to_phys(x), "KernelBug",
     "CONFIG_DEBUG_VIRTUAL: virt_to_phys used for non-linear address"),
    ("phys_to_virt", "a physical address beyond RAM", None, lambda m, x: m.phys_to_virt(1 << 45), "ValueError", ""),
    ("restore", "something that is not a snapshot", None, lambda m, x: m.restore("yesterday"), "TypeError", ""),
] + SLUB_CASES


def markdown() -> str:
    out = ["# Bad input, and what kmemlab does about it", "",
           "Generated from `tests/bad_input_cases.py` (the same table the tests check): "
           "`python tests/bad_input_cases.py > docs/bad-input.md`.", "",
           "Unless the outcome is `corrupts` (the kernel's own behaviour) or `ok`, the machine's "
           "state afterwards is exactly what it was before (only the kernel log has the report).", "",
           "| function | passed | outcome | the kernel / note |", "|---|---|---|---|"]
    for fn, what, _setup, _call, outcome, note, *machine in CASES:
        where = f" (`Machine({', '.join(f'{k}={v!r}' for k, v in machine[0].items())})`)" if machine else ""
        out.append(f"| `{fn}` | {what}{where} | {outcome} | {note} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
