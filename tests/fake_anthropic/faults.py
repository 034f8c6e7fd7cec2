"""Scripted faults: which requests the fake server answers badly, and how.

A script is a list of rules. A rule matches requests by agent and chapter
(either may be left out) and holds faults that the matching requests get in
turn, one each; once they are used up the rule's requests get good replies.
Rules are tried in order, and a request gets the fault of the first rule
that matches it and still has one. As JSON (``--script`` of the server)::

    [{"agent": "writer", "chapter": 2, "faults": [{"kind": "overloaded"}]},
     {"agent": "writer", "faults": [{"kind": "rate_limit", "retry_after": 0.5}]}]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FaultKind = Literal[
    "rate_limit",  # 429 rate_limit_error, with retry-after if given
    "over_limit",  # 429 of the fake's own limits (limits.py; not for scripts)
    "overloaded",  # 529 overloaded_error
    "server_error",  # 500 api_error
    "bad_request",  # 400 invalid_request_error (not to be retried)
    "slow",  # a good reply after ``delay_s`` (past the client's read timeout)
    "drop",  # the connection closed with no reply
    "drop_stream",  # a stream that starts, then the connection is closed
    "stream_error",  # a stream that starts, then an ``error`` event (overloaded)
    "invalid",  # a good HTTP reply whose tool input does not validate
    "trickle",  # a good streamed reply with ``delay_s`` between events
    "exhausted",  # a good reply whose rate-limit headers say none left for ``delay_s``
    "short",  # a writer's prose of four words, ended as if finished (end_turn)
    "cut",  # a writer's prose cut in the middle, stop_reason max_tokens
    # The fake Chat Completions server's own (tests/fake_openai):
    "auth",  # 401 whose message echoes the key sent
    "malformed",  # a reply that is no JSON at all (cut off)
    "fenced",  # the JSON reply in a fenced block with a trailing comma
    "garbage",  # a 200 whose HTTP body is cut-off JSON
    # (drop_stream, above, cuts an OpenAI-compatible stream too)
]


@dataclass(frozen=True)
class Fault:
    """One bad answer."""

    kind: FaultKind
    retry_after: float | None = None
    delay_s: float = 0.0


@dataclass
class Rule:
    """Faults for the requests of ``agent`` (and ``chapter``), in turn."""

    faults: list[Fault]
    agent: str | None = None
    chapter: int | None = None
    used: int = 0

    def matches(self, agent: str, chapter: int | None) -> bool:
        if self.agent is not None and self.agent != agent:
            return False
        return self.chapter is None or self.chapter == chapter


@dataclass
class Script:
    """The rules of one server; ``take`` is thread-safe."""

    rules: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, agent: str, chapter: int | None) -> Fault | None:
        """The fault this request gets, if any (it is then used up)."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(agent, chapter) and rule.used < len(rule.faults):
                    rule.used += 1
                    return rule.faults[rule.used - 1]
        return None

    def extend(self, rules: Iterable[Rule]) -> None:
        with self._lock:
            self.rules.extend(rules)


def rules_from_json(data: list[dict[str, Any]]) -> list[Rule]:
    """Rules from their JSON form (see the module docstring)."""
    return [
        Rule(
            faults=[Fault(**fault) for fault in item["faults"]],
            agent=item.get("agent"),
            chapter=item.get("chapter"),
        )
        for item in data
    ]


def load_script(path: Path) -> list[Rule]:
    """The rules in a JSON file."""
    return rules_from_json(json.loads(path.read_text(encoding="utf-8")))
