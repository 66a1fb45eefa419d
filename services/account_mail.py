"""The account emails' wording. Plain text: links are shown whole, so a person
can check where they point before following them."""
from __future__ import annotations

from urllib.parse import urlencode

from services.mail import Mail

SIGNATURE = "\n\n— SCOPE Assistant\nThis message was sent automatically; replies are not read."


def link(base_url: str, path: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{path}?{urlencode({'token': token})}"


def invitation(to: str, url: str, inviter: str, role: str, days: int) -> Mail:
    return Mail(to, "You are invited to SCOPE Assistant", (
        f"Hello,\n\n{inviter} invited you to SCOPE Assistant as {role}.\n\n"
        f"Choose your name and password here (the link works once, for {days} days):\n\n{url}\n\n"
        "If you did not expect this invitation, ignore this message." + SIGNATURE))


def verification(to: str, url: str, days: int) -> Mail:
    return Mail(to, "Confirm your email address for SCOPE Assistant", (
        "Hello,\n\nConfirm that this is your address for SCOPE Assistant "
        f"(the link works once, for {days} days):\n\n{url}\n\n"
        "If you do not have a SCOPE account, ignore this message." + SIGNATURE))


def password_reset(to: str, url: str, minutes: int) -> Mail:
    return Mail(to, "Reset your SCOPE Assistant password", (
        "Hello,\n\nSomeone (hopefully you) asked to reset the password of your SCOPE Assistant account.\n\n"
        f"Choose a new password here (the link works once, for {minutes} minutes):\n\n{url}\n\n"
        "If it was not you, ignore this message: your password stays as it is." + SIGNATURE))


def password_changed(to: str, how: str) -> Mail:
    return Mail(to, "Your SCOPE Assistant password was changed", (
        f"Hello,\n\nThe password of your SCOPE Assistant account was {how}. Every other signed-in "
        "session was signed out.\n\nIf this was not you, reset your password at once and tell your "
        "administrator." + SIGNATURE))


def email_changed(to: str, new_email: str) -> Mail:
    return Mail(to, "Your SCOPE Assistant email address was changed", (
        f"Hello,\n\nThe email address of your SCOPE Assistant account was changed to {new_email}.\n\n"
        "If this was not you, tell your administrator at once." + SIGNATURE))
