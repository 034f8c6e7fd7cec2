"""A fake OpenAI-compatible Chat Completions server for tests and for trying
``orchestrator run`` with ``llm.provider: openai`` by hand; see ``__main__``.

Its faults are scripted as the fake Messages API's are (``tests.fake_anthropic.faults``).
"""

from tests.fake_anthropic.faults import Fault, Rule, rules_from_json
from tests.fake_openai.server import FakeOpenAI, Recorded

__all__ = ["FakeOpenAI", "Fault", "Recorded", "Rule", "rules_from_json"]
