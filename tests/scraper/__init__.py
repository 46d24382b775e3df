"""Tests of the dataset scraper (scraper/, installed as scened_scraper)."""
