"""scened: tags photo libraries with camera-scene labels as XMP/IPTC keywords.

Plugin authors import the marker from here::

    from scened import hookimpl

    @hookimpl
    def register_policies(register):
        register("mine", MyPolicy)
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations (see :mod:`scened.hookspecs`).
hookimpl = pluggy.HookimplMarker("scened")

__all__ = ["__version__", "hookimpl"]
