from auth.login import safe_next
from auth.passwords import WeakPassword, hash_password, verify_password
from auth.permissions import ROLE_PERMISSIONS, Perm, role_has

import pytest


def test_roles_are_ordered_by_power():
    assert ROLE_PERMISSIONS["viewer"] < ROLE_PERMISSIONS["manager"] < ROLE_PERMISSIONS["admin"]
    assert not role_has("adjuster", Perm.REASSIGN)
    assert not role_has("viewer", Perm.GIVE_FEEDBACK)
    assert role_has("manager", Perm.REASSIGN)
    assert not role_has("nobody", Perm.VIEW_CLAIMS)
    assert not role_has(None, Perm.VIEW_CLAIMS)


def test_argon2id_hash_and_verify():
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse battery")
    assert not verify_password(h, "wrong horse battery")
    assert not verify_password(None, "anything-at-all")


@pytest.mark.parametrize("pw", ["short", "x" * 129])
def test_password_length_policy(pw):
    with pytest.raises(WeakPassword):
        hash_password(pw)


@pytest.mark.parametrize("target,expected", [
    ("/queues?department=X", "/queues?department=X"), ("https://evil.example/", "/"),
    ("//evil.example/x", "/"), ("javascript:alert(1)", "/"), (None, "/"), ("", "/"),
])
def test_login_redirect_stays_on_site(target, expected):
    assert safe_next(target) == expected
