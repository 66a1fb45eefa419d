"""Deterministic synthetic claims ("synthetic" dataset) and their bulk load.

Claims are generated in fixed blocks of ``BLOCK_SIZE``, each from its own
random stream derived from (seed, block). So the output depends only on the
seed and the end date, a run of 2,000 claims is a prefix of a run of 1,000,000,
and a large run can be generated and loaded block by block in bounded memory.

Every claim lies in the ``SPAN_DAYS`` ending on ``end``. The default end is a
fixed date so tests and benchmarks see the same data on any day; a first start
passes today so a fresh demo is current. The generator never reads the clock.
What has not happened by ``end`` is not in the data: a loss that would be
reported later gets an earlier loss day, and a claim not yet settled stays open.

The true department comes from a scenario (what happened) plus fraud
red flags. Borderline scenarios carry two plausible departments and fraud is
only sometimes referred to SIU, so a good router tops out in the mid 90s.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from db.bulk import copy_rows, create_staging_table, drop_table
from services.datasets import ensure_dataset
from services import demo_text as vocab
from services.demo_text import Describer
from services.departments import ensure_standard_departments

DATASET = "synthetic"
BLOCK_SIZE = 10_000
END_DATE = dt.date(2026, 10, 31)  # the default end: fixed, so tests and benchmarks do not depend on the clock
SPAN_DAYS = 730
START_DATE = END_DATE - dt.timedelta(days=SPAN_DAYS - 1)

# Columns the router may use. Labels and outcomes (fraud, true department,
# reserve, paid) are deliberately absent: they are not known at first notice.
FEATURE_SPEC: list[dict] = [
    {"name": "line_of_business", "kind": "categorical", "source": "column"},
    {"name": "description", "kind": "text", "source": "column"},
    {"name": "claimed_amount", "kind": "numeric", "source": "column"},
    {"name": "loss_date", "kind": "date", "source": "column"},
    {"name": "report_date", "kind": "date", "source": "column"},
    {"name": "state", "kind": "categorical", "source": "column"},
    {"name": "reported_via", "kind": "categorical", "source": "extra"},
    {"name": "injury_reported", "kind": "categorical", "source": "extra"},
    {"name": "police_report", "kind": "categorical", "source": "extra"},
    {"name": "vehicle_count", "kind": "numeric", "source": "extra"},
    {"name": "witness_count", "kind": "numeric", "source": "extra"},
    {"name": "weather", "kind": "categorical", "source": "extra"},
    {"name": "loss_location", "kind": "categorical", "source": "extra"},
    {"name": "attorney_involved", "kind": "categorical", "source": "extra"},
    {"name": "policy_tenure_days", "kind": "numeric", "source": "extra"},
    {"name": "prior_claims_3y", "kind": "numeric", "source": "extra"},
    {"name": "catastrophe_code", "kind": "categorical", "source": "extra"},
]

_WINTER = (1.6, 1.5, 1.2, .9, .8, .75, .75, .8, .9, 1, 1.2, 1.5)
_MILD_WINTER = (1.2, 1.15, 1.05, .95, .95, .95, .95, .95, .95, 1, 1.05, 1.15)
_STORMS = (.4, .5, .9, 1.4, 1.7, 1.8, 1.6, 1.3, 1, .7, .5, .4)
_AUTUMN = (.8, .6, .6, .6, .7, .7, .7, .8, 1, 1.8, 2, 1.3)
_FLAT = (1,) * 12

ROAD, PARKING, HOME, WORK, PREMISES = "road", "parking_lot", "home", "workplace", "business_premises"


@dataclass(frozen=True)
class Scenario:
    name: str
    lob: str
    weight: float
    departments: tuple[tuple[str, float], ...]  # borderline scenarios have two
    season: tuple[float, ...]
    weekend: float  # relative weight of Saturdays/Sundays (workplace losses are rarer)
    lag_days: tuple[float, float]  # lognormal median and sigma of the reporting lag
    amount: tuple[float, float]  # lognormal median and sigma of the claimed amount
    injury: float  # P(injury reported)
    police: float  # P(police report)
    vehicles: tuple[float, ...]  # P(vehicle_count = 0, 1, 2, 3)
    locations: tuple[str, ...]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("auto_collision", "auto", .20, (("AUTO_PD", 1),), _MILD_WINTER, 1, (2, 1), (4500, .8), .05, .6, (0, .3, .6, .1), (ROAD, ROAD, PARKING)),
    Scenario("auto_parked", "auto", .04, (("AUTO_PD", 1),), _FLAT, 1, (2, 1), (2200, .7), 0, .3, (0, .6, .4, 0), (PARKING, ROAD, HOME)),
    Scenario("auto_theft", "auto", .04, (("AUTO_PD", .93), ("AUTO_GLASS", .07)), _FLAT, 1, (1.5, 1), (6000, 1), 0, .9, (0, 1, 0, 0), (HOME, PARKING, ROAD)),
    Scenario("auto_weather", "auto", .025, (("AUTO_PD", .9), ("AUTO_GLASS", .1)), _STORMS, 1, (3, 1), (3800, .7), 0, .05, (0, 1, 0, 0), (HOME, PARKING, ROAD)),
    Scenario("auto_animal", "auto", .02, (("AUTO_PD", 1),), _AUTUMN, 1, (2, .9), (3500, .6), .03, .4, (0, 1, 0, 0), (ROAD,)),
    Scenario("auto_glass", "auto", .11, (("AUTO_GLASS", 1),), _WINTER, 1, (1, .8), (450, .35), 0, .01, (0, 1, 0, 0), (ROAD, HOME, PARKING)),
    Scenario("auto_glass_body", "auto", .025, (("AUTO_GLASS", .45), ("AUTO_PD", .55)), _WINTER, 1, (1.5, .9), (1300, .5), 0, .1, (0, .8, .2, 0), (ROAD, PARKING)),
    Scenario("auto_injury", "auto", .065, (("LIABILITY", 1),), _MILD_WINTER, 1, (7, 1.2), (18000, 1.1), .95, .85, (0, .15, .75, .1), (ROAD, ROAD, PARKING)),
    Scenario("auto_minor_injury", "auto", .03, (("LIABILITY", .5), ("AUTO_PD", .5)), _MILD_WINTER, 1, (4, 1.1), (5500, .8), .85, .5, (0, .1, .85, .05), (ROAD, PARKING)),
    Scenario("prop_water", "property", .07, (("PROPERTY", 1),), _WINTER, 1, (3, 1), (9000, 1), 0, 0, (1, 0, 0, 0), (HOME,)),
    Scenario("prop_fire", "property", .03, (("PROPERTY", 1),), _WINTER, 1, (1.5, .9), (45000, 1.2), .08, .5, (1, 0, 0, 0), (HOME,)),
    Scenario("prop_storm", "property", .06, (("PROPERTY", 1),), _STORMS, 1, (5, 1), (12000, 1), 0, 0, (1, 0, 0, 0), (HOME,)),
    Scenario("prop_theft", "property", .03, (("PROPERTY", 1),), _FLAT, 1, (2, 1), (3500, .9), 0, .9, (1, 0, 0, 0), (HOME,)),
    Scenario("prop_vehicle", "property", .015, (("PROPERTY", .6), ("AUTO_PD", .4)), _FLAT, 1, (2, 1), (8000, .9), .05, .7, (0, .9, .1, 0), (HOME,)),
    Scenario("prop_visitor", "property", .015, (("LIABILITY", .8), ("PROPERTY", .2)), _WINTER, 1, (10, 1.2), (15000, 1.1), .95, .05, (1, 0, 0, 0), (HOME,)),
    Scenario("gl_slip", "general_liability", .055, (("LIABILITY", 1),), _MILD_WINTER, .9, (14, 1.2), (15000, 1.1), .9, .1, (1, 0, 0, 0), (PREMISES,)),
    Scenario("gl_damage", "general_liability", .035, (("LIABILITY", .9), ("PROPERTY", .1)), _FLAT, .6, (12, 1.1), (11000, 1), .05, .05, (1, 0, 0, 0), (PREMISES, HOME)),
    Scenario("wc_injury", "workers_comp", .10, (("WORKERS_COMP", 1),), _FLAT, .3, (4, 1.1), (8000, 1.2), .98, .02, (1, 0, 0, 0), (WORK,)),
    Scenario("wc_vehicle", "workers_comp", .015, (("WORKERS_COMP", .75), ("LIABILITY", .25)), _MILD_WINTER, .3, (5, 1.1), (14000, 1.1), .95, .8, (0, .5, .45, .05), (ROAD,)),
    Scenario("wc_occupational", "workers_comp", .02, (("WORKERS_COMP", 1),), _FLAT, .3, (30, 1), (12000, 1), .9, 0, (1, 0, 0, 0), (WORK,)),
)
_SCEN_INDEX = {s.name: i for i, s in enumerate(SCENARIOS)}
DEPARTMENTS = ("AUTO_PD", "AUTO_GLASS", "PROPERTY", "LIABILITY", "WORKERS_COMP", "SIU")
_DEPT_INDEX = {d: i for i, d in enumerate(DEPARTMENTS)}
_SIU = _DEPT_INDEX["SIU"]
# Median days from report to closing, per department (lognormal around it). Glass
# is the quickest line; the array used to be in another order and gave glass 25 days.
_SETTLE_DAYS = np.array([{"AUTO_PD": 25, "AUTO_GLASS": 7, "PROPERTY": 45, "LIABILITY": 120,
                          "WORKERS_COMP": 90, "SIU": 150}[d] for d in DEPARTMENTS])

# Fraud: rings are staged together around one kind of loss; solo fraud is spread out.
RING_SHARE, SOLO_FRAUD_RATE = 0.015, 0.025
_RING_THEMES = (
    (("auto_collision", "auto_injury", "auto_minor_injury"), .6),
    (("prop_fire", "prop_theft", "prop_water"), .15),
    (("wc_injury",), .15),
    (("gl_slip",), .1),
)
# P(referred to SIU) by number of red flags (0..6) for fraudulent and honest claims.
_SIU_P_FRAUD = np.array([.05, .2, .5, .8, .92, .95, .97])
_SIU_P_HONEST = np.array([.002, .004, .03, .35, .5, .6, .6])
_FLAG_P_FRAUD, _FLAG_P_HONEST = 0.45, 0.04
FLAGS = ("new_policy", "late_report", "attorney", "suspicious_text", "prior_claims", "inflated")

# (state, population weight, first and last ZIP3, census region, snowy winters)
STATES = (
    ("CA", 39.0, 900, 961, "West", 0), ("TX", 30.0, 750, 799, "South", 0), ("FL", 22.6, 320, 349, "South", 0),
    ("NY", 19.6, 100, 149, "Northeast", 1), ("PA", 13.0, 150, 196, "Northeast", 1), ("IL", 12.5, 600, 629, "Midwest", 1),
    ("OH", 11.8, 430, 458, "Midwest", 1), ("GA", 11.0, 300, 319, "South", 0), ("NC", 10.8, 270, 289, "South", 0),
    ("MI", 10.0, 480, 499, "Midwest", 1), ("NJ", 9.3, 70, 89, "Northeast", 1), ("VA", 8.7, 220, 246, "South", 0),
    ("WA", 7.8, 980, 994, "West", 0), ("AZ", 7.4, 850, 865, "West", 0), ("TN", 7.1, 370, 385, "South", 0),
    ("MA", 7.0, 10, 27, "Northeast", 1), ("IN", 6.9, 460, 479, "Midwest", 1), ("MO", 6.2, 630, 658, "Midwest", 1),
    ("MD", 6.2, 206, 219, "South", 0), ("WI", 5.9, 530, 549, "Midwest", 1), ("CO", 5.9, 800, 816, "West", 1),
    ("MN", 5.7, 550, 567, "Midwest", 1), ("SC", 5.4, 290, 299, "South", 0), ("AL", 5.1, 350, 369, "South", 0),
    ("LA", 4.6, 700, 714, "South", 0), ("KY", 4.5, 400, 427, "South", 0), ("OR", 4.2, 970, 979, "West", 0),
    ("OK", 4.0, 730, 749, "South", 0), ("CT", 3.6, 60, 69, "Northeast", 1), ("UT", 3.4, 840, 847, "West", 1),
    ("IA", 3.2, 500, 528, "Midwest", 1), ("NV", 3.2, 889, 898, "West", 0), ("AR", 3.0, 716, 729, "South", 0),
    ("KS", 2.9, 660, 679, "Midwest", 1), ("MS", 2.9, 386, 397, "South", 0), ("NM", 2.1, 870, 884, "West", 0),
    ("NE", 2.0, 680, 693, "Midwest", 1), ("ID", 1.9, 832, 838, "West", 1), ("WV", 1.8, 247, 268, "South", 1),
    ("HI", 1.4, 967, 968, "West", 0), ("NH", 1.4, 30, 38, "Northeast", 1), ("ME", 1.4, 39, 49, "Northeast", 1),
    ("MT", 1.1, 590, 599, "West", 1), ("RI", 1.1, 28, 29, "Northeast", 1), ("DE", 1.0, 197, 199, "South", 0),
    ("SD", .9, 570, 577, "Midwest", 1), ("ND", .8, 580, 588, "Midwest", 1), ("AK", .7, 995, 999, "West", 1),
    ("VT", .6, 50, 59, "Northeast", 1), ("WY", .6, 820, 831, "West", 1), ("DC", .7, 200, 205, "South", 0),
)
_LOB_CODE = {"auto": "AU", "property": "HO", "general_liability": "GL", "workers_comp": "WC"}
_CHANNELS = np.array(["phone", "web", "mobile_app", "agent", "email", "attorney"])
_WEATHER = np.array(["clear", "rain", "snow", "ice", "fog", "wind", "hail", "thunderstorm"])
_WEATHER_P = {
    "winter_snowy": (.4, .15, .25, .1, .1, 0, 0, 0),
    "fair": (.65, .2, 0, 0, .08, .04, 0, .03),
    "storm": (0, .15, 0, 0, 0, .35, .3, .2),
}
CLAIM_COLUMNS = (
    "claim_number", "source_key", "policy_number", "line_of_business", "loss_date", "report_date",
    "description", "claimed_amount", "reserve_amount", "paid_amount", "state", "region", "postcode",
    "status", "closed_at", "true_department", "fraud_label", "fraud_ring", "extra",
)
PARTY_COLUMNS = ("claim_index", "role", "name", "phone", "email", "address", "bank_account", "plate", "vin",
                 "provider_id")


@dataclass
class DemoData:
    """Claims (one row each, ``extra`` as a dict) and their parties
    (``claim_index`` is the claim's position in the whole seeded sequence)."""

    claims: pd.DataFrame
    parties: pd.DataFrame


def generate(n_claims: int, seed: int, end: dt.date = END_DATE) -> DemoData:
    """The first ``n_claims`` synthetic claims for ``seed`` ending on ``end``; pure and deterministic."""
    return generate_range(seed, 0, n_claims, end=end)


def generate_range(seed: int, start: int, stop: int, end: dt.date = END_DATE) -> DemoData:
    """Claims ``start`` to ``stop`` (exclusive) of the seeded sequence ending on ``end``."""
    if start < 0 or stop < start:
        raise ValueError("need 0 <= start <= stop")
    first_day = window_start(end)
    parts = [_generate_block(seed, b, first_day) for b in range(start // BLOCK_SIZE, -(-stop // BLOCK_SIZE))]
    if not parts:
        return DemoData(pd.DataFrame(columns=list(CLAIM_COLUMNS)), pd.DataFrame(columns=list(PARTY_COLUMNS)))
    claims = pd.concat([p.claims for p in parts], ignore_index=True)
    parties = pd.concat([p.parties for p in parts], ignore_index=True)
    first = (start // BLOCK_SIZE) * BLOCK_SIZE
    claims = claims.iloc[start - first:stop - first].reset_index(drop=True)
    parties = parties[(parties.claim_index >= start) & (parties.claim_index < stop)].reset_index(drop=True)
    return DemoData(claims, parties)


# Intake refuses loss dates before 1990 (services.intake.MIN_LOSS_DATE); the demo's first
# loss date (window_start) must not be earlier either.
MIN_LOSS_DATE = dt.date(1990, 1, 1)
MIN_END = MIN_LOSS_DATE + dt.timedelta(days=SPAN_DAYS - 1)


def check_end(end: dt.date, today: dt.date | None = None) -> dt.date:
    """A usable last day: loss dates from 1990 on, and (given ``today``) none in the future,
    where closed claims would become training labels for outcomes not yet known."""
    if end < MIN_END:
        raise ValueError(f"the end must be {MIN_END} or later (two years of claims, none before {MIN_LOSS_DATE})")
    if today is not None and end > today:
        raise ValueError(f"the end must not be after today ({today}): claims would close in the future")
    return end


def window_start(end: dt.date) -> dt.date:
    """The first day of the ``SPAN_DAYS`` ending on ``end``."""
    # A datetime is a date too, but a time of day has no meaning here and would leak into every date.
    if not isinstance(end, dt.date) or isinstance(end, dt.datetime):
        raise TypeError(f"end must be a datetime.date, not {type(end).__name__}")
    return end - dt.timedelta(days=SPAN_DAYS - 1)


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _generate_block(seed: int, block: int, first_day: dt.date) -> DemoData:
    rng = np.random.default_rng([seed, 1, block])
    n = BLOCK_SIZE
    index = block * n + np.arange(n)

    scenario = rng.choice(len(SCENARIOS), n, p=_normalised([s.weight for s in SCENARIOS]))
    ring, ring_day = _rings(rng, scenario, seed, block)
    in_ring = ring >= 0
    fraud = in_ring | (rng.random(n) < SOLO_FRAUD_RATE)

    dept = np.empty(n, dtype=np.int64)
    for i, s in enumerate(SCENARIOS):
        rows = np.flatnonzero(scenario == i)
        codes, probs = zip(*s.departments)
        dept[rows] = np.array([_DEPT_INDEX[c] for c in codes])[rng.choice(len(codes), rows.size, p=probs)]

    # Red flags drive SIU referral; shared identifiers in a ring add suspicion
    # the router cannot see directly.
    flags = rng.random((n, len(FLAGS))) < np.where(fraud, _FLAG_P_FRAUD, _FLAG_P_HONEST)[:, None]
    n_flags = flags.sum(axis=1)
    p_siu = np.where(fraud, _SIU_P_FRAUD[n_flags], _SIU_P_HONEST[n_flags]) + in_ring * 0.15
    dept = np.where(rng.random(n) < p_siu, _SIU, dept)
    flag = dict(zip(FLAGS, flags.T))

    weights = _loss_weights(first_day)
    loss_day = _loss_days(rng, scenario, ring, ring_day, weights)
    lag_median = np.array([s.lag_days[0] for s in SCENARIOS])[scenario]
    lag_sigma = np.array([s.lag_days[1] for s in SCENARIOS])[scenario]
    lag = np.floor(rng.lognormal(np.log(lag_median), lag_sigma)).astype(np.int64)
    lag = np.minimum(lag + flag["late_report"] * rng.integers(30, 150, n), 365)
    loss_day = _known_losses(np.random.default_rng([seed, 4, block]), loss_day, lag, scenario, ring, weights)
    report_day = loss_day + lag

    amount = rng.lognormal(np.log([SCENARIOS[s].amount[0] for s in range(len(SCENARIOS))])[scenario],
                           np.array([s.amount[1] for s in SCENARIOS])[scenario])
    amount *= np.where(flag["inflated"], rng.uniform(1.5, 3, n), 1) * np.where(fraud, 1.3, 1)
    claimed = np.round(np.maximum(amount, 50), 2)
    reserve = np.round(claimed * rng.lognormal(np.log(0.85), 0.3, n), 2)

    state_i = rng.choice(len(STATES), n, p=_normalised([s[1] for s in STATES]))
    zip3 = rng.integers(np.array([s[2] for s in STATES])[state_i], np.array([s[3] for s in STATES])[state_i] + 1)
    postcode = zip3 * 100 + rng.integers(0, 100, n)

    settle = _SETTLE_DAYS[dept]
    close_day = report_day + np.ceil(rng.lognormal(np.log(settle), 0.6)).astype(np.int64)
    # Open = not settled by the end. (Closing those on the last day made a spike of
    # hundreds of closings there; keeping every recent claim open made closings fall
    # away over the last months while claims kept arriving.)
    is_open = close_day > SPAN_DAYS - 1
    paid_share = np.where(fraud & (dept == _SIU), rng.uniform(0, 0.2, n), rng.uniform(0.55, 1.0, n))
    # Open claims get interim payments, more often the older they are (never while SIU
    # investigates). A stream of its own, so every other column stays as it was.
    interim = np.random.default_rng([seed, 3, block])
    age = SPAN_DAYS - 1 - report_day
    paid_open = np.where((interim.random(n) < np.clip(age / 90, 0, 0.6)) & (dept != _SIU),
                         np.round(claimed * interim.uniform(0.1, 0.5, n), 2), np.nan)

    extra = _extras(rng, scenario, dept, flag, loss_day, state_i, fraud, first_day)
    describer = Describer(int(rng.integers(2**62)))
    informative = rng.random(n) > 0.07
    descriptions = [describer.describe(SCENARIOS[s].name, bool(sus), bool(inf))
                    for s, sus, inf in zip(scenario, flag["suspicious_text"], informative)]

    numbers = [f"{seed:04d}-{i + 1:08d}" for i in index]
    claims = pd.DataFrame({
        "claim_number": ["SYN-" + x for x in numbers],
        "source_key": ["synthetic:" + x for x in numbers],
        "policy_number": _policy_numbers(rng, scenario, index),
        "line_of_business": np.array([s.lob for s in SCENARIOS])[scenario],
        "loss_date": _to_dates(loss_day, first_day),
        "report_date": _to_dates(report_day, first_day),
        "description": descriptions,
        "claimed_amount": claimed,
        "reserve_amount": reserve,
        "paid_amount": np.where(is_open, paid_open, np.round(claimed * paid_share, 2)),
        "state": np.array([s[0] for s in STATES])[state_i],
        "region": np.array([s[4] for s in STATES])[state_i],
        "postcode": [f"{p:05d}" for p in postcode],
        "status": np.where(is_open, "new", "closed"),
        "closed_at": [None if o else d for o, d in zip(is_open, _to_dates(close_day, first_day))],
        "true_department": np.array(DEPARTMENTS)[dept],
        "fraud_label": fraud,
        "fraud_ring": [f"RING-{seed}-{block}-{r}" if r >= 0 else None for r in ring],
        "extra": extra,
    })
    parties = _parties(rng, seed, index, scenario, ring, extra, claims)
    _leave_unknown(np.random.default_rng([seed, 5, block]), extra)
    return DemoData(claims, parties)


# First notice of loss rarely has every fact: the caller does not know yet whether
# there is an attorney or a police report. A router trained only on complete claims
# read "not given" as evidence (a plain windshield claim at intake lost a third of its
# confidence to blank optional fields), so each optional fact is unknown in about one
# claim in eight. Drawn from a stream of its own after the parties (which follow the
# true facts), so every other column stays as it was.
OPTIONAL_FACTS = ("injury_reported", "police_report", "vehicle_count", "witness_count", "attorney_involved")
UNKNOWN_SHARE = 0.12


def _leave_unknown(rng: np.random.Generator, extra: list[dict]) -> None:
    unknown = rng.random((len(extra), len(OPTIONAL_FACTS))) < UNKNOWN_SHARE
    for facts, row in zip(extra, unknown):
        for name, blank in zip(OPTIONAL_FACTS, row):
            if blank:
                facts[name] = None


def _normalised(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _rings(rng: np.random.Generator, scenario: np.ndarray, seed: int, block: int):
    """Assign ring members (ring number per claim, -1 for none) and give each
    ring one kind of staged loss and a time window of its own."""
    n = len(scenario)
    sizes = rng.integers(3, 16, max(1, int(rng.poisson(n * RING_SHARE / 9))))
    members = rng.choice(n, sizes.sum(), replace=False)
    ring = np.full(n, -1)
    ring[members] = np.repeat(np.arange(sizes.size), sizes)
    themes = rng.choice(len(_RING_THEMES), sizes.size, p=[t[1] for t in _RING_THEMES])
    for r, theme in enumerate(themes):
        rows = np.flatnonzero(ring == r)
        names = _RING_THEMES[theme][0]
        scenario[rows] = [_SCEN_INDEX[names[k]] for k in rng.integers(0, len(names), rows.size)]
    ring_day = rng.integers(0, SPAN_DAYS - 90, sizes.size)
    return ring, ring_day


def _loss_weights(first_day: dt.date) -> np.ndarray:
    """Relative chance of a loss on each day of the window, one row per scenario."""
    dates = pd.to_datetime(first_day) + pd.to_timedelta(np.arange(SPAN_DAYS), unit="D")
    month, weekend = dates.month.to_numpy() - 1, dates.day_of_week.to_numpy() >= 5
    return np.array([np.asarray(s.season)[month] * np.where(weekend, s.weekend, 1.0) for s in SCENARIOS])


def _loss_days(rng, scenario, ring, ring_day, weights) -> np.ndarray:
    """Seasonal loss dates per scenario; ring members cluster within ~3 months."""
    out = np.empty(len(scenario), dtype=np.int64)
    for i, p in enumerate(weights):
        rows = np.flatnonzero(scenario == i)
        out[rows] = rng.choice(SPAN_DAYS, rows.size, p=p / p.sum())
    members = ring >= 0
    out[members] = ring_day[ring[members]] + rng.integers(0, 90, members.sum())
    return out


def _known_losses(rng, loss_day, lag, scenario, ring, weights) -> np.ndarray:
    """Loss days such that every claim is reported by the end of the window.

    A loss reported after the end is not known yet, yet the run must hold its
    number of claims. Clipping the report to the last day piled hundreds of
    reports onto it; such a claim instead gets a new seasonal loss day early
    enough for its lag, so reports stay level to the end and the newest losses
    thin out, as losses incurred but not yet reported do. Ring members keep
    close to their ring's window: they move back by their lag.
    """
    last = SPAN_DAYS - 1
    late = loss_day + lag > last
    out = np.where(late & (ring >= 0), loss_day - lag, loss_day)  # lag <= 365 < loss_day here: never negative
    rows = np.flatnonzero(late & (ring < 0))
    if rows.size:
        cum = np.cumsum(weights[scenario[rows]], axis=1)
        limit = last - lag[rows]
        u = rng.random(rows.size) * cum[np.arange(rows.size), limit]
        out[rows] = np.minimum((cum < u[:, None]).sum(axis=1), limit)
    return out


def _extras(rng, scenario, dept, flag, loss_day, state_i, fraud, first_day) -> list[dict]:
    """First-notice-of-loss fields beyond the claim columns."""
    n = len(scenario)
    scen = SCENARIOS
    injury = rng.random(n) < np.array([s.injury for s in scen])[scenario]
    police = rng.random(n) < np.array([s.police for s in scen])[scenario]
    vehicles = _pick(rng, np.array([s.vehicles for s in scen])[scenario])
    lob = np.array([s.lob for s in scen])[scenario]
    injury_scen = np.array([s.injury > .5 for s in scen])[scenario]
    attorney = flag["attorney"] | (injury_scen & (rng.random(n) < 0.18))
    witnesses = np.where(np.isin(lob, ["auto", "general_liability"]), rng.poisson(0.5, n), rng.poisson(0.1, n))
    witnesses = np.where(fraud & (rng.random(n) < 0.5), 0, witnesses)
    tenure = np.where(flag["new_policy"], rng.integers(1, 60, n), rng.integers(30, 4000, n))
    prior = np.where(flag["prior_claims"], rng.integers(2, 6, n), rng.poisson(0.25, n))

    channel_p = np.tile([.42, .22, .2, .12, .04, 0], (n, 1))
    channel_p[np.array([s.name == "auto_glass" for s in scen])[scenario]] = [.2, .35, .35, .05, .05, 0]
    channel_p[attorney] = [.3, .1, .05, .1, .05, .4]
    channel = _CHANNELS[_pick(rng, channel_p)]

    loss_dates = pd.to_datetime(first_day) + pd.to_timedelta(loss_day, unit="D")
    month, year = loss_dates.month.to_numpy(), loss_dates.year.to_numpy()
    snowy = np.array([s[5] for s in STATES])[state_i].astype(bool) & np.isin(month, [11, 12, 1, 2, 3])
    stormy = np.isin(scenario, [_SCEN_INDEX["prop_storm"], _SCEN_INDEX["auto_weather"]])
    outdoor = np.isin(lob, ["auto", "property"]) | (scenario == _SCEN_INDEX["wc_vehicle"])
    weather_p = np.where(snowy[:, None], _WEATHER_P["winter_snowy"], _WEATHER_P["fair"])
    weather_p[stormy] = _WEATHER_P["storm"]
    weather = np.where(outdoor, _WEATHER[_pick(rng, weather_p)], None)
    cat = np.where(stormy & (rng.random(n) < 0.7),
                   [f"CAT-{y}-{m:02d}" for y, m in zip(year.tolist(), month.tolist())], None)

    locations = [scen[s].locations[k % len(scen[s].locations)] for s, k in zip(scenario, rng.integers(0, 6, n))]
    true_dept = np.array(DEPARTMENTS)[dept]
    return [
        {"reported_via": c, "injury_reported": bool(i), "police_report": bool(p), "vehicle_count": int(v),
         "witness_count": int(w), "weather": wx, "loss_location": loc, "attorney_involved": bool(a),
         "policy_tenure_days": int(t), "prior_claims_3y": int(pc), "catastrophe_code": cc,
         "true_department": td}
        for c, i, p, v, w, wx, loc, a, t, pc, cc, td in zip(
            channel.tolist(), injury, police, vehicles, witnesses, weather, locations, attorney, tenure, prior,
            cat, true_dept.tolist())
    ]


def _policy_numbers(rng, scenario, index) -> list[str]:
    """One policy per claim, except that some policyholders claim again on
    the same policy (a claim earlier in the block, same line of business)."""
    lob = np.array([_LOB_CODE[s.lob] for s in SCENARIOS])[scenario]
    owner = index.copy()
    repeat = np.flatnonzero(rng.random(len(index)) < 0.04)
    for code in np.unique(lob):
        same = np.flatnonzero(lob == code)
        for pos in np.flatnonzero(np.isin(same, repeat)):
            if pos:
                owner[same[pos]] = owner[same[rng.integers(0, pos)]]
    scrambled = (owner * 48271 + 12345) % 10_000_000
    return [f"P{c}-{s:07d}" for c, s in zip(lob, scrambled)]


def _to_dates(days: np.ndarray, first_day: dt.date) -> list[dt.date]:
    ordinal = first_day.toordinal()
    return [dt.date.fromordinal(ordinal + int(d)) for d in days]


# --- parties -----------------------------------------------------------------
#
# Identifiers derive from a per-party number u = claim_index * 8 + slot through
# affine bijections, so they are unique within a seed by construction; slot 6
# is the shared shop/clinic pool and slot 7 the fraud rings.
_CLAIMANT, _INSURED, _DRIVER, _WITNESS, _POOL, _RING = 0, 1, 2, 3, 6, 7
_FIRST_PARTY = {"auto_collision", "auto_parked", "auto_theft", "auto_weather", "auto_animal", "auto_glass",
                "auto_glass_body", "prop_water", "prop_fire", "prop_storm", "prop_theft", "prop_vehicle"}
_SHOP_SCENARIOS = {"auto_collision", "auto_parked", "auto_weather", "auto_animal", "auto_glass",
                   "auto_glass_body", "auto_minor_injury"}
_N_SHOPS, _N_GLASS_SHOPS, _N_CLINICS = 300, 60, 500
_FAMILY_SHARE = 0.03
_DIGITS, _ALNUM = "0123456789", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # VINs never use I, O or Q


def _scramble(u: np.ndarray, seed: int, modulus: int, salt: int) -> np.ndarray:
    """A seed-dependent bijection of [0, modulus): distinct u, distinct result."""
    return (u.astype(np.int64) * 2654435761 + (seed * 7919 + salt) % modulus) % modulus


def _encode(values: np.ndarray, alphabet: str, width: int) -> np.ndarray:
    """Fixed-width base-len(alphabet) strings, vectorised."""
    codes = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    v = values.astype(np.int64).copy()
    mat = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        mat[:, k] = codes[v % len(alphabet)]
        v //= len(alphabet)
    return np.ascontiguousarray(mat).view(f"S{width}").ravel().astype(str)


def _phones(u, seed):
    h = _scramble(u, seed, 800 * 800 * 10_000, 11)
    area, exchange, line = 200 + h % 800, 200 + (h // 800) % 800, h // 640_000
    return np.char.add(np.char.add(area.astype(str), exchange.astype(str)), _encode(line, _DIGITS, 4))


def _accounts(u, seed):
    h = _scramble(u, seed, 10**12, 13)
    bank = np.array(vocab.BANK_CODES)[h % len(vocab.BANK_CODES)]
    check = _encode(h % 97 + 2, _DIGITS, 2)
    return np.char.add(np.char.add(np.char.add("US", check), bank), _encode(h, _DIGITS, 12))


def _plates(u, seed):
    return _encode(_scramble(u, seed, 36**7, 17), _ALNUM, 7)


def _vins(u, seed):
    h = _scramble(u, seed, 33**12, 19)
    maker = np.array(vocab.VIN_MAKERS)[h % len(vocab.VIN_MAKERS)]
    return np.char.add(np.char.add(maker, _encode(h, _VIN_CHARS, 12)), _encode(h // 7, _VIN_CHARS, 2))


def _addresses(u, seed, states, postcodes):
    h = _scramble(u, seed, 9999 * 30 * 10 * 24, 23)
    num, h = 1 + h % 9999, h // 9999
    streets, suffixes, cities = vocab.STREETS, vocab.STREET_SUFFIXES, vocab.CITIES
    return [f"{n} {streets[k % 30]} {suffixes[(k // 30) % 10]} {cities[(k // 300) % 24]} {st} {pc}"
            for n, k, st, pc in zip(num.tolist(), h.tolist(), states, postcodes)]


def _names(rng, m):
    first = np.array(vocab.FIRST_NAMES)[rng.integers(0, len(vocab.FIRST_NAMES), m)]
    last = np.array(vocab.LAST_NAMES)[rng.integers(0, len(vocab.LAST_NAMES), m)]
    return first, last


def _emails(rng, first, last, u, seed):
    # Six digits, not three: with three, two different people of the same name shared an
    # email address once the book passed ~100,000 claims, and shared emails read as fraud links.
    tag = _scramble(u, seed, 10**6, 29)
    domain = np.array(vocab.EMAIL_DOMAINS)[rng.integers(0, len(vocab.EMAIL_DOMAINS), len(u))]
    return [f"{f}.{l}{t}@{d}".lower().replace("'", "") for f, l, t, d in zip(first, last, tag.tolist(), domain)]


def _maybe(rng, values, p):
    """Values, with a share 1 - p missing (not every FNOL captures everything)."""
    out = np.asarray(values, dtype=object)
    out[rng.random(len(out)) >= p] = None
    return out


def _pool(seed: int, kind: str):
    """Repair shops or clinics shared by all blocks of a seed: popularity is
    Zipf-like, so a big shop legitimately appears on thousands of claims."""
    count = _N_SHOPS if kind == "repair_shop" else _N_CLINICS
    rng = np.random.default_rng([seed, 2, count])
    u = np.arange(count) * 8 + _POOL + (0 if kind == "repair_shop" else 8 * _N_SHOPS)
    suffixes = vocab.SHOP_NAMES if kind == "repair_shop" else vocab.CLINIC_NAMES
    last = np.array(vocab.LAST_NAMES)[rng.integers(0, len(vocab.LAST_NAMES), count)]
    names = [f"{l.upper()} {suffixes[k % len(suffixes)]}" for l, k in zip(last, range(count))]
    if kind == "repair_shop":
        names[:_N_GLASS_SHOPS] = [f"{l.upper()} AUTO GLASS" for l in last[:_N_GLASS_SHOPS]]
        ids = np.char.add("RS", _encode(_scramble(u, seed, 10**6, 31), _DIGITS, 6))
    else:
        ids = _encode(1_000_000_000 + _scramble(u, seed, 10**9, 37), _DIGITS, 10)  # NPI-like
    state_i = rng.choice(len(STATES), count, p=_normalised([s[1] for s in STATES]))
    states = [STATES[i][0] for i in state_i]
    postcodes = [f"{STATES[i][2] * 100 + k % 100:05d}" for i, k in zip(state_i, range(count))]
    popularity = 1.0 / np.arange(1, count + 1) ** 1.1
    return {"name": np.array(names, dtype=object), "phone": _phones(u, seed), "email": np.full(count, None),
            "address": np.array(_addresses(u, seed, states, postcodes), dtype=object),
            "bank_account": _accounts(u, seed), "provider_id": ids, "popularity": popularity}


def _role_rows(role, claim_index, **fields):
    m = len(claim_index)
    row = {"claim_index": claim_index, "role": np.full(m, role, dtype=object)}
    for col in PARTY_COLUMNS[2:]:
        value = fields.get(col)
        row[col] = np.full(m, None, dtype=object) if value is None else np.asarray(value, dtype=object)
    return row


def _parties(rng, seed, index, scenario, ring, extra, claims) -> pd.DataFrame:
    n = len(index)
    local = np.arange(n)
    names = np.array([s.name for s in SCENARIOS])[scenario]
    lob = np.array([s.lob for s in SCENARIOS])[scenario]
    first_party = np.isin(names, list(_FIRST_PARTY))
    auto = lob == "auto"
    injury = np.array([e["injury_reported"] for e in extra])
    vehicles = np.array([e["vehicle_count"] for e in extra])
    witnesses = np.array([e["witness_count"] for e in extra])
    # People live near where the loss happened.
    state, postcode = claims["state"].to_numpy(), claims["postcode"].to_numpy()
    rows = []

    # Claimant: the policyholder on first-party claims, else the injured or damaged third party.
    u = index * 8 + _CLAIMANT
    first, last = _names(rng, n)
    address = np.array(_addresses(u, seed, state, postcode), dtype=object)
    family = np.flatnonzero(rng.random(n) < _FAMILY_SHARE)
    relative = rng.integers(0, n, family.size)
    address[family], last[family] = address[relative], last[relative]  # households share an address
    phone, bank = _maybe(rng, _phones(u, seed), .95), _maybe(rng, _accounts(u, seed), .6)
    rows.append(_role_rows(
        "claimant", local, name=np.char.add(np.char.add(first, " "), last), phone=phone,
        email=_maybe(rng, _emails(rng, first, last, u, seed), .75), address=address, bank_account=bank,
        plate=np.where(auto & first_party, _plates(u, seed), None),
        vin=np.where(auto & first_party & (rng.random(n) < .8), _vins(u, seed), None)))

    # Insured, when not the claimant: a person (auto, home) or the business (GL, WC employer).
    rows_i = np.flatnonzero(~first_party)
    u = index[rows_i] * 8 + _INSURED
    f, l = _names(rng, rows_i.size)
    business = np.isin(lob[rows_i], ["general_liability", "workers_comp"])
    company = np.array(vocab.COMPANY_NAMES)[rng.integers(0, len(vocab.COMPANY_NAMES), rows_i.size)]
    rows.append(_role_rows(
        "insured", rows_i, name=np.where(business, np.char.add(np.char.add(np.char.upper(l), " "), company),
                                         np.char.add(np.char.add(f, " "), l)),
        phone=_phones(u, seed), email=_maybe(rng, _emails(rng, f, l, u, seed), .5),
        address=_addresses(u, seed, state[rows_i], postcode[rows_i]),
        plate=np.where(auto[rows_i], _plates(u, seed), None), vin=np.where(auto[rows_i], _vins(u, seed), None)))

    # The other driver in multi-vehicle first-party auto losses.
    rows_d = np.flatnonzero(auto & first_party & (vehicles >= 2))
    u = index[rows_d] * 8 + _DRIVER
    f, l = _names(rng, rows_d.size)
    rows.append(_role_rows(
        "driver", rows_d, name=np.char.add(np.char.add(f, " "), l), phone=_maybe(rng, _phones(u, seed), .8),
        address=_maybe(rng, _addresses(u, seed, state[rows_d], postcode[rows_d]), .5),
        plate=_maybe(rng, _plates(u, seed), .9), vin=_maybe(rng, _vins(u, seed), .4)))

    rows_w = np.flatnonzero(witnesses > 0)
    f, l = _names(rng, rows_w.size)
    rows.append(_role_rows("witness", rows_w, name=np.char.add(np.char.add(f, " "), l),
                           phone=_maybe(rng, _phones(index[rows_w] * 8 + _WITNESS, seed), .85)))

    ring_kinds = _ring_sharing(rng, ring, auto, injury)
    for kind, wanted in (("repair_shop", np.isin(names, list(_SHOP_SCENARIOS)) & (rng.random(n) < .7)),
                         ("provider", injury & (rng.random(n) < .75))):
        wanted = wanted | ring_kinds[kind]
        rows_k = np.flatnonzero(wanted)
        pool = _pool(seed, kind)
        weights = pool["popularity"].copy()
        if kind == "repair_shop":  # glass claims go to glass shops, the rest to body shops
            glass = np.isin(names[rows_k], ["auto_glass"])
            pick = np.where(glass, rng.choice(_N_GLASS_SHOPS, rows_k.size, p=_normalised(weights[:_N_GLASS_SHOPS])),
                            _N_GLASS_SHOPS + rng.choice(_N_SHOPS - _N_GLASS_SHOPS, rows_k.size,
                                                        p=_normalised(weights[_N_GLASS_SHOPS:])))
        else:
            pick = rng.choice(_N_CLINICS, rows_k.size, p=_normalised(weights))
        fields = {c: pool[c][pick].astype(object) for c in ("name", "phone", "email", "address", "bank_account",
                                                            "provider_id")}
        rows.append(_role_rows(kind, rows_k, **fields))

    parties = pd.DataFrame({c: np.concatenate([r[c] for r in rows]) for c in PARTY_COLUMNS})
    _share_ring_identifiers(parties, seed, index, ring, ring_kinds, state, postcode)
    parties["claim_index"] = index[parties["claim_index"].to_numpy()]
    parties["source_key"] = claims["source_key"].to_numpy()[parties["claim_index"].to_numpy() - index[0]]
    role_order = parties["role"].map({r: i for i, r in enumerate(("claimant", "insured", "driver", "witness",
                                                                   "repair_shop", "provider"))})
    order = np.lexsort((role_order.to_numpy(), parties["claim_index"].to_numpy()))
    return parties.iloc[order].reset_index(drop=True)


_RING_SHARES = ("phone", "bank_account", "address", "repair_shop", "provider")


def _ring_sharing(rng, ring, auto, injury) -> dict[str, np.ndarray]:
    """Which identifiers each ring's claims share (1 to 3 kinds per ring);
    returns, per kind, a claim mask."""
    masks = {k: np.zeros(len(ring), dtype=bool) for k in _RING_SHARES}
    for r in range(ring.max() + 1):
        rows = np.flatnonzero(ring == r)
        options = ["phone", "bank_account", "address"]
        if auto[rows].any():
            options.append("repair_shop")
        if injury[rows].any():
            options.append("provider")
        for kind in rng.choice(options, rng.integers(1, 4), replace=False):
            masks[kind][rows] = True
    return masks


def _share_ring_identifiers(parties, seed, index, ring, ring_kinds, state, postcode) -> None:
    """Overwrite ring members' identifiers with their ring's: one phone, bank
    account or address for all the ring's claimants, or one small shop or clinic."""
    local = parties["claim_index"].to_numpy()
    role = parties["role"].to_numpy()
    ring_of_row = ring[local]
    leader = np.array([np.flatnonzero(ring == r)[0] for r in range(ring.max() + 1)])  # ring's first claim
    u_ring = index[leader] * 8 + _RING
    targets = {
        "phone": ("claimant", {"phone": _phones}),
        "bank_account": ("claimant", {"bank_account": _accounts}),
        "address": ("claimant", {"address": None}),
        "repair_shop": ("repair_shop", {"phone": _phones, "bank_account": _accounts, "provider_id": None,
                                        "name": None, "address": None}),
        "provider": ("provider", {"phone": _phones, "bank_account": _accounts, "provider_id": None,
                                  "name": None, "address": None}),
    }
    for kind, (target_role, columns) in targets.items():
        rows = np.flatnonzero((role == target_role) & ring_kinds[kind][local] & (ring_of_row >= 0))
        if not rows.size:
            continue
        u = u_ring[ring_of_row[rows]]
        for col, make in columns.items():
            if make is not None:
                values = make(u, seed)
            elif col == "address":
                lead = leader[ring_of_row[rows]]
                values = _addresses(u, seed, state[lead], postcode[lead])
            elif col == "provider_id":
                values = (np.char.add("RS", _encode(_scramble(u, seed, 10**6, 41), _DIGITS, 6))
                          if kind == "repair_shop" else _encode(1_000_000_000 + _scramble(u, seed, 10**9, 43),
                                                                _DIGITS, 10))
            else:
                suffix = "AUTO REPAIR" if kind == "repair_shop" else "WELLNESS CLINIC"
                values = [f"{vocab.LAST_NAMES[k % len(vocab.LAST_NAMES)].upper()} {suffix}" for k in u.tolist()]
            parties.loc[parties.index[rows], col] = np.asarray(values, dtype=object)


# --- bulk load -----------------------------------------------------------------

_STAGE_CLAIMS, _STAGE_PARTIES, _NEW_CLAIMS = "demo_stage_claims", "demo_stage_parties", "demo_new_claims"
_DB_CLAIM_COLUMNS = (
    "claim_number", "source_key", "policy_number", "line_of_business", "loss_date", "report_date",
    "description", "claimed_amount", "reserve_amount", "paid_amount", "state", "region", "postcode",
    "status", "closed_at", "department_id", "fraud_label", "fraud_ring", "dataset", "extra",
)
# A demo claim arrived on its report date, not when the demo was loaded: its history
# ("Claim received", time in status) starts there, as its age on the workload pages
# does. Early morning UTC, before the history model's decisions (08:00-18:00) that
# day; never later than now when the last report date is today.
_CREATED_AT = ("least(now(), (report_date + time '07:00') AT TIME ZONE 'UTC' "
               "+ (hashtext(source_key) & 59) * interval '1 minute')")
_DB_PARTY_COLUMNS = ("role", "name", "phone", "email", "address", "bank_account", "plate", "vin", "provider_id")


def load_demo_data(session: Session, n_claims: int, seed: int, *, end: dt.date = END_DATE,
                   batch_size: int = 100_000) -> dict:
    """Generate and COPY ``n_claims`` synthetic claims ending on ``end`` with their
    parties into the session's transaction (the caller commits). Claims already
    present (same dataset and source_key) are skipped, so loading twice adds
    nothing; the source key depends on the seed only, so neither does loading
    again with another end."""
    started = time.perf_counter()
    first_day = window_start(end)  # a bad end fails here, before anything is written
    check_end(end)
    ensure_dataset(session, DATASET, FEATURE_SPEC,
                   description=f"Synthetic claims (generator seed {seed}, {first_day} to {end}); "
                               f"true department in extra.true_department")
    dept_ids = ensure_standard_departments(session)
    conn = session.connection().connection
    create_staging_table(conn, _STAGE_CLAIMS, "claims", _DB_CLAIM_COLUMNS)
    create_staging_table(conn, _STAGE_PARTIES, "parties", _DB_PARTY_COLUMNS, [("source_key", "varchar(80)")])
    create_staging_table(conn, _NEW_CLAIMS, "claims", ("id", "source_key"))
    claim_cols, party_cols = ", ".join(_DB_CLAIM_COLUMNS), ", ".join(_DB_PARTY_COLUMNS)
    inserted = parties = 0
    batch_size = max(BLOCK_SIZE, batch_size // BLOCK_SIZE * BLOCK_SIZE)  # whole blocks: none generated twice
    with conn.cursor() as cur:
        for start in range(0, n_claims, batch_size):
            data = generate_range(seed, start, min(start + batch_size, n_claims), end=end)
            cur.execute(f"TRUNCATE {_STAGE_CLAIMS}, {_STAGE_PARTIES}, {_NEW_CLAIMS}")
            copy_rows(conn, _STAGE_CLAIMS, _DB_CLAIM_COLUMNS, _claim_rows(data.claims, dept_ids))
            # Postgres assigns ids from the sequence; RETURNING tells us which
            # claims are new so only their parties are loaded.
            cur.execute(
                f"WITH ins AS (INSERT INTO claims ({claim_cols}, created_at) "  # nosec B608
                f"SELECT {claim_cols}, {_CREATED_AT} FROM {_STAGE_CLAIMS} "
                f"ON CONFLICT (dataset, source_key) DO NOTHING RETURNING id, source_key) "
                f"INSERT INTO {_NEW_CLAIMS} (id, source_key) SELECT id, source_key FROM ins")
            new = cur.rowcount
            inserted += new
            if not new:
                continue
            copy_rows(conn, _STAGE_PARTIES, _DB_PARTY_COLUMNS + ("source_key",), _party_rows(data.parties))
            cur.execute(
                f"INSERT INTO parties (claim_id, {party_cols}) SELECT n.id, {', '.join('p.' + c for c in _DB_PARTY_COLUMNS)} "  # nosec B608
                f"FROM {_STAGE_PARTIES} p JOIN {_NEW_CLAIMS} n USING (source_key)")
            parties += cur.rowcount
    for table in (_STAGE_CLAIMS, _STAGE_PARTIES, _NEW_CLAIMS):
        drop_table(conn, table)
    return {"dataset": DATASET, "claims": inserted, "parties": parties, "skipped": n_claims - inserted,
            "end": end.isoformat(), "seconds": round(time.perf_counter() - started, 3)}


def _column(frame: pd.DataFrame, name: str) -> list:
    """A column as Python values with None for missing (what COPY writes as NULL)."""
    series = frame[name]
    if series.dtype.kind == "f":
        return [None if v != v else v for v in series.tolist()]
    return series.astype(object).where(series.notna(), None).tolist()


def _claim_rows(claims: pd.DataFrame, dept_ids: dict[str, int]):
    n = len(claims)
    closed = (claims["status"] == "closed").to_numpy()
    department = [dept_ids[d] if c else None for d, c in zip(claims["true_department"].tolist(), closed)]
    extra = [json.dumps(e, separators=(",", ":")) for e in claims["extra"]]
    values = {name: _column(claims, name) for name in _DB_CLAIM_COLUMNS
              if name not in ("department_id", "dataset", "extra")}
    values.update(department_id=department, dataset=[DATASET] * n, extra=extra)
    return zip(*(values[name] for name in _DB_CLAIM_COLUMNS))


def _party_rows(parties: pd.DataFrame):
    return zip(*(_column(parties, name) for name in _DB_PARTY_COLUMNS + ("source_key",)))
