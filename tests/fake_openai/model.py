"""The fake model of the fake Chat Completions server: valid structured replies read from
the prompts, in English or in Chinese, and usage as an OpenAI-compatible server counts it.

It knows the three structured outputs the agents ask for (``outline``,
``chapter_report``, ``continuity_report``), asked for as a forced function
(``tool_choice``) or in JSON mode (the schema's title in the system message),
and the writer's request for plain prose, and reads what it needs from the
prompt templates of either language: the chapter count and cast for an
outline, the chapter's number and length for prose, the foreshadowing for a
report. Tokens are counted at four characters a token (one
a character for Chinese). The provider's prompt cache is a set of system
messages: a request whose system message was seen before reads it from cache.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

AGENTS = {"outline": "planner", "chapter_report": "extractor", "continuity_report": "editor"}
# orchestrator models check asks each agent's model for this tiny object.
# The schema titles JSON mode puts in the system message -> the output's name.
TITLES = {
    "Outline": "outline",
    "ChapterReport": "chapter_report",
    "ContinuityReport": "continuity_report",
    "ConnectionCheck": "connection_check",
}
CHAPTER_EN = re.compile(r'Write chapter (\d+) of (\d+): "(.*)"\.')
CHAPTER_ZH = re.compile(r"请写第 ?(\d+) ?章（共 ?(\d+) ?章）：《(.*)》。")
REPORTED_EN = re.compile(r'Read chapter (\d+) of (\d+), "(.*)", and report')
REPORTED_ZH = re.compile(r"请阅读第 ?(\d+) ?章（共 ?(\d+) ?章）《(.*)》")
CJK = re.compile(r"[\u3400-\u9fff]")


def tokens(text: str) -> int:
    """The fake tokenizer: a token per Chinese character, four other characters a token."""
    cjk = len(CJK.findall(text))
    return max(1, cjk + (len(text) - cjk) // 4)


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(m.get("content") or "") for m in body.get("messages") or [] if m.get("role") == "system"
    )


def first_prompt(body: dict[str, Any]) -> str:
    """The first user message (the agent's prompt; later turns are feedback)."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content or [])
    return ""


def output_of(body: dict[str, Any]) -> str | None:
    """The structured output asked for (its function name), if any."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        return str(choice["function"]["name"])
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return str(response_format["json_schema"]["name"])
    # JSON mode, or a plain prompt holding the schema (text mode): the schema's title.
    for title, name in TITLES.items():
        if f'"title": "{title}"' in system_text(body):
            return name
    return None


def mode_of(body: dict[str, Any]) -> str:
    """``tools``, ``json_schema``, ``json`` or ``text``: how the request asks for its reply."""
    if body.get("tool_choice"):
        return "tools"
    kind = (body.get("response_format") or {}).get("type")
    if kind == "json_schema":
        return "json_schema"
    if kind:
        return "json"
    return "text"


def agent_of(body: dict[str, Any]) -> str:
    """planner, extractor or editor (from the output), writer (prose asked for a chapter),
    else ``text``."""
    name = output_of(body)
    prompt = first_prompt(body)
    if name is None and (CHAPTER_EN.search(prompt) or CHAPTER_ZH.search(prompt)):
        return "writer"
    return AGENTS.get(name or "", "text")


def language_of(body: dict[str, Any]) -> str:
    prompt = first_prompt(body)
    zh = CHAPTER_ZH.search(prompt) or REPORTED_ZH.search(prompt) or "请为《" in prompt
    return "zh" if zh else "en"


def chapter_of(body: dict[str, Any]) -> int | None:
    """The chapter a writer's or an extractor's request is for."""
    prompt = first_prompt(body)
    found = (
        CHAPTER_EN.search(prompt)
        or CHAPTER_ZH.search(prompt)
        or REPORTED_EN.search(prompt)
        or REPORTED_ZH.search(prompt)
    )
    return int(found.group(1)) if found else None


def outline(body: dict[str, Any]) -> dict[str, Any]:
    """An outline of the asked number of chapters, point of view taken by the cast in turn."""
    prompt, zh = first_prompt(body), language_of(body) == "zh"
    if zh:
        count = int(_field(prompt, r"规划恰好 ?(\d+) ?章") or 1)
        title = _field(prompt, r"请为《(.*?)》规划")
        cast = re.findall(r"^- \*\*(.+?)\*\*（", system_text(body), flags=re.MULTILINE)
        places_text = prompt.split("人物起始所在的地点：")[-1]
    else:
        count = int(_field(prompt, r"in exactly (\d+) chapters") or 1)
        title = _field(prompt, r'Plan "(.*)" in exactly')
        cast = re.findall(r"^- \*\*(.+?)\*\* \(", system_text(body), flags=re.MULTILINE)
        places_text = prompt.split("Places the characters start in:")[-1]
    places = re.findall(r"^- (.+)$", places_text, re.M)
    chapters = []
    for number in range(1, count + 1):
        pov = cast[(number - 1) % len(cast)] if cast else "Mara"
        beats = (
            [f"{pov}追查账簿的线索", f"{pov}发现了新的疑问"]
            if zh
            else [f"{pov} follows the ledger's trail", f"{pov} finds a new question"]
        )
        chapters.append(
            {
                "number": number,
                "title": f"第{number}夜" if zh else f"Night {number}",
                "pov": pov,
                "setting": places[(number - 1) % len(places)] if places else "the harbour",
                "characters": [pov],
                "beats": beats,
            }
        )
    return {"title": title or "", "chapters": chapters, "threads": []}


def last_prompt(body: dict[str, Any]) -> str:
    """The last user message (a continuation's request to go on)."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else ""


def chapter(body: dict[str, Any]) -> str:
    """A chapter's prose of about the asked length (a continuation: the length asked for)."""
    prompt, zh = first_prompt(body), language_of(body) == "zh"
    found = CHAPTER_ZH.search(prompt) if zh else CHAPTER_EN.search(prompt)
    number = int(found.group(1)) if found else 0
    continuing = len([m for m in body.get("messages") or [] if m.get("role") == "user"]) > 1
    if zh:
        length = int(_field(prompt, r"篇幅：约 ?(\d+) ?字") or 200)
        if continuing:
            length = int(_field(last_prompt(body), r"大约再写 ?(\d+) ?字") or length)
        sentence = f"第{number}章里，大雾笼罩着港口，谁也不提那艘船。"
        return "\n\n".join(["".join([sentence] * 4)] * max(1, round(length / 70)))
    length = int(_field(prompt, r"Length: about (\d+) words") or 200)
    if continuing:
        length = int(_field(last_prompt(body), r"about (\d+) more words") or length)
    sentence = f"In chapter {number} the fog held the harbour and nobody spoke of the ship."
    return "\n\n".join([" ".join([sentence] * 4)] * max(1, round(length / 60)))


def report(body: dict[str, Any]) -> dict[str, Any]:
    """What happened in a chapter: nothing changed, the threads the plan named."""
    prompt, zh = first_prompt(body), language_of(body) == "zh"
    found = REPORTED_ZH.search(prompt) if zh else REPORTED_EN.search(prompt)
    number = int(found.group(1)) if found else 0
    if zh:
        summary = f"第{number}章：雾中的追查仍在继续。"
        planted = _field(prompt, r"计划中本章要埋下的伏笔：(.*)")
        paid = _field(prompt, r"计划中本章要回收的伏笔：(.*)")
    else:
        summary = f"Chapter {number}: the search goes on in the fog."
        planted = _field(prompt, r"Foreshadowing the plan has this chapter plant: (.*)")
        paid = _field(prompt, r"Foreshadowing the plan has this chapter pay off: (.*)")
    return {"summary": summary, "changes": [], "planted": _ids(planted), "paid_off": _ids(paid)}


def reply_text(body: dict[str, Any]) -> str:
    """The text reply: a chapter's prose for a writer, else a few words."""
    return chapter(body) if agent_of(body) == "writer" else "A reply in words."


def reply_object(body: dict[str, Any]) -> dict[str, Any] | None:
    """The structured reply the fake model gives (None: answer in text)."""
    name = output_of(body)
    if name == "outline":
        return outline(body)
    if name == "chapter_report":
        return report(body)
    if name == "continuity_report":
        return {"findings": []}
    if name == "connection_check":
        return {"ok": True}
    return None


def invalid_object(body: dict[str, Any]) -> dict[str, Any]:
    """A reply that is JSON but does not validate: a report without its summary."""
    if output_of(body) == "outline":
        return {"title": "", "chapters": []}
    valid = reply_object(body) or {}
    return {key: value for key, value in valid.items() if key != "summary"} or {"bogus": True}


def _field(text: str, pattern: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1).strip() if found else None


def _ids(listed: str | None) -> list[str]:
    if not listed or listed in ("-", "无", "（无）"):
        return []
    return [part.strip() for part in re.split(r"[,，、]", listed) if part.strip()]


@dataclass(frozen=True)
class CountedUsage:
    """What a reply's ``usage`` says."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int = 0

    def to_dict(self, deepseek: bool) -> dict[str, Any]:
        """As DeepSeek reports it (``prompt_cache_hit_tokens``), or as OpenAI does
        (``prompt_tokens_details.cached_tokens``)."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if deepseek:
            usage["prompt_cache_hit_tokens"] = self.cached_tokens
            usage["prompt_cache_miss_tokens"] = self.prompt_tokens - self.cached_tokens
        else:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


class PromptCache:
    """System messages seen before (thread-safe: requests run in threads)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any], output: str, reasoning: str = "") -> CountedUsage:
        """All the prompt's tokens, those of a system message seen before as cached."""
        system = system_text(body)
        prompt = tokens(json.dumps(body.get("messages") or [], ensure_ascii=False)) + tokens(
            json.dumps(body.get("tools") or [], ensure_ascii=False)
        )
        cached = 0
        if system:
            key = hashlib.sha256(f"{body.get('model')}\0{system}".encode()).hexdigest()
            with self._lock:
                if key in self._seen:
                    cached = min(prompt, tokens(system))
                self._seen.add(key)
        thought = tokens(reasoning) if reasoning else 0
        return CountedUsage(prompt, tokens(output) + thought, cached, thought)
