"""A fake Messages API on 127.0.0.1: enough of ``POST /v1/messages`` for the real SDK.

Plain and streamed (server-sent events) replies, tool use, usage with cache
writes and reads by the API's caching rules (``model.PromptCache``), rate
limits per window with ``anthropic-ratelimit-*`` headers on every reply and
429s with ``retry-after`` (``limits.py``; generous unless a test sets them), a
reply time (``reply_s``, of which ``first_event_s`` passes before the response
begins), and the faults a script asks for (``faults.py``). Every request is recorded in memory
(``requests``), the API key included so tests can check it was sent: the
server writes nothing to disk.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_anthropic.faults import Fault, Rule, Script
from tests.fake_anthropic.limits import Limits, RateLimits
from tests.fake_anthropic.model import (
    CountedUsage,
    PromptCache,
    agent_of,
    chapter_of,
    invalid_input,
    reply_input,
    reply_text,
    tool_of,
)

STREAM_ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
# Faults after which the client has the whole reply (and its usage).
DELIVERED = (None, "invalid", "trickle", "exhausted", "short", "cut")
ERRORS = {
    "rate_limit": (429, "rate_limit_error", "Number of requests has exceeded your rate limit"),
    "over_limit": (429, "rate_limit_error", "This request would exceed your rate limit"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server_error": (500, "api_error", "Internal server error"),
    "bad_request": (400, "invalid_request_error", "max_tokens: too large for this model"),
}


@dataclass
class Recorded:
    """One request as the fake server saw it."""

    at: float  # time.monotonic() on arrival
    agent: str
    chapter: int | None
    body: dict[str, Any]
    api_key: str | None
    fault: str | None = None
    usage: CountedUsage | None = None  # what a good reply reported
    answered_at: float | None = None


@dataclass
class FakeAnthropic:
    """The server: ``start()``, ``url``, ``requests``, ``stop()``; faults from ``rules``."""

    rules: list[Rule] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    script: Script = field(init=False)
    cache: PromptCache = field(default_factory=PromptCache)
    limits: Limits = field(default_factory=Limits)
    reply_s: float = 0.0  # how long a good reply takes in all
    first_event_s: float = 0.0  # of which this passes before its response begins
    rate: RateLimits = field(init=False)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.script = Script(list(self.rules))
        self.rate = RateLimits(self.limits)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> FakeAnthropic:
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAnthropic

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``, not a log."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.split("?")[0] != "/v1/messages":
            self._error(404, "not_found_error", f"no route {self.path}")
            return
        request = json.loads(body)
        entry = Recorded(
            at=time.monotonic(),
            agent=agent_of(request),
            chapter=chapter_of(request),
            body=request,
            api_key=self._api_key(),
        )
        fault = self.fake.script.take(entry.agent, entry.chapter)
        if fault is None:
            wait = self.fake.rate.admit(
                self.fake.cache.input_counted(request), int(request.get("max_tokens", 1))
            )
            fault = None if wait is None else Fault("over_limit", retry_after=round(wait, 3))
        entry.fault = fault.kind if fault else None
        self.fake.record(entry)
        try:
            self._answer(request, entry, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to say

    def _api_key(self) -> str | None:
        """The key sent: ``x-api-key``, or ``Authorization: Bearer`` (the SDK's 2.x way)."""
        bearer = self.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            return bearer[len("bearer ") :]
        return self.headers.get("x-api-key")

    def _answer(self, request: dict[str, Any], entry: Recorded, fault: Fault | None) -> None:
        kind = fault.kind if fault else None
        if fault is not None and kind in ERRORS:
            status, error_type, message = ERRORS[fault.kind]
            self._error(status, error_type, message, fault.retry_after)
            return
        if kind == "drop":
            self._drop()
            return
        if fault is not None and kind == "slow":
            time.sleep(fault.delay_s)
        tool_input = invalid_input(request) if kind == "invalid" else reply_input(request)
        output = json.dumps(tool_input) if tool_input is not None else reply_text(request)
        stop = "tool_use" if tool_input is not None else "end_turn"
        if kind == "short":
            output = "The fog. Then nothing."
        elif kind == "cut":
            output, stop = output[: len(output) // 2].rstrip(), "max_tokens"
        usage = self.fake.cache.usage(request, output)
        message = _message(request, tool_input, output, usage, stop)
        # Recorded before the last bytes go out: a client that has its reply may look at once.
        if kind in DELIVERED:
            entry.usage = usage
        reserved = 0 if kind else int(request.get("max_tokens", 1))  # admitted by the limits
        self.fake.rate.spend_output(usage.output_tokens, reserved)
        time.sleep(self.fake.first_event_s)
        if request.get("stream"):
            self._stream(request, message, fault, entry)
        else:
            time.sleep(max(0.0, self.fake.reply_s - self.fake.first_event_s))
            self.fake.cache.begun(request)
            entry.answered_at = time.monotonic()
            self._json(200, message, self._limit_headers(fault))

    def _limit_headers(self, fault: Fault | None) -> dict[str, str]:
        """The rate-limit headers of a reply: the buckets' levels."""
        return exhausted_headers(self.fake.rate.headers(), fault)

    # -- plain replies ----------------------------------------------------------------

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:12]}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, error_type: str, message: str, retry_after: float | None = None
    ) -> None:
        headers = self._limit_headers(None)
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        if error_type == "rate_limit_error" and message.startswith("Number of requests"):
            headers["anthropic-ratelimit-requests-remaining"] = "0"  # a scripted 429
        payload = {"type": "error", "error": {"type": error_type, "message": message}}
        self._json(status, payload, headers)

    def _drop(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    # -- streamed replies ---------------------------------------------------------------

    def _stream(
        self, request: dict[str, Any], message: dict[str, Any], fault: Fault | None, entry: Recorded
    ) -> None:
        self.fake.cache.begun(request)  # the response begins: its prefix can be read
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for name, value in self._limit_headers(fault).items():
            self.send_header(name, value)
        self.end_headers()
        events = _events(message)
        kind = fault.kind if fault else None
        pause = max(0.0, self.fake.reply_s - self.fake.first_event_s) / max(1, len(events) - 1)
        for index, (name, data) in enumerate(events):
            if index:
                time.sleep(pause)
            if index == 2 and kind == "drop_stream":
                self._drop()
                return
            if index == 2 and kind == "stream_error":
                self._chunk(_sse("error", STREAM_ERROR))
                break
            if fault is not None and kind == "trickle" and index:
                time.sleep(fault.delay_s)
            if index == len(events) - 1:
                entry.answered_at = time.monotonic()
            self._chunk(_sse(name, data))
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _message(
    request: dict[str, Any],
    tool_input: dict[str, Any] | None,
    output: str,
    usage: CountedUsage,
    stop_reason: str,
) -> dict[str, Any]:
    if tool_input is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:16]}",
            "name": tool_of(request),
            "input": tool_input,
        }
    else:
        block = {"type": "text", "text": output}
    return {
        "id": f"msg_{uuid.uuid4().hex[:16]}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "fake"),
        "content": [block],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage.to_dict(),
    }


def _events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of ``message``: start, one content block in pieces, stop."""
    block = message["content"][0]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    if block["type"] == "tool_use":
        text, empty = json.dumps(block["input"]), {**block, "input": {}}
        delta_type, key = "input_json_delta", "partial_json"
    else:
        text, empty = block["text"], {**block, "text": ""}
        delta_type, key = "text_delta", "text"
    pieces = [text[i : i + 400] for i in range(0, len(text), 400)] or [""]
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": empty},
        ),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": delta_type, key: piece}},
        )
        for piece in pieces
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def exhausted_headers(headers: dict[str, str], fault: Fault | None) -> dict[str, str]:
    """``headers``, saying no request is left until ``delay_s`` for an ``exhausted`` fault."""
    if fault is None or fault.kind != "exhausted":
        return headers
    reset = datetime.now(UTC) + timedelta(seconds=fault.delay_s)
    return {
        **headers,
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset.isoformat().replace("+00:00", "Z"),
    }
