"""Fixtures for the demo site's tests.

`site` is one demo site for the whole module; each browser test has its own
context and so its own session cookie, and asks `site.signed_in(...,
session=...)` about that session only, so tests never see each other's
sign-ins.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from blindfill.demo import DemoSite


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as served:
        yield served
