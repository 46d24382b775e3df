"""The one exception the command turns into a one-line error message."""

from __future__ import annotations


class ScraperError(Exception):
    """A problem the user can fix: a missing driver, a bad engine file, a bad class list."""
