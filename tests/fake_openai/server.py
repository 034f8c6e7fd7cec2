"""A fake OpenAI-compatible Chat Completions server on 127.0.0.1, for the real ``openai`` SDK.

``POST <prefix>/chat/completions`` (the prefix is the path of the base URL the
client is given: ``/v1`` by default, as Ollama, vLLM or llama.cpp serve it; ``""``
for a DeepSeek-like root). Function calls and JSON mode, usage with cached
prompt tokens (DeepSeek's fields for a ``deepseek-*`` model, OpenAI's else),
streamed replies (``stream: true``: chunks, usage last when
``stream_options.include_usage`` asks for it), ``reasoning_content`` for a
model whose name holds ``reasoner`` (holding a
decoy JSON object that must never be taken as the reply), ``x-ratelimit-*``
headers, and the faults a script asks for (``tests.fake_anthropic.faults``):

- ``rate_limit`` 429 (``retry-after`` if given), ``server_error`` 500,
  ``bad_request`` 400, ``auth`` 401 whose message echoes the key sent (as some
  servers do), ``drop`` (the connection closed with no reply), ``slow``;
- ``drop_stream``: a streamed reply cut off after its first chunks;
- ``garbage``: a 200 whose body is cut off JSON;
- ``invalid``: JSON that does not validate; ``malformed``: a reply that is no
  JSON at all (cut off); ``fenced``: the reply in a fenced block with a
  trailing comma, which the client reads leniently.

Every request is recorded in memory (``requests``), the API key included so
tests can check it was sent; the server writes nothing to disk.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_anthropic.faults import Fault, Rule, Script
from tests.fake_openai.model import (
    CountedUsage,
    PromptCache,
    agent_of,
    chapter_of,
    invalid_object,
    mode_of,
    output_of,
    reply_object,
    reply_text,
)

LIMITS = {"requests": 4000, "tokens": 2_000_000}
DECOY = '{"title": "NOT THE REPLY", "chapters": []}'
ERRORS = {
    "rate_limit": (429, "rate_limit_exceeded", "Rate limit reached for requests"),
    "server_error": (500, "server_error", "The server had an error processing your request"),
    "bad_request": (400, "invalid_request_error", "max_tokens is too large for this model"),
}
# Faults after which the client has the whole reply (and its usage).
DELIVERED = (None, "invalid", "malformed", "fenced", "slow")


@dataclass
class Recorded:
    """One request as the fake server saw it."""

    at: float  # time.monotonic() on arrival
    path: str
    agent: str
    chapter: int | None
    mode: str
    body: dict[str, Any]
    api_key: str | None
    fault: str | None = None
    usage: CountedUsage | None = None


@dataclass
class FakeOpenAI:
    """The server: ``start()``, ``url`` (the base URL to give the client), ``requests``,
    ``stop()``; faults from ``rules``."""

    rules: list[Rule] = field(default_factory=list)
    prefix: str = "/v1"
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    script: Script = field(init=False)
    cache: PromptCache = field(default_factory=PromptCache)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.script = Script(list(self.rules))

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.host}:{self._server.server_address[1]}{self.prefix}"

    def start(self) -> FakeOpenAI:
        """Listen and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    def of(self, agent: str, chapter: int | None = None) -> list[Recorded]:
        """The recorded requests of ``agent`` (and ``chapter``), in arrival order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.agent == agent and (chapter is None or r.chapter == chapter)
            ]


UNKNOWN_MODEL_PREFIX = "no-such-"  # a model the fake does not serve


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``, not a log."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.split("?")[0]
        if path != f"{self.fake.prefix}/chat/completions":
            self._error(404, "not_found", f"no route {path}")
            return
        request = json.loads(body)
        entry = Recorded(
            at=time.monotonic(),
            path=path,
            agent=agent_of(request),
            chapter=chapter_of(request),
            mode=mode_of(request),
            body=request,
            api_key=self._api_key(),
        )
        fault = self.fake.script.take(entry.agent, entry.chapter)
        entry.fault = fault.kind if fault else None
        self.fake.record(entry)
        if str(request.get("model", "")).startswith(UNKNOWN_MODEL_PREFIX):
            # As OpenAI, DeepSeek and most compatible servers answer a model they do not serve.
            self._error(404, "model_not_found", f"The model `{request['model']}` does not exist")
            return
        try:
            self._answer(request, entry, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to say

    def _api_key(self) -> str | None:
        bearer = self.headers.get("authorization", "")
        return bearer[len("bearer ") :] if bearer.lower().startswith("bearer ") else None

    def _answer(self, request: dict[str, Any], entry: Recorded, fault: Fault | None) -> None:
        kind: str | None = fault.kind if fault else None
        if fault is not None and kind in ERRORS:
            status, error_type, message = ERRORS[str(kind)]
            self._error(status, error_type, message, fault.retry_after)
            return
        if kind == "auth":
            self._error(401, "invalid_api_key", f"Incorrect API key provided: {entry.api_key}")
            return
        if kind == "garbage":
            data = b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "cut'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if kind == "drop":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and kind == "slow":
            time.sleep(fault.delay_s)
        obj = invalid_object(request) if kind == "invalid" else reply_object(request)
        if obj is None:
            output = reply_text(request)
        elif kind == "malformed":
            output = json.dumps(obj, ensure_ascii=False)[:-40]  # cut off: no JSON at all
        elif kind == "fenced":
            text = json.dumps(obj, ensure_ascii=False, indent=1)
            output = "Here it is:\n```json\n" + text[:-1] + ",\n}\n```\n"
        else:
            output = json.dumps(obj, ensure_ascii=False)
        model = str(request.get("model", "fake"))
        reasoning = f"Let me think. A first draft: {DECOY}" if "reasoner" in model else ""
        usage = self.fake.cache.usage(request, output, reasoning)
        if kind in DELIVERED:
            entry.usage = usage
        completion = _completion(request, obj is not None, output, reasoning, usage)
        if request.get("stream"):
            self._stream(request, completion, kind == "drop_stream")
        else:
            self._json(200, completion)

    def _stream(self, request: dict[str, Any], completion: dict[str, Any], drop: bool) -> None:
        """``completion`` as server-sent chunks: reasoning, then content or the function's
        arguments in pieces, the finish, the usage (if asked for), ``[DONE]``."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for name, value in _limit_headers().items():
            self.send_header(name, value)
        self.end_headers()
        for index, chunk in enumerate(_chunks(request, completion)):
            if drop and index == 2:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._chunk(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:12]}")
        for name, value in {**_limit_headers(), **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, error_type: str, message: str, retry_after: float | None = None
    ) -> None:
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        if status == 429:
            headers["x-ratelimit-remaining-requests"] = "0"
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        self._json(status, payload, headers)


def _completion(
    request: dict[str, Any], structured: bool, output: str, reasoning: str, usage: CountedUsage
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    if structured and mode_of(request) == "tools":
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:16]}",
                "type": "function",
                "function": {"name": output_of(request), "arguments": output},
            }
        ]
        finish = "tool_calls"
    else:
        message["content"] = output
    if reasoning:
        message["reasoning_content"] = reasoning
    model = str(request.get("model", "fake"))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage.to_dict(deepseek=model.startswith("deepseek")),
    }


def _chunks(request: dict[str, Any], completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream of ``completion``: chat.completion.chunk objects."""
    base = {k: completion[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    message = completion["choices"][0]["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**base, "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    reasoning = message.get("reasoning_content") or ""
    chunks += [
        chunk({"reasoning_content": reasoning[i : i + 50]}) for i in range(0, len(reasoning), 50)
    ]
    finish = "stop"
    if message.get("tool_calls"):
        [call] = message["tool_calls"]
        arguments = call["function"]["arguments"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {**head, "function": {"name": call["function"]["name"], "arguments": ""}}
                    ]
                }
            )
        )
        chunks += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 300]}}]})
            for i in range(0, len(arguments), 300)
        ]
        finish = "tool_calls"
    else:
        text = message.get("content") or ""
        chunks += [chunk({"content": text[i : i + 300]}) for i in range(0, len(text), 300)]
    chunks.append(chunk({}, finish))
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return chunks


def _limit_headers() -> dict[str, str]:
    headers = {}
    for kind, limit in LIMITS.items():
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(limit - 1)
        headers[f"x-ratelimit-reset-{kind}"] = "20ms"
    return headers
