"""A project file as the rest of the program needs it: the brief the agents are told,
each agent's model settings, the writers' context budget, the given outline, and the
story state before chapter 1."""

from __future__ import annotations

from agents.base import AgentSettings
from agents.clients.windows import default_budget
from agents.context import ContextBudget
from agents.schemas import CharacterSheet, Outline, ProjectBrief, ThreadPlan, humanize
from agents.writer import LengthRule
from orchestrator.project.config import AgentName, ProjectConfig
from state.models import CharacterState, StoryState


def initial_state(config: ProjectConfig, outline: Outline | None = None) -> StoryState:
    """The story state before chapter 1: the cast, and the outline's foreshadowing ledger."""
    characters = {
        c.name: CharacterState(name=c.name, role=c.role, **c.initial.model_dump())
        for c in config.characters
    }
    ledger = outline.ledger() if outline is not None else {}
    return StoryState(characters=characters, foreshadowing=ledger)


def project_brief(config: ProjectConfig) -> ProjectBrief:
    """What the agents are told about the book."""
    project = config.project
    return ProjectBrief(
        title=project.title,
        premise=project.premise,
        genre=project.genre,
        language=project.language,
        chapters=project.chapters,
        target_words=project.target_words,
        world=list(config.world),
        characters=[
            CharacterSheet(name=c.name, role=c.role, description=c.description)
            for c in config.characters
        ],
        initial=initial_state(config),
        outline_given=project.outline is not None,
    )


def given_outline(config: ProjectConfig) -> Outline | None:
    """The outline the file gives, if it gives one (already validated)."""
    plans = config.project.outline
    if plans is None:
        return None
    # Its threads listed as a planner lists them, so they are counted and described alike.
    planted = dict.fromkeys(ident for plan in plans for ident in plan.plants)
    threads = [ThreadPlan(id=ident, description=humanize(ident)) for ident in planted]
    return Outline(title=config.project.title, chapters=plans, threads=threads)


# Replies that are short by nature get a lower max_tokens than llm.max_tokens: a client
# reserves max_tokens against a rate limit's output tokens per minute before each call, so
# a report of a few hundred tokens reserving a chapter's worth holds every writer back.
AGENT_MAX_TOKENS: dict[str, int] = {"extractor": 1024, "summarizer": 512}


def agent_settings(config: ProjectConfig, agent: AgentName) -> AgentSettings:
    """The model settings of one agent."""
    cap = AGENT_MAX_TOKENS.get(agent, config.llm.max_tokens)
    return AgentSettings(
        model=config.llm.model_for(agent),
        max_tokens=min(config.llm.max_tokens, cap),
        temperature=config.llm.temperature,
    )


def length_rule(config: ProjectConfig) -> LengthRule:
    """How long the writers' chapters must be, and how often a short one is continued."""
    return LengthRule(
        min_ratio=config.project.min_length_ratio,
        max_continuations=config.project.max_continuations,
    )


def context_budget(config: ProjectConfig) -> ContextBudget:
    """The writers' context budget."""
    total = config.orchestrator.context_tokens
    if total is None:
        total = default_budget(config.llm.model_for("writer"))
    return ContextBudget(total=total, ending=config.orchestrator.ending_tokens)
