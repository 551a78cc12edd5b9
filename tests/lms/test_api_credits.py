"""API v1 for credit: completion status, evaluation, claim, certificates, public verification,
the organisation's certificate feed, and the credit webhooks' payloads.

Every response is validated against the committed docs/openapi.yaml.
"""

import datetime as dt
import json
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from credits.models import Certificate, Claim, Evaluation
from credits.services import certificate_reissue, certificate_revoke, claim_create
from curriculum.models import LearnerEvent
from lms import outbox
from lms.models import Scope
from quizzes.services import attempt_start, attempt_submit
from tests.credits.factories import (
    VALID_NPI,
    activity_with_course,
    claim_input,
    everything_complete,
    lessons_complete,
    posttest_pass,
)
from tests.factories import UserFactory
from tests.lms.factories import ExternalLearnerFactory
from tests.lms.schema import SchemaCheckedAPIClient as APIClient
from tests.lms.schema import assert_matches_component, assert_matches_schema, webhook_component
from tests.lms.test_golden import assert_golden
from tests.quizzes.factories import quiz_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert_matches_schema(response)
    return body["error"]


def claim_body(**overrides) -> dict:
    body = {
        "credit_type": "ama_pra_1",
        "hours": "1.50",
        "attested": True,
        "full_name": "Jane Q. Placeholder, MD",
        "given_name": "Jane",
        "family_name": "Placeholder",
        "npi": VALID_NPI,
    }
    body.update(overrides)
    return body


def url(name: str, *args) -> str:
    return reverse(name, args=args)


def certificate_of(learner, activity) -> Certificate:
    return claim_create(learner=learner, activity_id=activity.pk, data=claim_input())


# --- completion status and evaluation ---------------------------------------------------------


def test_completion_status_lists_what_remains(learner, learner_api):
    activity = activity_with_course()
    lessons_complete(learner, activity)
    body = learner_api.get(url("v1:completion-detail", activity.course.slug)).json()
    assert body["complete"] is False and body["claimed"] is False
    assert {r["key"]: r["met"] for r in body["rules"]} == {"lessons": True, "posttest": False, "evaluation": False}
    assert len(body["remaining"]) == 2
    assert body["credit_types"] == ["ama_pra_1"]


def test_completion_status_when_everything_is_done(learner, learner_api):
    activity = activity_with_course()
    everything_complete(learner, activity)
    body = learner_api.get(url("v1:completion-detail", activity.course.slug)).json()
    assert body["complete"] is True and body["remaining"] == [] and body["completed_on"]


def test_completion_of_an_unknown_course_is_404(learner_api):
    assert_error(learner_api.get(url("v1:completion-detail", "no-such-course")), 404, "not_found")


@pytest.mark.parametrize("n", [1, 5])
def test_completion_status_query_count_is_constant(learner, learner_api, django_assert_num_queries, n):
    activity = activity_with_course(n_lessons=n)
    everything_complete(learner, activity)
    with django_assert_num_queries(6):  # activity, designations, lessons, post-test, evaluation, claim
        learner_api.get(url("v1:completion-detail", activity.course.slug))


def evaluation_body(activity, **overrides) -> dict:
    from credits.selectors import evaluation_objectives

    body = {
        "ratings": [{"objective": o.key, "rating": 4} for o in evaluation_objectives(activity=activity)],
        "practice_change": "consider",
        "perceived_bias": False,
    }
    body.update(overrides)
    return body


def test_evaluation_is_stored_once_and_a_repeat_returns_the_first(learner, learner_api):
    activity = activity_with_course()
    first = learner_api.post(url("v1:evaluation-submit", activity.course.slug), evaluation_body(activity), format="json")
    assert first.status_code == HTTPStatus.CREATED
    again = learner_api.post(url("v1:evaluation-submit", activity.course.slug), evaluation_body(activity), format="json")
    assert again.status_code == HTTPStatus.OK
    assert again.json() == first.json()
    assert Evaluation.objects.count() == 1


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("unknown_objective", "ratings"),
        ("missing_objective", "ratings"),
        ("rating_out_of_range", "ratings.0.rating"),
        ("bad_practice_change", "practice_change"),
        ("no_bias_answer", "perceived_bias"),
    ],
)
def test_bad_evaluation_is_400_with_fields_and_writes_nothing(learner_api, case, field):
    activity = activity_with_course()
    body = evaluation_body(activity)
    if case == "unknown_objective":
        body["ratings"].append({"objective": "nope", "rating": 3})
    elif case == "missing_objective":
        body["ratings"] = body["ratings"][:-1]
    elif case == "rating_out_of_range":
        body["ratings"][0]["rating"] = 6
    elif case == "bad_practice_change":
        body["practice_change"] = "maybe"
    else:
        del body["perceived_bias"]
    response = learner_api.post(url("v1:evaluation-submit", activity.course.slug), body, format="json")
    error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert field in error["fields"]
    assert not Evaluation.objects.exists()


# --- claim ------------------------------------------------------------------------------------


def test_claim_issues_a_certificate_and_records_the_outbox_events(learner, learner_api):
    activity = activity_with_course()
    everything_complete(learner, activity)
    response = learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(), format="json")
    assert response.status_code == HTTPStatus.CREATED, response.content
    body = response.json()
    assert (body["amount"], body["learner_name"], body["validity"]) == ("1.50", "Jane Q. Placeholder, MD", "valid")
    assert body["verify_url"].endswith(f"/{body['code']}/")
    assert set(LearnerEvent.objects.values_list("verb", flat=True)) >= {"credit_claimed", "certificate_issued"}


def test_second_claim_is_409_already_claimed_and_writes_nothing(learner, learner_api):
    activity = activity_with_course()
    everything_complete(learner, activity)
    learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(), format="json")
    response = learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(hours="2.00"), format="json")
    assert_error(response, HTTPStatus.CONFLICT, "already_claimed")
    assert Claim.objects.count() == 1 and Certificate.objects.count() == 1


def test_claim_before_completion_is_409_claim_refused(learner, learner_api):
    activity = activity_with_course()
    lessons_complete(learner, activity)
    response = learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(), format="json")
    assert_error(response, HTTPStatus.CONFLICT, "claim_refused")
    assert not Claim.objects.exists()


BAD_CLAIMS = {
    "not_attested": ({"attested": False}, "attested"),
    "too_many_hours": ({"hours": "9.00"}, "hours"),
    "off_increment": ({"hours": "1.10"}, "hours"),
    "bad_npi": ({"npi": "1234567890"}, "npi"),
    "type_not_offered": ({"credit_type": "acpe"}, "credit_type"),
    "unknown_type": ({"credit_type": "bogus"}, "credit_type"),
    "hours_not_a_number": ({"hours": "lots"}, "hours"),
    "blank_name": ({"full_name": ""}, "full_name"),
    "name_the_certificate_cannot_print": ({"full_name": "王小明"}, "full_name"),
    "birth_month_13": ({"birth_month": 13}, "birth_month"),
    "licence_state_long": ({"licence_state": "OHIO"}, "licence_state"),
}


@pytest.mark.parametrize("case", BAD_CLAIMS, ids=list(BAD_CLAIMS))
def test_bad_claim_is_400_with_fields_and_writes_nothing(learner, learner_api, case):
    activity = activity_with_course()
    everything_complete(learner, activity)
    overrides, field = BAD_CLAIMS[case]
    response = learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(**overrides), format="json")
    error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert field in error["fields"]
    assert not Claim.objects.exists() and not Certificate.objects.exists()
    assert not LearnerEvent.objects.filter(verb__in=["credit_claimed", "certificate_issued"]).exists()


def test_tokens_cannot_claim(token_client):
    activity = activity_with_course()
    response = token_client(*Scope.values).post(url("v1:claim-create", activity.course.slug), claim_body(), format="json")
    assert_error(response, HTTPStatus.FORBIDDEN, "permission_denied")


# --- the learner's certificates -------------------------------------------------------------


def test_my_certificates_lists_mine_only_and_hides_others(learner, learner_api, other_learner):
    mine = activity_with_course()
    everything_complete(learner, mine)
    certificate = certificate_of(learner, mine)
    theirs = activity_with_course()
    everything_complete(other_learner, theirs)
    other = certificate_of(other_learner, theirs)
    body = learner_api.get(url("v1:my-certificate-list")).json()
    assert [c["id"] for c in body] == [certificate.pk]
    assert learner_api.get(url("v1:my-certificate-detail", certificate.pk)).json()["code"] == certificate.code
    assert_error(learner_api.get(url("v1:my-certificate-detail", other.pk)), 404, "not_found")
    assert_error(learner_api.get(url("v1:my-certificate-detail", "abc")), 404, "not_found")
    assert_error(learner_api.get(url("v1:my-certificate-detail", 2**40)), 404, "not_found")
    # Digits outside ASCII pass str.isdigit() but not int(): still a 404, never a 500 (found by schemathesis).
    assert_error(learner_api.get(url("v1:my-certificate-detail", "\u00b3")), 404, "not_found")
    assert_error(learner_api.get(url("v1:my-certificate-detail", "\u0663")), 404, "not_found")


@pytest.mark.parametrize("n", [1, 5])
def test_my_certificates_query_count_is_constant(learner, learner_api, django_assert_num_queries, n):
    for _ in range(n):
        activity = activity_with_course(n_lessons=1)
        everything_complete(learner, activity)
        certificate_of(learner, activity)
    with django_assert_num_queries(1):
        assert len(learner_api.get(url("v1:my-certificate-list")).json()) == n


# --- public verification ------------------------------------------------------------------------


def test_verify_shows_what_the_certificate_shows_to_anyone(learner):
    activity = activity_with_course()
    everything_complete(learner, activity)
    certificate = certificate_of(learner, activity)
    response = APIClient().get(url("v1:certificate-verify", certificate.code))
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["validity"] == "valid" and body["learner_name"] == certificate.learner_name
    assert not {"id", "code", "npi", "email", "claim", "birth_month", "external_id"} & set(body)


def test_verify_says_revoked_and_superseded(learner):
    activity = activity_with_course()
    everything_complete(learner, activity)
    certificate = certificate_of(learner, activity)
    staff = UserFactory(is_staff=True)
    new = certificate_reissue(certificate_id=certificate.pk, actor=staff, reason="Name corrected", learner_name="J. P.")
    client = APIClient()
    assert client.get(url("v1:certificate-verify", certificate.code)).json()["validity"] == "superseded"
    assert client.get(url("v1:certificate-verify", new.code)).json()["validity"] == "valid"
    certificate_revoke(certificate_id=new.pk, actor=staff, reason="Issued in error")
    assert client.get(url("v1:certificate-verify", new.code)).json()["validity"] == "revoked"


@pytest.mark.parametrize("code", ["A" * 22, "short", "x" * 60, "has%20space%20in%20it!"])
def test_verify_unknown_or_malformed_code_is_404(code):
    assert_error(APIClient().get(f"/api/v1/certificates/verify/{code}/"), HTTPStatus.NOT_FOUND, "not_found")


def test_verify_query_count_is_one(learner, django_assert_num_queries):
    activity = activity_with_course()
    everything_complete(learner, activity)
    certificate = certificate_of(learner, activity)
    client = APIClient()
    with django_assert_num_queries(1):
        client.get(url("v1:certificate-verify", certificate.code))


def test_certificate_verify_body_is_golden(learner):
    activity = activity_with_course(course__title="Golden Course", course__slug="golden-course")
    everything_complete(learner, activity)
    certificate = certificate_of(learner, activity)
    # Certificates are immutable in the app; the test pins the two dates that follow the clock.
    Certificate.objects.filter(pk=certificate.pk).update(
        completed_on=dt.date(2026, 11, 1), issued_at=dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    )
    response = APIClient().get(url("v1:certificate-verify", certificate.code))
    assert_matches_schema(response)
    assert_golden("certificate_verify", response.json())


# --- integrators: the certificate feed -----------------------------------------------------------


def _org_learner_with_certificate(organisation, **activity_fields):
    identity = ExternalLearnerFactory(organisation=organisation)
    activity = activity_with_course(n_lessons=1, **activity_fields)
    everything_complete(identity.user, activity)
    return identity, certificate_of(identity.user, activity)


@pytest.mark.usefixtures("feed_branch")
def test_certificate_feed_shows_only_own_organisations_learners(token_client, organisation, other_organisation):
    mine, certificate = _org_learner_with_certificate(organisation)
    _theirs, other = _org_learner_with_certificate(other_organisation)
    client = token_client(Scope.COMPLETIONS_READ)
    body = client.get(url("v1:certificate-feed-list")).json()
    assert [(r["id"], r["external_id"]) for r in body["results"]] == [(certificate.pk, mine.external_id)]
    assert client.get(url("v1:certificate-feed-detail", certificate.pk)).json()["hours"] == "1.50"
    assert_error(client.get(url("v1:certificate-feed-detail", other.pk)), 404, "not_found")
    assert_error(client.get(url("v1:certificate-feed-detail", "\u00b3")), 404, "not_found")


def test_certificate_feed_needs_the_completions_scope(token_client, learner_api):
    assert_error(token_client(Scope.PROGRESS_READ).get(url("v1:certificate-feed-list")), 403, "missing_scope")
    assert_error(learner_api.get(url("v1:certificate-feed-list")), 403, "permission_denied")


@pytest.mark.usefixtures("feed_branch")
def test_certificate_feed_updated_since_includes_a_later_revocation(token_client, organisation):
    _identity, old = _org_learner_with_certificate(organisation)
    Certificate.objects.filter(pk=old.pk).update(issued_at=timezone.now() - dt.timedelta(days=3))
    _identity2, recent = _org_learner_with_certificate(organisation)
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    client = token_client(Scope.COMPLETIONS_READ)
    rows = client.get(url("v1:certificate-feed-list"), {"updated_since": since}).json()["results"]
    assert [r["id"] for r in rows] == [recent.pk]
    certificate_revoke(certificate_id=old.pk, actor=UserFactory(is_staff=True), reason="Issued in error")
    rows = client.get(url("v1:certificate-feed-list"), {"updated_since": since}).json()["results"]
    assert [r["id"] for r in rows] == [recent.pk, old.pk]
    assert rows[1]["validity"] == "revoked" and rows[1]["revoked_at"]


def test_certificate_feed_pages_with_a_cursor_without_gaps_or_repeats(token_client, organisation):
    made = [_org_learner_with_certificate(organisation)[1].pk for _ in range(5)]
    client = token_client(Scope.COMPLETIONS_READ)
    seen, page = [], client.get(url("v1:certificate-feed-list"), {"page_size": 2}).json()
    while True:
        seen += [r["id"] for r in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert sorted(seen) == sorted(made) and len(seen) == 5


@pytest.mark.parametrize(("params", "field"), [({"updated_since": "yesterday"}, "updated_since"),
                                               ({"page_size": "0"}, "page_size"), ({"cursor": "zzz"}, "cursor")])
def test_bad_certificate_feed_parameters_are_400(token_client, params, field):
    response = token_client(Scope.COMPLETIONS_READ).get(url("v1:certificate-feed-list"), params)
    assert field in assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")["fields"]


@pytest.mark.parametrize("n", [1, 5])
def test_certificate_feed_query_count_is_constant(token_client, organisation, django_assert_num_queries, n):
    for _ in range(n):
        _org_learner_with_certificate(organisation)
    client = token_client(Scope.COMPLETIONS_READ)
    client.get(url("v1:course-list"))  # the token's last-used stamp, once a minute
    with django_assert_num_queries(2):  # token, the page
        assert len(client.get(url("v1:certificate-feed-list")).json()["results"]) == n


def _certificates_by_orm(organisation, since=None) -> list[int]:
    """The feed's order as the ORM states it: `updated_at` (revocation, else issue), then id."""
    from lms.api.v1.credits import organisation_certificates

    qs = organisation_certificates(organisation=organisation)
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    return list(qs.order_by("updated_at", "pk").values_list("pk", flat=True))


@pytest.mark.usefixtures("feed_branch")
def test_certificate_feed_pages_merge_issues_and_revocations_in_the_orms_order(
    token_client, organisation, other_organisation
):
    """The page query walks issues and revocations separately (two indexes) and merges them: the
    order must be the one the ORM definition gives, with ties by id, forwards through `next` and
    backwards through `previous`, for every page size, with `updated_since` too."""
    made = [_org_learner_with_certificate(organisation)[1] for _ in range(6)]
    _org_learner_with_certificate(other_organisation)
    staff = UserFactory(is_staff=True)
    t0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    for i, certificate in enumerate(made):  # issues two by two at one time: ties
        Certificate.objects.filter(pk=certificate.pk).update(issued_at=t0 + dt.timedelta(hours=i // 2))
    for revoked in (made[0], made[4]):  # revoked: moves to its revocation time
        certificate_revoke(certificate_id=revoked.pk, actor=staff, reason="Issued in error")
    reissued = certificate_reissue(certificate_id=made[3].pk, actor=staff, reason="Name corrected")
    expected = _certificates_by_orm(organisation)
    assert set(expected) == {c.pk for c in made} | {reissued.pk}
    assert expected.index(made[0].pk) > expected.index(made[5].pk)  # the revocation is its latest change
    client = token_client(Scope.COMPLETIONS_READ)
    for size in (1, 2, 3, 50):
        pages, link = [], url("v1:certificate-feed-list") + f"?page_size={size}"
        while link:
            body = client.get(link).json()
            pages.append([row["id"] for row in body["results"]])
            last_previous, link = body["previous"], body["next"]
        assert [pk for page in pages for pk in page] == expected, size
        back, link = [], last_previous
        while link:
            response = client.get(link)
            assert_matches_schema(response)
            back.insert(0, [row["id"] for row in response.json()["results"]])
            link = response.json()["previous"]
        assert back == pages[:-1], size
    since = t0 + dt.timedelta(hours=1)
    rows = client.get(url("v1:certificate-feed-list"), {"updated_since": since.isoformat()}).json()["results"]
    assert [row["id"] for row in rows] == _certificates_by_orm(organisation, since)
    assert made[1].pk not in [row["id"] for row in rows] and made[0].pk in [row["id"] for row in rows]


@pytest.mark.usefixtures("feed_branch")
def test_certificate_feed_rows_equal_the_serializers_output(organisation):
    """The feed's page query and hand-built rows give exactly what CertificateFeedRowSerializer
    (the schema's description) gives for the same certificates, keys in order: valid, revoked,
    superseded and reissued certificates, an accredited credit line and a completion one, times
    with a fraction of a second and without."""
    from credits.models import CreditType
    from lms.api.v1.credits import (
        CertificateFeedRowSerializer,
        certificate_feed_rows,
        organisation_certificates,
    )
    from lms.selectors import CertificateFeedQuery

    made = [_org_learner_with_certificate(organisation)[1] for _ in range(4)]
    staff = UserFactory(is_staff=True)
    certificate_revoke(certificate_id=made[0].pk, actor=staff, reason="Issued in error")
    certificate_reissue(certificate_id=made[1].pk, actor=staff, reason="Name corrected")
    Certificate.objects.filter(pk=made[2].pk).update(
        credit_type=CreditType.COMPLETION, amount=Decimal("2.25"), issued_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    )
    # Amounts as the API writes them, whichever way the database holds them (SQLite: 10 as an
    # integer, 0.5 as a float): always two decimal places.
    Certificate.objects.filter(pk=made[3].pk).update(amount=Decimal("10"))
    Claim.objects.filter(pk=made[2].claim_id).update(hours=Decimal("0.5"))
    rows = certificate_feed_rows(CertificateFeedQuery(organisation_id=organisation.pk)[0:50])
    certificates = organisation_certificates(organisation=organisation).order_by("updated_at", "pk")
    expected = CertificateFeedRowSerializer(list(certificates), many=True).data
    assert {row["validity"] for row in rows} == {"valid", "revoked", "superseded"}
    assert any("hours of participation" in row["credit_line"] for row in rows)
    assert "2026-03-01T09:00:00Z" in [row["issued_at"] for row in rows]
    assert {"2.25", "10.00"} <= {row["amount"] for row in rows} and "0.50" in {row["hours"] for row in rows}
    assert [list(row.items()) for row in rows] == [list(row.items()) for row in expected]


@pytest.mark.postgres
def test_a_small_organisations_certificate_page_gathers_its_own_and_a_large_one_walks(
        organisation, other_organisation, monkeypatch):
    """PostgreSQL runs one way of finding a certificate page: for an organisation with fewer
    learners than the threshold, it gathers its learners' certificates, and the two walks over
    every organisation's certificates (12 ms a page for ten learners among 10,000, issue #8) read
    nothing. With the threshold at 0 (a large organisation), the walks run and the gathering
    reads nothing. Both give the organisation's certificates, revoked ones included."""
    from lms import selectors
    from lms.selectors import CertificateFeedQuery
    from tests.scale import plan_node, rows_read, selects_captured

    mine = [_org_learner_with_certificate(organisation)[1] for _ in range(2)]
    for _ in range(6):
        _org_learner_with_certificate(other_organisation)
    certificate_revoke(certificate_id=mine[0].pk, actor=UserFactory(is_staff=True), reason="Issued in error")
    query = CertificateFeedQuery(organisation_id=organisation.pk)
    certificates = frozenset({"credits_certificate", "credits_certificaterevocation"})

    def branch_reads() -> tuple[int, int]:
        """Certificate and revocation rows the walks and the gathering read, by EXPLAIN ANALYZE."""
        with selects_captured() as ran:
            page = query.order_by(*query.ordering)[0:51]
        assert [row["pk"] for row in page] == [mine[1].pk, mine[0].pk]
        ((sql, params),) = ran
        with connection.connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params, prepare=False)
            (document,) = cursor.fetchone()
        append = plan_node(document[0]["Plan"], ("Append", "Merge Append"))
        *walks, gather = append["Plans"]
        assert len(walks) == 2
        return sum(rows_read(walk, certificates) for walk in walks), rows_read(gather, certificates)

    walked, gathered = branch_reads()
    assert walked == 0 and gathered >= len(mine)
    monkeypatch.setattr(selectors, "_FEED_THRESHOLD_SQL", "0")
    walked, gathered = branch_reads()
    assert walked >= len(mine) and gathered == 0


# --- webhook payloads of the credit and post-test events ------------------------------------------


def _payload(verb: str, obj, identity) -> dict:
    event = LearnerEvent.objects.get(verb=verb, object_ref=f"{obj._meta.label_lower}:{obj.pk}")
    return json.loads(json.dumps(outbox.event_payload(event=event, identity=identity), cls=DjangoJSONEncoder))


def test_credit_and_certificate_webhook_payloads_match_their_documented_schemas(organisation):
    identity, certificate = _org_learner_with_certificate(organisation)
    claim = certificate.claim
    for verb, obj, event_type in [
        ("credit_claimed", claim, "credit.claimed"),
        ("certificate_issued", certificate, "certificate.issued"),
    ]:
        payload = _payload(verb, obj, identity)
        assert payload["type"] == event_type
        assert_matches_component(payload, webhook_component(event_type))
    assert _payload("credit_claimed", claim, identity)["data"]["hours"] == "1.50"


def test_posttest_webhook_payloads_match_their_documented_schemas(organisation):
    identity = ExternalLearnerFactory(organisation=organisation)
    quiz = quiz_with_items(2, attempt_limit=None)
    failed = attempt_start(learner=identity.user, quiz=quiz)
    attempt_submit(attempt_id=failed.pk, learner=identity.user, answers=[])
    payload = _payload("failed", failed, identity)
    assert (payload["type"], payload["data"]["passed"], payload["data"]["score"]) == ("posttest.failed", False, "0.00")
    assert_matches_component(payload, "WebhookPosttestFailed")


def test_certificate_revoked_payload_matches_its_documented_schema(organisation):
    """The payload is ready for when credits records the event (TODO #7): built here from a stored event."""
    identity, certificate = _org_learner_with_certificate(organisation)
    certificate_revoke(certificate_id=certificate.pk, actor=UserFactory(is_staff=True), reason="Issued in error")
    from curriculum.services import learner_event_record

    learner_event_record(learner=identity.user, verb="certificate_revoked", obj=certificate)
    payload = _payload("certificate_revoked", certificate, identity)
    assert payload["data"]["revoked_at"]
    assert_matches_component(payload, "WebhookCertificateRevoked")



def test_verify_is_throttled_per_client_address(learner, settings):
    settings.LMS_API_VERIFY_RATE = "2/min"
    client = APIClient()
    for _ in range(2):
        assert client.get(url("v1:certificate-verify", "A" * 22)).status_code == HTTPStatus.NOT_FOUND
    response = client.get(url("v1:certificate-verify", "A" * 22))
    assert_error(response, HTTPStatus.TOO_MANY_REQUESTS, "throttled")
    assert response["Retry-After"]


# Measured, and pinned so a change shows: both run the credits services' checks,
# inserts, audit-log appends (hash chain) and outbox events, none per row.
EVALUATION_QUERIES = 17
CLAIM_QUERIES = 31


@pytest.mark.parametrize("n", [1, 5])
def test_evaluation_and_claim_query_counts_are_constant(learner, learner_api, django_assert_num_queries, n):
    """n lessons (so n objectives to rate): the same queries for 1 as for 5."""
    activity = activity_with_course(n_lessons=n)
    lessons_complete(learner, activity)
    posttest_pass(learner, activity)
    body = evaluation_body(activity)
    with django_assert_num_queries(EVALUATION_QUERIES):
        response = learner_api.post(url("v1:evaluation-submit", activity.course.slug), body, format="json")
    assert response.status_code == HTTPStatus.CREATED
    with django_assert_num_queries(CLAIM_QUERIES):
        response = learner_api.post(url("v1:claim-create", activity.course.slug), claim_body(), format="json")
    assert response.status_code == HTTPStatus.CREATED

