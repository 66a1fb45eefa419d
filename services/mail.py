"""Outgoing email through SMTP (settings from ``config.Settings``: SCOPE_SMTP_*).

Services only *compose* mail (``Mail``) inside their transaction; the caller
sends it after the commit, so a rolled-back change never mails anyone and a
mail server that is down never undoes a committed change."""
from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from config import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


class MailNotSent(RuntimeError):
    """The message could not be handed to the mail server (the reason is logged)."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="scope.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


def send(settings: Settings, mail: Mail) -> None:
    if not settings.smtp_host:
        log.error("cannot send mail %r to %s: SCOPE_SMTP_HOST is not set", mail.subject, mail.to)
        raise MailNotSent("Email is not configured on this server (SCOPE_SMTP_HOST).")
    message = build_message(settings, mail)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("sending mail %r to %s through %s:%s failed: %s", mail.subject, mail.to, settings.smtp_host,
                  settings.smtp_port, exc)
        raise MailNotSent("The mail server did not accept the message; try again later.") from exc


def send_all(settings: Settings, mails: list[Mail]) -> list[str]:
    """Send each message; return the errors (empty when all went out)."""
    errors = []
    for mail in mails:
        try:
            send(settings, mail)
        except MailNotSent as exc:
            errors.append(str(exc))
    return errors


def send_in_background(settings: Settings, mails: list[Mail]) -> threading.Thread:
    """For answers that must not reveal, by their timing, whether a mail went out
    (password reset): the response does not wait for the mail server."""
    thread = threading.Thread(target=send_all, args=(settings, mails), name="scope-mail", daemon=True)
    thread.start()
    return thread
