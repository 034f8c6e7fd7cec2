"""Briefs rendered as prompt text: the story bible, the state, a chapter plan."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import lru_cache
from typing import Any

import yaml

from agents.prompts import Labels, PromptLibrary
from agents.schemas import ChapterPlan, Outline, PlannedChange, ProjectBrief
from agents.tokens import estimate_tokens
from state.models import CharacterState, StoryState


def render_bible(prompts: PromptLibrary, brief: ProjectBrief) -> str:
    """The story bible every writer sees: premise, world notes, the cast."""
    cast = "\n".join(
        prompts.render(
            "bible_character",
            brief.language,
            name=sheet.name,
            role=sheet.role or "-",
            description=sheet.description or "-",
        )
        for sheet in brief.characters
    )
    return prompts.render(
        "bible",
        brief.language,
        title=brief.title,
        genre=brief.genre or "-",
        premise=brief.premise.strip(),
        world=bullets(brief.world) or "-",
        characters=cast,
    )


def bullets(lines: Iterable[str]) -> str:
    """Lines as a Markdown bullet list."""
    return "\n".join(f"- {line.strip()}" for line in lines if line.strip())


# libyaml's emitter when PyYAML was built with it: the pure-Python one is 10x slower.
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def as_yaml(data: Any) -> str:
    """Data as block YAML that keeps non-ASCII text readable."""
    dumped: str = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return dumped.rstrip("\n")


def render_state(
    state: StoryState,
    *,
    characters: Collection[str] | None = None,
    threads: Collection[str] = (),
) -> str:
    """The state as YAML: the characters (all, or only ``characters``), open threads.

    Threads paid off or not yet planted are left out unless named in
    ``threads``: a long book's closed threads would otherwise grow every prompt.
    """
    cast = {
        name: _character(person)
        for name, person in state.characters.items()
        if characters is None or name in characters
    }
    open_threads = {
        ident: thread.model_dump(mode="json", exclude={"id"}, exclude_none=True)
        for ident, thread in state.foreshadowing.items()
        if thread.status == "planted" or ident in threads
    }
    conflicts = {
        ident: conflict.description or ident
        for ident, conflict in state.conflicts.items()
        if conflict.status == "open"
    }
    data: dict[str, Any] = {"characters": cast}
    if open_threads:
        data["foreshadowing"] = open_threads
    if conflicts:
        data["open_conflicts"] = conflicts
    return as_yaml(data)


def _character(person: CharacterState) -> dict[str, Any]:
    if not person.alive:
        return {"alive": False}
    doc = person.model_dump(mode="json", exclude={"name", "role", "alive"})
    return {field: value for field, value in doc.items() if value not in ({}, [], "")}


def render_changes(changes: Iterable[PlannedChange]) -> str:
    """Planned changes as ``- key.field -> value`` lines."""
    return "\n".join(
        f"- {change.key} . {change.field} -> {_inline(change.new)}" for change in changes
    )


def _inline(value: Any) -> str:
    if isinstance(value, str | int | float | bool | None):
        return _inline_scalar(value)
    dumped: str = yaml.dump(
        value, Dumper=_Dumper, allow_unicode=True, default_flow_style=True, width=10_000
    )
    return dumped.strip().removesuffix("...").strip()


@lru_cache(maxsize=4096, typed=True)  # typed: True and 1 are equal keys otherwise
def _inline_scalar(value: str | int | float | bool | None) -> str:
    # Scalars repeat (places, moods): dump each once.
    dumped: str = yaml.dump(value, Dumper=_Dumper, allow_unicode=True, width=10_000)
    return dumped.strip().removesuffix("...").strip()


def render_plan_outline(plans: Iterable[ChapterPlan], labels: Labels) -> str:
    """A compact outline, one line per chapter (for the continuity editor)."""
    return "\n".join(
        f"{plan.number}. {plan.title} | {plan.setting} | {labels.join(plan.characters)}"
        f" | {labels('outline.plants')}: {labels.join(plan.plants)}"
        f" | {labels('outline.payoffs')}: {labels.join(plan.payoffs)}"
        for plan in plans
    )


def render_outline_markdown(outline: Outline, labels: Labels) -> str:
    """``outline.md``: the plan of the book for the author to read, in the book's language."""
    lines = [f"# {outline.title}", ""]
    for plan in outline.chapters:
        lines += [f"## {labels('outline.chapter', number=plan.number, title=plan.title)}", ""]
        items = [("pov", plan.pov), ("setting", plan.setting)]
        items += [("cast", labels.join(plan.characters))]
        items += [("plants", labels.join(plan.plants))] if plan.plants else []
        items += [("payoffs", labels.join(plan.payoffs))] if plan.payoffs else []
        lines += [
            "- " + labels("outline.item", label=labels(f"outline.{name}"), value=value)
            for name, value in items
        ]
        lines += ["", f"**{labels('outline.beats')}**", ""]
        lines += [f"{i}. {beat}" for i, beat in enumerate(plan.beats, 1)]
        if plan.changes:
            lines += ["", f"**{labels('outline.changes')}**", ""]
            lines += [f"- {_change_text(change, labels)}" for change in plan.changes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _change_text(change: PlannedChange, labels: Labels) -> str:
    subject = change.character or change.key.partition("/")[2]
    field = labels.name("fields", change.field)
    value = labels.value(change.field, change.new)
    return labels("outline.change", subject=subject, field=field, value=value)


def book_lines(outline: Outline, labels: Labels, max_tokens: int) -> list[str]:
    """The book's arc, a line a chapter: its number and title, and its first beat; titles
    alone when that is too long for ``max_tokens``; then cut (a long book's outline must
    not fill every writer's prompt, nor every job the board keeps)."""
    titles = [labels("outline.chapter", number=p.number, title=p.title) for p in outline.chapters]
    full = [
        f"{title}: {plan.beats[0]}" for title, plan in zip(titles, outline.chapters, strict=True)
    ]
    for lines in (full, titles):
        if estimate_tokens("\n".join(lines)) <= max_tokens:
            return lines
    kept: list[str] = []
    for title in titles:
        if estimate_tokens("\n".join([*kept, title])) > max_tokens:
            break
        kept.append(title)
    return kept
