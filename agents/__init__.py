"""The agents that write a novel, and the model clients they call.

- ``llm``: the ``LLMClient`` protocol, ``LLMRequest``, ``LLMResponse``, ``Usage``
- ``offline``: ``OfflineClient``, a deterministic local model (``offline_*`` modules)
- ``planner``, ``writer``, ``editor``: the agents; ``base`` what they share
- ``schemas``: structured inputs and outputs; ``planned``: the planned state
- ``context``: bounded writer contexts; ``tokens``, ``wordcount``: measures
- ``prompts``: templates from ``prompts/``; ``render``: briefs as prompt text
- ``continuity``: the continuity rules checked in code

From ``state`` only ``state.models`` is used.
"""
