"""Outgoing email through the SMTP server named by `CARTERA_SMTP_URL`.

`smtp://user:password@host:587` uses STARTTLS when the server offers it,
`smtps://…:465` speaks TLS from the start, and `smtp://host:port?tls=off`
(a local relay or a test server) sends in plain text. Without a URL, messages
are written to the log instead, so a fresh install never fails on mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Mailer:
    url: str
    sender: str

    def send(self, to: str, subject: str, text: str, *, html: str | None = None) -> bool:
        """Send one message; `False` (and a logged warning) when the server refuses it.

        Callers send after their transaction commits, so a mail failure never undoes
        the change it reports.
        """
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        if not self.url:
            logger.info("mail not configured; would send to %s: %s\n%s", to, subject, text)
            return True
        try:
            with _connect(self.url) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            logger.warning("could not send mail to %s: %s", to, subject, exc_info=True)
            return False
        return True


def _connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    host = parts.hostname or "127.0.0.1"
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=TIMEOUT_SECONDS, context=context)
    elif parts.scheme == "smtp":
        smtp = smtplib.SMTP(host, parts.port or 587, timeout=TIMEOUT_SECONDS)
        if options.get("tls", ["on"])[0] != "off":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
    else:
        raise smtplib.SMTPException(f"unknown mail scheme {parts.scheme!r}")
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp


def sender_address(name: str, address: str) -> str:
    return formataddr((name, address))
