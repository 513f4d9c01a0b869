"""The browser side: attach to Chromium, inject the shim, run sign-ins.

The sign-in flow uses `ShimSession` (attach, detect, fill, submit) and the
values in `blindfill.agent.forms`.
"""

from __future__ import annotations

from blindfill.agent.forms import (
    DetectedField,
    DetectedForm,
    DocumentToken,
    FieldRole,
    FillOutcome,
    FillStatus,
    FormAction,
    FormKind,
    FrameRef,
    SubmitMethod,
    best_form,
)
from blindfill.agent.session import ShimSession

__all__ = [
    "DetectedField",
    "DetectedForm",
    "DocumentToken",
    "FieldRole",
    "FillOutcome",
    "FillStatus",
    "FormAction",
    "FormKind",
    "FrameRef",
    "ShimSession",
    "SubmitMethod",
    "best_form",
]
