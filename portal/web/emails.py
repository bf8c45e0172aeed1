"""Emails written from templates, in the recipient's language.

An email template has three blocks: `subject`, `text` and `html`. The first two
sit inside `{% autoescape false %}` (plain text needs no HTML escaping); the
`html` block is escaped like every page. They leave through the outbox
(portal/core/outbox.py), like every mail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jinja2
from jinja2_fragments import render_block
from starlette.applications import Starlette

from portal.core import outbox, tokens
from portal.core.models import OutgoingMail, User
from portal.i18n import current_language

_LINK_TEMPLATES = {tokens.INVITE: "email/invite.html", tokens.RESET: "email/reset.html"}


@contextmanager
def _speaking(language: str) -> Iterator[None]:
    reset = current_language.set(language)
    try:
        yield
    finally:
        current_language.reset(reset)


def compose(
    source: Starlette | jinja2.Environment, template: str, language: str, **context: Any
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one email; `source` is the app or its templates."""
    env = source if isinstance(source, jinja2.Environment) else source.state.templates
    context = {**context, "language": language}
    with _speaking(language):
        subject = render_block(env, template, "subject", context)
        text = render_block(env, template, "text", context)
        html = render_block(env, template, "html", context)
    # A line break in a subject would start a new header.
    return " ".join(subject.split()), text.strip() + "\n", html


def send_link(app: Starlette, user: User, purpose: str, token: str, *, sender: str = "") -> bool:
    """Queue `user`'s one-time link; False when an attempt to send it has failed already.

    In immediate mode the attempt happens before this returns, so the page can
    say the server refused it; with a worker the mail is simply on its way.
    """
    settings = app.state.settings
    lifetime = tokens.LIFETIMES[purpose]
    kind = f"users.{purpose}"
    outbox.supersede(kind, user.email)
    mail = outbox.queue_template(
        app,
        _LINK_TEMPLATES[purpose],
        user.language or settings.language,
        user.email,
        kind=kind,
        to_name=user.name,
        secret=True,
        name=user.name,
        sender=sender,
        link=f"{settings.base_url}/password/new/{token}",
        days=lifetime.days,
        minutes=int(lifetime.total_seconds() // 60),
    )
    mail = OutgoingMail.get_by_id(mail.id)
    return mail.status == "sent" or not mail.last_error
