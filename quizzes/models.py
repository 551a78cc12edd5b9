"""Assessment: the question bank, quizzes, attempts and responses (issue #5).

An `Item` is the stable identity of a question (its key in the course's item
files); what it asks lives in immutable `ItemVersion` rows with their
`Option`s, a new version each time the item's content hash changes, so a
response always points at the exact wording, options and key the learner
saw, and item statistics restart when an item is edited.

A `Quiz` is one assessment of a course: the optional pre-test, one knowledge
check per lesson, and the post-test that decides credit. An `Attempt` stores
the shuffled order it was shown in (`layout`) so a review shows exactly what
the learner saw. Grading lives in the pure `grading.py`; writes in
`services.py`, reads in `selectors.py`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curriculum.models import Course, Interaction, Lesson, Myth, Objective


class Item(models.Model):
    """A question's stable identity: its key within the course's item files."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="items")
    key = models.CharField(max_length=80)
    # Pool membership is not content: moving an item between pools must not
    # restart its statistics, so pools live here and not on the version.
    pools = models.JSONField(default=list, help_text="Any of pretest, check, posttest.")
    # Assembly metadata too: which items one attempt must never show beside this
    # one (each would cue or answer the other). Declared on either side.
    enemies = models.JSONField(
        default=list, blank=True, help_text="Keys of items never drawn into the same attempt as this one."
    )
    is_active = models.BooleanField(default=True, help_text="False once the item's file entry is gone.")
    current_version = models.ForeignKey(
        "ItemVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["course", "key"]
        constraints = [
            # Items are matched to their file entry by key on every load.
            models.UniqueConstraint(fields=["course", "key"], name="quizzes_item_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.course.slug}/{self.key}"


class ItemVersion(models.Model):
    """What an item asked at one time. Never updated: an edit is a new row."""

    class Type(models.TextChoices):
        SINGLE = "single", "Single best answer"
        MULTIPLE = "multiple", "Multiple response (select all that apply)"
        TRUEFALSE = "truefalse", "True or false"

    class Difficulty(models.TextChoices):
        EASY = "easy", "Easy"
        MEDIUM = "medium", "Medium"
        HARD = "hard", "Hard"

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=Type.choices)
    stem = models.TextField(help_text="The Markdown source, as loaded.")
    stem_html = models.TextField(help_text="Rendered and sanitised at load.")
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="item_versions")
    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="item_versions")
    section = models.CharField(max_length=120, help_text="Heading anchor in the lesson.")
    difficulty = models.CharField(max_length=10, choices=Difficulty.choices)
    myth = models.ForeignKey(Myth, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    interaction = models.ForeignKey(
        Interaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    references = models.JSONField(default=list, help_text="[{key, citation, pmid, doi, url}]")
    content_hash = models.CharField(max_length=64)
    source_path = models.CharField(max_length=300, blank=True)
    source = models.TextField(blank=True, help_text="The item as YAML, as loaded or edited.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["item", "number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="quizzes_itemversion_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} v{self.number}"


class Option(models.Model):
    """One answer option of one item version; its id is what a response names."""

    version = models.ForeignKey(ItemVersion, on_delete=models.PROTECT, related_name="options")
    position = models.PositiveSmallIntegerField(help_text="Order in the item file (before shuffling).")
    text_html = models.TextField()
    is_correct = models.BooleanField()
    rationale_html = models.TextField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="quizzes_option_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.version} option {self.position}"


class Quiz(models.Model):
    """One assessment of a course, with the settings the provider may change in the admin."""

    class Kind(models.TextChoices):
        PRETEST = "pretest", "Pre-test"
        CHECK = "check", "Knowledge check"
        POSTTEST = "posttest", "Post-test"
        # Ungraded, per learner: the post-test items they got wrong or were unsure
        # of, opened `recheck_days` after passing; its results measure retention.
        RECHECK = "recheck", "Spaced re-check"

    class ReviewRule(models.TextChoices):
        ALWAYS = "always", "After every attempt"
        NEVER = "never", "Never (score only; e.g. a pre-test whose items recur later)"
        AFTER_PASS = "after_pass", "Only after passing"
        AFTER_LAST_ATTEMPT = "after_last_attempt", "After passing or the last attempt"

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="quizzes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    lesson = models.ForeignKey(
        Lesson, on_delete=models.PROTECT, null=True, blank=True, related_name="quizzes",
        help_text="The lesson a knowledge check follows; empty for pre- and post-tests.",
    )
    title = models.CharField(max_length=200)
    pass_mark = models.PositiveSmallIntegerField(default=75, help_text="Percent correct needed to pass.")
    attempt_limit = models.PositiveSmallIntegerField(
        default=3, null=True, blank=True, help_text="Empty means no limit."
    )
    wait_minutes = models.PositiveIntegerField(default=0, help_text="Minimum wait between attempts.")
    draw_per_objective = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Draw this many items per objective; empty means all."
    )
    question_count = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Total questions per attempt, spread evenly over objectives; empty means all drawn.",
    )
    review_rule = models.CharField(max_length=20, choices=ReviewRule.choices, default=ReviewRule.ALWAYS)
    confidence_enabled = models.BooleanField(default=False, help_text="Ask 'sure / not sure' per answer.")
    recheck_days = models.PositiveSmallIntegerField(
        default=14, help_text="Post-test: days after passing before the spaced re-check opens."
    )

    class Meta:
        ordering = ["course", "kind", "lesson__position"]
        verbose_name_plural = "quizzes"
        constraints = [
            # A knowledge check belongs to a lesson; pre- and post-tests to the course.
            models.CheckConstraint(
                condition=Q(kind="check", lesson__isnull=False) | (~Q(kind="check") & Q(lesson__isnull=True)),
                name="quizzes_quiz_check_has_lesson",
            ),
            # One pre-test and one post-test per course: the loader finds them by kind.
            models.UniqueConstraint(
                fields=["course", "kind"], condition=Q(lesson__isnull=True), name="quizzes_quiz_one_per_kind"
            ),
            # One knowledge check per lesson.
            models.UniqueConstraint(
                fields=["course", "kind", "lesson"], condition=Q(lesson__isnull=False),
                name="quizzes_quiz_one_check_per_lesson",
            ),
            models.CheckConstraint(condition=Q(pass_mark__lte=100), name="quizzes_quiz_pass_mark_percent"),
            models.CheckConstraint(
                condition=Q(attempt_limit__isnull=True) | Q(attempt_limit__gte=1),
                name="quizzes_quiz_attempt_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Attempt(models.Model):
    """One sitting of a quiz. Open while `submitted_at` is empty; graded exactly once."""

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attempts")
    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField(help_text="Seeds the shuffle, so the order can be rebuilt and audited.")
    layout = models.JSONField(
        help_text="[{version, options: [option ids]}] in the order shown: the review shows the same."
    )
    started_at = models.DateTimeField()
    saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    correct_count = models.PositiveSmallIntegerField(null=True, blank=True)
    question_count = models.PositiveSmallIntegerField()
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["quiz", "learner", "number"]
        constraints = [
            # A learner has at most one open attempt per quiz: two tabs pressing
            # "Start" together get one attempt, and attempt_start resumes it.
            models.UniqueConstraint(
                fields=["learner", "quiz"],
                condition=Q(submitted_at__isnull=True),
                name="quizzes_attempt_one_open_per_quiz",
            ),
            # Attempt numbers are never reused: with the number checked against
            # the limit before insert, two racing starts cannot both take the
            # last attempt.
            models.UniqueConstraint(fields=["learner", "quiz", "number"], name="quizzes_attempt_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="quizzes_attempt_number_positive"),
            # Graded means all of score, passed and submitted_at; open means none.
            models.CheckConstraint(
                condition=(
                    Q(submitted_at__isnull=True, score__isnull=True, passed__isnull=True)
                    | Q(submitted_at__isnull=False, score__isnull=False, passed__isnull=False)
                ),
                name="quizzes_attempt_graded_consistent",
            ),
        ]
        indexes = [
            # Item analysis reads submitted attempts of one quiz.
            models.Index(fields=["quiz", "submitted_at"], name="quizzes_att_quiz_sub_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} {self.quiz} #{self.number}"

    @property
    def is_open(self) -> bool:
        return self.submitted_at is None


class Response(models.Model):
    """The learner's answer to one question of an attempt, created empty at start."""

    class Confidence(models.TextChoices):
        SURE = "sure", "Sure"
        UNSURE = "unsure", "Not sure"

    attempt = models.ForeignKey(Attempt, on_delete=models.PROTECT, related_name="responses")
    item_version = models.ForeignKey(ItemVersion, on_delete=models.PROTECT, related_name="responses")
    position = models.PositiveSmallIntegerField(help_text="1-based place in the attempt's layout.")
    chosen = models.ManyToManyField(Option, through="ResponseChoice", related_name="+", blank=True)
    confidence = models.CharField(max_length=10, choices=Confidence.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    is_correct = models.BooleanField(null=True, blank=True, help_text="Set at grading, never before.")

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "item_version"], name="quizzes_response_item_once"),
            models.UniqueConstraint(fields=["attempt", "position"], name="quizzes_response_position_unique"),
        ]
        indexes = [
            # Item analysis groups graded responses by item version.
            models.Index(fields=["item_version", "is_correct"], name="quizzes_resp_version_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.attempt} Q{self.position}"


class ResponseChoice(models.Model):
    """An option a learner chose. Rows, not JSON, so distractor counts are one GROUP BY."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="choices")
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="choices")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "option"], name="quizzes_responsechoice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.response} -> {self.option_id}"
