"""Emails written from templates, in the recipient's language.

An email template has three blocks: `subject`, `text` and `html`. The first two
sit inside `{% autoescape false %}` (plain text needs no HTML escaping); the
`html` block is escaped like every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2_fragments import render_block
from starlette.applications import Starlette

from portal.core import tokens
from portal.core.models import User
from portal.i18n import current_language

_LINK_TEMPLATES = {tokens.INVITE: "email/invite.html", tokens.RESET: "email/reset.html"}


@contextmanager
def _speaking(language: str) -> Iterator[None]:
    reset = current_language.set(language)
    try:
        yield
    finally:
        current_language.reset(reset)


def compose(app: Starlette, template: str, language: str, **context: Any) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one email."""
    env = app.state.templates
    context = {**context, "language": language}
    with _speaking(language):
        subject = render_block(env, template, "subject", context)
        text = render_block(env, template, "text", context)
        html = render_block(env, template, "html", context)
    # A line break in a subject would start a new header.
    return " ".join(subject.split()), text.strip() + "\n", html


def send_link(app: Starlette, user: User, purpose: str, token: str, *, sender: str = "") -> bool:
    """Email `user` their one-time link; False when the mail server refused it."""
    settings = app.state.settings
    lifetime = tokens.LIFETIMES[purpose]
    subject, text, html = compose(
        app,
        _LINK_TEMPLATES[purpose],
        user.language or settings.language,
        name=user.name,
        sender=sender,
        link=f"{settings.base_url}/password/new/{token}",
        days=lifetime.days,
        minutes=int(lifetime.total_seconds() // 60),
    )
    return app.state.mailer.send(user.email, subject, text, html=html)
