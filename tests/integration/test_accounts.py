"""services.accounts and services.account_tokens against a real database:
invitations, verification, reset tokens, the last admin, validation."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text, update

from db.models import AccountToken, AuditLog, OidcIdentity, User
from services import account_tokens as tokens
from services import accounts
from services.account_tokens import TokenInvalid
from services.accounts import AccountError, Actor
from services.users import authenticate, create_user
from tests.mailsink import link_in

BASE = "https://scope.test"
_seq = itertools.count()


def _admin(session, **kw):
    return create_user(session, email=f"acc-admin{next(_seq)}@test.example", role="admin",
                       password="admin password for tests", email_verified=True, **kw)


def _audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditLog))


def _token_of(mail) -> str:
    return link_in({"body": mail.body})[1]


def test_invite_then_accept_sets_password_verifies_and_signs_in(db_session):
    admin = _admin(db_session)
    user, mails = accounts.invite(db_session, admin, email=" New.Person@Test.Example ", name="", role="adjuster",
                                  departments=["AUTO_PD"], base_url=BASE)
    assert user.email == "new.person@test.example" and user.password_hash is None
    assert accounts.status_of(user) == "invited"
    assert [m.to for m in mails] == ["new.person@test.example"]
    path, token = link_in({"body": mails[0].body})
    assert path == "/accept-invite" and mails[0].body.count(BASE + "/accept-invite?token=") == 1
    # Only a hash is stored.
    stored = db_session.scalars(select(AccountToken.token_hash).where(AccountToken.user_id == user.id)).all()
    assert token not in stored and len(stored) == 1
    assert authenticate(db_session, user.email, "anything at all here") is None

    accounts.accept_invite(db_session, token, name="New Person", password="a fine long passphrase")
    assert user.email_verified_at is not None and user.name == "New Person"
    assert authenticate(db_session, user.email, "a fine long passphrase").id == user.id
    with pytest.raises(TokenInvalid):  # single use
        accounts.accept_invite(db_session, token, name="Someone", password="another fine passphrase")


def test_accept_refuses_weak_password_and_keeps_the_token(db_session):
    admin = _admin(db_session)
    user, mails = accounts.invite(db_session, admin, email=f"weak{next(_seq)}@test.example", name="W",
                                  role="viewer", departments=[], base_url=BASE)
    token = _token_of(mails[0])
    for bad, message in (("short", "at least 12"), ("qwerty123456", "commonly used"), ("p" * 129, "at most 128")):
        with pytest.raises(AccountError, match=message):
            accounts.accept_invite(db_session, token, name="W", password=bad)
    assert user.password_hash is None
    accounts.accept_invite(db_session, token, name="W", password="now a good passphrase")


def test_tokens_expire(db_session):
    admin = _admin(db_session)
    user, mails = accounts.invite(db_session, admin, email=f"late{next(_seq)}@test.example", name="",
                                  role="viewer", departments=[], base_url=BASE)
    token = _token_of(mails[0])
    later = dt.datetime.now(dt.UTC) + tokens.LIFETIMES[tokens.INVITE] + dt.timedelta(seconds=1)
    with pytest.raises(TokenInvalid):
        tokens.consume(db_session, token, tokens.INVITE, now=later)
    assert tokens.consume(db_session, token, tokens.INVITE).id == user.id


def test_verification_link_is_single_use_and_expires(db_session):
    admin = _admin(db_session)
    user, mails = accounts.create_direct(db_session, admin, email=f"direct{next(_seq)}@test.example", name="D",
                                         role="viewer", departments=[], password="direct user passphrase",
                                         email_verified=False, base_url=BASE)
    assert user.email_verified_at is None and len(mails) == 1
    path, token = link_in({"body": mails[0].body})
    assert path == "/verify-email"
    too_late = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with pytest.raises(TokenInvalid):
        tokens.consume(db_session, token, tokens.VERIFY_EMAIL, now=too_late)
    accounts.verify_email(db_session, token)
    assert user.email_verified_at is not None
    with pytest.raises(TokenInvalid):
        accounts.verify_email(db_session, token)


def test_admin_can_mark_a_direct_user_verified_without_mail(db_session):
    admin = _admin(db_session)
    user, mails = accounts.create_direct(db_session, admin, email=f"known{next(_seq)}@test.example", name="K",
                                         role="viewer", departments=[], password="known user passphrase",
                                         email_verified=True, base_url=BASE)
    assert mails == [] and user.email_verified_at is not None


def test_reset_token_works_once_and_dies_when_the_password_changes(db_session):
    user = create_user(db_session, email=f"reset{next(_seq)}@test.example", role="viewer",
                       password="original passphrase one", email_verified=True)
    first = _token_of(accounts.request_password_reset(db_session, user.email, base_url=BASE)[0])
    # A second request supersedes the first link.
    second = _token_of(accounts.request_password_reset(db_session, user.email, base_url=BASE)[0])
    with pytest.raises(TokenInvalid):
        tokens.peek(db_session, first, tokens.RESET_PASSWORD)
    # Changing the password on the profile page kills the outstanding link.
    accounts.change_password(db_session, user.id, current_password="original passphrase one",
                             new_password="changed passphrase two", session_id=None)
    with pytest.raises(TokenInvalid):
        accounts.reset_password(db_session, second, "attacker passphrase three")
    third = _token_of(accounts.request_password_reset(db_session, user.email, base_url=BASE)[0])
    # The link is bound to the password hash: any password change, even bypassing the services, kills it.
    user.password_hash = PasswordHasher().hash("set elsewhere passphrase")
    db_session.flush()
    with pytest.raises(TokenInvalid):
        tokens.peek(db_session, third, tokens.RESET_PASSWORD)
    fourth = _token_of(accounts.request_password_reset(db_session, user.email, base_url=BASE)[0])
    accounts.reset_password(db_session, fourth, "reset passphrase four")
    assert authenticate(db_session, user.email, "reset passphrase four") is not None
    with pytest.raises(TokenInvalid):
        accounts.reset_password(db_session, fourth, "reset passphrase five")


def test_reset_token_expires_after_thirty_minutes(db_session):
    user = create_user(db_session, email=f"exp{next(_seq)}@test.example", role="viewer",
                       password="original passphrase one", email_verified=True)
    mail = accounts.request_password_reset(db_session, user.email, base_url=BASE)[0]
    assert "30 minutes" in mail.body
    token = _token_of(mail)
    tokens.peek(db_session, token, tokens.RESET_PASSWORD, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=29))
    with pytest.raises(TokenInvalid):
        tokens.peek(db_session, token, tokens.RESET_PASSWORD,
                    now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31))


def test_reset_for_unknown_deactivated_or_invited_accounts_mails_nobody(db_session):
    admin = _admin(db_session)
    invited, _ = accounts.invite(db_session, admin, email=f"inv{next(_seq)}@test.example", name="", role="viewer",
                                 departments=[], base_url=BASE)
    gone = create_user(db_session, email=f"gone{next(_seq)}@test.example", role="viewer",
                       password="original passphrase one")
    gone.is_active = False
    for email in ("nobody@test.example", invited.email, gone.email, "", None, 12):
        assert accounts.request_password_reset(db_session, email, base_url=BASE) == []


def test_login_rehashes_a_hash_made_with_old_parameters(db_session):
    user = create_user(db_session, email=f"rehash{next(_seq)}@test.example", role="viewer",
                       password="rehash me passphrase")
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("rehash me passphrase")
    user.password_hash = old
    db_session.flush()
    assert authenticate(db_session, user.email, "rehash me passphrase") is not None
    assert user.password_hash != old and "m=65536,t=3,p=4" in user.password_hash
    assert authenticate(db_session, user.email, "rehash me passphrase") is not None


def test_last_admin_cannot_be_demoted_or_deactivated(db_session):
    # Make this transaction's admins the only active ones.
    for other in db_session.scalars(select(User).where(User.role == "admin")):
        other.is_active = False
    db_session.flush()
    admin = _admin(db_session)
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.update_access(db_session, admin, admin.id, role="manager", departments=[])
    with pytest.raises(AccountError, match="your own account"):
        accounts.set_active(db_session, admin, admin.id, False)
    second = _admin(db_session)
    # With a second admin, one may step down; then the other is the last and must stay.
    accounts.update_access(db_session, second, admin.id, role="viewer", departments=[])
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.update_access(db_session, second, second.id, role="viewer", departments=[])
    assert admin.role == "viewer" and second.role == "admin"
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.set_active(db_session, admin, second.id, False)


def _only_these_admins(session):
    """Make this transaction's admins the only active ones (rolled back after the test)."""
    for other in session.scalars(select(User).where(User.role == "admin")):
        other.is_active = False
    session.flush()


def _sso_admin(session, issuer="https://idp.test"):
    """An admin created by a first single sign-on: no password, a linked identity."""
    user = create_user(session, email=f"sso-admin{next(_seq)}@test.example", role="admin", password=None,
                       email_verified=True)
    session.add(OidcIdentity(issuer=issuer, subject=f"sub-{user.id}", user_id=user.id))
    session.flush()
    return user


def test_an_sso_admin_counts_as_the_other_admin_only_while_sso_is_configured(db_session):
    _only_these_admins(db_session)
    admin, sso_admin = _admin(db_session), _sso_admin(db_session)
    # SSO off: the SSO admin cannot sign in, so the password admin is the last one.
    with pytest.raises(AccountError, match="at least one active admin who can sign in"):
        accounts.update_access(db_session, admin, admin.id, role="manager", departments=[], sso=False)
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.set_active(db_session, sso_admin, admin.id, False)  # sso defaults to off
    assert admin.role == "admin" and admin.is_active
    # SSO configured: either may step down while the other remains.
    accounts.update_access(db_session, sso_admin, admin.id, role="manager", departments=[], sso=True)
    assert admin.role == "manager"
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.set_active(db_session, admin, sso_admin.id, False, sso=True)
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.update_access(db_session, sso_admin, sso_admin.id, role="viewer", departments=[], sso=True)
    # A second SSO admin lets the first be deactivated.
    second_sso = _sso_admin(db_session)
    _, _ = accounts.set_active(db_session, second_sso, sso_admin.id, False, sso=True)
    assert not sso_admin.is_active and second_sso.is_active


def test_an_invited_admin_who_never_accepted_does_not_count(db_session):
    _only_these_admins(db_session)
    admin = _admin(db_session)
    invited, _ = accounts.invite(db_session, admin, email=f"inv-admin{next(_seq)}@test.example", name="",
                                 role="admin", departments=[], base_url=BASE)
    assert accounts.status_of(invited) == "invited"
    for sso in (False, True):
        with pytest.raises(AccountError, match="at least one active admin"):
            accounts.update_access(db_session, invited, admin.id, role="viewer", departments=[], sso=sso)
    assert admin.role == "admin"
    # A deactivated admin with a password does not count either.
    gone = _admin(db_session)
    gone.is_active = False
    db_session.flush()
    with pytest.raises(AccountError, match="at least one active admin"):
        accounts.update_access(db_session, admin, admin.id, role="viewer", departments=[], sso=True)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(session_factory):
    """The count locks every active admin row: the second demotion waits for the first
    to commit, then finds no other admin and is refused (without the lock both commit)."""
    import threading

    with session_factory() as setup:
        others = list(setup.scalars(select(User.id).where(User.role == "admin", User.is_active.is_(True))))
        setup.execute(update(User).where(User.id.in_(others)).values(is_active=False))
        first, second = _admin(setup), _sso_admin(setup)
        setup.commit()
        ids = (first.id, second.id)
    outcome = {}
    try:
        one, two = session_factory(), session_factory()
        # The first admin demotes the second and holds its transaction open...
        accounts.update_access(one, Actor(first.id, first.email), second.id, role="manager", departments=[],
                               sso=True)

        def other():
            try:
                two.execute(text("SET LOCAL lock_timeout = '20s'"))
                accounts.update_access(two, Actor(second.id, second.email), first.id, role="manager",
                                       departments=[], sso=True)
                two.commit()
                outcome["result"] = "demoted"
            except Exception as exc:  # noqa: BLE001 (said in the assertion: a deadlock without the lock)
                two.rollback()
                outcome["result"] = str(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), f"the second demotion did not wait for the first: {outcome}"
        one.commit()
        thread.join(25)
        assert "at least one active admin" in outcome.get("result", ""), outcome
        one.close()
        two.close()
        with session_factory() as check:
            roles = dict(check.execute(select(User.id, User.role).where(User.id.in_(ids))).all())
        assert roles == {first.id: "admin", second.id: "manager"}
    finally:
        with session_factory() as cleanup:  # (audited users stay: the audit log refers to them)
            cleanup.execute(update(User).where(User.id.in_(ids)).values(is_active=False))
            cleanup.execute(update(User).where(User.id.in_(others)).values(is_active=True))
            cleanup.commit()


def test_tampered_admin_inputs_are_refused_and_nothing_is_written(db_session):
    admin = _admin(db_session)
    target = create_user(db_session, email=f"target{next(_seq)}@test.example", role="adjuster",
                         password="target passphrase one", department_codes=["AUTO_PD"])
    before = _audit_count(db_session)
    bad_calls = [
        (lambda: accounts.update_access(db_session, admin, 2**40, role="viewer", departments=[]), "No such user"),
        (lambda: accounts.update_access(db_session, admin, "1", role="viewer", departments=[]), "No such user"),
        (lambda: accounts.update_access(db_session, admin, True, role="viewer", departments=[]), "No such user"),
        (lambda: accounts.update_access(db_session, admin, -5, role="viewer", departments=[]), "No such user"),
        (lambda: accounts.update_access(db_session, admin, target.id, role="root", departments=[]), "Choose a role"),
        (lambda: accounts.update_access(db_session, admin, target.id, role=["admin"], departments=[]),
         "Choose a role"),
        (lambda: accounts.update_access(db_session, admin, target.id, role="adjuster",
                                        departments=["AUTO_PD", "NOPE"]), "Unknown department: NOPE"),
        (lambda: accounts.update_access(db_session, admin, target.id, role="adjuster",
                                        departments="AUTO_PD"), "list of department codes"),
        (lambda: accounts.set_active(db_session, admin, target.id, "false"), "activate or deactivate"),
        (lambda: accounts.invite(db_session, admin, email="not-an-email", name="", role="viewer", departments=[],
                                 base_url=BASE), "valid email"),
        (lambda: accounts.invite(db_session, admin, email=target.email, name="", role="viewer", departments=[],
                                 base_url=BASE), "already an account"),
        (lambda: accounts.invite(db_session, admin, email="x@test.example", name="n" * 121, role="viewer",
                                 departments=[], base_url=BASE), "at most 120"),
        (lambda: accounts.create_direct(db_session, admin, email="y@test.example", name="", role="viewer",
                                        departments=[], password="password1234", email_verified=False,
                                        base_url=BASE), "commonly used"),
        (lambda: accounts.list_users(db_session, status="everything"), "Choose a status"),
    ]
    for call, message in bad_calls:
        with pytest.raises(AccountError, match=message):
            call()
    db_session.expire_all()
    assert target.role == "adjuster" and [d.code for d in target.departments] == ["AUTO_PD"] and target.is_active
    assert _audit_count(db_session) == before
    assert accounts.list_users(db_session, search="y@test.example") == []


def test_changes_are_audited_with_before_and_after(db_session):
    admin = _admin(db_session)
    target = create_user(db_session, email=f"aud{next(_seq)}@test.example", role="adjuster",
                         password="target passphrase one", department_codes=["AUTO_PD"])
    accounts.update_access(db_session, admin, target.id, role="manager", departments=["AUTO_GLASS"])
    accounts.set_active(db_session, admin, target.id, False)
    rows = db_session.execute(select(AuditLog.action, AuditLog.before, AuditLog.after, AuditLog.actor_id)
                              .where(AuditLog.target_id == str(target.id), AuditLog.target_type == "user")
                              .order_by(AuditLog.id)).all()
    change = next(r for r in rows if r.action == "user.access_change")
    assert change.before == {"role": "adjuster", "departments": ["AUTO_PD"]}
    assert change.after == {"role": "manager", "departments": ["AUTO_GLASS"]}
    assert change.actor_id == admin.id
    deactivate = next(r for r in rows if r.action == "user.deactivate")
    assert deactivate.before == {"active": True} and deactivate.after["active"] is False


def test_deactivation_ends_sessions_and_links(db_session):
    from services import sessions

    admin = _admin(db_session)
    target = create_user(db_session, email=f"deact{next(_seq)}@test.example", role="viewer",
                         password="target passphrase one", email_verified=True)
    sid = sessions.start_session(db_session, target.id, ip="127.0.0.1", user_agent="test")
    reset = _token_of(accounts.request_password_reset(db_session, target.email, base_url=BASE)[0])
    _, ended = accounts.set_active(db_session, admin, target.id, False)
    assert ended == 1 and sessions.load_active(db_session, sid) is None
    with pytest.raises(TokenInvalid):
        tokens.peek(db_session, reset, tokens.RESET_PASSWORD)
    accounts.set_active(db_session, admin, target.id, True)
    assert sessions.load_active(db_session, sid) is None  # reactivation does not revive old sessions


def test_password_change_needs_the_current_password_and_keeps_only_this_session(db_session):
    from services import sessions

    user = create_user(db_session, email=f"pwc{next(_seq)}@test.example", role="viewer",
                       password="original passphrase one", email_verified=True)
    mine = sessions.start_session(db_session, user.id, ip=None, user_agent=None)
    other = sessions.start_session(db_session, user.id, ip=None, user_agent=None)
    with pytest.raises(AccountError, match="current password is not correct"):
        accounts.change_password(db_session, user.id, current_password="wrong", new_password="new passphrase two",
                                 session_id=mine)
    for empty in ("", None):  # left empty: asked for, not called wrong, not counted as a failed guess
        with pytest.raises(AccountError, match="Enter your current password") as refused:
            accounts.change_password(db_session, user.id, current_password=empty,
                                     new_password="new passphrase two", session_id=mine)
        assert not isinstance(refused.value, accounts.ReauthenticationFailed)
    with pytest.raises(AccountError, match="same as the current"):
        accounts.change_password(db_session, user.id, current_password="original passphrase one",
                                 new_password="original passphrase one", session_id=mine)
    ended, mails = accounts.change_password(db_session, user.id, current_password="original passphrase one",
                                            new_password="new passphrase two", session_id=mine)
    assert ended == 1 and mails[0].to == user.email
    assert sessions.load_active(db_session, mine) is not None
    assert sessions.load_active(db_session, other) is None


def test_email_change_needs_password_and_reverifies(db_session):
    user = create_user(db_session, email=f"em{next(_seq)}@test.example", role="viewer",
                       password="original passphrase one", email_verified=True)
    old = user.email
    with pytest.raises(AccountError, match="current password"):
        accounts.change_email(db_session, user.id, current_password=None, new_email="new@test.example",
                              base_url=BASE)
    _, mails = accounts.change_email(db_session, user.id, current_password="original passphrase one",
                                     new_email=f"moved{next(_seq)}@test.example", base_url=BASE)
    assert user.email_verified_at is None
    assert [m.to for m in mails] == [user.email, old]
    accounts.verify_email(db_session, _token_of(mails[0]))
    assert user.email_verified_at is not None


def test_an_sso_user_is_listed_active_not_invited_and_cannot_be_sent_an_invitation(db_session):
    admin, sso_admin = _admin(db_session), _sso_admin(db_session)
    invited, _ = accounts.invite(db_session, admin, email=f"inv{next(_seq)}@test.example", name="", role="viewer",
                                 departments=[], base_url=BASE)
    row = accounts.user_summary(db_session, sso_admin.id)
    assert row["status"] == "active" and row["sso"] is True
    assert accounts.user_summary(db_session, invited.id)["status"] == "invited"
    by_status = {s: {u["id"] for u in accounts.list_users(db_session, status=s)} for s in ("active", "invited")}
    assert sso_admin.id in by_status["active"] and sso_admin.id not in by_status["invited"]
    assert invited.id in by_status["invited"] and invited.id not in by_status["active"]
    with pytest.raises(AccountError, match="already accepted"):
        accounts.resend_invite(db_session, admin, sso_admin.id, base_url=BASE)


def test_sso_groups_never_demote_the_only_admin_who_can_sign_in(db_session):
    from services import oidc

    _only_these_admins(db_session)
    sso_admin = _sso_admin(db_session)
    identity = db_session.scalar(select(OidcIdentity).where(OidcIdentity.user_id == sso_admin.id))
    claims = {"sub": identity.subject, "email": sso_admin.email, "email_verified": True, "groups": ["viewers"]}
    group_map = {"viewers": "viewer", "admins": "admin"}
    result = oidc.sign_in(db_session, claims, issuer=identity.issuer, group_map=group_map)
    assert result.user is sso_admin and sso_admin.role == "admin"  # signed in, still admin
    refused = db_session.scalar(select(AuditLog).where(AuditLog.action == "user.role_change_refused",
                                                       AuditLog.target_id == str(sso_admin.id)))
    assert refused.after["role"] == "viewer" and "only admin" in refused.after["reason"]
    # With another admin who can sign in, the provider's groups decide again.
    _admin(db_session)
    oidc.sign_in(db_session, claims, issuer=identity.issuer, group_map=group_map)
    assert sso_admin.role == "viewer"
