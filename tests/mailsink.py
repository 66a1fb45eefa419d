"""The development mail sink for tests: ``mail_sink`` starts one on a free
loopback port for the session; ``web_mail`` points the shared web app's SMTP
settings at it. Import the fixtures into a test module to use them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from services import mail_sink

LINK = re.compile(r"https?://\S+")


@dataclass
class Sink:
    directory: Path
    host: str
    port: int

    def messages(self) -> list[dict]:
        return mail_sink.messages(self.directory)

    def wait_for(self, to: str, subject_part: str, timeout: float = 10.0) -> dict:
        return mail_sink.wait_for(self.directory, lambda m: m["to"] == to and subject_part in m["subject"], timeout)

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages() if m["to"] == address]


def link_in(message: dict) -> tuple[str, str]:
    """(path, token) of the one link in an account email."""
    urls = LINK.findall(message["body"])
    assert len(urls) == 1, urls
    parts = urlsplit(urls[0])
    return parts.path, parse_qs(parts.query)["token"][0]


@pytest.fixture(scope="session")
def mail_sink_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mail")
    controller = mail_sink.start(directory)
    host, port = mail_sink.address(controller)
    yield Sink(directory, host, port)
    controller.stop()


@pytest.fixture(scope="session")
def web_mail(web_app, mail_sink_server):
    """The shared web app sends its mail to the sink for the rest of the session
    (other web tests send none, so this changes nothing for them)."""
    config = web_app.server.config
    config["SCOPE_SETTINGS"] = config["SCOPE_SETTINGS"].with_(
        smtp_host=mail_sink_server.host, smtp_port=mail_sink_server.port, smtp_starttls=False, smtp_user=None)
    return mail_sink_server
