"""What a connected SCORM package reports to the LMS, from the learner's progress on our server.

Pure: no database. Completion needs every lesson read and the post-test
taken; success is the post-test's verdict. SCORM 1.2 folds both into one
`lesson_status`. Only statuses and the best post-test score cross to the LMS:
answers, keys and credit records stay on the server.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Progress:
    lessons_total: int
    lessons_completed: int
    posttest_attempts: int  # submitted attempts
    posttest_best: Decimal | None
    posttest_passed: bool
    posttest_attempts_left: bool  # False once the attempt limit is used up


@dataclass(frozen=True)
class ScormStatus:
    lesson_status: str  # SCORM 1.2 cmi.core.lesson_status
    completion_status: str  # SCORM 2004 cmi.completion_status
    success_status: str  # SCORM 2004 cmi.success_status
    score_raw: int | None  # 0-100, the best post-test score
    progress_measure: float  # 0-1: lessons, plus the passed post-test as one step

    def as_dict(self) -> dict:
        return asdict(self)


def scorm_status(progress: Progress) -> ScormStatus:
    lessons_done = progress.lessons_total > 0 and progress.lessons_completed >= progress.lessons_total
    completed = lessons_done and progress.posttest_attempts > 0
    if progress.posttest_passed:
        success = "passed"
    elif progress.posttest_attempts and not progress.posttest_attempts_left:
        success = "failed"
    else:
        success = "unknown"
    if success == "passed" and lessons_done:
        lesson_status = "passed"
    elif success == "failed":
        lesson_status = "failed"
    else:
        lesson_status = "incomplete"
    steps = progress.lessons_total + 1
    done = min(progress.lessons_completed, progress.lessons_total) + (1 if progress.posttest_passed else 0)
    score = None if progress.posttest_best is None else int(progress.posttest_best.to_integral_value())
    return ScormStatus(
        lesson_status=lesson_status,
        completion_status="completed" if completed else "incomplete",
        success_status=success,
        score_raw=score,
        progress_measure=round(done / steps, 4),
    )
