"""``python -m scraper`` (or ``python -m scened_scraper``)."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
