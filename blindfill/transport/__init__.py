"""The edges that move frames: HTTP client and server."""
