"""A demo claims team, so queues, "My work" and workload pages show real work:
adjusters per department with skills, licences and capacity, and about half
of the open routed claims assigned to them."""
from __future__ import annotations

import secrets

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import User
from services.users import create_user

# (email, name, departments, skills, licensed states, capacity). Capacities are caseloads
# of the kind carriers plan for (a few dozen auto claims, 100+ long-running liability or
# workers' comp files), and the teams are sized to the demo's open claims: the first demo
# team had one liability adjuster at 30 claims for ~680 open liability files (1,100% use).
# Glass claims settle in about a week, physical damage in about four: the auto adjusters
# all work physical damage, and glass is a share of their desks, not a desk of its own.
TEAM = (
    ("adjuster.auto1@scope.example", "Maria Lopez", ("AUTO_PD", "AUTO_GLASS"), ("auto",),
     ("CA", "OR", "WA", "NV", "AZ"), 90),
    ("adjuster.auto2@scope.example", "James Carter", ("AUTO_PD",), ("auto",), ("TX", "FL", "GA", "NC", "TN"), 90),
    ("adjuster.glass1@scope.example", "Aisha Khan", ("AUTO_GLASS", "AUTO_PD"), ("auto",), (), 90),
    ("adjuster.property1@scope.example", "Tom Becker", ("PROPERTY",), ("property",), ("FL", "TX", "LA", "GA"), 110),
    ("adjuster.property2@scope.example", "Lena Novak", ("PROPERTY",), ("property",), (), 110),
    ("adjuster.liability1@scope.example", "Samuel Okafor", ("LIABILITY",), ("general_liability", "auto"), (), 140),
    ("adjuster.liability2@scope.example", "Grace Thompson", ("LIABILITY",), ("general_liability",), (), 140),
    ("adjuster.liability3@scope.example", "Omar Haddad", ("LIABILITY",), ("general_liability", "auto"), (), 140),
    ("adjuster.liability4@scope.example", "Hannah Schultz", ("LIABILITY", "WORKERS_COMP"),
     ("general_liability", "workers_comp"), (), 140),
    ("adjuster.wc1@scope.example", "Priya Raman", ("WORKERS_COMP",), ("workers_comp",), (), 130),
    ("adjuster.wc2@scope.example", "Luis Ortega", ("WORKERS_COMP",), ("workers_comp",), (), 130),
    ("investigator.siu1@scope.example", "Daniel Weiss", ("SIU",), ("auto", "property", "general_liability"), (), 50),
)
DEMO_ADJUSTER = "adjuster@scope.example"


def ensure_team(session: Session) -> int:
    """Create the team members that do not exist; they cannot sign in (random password)."""
    created = 0
    for email, name, depts, skills, states, capacity in TEAM:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        user = create_user(session, email=email, role="adjuster", password=secrets.token_urlsafe(24), name=name,
                           department_codes=list(depts), actor="bootstrap", email_verified=True)
        user.skills, user.licensed_states, user.capacity = list(skills), list(states), capacity
        created += 1
    demo = session.scalar(select(User).where(User.email == DEMO_ADJUSTER))
    if demo is not None and not demo.skills:
        demo.skills, demo.capacity = ["auto"], 90
    session.flush()
    return created


def assign_open_claims(session: Session, share: float = 0.5) -> int:
    """Assign about ``share`` of the unassigned open claims of each department
    round-robin to its adjusters; each gets a status event. Deterministic.
    The event is dated a few hours after the claim arrived (after its routing,
    see routing.route_claims ``at_arrival``), not at the load: the claim has been
    assigned since then, and its history says so."""
    if session.scalar(select(func.count()).select_from(User).where(User.role == "adjuster")) == 0:
        return 0
    result = session.execute(text("""
        WITH team AS (
            SELECT ud.department_id, u.id AS user_id,
                   row_number() OVER (PARTITION BY ud.department_id ORDER BY u.id) - 1 AS slot,
                   count(*) OVER (PARTITION BY ud.department_id) AS size
            FROM user_departments ud JOIN users u ON u.id = ud.user_id
            WHERE u.role = 'adjuster' AND u.is_active
        ), picked AS (
            SELECT c.id, c.department_id,
                   row_number() OVER (PARTITION BY c.department_id ORDER BY c.id) - 1 AS n
            FROM claims c
            WHERE c.status = 'new' AND c.adjuster_id IS NULL AND c.department_id IS NOT NULL
              AND (hashtext(c.claim_number) & 1023) < :cut
        ), moved AS (
            UPDATE claims c SET adjuster_id = t.user_id, status = 'assigned', version = c.version + 1
            FROM picked p JOIN team t ON t.department_id = p.department_id AND t.slot = p.n % t.size
            WHERE c.id = p.id
            RETURNING c.id, c.adjuster_id, c.created_at
        )
        INSERT INTO claim_events (claim_id, kind, at, from_status, to_status, reason, data)
        SELECT id, 'status', least(now(), created_at + interval '1 hour' + (id % 240) * interval '1 minute'),
               'new', 'assigned', 'DEMO_ASSIGNMENT', jsonb_build_object('adjuster_id', adjuster_id)
        FROM moved
    """), {"cut": int(share * 1024)})
    return result.rowcount or 0
