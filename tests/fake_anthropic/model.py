"""The fake model: valid replies read from the prompts, and usage as the API counts it.

It knows the four tools the agents ask for (``story_bible``, ``outline``,
``chapter_report``, ``continuity_report``) and the writer's request for plain
prose, and reads what it needs from the English prompt templates: a fixed cast
of three for a bible, the chapter count and cast for an outline, the chapter's
number, title and length for a chapter (and, in a continuation, how many more
words), the foreshadowing for a report. Tokens are counted at four characters a
token. The prompt cache (``PromptCache``) keeps prefixes (tools, then the system
blocks up to the last ``cache_control`` block) by the API's rules: a minimum
length per model, readable once the writing response has begun, a TTL.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AGENTS = {
    "story_bible": "bible",
    "outline": "planner",
    "chapter_report": "extractor",
    "continuity_report": "editor",
}
# The cast the fake proposes for a project with none: name, role, where they start.
BIBLE_CAST = (
    ("Wilhelmina Grey", "protagonist", "the customs house"),
    ("Jasper Holt", "ally", "the rope walk"),
    ("Lucian Marr", "antagonist", "the Guildhall"),
)
CHAPTER = re.compile(r'Write chapter (\d+) of (\d+): "(.*)"\.')
REPORTED = re.compile(r'Read chapter (\d+) of (\d+), "(.*)", and report')
ARC = re.compile(r"Summarize chapters (\d+) to (\d+) in one paragraph")


def tokens(text: str) -> int:
    """The fake tokenizer: four characters a token, at least one."""
    return max(1, len(text) // 4)


def tool_of(body: dict[str, Any]) -> str | None:
    """The tool the request makes the model call, if any."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        return str(choice["name"])
    return None


def agent_of(body: dict[str, Any]) -> str:
    """planner, extractor or editor (from the tool), writer (prose asked for a chapter),
    else ``text``."""
    tool = tool_of(body)
    if tool is None and CHAPTER.search(first_prompt(body)):
        return "writer"
    if tool is None and ARC.search(first_prompt(body)):
        return "summarizer"
    return AGENTS.get(tool or "", "text")


def first_prompt(body: dict[str, Any]) -> str:
    """The text of the first user message (the agent's prompt; later turns are feedback)."""
    content = body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def chapter_of(body: dict[str, Any]) -> int | None:
    """The chapter a writer's or an extractor's request is for."""
    prompt = first_prompt(body)
    found = CHAPTER.search(prompt) or REPORTED.search(prompt)
    return int(found.group(1)) if found else None


def last_prompt(body: dict[str, Any]) -> str:
    """The text of the last user message (a continuation's request to go on)."""
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system") or []
    if isinstance(system, str):
        return system
    return "\n".join(block["text"] for block in system)


def outline(body: dict[str, Any]) -> dict[str, Any]:
    """An outline of the asked number of chapters, point of view taken by the cast in turn."""
    prompt = first_prompt(body)
    count = int(re.search(r"in exactly (\d+) chapters", prompt).group(1))  # type: ignore[union-attr]
    title = re.search(r'Plan "(.*)" in exactly', prompt)
    cast = re.findall(r"^- \*\*(.+?)\*\* \(", system_text(body), flags=re.MULTILINE)
    places = re.findall(r"^- (.+)$", prompt.split("Places the characters start in:")[-1], re.M)
    chapters = []
    for number in range(1, count + 1):
        pov = cast[(number - 1) % len(cast)]
        chapters.append(
            {
                "number": number,
                "title": f"The {_ordinal(number)} Night",
                "pov": pov,
                "setting": places[(number - 1) % len(places)] if places else "the harbour",
                "characters": [pov],
                "beats": [f"{pov} follows the ledger's trail", f"{pov} finds a new question"],
            }
        )
    return {"title": title.group(1) if title else "", "chapters": chapters, "threads": []}


def bible(body: dict[str, Any]) -> dict[str, Any]:
    """The same three characters for any premise, each somewhere of their own, and the
    author's world notes (from the prompt) kept first."""
    prompt = first_prompt(body)
    given = prompt.split("What the author has written about the world so far:")[-1]
    notes = re.findall(r"^- (.+)$", given, re.M)
    protagonist = BIBLE_CAST[0][0]
    cast = [
        {
            "name": name,
            "role": role,
            "description": f"{name} has a part to play in the premise.",
            "initial": {
                "location": place,
                "emotion": "wary",
                "inventory": [],
                "knowledge": [],
                "relationships": {} if name == protagonist else {protagonist: "someone to watch"},
            },
        }
        for name, role, place in BIBLE_CAST
    ]
    return {"cast": cast, "world": [*notes, "The harbour is never quite free of fog."]}


# Prose of a real model's density (about six characters a word), so tokens per word, and with
# them cost and rate-limit figures, are a novel's and not a skeleton's.
PROSE = (
    "The fog held the harbour, and nobody on the quay was willing to speak of the ship.",
    "Lanterns swung above the warehouses, throwing uncertain shadows across the wet stones.",
    "Somewhere beyond the breakwater a bell rang twice, then fell silent for a long while.",
    "She counted the entries again, following each faded column down to its careful total.",
    "Every answer she found opened another question, and the ledger kept its secrets close.",
    "The clerks had gone home hours ago, leaving only the ticking clock for company.",
)


def chapter(body: dict[str, Any]) -> str:
    """A chapter's prose of about the asked length (a continuation: the words asked for)."""
    prompt = first_prompt(body)
    found = CHAPTER.search(prompt)
    number = int(found.group(1)) if found else 0
    words = int(_field(prompt, r"Length: about (\d+) words") or 200)
    if len(body["messages"]) > 1:
        words = int(_field(last_prompt(body), r"about (\d+) more words") or words)
    opening = f"In chapter {number} the fog held the harbour and nobody spoke of the ship."
    paragraphs, have, index = [], 0, number
    while have < words:
        sentences = [PROSE[(index + k) % len(PROSE)] for k in range(4)]
        paragraph = " ".join([opening, *sentences[1:]] if not paragraphs else sentences)
        paragraphs.append(paragraph)
        have += len(paragraph.split())
        index += 1
    return "\n\n".join(paragraphs)


def report(body: dict[str, Any]) -> dict[str, Any]:
    """What happened in a chapter: nothing changed, the threads the plan named."""
    prompt = first_prompt(body)
    found = REPORTED.search(prompt)
    number = int(found.group(1)) if found else 0
    return {
        "summary": (
            f"Chapter {number}: the search goes on in the fog. Mara follows the ledger's "
            "trail from the Harbour Office to the quay, where a keeper's logbook contradicts "
            "the harbour records, and she begins to suspect who altered them."
        ),
        "changes": [],
        "planted": _ids(_field(prompt, r"Foreshadowing the plan has this chapter plant: (.*)")),
        "paid_off": _ids(_field(prompt, r"Foreshadowing the plan has this chapter pay off: (.*)")),
    }


def reply_input(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool input the fake model gives (None: answer in text)."""
    tool = tool_of(body)
    if tool == "story_bible":
        return bible(body)
    if tool == "outline":
        return outline(body)
    if tool == "chapter_report":
        return report(body)
    if tool == "continuity_report":
        return {"findings": []}
    return None


def reply_text(body: dict[str, Any]) -> str:
    """The text reply: a chapter's prose for a writer, else a few words."""
    if agent_of(body) == "writer":
        return chapter(body)
    found = ARC.search(first_prompt(body))
    if found:
        return f"In chapters {found.group(1)} to {found.group(2)} the harbour search narrowed."
    return "A reply in words."


def invalid_input(body: dict[str, Any]) -> dict[str, Any]:
    """A tool input that does not validate: a report without its summary, an outline of
    none."""
    if tool_of(body) == "outline":
        return {"title": "", "chapters": []}
    valid = reply_input(body) or {}
    return {key: value for key, value in valid.items() if key != "summary"} or {"bogus": True}


def _field(text: str, pattern: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1).strip() if found else None


def _ids(listed: str | None) -> list[str]:
    if not listed or listed == "-":
        return []
    return [part.strip() for part in listed.split(",") if part.strip()]


def _ordinal(number: int) -> str:
    names = ["First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth"]
    return names[number - 1] if number <= len(names) else f"{number}th"


@dataclass(frozen=True)
class CountedUsage:
    """What a reply's ``usage`` says."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


# The shortest prefix each model caches (the API's prompt-caching page); others: 1,024.
MINIMUMS = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
DEFAULT_MINIMUM = 1024
TTL_S = {"5m": 300.0, "1h": 3600.0}


def minimum_of(model: str) -> int:
    """The fewest tokens ``model`` caches (its name without a date suffix)."""
    return MINIMUMS.get(re.sub(r"-(\d{8}|latest)$", "", model), DEFAULT_MINIMUM)


@dataclass
class _Entry:
    ttl_s: float
    used_at: float
    readable: bool = False  # once the writing request's response has begun


class PromptCache:
    """The fake's prompt cache, by the API's rules (thread-safe: requests run in threads).

    A prefix under its model's minimum is not cached (all of it is input). A prefix is
    read when an entry for it is readable (its writer's response has begun: ``begun``)
    and was used within its TTL (5 minutes, or ``"ttl": "1h"`` on its mark); else the
    request writes it. ``writes`` and ``reads`` count them.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.writes = 0
        self.reads = 0
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def input_counted(self, body: dict[str, Any]) -> int:
        """The input tokens the request counts against the input limit (reads do not)."""
        key, cached, rest = _cacheable(body)
        with self._lock:
            hit = key is not None and self._readable(key)
        return tokens(rest) + (0 if hit or not cached else tokens(cached))

    def usage(self, body: dict[str, Any], output: str) -> CountedUsage:
        """Input split into cache write, cache read and the rest, plus the output."""
        key, cached, rest = _cacheable(body)
        if key is None:
            text = "\n".join(part for part in (cached, rest) if part)
            return CountedUsage(tokens(text), tokens(output), 0, 0)
        with self._lock:
            if self._readable(key):
                self._entries[key].used_at = self.clock()
                self.reads += 1
                return CountedUsage(tokens(rest), tokens(output), 0, tokens(cached))
            entry = self._entries.get(key)
            if entry is None or entry.readable:  # none yet, or expired: a new one
                self._entries[key] = _Entry(ttl_of(body), self.clock())
            self.writes += 1
        return CountedUsage(tokens(rest), tokens(output), tokens(cached), 0)

    def begun(self, body: dict[str, Any]) -> None:
        """The response to ``body`` has begun: what it wrote can be read from now on."""
        key, _, _ = _cacheable(body)
        with self._lock:
            entry = self._entries.get(key) if key is not None else None
            if entry is not None and not entry.readable:
                entry.readable, entry.used_at = True, self.clock()

    def _readable(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.readable and self.clock() - entry.used_at <= entry.ttl_s


def ttl_of(body: dict[str, Any]) -> float:
    """The TTL of the request's last cache mark."""
    system = body.get("system") or []
    marks = [b["cache_control"] for b in system if isinstance(b, dict) and b.get("cache_control")]
    return TTL_S.get(marks[-1].get("ttl", "5m"), TTL_S["5m"]) if marks else TTL_S["5m"]


def _cacheable(body: dict[str, Any]) -> tuple[str | None, str, str]:
    """(the cache key or None, the marked prefix, the rest); no key when the prefix is under
    the model's minimum."""
    cached, rest = _split_at_cache_mark(body)
    model = str(body.get("model"))
    if not cached or tokens(cached) < minimum_of(model):
        return None, cached, rest
    return hashlib.sha256(f"{model}\0{cached}".encode()).hexdigest(), cached, rest


def _split_at_cache_mark(body: dict[str, Any]) -> tuple[str, str]:
    """(the cacheable prefix, the rest) of the request's text; no prefix without a mark."""
    system = body.get("system") or []
    blocks = [system] if isinstance(system, str) else [b["text"] for b in system]
    marks = [] if isinstance(system, str) else [bool(b.get("cache_control")) for b in system]
    last = max((i for i, marked in enumerate(marks) if marked), default=-1)
    tools = json.dumps(body.get("tools") or [], sort_keys=True)
    messages = json.dumps(body.get("messages") or [], sort_keys=True)
    if last < 0:
        return "", "\n".join([tools, *blocks, messages])
    prefix = "\n".join([tools, *blocks[: last + 1]])
    return prefix, "\n".join([*blocks[last + 1 :], messages])
