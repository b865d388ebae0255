"""Anti-CSRF tokens of the forms that set or end a session, signed with `UNLEARN_SECRET_KEY`.

Two kinds, both an HMAC-SHA256 under the secret key, so a token is stored nowhere and
cannot be made without the key:

- anonymous forms (log in, sign up): a signed double-submit token `<expiry>.<nonce>.<mac>`.
  The page puts it in the `unlearn_csrf` cookie (HttpOnly, SameSite=Strict) and in the form's
  hidden `csrf_token` field; a post must bring both, equal, with a valid mac and not past
  its expiry. A form on another site sends neither the cookie nor a token (review F6: a
  cross-site sign-up logged the victim into the attacker's account).
- a logged-in user's forms (log out, change password): the mac of the session token. It is
  bound to that session; a cross-site post carries no session cookie (SameSite=Lax), so it
  has nothing to match (review F15: a cross-site form logged the victim out).

Used by `api.pages` (login, logout), `api.pages.accounts` (sign up, password) and
`api.pages.render`, which hands the session token to every page for the logout form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Request
from fastapi.responses import Response

from api.deps import SESSION_COOKIE

__all__ = [
    "COOKIE",
    "FIELD",
    "TOKEN_SECONDS",
    "anonymous_token",
    "anonymous_token_valid",
    "forget_anonymous_token",
    "session_token",
    "session_token_valid",
    "set_anonymous_cookie",
]

COOKIE = "unlearn_csrf"
FIELD = "csrf_token"  # the hidden input's name in every protected form
TOKEN_SECONDS = 3600  # an anonymous form older than this is refused (a reload renews it)


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _equal(a: str, b: str) -> bool:
    # Constant time; bytes, because compare_digest refuses non-ASCII str (a forged field).
    return hmac.compare_digest(a.encode(), b.encode())


def _signed(secret: str, token: str) -> bool:
    expiry, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not expiry.isdigit() or not nonce or int(expiry) < time.time():
        return False
    return _equal(mac, _mac(secret, f"anonymous|{expiry}.{nonce}"))


def anonymous_token(request: Request) -> str:
    """The token for an anonymous form: the browser's own while it is valid (two open forms
    keep working), else a new one."""
    secret = request.app.state.settings.secret_key
    current = request.cookies.get(COOKIE, "")
    if current and _signed(secret, current):
        return current
    body = f"{int(time.time()) + TOKEN_SECONDS}.{secrets.token_urlsafe(18)}"
    return f"{body}.{_mac(secret, f'anonymous|{body}')}"


def set_anonymous_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=TOKEN_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.environment == "production",
    )


def forget_anonymous_token(response: Response) -> None:
    """Once the session is set, the anonymous token has done its job."""
    response.delete_cookie(COOKIE, path="/")


def anonymous_token_valid(request: Request, field: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    secret = request.app.state.settings.secret_key
    return bool(cookie) and _equal(cookie, field) and _signed(secret, cookie)


def session_token(request: Request) -> str:
    """The token of a logged-in user's forms: "" without a session cookie."""
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session:
        return ""
    return _mac(request.app.state.settings.secret_key, f"session|{session}")


def session_token_valid(request: Request, field: str) -> bool:
    expected = session_token(request)
    return bool(expected) and _equal(expected, field)
