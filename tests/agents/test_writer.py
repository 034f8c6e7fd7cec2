from dataclasses import replace

from agents.clients.base import LLMRequest, LLMResponse
from agents.offline.client import OfflineClient
from agents.planned import planned_state
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.render import book_lines
from agents.schemas import ChapterJob, Outline, ProjectBrief
from agents.text import CJK_CHAR
from agents.tokens import estimate_tokens
from agents.writer import ChapterWriter
from state.models import StateDelta, StoryState
from tests.agents.conftest import OFFLINE


async def _outline(client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief) -> Outline:
    return await Planner(client, prompts, brief.language, OFFLINE).plan(brief)


async def test_a_draft_tells_its_plan(
    client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    outline = await _outline(client, prompts, brief)
    plan = outline.chapter(4)
    state = planned_state(
        brief.initial.model_copy(update={"foreshadowing": outline.ledger()}), outline, 4
    )
    draft = await ChapterWriter(client, prompts, brief, OFFLINE).write(
        ChapterJob(plan=plan, state=state)
    )
    assert plan.setting.lower() in draft.text.lower()
    for name in plan.characters:
        assert name.split()[0] in draft.text
    assert draft.title == plan.title
    assert draft.word_count >= brief.target_words
    assert plan.setting.lower() in draft.summary.lower()


async def test_the_delta_reports_what_happened_against_what_was_read(
    client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    outline = await _outline(client, prompts, brief)
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger(), "version": 7})
    plan = outline.chapter(1)
    job = ChapterJob(plan=plan, state=initial, run_id="r1", attempt=2)
    draft = await ChapterWriter(client, prompts, brief, OFFLINE).write(job)
    delta = StateDelta.model_validate(draft.delta.model_dump())
    assert (delta.run_id, delta.chapter, delta.attempt) == ("r1", 1, 2)
    docs = initial.documents()
    for change in delta.changes:
        assert change.old == docs.get(change.key, {}).get(change.field)
    assert {(c.key, c.field, c.new) for c in plan.changes} <= {
        (c.key, c.field, c.new) for c in delta.changes
    }
    for thread in plan.plants:
        assert (f"foreshadowing/{thread}", "status", "planted") in {
            (c.key, c.field, c.new) for c in delta.changes
        }
    assert delta.record is not None
    assert (delta.record.read_version, delta.record.status) == (7, "revised")
    assert delta.record.word_count == draft.word_count


async def test_the_dead_are_remembered_not_on_stage(
    client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    outline = await _outline(client, prompts, brief)
    plan = outline.chapter(2).model_copy(update={"characters": ["Mara Quell", "Tobias Wren"]})
    dead = brief.initial.characters["Tobias Wren"].model_copy(update={"alive": False})
    state = brief.initial.model_copy(
        update={"characters": {**brief.initial.characters, "Tobias Wren": dead}}
    )
    draft = await ChapterWriter(client, prompts, brief, OFFLINE).write(
        ChapterJob(plan=plan, state=state)
    )
    assert "Mara thought of Tobias" in draft.text
    assert "Tobias said" not in draft.text
    assert "said Tobias" not in draft.text
    assert "Tobias" not in draft.summary
    assert not [c for c in draft.delta.changes if c.key == "characters/Tobias Wren"]


async def test_a_chinese_chapter_is_chinese_and_counted_in_characters(
    client: OfflineClient, prompts: PromptLibrary, zh_brief: ProjectBrief
) -> None:
    outline = await _outline(client, prompts, zh_brief)
    plan = outline.chapter(1)
    state = zh_brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    draft = await ChapterWriter(client, prompts, zh_brief, OFFLINE).write(
        ChapterJob(plan=plan, state=state)
    )
    hanzi = len(CJK_CHAR.findall(draft.text))
    assert hanzi > 0.8 * len("".join(draft.text.split()))
    assert draft.word_count == hanzi
    assert draft.word_count >= zh_brief.target_words
    assert plan.setting in draft.text
    assert plan.pov in draft.text


class Recording:
    """Passes calls to the offline model and keeps the requests."""

    def __init__(self) -> None:
        self.inner = OfflineClient()
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        return await self.inner.complete(request)


async def test_the_prompt_carries_the_brief_and_revision_notes(
    prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    model = Recording()
    outline = await _outline(model.inner, prompts, brief)
    job = ChapterJob(
        plan=outline.chapter(3),
        state=brief.initial,
        summaries={1: "Mara finds the ledger.", 2: "Tobias counts the missing nights."},
        attempt=2,
        notes=["Mara is at the Guildhall, not the Harbour Office"],
    )
    await ChapterWriter(model, prompts, brief, OFFLINE).write(job)
    request = next(r for r in model.requests if r.agent == "writer")
    assert request.output_model is None  # prose, never inside JSON
    bible, user = request.system[1], request.messages[0].content
    assert bible.cache
    assert "A clerk finds a ship" in bible.text
    assert not request.system[0].cache
    assert "Tobias counts the missing nights." in user
    assert "Mara is at the Guildhall, not the Harbour Office" in user
    assert "attempt 2" in user
    assert all(beat in user for beat in job.plan.beats)


def test_planned_state_folds_the_chapters_before(brief: ProjectBrief) -> None:
    outline = Outline.model_validate(
        {
            "chapters": [
                {
                    "number": 1,
                    "title": "a",
                    "pov": "Mara Quell",
                    "setting": "the quay",
                    "beats": ["b"],
                    "characters": ["Mara Quell", "Tobias Wren"],
                    "changes": [
                        {"key": "characters/Tobias Wren", "field": "location", "new": "the mill"}
                    ],
                    "plants": ["key"],
                },
                {
                    "number": 2,
                    "title": "b",
                    "pov": "Mara Quell",
                    "setting": "the mill",
                    "beats": ["b"],
                    "payoffs": ["key"],
                },
            ]
        }
    )
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    assert planned_state(initial, outline, 1) == initial
    after = planned_state(initial, outline, 2)
    assert isinstance(after, StoryState)
    assert after.characters["Mara Quell"].location == "the quay"
    assert after.characters["Tobias Wren"].location == "the mill"
    assert (after.foreshadowing["key"].status, after.foreshadowing["key"].planted_in) == (
        "planted",
        1,
    )


class Headed:
    """The offline model, but every chapter's prose comes under a heading of the model's own."""

    def __init__(self) -> None:
        self.inner = OfflineClient()

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self.inner.complete(request)
        if request.agent == "writer":
            return replace(response, text=f"# The Model's Own Title\n\n{response.text}")
        return response


async def test_a_chapter_keeps_its_plan_title_and_loses_a_heading_the_model_added(
    prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    model = Headed()
    outline = await _outline(model.inner, prompts, brief)
    job = ChapterJob(plan=outline.chapter(2), state=brief.initial)
    draft = await ChapterWriter(model, prompts, brief, OFFLINE).write(job)
    assert draft.title == job.plan.title
    assert "Own Title" not in draft.text
    assert draft.delta.record is not None
    assert draft.delta.record.title == job.plan.title


def test_the_books_outline_shrinks_to_titles_then_is_cut_within_its_budget(
    prompts: PromptLibrary,
) -> None:
    plans = [
        {
            "number": n,
            "title": f"Night {n}",
            "pov": "Mara",
            "setting": "the quay",
            "beats": [f"Mara looks for the ship again, the {n}th time, and finds only fog"],
        }
        for n in range(1, 201)
    ]
    outline = Outline.model_validate({"chapters": plans})
    labels = prompts.labels("en")
    whole = book_lines(outline, labels, 100_000)
    assert (
        whole[0]
        == "Chapter 1: Night 1: Mara looks for the ship again, the 1th time, and finds only fog"
    )
    titles = book_lines(outline, labels, 2_000)
    assert titles[:2] == ["Chapter 1: Night 1", "Chapter 2: Night 2"]
    assert len(titles) == 200
    cut = book_lines(outline, labels, 300)
    assert 0 < len(cut) < 200
    assert cut == titles[: len(cut)]
    assert estimate_tokens("\n".join(cut)) <= 300
