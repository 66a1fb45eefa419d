"""The synthetic generator: deterministic, realistic enough, never a lookup table."""
from __future__ import annotations

import re
from collections import Counter, defaultdict

import pandas as pd
import pytest

from services import demo_data
from services.demo_data import DEPARTMENTS, generate, generate_range
from services.parties import (normalise_account, normalise_address, normalise_email, normalise_phone,
                              normalise_plate, normalise_vin)

N = 20_000


@pytest.fixture(scope="module")
def data():
    return generate(N, 11)


def test_same_seed_gives_identical_output(data):
    again = generate(N, 11)
    pd.testing.assert_frame_equal(data.claims, again.claims)
    pd.testing.assert_frame_equal(data.parties, again.parties)


def test_different_seeds_differ(data):
    other = generate(2_000, 12).claims
    assert (other["description"].to_numpy() != data.claims["description"].to_numpy()[:2_000]).mean() > 0.8
    assert not set(other["claim_number"]) & set(data.claims["claim_number"])


def test_a_short_run_is_a_prefix_of_a_long_one(data):
    part = generate_range(11, 9_990, 10_010)
    pd.testing.assert_frame_equal(part.claims, data.claims.iloc[9_990:10_010].reset_index(drop=True))
    assert len(generate(0, 11).claims) == 0


def test_claim_fields(data):
    c = data.claims
    assert len(c) == N and c["claim_number"].is_unique and c["source_key"].is_unique
    assert c["claim_number"].str.fullmatch(r"SYN-\d{4}-\d{8}").all()
    assert set(c["line_of_business"]) == {"auto", "property", "general_liability", "workers_comp"}
    assert (c["report_date"] >= c["loss_date"]).all()
    assert c["report_date"].max() <= demo_data.END_DATE and c["loss_date"].min() >= demo_data.START_DATE
    assert (c["claimed_amount"] > 0).all() and c["state"].nunique() > 40
    assert c["postcode"].str.fullmatch(r"\d{5}").all()
    assert all(e["true_department"] == d for e, d in zip(c["extra"], c["true_department"]))


def test_class_balance_and_open_share(data):
    share = data.claims["true_department"].value_counts(normalize=True)
    assert set(share.index) == set(DEPARTMENTS)
    assert share.max() < 0.45 and share.min() > 0.015
    open_ = data.claims["status"] == "new"
    assert 0.05 < open_.mean() < 0.15
    assert data.claims.loc[open_, "closed_at"].isna().all()
    assert data.claims.loc[~open_, "closed_at"].notna().all()
    assert (data.claims.loc[~open_, "closed_at"] <= demo_data.END_DATE).all()
    # A claim is open when it has not settled by the end: glass claims settle in days, so
    # nearly all open ones are recent; liability and workers' comp run for months.
    age = (demo_data.END_DATE - data.claims["report_date"]).map(lambda d: d.days)
    truth = data.claims["true_department"]
    assert age[open_ & (truth == "AUTO_GLASS")].median() < 30
    assert age[open_ & truth.isin(["LIABILITY", "WORKERS_COMP"])].median() > 60
    assert data.claims.loc[age <= 3, "status"].eq("new").mean() > 0.5
    assert data.claims.loc[age > 365, "status"].eq("new").mean() < 0.01


def test_seasonality(data):
    c = data.claims
    month = pd.to_datetime(c["loss_date"]).dt.month
    glass = c["true_department"] == "AUTO_GLASS"
    winter, summer = month.isin([12, 1, 2]), month.isin([6, 7, 8])
    assert glass[winter].mean() > glass[summer].mean() * 1.3
    storms = c["extra"].map(lambda e: e["catastrophe_code"] is not None)
    assert storms[summer].mean() > storms[winter].mean() * 2


def test_borderline_scenarios_exist(data):
    """The same kind of description leads to different departments."""
    c = data.claims
    glass_words = c["description"].str.contains(r"\b(?:windshield|windscreen|ws)\b", case=False)
    depts = c.loc[glass_words, "true_department"].value_counts(normalize=True)
    assert depts["AUTO_GLASS"] < 0.95 and depts.get("AUTO_PD", 0) > 0.03


def test_descriptions_are_varied_and_no_token_decides(data):
    texts = data.claims["description"]
    assert texts.nunique() > 0.6 * len(texts)
    assert texts.str.len().std() > 10
    assert (texts.str.len() < 15).mean() > 0.03  # some notes say next to nothing
    support: Counter = Counter()
    by_class: dict[str, Counter] = defaultdict(Counter)
    for text, dept in zip(texts, data.claims["true_department"]):
        for token in set(re.findall(r"[a-z/']+", text.lower())):
            support[token] += 1
            by_class[token][dept] += 1
    frequent = [t for t, k in support.items() if k >= 0.01 * len(texts)]
    assert len(frequent) > 50
    purity = {t: max(by_class[t].values()) / support[t] for t in frequent}
    assert max(purity.values()) < 0.995, sorted(purity.items(), key=lambda kv: -kv[1])[:5]


def test_fraud_rings_share_identifiers(data):
    c, p = data.claims, data.parties
    ring_of = dict(zip(c["source_key"], c["fraud_ring"]))
    p = p.assign(ring=p["source_key"].map(ring_of))
    rings = c["fraud_ring"].dropna()
    assert 0.005 < len(rings) / len(c) < 0.04
    assert c.loc[c["fraud_ring"].notna(), "fraud_label"].all()
    sizes = rings.value_counts()
    assert sizes.min() >= 3 and sizes.max() <= 15
    for ring, members in p[p["ring"].notna()].groupby("ring"):
        n_claims = members["source_key"].nunique()
        shared = any(
            members.dropna(subset=[col]).groupby(col)["source_key"].nunique().max() == n_claims
            for col in ("phone", "bank_account", "address", "provider_id"))
        assert shared, ring
    ring_claims = c[c["fraud_ring"].notna()]
    siu = (ring_claims["true_department"] == "SIU").mean()
    assert 0.2 < siu < 0.95  # SIU for part of them, not all


def test_legitimate_sharing_exists(data):
    """A big repair shop serves many honest claims, so sharing alone is no proof."""
    p = data.parties
    shops = p[p["role"] == "repair_shop"].groupby("provider_id")["source_key"].nunique()
    assert shops.max() > 100
    honest = set(data.claims.loc[~data.claims["fraud_label"], "source_key"])
    claimants = p[(p["role"] == "claimant") & p["source_key"].isin(honest)]
    assert claimants["address"].duplicated().sum() > 50  # households


def test_identifiers_are_normalised_and_mostly_unique(data):
    p = data.parties
    checks = {"phone": normalise_phone, "email": normalise_email, "address": normalise_address,
              "bank_account": normalise_account, "plate": normalise_plate, "vin": normalise_vin}
    for col, fn in checks.items():
        values = p[col].dropna()
        assert len(values) and all(fn(v) == v for v in values.head(3000)), col
    people = p[p["role"].isin(["claimant", "insured", "driver", "witness"])]
    phones = people["phone"].dropna()
    assert phones.str.fullmatch(r"[2-9]\d{9}").all()
    assert phones.nunique() > 0.97 * len(phones)
    assert p["vin"].dropna().str.len().eq(17).all()
    assert p["bank_account"].dropna().str.fullmatch(r"US\d{2}[A-Z]{4}\d{12}").all()
    assert {"claimant", "insured", "driver", "witness", "provider", "repair_shop"} <= set(p["role"])
    assert (p.groupby("source_key").size() >= 1).all() and p["source_key"].nunique() == len(data.claims)


@pytest.mark.parametrize("raw, expected", [
    ("+1 (555) 010-2030", "5550102030"), ("555.010.2030", "5550102030"), ("", None), (None, None),
    # other scripts' digits (a Japanese IME types full-width ones) link to the same ASCII number
    ("５５５−０１０−２０３０", "5550102030"), ("+١ ٥٥٥ ٠١٠ ٢٠٣٠", "5550102030"),
])
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


def test_other_normalisers():
    assert normalise_email("  John.Smith@Gmail.COM ") == "john.smith@gmail.com"
    assert normalise_address(" 12  Main St.,  Springfield ") == "12 MAIN ST SPRINGFIELD"
    assert normalise_address("Apt #4") == "APT 4"
    assert normalise_plate("ab-12 3c") == "AB123C"
    assert normalise_account("us12 chas 0000 1234") == "US12CHAS00001234"
    assert normalise_email("  ") is None and normalise_plate(None) is None


def test_optional_facts_are_sometimes_unknown_as_at_first_notice(data):
    """Each optional fact is unknown (None) in about one claim in eight, independently;
    the facts that are given keep their types; the required ones are always there."""
    extras = data.claims["extra"].tolist()
    for name in demo_data.OPTIONAL_FACTS:
        values = [e[name] for e in extras]
        unknown = sum(v is None for v in values) / len(values)
        assert 0.10 < unknown < 0.14, (name, unknown)
        assert {type(v) for v in values if v is not None} <= {bool, int}
    together = sum(all(e[n] is None for n in ("injury_reported", "attorney_involved")) for e in extras) / len(extras)
    assert together < 0.03  # independent draws, not whole claims blanked
    assert all(e["reported_via"] and e["policy_tenure_days"] is not None for e in extras)
