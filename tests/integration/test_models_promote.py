"""Changing a dataset's champion by hand: the service, the models page's callback and
``scope models``. Service tests train on test_training_routing's small dataset (rolled
back with db_session); web and CLI tests use a copy of the web database's champion and
put the original back."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from auth.current import SessionUser
from db.models import AuditLog, Dataset, ModelVersion
from services import models
from services.access import AccessDenied
from services.routing import load_champion
from services.training import train_dataset
from tests.integration import test_training_routing as tr
from tests.integration.test_cli import scope
from tests.webutil import call_callback, render_page

# Audit rows name their actor's id: the service tests' admin has no account (actor_id None) unless one is made.
ADMIN = SessionUser(id=None, email="models-admin@scope.example", name="Admin", role="admin", department_ids=())
CHEAP = {"max_depth": 2, "num_boost_round": 5, "early_stopping_rounds": 2,
         "text_options": {"max_word_features": 50, "max_char_features": 0}}


def _champion(session, dataset) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.dataset == dataset,
                                                     ModelVersion.status == "champion"))


def _hand_promotions(session) -> list[AuditLog]:
    return [r for r in session.scalars(select(AuditLog).where(AuditLog.action == "model.promote")
                                       .order_by(AuditLog.id))
            if (r.after or {}).get("by_hand")]


def _copy(session, mv: ModelVersion, *, classes=None, status="retired") -> ModelVersion:
    """Another version with the same model (cheap), optionally predicting other class names."""
    copy = ModelVersion(dataset=mv.dataset, version=f"{mv.dataset}-copy-{uuid.uuid4().hex[:8]}", status=status,
                        params=mv.params, feature_schema=mv.feature_schema, classes=classes or mv.classes,
                        metrics=mv.metrics, train_start=mv.train_start, train_end=mv.train_end, n_train=mv.n_train,
                        n_holdout=mv.n_holdout, artifact_format=mv.artifact_format, artifact=mv.artifact)
    session.add(copy)
    session.flush()
    return copy


@pytest.fixture()
def two_versions(db_session):
    """(champion, candidate) of test_training_routing's dataset, trained cheaply."""
    tr.department_ids_cache.update(tr.department_ids(db_session))
    tr.ensure_dataset(db_session, tr.DATASET, tr.SPEC)
    db_session.add_all(tr._claims(300, closed=True, seed=1, start=dt.date(2025, 1, 1), prefix="MPC"))
    db_session.flush()
    first = train_dataset(db_session, tr.DATASET, params=dict(CHEAP),
                          now=dt.datetime(2025, 7, 1, tzinfo=dt.timezone.utc))
    second = train_dataset(db_session, tr.DATASET, params=dict(CHEAP),
                           now=dt.datetime(2025, 7, 2, tzinfo=dt.timezone.utc))
    assert first["promoted"] and not second["promoted"]
    return (db_session.get(ModelVersion, first["model_version_id"]),
            db_session.get(ModelVersion, second["model_version_id"]))


def test_promote_a_candidate_then_roll_back_to_the_retired_champion(db_session, two_versions):
    old, new = two_versions
    done = models.promote(db_session, ADMIN, new.id, expected_champion_id=old.id, reason="  trial of the new one ")
    assert done["message"].startswith(f"{new.version} now routes new claims of {tr.DATASET}; {old.version} retired. "
                                      "Decisions already made keep their model.")
    assert "keeps its new versions as candidates" in done["message"]
    assert (old.status, new.status) == ("retired", "champion") and new.promoted_at is not None
    assert load_champion(db_session, tr.DATASET).model_version_id == new.id

    # The new champion misbehaves: back to the retired one.
    done = models.promote(db_session, ADMIN, old.id, expected_champion_id=new.id, reason="glass claims sent to Property")
    assert done["previous"] == new.version and done["version"] == old.version
    assert (old.status, new.status) == ("champion", "retired")
    assert load_champion(db_session, tr.DATASET).model_version_id == old.id
    assert models.champion_datasets(db_session).count(tr.DATASET) == 1

    first, second = _hand_promotions(db_session)
    assert first.target_type == "model_version" and first.target_id == str(new.id)
    assert second.target_id == str(old.id) and second.actor == ADMIN.email
    assert second.before["champion"] == new.version and second.before["version_status"] == "retired"
    assert second.after == {"champion": old.version, "dataset": tr.DATASET, "macro_f1": old.metrics["macro_f1"],
                            "accuracy": old.metrics["accuracy"], "reason": "glass claims sent to Property",
                            "by_hand": True, "auto_promote": False, "auto_promote_was": False}
    assert first.after["reason"] == "trial of the new one"


def test_a_champion_chosen_by_hand_is_not_replaced_by_retraining_until_an_admin_allows_it(db_session,
                                                                                         two_versions):
    """A rollback would otherwise last until the next nightly retrain, whose new version beats
    the restored one on the holdout: a hand promotion pauses retraining's own promotions."""
    old, _ = two_versions
    # A champion that any retrained version beats: the same trees with the class names reversed.
    weak = _copy(db_session, old, classes=list(reversed(old.classes)))
    models.promote(db_session, ADMIN, weak.id, expected_champion_id=old.id, reason="rollback drill")
    dataset = db_session.get(Dataset, tr.DATASET)
    assert (dataset.auto_promote, dataset.auto_promote_changed_by) == (False, ADMIN.email)
    assert models.auto_promote_states(db_session)[tr.DATASET]["auto_promote"] is False
    # Even a version that beats the champion by far stays a candidate.
    newer = train_dataset(db_session, tr.DATASET, params=dict(CHEAP), now=dt.datetime(2025, 7, 3, tzinfo=dt.timezone.utc))
    assert newer["metrics"]["macro_f1"] > newer["champion_metrics_on_holdout"]["macro_f1"]
    assert not newer["promoted"] and "paused" in newer["kept_as_candidate_because"]
    assert _champion(db_session, tr.DATASET).id == weak.id
    for user, value, error in [(ADMIN, False, models.ModelError), (ADMIN, "yes", models.ModelError),
                               (SessionUser(id=None, email="m@x", name="M", role="manager", department_ids=()),
                                True, AccessDenied)]:
        with pytest.raises(error):
            models.set_auto_promote(db_session, user, tr.DATASET, value)
    with pytest.raises(models.ModelNotFound):
        models.set_auto_promote(db_session, ADMIN, "no-such-dataset", True)
    assert "promotes a new version again" in models.set_auto_promote(db_session, ADMIN, tr.DATASET, True)
    rows = db_session.scalars(select(AuditLog).where(AuditLog.action == "model.auto_promote")).all()
    assert [(r.target_id, r.after) for r in rows][-1] == (tr.DATASET, {"auto_promote": True})
    # Allowed again: the next better version is promoted by itself.
    again = train_dataset(db_session, tr.DATASET, params=dict(CHEAP), now=dt.datetime(2025, 7, 4, tzinfo=dt.timezone.utc))
    assert again["promoted"] and again["kept_as_candidate_because"] is None
    assert _champion(db_session, tr.DATASET).id == again["model_version_id"]


def test_two_admins_promoting_at_once_the_second_is_told_who_is_champion(session_factory, monkeypatch):
    """The second promotion waits for the first, then reads the champion it left: a
    conflict naming it (locking the champion row instead re-read it as 'no champion')."""
    import threading
    import time

    monkeypatch.setattr(models, "_check_loads", lambda session, mv: None)  # no artifact needed here
    dataset = f"race{uuid.uuid4().hex[:6]}"
    with session_factory.begin() as s:
        s.add(Dataset(name=dataset, feature_spec=[]))
        s.flush()
        made = {}
        for tag, status in (("c", "champion"), ("a", "retired"), ("b", "retired")):
            mv = ModelVersion(dataset=dataset, version=f"{dataset}-{tag}", status=status, params={},
                              feature_schema={}, classes=["AUTO_PD"], metrics={}, n_train=1, n_holdout=1,
                              artifact=b"")
            s.add(mv)
            s.flush()
            made[tag] = (mv.id, mv.version)
    try:
        first = session_factory()
        models.promote(first, ADMIN, made["a"][0], expected_champion_id=made["c"][0], reason="first admin")
        outcome = {}

        def second():
            with session_factory() as s:
                try:
                    models.promote(s, ADMIN, made["b"][0], expected_champion_id=made["c"][0], reason="second")
                    s.commit()
                except models.ModelError as exc:
                    s.rollback()
                    outcome["error"] = exc

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive(), "the second promotion should wait for the first"
        first.commit()
        first.close()
        thread.join(30)
        assert isinstance(outcome.get("error"), models.ChampionChanged), outcome
        assert f"{made['a'][1]} is now" in str(outcome["error"])
        with session_factory() as s:
            assert _champion(s, dataset).id == made["a"][0]
    finally:
        with session_factory.begin() as s:
            s.execute(ModelVersion.__table__.delete().where(ModelVersion.dataset == dataset))
            s.execute(Dataset.__table__.delete().where(Dataset.name == dataset))


def _refused(db_session, champion: ModelVersion, call, error=models.ModelError, match: str | None = None):
    audits = len(_hand_promotions(db_session))
    with pytest.raises(error, match=match):
        call()
    db_session.expire_all()
    assert _champion(db_session, champion.dataset).id == champion.id
    assert len(_hand_promotions(db_session)) == audits


@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_only_roles_that_manage_models_may_promote(db_session, two_versions, role):
    old, new = two_versions
    user = SessionUser(id=None, email=f"{role}@scope.example", name=role, role=role, department_ids=())
    _refused(db_session, old, lambda: models.promote(db_session, user, new.id, expected_champion_id=old.id,
                                                     reason="because"), AccessDenied)


@pytest.mark.parametrize("reason", [None, "", "   \n ", "x" * 501, "bad\x00byte", "bell\x07", 42, ["why"],
                                    {"r": 1}])
def test_a_reason_is_required_and_plain(db_session, two_versions, reason):
    old, new = two_versions
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, new.id, expected_champion_id=old.id,
                                                     reason=reason))


def test_a_reason_of_500_characters_on_several_lines_is_accepted(db_session, two_versions):
    old, new = two_versions
    reason = "line one\r\n" + "y" * 490
    models.promote(db_session, ADMIN, new.id, expected_champion_id=old.id, reason=reason)
    assert _hand_promotions(db_session)[-1].after["reason"] == reason.replace("\r\n", "\n")


def test_unknown_version_and_the_champion_itself_are_refused(db_session, two_versions):
    old, new = two_versions
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, 2**31 - 1, expected_champion_id=old.id,
                                                     reason="r"), models.ModelNotFound, "no model version")
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, old.id, expected_champion_id=old.id,
                                                     reason="r"), match="already the champion")


@pytest.mark.parametrize("stale", ["none", "candidate"])
def test_a_stale_page_is_refused_naming_the_current_champion(db_session, two_versions, stale):
    old, new = two_versions
    expected = None if stale == "none" else new.id
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, new.id, expected_champion_id=expected,
                                                     reason="r"),
             models.ChampionChanged, f"{old.version} is now")


def test_a_version_predicting_a_class_that_is_no_department_is_refused(db_session, two_versions):
    old, new = two_versions
    odd = _copy(db_session, new, classes=[*new.classes[:-1], "NOT_A_DEPT"])
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, odd.id, expected_champion_id=old.id,
                                                     reason="r"), match="NOT_A_DEPT, which is not a department")


def test_a_version_whose_artifact_does_not_load_is_refused(db_session, two_versions):
    old, new = two_versions
    broken = _copy(db_session, new)
    broken.artifact = b"not a model"
    db_session.flush()
    _refused(db_session, old, lambda: models.promote(db_session, ADMIN, broken.id, expected_champion_id=old.id,
                                                     reason="r"), match="does not load")


@pytest.mark.parametrize("version_id, expected, user", [
    ("1", "champion", ADMIN), (True, "champion", ADMIN), (1.0, "champion", ADMIN), ({"id": 1}, "champion", ADMIN),
    (None, "champion", ADMIN), ([1], "champion", ADMIN), (-3, "champion", ADMIN), (2**40, "champion", ADMIN),
    ("candidate", "x", ADMIN), ("candidate", True, ADMIN), ("candidate", {}, ADMIN), ("candidate", 0, ADMIN),
    ("candidate", "champion", None), ("candidate", "champion", "admin"), ("candidate", "champion", object()),
])
def test_junk_arguments_are_refused_with_a_message(db_session, two_versions, version_id, expected, user):
    old, new = two_versions
    version_id = new.id if version_id == "candidate" else version_id
    expected = old.id if expected == "champion" else expected
    _refused(db_session, old, lambda: models.promote(db_session, user, version_id, expected_champion_id=expected,
                                                     reason="r"), (models.ModelError, AccessDenied))


def test_version_choices_offer_every_other_version_with_its_champion(db_session, two_versions):
    old, new = two_versions
    choices = {c["id"]: c for c in models.version_choices(db_session) if c["dataset"] == tr.DATASET}
    assert set(choices) == {new.id} and choices[new.id]["champion_id"] == old.id


# --- the web page and its callback (the web database: demo data and its first champion) ---

@pytest.fixture()
def web_copy(web_app, app_session):
    """A retired copy of the web champion, removed again (and the original champion restored) afterwards."""
    def make(session):
        champion = session.scalar(select(ModelVersion).where(ModelVersion.status == "champion")
                                  .order_by(ModelVersion.dataset).limit(1))
        return champion.id, champion.version, _copy(session, champion).id

    champion_id, champion_version, copy_id = app_session(make)
    yield champion_id, champion_version, copy_id

    def restore(session):
        original = session.get(ModelVersion, champion_id)
        if original.status != "champion":
            current = _champion(session, original.dataset)
            models.promote(session, models.SystemActor("tests"), champion_id,
                           expected_champion_id=current.id if current else None, reason="test clean-up")
        session.delete(session.get(ModelVersion, copy_id))
        # A promotion by hand pauses retraining's own promotions; the web database's other users expect it on.
        dataset = session.get(Dataset, original.dataset)
        dataset.auto_promote, dataset.auto_promote_changed_by, dataset.auto_promote_changed_at = True, None, None

    app_session(restore)


def _promote_call(web_app, client, version, reason, expected):
    return call_callback(
        web_app, client, "models-promote-status.children...models-versions.children",
        outputs=[("models-promote-status", "children"), ("models-versions", "children"),
                 ("models-champions", "children"), ("models-promote-version", "options"),
                 ("models-promote-version", "value"), ("models-promote-reason", "value")],
        inputs=[("models-promote-confirm", "submit_n_clicks", 1)],
        state=[("models-promote-version", "value", version), ("models-promote-reason", "value", reason),
               ("models-expected-champions", "data", expected)])


def test_admin_sees_the_change_form_and_managers_do_not(client_for, web_copy):
    _, _, copy_id = web_copy
    status, body = render_page(client_for("admin"), "/models")
    assert status == 200 and "Change the champion" in body and "models-expected-champions" in body
    assert f'"value":{copy_id}' in body.replace(" ", "")
    status, body = render_page(client_for("manager"), "/models")
    assert status == 200 and "Router models" in body and "Change the champion" not in body


def test_admin_promotes_through_the_callback_and_a_manager_is_refused(web_app, client_for, app_session, web_copy):
    champion_id, champion_version, copy_id = web_copy
    expected = {str(copy_id): champion_id}
    manager = _promote_call(web_app, client_for("manager"), copy_id, "rollback", expected)
    assert manager.status_code == 403
    assert app_session(lambda s: s.get(ModelVersion, champion_id).status) == "champion"

    admin = client_for("admin")
    # Junk from the client: a message or nothing, never a server error, nothing changed.
    for version, reason, store in [("x", "r", expected), (copy_id, "r", "junk"), (copy_id, "r", {str(copy_id): "x"}),
                                   (copy_id, None, expected), ({"a": 1}, "r", expected), (None, "r", None)]:
        response = _promote_call(web_app, admin, version, reason, store)
        assert response.status_code in (200, 204), (version, reason, store, response.status_code)
        assert app_session(lambda s: s.get(ModelVersion, champion_id).status) == "champion"
    stale = _promote_call(web_app, admin, copy_id, "rollback", {str(copy_id): copy_id})
    assert stale.status_code == 200 and f"{champion_version} is now" in stale.get_data(as_text=True)

    response = _promote_call(web_app, admin, copy_id, "the new champion misroutes glass claims", expected)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    out = json.loads(response.get_data(as_text=True))["response"]
    assert "now routes new claims of" in json.dumps(out["models-promote-status"]) and "retired" in json.dumps(out)
    assert out["models-promote-reason"]["value"] == ""
    assert any(o["value"] == champion_id for o in out["models-promote-version"]["options"])
    statuses = app_session(lambda s: (s.get(ModelVersion, champion_id).status, s.get(ModelVersion, copy_id).status))
    assert statuses == ("retired", "champion")
    row = app_session(lambda s: s.scalars(select(AuditLog).where(AuditLog.action == "model.promote")
                                          .order_by(AuditLog.id.desc()).limit(1)).one())
    assert row.actor == "admin@scope.example" and row.after["by_hand"] is True
    assert row.after["reason"] == "the new champion misroutes glass claims"


# --- scope models ---

def test_cli_lists_versions_and_promotes_one(web_database_url, web_copy, app_session):
    champion_id, champion_version, copy_id = web_copy
    listed = scope("models", "list", database_url=web_database_url)
    assert listed.returncode == 0, listed.stderr
    rows = {r["version"]: r for r in json.loads(listed.stdout)}
    assert rows[champion_version]["status"] == "champion"
    assert set(rows[champion_version]) == {"version", "dataset", "status", "accuracy", "macro_f1", "created"}
    copy_version = app_session(lambda s: s.get(ModelVersion, copy_id).version)

    missing = scope("models", "promote", copy_version, "--reason", "  ", database_url=web_database_url)
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "Give the reason" in missing.stderr and "Traceback" not in missing.stderr
    unknown = scope("models", "promote", "no-such-version", "--reason", "r", database_url=web_database_url)
    assert unknown.returncode == 1 and "no model version 'no-such-version'" in unknown.stderr
    again = scope("models", "promote", champion_version, "--reason", "r", database_url=web_database_url)
    assert again.returncode == 1 and "already the champion" in again.stderr

    done = scope("models", "promote", copy_version, "--reason", "roll back from the terminal",
                 database_url=web_database_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"{copy_version} now routes new claims of")
    assert app_session(lambda s: s.get(ModelVersion, copy_id).status) == "champion"
    row = app_session(lambda s: s.scalars(select(AuditLog).where(AuditLog.action == "model.promote")
                                          .order_by(AuditLog.id.desc()).limit(1)).one())
    assert row.actor.startswith("cli:") and row.actor_id is None and row.after["by_hand"] is True


def _toggle_call(web_app, client, dataset, enable, clicks=1):
    """The button as the page's script posts it (assets/62-row-actions.js): what it says in the
    page's store; ``clicks=None``: the store as drawn."""
    from tests.webutil import outputs_of

    key = next(k for k in web_app.callback_map if "models-champions.children@" in k)
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "models-auto-promote-ask", "property": "data",
                    "value": None if clicks is None else {"dataset": dataset, "enable": enable, "at": clicks}}],
        "changedPropIds": ["models-auto-promote-ask.data"]})


def test_admin_pauses_and_resumes_automatic_promotion_on_the_page(web_app, client_for, app_session, web_copy):
    champion_id = web_copy[0]
    dataset = app_session(lambda s: s.get(ModelVersion, champion_id).dataset)
    _, body = render_page(client_for("admin"), "/models")
    assert "Retraining promotes a new version by itself" in body and "Pause automatic promotion" in body
    # "Make champion" redraws the champions: a button with an id of its own was posted again each time.
    assert '"data-ask":"models-auto-promote-ask"' in body.replace(" ", "")
    assert not [k for k, entry in web_app.callback_map.items()
                if any('"models-auto-promote"' in str(i.get("id")) for i in entry["inputs"])]
    assert _toggle_call(web_app, client_for("manager"), dataset, False).status_code == 403
    admin = client_for("admin")
    drawn = _toggle_call(web_app, admin, dataset, False, clicks=None)  # drawn, not clicked: nothing
    assert drawn.status_code == 204 or "Retraining of" not in drawn.get_data(as_text=True)
    paused = _toggle_call(web_app, admin, dataset, False)
    assert paused.status_code == 200 and "now keeps its new versions as candidates" in paused.get_data(as_text=True)
    assert app_session(lambda s: s.get(Dataset, dataset).auto_promote) is False
    # A page drawn before that change offers "pause" again: refused, not flipped back.
    stale = _toggle_call(web_app, admin, dataset, False)
    assert "is already paused" in stale.get_data(as_text=True)
    assert app_session(lambda s: s.get(Dataset, dataset).auto_promote) is False
    for junk in ("yes", None, 1):
        response = _toggle_call(web_app, admin, dataset, junk)
        assert response.status_code in (200, 204) and app_session(lambda s: s.get(Dataset, dataset).auto_promote) \
            is False
    resumed = _toggle_call(web_app, admin, dataset, True)
    assert "promotes a new version again" in resumed.get_data(as_text=True)
    assert app_session(lambda s: s.get(Dataset, dataset).auto_promote) is True


def test_a_retrained_candidate_shows_the_champion_scored_on_its_own_holdout(db_session, two_versions):
    """Each version's figures come from its own holdout (later claims for a later one): an admin
    choosing whether to promote a candidate needs the champion's score on the same claims."""
    from components.models import choice_options, versions_table
    from services.retraining import retrain_all
    from tests.webutil import component_texts

    champion, _ = two_versions
    [outcome] = retrain_all(db_session, datasets=[tr.DATASET], now=dt.datetime(2025, 7, 5, tzinfo=dt.timezone.utc))
    assert outcome["status"] in ("promoted", "kept champion")
    new = db_session.scalar(select(ModelVersion).where(ModelVersion.version == outcome["candidate"]))
    theirs = new.metrics["champion_on_holdout"]
    assert theirs["version"] == champion.version
    assert round(theirs["macro_f1"], 4) == outcome["champion_macro_f1"]
    row = next(m for m in models.list_model_versions(db_session) if m["version"] == new.version)
    assert row["champion_on_holdout"] == theirs
    shown = dict(row, status="candidate")
    text = " ".join(component_texts(versions_table([shown])))
    assert f"champion then: {theirs['macro_f1']:.1%}" in text
    [option] = choice_options([dict(shown, champion_id=champion.id)])
    assert "champion then" in option["label"]
    # a version trained with no champion to compare with says nothing of the kind
    first = next(m for m in models.list_model_versions(db_session) if m["version"] == champion.version)
    assert first["champion_on_holdout"] is None
    # trained by hand (scope train, the Models page) it is kept the same way as by the nightly job
    _, by_hand = two_versions
    assert by_hand.metrics["champion_on_holdout"]["version"] == champion.version
    assert "champion then" not in " ".join(component_texts(versions_table([dict(first, status="retired")])))
