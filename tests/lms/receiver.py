"""A real webhook receiver on 127.0.0.1 for the outbox tests.

It does what a careful integrator's endpoint does: verifies the Standard
Webhooks signature with the reference `standardwebhooks` package and keeps
each message once, by its `webhook-id` (the idempotency key). `mode` makes
it misbehave:

- "up": keep the message, answer 200;
- "down": answer 503 without keeping anything (the receiver is unavailable);
- "lost_ack": keep the message, then answer 500, as when the receiver did
  the work but its response never reached us.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class Receiver:
    def __init__(self, secret: str | None = None):
        self.secret = secret
        self.mode = "up"
        self.requests: list[dict] = []  # every request, as received
        self.messages: dict[str, dict] = {}  # kept once per webhook-id
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests.append({"headers": headers, "body": body})
                    mode = receiver.mode
                    if mode != "down":
                        payload = (
                            Webhook(receiver.secret).verify(body, headers) if receiver.secret else json.loads(body)
                        )
                        receiver.messages.setdefault(headers["webhook-id"], payload)
                self.send_response({"up": 200, "down": 503, "lost_ack": 500}[mode])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
