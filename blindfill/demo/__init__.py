"""The demo login site served on 127.0.0.1.

Six login pages of the kinds the shim must handle, all checked against one
throwaway account (`DEMO_PAGES` lists them with their steps):

=============  ================  =======================================
name           first step        steps
=============  ================  =======================================
plain          /plain/           login
two_step       /two-step/        username_step, password_step
iframe         /iframe/          login (in a same-origin iframe)
shadow_root    /shadow-root/     login (in an open shadow root)
react          /react/           login (React 18 controlled inputs)
totp           /totp/            login, one_time_code
=============  ================  =======================================

A successful sign-in answers a page whose `role="status"` element reads
"Signed in as <username>"; a failure shows a `role="alert"` message. POSTs
that are not a small, well-formed urlencoded form with exactly the expected
fields are refused with 400.

Usage::

    from blindfill.demo import DemoSite

    async with DemoSite() as site:          # a fresh random account
        url = site.url("two_step")          # http://127.0.0.1:PORT/two-step/
        ...                                 # sign in with site.account
        assert site.signed_in("two_step") == site.account.username
        # or, for one browser context's session only:
        # site.signed_in("two_step", session=<SESSION_COOKIE cookie value>)

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
