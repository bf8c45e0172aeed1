"""ASGI middleware: who is asking, CSRF, language and zone, security headers."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.config import Settings
from portal.core.sessions import load_user
from portal.i18n import current_language, current_zone, gettext, pick_language

SESSION_COOKIE = "cartera_session"
ANON_COOKIE = "cartera_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Public web forms (portal/core/routes/leads.py): visitors from other sites post
# here with no session and no cookie, so the session's CSRF check cannot apply.
# Their own signed form token, honeypot and rate limit protect them instead.
PUBLIC_FORM_PREFIX = "/f/"

_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "permissions-policy": "camera=(), microphone=(), geolocation=(self)",
}


def csrf_token_for(secret: str, session_token: str) -> str:
    digest = hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256)
    return digest.hexdigest()


def cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str:
    for key, value in headers:
        if key == b"cookie":
            # The reader behind Starlette's request.cookies: a tenth of what
            # SimpleCookie costs, and a malformed pair drops only itself.
            found = cookie_parser(value.decode("latin-1")).get(name)
            if found is not None:
                return found
    return ""


class PortalMiddleware:
    """Loads the user, checks CSRF on state changes and sets language and zone."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/static/"):
            # Static files need no user, language or database query.
            await self.app(scope, receive, _static_sender(send))
            return
        if scope["path"].startswith(PUBLIC_FORM_PREFIX):
            await self._public(scope, receive, send)
            return
        headers = scope["headers"]
        session_token = cookie_value(headers, SESSION_COOKIE)
        user = load_user(session_token)
        # Only a visitor who is not signed in needs the anonymous token.
        anon_token = "" if user is not None else cookie_value(headers, ANON_COOKIE)
        new_anon = ""
        if user is None and not anon_token:
            anon_token = new_anon = secrets.token_urlsafe(24)
        binding = session_token if user else "anon:" + anon_token
        expected = csrf_token_for(self.settings.secret_key, binding)

        state = scope.setdefault("state", {})
        state.update(user=user, csrf_token=expected, session_token=session_token)
        request = Request(scope)
        language = (user.language if user else "") or pick_language(
            request.headers.get("accept-language", ""), self.settings.language
        )
        zone = (user.time_zone if user else "") or self.settings.time_zone
        language_token = current_language.set(language)
        zone_token = current_zone.set(zone)
        try:
            if scope["method"] not in SAFE_METHODS:
                receive, refusal = await self._check_csrf(scope, receive, expected)
                if refusal is not None:
                    await refusal(scope, receive, self._sender(send, new_anon))
                    return
            await self.app(scope, receive, self._sender(send, new_anon))
        finally:
            current_language.reset(language_token)
            current_zone.reset(zone_token)

    async def _public(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A public form: no user, no cookie, no CSRF token; the view checks its own."""
        state = scope.setdefault("state", {})
        state.update(user=None, csrf_token="", session_token="")
        request = Request(scope)
        language = pick_language(request.headers.get("accept-language", ""), self.settings.language)
        language_token = current_language.set(language)
        zone_token = current_zone.set(self.settings.time_zone)
        try:
            await self.app(scope, receive, self._sender(send, "", framed=True))
        finally:
            current_language.reset(language_token)
            current_zone.reset(zone_token)

    def _sender(self, send: Send, new_anon: str, *, framed: bool = False) -> Send:
        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for key, value in _SECURITY_HEADERS.items():
                    # A public form may sit in the company's site; its view
                    # says where in its own content-security-policy.
                    if not (framed and key == "x-frame-options"):
                        response_headers.setdefault(key, value)
                # Pages and exports hold clients' data: no shared or disk cache.
                response_headers.setdefault("cache-control", "no-store")
                if new_anon:
                    secure = "; Secure" if self.settings.secure_cookies else ""
                    response_headers.append(
                        "set-cookie",
                        f"{ANON_COOKIE}={new_anon}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        return sender

    async def _check_csrf(
        self, scope: Scope, receive: Receive, expected: str
    ) -> tuple[Receive, ASGIApp | None]:
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            return receive, _refuse(gettext("Cross-site request refused."))

        # The body is read (and its size checked) whichever way the token comes:
        # an htmx request carrying the header must not bypass the upload limit.
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.settings.max_upload_bytes:
                limit = self.settings.max_upload_bytes // (1024 * 1024)
                text = gettext("The upload is too large (limit %(mb)s MB).", mb=limit)
                return receive, _refuse(text, status_code=413)

        replay = _replayer(bytes(body))
        given = request.headers.get(CSRF_HEADER, "")
        if given:
            ok = _same(given, expected)
            return replay, None if ok else _refuse(_expired_message())
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/")):
            try:
                async with Request(scope, _replayer(bytes(body))).form() as form:
                    value = form.get(CSRF_FIELD, "")
                    given = value if isinstance(value, str) else ""
            except HTTPException as problem:  # a malformed form or too many fields
                return receive, _refuse(str(problem.detail), status_code=400)
        if not given or not _same(given, expected):
            return replay, _refuse(_expired_message())
        return replay, None


def _same(given: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses str with characters beyond ASCII.
    return hmac.compare_digest(given.encode(), expected.encode())


def _static_sender(send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            response_headers = MutableHeaders(scope=message)
            response_headers.setdefault("x-content-type-options", "nosniff")
            response_headers.setdefault("cache-control", "public, max-age=86400")
        await send(message)

    return sender


def _expired_message() -> str:
    return gettext("Your form expired or came from another site. Reload the page and try again.")


def _refuse(text: str, status_code: int = 403) -> ASGIApp:
    # A small page of its own: the templates need a request that passed this check.
    body = (
        '<!doctype html><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1"><title>Cartera</title>'
        f'<p>{html.escape(text)}</p><p><a href="/">Cartera</a></p>'
    )
    return HTMLResponse(body, status_code=status_code)


def _replayer(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
