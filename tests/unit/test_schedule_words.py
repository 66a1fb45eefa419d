"""The Jobs page puts each job's cron schedule into plain words beside the expression."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from jobs.registry import JOBS
from jobs.schedule_words import schedule_in_words

UTC = dt.timezone.utc


@pytest.mark.parametrize("expression, words", [
    ("*/5 * * * *", "every 5 minutes"),
    ("*/2 * * * *", "every 2 minutes"),
    ("1-59/5 * * * *", "every 5 minutes (at :01, :06, …)"),
    ("* * * * *", "every minute"),
    ("*/1 * * * *", "every minute"),
    ("20 * * * *", "hourly at :20"),
    ("0 * * * *", "hourly at :00"),
    ("0 2 * * *", "daily at 02:00 UTC"),
    ("30 3 * * *", "daily at 03:30 UTC"),
    ("0 3 * * sun", "Sundays at 03:00 UTC"),
    ("15 6 * * MON-FRI", "weekdays at 06:15 UTC"),
    ("0 1 * * fri,mon", "Mondays and Fridays at 01:00 UTC"),
    ("0 1 * * mon,wed,fri", "Mondays, Wednesdays and Fridays at 01:00 UTC"),
    ("  25 * * * *  ", "hourly at :25"),
    ("off", "not scheduled"),
])
def test_shapes_in_words(expression, words):
    assert schedule_in_words(expression) == words


@pytest.mark.parametrize("expression", [
    "", "nonsense", "5 * * *", "0 2 1 * *", "0 2 * 6 *", "0 3 * * 0",   # weekday numbers: 0 is Monday here
    "*/7 * * * *", "0-30/5 * * * *", "7-59/5 * * * *", "0 */6 * * *", "60 * * * *", "0 24 * * *",
    "0,30 * * * *", "20 * * * sun", "0 3 * * sun-mon", "0 3 * * sun,sun", None, 5,
])
def test_other_shapes_have_no_words(expression):
    assert schedule_in_words(expression) is None


def test_every_registered_job_has_words():
    for name, job in JOBS.items():
        assert schedule_in_words(job.schedule), name


def _fires(expression: str, hours: int) -> list[dt.datetime]:
    trigger = CronTrigger.from_crontab(expression, timezone=UTC)
    at = dt.datetime(2026, 3, 2, tzinfo=UTC)
    end, out = at + dt.timedelta(hours=hours), []
    while (at := trigger.get_next_fire_time(None, at)) < end:
        out.append(at)
        at += dt.timedelta(seconds=1)
    return out


@pytest.mark.parametrize("expression", sorted({job.schedule for job in JOBS.values()} | {"0 3 * * sun"}))
def test_the_words_match_when_the_scheduler_fires(expression):
    words = schedule_in_words(expression)
    fires = _fires(expression, 24 * 7)
    gaps = {(b - a) for a, b in zip(fires, fires[1:])}
    if words.startswith("every "):
        step = 1 if words.startswith("every minute") else int(words.split()[1])
        assert gaps == {dt.timedelta(minutes=step)}
        if "(at :" in words:
            assert fires[0].minute == int(words.split("(at :")[1][:2])
    elif words.startswith("hourly at :"):
        assert gaps == {dt.timedelta(hours=1)} and {f.minute for f in fires} == {int(words[-2:])}
    elif words.startswith("daily at "):
        assert gaps == {dt.timedelta(days=1)} and fires[0].strftime("%H:%M UTC") == words.removeprefix("daily at ")
    else:  # one named weekday ("Sundays at 03:00 UTC", the weekly summary's "Mondays at 07:10 UTC")
        day, time = words.split(" at ")
        assert {f.strftime("%A") + "s" for f in fires} == {day} and {f.strftime("%H:%M UTC") for f in fires} == {time}


def test_the_module_does_not_import_dash():
    code = "import sys, jobs.schedule_words; print('dash' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.stdout.strip() == "False"
