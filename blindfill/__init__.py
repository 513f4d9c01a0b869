"""blindfill: sign an AI agent's headless browser in without the agent ever
holding the secret.

The public API is re-exported here; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
