"""A loopback webhook receiver: answers 204 and records, per delivery, receive time minus event time.

    python -m bench.receiver PORT OUTFILE

Each line of OUTFILE is ``<event id> <seconds from the event's created_at to its receipt>``. The event's
``created_at`` is the instant its transaction wrote it (``occurred_at``), so the figure covers the
commit, the dispatch job, the delivery worker and the HTTP request.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO


class Handler(BaseHTTPRequestHandler):
    out: IO[str]

    def do_POST(self) -> None:
        received = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.end_headers()
        event = json.loads(body)
        created = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00")).timestamp()
        self.out.write(f"{event['id']} {received - created:.6f}\n")
        self.out.flush()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "a", encoding="utf-8") as out:
        Handler.out = out
        ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
