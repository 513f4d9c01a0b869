"""blindfill: sign an AI agent's headless browser in without the agent ever
holding the secret.

The public API is re-exported here; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

from blindfill.agent.client import Blindfill, connect_browser, launch_browser, sign_in
from blindfill.agent.signin import SignInResult, SignInStatus, StepResult
from blindfill.errors import BlindfillError

__all__ = [
    "Blindfill",
    "BlindfillError",
    "SignInResult",
    "SignInStatus",
    "StepResult",
    "__version__",
    "connect_browser",
    "launch_browser",
    "sign_in",
]
