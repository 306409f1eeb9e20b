"""The admin pages' HTML: plain server-rendered markup, every value escaped.

No template engine and no JavaScript: each page is a function from records to a
string, and every value that came from a user or the store goes through
:func:`h` (HTML-escaped, quotes included) or :func:`url_part` first, so a
hostile email or name (``<script>``, ``"onmouseover=``) stays text (stored XSS
against the operator, whose session can do everything).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode

from pywire_auth.types import JSONValue, ProviderLink, SessionRecord, UserRecord

__all__ = [
    "CSP",
    "account_page",
    "claim_text",
    "message_page",
    "users_page",
]

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1c2330;background:#f5f6f8}
header{background:#1c2330;color:#fff;padding:.8rem 1.5rem}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:68rem;margin:1.5rem auto;padding:0 1.5rem}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:1rem 1.25rem;
margin-bottom:1.25rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:0 0 .7rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #eceff3;vertical-align:top;
overflow-wrap:anywhere}
th{font-size:.8rem;text-transform:uppercase;color:#5b6474}
code{font-size:.85rem}
form.inline{display:inline}
input[type=text],input[type=search]{padding:.35rem .5rem;border:1px solid #c5cbd5;
border-radius:4px;font:inherit}
button{font:inherit;padding:.35rem .8rem;border-radius:4px;border:1px solid #8a94a6;
background:#fff;cursor:pointer}
button.danger{border-color:#b42318;color:#b42318}
.note{padding:.6rem .9rem;border-radius:4px;margin-bottom:1rem;background:#e8f4ec;
border:1px solid #9fd3b1}
.note.error{background:#fdecea;border-color:#f1a9a0}
.muted{color:#5b6474}.pager{margin-top:.8rem;display:flex;gap:1rem}
"""

# The only style the pages use is the block above; its hash lets the Content-Security-
# Policy allow exactly it, with no script and no other inline style at all.
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

#: The admin pages' Content-Security-Policy: nothing runs, nothing loads, forms post
#: only to this site, and no other site may frame the pages (clickjacking).
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def h(value: object) -> str:
    """HTML-escape ``value`` for text and quoted attribute values."""
    return html.escape(str(value), quote=True)


def url_part(value: str) -> str:
    """``value`` as one path segment: every reserved character percent-encoded."""
    return quote(value, safe="")


def _layout(title: str, base: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{h(title)} · Accounts admin</title><style>{_CSS}</style></head>"
        f'<body><header><a href="{h(base)}">Accounts admin</a></header>'
        f"<main>{body}</main></body></html>"
    )


def _note(message: str | None, *, error: bool = False) -> str:
    if not message:
        return ""
    role = "alert" if error else "status"
    return f'<p class="note{" error" if error else ""}" role="{role}">{h(message)}</p>'


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def users_page(
    *,
    base: str,
    query: str,
    users: Sequence[UserRecord],
    next_after: tuple[str, str] | None,
    first_page: bool,
    message: str | None,
    error: str | None,
) -> str:
    """The accounts list: search form, one row per account, keyset page links."""
    rows = "".join(
        "<tr>"
        f'<td><a href="{h(base)}/users/{h(url_part(u.user_id))}">'
        f"{h(u.email or '(no email)')}</a></td>"
        f"<td>{h(u.name)}</td><td><code>{h(u.user_id)}</code></td>"
        "</tr>"
        for u in users
    )
    table = (
        '<table><thead><tr><th scope="col">Email</th><th scope="col">Name</th>'
        f'<th scope="col">User id</th></tr></thead><tbody>{rows}</tbody></table>'
        if users
        else '<p class="muted">No accounts match.</p>'
    )
    links = []
    if not first_page:
        first = f"{base}?{urlencode({'q': query})}" if query else base
        links.append(f'<a href="{h(first)}">« First page</a>')
    if next_after is not None:
        params = {"q": query, "after_email": next_after[0], "after_id": next_after[1]}
        links.append(f'<a href="{h(base)}?{h(urlencode(params))}" rel="next">Next page »</a>')
    body = (
        "<h1>Accounts</h1>"
        + _note(message)
        + _note(error, error=True)
        + '<section><form method="get" role="search">'
        '<label for="q">Email starts with</label> '
        f'<input type="search" id="q" name="q" value="{h(query)}" autocomplete="off"> '
        "<button>Search</button></form></section>"
        f'<section>{table}<nav class="pager">{"".join(links)}</nav></section>'
    )
    return _layout("Accounts", base, body)


def claim_text(value: JSONValue) -> str:
    """How the page shows (and the revoke form names) one stored claim value."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _claim_values(value: JSONValue) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [claim_text(v) for v in values]


def _button_form(action: str, label: str, fields: Mapping[str, str], *, danger: bool) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{h(k)}" value="{h(v)}">' for k, v in fields.items()
    )
    css = ' class="danger"' if danger else ""
    return (
        f'<form class="inline" method="post" action="{h(action)}">'
        f"{hidden}<button{css}>{h(label)}</button></form>"
    )


def account_page(
    *,
    base: str,
    user: UserRecord,
    links: Sequence[ProviderLink],
    sessions: Sequence[SessionRecord],
    now: int,
    message: str | None,
    error: str | None,
) -> str:
    """One account: details, provider links, claims, sessions, and the action forms."""
    here = f"{base}/users/{url_part(user.user_id)}"
    details = (
        "<table>"
        f"<tr><th>Email</th><td>{h(user.email or '(no email)')}</td></tr>"
        f"<tr><th>Name</th><td>{h(user.name)}</td></tr>"
        f"<tr><th>User id</th><td><code>{h(user.user_id)}</code></td></tr>"
        f"<tr><th>Sign-in</th><td>{'disabled' if user.disabled else 'enabled'}</td></tr>"
        "</table>"
    )
    switch = (
        _button_form(f"{here}/enable", "Enable account", {}, danger=False)
        if user.disabled
        else _button_form(f"{here}/disable", "Disable account", {}, danger=True)
    )
    link_rows = "".join(
        f"<tr><td>{h(link.provider)}</td><td><code>{h(link.subject)}</code></td></tr>"
        for link in links
    )
    links_html = (
        '<table><thead><tr><th scope="col">Provider</th><th scope="col">Subject</th></tr>'
        f"</thead><tbody>{link_rows}</tbody></table>"
        if links
        else '<p class="muted">No linked identities.</p>'
    )
    claim_rows = "".join(
        f"<tr><td>{h(claim_type)}</td><td>{h(value)}</td><td>"
        + _button_form(
            f"{here}/revoke-claim", "Revoke", {"claim": claim_type, "value": value}, danger=True
        )
        + "</td></tr>"
        for claim_type, raw in sorted(user.claims.items())
        for value in _claim_values(raw)
    )
    claims_html = (
        '<table><thead><tr><th scope="col">Claim</th><th scope="col">Value</th><th></th></tr>'
        f"</thead><tbody>{claim_rows}</tbody></table>"
        if claim_rows
        else '<p class="muted">No claims.</p>'
    )
    grant = (
        f'<form method="post" action="{h(here)}/grant" class="grant">'
        '<label>Claim <input type="text" name="claim" required maxlength="64"></label> '
        '<label>Value <input type="text" name="value" required maxlength="255"></label> '
        "<button>Grant</button></form>"
    )
    # A session's stored id is the SHA-256 of its cookie token: naming it in a form
    # hands out nothing that signs anyone in.
    session_rows = "".join(
        f"<tr><td><code>{h(s.session_id[:12])}…</code></td><td>{h(_when(s.created_at))}</td>"
        f"<td>{h(_when(s.expires_at))}</td>"
        f"<td>{'active' if s.expires_at > now else 'expired'}</td><td>"
        + _button_form(f"{here}/revoke-session", "End", {"session": s.session_id}, danger=True)
        + "</td></tr>"
        for s in sessions
    )
    sessions_html = (
        '<table><thead><tr><th scope="col">Session</th><th scope="col">Signed in</th>'
        '<th scope="col">Expires</th><th scope="col">State</th><th></th></tr></thead>'
        f"<tbody>{session_rows}</tbody></table>"
        if sessions
        else '<p class="muted">No sessions.</p>'
    )
    revoke = _button_form(f"{here}/revoke-sessions", "Sign out everywhere", {}, danger=True)
    delete = (
        f'<form method="post" action="{h(here)}/delete">'
        '<label><input type="checkbox" name="confirm" value="yes" required> '
        "Delete this account, its links and sessions</label> "
        '<button class="danger">Delete account</button></form>'
    )
    body = (
        f"<h1>{h(user.email or user.user_id)}</h1>"
        + _note(message)
        + _note(error, error=True)
        + f"<section><h2>Account</h2>{details}<p>{switch}</p></section>"
        + f"<section><h2>Linked identities</h2>{links_html}</section>"
        + f"<section><h2>Claims</h2>{claims_html}<p>{grant}</p></section>"
        + f"<section><h2>Sessions</h2>{sessions_html}<p>{revoke}</p></section>"
        + f"<section><h2>Delete</h2>{delete}</section>"
    )
    return _layout(user.email or user.user_id, base, body)


def message_page(*, base: str, title: str, message: str) -> str:
    """A short page for refusals and missing accounts."""
    return _layout(title, base, f"<h1>{h(title)}</h1><section><p>{h(message)}</p></section>")
