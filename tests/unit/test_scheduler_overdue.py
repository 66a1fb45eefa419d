"""When a job counts as overdue: from the later of its last scheduled run and the scheduler
start that brought it in (jobs/scheduler.py began_scheduling, overdue_since). A job the
scheduler had never started was overdue at once, counted from the first run of anything."""
from __future__ import annotations

import datetime as dt

from jobs.scheduler import began_scheduling, overdue_since

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
INSTALLED = NOW - dt.timedelta(days=30)   # the installation's first run of anything
ALL = frozenset({"refresh_aggregates", "route_unscored", "retrain"})


def hours_ago(h: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=h)


def test_a_job_added_by_an_upgrade_counts_from_the_scheduler_start_that_brought_it():
    upgraded = hours_ago(0.05)   # 11:57
    starts = [(upgraded, ALL | {"purge_usage"}), (hours_ago(24 * 9), ALL), (hours_ago(24 * 20), ALL)]
    began = began_scheduling("purge_usage", starts, INSTALLED, any_scheduled=True)
    assert began == upgraded
    # every 5 minutes: not overdue three minutes after the start ...
    assert overdue_since("*/5 * * * *", None, began, NOW) is None
    # ... but when the fires after it did not come
    assert overdue_since("*/5 * * * *", None, began, NOW + dt.timedelta(minutes=20)) == dt.datetime(
        2026, 12, 7, 12, 0, tzinfo=UTC)
    # nightly at 03:30: not before tomorrow night
    assert overdue_since("30 3 * * *", None, began, NOW + dt.timedelta(hours=15)) is None
    assert overdue_since("30 3 * * *", None, began, NOW + dt.timedelta(hours=16)) == dt.datetime(
        2026, 12, 8, 3, 30, tzinfo=UTC)
    # the old rule: from the first run of anything, overdue at once
    assert overdue_since("30 3 * * *", None, INSTALLED, NOW) is not None


def test_a_job_switched_off_and_on_does_not_count_the_fires_of_the_time_it_was_off():
    back = hours_ago(1)
    starts = [(back, ALL), (hours_ago(24 * 7), ALL - {"retrain"}), (hours_ago(24 * 20), ALL)]
    began = began_scheduling("retrain", starts, INSTALLED, any_scheduled=True)
    assert began == back
    last_nightly = hours_ago(24 * 7 + 10)   # its last scheduled run, before it was switched off
    assert overdue_since("0 2 * * *", last_nightly, began, NOW) is None
    assert overdue_since("0 2 * * *", last_nightly, None, NOW) is not None   # counted from the last run


def test_a_restart_keeps_counting_from_the_last_run_so_runs_missed_while_down_show():
    # every start named the job: it has been scheduled since the oldest of them
    starts = [(hours_ago(1), ALL), (hours_ago(24 * 3), ALL), (hours_ago(24 * 20), ALL)]
    began = began_scheduling("retrain", starts, INSTALLED, any_scheduled=True)
    assert began == hours_ago(24 * 20)
    # the scheduler was down at 02:00 last night and restarted an hour ago: that run is missing
    last_nightly = hours_ago(24 + 10)   # yesterday 02:00
    assert overdue_since("0 2 * * *", last_nightly, began, NOW) == dt.datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_a_job_the_newest_scheduler_does_not_schedule_has_no_start():
    starts = [(hours_ago(1), ALL - {"retrain"}), (hours_ago(24 * 3), ALL)]
    assert began_scheduling("retrain", starts, INSTALLED, any_scheduled=True) is None
    assert overdue_since("0 2 * * *", None, None, NOW) is None


def test_without_a_recorded_start():
    # No scheduler has ever started: counted from the installation, so a missing scheduler shows.
    began = began_scheduling("refresh_aggregates", [], INSTALLED, any_scheduled=False)
    assert began == INSTALLED
    assert overdue_since("*/5 * * * *", None, began, NOW) == INSTALLED + dt.timedelta(minutes=5)
    # Schedulers from before these records ran jobs: a job they never ran has nothing to count from ...
    assert began_scheduling("purge_usage", [], INSTALLED, any_scheduled=True) is None
    # ... and a job they ran counts from its last scheduled run, as before.
    assert overdue_since("*/5 * * * *", hours_ago(1), None, NOW) == hours_ago(1) + dt.timedelta(minutes=5)
    # a fresh installation with nothing run at all
    assert began_scheduling("purge_usage", [], None, any_scheduled=False) is None


def test_the_later_of_the_last_run_and_the_start_counts():
    start, last = hours_ago(2), hours_ago(0.5)
    # ran after the start: from the run
    assert overdue_since("*/5 * * * *", last, start, NOW) == dt.datetime(2026, 12, 7, 11, 35, tzinfo=UTC)
    # and the other way round
    assert overdue_since("*/5 * * * *", start, last, NOW) == dt.datetime(2026, 12, 7, 11, 35, tzinfo=UTC)
