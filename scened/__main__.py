"""``python -m scened`` runs the command line."""

from __future__ import annotations

from scened.cli import main

main()
