"""The one interface every model client implements, and what goes in and out of it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.errors import OutputValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class SystemBlock:
    """A block of the system prompt; ``cache`` marks a stable prefix worth caching."""

    text: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One call to a model.

    ``system`` keeps the shared story bible in its own cacheable block, apart
    from the per-call text in ``messages``. ``output_model`` asks for a
    structured reply validated by that pydantic model. ``brief`` is the
    structured input the prompt was rendered from: real clients ignore it
    (everything is in the text); the offline client builds its reply from it.
    """

    agent: str
    model: str
    system: tuple[SystemBlock, ...]
    messages: tuple[Message, ...]
    max_tokens: int = 4096
    temperature: float = 0.7
    output_model: type[BaseModel] | None = None
    brief: BaseModel | None = field(default=None, compare=False)

    def prompt_text(self) -> str:
        """Everything the model reads, as one string (for token estimates)."""
        parts = [block.text for block in self.system]
        parts.extend(message.content for message in self.messages)
        return "\n\n".join(parts)

    def followed_by(self, *messages: Message) -> LLMRequest:
        """The same request with more turns appended (used to retry with feedback)."""
        return replace(self, messages=self.messages + messages)


class Usage(BaseModel):
    """What one call (or a sum of calls) cost. ``input_tokens`` excludes cached tokens.

    ``cost_usd`` is filled in by whoever knows the prices (the metered client,
    from the price table); a client reports tokens only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            latency_s=self.latency_s + other.latency_s,
            cost_usd=self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class LLMResponse:
    """A model's reply: its text, or the validated structured object, and the usage.

    ``stop_reason`` says why the reply ended, in the Messages API's words:
    ``end_turn`` (a natural end), ``max_tokens`` (cut at the limit), ``tool_use``,
    ``stop_sequence``; None when the server did not say.
    """

    model: str
    usage: Usage
    text: str = ""
    parsed: BaseModel | None = None
    stop_reason: str | None = None

    def output(self, model: type[M], agent: str = "model") -> M:
        """The reply as ``model``: the parsed object, else the text parsed as JSON.

        Raises OutputValidationError (with the problems, for a retry) when
        neither holds a valid ``model``.
        """
        if isinstance(self.parsed, model):
            return self.parsed
        raw = self.text if self.parsed is None else self.parsed.model_dump_json()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            raise OutputValidationError(agent, raw, validation_problems(exc)) from exc


def validation_problems(exc: ValidationError) -> list[str]:
    """A pydantic error as short ``path: message`` lines a model can act on."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{path}: {error['msg']}")
    return lines


def tool_name(model: type[BaseModel]) -> str:
    """The name a structured output's tool or function is called by:
    ``ChapterReport`` -> ``chapter_report``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def dump_brief(brief: BaseModel | None) -> str:
    """A canonical text of a brief (stable across runs, for seeding and hashing)."""
    if brief is None:
        return ""
    return json.dumps(brief.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


class LLMClient(Protocol):
    """Anything that completes a request: the Anthropic client, the offline model."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` to the model and return its reply."""
        ...
