"""The REST API (`POST /classify`) served by `scened serve`."""
