"""A fake Anthropic Messages API for tests and for trying ``orchestrator run`` by hand.

``python -m tests.fake_anthropic --port 8765`` serves it; see ``__main__``.
"""

from tests.fake_anthropic.faults import Fault, Rule, rules_from_json
from tests.fake_anthropic.server import FakeAnthropic, Recorded

__all__ = ["FakeAnthropic", "Fault", "Recorded", "Rule", "rules_from_json"]
