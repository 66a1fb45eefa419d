"""Development mail sink: an SMTP server (aiosmtpd) on the loopback interface
that delivers nowhere and keeps every message as one ``.eml`` file in a
directory (``<data dir>/mail``). ``scope run`` starts it in development when no
SMTP server is configured; the tests start one on a free port and read from it."""
from __future__ import annotations

import datetime as dt
import itertools
import os
import socket
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

_seq = itertools.count()


class _KeepHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{os.getpid()}-{next(_seq):05d}.eml"
        partial = self.directory / (name + ".part")
        # Write then rename, so a reader never sees half a message.
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(self.directory / name)
        return "250 Message kept by the SCOPE development mail sink"


def start(directory: Path, host: str = "127.0.0.1", port: int = 0) -> Controller:
    """Start the sink in a background thread; ``port=0`` picks a free port (``address(controller)``)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the development mail sink listens on the loopback interface only")
    directory.mkdir(parents=True, exist_ok=True)
    if port == 0:
        # aiosmtpd's Controller connects to its own port to check it is up, so it needs the number first.
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    controller = Controller(_KeepHandler(directory), hostname=host, port=port, ready_timeout=10)
    controller.start()
    return controller


def address(controller: Controller) -> tuple[str, int]:
    host, port = controller.server.sockets[0].getsockname()[:2]
    return host, port


def messages(directory: Path) -> list[dict]:
    """The kept messages, oldest first: file, from, to, subject, date, body."""
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = msg.get_body(preferencelist=("plain",))
        out.append({"file": path.name, "from": str(msg["From"] or ""), "to": str(msg["To"] or ""),
                    "subject": str(msg["Subject"] or ""), "date": str(msg["Date"] or ""),
                    "body": body.get_content() if body is not None else ""})
    return out


def wait_for(directory: Path, predicate, timeout: float = 10.0) -> dict:
    """The first kept message matching ``predicate``; waits because delivery is asynchronous."""
    deadline = time.monotonic() + timeout
    while True:
        for message in messages(directory):
            if predicate(message):
                return message
        if time.monotonic() > deadline:
            raise TimeoutError("no matching message arrived in the mail sink")
        time.sleep(0.05)


def serve(directory: Path, host: str, port: int, say=print) -> int:
    """Run the sink in the foreground until interrupted (``scope mail-sink``)."""
    import signal

    controller = start(directory, host, port)
    say(f"development mail sink on smtp://{host}:{port}, keeping mail in {directory}", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0
