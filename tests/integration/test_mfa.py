"""TOTP second factor: enrolment, code checks, replay, attempt limits, recovery
codes, reset, encryption at rest (services.mfa against the database)."""
from __future__ import annotations

import secrets

import pyotp
import pytest
from sqlalchemy import func, select

from db.models import AuditLog, MfaRecoveryCode, User, UserMfa
from services import mfa

KEY = "unit-test-secret-key-" + "k" * 20
T0 = 1_800_000_000.0  # a fixed instant; step = T0 // 30


def make_user(session, role: str = "manager") -> User:
    user = User(email=f"mfa-{secrets.token_hex(4)}@scope.example", role=role, name="MFA Test",
                password_hash=None)
    session.add(user)
    session.flush()
    return user


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)


def enrolled(session, when: float = T0) -> tuple[User, str, list[str]]:
    user = make_user(session)
    secret = mfa.new_secret()
    codes = mfa.enrol(session, user, secret, code_at(secret, when), secret_key=KEY, now=when)
    return user, secret, codes


def actions(session, user: User, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.target_id == str(user.id), AuditLog.action == action))


def test_enrolment_needs_a_matching_code_and_stores_the_secret_encrypted(db_session):
    user = make_user(db_session)
    secret = mfa.new_secret()
    with pytest.raises(mfa.MfaError, match="does not match"):
        mfa.enrol(db_session, user, secret, code_at(secret, T0 - 300), secret_key=KEY, now=T0)
    with pytest.raises(mfa.MfaError, match="6-digit"):
        mfa.enrol(db_session, user, secret, "abc", secret_key=KEY, now=T0)
    assert not mfa.is_enrolled(db_session, user.id)

    codes = mfa.enrol(db_session, user, secret, code_at(secret, T0), secret_key=KEY, now=T0)
    row = db_session.get(UserMfa, user.id)
    assert secret not in row.secret_encrypted and secret.lower() not in row.secret_encrypted.lower()
    assert mfa.decrypt_secret(row.secret_encrypted, KEY) == secret
    assert mfa.decrypt_secret(row.secret_encrypted, "another-key-" + "z" * 30) is None
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db_session.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id)).all()
    plain = set(codes) | {mfa.normalise_recovery(c) for c in codes}
    assert len(stored) == 10 and not set(stored) & plain
    assert actions(db_session, user, "mfa.enrolled") == 1
    with pytest.raises(mfa.MfaError, match="already set up"):
        mfa.enrol(db_session, user, secret, code_at(secret, T0 + 30), secret_key=KEY, now=T0 + 30)


def test_code_accepted_once_per_time_step(db_session):
    user, secret, _ = enrolled(db_session, T0 - 60)
    first = mfa.check(db_session, user, code_at(secret, T0), secret_key=KEY, now=T0)
    assert first.ok and first.method == "totp"
    replay = mfa.check(db_session, user, code_at(secret, T0), secret_key=KEY, now=T0 + 5)
    assert not replay.ok and "already used" in replay.message
    # The previous step's code is older than the one just used: refused too.
    older = mfa.check(db_session, user, code_at(secret, T0 - 30), secret_key=KEY, now=T0 + 5)
    assert not older.ok
    assert mfa.check(db_session, user, code_at(secret, T0 + 30), secret_key=KEY, now=T0 + 30).ok
    assert actions(db_session, user, "mfa.success") == 2
    assert actions(db_session, user, "mfa.failure") == 2


def test_the_enrolment_code_cannot_be_replayed_at_sign_in(db_session):
    user, secret, _ = enrolled(db_session, T0)
    assert not mfa.check(db_session, user, code_at(secret, T0), secret_key=KEY, now=T0 + 1).ok


def test_codes_within_one_step_of_clock_drift_pass_and_farther_do_not(db_session):
    user, secret, _ = enrolled(db_session, T0 - 600)
    assert mfa.check(db_session, user, code_at(secret, T0 - 30), secret_key=KEY, now=T0).ok
    assert not mfa.check(db_session, user, code_at(secret, T0 + 90), secret_key=KEY, now=T0).ok


def test_wrong_codes_are_counted_and_lock_the_second_step(db_session):
    user, secret, codes = enrolled(db_session, T0 - 600)
    wrong = "000000" if code_at(secret, T0) != "000000" else "111111"
    for attempt in range(1, mfa.MAX_FAILURES):
        result = mfa.check(db_session, user, wrong, secret_key=KEY, now=T0 + attempt)
        assert not result.ok and not result.locked
        assert db_session.get(UserMfa, user.id).failed_attempts == attempt
    last = mfa.check(db_session, user, wrong, secret_key=KEY, now=T0 + 10)
    assert last.locked and "Too many" in last.message
    # While locked even the right code and a recovery code are refused, without checking them.
    right = mfa.check(db_session, user, code_at(secret, T0 + 30), secret_key=KEY, now=T0 + 30)
    assert not right.ok and right.locked
    assert not mfa.check(db_session, user, codes[0], secret_key=KEY, now=T0 + 31).ok
    assert actions(db_session, user, "mfa.failure") == mfa.MAX_FAILURES
    after = T0 + 10 + mfa.LOCK_MINUTES * 60 + 5
    assert mfa.check(db_session, user, code_at(secret, after), secret_key=KEY, now=after).ok
    assert db_session.get(UserMfa, user.id).failed_attempts == 0


def test_recovery_code_works_once(db_session):
    user, _, codes = enrolled(db_session, T0)
    used = mfa.check(db_session, user, codes[3].upper().replace("-", " "), secret_key=KEY, now=T0 + 40)
    assert used.ok and used.method == "recovery" and used.recovery_codes_left == 9
    again = mfa.check(db_session, user, codes[3], secret_key=KEY, now=T0 + 41)
    assert not again.ok
    assert actions(db_session, user, "mfa.recovery_code_used") == 1
    _, _, other_codes = enrolled(db_session, T0)
    assert not mfa.check(db_session, user, other_codes[0], secret_key=KEY, now=T0 + 42).ok
    assert mfa.status(db_session, user.id)["recovery_codes_left"] == 9


def test_reset_removes_the_authenticator_and_codes(db_session):
    user, _, _ = enrolled(db_session, T0)
    admin = make_user(db_session, "admin")
    assert mfa.reset_mfa(db_session, user.id, admin) is True
    assert not mfa.is_enrolled(db_session, user.id)
    assert db_session.scalar(select(func.count()).select_from(MfaRecoveryCode)
                             .where(MfaRecoveryCode.user_id == user.id)) == 0
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "mfa.reset",
                                                     AuditLog.target_id == str(user.id)))
    assert entry.actor == admin.email and entry.actor_id == admin.id
    assert mfa.reset_mfa(db_session, user.id, "cli") is False
    with pytest.raises(mfa.MfaError):
        mfa.reset_mfa(db_session, 0, "cli")


def test_role_rule():
    assert mfa.requires_mfa("admin") and mfa.requires_mfa("manager")
    assert not mfa.requires_mfa("adjuster") and not mfa.requires_mfa("viewer")


def test_cli_resets_a_locked_out_admin(database_url, session_factory):
    from tests.integration.test_cli import scope

    with session_factory.begin() as session:
        user, _, _ = enrolled(session, T0)
        email, uid = user.email, user.id
    result = scope("mfa", "reset", "--email", email, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "set it up again" in result.stdout
    with session_factory() as session:
        assert not mfa.is_enrolled(session, uid)
    missing = scope("mfa", "reset", "--email", "nobody@scope.example", database_url=database_url)
    assert missing.returncode == 1 and "no user with email" in missing.stderr


def test_run_command_says_set_up_at_first_sign_in_only_until_enrolled(db_session):
    """`scope run` lists the demo logins: "(set up at first sign-in)" is for an admin or
    manager who has not enrolled yet, not after they did."""
    import contextlib

    import cli
    from jobs.bootstrap import DEMO_LOGINS

    users = {}
    for login in DEMO_LOGINS:  # this database has no demo users: make them
        users[login.role] = User(email=login.email, role=login.role, name=login.role, password_hash=None)
        db_session.add(users[login.role])
    db_session.flush()

    def notes() -> dict[str, str]:
        return {login.role: note for login, note in cli._demo_login_notes(lambda: contextlib.nullcontext(db_session))}

    before = notes()
    assert before["adjuster"] == "" and before["viewer"] == ""
    assert "set up at first sign-in" in before["manager"]
    secret = mfa.new_secret()
    mfa.enrol(db_session, users["manager"], secret, code_at(secret, T0), secret_key=KEY, now=T0)
    after = notes()
    assert after["manager"] == "  + authenticator app code"
    assert "set up at first sign-in" in after["admin"]
