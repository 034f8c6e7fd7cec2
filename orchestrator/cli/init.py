"""``orchestrator init``: write a commented project file to start a novel from a premise."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.cli.errors import user_errors
from orchestrator.errors import EXIT_BAD_INPUT
from orchestrator.project.load import parse_config
from orchestrator.project.starter import Starter, starter_project


@click.command("init")
@click.argument("file", default="config.yaml", type=click.Path(path_type=Path))
@click.option("--title", help="The book's title.")
@click.option(
    "--language",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="The book's language, and the template's.",
)
@click.option("--genre", default="", help="e.g. gothic mystery.")
@click.option(
    "--chapters", type=click.IntRange(1, 10_000), default=12, show_default=True, help="How many."
)
@click.option("--premise", help="What the story is about, in a paragraph.")
@user_errors
def init(
    file: Path,
    title: str | None,
    language: str,
    genre: str,
    chapters: int,
    premise: str | None,
) -> None:
    """Write a commented project file to start a book from.

    FILE is config.yaml unless named. The file has a premise and no cast: the run's
    first step asks the model for a story bible (the cast and the world), written to
    the run folder as bible.yaml. An existing file is never overwritten.
    """
    starter = Starter(
        language="zh" if language == "zh" else "en",
        title=title,
        genre=genre,
        chapters=chapters,
        premise=premise,
    )
    text = starter_project(starter, file.name)
    parse_config(text, file)  # what init writes, config check accepts
    try:
        with file.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        click.echo(
            f"{file} already exists; init never overwrites a file. Name another: "
            f"orchestrator init other.yaml",
            err=True,
        )
        raise SystemExit(EXIT_BAD_INPUT) from None
    click.echo(f"wrote {file}")
    if premise is None:
        click.echo(f"  1. write your premise in {file} (project.premise)")
    click.echo(f"  next: orchestrator config check {file}")
    click.echo(f"        orchestrator run {file}")
    click.echo("  the run proposes the cast first (bible.yaml in the run folder)")
