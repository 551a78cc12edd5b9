"""Classical item analysis from aggregated sums: facility, point-biserial, distractors, flags.

Pure: `selectors.item_analysis_get` runs the SQL aggregation (one row per item
version, one per option) and passes the sums here, so the statistics are
tested with plain numbers and the database never ships individual responses.

Discrimination is the corrected point-biserial correlation between the item
(1 correct, 0 not) and the rest-score, the learner's proportion correct on the
attempt's *other* questions, so an item does not correlate with itself:

    r = (M1 - M0) / s * sqrt(p * (1 - p))

with M1 and M0 the mean rest-score of those who got the item right and wrong,
s the population standard deviation of the rest-score, and p the facility.
No verdict (flags) is given below `min_responses` (issue #5: default 30).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_RESPONSES = 30
EASY_ABOVE = 0.95
HARD_BELOW = 0.25
DISCRIMINATION_BELOW = 0.2


@dataclass(frozen=True)
class ItemSums:
    """Aggregates of one item version's graded responses."""

    version_id: int
    n: int
    n_correct: int
    rest_sum: float  # sum of rest-scores over all responses
    rest_sq_sum: float  # sum of squared rest-scores
    rest_sum_correct: float  # sum of rest-scores of correct responses


@dataclass
class DistractorStat:
    option_id: int
    label: str
    is_correct: bool
    chosen: int
    share: float  # of responses to the item


@dataclass
class ItemStat:
    version_id: int
    n: int
    facility: float | None
    discrimination: float | None
    options: list[DistractorStat] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    enough: bool = False


def point_biserial(sums: ItemSums) -> float | None:
    """The corrected point-biserial, or None when undefined (no variance, all right or all wrong)."""
    n, k = sums.n, sums.n_correct
    if n < 2 or k in (0, n):
        return None
    mean = sums.rest_sum / n
    variance = sums.rest_sq_sum / n - mean * mean
    if variance <= 1e-12:
        return None
    m1 = sums.rest_sum_correct / k
    m0 = (sums.rest_sum - sums.rest_sum_correct) / (n - k)
    p = k / n
    return (m1 - m0) / math.sqrt(variance) * math.sqrt(p * (1 - p))


def item_stat(sums: ItemSums, options: list[tuple[int, str, bool, int]], *, min_responses: int = MIN_RESPONSES) -> ItemStat:
    """Statistics and flags for one item version; options are (id, label, is_correct, times chosen)."""
    facility = sums.n_correct / sums.n if sums.n else None
    stat = ItemStat(
        version_id=sums.version_id,
        n=sums.n,
        facility=facility,
        discrimination=point_biserial(sums),
        options=[
            DistractorStat(oid, label, correct, chosen, chosen / sums.n if sums.n else 0.0)
            for oid, label, correct, chosen in options
        ],
        enough=sums.n >= min_responses,
    )
    if not stat.enough:
        return stat  # no verdict on too few responses
    if facility is not None and facility > EASY_ABOVE:
        stat.flags.append(f"Very easy: facility {facility:.2f} is above {EASY_ABOVE}.")
    if facility is not None and facility < HARD_BELOW:
        stat.flags.append(f"Very hard: facility {facility:.2f} is below {HARD_BELOW}.")
    if stat.discrimination is not None and stat.discrimination < DISCRIMINATION_BELOW:
        stat.flags.append(
            f"Weak discrimination: {stat.discrimination:.2f} is below {DISCRIMINATION_BELOW} "
            "(strong and weak learners do about equally well)."
        )
    for option in stat.options:
        if not option.is_correct and option.chosen == 0:
            stat.flags.append(f"Distractor {option.label} was never chosen.")
    return stat
