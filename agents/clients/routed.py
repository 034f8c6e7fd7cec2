"""RoutedClient: each agent's calls to its own client (``llm.agents`` in a project file).

The planner may think with one provider's model while twenty writers write with
another's: each client keeps its own connections, concurrency and rate limiter,
so one provider's limits never hold back another's calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.clients.base import LLMClient, LLMRequest, LLMResponse


class RoutedClient:
    """Sends a request to the client of its agent (``request.agent``); implements
    ``LLMClient``. An agent without a route uses the ``default`` agent's client."""

    def __init__(self, routes: Mapping[str, LLMClient], default: str = "writer") -> None:
        if default not in routes:
            raise ValueError(f"a routed client needs a route for {default!r}")
        self.routes = dict(routes)
        self.default = default

    def __repr__(self) -> str:
        return f"RoutedClient({', '.join(f'{a}={c!r}' for a, c in self.routes.items())})"

    def client_for(self, agent: str) -> LLMClient:
        """The client ``agent``'s calls go to."""
        return self.routes.get(agent) or self.routes[self.default]

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Forward ``request`` to its agent's client."""
        return await self.client_for(request.agent).complete(request)

    async def aclose(self) -> None:
        """Close each client once (several agents may share one)."""
        seen: set[int] = set()
        for client in self.routes.values():
            if id(client) in seen:
                continue
            seen.add(id(client))
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()
