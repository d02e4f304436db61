"""A scripted OpenAI-compatible HTTP server on 127.0.0.1: the network edge of the LLM pass.

Each POST to /v1/chat/completions takes the next scripted reply (the last one
repeats). A reply is (status, body) where body is a dict (sent as JSON), a str
(sent raw) or a callable(request_json, headers) -> (status, body); header names are lower-case. ``delay``
makes the server slow, for timeouts. Requests are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(text: str) -> dict:
    return {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class FakeOpenAI:
    def __init__(self, replies, delay: float = 0.0):
        self.replies = list(replies)
        self.delay = delay
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(payload)
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.headers.append(headers)
                reply = fake.replies[min(len(fake.requests) - 1, len(fake.replies) - 1)]
                if callable(reply):
                    reply = reply(payload, headers)
                status, body = reply
                if fake.delay:
                    time.sleep(fake.delay)
                data = body if isinstance(body, str) else json.dumps(body)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data.encode())))
                    self.end_headers()
                    self.wfile.write(data.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
