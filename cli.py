"""The ``scope`` command. Errors are one line and a non-zero exit code."""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class CliError(Exception):
    """An error whose message is meant for the person at the terminal."""


def _settings():
    from config import Settings

    return Settings.from_env()


def _factory(settings):
    from db.session import make_engine, make_session_factory, resolve_database_url

    url = resolve_database_url(settings)
    return make_session_factory(make_engine(url, pool_size=2)), url


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_db(args) -> int:
    from db import migrate
    from services.departments import ensure_standard_departments

    settings = _settings()
    factory, url = _factory(settings)
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
        with factory.begin() as session:
            ensure_standard_departments(session)
        print(f"database at {args.revision or 'head'}")
    else:
        if not args.revision:
            raise CliError("scope db downgrade needs a revision (for example: -1 or base)")
        migrate.downgrade(url, args.revision)
        print(f"database downgraded to {args.revision}")
    return 0


def _migrated_db():
    """Settings and a session factory for a database that is at the newest schema."""
    settings = _settings()
    factory, url = _factory(settings)
    _ensure_schema(url)
    return settings, factory


def _ensure_schema(url: str) -> None:
    from db import migrate

    if not migrate.is_current(url):
        raise CliError("the database schema is not up to date: run `scope db upgrade` first")


def _end_date(value: str) -> dt.date:
    """--end as a date; checked here, not by argparse, so a bad one is one error line."""
    try:
        if len(value) != 10:  # fromisoformat also takes 20261128, which nobody means
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--end must be a date written YYYY-MM-DD, like 2026-11-28 (got {value!r})") from None


def cmd_demo_data(args) -> int:
    from services import routing
    from services.demo_data import END_DATE, check_end, load_demo_data

    if args.claims <= 0:
        raise CliError("--claims must be a positive number")
    if args.seed < 0:
        raise CliError(f"--seed must be a whole number, 0 or more (got {args.seed})")
    end = _end_date(args.end) if args.end is not None else END_DATE
    try:
        check_end(end, today=dt.datetime.now(dt.timezone.utc).date())
    except ValueError as exc:
        raise CliError(f"--end: {exc}") from None
    settings, factory = _migrated_db()
    with factory.begin() as session:
        summary = load_demo_data(session, args.claims, args.seed, end=end)
    with factory.begin() as session:
        if routing.has_champion(session, "synthetic"):
            summary["routed"] = routing.route_unscored(session, "synthetic", threshold=settings.confidence_threshold,
                                                       shap_method="approx", at_arrival=True)
    _print_json(summary)
    return 0


def _check_file(path: str, what: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise CliError(f"{what} {path} is a directory, not a file")
    if not p.is_file():
        raise CliError(f"{what} not found: {path}")
    return p


def _dataset_name(name: str) -> str:
    from services.datasets import DatasetNameError, check_dataset_name

    try:
        return check_dataset_name(name)
    except DatasetNameError as exc:
        raise CliError(f"--dataset: {exc}") from None


def cmd_import(args) -> int:
    from services.imports import import_csv

    _dataset_name(args.dataset)
    csv_path, mapping_path = _check_file(args.file, "CSV file"), _check_file(args.mapping, "mapping file")
    settings, factory = _migrated_db()
    with factory.begin() as session:
        summary = import_csv(session, csv_path, mapping_path,
                             args.dataset, settings.reports_dir, actor=os.environ.get("USER", "cli"),
                             threshold=settings.confidence_threshold)
    _print_json(summary)
    if summary["rejected"] and not summary["imported"] and not summary["duplicates"]:
        # A script that checks only the exit code must not take "every row refused" for a load.
        print(f"scope: error: nothing imported: all {summary['rejected']:,} rows were rejected "
              f"(reasons in {summary['report_path']})", file=sys.stderr)
        return 3
    return 0


def cmd_train(args) -> int:
    from services.training import train_dataset

    _, factory = _migrated_db()
    with factory.begin() as session:
        result = train_dataset(session, args.dataset)
    _print_json(result)
    return 0


def cmd_evaluate(args) -> int:
    from services.evaluation import evaluate_csv

    csv_path, mapping_path = _check_file(args.file, "CSV file"), _check_file(args.mapping, "mapping file")
    _, factory = _migrated_db()
    with factory() as session:
        result = evaluate_csv(session, csv_path, mapping_path, args.dataset)
        session.rollback()
    _print_json(result)
    return 0


def cmd_create_user(args) -> int:
    from auth.permissions import Perm, role_has
    from services.users import create_user

    password = args.password or os.environ.get("SCOPE_NEW_USER_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("give the password with --password or SCOPE_NEW_USER_PASSWORD")
        password = getpass.getpass("Password for the new user: ")
    _, factory = _migrated_db()
    with factory.begin() as session:
        user = create_user(session, email=args.email, role=args.role, password=password, name=args.name or "",
                           department_codes=args.department or [], actor="cli", email_verified=True)
        print(f"created {user.role} {user.email} (id {user.id})")
    if args.department and role_has(args.role, Perm.VIEW_ALL_DEPARTMENTS):
        # Kept, as the admin page keeps them: they apply if the role becomes adjuster.
        print(f"note: a {args.role} sees every department; the department(s) {', '.join(args.department)} "
              "only matter if the role changes to adjuster")
    return 0


def cmd_token(args) -> int:
    from services.api_tokens import TokenError, create_token, expiry_for_days, revoke_token, user_by_email

    expires_at = None
    if args.action == "create":
        try:  # checked before the database is touched
            expires_at = expiry_for_days(args.expires_days)
        except TokenError as exc:
            raise CliError(f"--expires-days: {exc}") from None
    _, factory = _migrated_db()
    with factory.begin() as session:
        if args.action == "create":
            user = user_by_email(session, args.email)
            row, token = create_token(session, user, name=args.name, scopes=args.scope or [], expires_at=expires_at)
            until = f"expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "never expires"
            print(f"token {row.id} for {user.email} ({', '.join(row.scopes)}, {until}); shown once, copy it now:")
            print(token)
        else:
            from db.models import ApiToken

            before = session.get(ApiToken, args.id) if 0 < args.id < 2**31 else None
            if before is not None and before.revoked_at is not None:
                raise CliError(f"token {before.id} ({before.prefix}...) was already revoked on "
                               f"{before.revoked_at:%Y-%m-%d %H:%M} UTC")
            row = revoke_token(session, None, args.id, any_owner=True)
            print(f"token {row.id} ({row.prefix}...) revoked")
    return 0


def cmd_mfa_reset(args) -> int:
    """For the admin who lost their phone and recovery codes and has no other admin to ask."""
    from services.mfa import reset_mfa
    from services.users import UserError, get_by_email

    _, factory = _migrated_db()
    with factory.begin() as session:
        user = get_by_email(session, args.email)
        if user is None:
            raise UserError(f"no user with email {args.email}")
        had = reset_mfa(session, user.id, "cli")
    print(f"MFA reset for {user.email}: " + ("they set it up again at their next sign-in"
                                             if had else "it was not set up"))
    return 0


def cmd_run(args) -> int:
    from db import migrate
    from jobs import bootstrap

    settings = _settings()
    factory, url = _factory(settings)
    if not migrate.is_current(url):
        print("migrating the database...")
        migrate.upgrade(url)
    if not args.no_bootstrap:
        # A fresh demo ends today, so "this week" and "this month" have data; only an empty
        # database gets demo claims, so a later start keeps what the first one loaded.
        bootstrap.run(factory, settings, demo_claims=args.demo_claims,
                      demo_end=dt.datetime.now(dt.timezone.utc).date())
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    bind = f"{settings.host}:{settings.port}"
    cmd = [sys.executable, "-m", "gunicorn", "app:server", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
           "--bind", bind, "--workers", str(args.workers),
           "--worker-class", "gthread", "--threads", "4", "--timeout", "120", "--chdir", str(ROOT),
           "--access-logfile", "-" if args.access_log else "/dev/null"]
    print(f"\nSCOPE Assistant is starting on http://{bind}")
    if not settings.is_production:
        print("Demo logins:")
        for login, mfa_note in _demo_login_notes(factory):
            print(f"  {login.shown_as:<12} {login.email:<26} password: {login.password}{mfa_note}")
    if settings.metrics_token:
        print(f"Prometheus metrics: http://{bind}/metrics (bearer token: SCOPE_METRICS_TOKEN)")
    sink = _mail_sink_for_run(settings, env)
    print("Press Ctrl+C to stop.\n", flush=True)
    scheduler = [sys.executable, str(ROOT / "cli.py"), "scheduler"]
    return _serve(cmd, env, scheduler, [sink] if sink else [])


def _demo_login_notes(factory) -> list[tuple]:
    """Each demo login with what its second factor needs: admins and managers must use
    one, set up by a QR code at their first sign-in, then the app's code every time."""
    from jobs import bootstrap
    from services.mfa import is_enrolled, requires_mfa
    from services.users import get_by_email

    out = []
    with factory() as session:
        for login in bootstrap.DEMO_LOGINS:
            note = ""
            if requires_mfa(login.role):
                user = get_by_email(session, login.email)
                note = ("  + authenticator app code" if user is not None and is_enrolled(session, user.id)
                        else "  + authenticator app code (set up at first sign-in)")
            out.append((login, note))
    return out


def _mail_sink_for_run(settings, env: dict) -> list[str] | None:
    """In development without an SMTP server, start the local mail sink beside
    the web server and point the app at it; production needs SCOPE_SMTP_HOST."""
    if settings.smtp_host:
        print(f"Mail goes through {settings.smtp_host}:{settings.smtp_port}")
        return None
    if settings.is_production:
        print("Warning: SCOPE_SMTP_HOST is not set, so invitation and password-reset emails cannot be sent.")
        return None
    import socket

    port = settings.mail_sink_port
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    env.update(SCOPE_SMTP_HOST="127.0.0.1", SCOPE_SMTP_PORT=str(port), SCOPE_SMTP_STARTTLS="false")
    env.pop("SCOPE_SMTP_USER", None)
    print(f"Development mail sink on smtp://127.0.0.1:{port}: mail is kept in {settings.mail_dir} "
          "(see it with `scope mail list`)")
    # --quiet: the line above already says where the sink listens
    return [sys.executable, str(ROOT / "cli.py"), "mail-sink", "--port", str(port), "--quiet"]


def _serve(cmd: list[str], env: dict, scheduler_cmd: list[str] | None = None,
           helper_cmds: list[list[str]] = ()) -> int:
    """Run gunicorn (and the job scheduler beside it) in the foreground; a stop
    signal to us stops both, and we wait for both, so the embedded database
    (stopped when this process exits) outlives neither. If the web server
    ends, the scheduler is stopped too; a scheduler that dies leaves the web
    server serving (the jobs page shows runs stopped arriving)."""
    import signal
    import time

    # Helpers (the development mail sink) start first so they listen before the app needs them.
    helpers = [subprocess.Popen(helper, env=env, cwd=ROOT) for helper in helper_cmds]
    children = [subprocess.Popen(cmd, env=env, cwd=ROOT)]
    if scheduler_cmd:
        children.append(subprocess.Popen(scheduler_cmd, env=env, cwd=ROOT))
    children.extend(helpers)

    def stop_all(signum=None, _frame=None):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    web = children[0]
    while True:
        try:
            if web.poll() is not None:
                stop_all()
                for child in children[1:]:
                    child.wait()
                return web.returncode
            time.sleep(0.5)
        except KeyboardInterrupt:
            stop_all()


def cmd_scheduler(args) -> int:
    from jobs.scheduler import serve

    # What the scheduler planned and each run's outcome are its output, not warnings: INFO
    # for its own loggers unless SCOPE_LOG_LEVEL says otherwise (APScheduler's stay quiet).
    if "SCOPE_LOG_LEVEL" not in os.environ:
        logging.getLogger("jobs").setLevel(logging.INFO)
    settings, factory = _migrated_db()
    return serve(factory, settings)


def cmd_jobs(args) -> int:
    from jobs.registry import JOBS
    from jobs.runner import UnknownJob, last_runs, manual_slot, run_job
    from jobs.scheduler import schedule_of

    settings = _settings()
    if args.action == "run" and args.name not in JOBS:
        raise CliError(f"unknown job {args.name!r} (known: {', '.join(sorted(JOBS))})")
    factory, url = _factory(settings)
    _ensure_schema(url)
    if args.action == "list":
        with factory() as session:
            last = last_runs(session)
        _print_json([{"job": name, "schedule": schedule_of(name), "description": job.description,
                      "last_run": last.get(name)} for name, job in JOBS.items()])
        return 0
    try:
        result = run_job(factory, args.name, slot=manual_slot(), settings=settings,
                         triggered_by=f"cli:{os.environ.get('USER', 'unknown')}")
    except UnknownJob as exc:
        raise CliError(str(exc)) from None
    _print_json(result)
    return 1 if result["status"] == "failed" else 0


def cmd_mail(args) -> int:
    from services.mail_sink import messages

    directory = Path(args.dir) if args.dir else _settings().mail_dir
    found = messages(directory)
    if args.last:
        found = found[-args.last:]
    if not args.body:
        for message in found:
            message.pop("body")
    _print_json(found)
    return 0


def cmd_mail_sink(args) -> int:
    from services.mail_sink import serve

    settings = _settings()
    if settings.is_production:
        raise CliError("the mail sink is for development only (SCOPE_ENV=production)")
    return serve(Path(args.dir) if args.dir else settings.mail_dir, "127.0.0.1", args.port or settings.mail_sink_port,
                 say=(lambda *a, **k: None) if args.quiet else print)


def cmd_models(args) -> int:
    from services.models import ModelError, SystemActor, list_model_versions, promote

    _, factory = _migrated_db()
    if args.action == "list":
        with factory() as session:
            rows = list_model_versions(session, limit=10_000)
            session.rollback()
        _print_json([{k: r[k] for k in ("version", "dataset", "status", "accuracy", "macro_f1")}
                     | {"created": r["created_at"]} for r in rows])
        return 0
    from sqlalchemy import select

    from db.models import ModelVersion

    with factory.begin() as session:
        mv = session.execute(select(ModelVersion.id, ModelVersion.dataset)
                             .where(ModelVersion.version == args.version)).first()
        if mv is None:
            raise CliError(f"no model version {args.version!r} (see: scope models list)")
        # From the terminal there is no stale page: the champion to replace is the one there is now.
        current = session.scalar(select(ModelVersion.id).where(ModelVersion.dataset == mv.dataset,
                                                               ModelVersion.status == "champion"))
        try:
            result = promote(session, SystemActor(f"cli:{os.environ.get('USER', 'unknown')}"), mv.id,
                             expected_champion_id=current, reason=args.reason)
        except ModelError as exc:
            raise CliError(str(exc)) from None
    print(result["message"])
    return 0


def cmd_audit(args) -> int:
    from services.audit_chain import verify

    _, factory = _migrated_db()
    with factory() as session:
        report = verify(session)
        session.rollback()
    print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 2


def build_parser() -> argparse.ArgumentParser:
    from auth.permissions import ROLES

    parser = argparse.ArgumentParser(prog="scope", description="SCOPE Assistant: claims triage.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="set up what is missing and serve the app")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--demo-claims", type=int, default=20_000)
    p.add_argument("--no-bootstrap", action="store_true", help="skip demo users, data and first model")
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade", "downgrade"])
    p.add_argument("revision", nargs="?")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("demo-data", help="load synthetic demo claims")
    p.add_argument("--claims", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end", metavar="YYYY-MM-DD",
                   help="last day of the two years of claims (default: the fixed 2026-10-31, so the same "
                        "seed always gives the same data; scope run's first start uses today). Claims of "
                        "this seed already loaded are skipped, whatever their end")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("import", help="import a legacy claims CSV with a mapping file")
    p.add_argument("file")
    p.add_argument("--mapping", required=True)
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("train", help="train a router on a dataset's closed claims")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a labelled CSV with a dataset's champion (stores nothing)")
    p.add_argument("file")
    p.add_argument("--mapping", required=True)
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("create-user", help="create a user account")
    p.add_argument("--email", required=True)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name")
    p.add_argument("--password")
    p.add_argument("--department", action="append", help="department code (repeatable)")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("token", help="API tokens: create (shown once) or revoke")
    tok = p.add_subparsers(dest="action", required=True)
    t = tok.add_parser("create", help="create a token for a user")
    t.add_argument("--email", required=True)
    t.add_argument("--name", required=True)
    t.add_argument("--scope", nargs="+", action="extend", required=True, help="claims:read claims:write queues:read")
    t.add_argument("--expires-days", default="90", metavar="N",
                   help="days until the token expires (default 90; 0 = never; at most 3650)")
    t.set_defaults(func=cmd_token)
    t = tok.add_parser("revoke", help="revoke a token by id")
    t.add_argument("id", type=int)
    t.set_defaults(func=cmd_token)

    p = sub.add_parser("mfa", help="two-step sign-in: reset a user's authenticator")
    m = p.add_subparsers(dest="action", required=True)
    t = m.add_parser("reset", help="remove a user's authenticator and recovery codes; they enrol again")
    t.add_argument("--email", required=True)
    t.set_defaults(func=cmd_mfa_reset)

    p = sub.add_parser("scheduler", help="run the job scheduler in the foreground")
    p.set_defaults(func=cmd_scheduler)

    p = sub.add_parser("jobs", help="scheduled jobs: list them or run one now")
    jobs = p.add_subparsers(dest="action", required=True)
    j = jobs.add_parser("list", help="jobs with their schedule and last run")
    j.set_defaults(func=cmd_jobs)
    j = jobs.add_parser("run", help="run one job now (recorded in job_runs)")
    j.add_argument("name")
    j.set_defaults(func=cmd_jobs)

    p = sub.add_parser("mail", help="development mail sink: list the kept messages")
    mails = p.add_subparsers(dest="action", required=True)
    m = mails.add_parser("list", help="messages kept by the sink, oldest first (JSON)")
    m.add_argument("--body", action="store_true", help="include each message's text")
    m.add_argument("--last", type=int, help="only the newest N")
    m.add_argument("--dir", help="mail directory (default: <data dir>/mail)")
    m.set_defaults(func=cmd_mail)

    p = sub.add_parser("mail-sink", help="run the development SMTP sink in the foreground (scope run starts it)")
    p.add_argument("--port", type=int, help="default SCOPE_MAIL_SINK_PORT or 8025")
    p.add_argument("--dir", help="mail directory (default: <data dir>/mail)")
    p.add_argument("--quiet", action="store_true", help="do not print where it listens")
    p.set_defaults(func=cmd_mail_sink)

    p = sub.add_parser("models", help="router model versions: list them or make one its dataset's champion")
    mods = p.add_subparsers(dest="action", required=True)
    m = mods.add_parser("list", help="every version with status and holdout metrics, newest first (JSON)")
    m.set_defaults(func=cmd_models)
    m = mods.add_parser("promote", help="make VERSION its dataset's champion; the current champion is retired")
    m.add_argument("version")
    m.add_argument("--reason", required=True, help="why (recorded in the audit log; 1-500 characters)")
    m.set_defaults(func=cmd_models)

    p = sub.add_parser("audit", help="audit log: verify its hash chain")
    aud = p.add_subparsers(dest="action", required=True)
    a = aud.add_parser("verify", help="walk the chain; name the first broken row")
    a.set_defaults(func=cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    logging.basicConfig(level=os.environ.get("SCOPE_LOG_LEVEL", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback
        if os.environ.get("SCOPE_DEBUG"):
            raise
        print(f"scope: error: {_describe(exc)}", file=sys.stderr)
        return 1


def _describe(exc: Exception) -> str:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    if isinstance(exc, OperationalError):
        return "cannot reach the database (check DATABASE_URL)"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {exc.__class__.__name__} (set SCOPE_DEBUG=1 for details)"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return message


if __name__ == "__main__":
    sys.exit(main())
