"""Pure assessment logic: drawing and shuffling questions, checking answers, scoring.

Nothing here touches the database, so every rule is tested with plain values.
The services pass in what they read (the pool, the stored layout, the key) and
store what comes back.

Scoring rules (stated to the learner on the quiz page, see RULES_TEXT):
- single best answer and true/false: correct when the one chosen option is
  the keyed one;
- multiple response ("select all that apply"): all-or-nothing, correct only
  when exactly the keyed options are chosen, no more and no fewer;
- an unanswered question is wrong; the score is the percent correct, and the
  attempt passes when the score reaches the pass mark.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

RULES_TEXT = (
    "Single-answer and true/false questions are correct when you choose the right option. "
    "\u201cSelect all that apply\u201d questions are scored all-or-nothing: they count as correct "
    "only when you choose every correct option and no incorrect one. "
    "Unanswered questions count as incorrect."
)

MULTIPLE = "multiple"


@dataclass(frozen=True)
class PoolItem:
    """A candidate question: its version id, objective and option ids in file order, and the
    version ids of its enemies (questions that must not appear in the same attempt)."""

    version_id: int
    objective_id: int
    option_ids: tuple[int, ...]
    enemies: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Answer:
    """What a learner submitted for one question."""

    version_id: int
    option_ids: frozenset[int]
    confidence: str = ""


@dataclass(frozen=True)
class KeyItem:
    """The answer key of one question: its type and the correct option ids."""

    version_id: int
    type: str
    correct_ids: frozenset[int]


@dataclass(frozen=True)
class ItemResult:
    version_id: int
    is_correct: bool


@dataclass(frozen=True)
class Result:
    items: tuple[ItemResult, ...]
    correct: int
    total: int
    score: Decimal
    passed: bool


class AnswerError(ValueError):
    """An answer names a question or option that the attempt did not show."""


def layout_build(pool: list[PoolItem], *, seed: int, per_objective: int | None, total: int | None) -> list[dict]:
    """Draw and shuffle an attempt's questions and options; returns the layout to store.

    Draws `per_objective` items from each objective (all when None), then, if
    `total` is set, keeps at most `total` spread evenly: one per objective in
    turn, so every objective is assessed before any gets a second question.
    Never draws two enemies (item-bank "enemy items": one would cue or answer
    the other): an objective's next item that is an enemy of one already drawn
    is passed over for the next one in its shuffled order. The same seed and
    pool always give the same layout.
    """
    rng = random.Random(seed)
    by_objective: dict[int, list[PoolItem]] = defaultdict(list)
    for item in sorted(pool, key=lambda p: p.version_id):
        by_objective[item.objective_id].append(item)
    queues: dict[int, list[PoolItem]] = {}
    for objective_id in sorted(by_objective):
        items = by_objective[objective_id][:]
        rng.shuffle(items)
        queues[objective_id] = items
    chosen: list[PoolItem] = []
    drawn: set[int] = set()
    barred: set[int] = set()  # enemies of what is drawn, either way round
    per_count: dict[int, int] = defaultdict(int)

    def draw(objective_id: int) -> None:
        queue = queues[objective_id]
        while queue:
            item = queue.pop(0)
            if item.version_id not in barred and not item.enemies & drawn:
                chosen.append(item)
                drawn.add(item.version_id)
                barred.update(item.enemies)
                per_count[objective_id] += 1
                return

    if total:
        rounds = max((len(v) for v in queues.values()), default=0)
        if per_objective:
            rounds = min(rounds, per_objective)
        objectives = sorted(queues)
        rng.shuffle(objectives)  # which objectives get the extra questions varies by attempt
        for index in range(rounds):
            for objective_id in objectives:
                if per_count[objective_id] == index and len(chosen) < total:
                    draw(objective_id)
    else:
        for objective_id in sorted(queues):
            for _ in range(min(len(queues[objective_id]), per_objective or len(queues[objective_id]))):
                draw(objective_id)
    rng.shuffle(chosen)
    layout = []
    for item in chosen:
        options = list(item.option_ids)
        rng.shuffle(options)
        layout.append({"version": item.version_id, "options": options})
    return layout


def answers_check(layout: list[dict], answers: list[Answer], *, single_choice: set[int]) -> list[str]:
    """Problems with submitted answers against the stored layout; empty when all are valid.

    An answer must name a question of the attempt, once, and only options of
    that question; a single-answer or true/false question takes at most one.
    `single_choice` holds the version ids that accept one option only.
    """
    options_by_version = {entry["version"]: set(entry["options"]) for entry in layout}
    problems: list[str] = []
    seen: set[int] = set()
    for answer in answers:
        if answer.version_id not in options_by_version:
            problems.append(f"Question {answer.version_id} is not part of this attempt.")
            continue
        if answer.version_id in seen:
            problems.append(f"Question {answer.version_id} was answered twice.")
        seen.add(answer.version_id)
        foreign = answer.option_ids - options_by_version[answer.version_id]
        if foreign:
            problems.append(f"Option {min(foreign)} does not belong to question {answer.version_id}.")
        if answer.version_id in single_choice and len(answer.option_ids) > 1:
            problems.append(f"Question {answer.version_id} takes one answer only.")
        if answer.confidence not in ("", "sure", "unsure"):
            problems.append(f"Confidence {answer.confidence!r} is not one of sure, unsure.")
    return problems


def item_is_correct(key: KeyItem, chosen: frozenset[int]) -> bool:
    """Single and true/false: the keyed option alone. Multiple: exactly the keyed set."""
    if not chosen:
        return False
    return chosen == key.correct_ids


def grade(key: list[KeyItem], chosen: dict[int, frozenset[int]], *, pass_mark: int) -> Result:
    """Grade every question of the key against the chosen options (missing = unanswered)."""
    items = tuple(ItemResult(k.version_id, item_is_correct(k, chosen.get(k.version_id, frozenset()))) for k in key)
    correct = sum(1 for r in items if r.is_correct)
    total = len(items)
    score = (Decimal(100 * correct) / Decimal(total)).quantize(Decimal("0.01"), ROUND_HALF_UP) if total else Decimal(0)
    return Result(items=items, correct=correct, total=total, score=score, passed=score >= pass_mark)


@dataclass(frozen=True)
class PastAttempt:
    number: int
    submitted_at: object  # datetime or None
    passed: bool | None


@dataclass(frozen=True)
class Availability:
    """Whether a new attempt may start now, and if not, why and from when."""

    allowed: bool
    reason: str = ""  # for people; may be reworded
    available_at: object = None  # datetime when waiting is the only obstacle
    code: str = ""  # for machines: stable, one per rule (quizzes.services.REFUSAL_CODES)


def attempt_availability(
    *, kind: str, attempt_limit: int | None, wait_minutes: int, past: list[PastAttempt], now
) -> Availability:
    """The start rules, given the learner's earlier attempts of one quiz (open ones excluded).

    A passed post-test needs no further attempt; the attempt limit counts every
    attempt started; the waiting time runs from the last submission.
    """
    if kind == "posttest" and any(p.passed for p in past):
        return Availability(False, "You have already passed this post-test.", code="already_passed")
    if attempt_limit is not None and len(past) >= attempt_limit:
        return Availability(False, f"You have used all {attempt_limit} attempts.", code="attempt_limit_reached")
    submitted = [p.submitted_at for p in past if p.submitted_at is not None]
    if wait_minutes and submitted:
        available_at = max(submitted) + dt.timedelta(minutes=wait_minutes)
        if now < available_at:
            return Availability(False, "Please wait before your next attempt.", available_at, code="wait_required")
    return Availability(True)


def review_allowed(*, rule: str, passed_any: bool, attempts_used: int, attempt_limit: int | None) -> bool:
    """May the learner see correct answers and rationales of their submitted attempts?"""
    if rule == "always":
        return True
    if rule == "after_pass":
        return passed_any
    if rule == "after_last_attempt":
        return passed_any or (attempt_limit is not None and attempts_used >= attempt_limit)
    return False  # "never"
