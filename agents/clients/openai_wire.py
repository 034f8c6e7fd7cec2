"""An ``LLMRequest`` as Chat Completions parameters, and a Chat Completions reply as an
``LLMResponse``: the wire of every OpenAI-compatible server (DeepSeek, Qwen, GLM, Kimi,
OpenRouter, Ollama, vLLM, llama.cpp, LM Studio...).

- The system blocks go as one ``system`` message (some local chat templates refuse
  two), the stable story bible last, so providers that cache a prompt's prefix
  on their own (DeepSeek, Qwen, Kimi, OpenAI) find the same prefix for every writer.
- A structured output is asked for in one of four ways (``llm.structured``):
  ``tools``: the one function the model must call (``tool_choice``), whose
  parameters are the pydantic model's JSON Schema, and its arguments are the
  reply; ``json_schema``: ``response_format`` with that schema (servers that
  constrain decoding to it: LM Studio, llama.cpp, vLLM); ``json``:
  ``response_format: json_object`` (JSON mode); ``text``: nothing but the
  prompt, for servers with neither. In the last three the schema is also in
  the prompt, and the reply is parsed leniently (a fenced block, prose around
  it, trailing commas).
  Whether the result validates is the agent's to judge (``Agent.ask`` sends an
  invalid reply back once with the errors).
- A reasoning model's ``reasoning_content`` is never taken as the reply; its
  tokens are in ``completion_tokens`` and counted as output, as they are billed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel

from agents.clients.base import LLMRequest, LLMResponse, Usage, tool_name

StructuredMode = Literal["tools", "json_schema", "json", "text"]

JSON_INSTRUCTIONS = (
    "Reply with one JSON object and nothing else: no prose, no code fence. "
    "It must be valid JSON that matches this JSON Schema:\n\n{schema}"
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def function_for(model: type[BaseModel]) -> dict[str, Any]:
    """The function tool whose parameters are ``model``."""
    doc = (model.__doc__ or model.__name__).strip().splitlines()[0]
    return {
        "type": "function",
        "function": {
            "name": tool_name(model),
            "description": f"Give the result: {doc}",
            "parameters": model.model_json_schema(),
        },
    }


def chat_params(request: LLMRequest, structured: StructuredMode = "tools") -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for ``request``."""
    system = "\n\n".join(block.text for block in request.system if block.text)
    if request.output_model is not None and structured != "tools":
        schema = json.dumps(request.output_model.model_json_schema(), ensure_ascii=False)
        system = "\n\n".join(filter(None, [system, JSON_INSTRUCTIONS.format(schema=schema)]))
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages += [{"role": m.role, "content": m.content} for m in request.messages]
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.output_model is not None:
        if structured == "json":
            params["response_format"] = {"type": "json_object"}
        elif structured == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": tool_name(request.output_model),
                    "schema": request.output_model.model_json_schema(),
                },
            }
        elif structured == "tools":
            params["tools"] = [function_for(request.output_model)]
            params["tool_choice"] = {
                "type": "function",
                "function": {"name": tool_name(request.output_model)},
            }
    return params


def lenient_json(text: str) -> str:
    """``text`` as canonical JSON if it holds one object, read leniently: the first fenced
    block if there is one, else from the first ``{`` to the last ``}``, with trailing commas
    dropped. ``text`` unchanged when that is still no JSON (validation then says why)."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end < start:
        return text
    candidate = candidate[start : end + 1]
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
        try:
            return json.dumps(json.loads(attempt), ensure_ascii=False)
        except json.JSONDecodeError:
            continue
    return text


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK object or of a plain mapping (extra fields of other servers)."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def usage_of(completion: Any, latency_s: float) -> Usage:
    """The tokens of one reply. Cached prompt tokens (DeepSeek's ``prompt_cache_hit_tokens``,
    else ``prompt_tokens_details.cached_tokens``) are cache reads, apart from plain input;
    reasoning tokens are part of ``completion_tokens`` (output), as providers bill them."""
    usage = _get(completion, "usage")
    prompt = _int(_get(usage, "prompt_tokens"))
    cached = _int(_get(usage, "prompt_cache_hit_tokens")) or _int(
        _get(_get(usage, "prompt_tokens_details"), "cached_tokens")
    )
    cached = min(cached, prompt)
    return Usage(
        input_tokens=prompt - cached,
        output_tokens=_int(_get(usage, "completion_tokens")),
        cache_read_tokens=cached,
        latency_s=latency_s,
    )


def reasoning_tokens(completion: Any) -> int:
    """The reasoning tokens a reasoning model reports (inside ``completion_tokens``)."""
    details = _get(_get(completion, "usage"), "completion_tokens_details")
    return _int(_get(details, "reasoning_tokens"))


def response_of(
    request: LLMRequest, completion: Any, usage: Usage, structured: StructuredMode = "tools"
) -> LLMResponse:
    """The reply: the forced function's arguments as JSON text (tools), the content read
    leniently as JSON (json), or the content (no output model). ``reasoning_content`` is
    never the reply. Text that is no valid reply is passed on, for validation to explain."""
    choices = _get(completion, "choices") or []
    message = _get(choices[0], "message") if choices else None
    text = _get(message, "content") or ""
    if not isinstance(text, str):
        text = ""
    if request.output_model is not None:
        if structured == "tools":
            wanted = tool_name(request.output_model)
            for call in _get(message, "tool_calls") or []:
                function = _get(call, "function")
                if _get(function, "name") == wanted:
                    arguments = _get(function, "arguments") or ""
                    # Some servers send the arguments as an object, not as JSON text.
                    text = (
                        arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments, ensure_ascii=False)
                    )
                    break
        text = lenient_json(text)
    model = _get(completion, "model") or request.model
    finish = _get(choices[0], "finish_reason") if choices else None
    return LLMResponse(model=str(model), usage=usage, text=text, stop_reason=stop_reason(finish))


# OpenAI's ``finish_reason`` in the Messages API's words (``LLMResponse.stop_reason``).
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def stop_reason(finish: Any) -> str | None:
    """``length`` -> ``max_tokens``, ``stop`` -> ``end_turn``; others as the server says."""
    if not isinstance(finish, str) or not finish:
        return None
    return STOP_REASONS.get(finish, finish)


async def collect_stream(chunks: AsyncIterator[Any], model: str) -> dict[str, Any]:
    """A streamed reply put back together as a completion (a plain mapping ``usage_of`` and
    ``response_of`` read): the content, each function call's name and arguments in pieces,
    and the usage of the last chunk (``stream_options.include_usage``; Moonshot puts it in
    the choice). ``reasoning_content`` deltas are dropped, as in a whole reply."""
    content: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage: Any = None
    served = None
    finish: Any = None
    async for chunk in chunks:
        served = _get(chunk, "model") or served
        usage = _get(chunk, "usage") or usage
        for choice in _get(chunk, "choices") or []:
            usage = _get(choice, "usage") or usage
            finish = _get(choice, "finish_reason") or finish
            delta = _get(choice, "delta")
            text = _get(delta, "content")
            if isinstance(text, str):
                content.append(text)
            for call in _get(delta, "tool_calls") or []:
                index = _get(call, "index")
                slot = calls.setdefault(index if isinstance(index, int) else 0, {})
                function = _get(call, "function")
                name = _get(function, "name")
                if isinstance(name, str) and name:
                    slot["name"] = name
                pieces = _get(function, "arguments")
                if isinstance(pieces, str):
                    slot["arguments"] = slot.get("arguments", "") + pieces
    message = {
        "content": "".join(content),
        "tool_calls": [{"function": calls[index]} for index in sorted(calls)],
    }
    choice = {"message": message, "finish_reason": finish}
    return {"model": served or model, "choices": [choice], "usage": usage}
