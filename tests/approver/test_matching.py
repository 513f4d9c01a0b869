"""Origin parsing and item matching."""

from __future__ import annotations

import pytest

from blindfill.approver.items import Item
from blindfill.approver.matching import default_matcher
from blindfill.approver.origins import (
    HostKind,
    is_opaque,
    origin_of_url,
    parse_origin,
    render_origin,
)
from blindfill.errors import OriginError
from blindfill.sensitive import Secret


def item(*urls: str, subdomains: bool = False) -> Item:
    return Item(
        id="i1",
        title="Bank",
        username="alice",
        password=Secret("pw", kind="password"),
        urls=urls,
        match_subdomains=subdomains,
    )


def matches(item_: Item, origin: str) -> bool:
    return default_matcher().item_matches(item_, parse_origin(origin))


# --- parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://BANK.test", "https://bank.test"),
        ("https://bank.test:443", "https://bank.test"),
        ("http://bank.test:80/", "http://bank.test"),
        ("https://bank.test:8443", "https://bank.test:8443"),
        ("http://127.1", "http://127.0.0.1"),
        ("http://[0:0::1]:8080", "http://[::1]:8080"),
        ("https://bänk.test", "https://xn--bnk-qla.test"),
        ("https://my_host.test", "https://my_host.test"),
    ],
)
def test_origins_are_normalised_like_a_browser(text: str, expected: str) -> None:
    """Case, default ports, IP forms and IDN hosts normalise to one form."""
    assert parse_origin(text).serialize() == expected


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "",
        "data:text/html,<form>",
        "blob:https://bank.test/5d1c",
        "file:///home/alice/login.html",
        "about:blank",
        "javascript:alert(1)",
        "ftp://bank.test",
        "https://bank.test/login",
        "https://alice@bank.test",
        "https://bank.test:99999",
        "https://bank.test:x",
        "https://",
        "https://a..test",
        "https://[::1",
    ],
)
def test_parse_origin_refuses_opaque_and_malformed(text: str) -> None:
    """Opaque origins, other schemes, paths and bad hosts raise OriginError."""
    with pytest.raises(OriginError):
        parse_origin(text)


def test_item_urls_are_read_leniently_but_never_downgraded() -> None:
    """A scheme-less item URL means https; app and opaque URLs have none."""
    assert origin_of_url("bank.test/login") == parse_origin("https://bank.test")
    assert origin_of_url("bank.test:8443/x") == parse_origin("https://bank.test:8443")
    assert origin_of_url("androidapp://com.bank") is None
    assert origin_of_url("data:text/html,x") is None
    assert origin_of_url("") is None


def test_opaque_detection() -> None:
    """`null`, about:, blob: are opaque; an https origin is not."""
    assert is_opaque("null")
    assert is_opaque("about:srcdoc")
    assert is_opaque("blob:https://bank.test/x")
    assert not is_opaque("https://bank.test")


def test_idn_hosts_render_decoded_and_raw() -> None:
    """An international host is shown decoded with its raw punycode form."""
    shown = render_origin(parse_origin("https://xn--bnk-qla.test:8443"))
    assert shown == "https://bänk.test:8443 (raw: xn--bnk-qla.test)"
    assert render_origin(parse_origin("https://bank.test")) == "https://bank.test"


def test_idn_host_hiding_characters_is_shown_raw_only() -> None:
    """A decoded name with bidi or invisible characters is never shown decoded."""
    # "bank" + RIGHT-TO-LEFT OVERRIDE + "tset" would display as "banktest".
    raw = "xn--" + "bank\u202etset".encode("punycode").decode() + ".test"
    shown = render_origin(parse_origin(f"https://{raw}"))
    assert "\u202e" not in shown
    assert raw in shown
    assert "hidden characters" in shown or "undecodable" in shown


# --- matching: security cases -------------------------------------------------


def test_other_origin_matches_nothing() -> None:
    """Security case 1: a page on evil.test never matches the bank.test item."""
    bank = item("https://bank.test/login")
    assert not matches(bank, "https://evil.test")
    assert matches(bank, "https://bank.test")


@pytest.mark.parametrize(
    "origin",
    [
        "https://bank-test.test",
        "https://bank.test.evil.test",
        "https://xn--bnk-qla.test",
        "https://bamk.test",
        "https://evilbank.test",
    ],
)
def test_look_alike_hosts_do_not_match(origin: str) -> None:
    """Security case 2: look-alike and punycode hosts never match bank.test."""
    assert not matches(item("https://bank.test"), origin)
    assert not matches(item("https://bank.test", subdomains=True), origin)


def test_look_alike_punycode_is_rendered_decoded_and_raw() -> None:
    """Security case 2: the person sees both forms of a punycode host."""
    shown = render_origin(parse_origin("https://xn--bnk-qla.test"))
    assert "bänk.test" in shown
    assert "xn--bnk-qla.test" in shown


def test_http_page_never_matches_https_item() -> None:
    """Security case 3: http is never a downgrade of an https item."""
    assert not matches(item("https://bank.test"), "http://bank.test")
    assert not matches(item("https://bank.test", subdomains=True), "http://bank.test")
    assert not matches(item("bank.test"), "http://bank.test")


def test_subdomain_needs_opt_in() -> None:
    """Security case 17: sub.bank.test matches bank.test only when opted in."""
    assert not matches(item("https://bank.test"), "https://sub.bank.test")
    assert matches(item("https://bank.test", subdomains=True), "https://sub.bank.test")
    assert matches(
        item("https://www.bank.test", subdomains=True), "https://login.bank.test"
    )


def test_subdomain_opt_in_keeps_scheme_and_port() -> None:
    """Security case 17: opting in widens the host only, not scheme or port."""
    wide = item("https://bank.test", subdomains=True)
    assert not matches(wide, "http://sub.bank.test")
    assert not matches(wide, "https://sub.bank.test:8443")


@pytest.mark.parametrize(
    ("item_url", "origin"),
    [
        ("https://alice.github.io", "https://bob.github.io"),
        ("https://bank.co.uk", "https://evil.co.uk"),
        ("https://github.io", "https://bob.github.io"),
        ("https://co.uk", "https://bank.co.uk"),
        ("https://test", "https://bank.test"),
        ("https://bank.test", "https://test"),
        ("http://localhost:3000", "http://app.localhost:3000"),
    ],
)
def test_subdomain_opt_in_never_crosses_registrable_domains(
    item_url: str, origin: str
) -> None:
    """Security case 17: no match across registrable domains or on a suffix."""
    assert not matches(item(item_url, subdomains=True), origin)


@pytest.mark.parametrize(
    ("item_url", "origin"),
    [
        ("https://bank.test", "https://127.0.0.1"),
        ("http://127.0.0.1", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080", "http://localhost:8080"),
        ("http://localhost:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://127.0.0.1:8080"),
        ("https://bank.test", "https://bank.test:8443"),
        ("https://bank.test:8443", "https://bank.test"),
        ("http://localhost", "http://localhost:3000"),
        ("https://bank.test.", "https://bank.test"),
    ],
)
def test_ip_localhost_and_ports_are_distinct_origins(
    item_url: str, origin: str
) -> None:
    """Security case 18: IPs, localhost and ports never match one another."""
    assert not matches(item(item_url), origin)
    assert not matches(item(item_url, subdomains=True), origin)


def test_ip_and_localhost_items_match_only_themselves() -> None:
    """Security case 18: an IP or localhost item matches its exact origin."""
    assert matches(item("http://127.0.0.1:8080/login"), "http://127.0.0.1:8080")
    assert matches(item("http://localhost:3000"), "http://localhost:3000")
    assert matches(item("http://[::1]:8080"), "http://[::1]:8080")
    assert parse_origin("http://[::1]").kind is HostKind.IPV6


@pytest.mark.parametrize(
    "item_url",
    [
        "file:///home/alice/bank.html",
        "data:text/html,<form>",
        "blob:https://bank.test/1",
        "about:blank",
        "null",
    ],
)
def test_opaque_item_urls_match_nothing(item_url: str) -> None:
    """Security case 18: file:, data:, blob: and about: never match anything."""
    opaque = item(item_url, "https://other.test")
    assert not matches(opaque, "https://bank.test")
    assert not matches(opaque, "http://localhost")


def test_paths_are_ignored() -> None:
    """Only the origin counts: an item URL's path does not narrow or widen."""
    assert matches(item("https://bank.test/a/b?c#d"), "https://bank.test")


def test_matching_items_keeps_order_and_filters() -> None:
    """matching_items keeps vault order and drops other origins."""
    first = item("https://bank.test")
    other = Item(
        id="i2",
        title="Other",
        username="bob",
        password=Secret("x"),
        urls=("https://other.test",),
    )
    matcher = default_matcher()
    origin = parse_origin("https://bank.test")
    assert matcher.matching_items([other, first], origin) == [first]
    assert matcher.matching_url(first, origin) == "https://bank.test"
