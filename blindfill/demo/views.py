"""HTML of the demo site.

Small, valid HTML5 pages with labelled fields and the `autocomplete` tokens
a real site would use. Nothing here runs inline script or inline style: the
site's Content-Security-Policy forbids both, as a careful site would, and
the shim must work under such a policy. Every value that came from a request
is escaped; no view ever receives a password or a code.
"""

from __future__ import annotations

from html import escape

from blindfill.demo.pages import DEMO_PAGES, DemoPage

__all__ = [
    "code_form",
    "iframe_form",
    "iframe_host",
    "index",
    "layout",
    "login_form",
    "message_page",
    "password_form",
    "react_host",
    "shadow_host",
    "signed_in",
    "username_form",
]

_TITLE_SUFFIX = "blindfill demo"

# Username and password inputs, shared by the forms of several pages.
_INPUTS = {
    "username": (
        '<p><label for="username">Username</label>\n'
        '<input id="username" name="username" type="text" autocomplete="username"'
        ' autocapitalize="none" spellcheck="false" maxlength="64" required></p>\n'
    ),
    "password": (
        '<p><label for="password">Password</label>\n'
        '<input id="password" name="password" type="password"'
        ' autocomplete="current-password" maxlength="128" required></p>\n'
    ),
}
_SUBMIT = '<p><button type="submit">{label}</button></p>\n'


def layout(title: str, body: str, *, head: str = "", nav: bool = True) -> str:
    """A whole document around `body` (already HTML), titled `title`."""
    back = '<p><a href="/" target="_top">All demo pages</a></p>\n' if nav else ""
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · {_TITLE_SUFFIX}</title>\n"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/static/demo.css">\n'
        f"{head}</head>\n<body>\n<main>\n<h1>{escape(title)}</h1>\n"
        f"{body}</main>\n{back}</body>\n</html>\n"
    )


def _alert(error: str | None) -> str:
    if error is None:
        return ""
    return f'<p class="error" role="alert">{escape(error)}</p>\n'


def index() -> str:
    """The list of demo pages, each linked with its description."""
    items = "".join(
        f'<li><a href="{page.path}">{escape(page.title)}</a>'
        f" <span>{escape(page.description)}</span></li>\n"
        for page in DEMO_PAGES
    )
    body = (
        "<p>Each page below is a login form of a different kind. "
        "The account is made fresh for every run of the demo.</p>\n"
        f'<ul class="pages">\n{items}</ul>\n'
    )
    return layout("Demo login pages", body, nav=False)


def login_form(page: DemoPage, action: str, *, error: str | None = None) -> str:
    """A page with one form asking for username and password."""
    body = (
        _alert(error)
        + f'<form method="post" action="{action}">\n'
        + _INPUTS["username"]
        + _INPUTS["password"]
        + _SUBMIT.format(label="Sign in")
        + "</form>\n"
    )
    return layout(page.title, body)


def username_form(page: DemoPage, action: str, *, error: str | None = None) -> str:
    """The first step of a two-step sign-in: the username alone."""
    body = (
        _alert(error)
        + f'<form method="post" action="{action}">\n'
        + "<p>Sign in to your demo account.</p>\n"
        + _INPUTS["username"]
        + _SUBMIT.format(label="Next")
        + "</form>\n"
    )
    return layout(page.title, body)


def password_form(
    page: DemoPage, action: str, username: str, *, error: str | None = None
) -> str:
    """The second step: the password for a username the server remembers."""
    body = (
        _alert(error)
        + f"<p>Signing in as <strong>{escape(username)}</strong>. "
        + f'<a href="{page.path}">Not you?</a></p>\n'
        + f'<form method="post" action="{action}">\n'
        + _INPUTS["password"]
        + _SUBMIT.format(label="Sign in")
        + "</form>\n"
    )
    return layout(page.title, body)


def code_form(
    page: DemoPage, action: str, username: str, *, error: str | None = None
) -> str:
    """The one-time-code step after a correct password."""
    body = (
        _alert(error)
        + f"<p>Password accepted for <strong>{escape(username)}</strong>.</p>\n"
        + f'<form method="post" action="{action}">\n'
        + '<p><label for="code">Six-digit code from your authenticator app'
        + "</label>\n"
        + '<input id="code" name="code" type="text" inputmode="numeric"'
        + ' autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6"'
        + " required></p>\n"
        + _SUBMIT.format(label="Verify")
        + "</form>\n"
    )
    return layout(page.title, body)


def iframe_host(page: DemoPage, frame_src: str) -> str:
    """The top page of the iframe demo: no field of its own, one iframe."""
    body = (
        "<p>The sign-in form below is a separate document in an iframe.</p>\n"
        f'<iframe src="{frame_src}" title="Sign-in form" class="login-frame">'
        "</iframe>\n"
    )
    return layout(page.title, body)


def iframe_form(page: DemoPage, action: str, *, error: str | None = None) -> str:
    """The document inside the iframe: the form and its result."""
    body = (
        _alert(error)
        + f'<form method="post" action="{action}">\n'
        + _INPUTS["username"]
        + _INPUTS["password"]
        + _SUBMIT.format(label="Sign in")
        + "</form>\n"
    )
    return layout("Sign in", body, nav=False)


def shadow_host(page: DemoPage, *, error: str | None = None) -> str:
    """The shadow-root demo: a custom element that builds its own form."""
    body = (
        _alert(error)
        + "<demo-login-form></demo-login-form>\n"
        + '<noscript><p class="error">This page needs JavaScript.</p></noscript>\n'
    )
    head = '<script src="/static/shadow-login.js" defer></script>\n'
    return layout(page.title, body, head=head)


def react_host(page: DemoPage) -> str:
    """The React demo: an empty root that React renders the form into."""
    head = (
        '<script src="/static/react.production.min.js" defer></script>\n'
        '<script src="/static/react-dom.production.min.js" defer></script>\n'
        '<script src="/static/react-login.js" defer></script>\n'
    )
    body = (
        '<div id="root"></div>\n'
        '<noscript><p class="error">This page needs JavaScript.</p></noscript>\n'
    )
    return layout(page.title, body, head=head)


def signed_in(page: DemoPage, username: str, *, nav: bool = True) -> str:
    """The success page: says who signed in, through which demo page."""
    body = (
        f'<p id="signed-in" role="status">Signed in as '
        f"<strong>{escape(username)}</strong></p>\n"
        f"<p>Demo page: {escape(page.title)}.</p>\n"
    )
    return layout("Signed in", body, nav=nav)


def message_page(title: str, message: str) -> str:
    """A plain page with one sentence, for errors such as 404."""
    return layout(title, f"<p>{escape(message)}</p>\n")
