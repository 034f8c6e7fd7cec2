"""``outline.yaml``: the outline of a book as a file the author edits.

``render_outline_file`` writes it: comments at the top, in the book's language, that
say what each field means and how the file is taken in; then the book's title, one
block per chapter (the fields of ``ChapterPlan``, as a project file's
``project.outline`` has them) and the foreshadowing threads.

``read_outline_file`` (and ``parse_outline_file`` for a text) reads it back with the
project file's machinery (``load.parse_yaml``: line numbers, duplicate keys refused)
and checks it against the project: the chapter count, the cast, and the threads'
order. Every problem is reported at once, as ``outline.yaml:LINE: chapters.4.pov:
...``: in a field path, list positions count from 1, as chapters do, so
``chapters.4`` is chapter 4. The messages of these checks, and the lines around
them, are in the book's language.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.prompts import Labels, PromptLibrary
from agents.render import as_yaml
from agents.schemas import ChapterPlan, Outline, ThreadPlan
from orchestrator.project.load import parse_yaml
from orchestrator.project.problems import (
    ConfigError,
    ConfigProblem,
    LineFinder,
    Loc,
    problems_from,
)

OUTLINE_FILE = "outline.yaml"


class OutlineFileError(ConfigError):
    """An ``outline.yaml`` that cannot be used: every problem, under a line in the book's
    language that says nothing was changed (exit 2, as a project file's)."""

    def __init__(
        self, source: Path | str, problems: Sequence[ConfigProblem], language: str
    ) -> None:
        super().__init__(source, problems)
        self.language = language
        labels = PromptLibrary().labels(language)
        head = labels("outline_file.problems", source=source, n=len(self.problems))
        lines = [problem.render(source) for problem in self.problems]
        self.args = ("\n".join([head, *lines, labels("outline_file.fix")]),)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.source, self.problems, self.language), self.__dict__


class _OutlineFile(BaseModel):
    """The file's shape: an ``Outline`` before its checks across chapters (which
    ``read_outline_file`` makes itself, each at its own field and line)."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    chapters: list[ChapterPlan] = Field(min_length=1)
    threads: list[ThreadPlan] = Field(default_factory=list)


def outline_loc(loc: Loc) -> str:
    """``("chapters", 3, "pov")`` -> ``chapters.4.pov``: positions count from 1."""
    return ".".join(str(part + 1) if isinstance(part, int) else part for part in loc)


def render_outline_file(outline: Outline, labels: Labels, cast: Sequence[str], run: str) -> str:
    """The text of ``outline.yaml`` for ``outline`` (``run``: the run folder, as the
    commands in its comments name it)."""
    header = labels(
        "outline_file.header",
        title=outline.title,
        run=run,
        chapters=len(outline.chapters),
        cast=labels.join(list(cast)),
    )
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += ["", as_yaml({"title": outline.title}), "chapters:"]
    for plan in outline.chapters:
        block = plan.model_dump(mode="json")
        lines += ["", f"# {labels('outline_file.chapter', number=plan.number)}", as_yaml([block])]
    threads = [thread.model_dump(mode="json") for thread in outline.threads]
    lines += ["", as_yaml({"threads": threads})]
    return "\n".join(lines) + "\n"


def read_outline_file(
    path: Path, characters: Sequence[str], chapters: int, language: str = "en"
) -> Outline:
    """The outline in ``path``, checked against the project's cast and chapter count;
    OutlineFileError (exit 2) lists every problem with its line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OutlineFileError(path, [ConfigProblem("", "is not UTF-8 text")], language) from None
    except OSError as exc:
        problem = ConfigProblem("", f"cannot be read: {exc.strerror or exc}")
        raise OutlineFileError(path, [problem], language) from None
    return parse_outline_file(text, path, characters, chapters, language)


def parse_outline_file(
    text: str,
    source: Path | str,
    characters: Sequence[str],
    chapters: int,
    language: str = "en",
) -> Outline:
    """``read_outline_file`` for a text; ``source`` names it in errors."""
    try:
        data, line_of = parse_yaml(text, source)
    except ConfigError as exc:
        raise OutlineFileError(source, exc.problems, language) from None
    if not isinstance(data, dict):
        got = "nothing" if data is None else f"a {type(data).__name__}"
        problem = ConfigProblem("", f"expected a mapping with title:, chapters:; got {got}")
        raise OutlineFileError(
            source,
            [problem],
            language,
        ) from None
    try:
        shape = _OutlineFile.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, _OutlineFile, line_of, fmt=outline_loc)
        raise OutlineFileError(source, _translated(problems, language), language) from None
    labels = PromptLibrary().labels(language)
    found = [
        ConfigProblem(outline_loc(loc), message, line_of(loc))
        for loc, message in _checks(shape, data, characters, chapters, labels)
    ]
    if found:
        raise OutlineFileError(source, sorted(found, key=lambda p: p.line or 0), language)
    return _outline(shape, source, line_of, language)


def _outline(
    shape: _OutlineFile, source: Path | str, line_of: LineFinder, language: str
) -> Outline:
    try:
        return Outline(title=shape.title, chapters=shape.chapters, threads=shape.threads)
    except ValidationError as exc:  # a check ``_checks`` does not make yet
        problems = problems_from(exc, Outline, line_of, fmt=outline_loc)
        raise OutlineFileError(source, _translated(problems, language), language) from None


def _translated(problems: Sequence[ConfigProblem], language: str) -> list[ConfigProblem]:
    """The field checks' messages (``problems.py`` words them in English) in the book's
    language, where ``outline_file.messages`` has them; others as they are."""
    labels = PromptLibrary().labels(language)
    translated = []
    for problem in problems:
        head, got, value = problem.message.partition(", got ")
        message = labels.name("outline_file.messages", head)
        message += labels("outline_file.got", value=value) if got else ""
        translated.append(replace(problem, message=message))
    return translated


def _checks(
    shape: _OutlineFile,
    data: dict[str, Any],
    characters: Sequence[str],
    chapters: int,
    labels: Labels,
) -> Iterator[tuple[Loc, str]]:
    if len(shape.chapters) != chapters:
        got = len(shape.chapters)
        yield ("chapters",), labels("outline_file.count", expected=chapters, got=got)
    for index, plan in enumerate(shape.chapters):
        if plan.number != index + 1:
            yield ("chapters", index, "number"), labels("outline_file.number", expected=index + 1)
    yield from _cast_checks(shape, data, characters, labels)
    yield from _thread_checks(shape, labels)


def _cast_checks(
    shape: _OutlineFile, data: dict[str, Any], characters: Sequence[str], labels: Labels
) -> Iterator[tuple[Loc, str]]:
    known = set(characters)
    cast = labels.join(list(characters))

    def unknown(name: str) -> str:
        return labels("outline_file.unknown", name=name, cast=cast)

    for index, plan in enumerate(shape.chapters):
        at: Loc = ("chapters", index)
        if plan.pov not in known:
            yield (*at, "pov"), unknown(plan.pov)
        # As the file lists them: the plan has the pov added in front when it was missing.
        for position, name in enumerate(data["chapters"][index].get("characters") or []):
            if name not in known and name != plan.pov:
                yield (*at, "characters", position), unknown(name)
        for position, change in enumerate(plan.changes):
            if change.character is not None and change.character not in known:
                yield (*at, "changes", position, "key"), unknown(change.character)


def _thread_checks(shape: _OutlineFile, labels: Labels) -> Iterator[tuple[Loc, str]]:
    planted: dict[str, int] = {}
    for index, plan in enumerate(shape.chapters):
        for position, ident in enumerate(plan.plants):
            if ident in planted:
                message = labels("outline_file.planted_twice", thread=ident, chapter=planted[ident])
                yield ("chapters", index, "plants", position), message
            else:
                planted[ident] = index + 1
    paid: dict[str, int] = {}
    for index, plan in enumerate(shape.chapters):
        for position, ident in enumerate(plan.payoffs):
            where = ("chapters", index, "payoffs", position)
            if ident in paid:
                yield where, labels("outline_file.paid_twice", thread=ident, chapter=paid[ident])
            elif ident not in planted:
                yield where, labels("outline_file.never_planted", thread=ident)
            elif planted[ident] >= index + 1:
                yield (
                    where,
                    labels("outline_file.planted_late", thread=ident, chapter=planted[ident]),
                )
            paid.setdefault(ident, index + 1)
