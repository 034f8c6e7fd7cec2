"""The agents that write a novel, and the model clients they call.

- ``clients/``: the ``LLMClient`` protocol (``clients.base``), the Anthropic client,
  retries, rate limiting, prices, the metered client and its call journal
- ``offline/``: ``OfflineClient``, a deterministic local model
- ``planner``, ``writer``, ``editor``: the agents; ``base`` what they share
- ``schemas``: structured inputs and outputs; ``planned``: the planned state
- ``context``: bounded writer contexts; ``tokens``, ``wordcount``, ``text``: measures
- ``prompts``: the templates (``prompts/``, shipped as ``agents.templates``);
  ``render``: briefs as prompt text
- ``continuity``: the continuity rules checked in code

From ``state`` only ``state.models`` is used.
"""
