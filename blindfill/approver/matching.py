"""Which vault items belong to the origin a request came from.

The rule is deliberately narrow. An item URL matches a frame origin when the
scheme, the host and the port are all equal, after both are normalised by
`blindfill.approver.origins`. So `http://bank.test` never matches an
`https://bank.test` item (nothing is downgraded), `bank.test:8443` is not
`bank.test`, and an IP literal or `localhost` matches only itself.

An item may opt in to subdomains (`Item.match_subdomains`). Then the host
may differ as long as both hosts have the same registrable domain under the
public suffix list (both ICANN and private sections, so `alice.github.io`
and `bob.github.io` stay apart); scheme and port must still be equal. It
never applies when either host is an IP literal, ends with a dot, or is a
public suffix itself (`co.uk`, `github.io`, an unknown one-label name such
as `test` or `localhost`), so an item can never match across registrable
domains.

Paths, queries and fragments of item URLs are ignored: a page can change its
path with `history.pushState`, but not its security origin.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from publicsuffixlist import PublicSuffixList

from blindfill.approver.items import Item
from blindfill.approver.origins import HostKind, Origin, origin_of_url

__all__ = ["OriginMatcher", "default_matcher"]


class OriginMatcher:
    """Matches vault items to a frame origin. Pure; safe to share."""

    def __init__(self, suffixes: PublicSuffixList | None = None) -> None:
        # accept_unknown: a name under an unknown top-level label (`.test`,
        # `.internal`) is treated as having that label as its public suffix.
        self._suffixes = suffixes or PublicSuffixList(accept_unknown=True)

    def registrable_domain(self, origin: Origin) -> str | None:
        """The registrable domain (eTLD+1) of a domain origin, else None."""
        if origin.kind is not HostKind.DOMAIN or origin.host.endswith("."):
            return None
        domain = self._suffixes.privatesuffix(origin.host)
        return str(domain) if domain else None

    def url_matches(self, url: str, origin: Origin, *, subdomains: bool) -> bool:
        """True if the item URL `url` belongs to `origin`."""
        item_origin = origin_of_url(url)
        if item_origin is None:
            return False
        if item_origin == origin:
            return True
        if not subdomains:
            return False
        if (item_origin.scheme, item_origin.port) != (origin.scheme, origin.port):
            return False
        item_domain = self.registrable_domain(item_origin)
        return item_domain is not None and item_domain == self.registrable_domain(
            origin
        )

    def item_matches(self, item: Item, origin: Origin) -> bool:
        """True if any of the item's URLs belongs to `origin`."""
        return any(
            self.url_matches(url, origin, subdomains=item.match_subdomains)
            for url in item.urls
        )

    def matching_url(self, item: Item, origin: Origin) -> str | None:
        """The first of the item's URLs that belongs to `origin`, if any."""
        for url in item.urls:
            if self.url_matches(url, origin, subdomains=item.match_subdomains):
                return url
        return None

    def matching_items(self, items: Iterable[Item], origin: Origin) -> list[Item]:
        """The items that belong to `origin`, in the order given."""
        return [item for item in items if self.item_matches(item, origin)]


@functools.cache
def default_matcher() -> OriginMatcher:
    """One shared matcher; loading the suffix list takes tens of ms."""
    return OriginMatcher()
