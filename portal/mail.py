"""Talking SMTP: build one message safely and hand it to the configured server.

Nothing here decides when a mail leaves; portal/core/outbox.py does, and it is
the only caller. The server is named by a URL: `smtp://user:password@host:587`
uses STARTTLS when the server offers it, `smtp://host:587?tls=require` insists
on it, `smtps://…:465` speaks TLS from the start, and `smtp://host:port?tls=off`
(a local relay or a test server) sends in plain text. Without a URL, messages
are written to the log instead, so a fresh install never fails on mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20
SECURITY = ("starttls", "tls", "none")


class PermanentFailure(Exception):
    """The server refused this message for good (a 5xx answer about it)."""


@dataclass(frozen=True)
class Mailer:
    """One SMTP server and the sender the portal's mail comes from."""

    url: str
    sender: str

    def send_message(self, message: EmailMessage) -> None:
        """Send or raise: `PermanentFailure` when retrying cannot help, else the error.

        A refused recipient or message (5xx) is permanent; a refused connection,
        a timeout, a 4xx answer or a refused login may heal, so the caller retries.
        """
        if not self.url:
            logger.info(
                "mail not configured; would send to %s: %s\n%s",
                message["To"],
                message["Subject"],
                _plain_part(message),
            )
            return
        try:
            with _connect(self.url) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(_describe(error)) from error
            raise
        except smtplib.SMTPDataError as error:
            if error.smtp_code >= 500:
                raise PermanentFailure(_describe(error)) from error
            raise


def build_message(
    *,
    sender: str,
    to: str,
    to_name: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str,
    message_id: str,
) -> EmailMessage:
    """A multipart message whose headers cannot carry a line break.

    The policy refuses any header value holding CR or LF, and names and the
    subject are flattened to one line first, so a crafted name cannot add a header.
    """
    message = EmailMessage(policy=policy.default)
    name, address = parseaddr(sender)
    message["From"] = _address(name, address)
    message["To"] = _address(to_name, to)
    if reply_to:
        message["Reply-To"] = _address("", reply_to)
    message["Subject"] = one_line(subject)
    message["Message-ID"] = message_id
    # The plain-text part is always there: some readers show nothing else.
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def one_line(value: str) -> str:
    """Header text: NFC, control characters (CR and LF among them) become spaces."""
    normal = unicodedata.normalize("NFC", value)
    spaced = "".join(
        " " if ch.isspace() or unicodedata.category(ch) == "Cc" else ch for ch in normal
    )
    return " ".join(spaced.split())


def _address(name: str, address: str) -> Address:
    # Address refuses an addr_spec with anything after the address itself.
    return Address(display_name=one_line(name), addr_spec=address.strip())


def _plain_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def _describe(error: smtplib.SMTPException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_text(answer)}" for code, answer in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error)


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def describe(error: BaseException) -> str:
    """One line a person can read in the sent log."""
    if isinstance(error, PermanentFailure):
        return one_line(str(error))
    if isinstance(error, smtplib.SMTPException):
        return one_line(_describe(error)) or type(error).__name__
    return one_line(f"{type(error).__name__}: {error}")


def _connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    tls = options.get("tls", ["on"])[0]
    host = parts.hostname or "127.0.0.1"
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=TIMEOUT_SECONDS, context=context)
    elif parts.scheme == "smtp":
        smtp = smtplib.SMTP(host, parts.port or 587, timeout=TIMEOUT_SECONDS)
        if tls != "off":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
            elif tls == "require":
                smtp.close()
                raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
    else:
        raise smtplib.SMTPException(f"unknown mail scheme {parts.scheme!r}")
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp


def server_url(host: str, port: int, security: str, user: str = "", password: str = "") -> str:
    """The URL for settings kept field by field (the administration page)."""
    from urllib.parse import quote

    scheme = "smtps" if security == "tls" else "smtp"
    login = ""
    if user:
        login = quote(user, safe="") + ":" + quote(password, safe="") + "@"
    query = {"starttls": "?tls=require", "none": "?tls=off"}.get(security, "")
    return f"{scheme}://{login}{host}:{port}{query}"


def shown_url(url: str) -> str:
    """The URL with its password masked, for pages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":•••@", 1)
    return parts._replace(netloc=netloc).geturl()


def sender_address(name: str, address: str) -> str:
    return formataddr((one_line(name), address.strip()))
