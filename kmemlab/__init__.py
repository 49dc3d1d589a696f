"""kmemlab: a simulated Linux kernel memory manager for teaching.

>>> import kmemlab as km
>>> m = km.Machine(profile="x86_64", mem="128M")
>>> pg = m.alloc_pages(km.GFP_KERNEL, order=2)
>>> print(m.proc.buddyinfo())
"""

from .kernel import gfp as _gfp
from .kernel.errors import KernelBug, KernelError, KernelOops, SlabCtorError
from .kernel.events import Event, Subscription
from .kernel.gfp import (GFP_ATOMIC, GFP_DMA, GFP_DMA32, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE,
                         GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_NOFS, GFP_NOIO, GFP_NOWAIT,
                         GFP_TRANSHUGE, GFP_TRANSHUGE_LIGHT, GFP_USER, format_gfp, gfp_t,
                         MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE)
from .kernel.layout import PROFILES, parse_size
from .kernel.machine import Machine, Snapshot, Text
from .kernel.slub import (KMALLOC_MAX_CACHE_SIZE, KMALLOC_MIN_SIZE, KMALLOC_SHIFT_HIGH,
                          KMALLOC_SHIFT_LOW, SLAB_ACCOUNT, SLAB_CACHE_DMA, SLAB_CONSISTENCY_CHECKS,
                          SLAB_HWCACHE_ALIGN, SLAB_PANIC, SLAB_POISON, SLAB_RECLAIM_ACCOUNT,
                          SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TYPESAFE_BY_RCU, KmemCache,
                          kmalloc_index)
from .kernel.types import EFAULT, EINVAL, ENOMEM, ERR_PTR, IS_ERR, NULL, PTR_ERR, ZERO_SIZE_PTR, Address, Page
from . import exercises
from .exercises import exercise
from . import helpers
from .kernel.helpers import NotAvailable
from .host import Host, HostError, host
from .replay import Replayer, ReplayReport, replay, sample_recording
from .compare import Comparison, compare
from . import tracefs

# The single-bit flags keep their kernel spelling: km.__GFP_ZERO, km.__GFP_NOWARN ...
for _name in dir(_gfp):
    if _name.startswith("__GFP_"):
        globals()[_name] = getattr(_gfp, _name)
del _name

__version__ = "0.1.0"


def __getattr__(name):
    # km.widgets is imported on first use, so `import kmemlab` never loads ipywidgets/bqplot
    if name == "widgets":
        import importlib
        try:
            return importlib.import_module(".widgets", __name__)
        except ModuleNotFoundError as e:      # the core runs without the widget stack
            raise ModuleNotFoundError(f"km.widgets needs {e.name!r} (the widget stack: "
                                      "ipywidgets, bqplot, pillow); install it with "
                                      "pip install 'kmemlab[widgets]'", name=e.name) from e
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
