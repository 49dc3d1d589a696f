"""Live views of a Machine (the only package that imports ipywidgets and bqplot).

>>> import kmemlab as km
>>> m = km.Machine(mem="256M")
>>> d = km.widgets.Dashboard(m, views=["console", "mapping", "walk", "physmap"])
>>> display(d)        # or simply display(m)

``BuddyChart``, ``SlabView`` and ``ZoneView`` also draw the running Linux
(``BuddyChart(km.host(), auto=1.0)``; :mod:`.hostview` says what a host view can show),
and ``Dashboard(km.host(), auto=1.0)`` holds all three under one header and refresh button.

Views subscribe to the machine's change events and redraw at most ~30 times a second
(:mod:`.coalesce`); each also renders a static HTML picture (``to_html()``) for notebooks
viewed without a kernel. Colours: :mod:`.palette`; words (English and Japanese):
:mod:`.messages` (``km.widgets.set_language("ja")``, or ``lang="ja"`` per view).
"""

from .base import Hub, View
from .buddychart import BuddyChart
from .coalesce import Coalescer
from .console import Console
from .dashboard import DEFAULT_VIEWS, VIEWS, Dashboard
from .palette import PALETTE_NAME
from .mapping import MappingView
from .messages import get_language, set_language
from .physmap import PhysMap
from .sheafview import SheafView
from .slabview import SlabView
from .virtmap import VirtMap
from .walkview import WalkView
from .zoneview import ZoneView

__all__ = ["View", "Hub", "PhysMap", "BuddyChart", "Console", "Dashboard", "Coalescer", "VIEWS",
           "MappingView", "SheafView", "SlabView", "VirtMap", "WalkView", "ZoneView",
           "DEFAULT_VIEWS", "PALETTE_NAME", "set_language", "get_language"]
