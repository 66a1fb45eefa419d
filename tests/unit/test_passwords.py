"""Password policy and argon2 parameters."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from auth import passwords
from auth.passwords import WeakPassword, check_policy


@pytest.mark.parametrize("password", ["short-pw", "x" * 11, ""])
def test_short_passwords_are_refused(password):
    with pytest.raises(WeakPassword, match="at least 12"):
        check_policy(password)


def test_long_passwords_are_refused_at_129_and_allowed_at_128():
    check_policy("correct horse battery " + "staple " * 15 + "x" * (128 - 22 - 105))
    with pytest.raises(WeakPassword, match="at most 128"):
        check_policy("a long passphrase " * 8)  # 144 characters


@pytest.mark.parametrize("password", ["qwerty123456", "QWERTY123456", "Password1234!",
                                      "!!iloveyou2024", "1qaz2wsx3edc"])
def test_common_passwords_and_padded_common_words_are_refused(password):
    with pytest.raises(WeakPassword, match="commonly used"):
        check_policy(password)


def test_no_composition_rules_a_plain_passphrase_passes():
    check_policy("purple elephants dance quietly")  # no digits, no capitals, no symbols
    check_policy("ümlaut and emoji 🦊 are fine")


def test_repeated_characters_and_own_email_are_refused():
    for repetitive in ("abababababababab", "passwordpassword", "zzzzzzzzzzzzz"):
        with pytest.raises(WeakPassword, match="repeats"):
            check_policy(repetitive)
    with pytest.raises(WeakPassword, match="email"):
        check_policy("jane.doe.long@example.com", email="Jane.Doe.Long@example.com")


@pytest.mark.parametrize("password", ["scope-demo-admin", "scope-demo-manager", "scope-demo-adjuster",
                                      "scope-demo-viewer"])
def test_demo_passwords_pass_the_policy(password):
    from jobs.bootstrap import DEMO_LOGINS

    assert password in {d.password for d in DEMO_LOGINS}
    check_policy(password)


def test_the_bundled_list_is_the_documented_ten_thousand_lowercase_entries():
    listed = passwords.common_passwords()
    assert len(listed) == 10_000
    assert {"password1", "iloveyou", "qwerty123456"} <= listed
    assert all(p == p.lower() and len(p) >= 8 for p in listed)


def test_hashes_with_old_parameters_need_a_rehash_and_current_ones_do_not():
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("purple elephants dance")
    assert passwords.verify_password(old, "purple elephants dance")
    assert passwords.needs_rehash(old)
    fresh = passwords.rehash("purple elephants dance")
    assert not passwords.needs_rehash(fresh)
    assert fresh.startswith("$argon2id$")
    assert not passwords.needs_rehash("not-a-hash")
