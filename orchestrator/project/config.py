"""The project file's schema (``config.yaml``): its pydantic models and JSON Schema.

Every section forbids unknown keys, so a typo is an error that names the
field, not a setting silently ignored. Reading a file is ``project.load``;
what the agents and the store are given from it is ``project.briefs``.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from agents.clients.settings import RetrySettings
from agents.schemas import ChapterPlan, Language, Outline
from agents.text import join_cjk_lines
from orchestrator.project.problems import (
    CrossFieldErrors,
    Loc,
)
from state import Limits
from state.errors import StateURLError
from state.url import parse_state_url, without_password

AgentName = Literal["bible", "planner", "writer", "extractor", "summarizer", "editor"]
StructuredName = Literal["tools", "json_schema", "json", "text"]
AGENT_NAMES: tuple[AgentName, ...] = (
    "bible",
    "planner",
    "writer",
    "extractor",
    "summarizer",
    "editor",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- project ---------------------------------------------------------------------


class ProjectSection(_Section):
    """What the book is."""

    title: str = Field(min_length=1)
    premise: str = Field(min_length=1, description="what the story is about, in a paragraph")
    genre: str = ""
    language: Language = Field(
        default="en", description="en or zh; zh counts characters, not words"
    )
    chapters: int = Field(ge=1, le=10_000, description="how many chapters")
    target_words: int = Field(default=2000, ge=50, le=100_000, description="per chapter")
    min_length_ratio: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="a chapter shorter than this share of target_words is continued",
    )
    max_continuations: int = Field(
        default=2,
        ge=0,
        le=10,
        description="replies that may continue a short or cut chapter; still short, it "
        "becomes a finding",
    )
    outline: list[ChapterPlan] | None = Field(
        default=None,
        description="the author's outline, used as is instead of the planner's: its titles "
        "are kept, its plants and payoffs tracked as foreshadowing threads",
    )


# -- characters ------------------------------------------------------------------


class InitialState(_Section):
    """A character's state before chapter 1."""

    location: str = Field(min_length=1)
    emotion: str = Field(default="", description="in the project language, e.g. restless")
    alive: bool = True
    relationships: dict[str, str] = Field(
        default_factory=dict,
        description="another character of the cast -> how this one sees them",
    )
    inventory: list[str] = Field(default_factory=list)
    knowledge: list[str] = Field(default_factory=list)


class CharacterConfig(_Section):
    """One member of the cast."""

    name: str = Field(min_length=1)
    role: str = Field(default="", description="e.g. protagonist, antagonist, mentor")
    description: str = ""
    initial: InitialState

    @field_validator("name")
    @classmethod
    def _no_slash(cls, name: str) -> str:
        if "/" in name:
            raise ValueError("a name must not contain '/'")
        return name.strip()


def _as_notes(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError("expected a string or a list of strings")


WorldNotes = Annotated[
    list[str],
    BeforeValidator(_as_notes),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "free-form world notes every writer sees (the story bible)",
        }
    ),
]


# -- llm -------------------------------------------------------------------------


class AgentModels(_Section):
    """Per-agent model overrides; unset agents use ``llm.model``."""

    bible: str | None = Field(
        default=None, description="proposes the cast and world when the project has none"
    )
    planner: str | None = None
    writer: str | None = None
    extractor: str | None = Field(
        default=None, description="reads each finished chapter and reports what happened in it"
    )
    summarizer: str | None = Field(
        default=None, description="writes the arc summaries of older chapters (not offline)"
    )
    editor: str | None = None


ProviderName = Literal["offline", "anthropic", "openai"]
KEY_VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _http_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL, e.g. http://127.0.0.1:8080")
    return url


class AgentRoute(_Section):
    """One agent's own provider and model (``llm.agents.<agent>``). Unset fields are the
    ``llm`` section's when the provider is the same; another provider needs its own model
    (and base_url, key variable) and gets its own client and rate limiter."""

    provider: ProviderName | None = Field(default=None, description="default: llm.provider")
    model: str | None = Field(default=None, description="required with another provider")
    base_url: str | None = Field(default=None, description="as llm.base_url")
    api_key_env: str | None = Field(
        default=None, pattern=KEY_VARIABLE_PATTERN, description="as llm.api_key_env"
    )
    structured: StructuredName | None = Field(default=None, description="as llm.structured")

    _url = field_validator("base_url")(_http_url)


class AgentRoutes(_Section):
    """Per-agent routing to another provider, model or server; unset agents use ``llm``."""

    bible: AgentRoute | None = None
    planner: AgentRoute | None = None
    writer: AgentRoute | None = None
    extractor: AgentRoute | None = None
    summarizer: AgentRoute | None = None
    editor: AgentRoute | None = None


class RateLimitSection(_Section):
    """anthropic, openai: client-side limits shared by every call (unset: the headers decide)."""

    requests_per_minute: int | None = Field(default=None, ge=1)
    input_tokens_per_minute: int | None = Field(default=None, ge=1)
    output_tokens_per_minute: int | None = Field(default=None, ge=1)


class LLMSection(_Section):
    """Which model writes, and how."""

    provider: ProviderName = Field(
        default="offline",
        description="openai: any OpenAI-compatible server (DeepSeek, Qwen, GLM, Kimi, "
        "OpenRouter, Ollama, vLLM, llama.cpp, LM Studio), at base_url",
    )
    model: str | None = Field(default=None, description="required for anthropic and openai")
    models: AgentModels = Field(default_factory=AgentModels)
    temperature: float = Field(default=0.8, ge=0, le=1)
    max_tokens: int = Field(
        default=8192,
        ge=1,
        le=200_000,
        description="the most a reply may be; the extractor's reports take at most 1,024 and "
        "arc summaries 512 (a rate limit reserves max_tokens before each call)",
    )
    concurrency: int = Field(default=20, ge=1, le=1000, description="model calls at once")
    latency_ms: float = Field(default=0, ge=0, le=600_000, description="offline: simulated latency")
    drift: float = Field(
        default=0, ge=0, le=1, description="offline: probability a chapter deviates from its plan"
    )
    seed: int = Field(default=0, description="offline: the seed of its choices")
    base_url: str | None = Field(
        default=None,
        description="anthropic: another API endpoint; openai: the server's base URL, used "
        "exactly as given (e.g. https://api.deepseek.com, http://localhost:11434/v1)",
    )
    api_key_env: str | None = Field(
        default=None,
        pattern=KEY_VARIABLE_PATTERN,
        description="openai: the environment variable holding the API key (default "
        "OPENAI_API_KEY; a local server needs none). Keys are never read from a file",
    )
    structured: StructuredName | None = Field(
        default=None,
        description="openai: how structured replies are asked for: a forced function call "
        "(tools), response_format with the JSON Schema (json_schema), JSON mode (json), or "
        "the prompt alone (text). Default by host: tools; json for Zhipu (GLM) and Ollama; "
        "json_schema for LM Studio, llama.cpp and vLLM on their usual local ports",
    )
    timeout_s: float = Field(
        default=600,
        gt=0,
        le=3600,
        description="anthropic, openai: read timeout (streamed: between events)",
    )
    stream_from_tokens: int = Field(
        default=4096, ge=1, description="anthropic: stream calls whose max_tokens is at least this"
    )
    stream: bool = Field(
        default=False,
        description="openai: stream calls whose max_tokens is at least stream_from_tokens (a "
        "slow server's long chapters then time out only between chunks)",
    )
    retry: RetrySettings = Field(default_factory=RetrySettings)
    rate_limits: RateLimitSection = Field(default_factory=RateLimitSection)
    prices: str | None = Field(
        default=None,
        description="a YAML price table (USD per million tokens); default: the one shipped",
    )
    budget_usd: float | None = Field(
        default=None, gt=0, description="start no chapter once the estimated cost would pass this"
    )
    cache_ttl: Literal["5m", "1h"] = Field(
        default="5m",
        description="anthropic: how long the prompt cache keeps the shared prefix; 1h for "
        "runs with pauses over 5 minutes (its writes cost 2x input instead of 1.25x)",
    )
    agents: AgentRoutes = Field(default_factory=AgentRoutes)

    _url = field_validator("base_url")(_http_url)

    @model_validator(mode="after")
    def _model_for_anthropic(self) -> Self:
        if self.provider == "anthropic" and not self.model:
            raise CrossFieldErrors(
                [(("model",), "required when provider is anthropic, e.g. model: claude-sonnet-4-5")]
            )
        if self.provider == "openai" and not self.model:
            raise CrossFieldErrors(
                [(("model",), "required when provider is openai, e.g. model: deepseek-chat")]
            )
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for agent in AGENT_NAMES:
            route: AgentRoute | None = getattr(self.agents, agent)
            if route is None or route.model or route.provider in (None, self.provider):
                continue
            if route.provider != "offline":
                problems.append(
                    (
                        ("agents", agent, "model"),
                        f"required when the agent's provider ({route.provider}) is not "
                        f"llm.provider ({self.provider})",
                    )
                )
        if problems:
            raise CrossFieldErrors(problems)
        return self

    def routed(self) -> bool:
        """Whether any agent has a route of its own (``llm.agents``)."""
        return any(getattr(self.agents, agent) is not None for agent in AGENT_NAMES)

    def for_agent(self, agent: AgentName) -> LLMSection:
        """This section as ``agent`` sees it: its route's fields over the section's (a route
        to another provider takes none of the section's model, base_url or key variable)."""
        route: AgentRoute | None = getattr(self.agents, agent)
        if route is None:
            return self
        provider = route.provider or self.provider
        same = provider == self.provider
        inherited: str | None = (getattr(self.models, agent) or self.model) if same else None
        return self.model_copy(
            update={
                "provider": provider,
                "model": route.model or inherited,
                "base_url": route.base_url or (self.base_url if same else None),
                "api_key_env": route.api_key_env or (self.api_key_env if same else None),
                "structured": route.structured or self.structured,
                "models": AgentModels(),
                "agents": AgentRoutes(),
            }
        )

    def model_for(self, agent: AgentName) -> str:
        """The model ``agent`` calls (always ``offline`` for the offline provider)."""
        section = self.for_agent(agent)
        if section.provider == "offline":
            return "offline"
        override: str | None = getattr(section.models, agent)
        return override or section.model or ""


# -- orchestrator ----------------------------------------------------------------


class OrchestratorSection(_Section):
    """How chapters are scheduled."""

    workers: int = Field(
        default=20,
        ge=0,
        le=100,
        description="chapter writers at once in this process; workers that join the run "
        "(orchestrator worker) add theirs. 0: only joined workers write",
    )
    mode: Literal["parallel", "sequential", "window"] = Field(
        default="parallel",
        description="window: chapter k starts only when chapter k - window is done",
    )
    window: int | None = Field(default=None, ge=1, description="the window size for mode: window")
    max_attempts: int = Field(default=3, ge=1, le=20, description="attempts per chapter")
    context_tokens: int | None = Field(
        default=None,
        ge=1000,
        le=1_000_000,
        description="token budget of a writer's prompt (default: an eighth of the writer "
        "model's context window, 4,000 to 32,000; 8,000 for a model not in windows.yaml)",
    )
    ending_tokens: int = Field(
        default=400,
        ge=0,
        le=20_000,
        description="how much of the previous chapter's end a writer reads, once that "
        "chapter is final (0: none)",
    )
    min_free_mb: int = Field(
        default=100, ge=0, description="refuse to start (or resume) with less free disk space"
    )
    lease_seconds: float = Field(
        default=120,
        ge=2,
        le=86_400,
        description="how long a chapter's lease lasts without renewal (renewed every third "
        "of it while the chapter is written); a dead writer's chapter is taken over after it",
    )
    poll_seconds: float = Field(
        default=0.1,
        ge=0.01,
        le=60,
        description="how often the run looks in the store for chapters joined workers "
        "finished, and a worker for chapters to write",
    )
    html_report: bool = Field(
        default=True,
        description="write report.html at the end (a few hundredths of a second); "
        "review.json is always written",
    )

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.mode == "window" and self.window is None:
            raise CrossFieldErrors([(("window",), "required when mode is window, e.g. window: 4")])
        if self.mode != "window" and self.window is not None:
            raise CrossFieldErrors([(("window",), "only used with mode: window")])
        return self


# -- state -----------------------------------------------------------------------


def _check_state_url(url: str) -> str:
    try:
        parse_state_url(url)
    except StateURLError as exc:
        raise ValueError(exc.reason) from None
    return url


# A Redis password opens the store but never leaves the process: every JSON dump of the
# config (the run folder's copy, metrics.json) has the URL without it; a resume takes it
# from $ORCHESTRATOR_REDIS_PASSWORD.
StateURLText = Annotated[
    str, AfterValidator(_check_state_url), PlainSerializer(without_password, when_used="json")
]


class Thresholds(Limits):
    """When the state store is too slow, and what to do about it."""

    action: Literal["warn", "migrate"] = "warn"
    migrate_to: StateURLText | None = Field(
        default=None, description="the state URL to migrate to with action: migrate"
    )


class StateSection(_Section):
    """Where the story state is kept."""

    url: StateURLText | None = Field(
        default=None,
        description="json://, sqlite:// or redis:// (see the state URL reference); "
        "default: SQLite in the run folder",
    )
    durability: Literal["full", "group", "normal", "off"] = Field(
        default="full",
        description="full: fsync every commit; group: commits that overlap share one fsync; "
        "normal/off: no fsync per commit (a power cut may lose the last commits)",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)


# -- the project file ------------------------------------------------------------


class PublishSection(_Section):
    """Where published versions are recorded, and what the publish gate allows."""

    folder: str | None = Field(
        default=None,
        description="the publish folder, relative to the project file (default runs/published)",
    )
    max_findings: int = Field(
        default=0, ge=0, description="continuity findings a run may have and still be published"
    )


class ProjectConfig(_Section):
    """A novel project: the whole of ``config.yaml``."""

    model_config = ConfigDict(extra="forbid", title="Novel project")

    project: ProjectSection
    characters: list[CharacterConfig] = Field(
        default_factory=list,
        description="the cast; without it the run asks the model for a story bible first "
        "(bible.yaml in the run folder)",
    )
    world: WorldNotes = Field(default_factory=list)
    llm: LLMSection = Field(default_factory=LLMSection)
    orchestrator: OrchestratorSection = Field(default_factory=OrchestratorSection)
    state: StateSection = Field(default_factory=StateSection)
    publish: PublishSection = Field(default_factory=PublishSection)

    @model_validator(mode="after")
    def _references(self) -> Self:
        if self.project.language == "zh":
            self._join_folded_lines()
        problems = (
            _duplicate_names(self.characters)
            + _relationship_problems(self.characters)
            + _outline_problems(self)
        )
        if problems:
            raise CrossFieldErrors(problems)
        return self

    def _join_folded_lines(self) -> None:
        """A Chinese book's prose fields without the spaces YAML folding puts between lines."""
        self.project.premise = join_cjk_lines(self.project.premise)
        self.world = [join_cjk_lines(note) for note in self.world]
        for character in self.characters:
            character.description = join_cjk_lines(character.description)


class BibleFile(_Section):
    """A run's ``bible.yaml``: the cast and world a premise-only project was given by the
    bible agent, as the author may edit it; the same rules as the project file's."""

    model_config = ConfigDict(extra="forbid", title="Story bible")

    characters: list[CharacterConfig] = Field(min_length=1)
    world: WorldNotes = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = _duplicate_names(self.characters) + _relationship_problems(self.characters)
        if problems:
            raise CrossFieldErrors(problems)
        return self

    def joined(self) -> BibleFile:
        """The bible with a Chinese book's folded lines joined (as ProjectConfig does)."""
        return self.model_copy(
            update={
                "world": [join_cjk_lines(note) for note in self.world],
                "characters": [
                    c.model_copy(update={"description": join_cjk_lines(c.description)})
                    for c in self.characters
                ],
            }
        )


def _duplicate_names(characters: list[CharacterConfig]) -> list[tuple[Loc, str]]:
    first: dict[str, int] = {}
    problems: list[tuple[Loc, str]] = []
    for index, character in enumerate(characters):
        if character.name in first:
            other = first[character.name]
            problems.append(
                (("characters", index, "name"), f"duplicate name, also characters[{other}]")
            )
        first.setdefault(character.name, index)
    return problems


class _Cast:
    """The names of the cast, to check every other place a character is named against."""

    def __init__(self, characters: list[CharacterConfig]) -> None:
        self.names = [character.name for character in characters]

    def unknown(self, name: str) -> str | None:
        """Why ``name`` is not a character of the cast (with the closest one), or None."""
        if name in self.names:
            return None
        close = difflib.get_close_matches(name, self.names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{name!r} is not in the cast{hint} (the cast: {', '.join(self.names)})"


def _relationships_of(value: Any) -> list[str]:
    """The characters a ``relationships`` value names (its keys)."""
    return [str(name) for name in value] if isinstance(value, dict) else []


def _relationship_problems(characters: list[CharacterConfig]) -> list[tuple[Loc, str]]:
    cast = _Cast(characters)
    return [
        (("characters", index, "initial", "relationships", name), why)
        for index, character in enumerate(characters)
        for name in character.initial.relationships
        if (why := cast.unknown(name)) is not None
    ]


def _plan_cast_problems(cast: _Cast, plan: ChapterPlan, where: Loc) -> list[tuple[Loc, str]]:
    """Every name of a chapter plan that is not a character of the cast: its point of
    view, who is on stage, whose state a planned change changes (and their relationships)."""
    problems: list[tuple[Loc, str]] = []
    if (why := cast.unknown(plan.pov)) is not None:
        problems.append(((*where, "pov"), why))
    for name in dict.fromkeys(plan.characters):
        if name != plan.pov and (why := cast.unknown(name)) is not None:
            problems.append(((*where, "characters"), why))
    for index, change in enumerate(plan.changes):
        at: Loc = (*where, "changes", index)
        if change.character is not None and (why := cast.unknown(change.character)) is not None:
            problems.append(((*at, "key"), why))
        if change.character is not None and change.field == "relationships":
            for name in _relationships_of(change.new):
                if (why := cast.unknown(name)) is not None:
                    problems.append(((*at, "new", name), why))
    return problems


def _outline_problems(config: ProjectConfig) -> list[tuple[Loc, str]]:
    plans = config.project.outline
    if plans is None:
        return []
    where: Loc = ("project", "outline")
    if not config.characters:
        return [(where, "an outline needs the cast it names: add characters to the project file")]
    problems: list[tuple[Loc, str]] = []
    if len(plans) != config.project.chapters:
        problems.append(
            (where, f"has {len(plans)} chapters, project.chapters is {config.project.chapters}")
        )
    cast = _Cast(config.characters)
    for index, plan in enumerate(plans):
        problems += _plan_cast_problems(cast, plan, (*where, index))
    try:
        Outline(title=config.project.title, chapters=plans)
    except ValidationError as exc:
        problems += [(where, str(e["msg"]).removeprefix("Value error, ")) for e in exc.errors()]
    return problems


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the project file (``orchestrator config schema``)."""
    schema = ProjectConfig.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
