"""Reading and writing keywords in photos and sidecars (XMP, IPTC)."""
