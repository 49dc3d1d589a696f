"""``kmemlab.helpers``: the drgn-style read interface (see :mod:`kmemlab.kernel.helpers`).

>>> import kmemlab as km
>>> from kmemlab.helpers import for_each_populated_zone
>>> [z.name for z in for_each_populated_zone(km.Machine(mem="1G"))]
['DMA', 'DMA32']
"""

from .kernel.helpers import *          # noqa: F401,F403 (the public surface is its __all__)
from .kernel.helpers import __all__     # noqa: F401
