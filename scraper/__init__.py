"""scened's dataset scraper: image search results, one folder per class.

It drives a real browser through selenium against an image search engine described
by a small TOML adapter (see ``engines/``), downloads the preview-size results, keeps
only real, distinct, large-enough images and writes ``<out>/<Class>/<n>.jpg`` plus a
manifest.  It never imports the ``scened`` runtime.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
