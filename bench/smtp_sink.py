"""A loopback SMTP server that accepts every message and keeps none, for the event to webhook scenario.

    python -m bench.smtp_sink PORT

Events such as ``inquiry.received`` also cause e-mails; with no server to take them each attempt would
fail and be retried, which is work a deployment with a mail relay does not do.
"""

from __future__ import annotations

import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Accept:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


def main() -> None:
    controller = Controller(Accept(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
