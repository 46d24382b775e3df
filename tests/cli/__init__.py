"""Tests for scened (a package so that test helpers import relatively)."""
