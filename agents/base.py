"""What every agent shares: its model settings, its prompts, and asking for a valid reply."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from pydantic import BaseModel

from agents.clients.base import LLMClient, LLMRequest, Message, SystemBlock
from agents.errors import AgentFailedError, OutputValidationError
from agents.prompts import PromptLibrary
from agents.render import bullets, render_bible
from agents.schemas import ProjectBrief

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """Which model an agent calls and how; ``attempts`` counts replies tried before giving up."""

    model: str
    max_tokens: int = 4096
    temperature: float = 0.7
    attempts: int = 2


class Agent:
    """An agent: a role (``name``), a model, and prompt templates in the project language."""

    name: ClassVar[str] = "agent"

    def __init__(
        self,
        client: LLMClient,
        prompts: PromptLibrary,
        language: str,
        settings: AgentSettings,
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.language = language
        self.settings = settings

    def instructions(self) -> str:
        """The agent's standing instructions (``prompts/<name>.system.<lang>.md``)."""
        return self.prompts.render(f"{self.name}.system", self.language)

    def request(
        self,
        *,
        bible: str,
        user: str,
        output: type[BaseModel] | None,
        brief: BaseModel,
        instructions: str | None = None,
    ) -> LLMRequest:
        """A request whose system prompt is the instructions, then the cacheable bible;
        ``output`` None asks for plain text."""
        system = (
            SystemBlock(self.instructions() if instructions is None else instructions),
            SystemBlock(bible, cache=True),
        )
        return LLMRequest(
            agent=self.name,
            model=self.settings.model,
            system=system,
            messages=(Message("user", user),),
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
            output_model=output,
            brief=brief,
        )

    async def ask(
        self,
        request: LLMRequest,
        output: type[M],
        check: Callable[[M], Sequence[str]] | None = None,
    ) -> M:
        """A reply that validates as ``output`` and passes ``check``.

        An invalid reply is sent back with what was wrong (``prompts/retry``),
        up to ``settings.attempts`` replies; then AgentFailedError.
        """
        problems: list[str] = []
        for _ in range(max(1, self.settings.attempts)):
            response = await self.client.complete(request)
            try:
                result = response.output(output, self.name)
            except OutputValidationError as exc:
                problems, raw = exc.problems, exc.raw
            else:
                problems = list(check(result)) if check else []
                if not problems:
                    return result
                raw = response.text or result.model_dump_json()
            feedback = self.prompts.render("retry", self.language, errors=bullets(problems))
            request = request.followed_by(Message("assistant", raw), Message("user", feedback))
        raise AgentFailedError(self.name, max(1, self.settings.attempts), problems)


class BookAgent(Agent):
    """An agent of one book: its brief, and the story bible rendered once for its cached
    system block."""

    def __init__(
        self,
        client: LLMClient,
        prompts: PromptLibrary,
        brief: ProjectBrief,
        settings: AgentSettings,
    ) -> None:
        super().__init__(client, prompts, brief.language, settings)
        self.brief = brief
        self.bible = render_bible(prompts, brief)
