"""A scripted OpenAI-compatible HTTP server on 127.0.0.1: the network edge of the LLM pass.

Each POST to /v1/chat/completions takes the next scripted reply (the last one
repeats). A reply is (status, body) or (status, body, delay) where body is a dict (sent as
JSON), a str (sent raw) or a callable(request_json, headers) -> reply; header names are
lower-case. ``delay`` (for the whole server, or per reply) makes it slow, for timeouts.
``by_prompt`` builds a callable that answers by what the prompt says (good, degenerate, slow,
failing answers per section). GET /v1/models lists ``models`` (404 when None), as llama.cpp's
server lists the one model it serves. Requests are recorded, with how many were in flight at
most (``max_in_flight``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(text: str, model: str = "fake", finish_reason: str = "stop") -> dict:
    return {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def prompt_of(payload: dict) -> str:
    """The user message of a chat request."""
    return next((m["content"] for m in payload.get("messages", []) if m.get("role") == "user"), "")


def by_prompt(rules: list[tuple[str, object]], default=None):
    """A reply that picks the first rule whose regex is found in the user message; a rule's
    reply is a reply tuple, a str (answered as a completion) or a callable(payload, headers)."""

    def reply(payload, headers):
        prompt = prompt_of(payload)
        for pattern, answer in rules:
            if re.search(pattern, prompt):
                break
        else:
            answer = default if default is not None else (200, completion("既定の答えです。この部分は説明です。"))
        if callable(answer):
            answer = answer(payload, headers)
        return (200, completion(answer)) if isinstance(answer, str) else answer

    return reply


_PLAIN = {"print", "import", "from", "def", "return", "for", "cell", "output", "None", "True", "False"}


def naming(template: str, shows: str = ""):
    """A reply that names something the prompt's own code holds, as a grounded draft does:
    ``{name}`` in *template* becomes the first identifier after the prompt's first [cell]
    marker, or (a prompt with no code: the introduction, the summary) its first chapter title;
    where the prompt shows an output, *shows* (with ``{value}``, the first output's first number,
    else its first word) is added."""

    def reply(payload, headers):
        prompt = prompt_of(payload)
        code = prompt.split("[cell ", 1)[1].split("\n", 1)[-1] if "[cell " in prompt else ""
        names = [n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", code) if n not in _PLAIN]
        title = re.search(r"^1\. (.+)$", prompt, re.M)
        shown = prompt.split("[output]\n", 1)[1] if "[output]\n" in prompt else ""
        value = re.search(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", shown) or re.search(r"[A-Za-z]{3,}", shown)
        name = names[0] if names else title.group(1) if title else "記事"
        return 200, completion(template.format(name=name) + (shows.format(name=name, value=value.group(0))
                                                             if value and shows else ""))

    return reply


class FakeOpenAI:
    def __init__(self, replies, delay: float = 0.0, models: list[str] | None = None):
        self.replies = list(replies)
        self.delay = delay
        self.models = models
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = body if isinstance(body, str) else json.dumps(body)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data.encode())))
                    self.end_headers()
                    self.wfile.write(data.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models") and fake.models is not None:
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "me"}
                                                                for m in fake.models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with lock:
                    fake.requests.append(payload)
                    fake.headers.append(headers)
                    reply = fake.replies[min(len(fake.requests) - 1, len(fake.replies) - 1)]
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    while callable(reply):
                        reply = reply(payload, headers)
                    status, body, *rest = reply
                    delay = rest[0] if rest else fake.delay
                    if delay:
                        time.sleep(delay)
                    self._send(status, body)
                finally:
                    with lock:
                        fake.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    @property
    def prompts(self) -> list[str]:
        return [prompt_of(p) for p in self.requests]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
