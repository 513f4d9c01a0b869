"""Benchmarks: `python -m benchmarks NAME --json`.

Each benchmark is a module `benchmarks/NAME.py` with a `run() -> dict` that
measures its subject and a baseline side by side in one process and returns
the figures, ratio included. Timed assertions never live in tests.
"""
