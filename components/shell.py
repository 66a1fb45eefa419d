"""The frame around every page: navigation bar and page container."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.current import user_or_none
from auth.permissions import Perm

# Pages appear in the bar only when the user may open them and they exist.
NAV = (
    ("Overview", "/", Perm.VIEW_QUEUES),
    ("My work", "/my-work", Perm.GIVE_FEEDBACK),
    ("Queues", "/queues", Perm.VIEW_QUEUES),
    # Fraud alerts, with Rings one tab away on both pages (components.fraud_alerts.fraud_tabs): one
    # short label keeps the bar on one line.
    ("Fraud", "/fraud-alerts", Perm.VIEW_CLAIMS),
    ("New claim", "/intake", Perm.CREATE_CLAIMS),
    ("Reassign", "/reassign", Perm.REASSIGN),
    ("Workload", "/workload", Perm.VIEW_WORKLOAD),
    ("Dashboard", "/dashboard", Perm.VIEW_DASHBOARDS),
    ("Operations", "/operations", Perm.VIEW_OPERATIONS),
    ("Analytics", "/analytics", Perm.VIEW_ANALYTICS),
)
# Less frequent pages sit in one "Admin" menu so the bar stays short.
ADMIN_NAV = (
    ("Models", "/models", Perm.VIEW_MODELS),
    ("Alert rules", "/alerts", Perm.MANAGE_ALERTS),
    ("Users", "/admin/users", Perm.MANAGE_USERS),
    ("Departments", "/admin/departments", Perm.MANAGE_DEPARTMENTS),
    ("Audit log", "/admin/audit", Perm.VIEW_AUDIT),
    ("Jobs", "/admin/jobs", Perm.MANAGE_JOBS),
)
ROLE_LABELS = {"admin": "Admin", "manager": "Manager", "adjuster": "Adjuster", "viewer": "Viewer"}


def _registered(path: str) -> bool:
    return any(page.get("path") == path for page in dash.page_registry.values())


def navbar(user) -> dbc.Navbar:
    from auth import csrf

    nav = list(NAV)
    if user.can(Perm.VIEW_ALERTS) and not user.can(Perm.MANAGE_ALERTS):
        # Those who read alerts but do not edit rules (viewers) have no Admin menu to find them in.
        nav.append(("Alerts", "/alerts", Perm.VIEW_ALERTS))
    links = [dbc.NavItem(dbc.NavLink(label, href=path, active="exact" if path == "/" else "partial"))
             for label, path, perm in nav if user.can(perm) and _registered(path)]
    admin = [dbc.DropdownMenuItem(label, href=path)
             for label, path, perm in ADMIN_NAV if user.can(perm) and _registered(path)]
    if admin:
        links.append(dbc.DropdownMenu(admin, label="Admin", nav=True, in_navbar=True, align_end=True,
                                      id="nav-admin-menu"))
    logout = html.Form(
        [dcc.Input(type="hidden", name="csrf_token", value=csrf.token()),
         html.Button("Sign out", type="submit", className="btn btn-outline-light btn-sm", id="logout-button")],
        action="/logout", method="post", className="ms-3 mb-0",
    )
    name = (html.A(user.name, href="/profile", className="me-2 text-white", id="nav-profile-link")
            if _registered("/profile") else html.Span(user.name, className="me-2"))
    who = html.Span([
        name,
        dbc.Badge(ROLE_LABELS.get(user.role, user.role), color="light", text_color="dark", className="role-badge"),
    ], className="navbar-text text-white small")
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand(html.Span(["SCOPE ", html.Span("Assistant", className="brand-light")]), href="/"),
            dbc.Nav(links, navbar=True, className="me-auto"),
            html.Div([who, logout], className="d-flex align-items-center"),
        ], fluid=True),
        color="dark", dark=True, className="scope-navbar mb-4",
    )


def shell():
    user = user_or_none()
    if user is None:
        # Only reachable in a race with logout: the guard redirects otherwise.
        return html.Div([dcc.Location(id="shell-redirect", href="/login", refresh=True)])
    # Open-alert banners (callbacks/alerts.py), only for those who may see alerts:
    # without the slot its callback never fires, so other roles get no 403s.
    banners = (html.Div([dcc.Location(id="alerts-banner-url", refresh=False), html.Div(id="alert-banners")],
                        className="alert-banners")
               if user.can(Perm.VIEW_ALERTS) else None)
    return html.Div([
        navbar(user),
        # The weekly rating question (callbacks/usage.py) appears below the Overview only.
        dbc.Container([banners, dash.page_container, html.Div(id="usage-rating-slot")], fluid=True,
                      className="scope-page pb-5"),
    ])
