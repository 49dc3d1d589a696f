"""Errors the simulated kernel raises.

Two families, as in C: what the real kernel would ``BUG()`` on or oops at is a
:class:`KernelBug` / :class:`KernelOops` (the message reads like the kernel's report);
misuse of the Python API is an ordinary ``TypeError`` / ``ValueError``.
Allocation *failures* are not exceptions at all: they return ``NULL`` / ``None``
and log a warning, exactly like C.
"""

__all__ = ["KernelError", "KernelBug", "KernelOops", "SlabCtorError"]


class KernelError(Exception):
    """Base of the errors that a real kernel would report in its log."""

    def __init__(self, message: str, report: str = ""):
        super().__init__(message)
        #: the multi-line report, as the kernel would print it to the console
        self.report = report or message


class KernelBug(KernelError):
    """What the kernel's ``BUG()`` / ``BUG_ON()`` / bad-page checks would stop on.

    The machine is left exactly as it was before the offending call.
    """


class KernelOops(KernelError):
    """A page fault in kernel mode: an access to an address that is not mapped
    (``page_fault_oops()`` in arch/x86/mm/fault.c). The machine is unchanged."""


class SlabCtorError(KernelError):
    """A cache's constructor (``kmem_cache_create(..., ctor)``) raised while SLUB set up
    a new slab. In C a constructor cannot fail; in Python it can. The constructor's own
    exception is ``__cause__``; the message names the cache. The cache is left exactly as
    it was and the new slab's pages go back to the page allocator."""
