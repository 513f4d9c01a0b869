"""The catalogue of demo login pages.

Each page is a login flow that real sites use and that the shim must handle:
one form, a username step then a password step, a form in a same-origin
iframe, a form in an open shadow root, React-controlled inputs, and a
one-time-code step after the password. A page lists the steps it takes in
order; the step names are the form kinds the shim reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from blindfill.errors import UsageError

__all__ = ["DEMO_PAGES", "DemoPage", "Step", "demo_page"]


class Step(StrEnum):
    """One form a person fills on the way to being signed in."""

    LOGIN = "login"  # username and password on one form
    USERNAME_STEP = "username_step"  # username alone, password comes later
    # The password alone, the username already known.
    PASSWORD_STEP = "password_step"  # noqa: S105 (a step name, not a secret)
    ONE_TIME_CODE = "one_time_code"  # a TOTP code after the password


@dataclass(frozen=True, slots=True)
class DemoPage:
    """A demo login page: where it starts and which steps it takes.

    `name` is a stable identifier (used by `DemoSite.signed_in`), `path`
    the absolute path of its first step, `title` a short human name,
    `description` one sentence on what makes the page hard for a filler.
    """

    name: str
    path: str
    title: str
    description: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not (self.path.startswith("/") and self.path.endswith("/")):
            raise UsageError(f"demo page path {self.path!r} must be /name/")
        if not self.steps:
            raise UsageError(f"demo page {self.name!r} takes no step")


DEMO_PAGES: tuple[DemoPage, ...] = (
    DemoPage(
        name="plain",
        path="/plain/",
        title="Plain form",
        description="Username and password in one ordinary form.",
        steps=(Step.LOGIN,),
    ),
    DemoPage(
        name="two_step",
        path="/two-step/",
        title="Username, then password",
        description=(
            "The username on one page, the password on the next; the server "
            "keeps the username in a session between them."
        ),
        steps=(Step.USERNAME_STEP, Step.PASSWORD_STEP),
    ),
    DemoPage(
        name="iframe",
        path="/iframe/",
        title="Form in an iframe",
        description="The form lives in a same-origin iframe of the page.",
        steps=(Step.LOGIN,),
    ),
    DemoPage(
        name="shadow_root",
        path="/shadow-root/",
        title="Form in a shadow root",
        description=(
            "A custom element renders the form inside its open shadow root, "
            "out of reach of document.querySelector."
        ),
        steps=(Step.LOGIN,),
    ),
    DemoPage(
        name="react",
        path="/react/",
        title="React-controlled inputs",
        description=(
            "React 18 holds the field values in state and sends only what "
            "arrived through onChange; setting .value alone does nothing."
        ),
        steps=(Step.LOGIN,),
    ),
    DemoPage(
        name="totp",
        path="/totp/",
        title="Password, then one-time code",
        description=(
            "Username and password, then a page asking for the six-digit TOTP code."
        ),
        steps=(Step.LOGIN, Step.ONE_TIME_CODE),
    ),
)

_BY_NAME = {page.name: page for page in DEMO_PAGES}


def demo_page(name: str) -> DemoPage:
    """The page called `name`; raises `UsageError` listing the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise UsageError(
            f"there is no demo page called {name!r}", hint=f"use one of {known}"
        ) from None
