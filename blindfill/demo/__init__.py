"""The demo login site served on 127.0.0.1.

Six login pages of the kinds the shim must handle, checked against one
throwaway account::

    from blindfill.demo import DemoSite

    async with DemoSite() as site:          # a fresh random account
        url = site.url("two_step")          # http://127.0.0.1:PORT/two-step/
        ...                                 # sign in with site.account
        assert site.signed_in("two_step") == site.account.username

`python -m blindfill.demo` serves it until Ctrl-C.
"""

from __future__ import annotations

from blindfill.demo.account import DemoAccount, random_account
from blindfill.demo.app import MAX_BODY_BYTES, SESSION_COOKIE, DemoApp, SignIn
from blindfill.demo.pages import DEMO_PAGES, DemoPage, Step, demo_page
from blindfill.demo.server import DemoSite

__all__ = [
    "DEMO_PAGES",
    "MAX_BODY_BYTES",
    "SESSION_COOKIE",
    "DemoAccount",
    "DemoApp",
    "DemoPage",
    "DemoSite",
    "SignIn",
    "Step",
    "demo_page",
    "random_account",
]
