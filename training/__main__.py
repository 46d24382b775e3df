"""``python -m scened_training`` (or ``python -m training`` from the repository root)."""

from __future__ import annotations

from .cli import main

main()
