"""The OpenAI-compatible endpoint: where it is, one request with retries, and who answered.

- ``resolve_endpoint``: the one place the base URL and the API key are looked up (argument,
  then config for the base URL, then the environment). A local server needs no key; the key
  is never written, and a URL is only ever shown without its user:password part.
- ``ask``: one request, retried with backoff on 429/5xx and dropped connections, within the
  pass's deadline. It returns an ``Answer``: the raw text, ``finish_reason`` and the model named
  in the response.
- ``served_model``: the name the disclosure uses. llama.cpp's server echoes the *requested*
  name in its responses, so the server's ``/v1/models`` list is asked too: when it lists one
  model and the response named the one we asked for, the listed one is what answered.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlparse

from pipeline.errors import PipelineError
from pipeline.text import safe_url

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
OPENAI_URL = "https://api.openai.com/v1"  # where the openai client sends requests with no base URL


class DraftError(PipelineError):
    """The LLM pass was required and could not be done."""


class Unusable(Exception):
    """The endpoint answered, but with nothing usable (cached as such)."""


class Unreachable(Exception):
    """The request did not get through (timeouts, refused connections, 429/5xx after retries)."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str

    def __repr__(self) -> str:  # never show the key or a password in the URL
        return f"Endpoint({safe_url(self.base_url)}, key={'set' if self.api_key else 'none'})"

    @property
    def url(self) -> str:
        """The endpoint's URL as it may be shown (no user:password)."""
        return safe_url(self.base_url or OPENAI_URL)

    @property
    def host(self) -> str:
        """host[:port] of the endpoint, without credentials ("api.openai.com" when none is set)."""
        parts = urlparse(self.base_url or OPENAI_URL)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class Answer:
    text: str  # the message content as it came (the gate sees it before any cleaning)
    finish_reason: str
    model: str  # the model the response names ("" when it names none)


def resolve_endpoint(config, base_url: str | None = None, api_key: str | None = None) -> Endpoint:
    """Where to send requests. Lookup order: argument, then config (base_url only), then environment
    (OPENAI_BASE_URL, OPENAI_API_KEY). A local server needs no key."""
    base = base_url or config.llm.base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("OPENAI_API_KEY") or ""
    if not key:
        if base and (urlparse(base).hostname or "") in LOCAL_HOSTS:
            key = "local-server-needs-no-key"
        else:
            raise DraftError("the LLM pass needs an API key: set OPENAI_API_KEY (or point OPENAI_BASE_URL / "
                             "tool.pipeline.llm.base_url at a local OpenAI-compatible server), or run without --llm")
    return Endpoint(base, key)


def listed_models(client) -> tuple[str, ...]:
    """The ids the server's ``/v1/models`` lists; () when it does not answer (a hosted API may
    list hundreds: only the response's own name is used then)."""
    import openai

    try:
        return tuple(m.id for m in client.models.list() if isinstance(getattr(m, "id", None), str))
    except (openai.OpenAIError, ValueError, TypeError, AttributeError):
        return ()


def served_model(response_model: str, requested: str, listed: tuple[str, ...]) -> str:
    """Who answered, as the disclosure names it (a file path is shown by its file name only)."""
    name = response_model or requested
    if len(listed) == 1 and name not in listed:  # a local server echoing the requested name
        name = listed[0]
    if name.startswith(("/", "~", ".")) or "\\" in name or name.lower().endswith((".gguf", ".bin", ".safetensors")):
        name = PurePath(name.replace("\\", "/")).name
    return name


def ask(client, model: str, messages: tuple[tuple[str, str], ...], llm, deadline: float) -> Answer:
    """One request, retried with backoff on 429/5xx and dropped connections, within the deadline."""
    import openai

    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            raise Unreachable(f"no time left before the {llm.deadline:g}s deadline")
        try:
            response = client.with_options(timeout=min(llm.timeout, remaining)).chat.completions.create(
                model=model,
                messages=[{"role": role, "content": content} for role, content in messages],
                temperature=llm.temperature,
                max_tokens=llm.max_tokens,
            )
            break
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            attempt += 1
            if attempt > llm.max_retries:
                raise Unreachable(f"{type(exc).__name__}: {exc}") from None
            time.sleep(min(2 ** attempt * 0.25 + random.uniform(0, 0.25), max(0.0, deadline - time.monotonic() - 1)))
        except openai.APIStatusError as exc:  # 4xx: asking again will not help
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        except (openai.APIResponseValidationError, ValueError) as exc:  # an answer arrived, but not a valid one
            raise Unusable(f"the endpoint's answer is malformed ({type(exc).__name__}: {exc})") from None
    try:
        choice = response.choices[0]
        content = choice.message.content
    except (AttributeError, IndexError, TypeError):
        raise Unusable("the endpoint's answer has no message content") from None
    text = content if isinstance(content, str) else ""
    if not text.strip():
        raise Unusable("the endpoint answered with no usable text")
    model_named = getattr(response, "model", "")
    return Answer(text, str(getattr(choice, "finish_reason", "") or ""), model_named if isinstance(model_named, str) else "")


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text
