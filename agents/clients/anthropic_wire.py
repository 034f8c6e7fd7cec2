"""An ``LLMRequest`` as Messages API parameters, and a Messages API reply as an ``LLMResponse``.

- System blocks marked ``cache`` (the story bible) carry
  ``cache_control: {"type": "ephemeral"}`` (with ``"ttl": "1h"`` for the
  hour-long cache): the prefix up to them (the tool definition, the
  instructions, the bible) is the same for every writer, so the API writes it
  to its cache once and every later writer reads it there. Whether a prefix
  is long enough to be marked, and when the others may start, is
  ``agents.clients.caching``'s to decide.
- A structured output is asked for as the one tool the model must call
  (``tool_choice``), whose input schema is the pydantic model's JSON Schema;
  the tool call's input is the reply. Whether it validates is the agent's to
  judge (``Agent.ask`` sends an invalid reply back once with the errors).
"""

from __future__ import annotations

import json
from typing import Any

from anthropic.types import Message as APIMessage
from pydantic import BaseModel

from agents.clients.base import LLMRequest, LLMResponse, Usage, tool_name

__all__ = ["cache_control", "message_params", "response_of", "tool_for", "tool_name", "usage_of"]

CACHE_CONTROL = {"type": "ephemeral"}
API_DEFAULT_TEMPERATURE = 1.0


def tool_for(model: type[BaseModel]) -> dict[str, Any]:
    """The tool whose input is ``model``."""
    doc = (model.__doc__ or model.__name__).strip().splitlines()[0]
    return {
        "name": tool_name(model),
        "description": f"Give the result: {doc}",
        "input_schema": model.model_json_schema(),
    }


def cache_control(ttl: str = "5m") -> dict[str, str]:
    """The mark of a cached block: the 5-minute cache unless ``ttl`` is ``1h``."""
    return CACHE_CONTROL if ttl == "5m" else {**CACHE_CONTROL, "ttl": ttl}


def message_params(request: LLMRequest, cache_ttl: str = "5m") -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` / ``messages.stream`` for ``request``."""
    system = []
    for block in request.system:
        part: dict[str, Any] = {"type": "text", "text": block.text}
        if block.cache:
            part["cache_control"] = cache_control(cache_ttl)
        system.append(part)
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": system,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.temperature != API_DEFAULT_TEMPERATURE:
        # The SDK (1.x) dropped sampling keywords; the API takes them, except newer models,
        # which accept only the default: those need ``llm.temperature: 1``.
        params["extra_body"] = {"temperature": request.temperature}
    if request.output_model is not None:
        params["tools"] = [tool_for(request.output_model)]
        params["tool_choice"] = {"type": "tool", "name": tool_name(request.output_model)}
    return params


def usage_of(message: APIMessage, latency_s: float) -> Usage:
    """The tokens of one reply; cache writes and reads apart from plain input."""
    usage = message.usage
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        latency_s=latency_s,
    )


def response_of(request: LLMRequest, message: APIMessage, usage: Usage) -> LLMResponse:
    """The reply: the tool call's input as JSON text when a structured output was asked for
    (the text blocks when the model did not call the tool, so validation says what is wrong)."""
    text = "".join(block.text for block in message.content if block.type == "text")
    if request.output_model is not None:
        wanted = tool_name(request.output_model)
        for block in message.content:
            if block.type == "tool_use" and block.name == wanted:
                text = json.dumps(block.input, ensure_ascii=False)
                break
    return LLMResponse(model=message.model, usage=usage, text=text, stop_reason=message.stop_reason)
