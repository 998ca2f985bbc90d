"""Walk the newcomer's path over plain HTTP, as a browser would: log in, connect, approve.

Shared by the `tokenbot demo` and `tokenbot serve` process tests. Forms are read from the HTML
the panel and the emulator really serve, so a renamed field breaks the test, not the user.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import requests

_INPUT = re.compile(r"<input[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """Return the hidden inputs of a page (CSRF token, consent id, next)."""
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attrs = {k.lower(): unescape(v) for k, v in _ATTR.findall(tag)}
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def log_in(http: requests.Session, panel_url: str, username: str, password: str) -> None:
    """Log in to the panel; raise AssertionError unless the dashboard shows."""
    page = http.get(f"{panel_url}/login", timeout=10)
    form = hidden_fields(page.text)
    form.update(username=username, password=password)
    answer = http.post(f"{panel_url}/login", data=form, timeout=10)
    assert answer.status_code == 200 and "Connect Webex" in answer.text, answer.text[:500]


def connect_webex(http: requests.Session, panel_url: str, email: str) -> requests.Response:
    """Press "Connect Webex", approve as `email` on the emulator's consent page; return the end."""
    dashboard = http.get(f"{panel_url}/", timeout=10)
    token = hidden_fields(dashboard.text)["csrf_token"]
    to_webex = http.post(
        f"{panel_url}/connect", data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert to_webex.status_code == 303, to_webex.text[:500]
    consent = http.get(to_webex.headers["Location"], timeout=10)
    assert consent.status_code == 200, consent.text[:500]
    action = re.search(r'<form method="post" action="([^"]+)"', consent.text)
    assert action is not None, consent.text[:500]
    form = hidden_fields(consent.text)
    form.update(email=email, decision="approve")
    # The emulator redirects to the panel's callback, which redirects to the account page.
    return http.post(urljoin(consent.url, unescape(action.group(1))), data=form, timeout=15)
