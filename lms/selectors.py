"""Reads for the API, each scoped to who asks and with a fixed query count.

Every integrator read goes through a function here that takes the token's
organisation, so isolation is decided in one place: another organisation's
learner is simply not in the queryset (a 404, never a 403 that confirms it
exists).
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, replace

from django.db import connection
from django.db.models import Prefetch
from django.utils.dateparse import parse_datetime

from curriculum.models import Lesson
from curriculum.selectors import aware
from lms.models import (
    TOKEN_PREFIX,
    Enrolment,
    ExternalLearner,
    IntegrationToken,
    LinkRequest,
    Organisation,
    token_digest,
)

# integration_token_authenticate's query, written out: every integrator
# request runs it, and the ORM spent longer building it (select_related,
# three conditions) than PostgreSQL running it. Values are parameters.
_AUTHENTICATE_SQL = """
    SELECT token.id, token.organisation_id, token.name, token.lookup, token.digest, token.scopes, token.created_at,
           token.created_by_id, token.last_used_at, token.revoked_at,
           organisation.name, organisation.slug, organisation.is_active, organisation.created_at
      FROM lms_integrationtoken token
      JOIN lms_organisation organisation ON organisation.id = token.organisation_id
     WHERE token.lookup = %s AND token.revoked_at IS NULL AND organisation.is_active
"""


def integration_token_lookup(raw: str) -> str | None:
    """The public lookup part of a raw `ce_<lookup>_<secret>` string, or None if it is not one."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    lookup, _, secret = raw[len(TOKEN_PREFIX):].partition("_")
    if not lookup or not secret or len(lookup) > 16:
        return None
    return lookup


def integration_token_authenticate(*, raw: str) -> IntegrationToken | None:
    """The live token matching a raw `ce_<lookup>_<secret>` string, with its organisation, or None. One query.

    None for a malformed, unknown, revoked or wrong-secret token, or one of an
    inactive organisation; the caller cannot tell which, by design.
    """
    lookup = integration_token_lookup(raw)
    if lookup is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_AUTHENTICATE_SQL, [lookup])
        row = cursor.fetchone()  # lookup is unique
    if row is None or not hmac.compare_digest(row[4], token_digest(raw)):
        return None
    tid, oid, name, lookup, digest, scopes, created_at, created_by_id, last_used_at, revoked_at = row[:10]
    org_name, slug, is_active, org_created_at = row[10:]
    # from_db takes every concrete field, in the models' field order (tests/lms/test_api_feeds.py
    # compares the result with the ORM's instances field by field).
    token = IntegrationToken.from_db(connection.alias, None, (
        tid, oid, name, lookup, digest,
        IntegrationToken._meta.get_field("scopes").from_db_value(scopes, None, connection),
        aware(created_at), created_by_id, aware(last_used_at), aware(revoked_at),
    ))
    token.organisation = Organisation.from_db(
        connection.alias, None, (oid, org_name, slug, bool(is_active), aware(org_created_at))
    )
    return token


# What `me/progress` shows of a row, in this order.
PROGRESS_VALUES = (
    "lesson__course__slug", "lesson__slug", "first_opened_at", "last_opened_at", "completed_at",
    "completed_version__number", "seconds_on_page", "visits",
)
# Written out, as the lesson page's query is (curriculum/selectors.py): the
# ORM's joins cost more Python to build than the query costs to run. Values
# are parameters, never formatted in.
_PROGRESS_SQL = """
    SELECT course.slug, lesson.slug, progress.first_opened_at, progress.last_opened_at, progress.completed_at,
           version.number, progress.seconds_on_page, progress.visits
      FROM curriculum_lessonprogress progress
      JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
      JOIN curriculum_course course ON course.id = lesson.course_id
      LEFT JOIN curriculum_lessonversion version ON version.id = progress.completed_version_id
     WHERE progress.learner_id = %s
     ORDER BY progress.last_opened_at DESC, progress.id DESC
"""


def learner_progress_list(*, learner) -> list[dict]:
    """The learner's own lesson progress, newest activity first, as `PROGRESS_VALUES` dicts. One query.

    Reads only the listed columns: the completed version's row carries the
    lesson's whole source and HTML, which the list never needs.
    """
    with connection.cursor() as cursor:
        cursor.execute(_PROGRESS_SQL, [learner.pk])
        rows = cursor.fetchall()
    return [
        dict(zip(PROGRESS_VALUES, (*row[:2], *(aware(value) for value in row[2:5]), *row[5:]), strict=True))
        for row in rows
    ]


# lesson_content_key's query, written out: the ORM spent longer building it
# than PostgreSQL running it. Values are parameters, never formatted in.
_LESSON_KEY_SQL = """
    SELECT lesson.id, lesson.current_version_id, lesson.position
      FROM curriculum_lesson lesson
      JOIN curriculum_course course ON course.id = lesson.course_id
     WHERE course.slug = %s AND course.is_published
       AND lesson.slug = %s AND lesson.is_published AND lesson.current_version_id IS NOT NULL
"""


def lesson_content_key(*, course_slug: str, lesson_slug: str) -> tuple[int, int, int]:
    """(lesson id, current version id, position) of a published lesson. One small query.

    What the API's lesson payload depends on besides the URL: versions are
    immutable and a revision makes a new one, so a payload cached under this
    key is never stale (lms/api/v1/views.py). Reads no lesson text. Raises
    Lesson.DoesNotExist, as `curriculum.selectors.lesson_detail_get` would.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LESSON_KEY_SQL, [course_slug, lesson_slug])
        row = cursor.fetchone()  # (course, slug) is unique
    if row is None:
        raise Lesson.DoesNotExist("No such published lesson.")
    return tuple(row)


def external_learner_get(*, organisation: Organisation, external_id: str) -> ExternalLearner:
    """One of the organisation's learners with their enrolments. Two queries.

    Raises ExternalLearner.DoesNotExist, also for another organisation's learner.
    """
    return (
        ExternalLearner.objects.filter(organisation=organisation)
        .select_related("user", "organisation")
        .prefetch_related(
            Prefetch("enrolments", queryset=Enrolment.objects.select_related("course").order_by("course__slug"))
        )
        .get(external_id=external_id)
    )


# What a feed row shows, in this order (`FeedQuery` rows are dicts with these
# keys). The cursor pagination reads `updated_at` / `completed_at` from them.
FEED_VALUES = (
    "pk", "external_id", "lesson__course__slug", "lesson__slug", "first_opened_at", "last_opened_at",
    "completed_at", "completed_version__number", "seconds_on_page", "updated_at",
)
_FEED_TIMES = ("first_opened_at", "last_opened_at", "completed_at", "updated_at")

# The feeds' page query, written out: building and compiling it through the
# ORM (two correlated subqueries, three joins) cost about 1.5 ms of Python a
# page, twice what PostgreSQL spends running it (issue #8). `{order}`,
# `{where}` and `{direction}` are filled only from the constants in
# `FeedQuery`; every value is a parameter but the page's limit and offset,
# written in as integers (`_CursorFeed.__getitem__`).
#
# The organisation's identity of the learner and their enrolment on the
# lesson's course are plain joins: each matches at most one row (both are
# unique: organisation and user, learner and course), so a join neither
# repeats nor drops a progress row, and the same identity row gives the
# external id. This is the page on SQLite, and the walk of PostgreSQL's
# (`_FEED_SCOPED_SQL`, below): PostgreSQL walks the feed's index
# (`curriculum_lp_updated_idx` or `_completed_idx`) and probes both per row
# walked, memoizing them per learner. Before, they were two correlated subqueries (one in the WHERE,
# one for the external id): the identity was probed twice, and nothing was
# memoized; a page took 0.6-1.2 ms to run at 2,000-10,000 learners, and
# 0.4-0.65 ms with the joins. (Earlier still, an EXISTS semi-join, which
# PostgreSQL estimated at one row and joined every enrolment to every row
# walked: 55 ms a page.)
_FEED_SQL = """
    SELECT progress.id, identity.external_id, course.slug, lesson.slug,
           {first_opened_at}, {last_opened_at}, {completed_at},
           version.number, progress.seconds_on_page, {updated_at}
      FROM curriculum_lessonprogress progress
      JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
      JOIN curriculum_course course ON course.id = lesson.course_id
      JOIN lms_externallearner identity
        ON identity.user_id = progress.learner_id AND identity.organisation_id = %s
      JOIN lms_enrolment enrolment ON enrolment.learner_id = identity.id AND enrolment.course_id = lesson.course_id
      LEFT JOIN curriculum_lessonversion version ON version.id = progress.completed_version_id
     WHERE TRUE
           {where}
     ORDER BY progress.{order} {direction}, progress.id {direction}
     LIMIT {limit:d} OFFSET {offset:d}
"""


# PostgreSQL's form of the page (`FeedQuery._page`). `_FEED_SQL` walks the
# index of every organisation's progress and skips the rows of learners not
# the organisation's: cheap for an organisation with many of the learners
# (the benchmark's has 40 %), but a page for one with ten learners among
# 10,000 walked them all (57-69 ms, and 150-270 ms before the joins above).
# So the page is a UNION ALL of two ways to find it, and PostgreSQL runs only
# one: each branch has a one-time filter on `scope`, which counts the
# organisation's learners up to a threshold. An organisation with fewer than
# that is gathered from its own learners (their enrolments, then each one's
# progress on the course, `OFFSET 0` keeping PostgreSQL from flattening it
# into the walk) and sorted; any other walks as `_FEED_SQL` does.
#
# The threshold is where the two cost about the same. Gathering reads about
# `n * 8` rows for n learners (a course has 7 lessons); walking reads about
# `walk * R / (n * 8)` for R progress rows in all; they meet at
# n = sqrt(walk * R) / 8: 267 learners for a page of 51 at 10,000 learners
# (R from the table's statistics, `pg_class.reltuples`; at least
# `FEED_FEW_LEARNERS_MIN`). The `threshold` CTE computes it once for both
# uses; the tests replace `_FEED_THRESHOLD_SQL` to take each branch. Both branches
# carry the progress rows' columns out, so the outer query only joins the
# lesson, course and version (seven-row tables), not each row again by id:
# that re-read, and the threshold computed twice, cost a large organisation's
# page 0.05 ms of the 0.13 ms the scoping adds to its walk (0.53 ms alone).
FEED_FEW_LEARNERS_MIN = 64
_FEED_SCOPED_SQL = """{scope}
    SELECT progress.id, progress.external_id, course.slug, lesson.slug,
           {first_opened_at}, {last_opened_at}, {completed_at},
           version.number, progress.seconds_on_page, {updated_at}
      FROM (
        (SELECT progress.id, progress.{order} AS position, identity.external_id, progress.lesson_id,
                progress.first_opened_at, progress.last_opened_at, progress.completed_at, progress.updated_at,
                progress.completed_version_id, progress.seconds_on_page
           FROM curriculum_lessonprogress progress
           JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
           JOIN lms_externallearner identity
             ON identity.user_id = progress.learner_id AND identity.organisation_id = %s
           JOIN lms_enrolment enrolment ON enrolment.learner_id = identity.id AND enrolment.course_id = lesson.course_id
          WHERE NOT (SELECT few FROM scope)
                {where}
          ORDER BY progress.{order} {direction}, progress.id {direction}
          LIMIT {walk:d})
        UNION ALL
        (SELECT progress.id, progress.{order}, identity.external_id, progress.lesson_id,
                progress.first_opened_at, progress.last_opened_at, progress.completed_at, progress.updated_at,
                progress.completed_version_id, progress.seconds_on_page
           FROM lms_externallearner identity
           JOIN lms_enrolment enrolment ON enrolment.learner_id = identity.id
           JOIN LATERAL (SELECT progress.id, progress.lesson_id, progress.first_opened_at, progress.last_opened_at,
                                progress.completed_at, progress.updated_at, progress.completed_version_id,
                                progress.seconds_on_page
                           FROM curriculum_lessonprogress progress
                           JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
                          WHERE progress.learner_id = identity.user_id AND lesson.course_id = enrolment.course_id
                                {where}
                         OFFSET 0) progress ON TRUE
          WHERE identity.organisation_id = %s AND (SELECT few FROM scope)
          ORDER BY progress.{order} {direction}, progress.id {direction}
          LIMIT {walk:d})
      ) progress
      JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
      JOIN curriculum_course course ON course.id = lesson.course_id
      LEFT JOIN curriculum_lessonversion version ON version.id = progress.completed_version_id
     ORDER BY progress.position {direction}, progress.id {direction}
     LIMIT {limit:d} OFFSET {offset:d}
"""
_FEED_THRESHOLD_SQL = (
    "(SELECT greatest({minimum:d}, sqrt({walk:d} * greatest(reltuples, 0)) / {per_learner:d})::int"
    " FROM pg_class WHERE oid = '{table}'::regclass)"
)
# How PostgreSQL's page queries scope themselves (`_FEED_SCOPED_SQL`, and the
# certificate feed's `_CERTIFICATE_FEED_SQL`): the threshold, and whether the
# organisation has fewer learners than that, counted up to it. `ORDER BY
# user_id` keeps the count on the (organisation, user) index. Without it,
# where one organisation holds most identities (the benchmark's), PostgreSQL
# plans a scan of the table for it, and the plan it keeps for every
# organisation may be that one, which for a small organisation reads every
# organisation's identities.
_SCOPE_SQL = """
    WITH threshold AS (SELECT {threshold} AS n),
    scope AS (
        SELECT count(*) < (SELECT n FROM threshold) AS few FROM (
            SELECT 1 FROM lms_externallearner WHERE organisation_id = %s
             ORDER BY user_id LIMIT (SELECT n FROM threshold)
        ) identities
    )"""


def _scope_sql(*, walk: int, table: str, per_learner: int) -> str:
    """`_SCOPE_SQL` for a page that walks `walk` rows of `table`, of which a learner has about
    `per_learner` (the threshold, `_FEED_THRESHOLD_SQL`, is read here, where the tests replace it)."""
    threshold = _FEED_THRESHOLD_SQL.format(
        minimum=FEED_FEW_LEARNERS_MIN, walk=walk, per_learner=per_learner, table=table
    )
    return _SCOPE_SQL.format(threshold=threshold)


def _iso_sql(column: str) -> str:
    """SQL for a time column as the API writes it, but for the final "Z" (`_iso`).

    The database formats the feed's times (ISO 8601 in UTC, the API's time
    zone): loading them as datetimes and formatting them again cost about
    2.5 µs a value in Python, and a page has 200 (issue #8). SQLite holds
    Django's own text of the time, "2026-11-26 05:30:00.123456", without a
    fraction when it is zero, as `isoformat` writes it.
    """
    if connection.vendor == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return f"replace({column}, ' ', 'T')"


def _iso(text: str | None) -> str | None:
    """`_iso_sql`'s text as DRF's DateTimeField writes the time: no zero fraction, "Z" for UTC."""
    if text is None:
        return None
    return (text[:-7] if text.endswith(".000000") else text) + "Z"


@dataclass(frozen=True)
class _CursorFeed:
    """A feed of an organisation's rows that DRF's CursorPagination pages as it would a queryset.

    It takes the three steps CursorPagination applies, `order_by(<ordering>)`
    (or its reverse), `filter(<column>__gt=<cursor position>)` (or `__lt`)
    and a slice for the page, and runs the page as written-out SQL
    (`_page`), which walks an index in feed order and stops after the page.
    """

    organisation_id: int
    updated_since: dt.datetime | None = None
    descending: bool = False
    after: tuple[str, dt.datetime] | None = None  # ("gt" or "lt", cursor position)

    @property
    def column(self) -> str:
        return "updated_at"

    @property
    def ordering(self) -> tuple[str, str]:
        return (self.column, "pk")

    def order_by(self, *fields: str) -> _CursorFeed:
        if tuple(field.lstrip("-") for field in fields) != self.ordering:
            raise ValueError(f"A feed is ordered by {self.ordering}, not {fields}.")
        return replace(self, descending=fields[0].startswith("-"))

    def filter(self, **lookup) -> _CursorFeed:
        ((key, position),) = lookup.items()
        column, _, operator = key.rpartition("__")
        if column != self.column or operator not in ("gt", "lt"):
            raise ValueError(f"A feed filters on its cursor column {self.column}, not {key}.")
        value = position if isinstance(position, dt.datetime) else parse_datetime(str(position))
        if value is None:
            raise ValueError(f"Not a cursor position: {position!r}.")
        return replace(self, after=(operator, value))

    def __getitem__(self, page: slice) -> list:
        # The limit and offset are written into the SQL, not sent as
        # parameters: psycopg prepares a statement a connection runs often
        # (settings.py), and PostgreSQL then plans it once for any
        # parameters only if that plan costs no more than the plans for
        # each; with the limit unknown it never did, so it planned every
        # page again (0.4-1.3 ms, as much as running it; issue #8). DRF
        # caps both (`max_page_size`, `offset_cutoff`), so a connection
        # keeps few such statements.
        return self._page(limit=int(page.stop - page.start), offset=int(page.start))

    def _page(self, *, limit: int, offset: int) -> list:
        raise NotImplementedError

    def _where(self, column: str) -> tuple[str, list]:
        """` AND ...` conditions on the SQL expression `column` for `updated_since` and the
        cursor position, with their parameters."""
        conditions, params = [], []
        if self.updated_since is not None:
            conditions.append(f"{column} >= %s")
            params.append(connection.ops.adapt_datetimefield_value(self.updated_since))
        if self.after is not None:
            operator, position = self.after
            conditions.append(f"{column} {'>' if operator == 'gt' else '<'} %s")
            params.append(connection.ops.adapt_datetimefield_value(position))
        return "".join(f" AND {condition}" for condition in conditions), params

    @property
    def _direction(self) -> str:
        return "DESC" if self.descending else "ASC"


@dataclass(frozen=True)
class FeedQuery(_CursorFeed):
    """The progress or completions feed of an organisation.

    Lesson progress of the organisation's learners on the courses it
    enrolled them in, ordered by `updated_at` (the later of last opened and
    completed, a stored, indexed column), or for `completed_only` the
    completions ordered by `completed_at`; ties by id. Rows are
    `FEED_VALUES` dicts, `external_id` being the learner as the organisation
    knows them and the times ISO 8601 text as the API writes them. One query.
    A page of a large organisation reads about page size ÷ its share of all
    progress rows, two unique-index probes per row walked, and stops after
    the page: constant as learners grow in proportion. On PostgreSQL, a page
    of an organisation with few learners reads only theirs
    (`_FEED_SCOPED_SQL`).
    """

    completed_only: bool = False

    @property
    def column(self) -> str:
        return "completed_at" if self.completed_only else "updated_at"

    def _page(self, *, limit: int, offset: int) -> list[dict]:
        where, params = self._where(f"progress.{self.column}")
        if self.completed_only:
            where = " AND progress.completed_at IS NOT NULL" + where
        constants = {  # only these are formatted in
            "where": where, "order": self.column, "direction": self._direction, "limit": limit, "offset": offset,
            **{name: _iso_sql(f"progress.{name}") for name in _FEED_TIMES},
        }
        if connection.vendor == "postgresql":
            walk = limit + offset
            scope = _scope_sql(walk=walk, table="curriculum_lessonprogress", per_learner=8)
            sql = _FEED_SCOPED_SQL.format(scope=scope, walk=walk, **constants)
            # In the order they appear: scope, the walk, the gathering's LATERAL, then its WHERE.
            params = [self.organisation_id, self.organisation_id, *params, *params, self.organisation_id]
        else:
            sql = _FEED_SQL.format(**constants)
            params = [self.organisation_id, *params]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [
            dict(zip(FEED_VALUES, (*row[:4], _iso(row[4]), _iso(row[5]), _iso(row[6]), *row[7:9], _iso(row[9])),
                     strict=True))
            for row in rows
        ]


# The certificate feed's page of ids. A certificate's `updated_at` is its
# revocation time once revoked, else its issue time: the later of two tables,
# which no index can order. So the page is the merge of two index walks,
# certificates never revoked by `issued_at` and revocations by `revoked_at`,
# each stopping after offset + page size rows; the merged page takes the
# first. Each row walked costs unique-index probes (its claim, the
# organisation's identity of the learner, and for issues a revocation). Not
# the progress feed's scalar subqueries: PostgreSQL estimated "(subquery) IS
# NULL" to keep 0.5 % of certificates, so it sorted them all instead of
# walking the index (15 ms a page at 10,000 learners); it estimates the
# anti-join of NOT EXISTS and the join on the identity from statistics,
# and walks (0.5 ms).
_CERTIFICATE_FEED_SQL = """{scope}
    SELECT id, updated_at FROM (
        SELECT certificate.id AS id, certificate.issued_at AS updated_at
          FROM credits_certificate certificate
          JOIN credits_claim claim ON claim.id = certificate.claim_id
          JOIN lms_externallearner identity ON identity.user_id = claim.learner_id AND identity.organisation_id = %s
         WHERE NOT EXISTS (SELECT 1 FROM credits_certificaterevocation revocation
                            WHERE revocation.certificate_id = certificate.id)
               {walking}{issued_where}
         ORDER BY certificate.issued_at {direction}, certificate.id {direction}
         LIMIT {walk:d}
    ) issued
    UNION ALL
    SELECT id, updated_at FROM (
        SELECT revocation.certificate_id AS id, revocation.revoked_at AS updated_at
          FROM credits_certificaterevocation revocation
          JOIN credits_certificate certificate ON certificate.id = revocation.certificate_id
          JOIN credits_claim claim ON claim.id = certificate.claim_id
          JOIN lms_externallearner identity ON identity.user_id = claim.learner_id AND identity.organisation_id = %s
         WHERE TRUE
               {walking}{revoked_where}
         ORDER BY revocation.revoked_at {direction}, revocation.certificate_id {direction}
         LIMIT {walk:d}
    ) revoked{gathering}
    ORDER BY updated_at {direction}, id {direction}
    LIMIT {limit:d} OFFSET {offset:d}
"""


# PostgreSQL's certificate page scopes itself as the progress feed's does
# (`_FEED_SCOPED_SQL`): both walks above read every organisation's
# certificates until they have the page, which for an organisation of ten
# learners, or none, among 10,000 was all 5,400 certificates, 12 ms a page
# (and ten times that at ten times the volume). Below the threshold, both
# walks are cut off by `_CERTIFICATE_WALKING_SQL`, and the page is gathered
# from the organisation's own learners: their claims, certificates and
# revocations, sorted by the later of issue and revocation. A certificate
# walked costs three probes (claim, identity, revocation) and a learner
# gathered about as many, with at most about one certificate a learner, so the
# threshold is sqrt(page * certificates) learners: 525 for a page of 51 among
# 5,400 certificates.
_CERTIFICATE_WALKING_SQL = "AND NOT (SELECT few FROM scope)\n               "
_CERTIFICATE_GATHERING_SQL = """
    UNION ALL
    SELECT id, updated_at FROM (
        SELECT certificate.id, certificate.updated_at
          FROM lms_externallearner identity
          JOIN LATERAL (SELECT certificate.id,
                               coalesce(revocation.revoked_at, certificate.issued_at) AS updated_at
                          FROM credits_claim claim
                          JOIN credits_certificate certificate ON certificate.claim_id = claim.id
                          LEFT JOIN credits_certificaterevocation revocation
                            ON revocation.certificate_id = certificate.id
                         WHERE claim.learner_id = identity.user_id
                               {gathered_where}
                        OFFSET 0) certificate ON TRUE
         WHERE identity.organisation_id = %s AND (SELECT few FROM scope)
         ORDER BY certificate.updated_at {direction}, certificate.id {direction}
         LIMIT {walk:d}
    ) gathered"""


# What a certificate feed row holds (`CertificateFeedQuery` rows are dicts
# with these keys): the certificate's printed fields, the learner as the
# organisation knows them, whether it was reissued (`superseded`), and its
# claim's and revocation's. Times, the date and the two amounts ("amount",
# "claim__hours") are text as the API writes them.
CERTIFICATE_FEED_VALUES = (
    "pk", "external_id", "code", "learner_name", "profession", "activity_title", "completed_on", "credit_type",
    "credit_label", "amount", "uan", "designation_statement", "accreditation_statement", "provider_name",
    "provider_address", "issued_at", "superseded", "claim__hours", "claim__attested_at",
    "revocation__revoked_at", "updated_at",
)
# Which of those are times (`_iso` finishes the database's text of them).
_CERTIFICATE_FEED_IS_TIME = tuple(
    name in {"issued_at", "claim__attested_at", "revocation__revoked_at", "updated_at"}
    for name in CERTIFICATE_FEED_VALUES
)

# The page's rows: `_CERTIFICATE_FEED_SQL`'s page of ids, then each
# certificate's fields by primary key, in one query. (Two before: the ids,
# then an ORM queryset of the certificates, whose building and compiling cost
# more than both queries ran; issue #8.)
_CERTIFICATE_ROWS_SQL = """
    SELECT certificate.id, identity.external_id, certificate.code, certificate.learner_name,
           certificate.profession, certificate.activity_title, {completed_on}, certificate.credit_type,
           certificate.credit_label, {amount}, certificate.uan, certificate.designation_statement,
           certificate.accreditation_statement, certificate.provider_name, certificate.provider_address,
           {issued_at}, successor.id IS NOT NULL, {hours}, {attested_at}, {revoked_at}, {updated_at}
      FROM ({page}) page
      JOIN credits_certificate certificate ON certificate.id = page.id
      JOIN credits_claim claim ON claim.id = certificate.claim_id
      JOIN lms_externallearner identity ON identity.user_id = claim.learner_id AND identity.organisation_id = %s
      LEFT JOIN credits_certificaterevocation revocation ON revocation.certificate_id = certificate.id
      LEFT JOIN credits_certificate successor ON successor.supersedes_id = certificate.id
     ORDER BY page.updated_at {direction}, page.id {direction}
"""


def _decimal_sql(column: str) -> str:
    """SQL for a `decimal_places=2` column as the API writes it ("1.50"; DRF's
    DecimalField). Quantizing fifty rows' two amounts through DRF's field cost
    0.16 ms a certificate feed page, two thirds of building its rows (issue #8)."""
    if connection.vendor == "postgresql":
        return f"round({column}, 2)::text"
    return f"printf('%%.2f', {column})"  # %% for the parameters' %s (it runs with them)


def _date_sql(column: str) -> str:
    """SQL for a date column as ISO 8601 text. SQLite holds it so, but Django's
    converter for the column's declared type would read it back as a date."""
    if connection.vendor == "postgresql":
        return f"to_char({column}, 'YYYY-MM-DD')"
    return f"date({column})"


@dataclass(frozen=True)
class CertificateFeedQuery(_CursorFeed):
    """The certificates of an organisation's learners, ordered by `updated_at` (the revocation
    time once revoked, else the issue time), ties by id.

    Rows are `CERTIFICATE_FEED_VALUES` dicts, in feed order. One query a
    page: `_CERTIFICATE_FEED_SQL` finds the page's ids, and
    `_CERTIFICATE_ROWS_SQL` reads their certificates around it. On
    PostgreSQL, a page of an organisation with few learners reads only
    theirs (`_CERTIFICATE_GATHERING_SQL`).
    """

    def _page(self, *, limit: int, offset: int) -> list[dict]:
        walk = offset + limit
        issued_where, issued_params = self._where("certificate.issued_at")
        revoked_where, revoked_params = self._where("revocation.revoked_at")
        params = [self.organisation_id, *issued_params, self.organisation_id, *revoked_params]
        scoped = {"scope": "", "walking": "", "gathering": ""}
        if connection.vendor == "postgresql":
            gathered_where, gathered_params = self._where("coalesce(revocation.revoked_at, certificate.issued_at)")
            scoped = {
                "scope": _scope_sql(walk=walk, table="credits_certificate", per_learner=1),
                "walking": _CERTIFICATE_WALKING_SQL,
                "gathering": _CERTIFICATE_GATHERING_SQL.format(
                    gathered_where=gathered_where, direction=self._direction, walk=walk
                ),
            }
            # In the order they appear: scope, the two walks, the gathering's LATERAL, then its WHERE.
            params = [self.organisation_id, *params, *gathered_params, self.organisation_id]
        page = _CERTIFICATE_FEED_SQL.format(  # only the constants above are formatted in
            issued_where=issued_where, revoked_where=revoked_where, direction=self._direction,
            walk=walk, limit=limit, offset=offset, **scoped,
        )
        sql = _CERTIFICATE_ROWS_SQL.format(  # only the constants above are formatted in
            page=page, direction=self._direction, completed_on=_date_sql("certificate.completed_on"),
            amount=_decimal_sql("certificate.amount"), hours=_decimal_sql("claim.hours"),
            issued_at=_iso_sql("certificate.issued_at"), attested_at=_iso_sql("claim.attested_at"),
            revoked_at=_iso_sql("revocation.revoked_at"), updated_at=_iso_sql("page.updated_at"),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, self.organisation_id])
            rows = cursor.fetchall()
        return [
            {name: _iso(value) if time else value
             for name, value, time in zip(CERTIFICATE_FEED_VALUES, row, _CERTIFICATE_FEED_IS_TIME, strict=True)}
            for row in rows
        ]


def link_request_list(*, learner) -> list[LinkRequest]:
    """The learner's own link requests: open ones first, then the latest 50
    decided, newest first. One query."""
    rows = list(LinkRequest.objects.filter(user=learner).select_related("organisation")[:50])
    return sorted(rows, key=lambda r: r.status != LinkRequest.Status.PENDING)


def link_request_get(*, learner, pk: int) -> LinkRequest:
    """One link request addressed to `learner`. One query. Raises
    LinkRequest.DoesNotExist, also for another learner's (a 404, not a 403)."""
    return LinkRequest.objects.select_related("organisation").get(pk=pk, user=learner)
