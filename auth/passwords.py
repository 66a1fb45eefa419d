"""Password hashing with argon2id and the password policy.

Policy (NIST SP 800-63B / ASVS V2.1): 12 to 128 characters, any characters,
no composition rules, not a common password. Hashes made with older argon2
parameters are replaced at the next successful sign-in (``needs_rehash``)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
# Digits and punctuation people pad a common word with ("Password123!", "!!dragon2024").
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class WeakPassword(ValueError):
    pass


@functools.cache
def common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").split())


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise WeakPassword with a message meant for the person choosing it."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters. A few unrelated words make a good password.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    core = _PADDING.sub("", lowered)
    listed = common_passwords()
    if lowered in listed or (len(core) >= 8 and core in listed):
        raise WeakPassword("This password is on the list of commonly used passwords. Choose another one.")
    if len(set(lowered)) <= 2 or _is_repetition(lowered):
        raise WeakPassword("This password repeats the same few characters. Choose another one.")
    if email:
        address = email.strip().lower()
        if lowered in (address, address.split("@")[0]):
            raise WeakPassword("Do not use your email address as your password.")


def _is_repetition(text: str) -> bool:
    """"passwordpassword", "abcabcabcabc": one short piece said again and again."""
    return any(len(text) % n == 0 and text == text[:n] * (len(text) // n) for n in range(1, len(text) // 2 + 1))


def hash_password(password: str, *, email: str | None = None) -> str:
    check_policy(password, email=email)
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A fresh hash with the current parameters for a password that just verified
    (no policy check: the policy may have changed since it was chosen)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not password or len(password) > MAX_LENGTH:
        # Still spend the hashing time so a missing user is not faster to reject.
        _hasher.hash("timing-equaliser")
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False
