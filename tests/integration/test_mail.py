"""services.mail through the development sink, and the sink as `scope mail-sink` / `scope mail list`."""
# ruff: noqa: F811
# (pytest fixtures imported from tests.mailsink are test parameters here)
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from config import Settings
from services import mail
from tests.integration.test_cli import ROOT
from tests.mailsink import mail_sink_server  # noqa: F401  (fixture)


def test_mail_goes_through_smtp_into_the_sink(mail_sink_server):
    settings = Settings(smtp_host=mail_sink_server.host, smtp_port=mail_sink_server.port, smtp_starttls=False,
                        mail_from="SCOPE Test <scope@test.example>")
    mail.send(settings, mail.Mail("someone@test.example", "Hello from the test", "Line one\nLine two"))
    kept = mail_sink_server.wait_for("someone@test.example", "Hello from the test")
    assert kept["from"] == "SCOPE Test <scope@test.example>"
    assert kept["body"].replace("\r\n", "\n").strip() == "Line one\nLine two"
    assert kept["file"].endswith(".eml") and (mail_sink_server.directory / kept["file"]).is_file()


def test_unconfigured_or_unreachable_smtp_is_a_clear_error():
    with pytest.raises(mail.MailNotSent, match="SCOPE_SMTP_HOST"):
        mail.send(Settings(), mail.Mail("a@test.example", "s", "b"))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
    assert mail.send_all(unreachable, [mail.Mail("a@test.example", "s", "b")]) == [
        "The mail server did not accept the message; try again later."]


def test_scope_mail_sink_keeps_mail_and_scope_mail_list_shows_it(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SCOPE_DATA_DIR": str(tmp_path)}
    sink = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "mail-sink", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert f"smtp://127.0.0.1:{port}" in sink.stdout.readline()
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
        mail.send(settings, mail.Mail("dev@test.example", "Kept by the sink", "Body text"))
        deadline = time.monotonic() + 10
        while not list((tmp_path / "mail").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        listed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "mail", "list", "--body"], check=False, env=env,
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        messages = json.loads(listed.stdout)
        assert [(m["to"], m["subject"]) for m in messages] == [("dev@test.example", "Kept by the sink")]
        assert "Body text" in messages[0]["body"]
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=10) == 0


def test_scope_run_starts_the_sink_only_in_development_without_smtp(tmp_path):
    import cli

    env: dict = {"SCOPE_SMTP_USER": "someone"}
    command = cli._mail_sink_for_run(Settings(data_dir=tmp_path), env)
    assert command[-4:-2] == ["mail-sink", "--port"] and command[-1] == "--quiet"
    assert env["SCOPE_SMTP_HOST"] == "127.0.0.1" and env["SCOPE_SMTP_PORT"] == command[-2]
    assert env["SCOPE_SMTP_STARTTLS"] == "false" and "SCOPE_SMTP_USER" not in env
    assert cli._mail_sink_for_run(Settings(data_dir=tmp_path, smtp_host="smtp.example.com"), {}) is None
    production = Settings(data_dir=tmp_path, env="production", secret_key="k" * 40, database_url="postgresql://x/y")
    assert cli._mail_sink_for_run(production, {}) is None
