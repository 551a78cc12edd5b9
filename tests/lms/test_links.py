"""Enrolment sync for an e-mail that already has an account: a link the learner confirms.

The organisation gets 202 `link_pending` in the same shape as a 201 for a new
address, echoing only what it sent; the learner is e-mailed, confirms or
declines at /accounts/links/, and only a confirmation lets the organisation
see them. Every API response is validated against docs/openapi.yaml.
"""

from http import HTTPStatus

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from curriculum.services import lesson_progress_complete
from lms import services
from lms.models import Enrolment, ExternalLearner, LinkRequest, Scope
from tests.factories import CourseFactory, LessonFactory, UserFactory
from tests.lms.factories import ExternalLearnerFactory
from tests.lms.schema import assert_matches_schema

pytestmark = pytest.mark.django_db

SYNC = "v1:enrolment-sync"


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def course():
    return CourseFactory()


@pytest.fixture
def clinician():
    """An existing account with a private name, and progress of its own."""
    return UserFactory(email="dr.private@example.org", full_name="Doctor Privateaccount")


def payload(course, **overrides) -> dict:
    return {"external_id": "emp-9", "email": "Dr.Private@example.org", "full_name": "Sent Name",
            "course": course.slug, "status": "active", **overrides}


def sync(token_client, course, organisation=None, **overrides):
    kwargs = {"organisation": organisation} if organisation else {}
    client = token_client(Scope.ENROLMENTS_WRITE, Scope.PROGRESS_READ, **kwargs)
    return client.post(reverse(SYNC), payload(course, **overrides), format="json")


def confirm(user, link, decision="confirm"):
    client = Client()
    client.force_login(user)
    return client.post(reverse("lms_links:link_detail", args=[link.pk]), {"decision": decision})


# --- the API contract ---------------------------------------------------------------------------


def test_existing_email_gets_202_link_pending_in_the_same_shape_as_a_new_one(token_client, course, clinician):
    new = sync(token_client, course, external_id="emp-new", email="brand.new@example.org")
    pending = sync(token_client, course)
    assert (new.status_code, pending.status_code) == (HTTPStatus.CREATED, HTTPStatus.ACCEPTED)
    assert_matches_schema(pending)
    assert set(new.json()) == set(pending.json())
    assert new.json()["link_status"] == "linked"
    body = pending.json()
    assert body["link_status"] == "link_pending"
    # Only what the organisation sent comes back: nothing of the account.
    assert (body["external_id"], body["email"], body["full_name"]) == ("emp-9", "Dr.Private@example.org", "Sent Name")
    assert "Privateaccount" not in pending.content.decode()
    assert "dr.private@example.org" not in pending.content.decode()  # not even the stored spelling
    assert not ExternalLearner.objects.filter(user=clinician).exists()
    link = LinkRequest.objects.get()
    assert (link.user, link.status, link.courses) == (clinician, "pending", {course.slug: "active"})


def test_the_same_sync_twice_makes_one_pending_link_and_one_email(token_client, course, clinician,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = sync(token_client, course)
        second = sync(token_client, course)
    assert (first.status_code, second.status_code) == (HTTPStatus.ACCEPTED, HTTPStatus.ACCEPTED)
    assert first.json() == second.json()
    assert LinkRequest.objects.count() == 1
    [message] = mail.outbox
    assert message.to == [clinician.email]
    assert "/accounts/links/" in message.body
    assert LinkRequest.objects.get().organisation.name in message.subject


def test_a_second_course_joins_the_pending_link(token_client, course, clinician):
    other = CourseFactory()
    sync(token_client, course)
    sync(token_client, other, status="withdrawn")
    assert LinkRequest.objects.get().courses == {course.slug: "active", other.slug: "withdrawn"}


def test_a_rolled_back_sync_sends_no_mail(organisation, course, clinician, django_capture_on_commit_callbacks):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.enrolment_request(organisation=organisation, external_id="emp-9", email=clinician.email,
                                   full_name="X", course_slug=course.slug)
        raise RuntimeError("the request failed after the sync")
    assert callbacks == [] and mail.outbox == []
    assert not LinkRequest.objects.exists()


def test_an_account_already_ours_under_another_id_is_a_conflict(token_client, organisation, course, clinician):
    ExternalLearnerFactory(organisation=organisation, user=clinician, external_id="emp-old")
    response = sync(token_client, course)
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["error"]["code"] == "already_linked"
    assert_matches_schema(response)


def test_a_second_id_for_an_account_already_asked_about_is_a_conflict(token_client, course, clinician):
    sync(token_client, course)
    response = sync(token_client, course, external_id="emp-other")
    assert response.json()["error"]["code"] == "link_pending_other_id"
    assert LinkRequest.objects.count() == 1


# --- isolation, before and after the learner's decision ----------------------------------------


def _progress(user, course):
    lesson = LessonFactory(course=course)
    lesson_progress_complete(learner=user, lesson=lesson, served_token=None, max_minutes=60)


def test_organisation_sees_nothing_until_the_learner_confirms(token_client, organisation, course, clinician):
    _progress(clinician, course)
    sync(token_client, course)
    reader = token_client(Scope.PROGRESS_READ, Scope.COMPLETIONS_READ)
    assert reader.get(reverse("v1:learner-detail", args=["emp-9"])).status_code == HTTPStatus.NOT_FOUND
    assert reader.get(reverse("v1:progress-feed-list")).json()["results"] == []
    assert reader.get(reverse("v1:completion-feed-list")).json()["results"] == []

    assert confirm(clinician, LinkRequest.objects.get()).status_code == HTTPStatus.FOUND

    detail = reader.get(reverse("v1:learner-detail", args=["emp-9"]))
    assert detail.status_code == HTTPStatus.OK
    assert_matches_schema(detail)
    assert [e["course"] for e in detail.json()["enrolments"]] == [course.slug]
    feed = reader.get(reverse("v1:completion-feed-list")).json()["results"]
    assert [row["external_id"] for row in feed] == ["emp-9"]
    # Now the learner is the organisation's: the same sync answers 200 linked.
    again = sync(token_client, course)
    assert (again.status_code, again.json()["link_status"]) == (HTTPStatus.OK, "linked")
    assert Enrolment.objects.filter(learner__user=clinician, learner__organisation=organisation).count() == 1


def test_another_organisations_link_tells_nothing_of_it(token_client, organisation, other_organisation,
                                                        course, clinician):
    """The account is org B's learner (confirmed): org A learns nothing of B, and sees nothing until confirmed."""
    theirs = ExternalLearnerFactory(organisation=other_organisation, user=clinician, external_id="b-secret-id")
    _progress(clinician, course)
    response = sync(token_client, course)
    text = response.content.decode()
    assert response.status_code == HTTPStatus.ACCEPTED
    for leak in (other_organisation.slug, other_organisation.name, theirs.external_id, "Privateaccount"):
        assert leak not in text
    reader = token_client(Scope.PROGRESS_READ)
    assert reader.get(reverse("v1:progress-feed-list")).json()["results"] == []
    confirm(clinician, LinkRequest.objects.get())
    # After confirmation each organisation sees the learner under its own ID only.
    rows_a = reader.get(reverse("v1:progress-feed-list")).json()["results"]
    rows_b = token_client(Scope.PROGRESS_READ, organisation=other_organisation).get(
        reverse("v1:progress-feed-list")).json()["results"]
    assert {r["external_id"] for r in rows_a} == {"emp-9"}
    assert {r["external_id"] for r in rows_b} == set()  # B never enrolled them in this course
    assert token_client(Scope.PROGRESS_READ, organisation=other_organisation).get(
        reverse("v1:learner-detail", args=["emp-9"])).status_code == HTTPStatus.NOT_FOUND


def test_a_declined_link_shares_nothing_and_a_resync_asks_nobody_again(token_client, course, clinician,
                                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sync(token_client, course)
    link = LinkRequest.objects.get()
    assert confirm(clinician, link, decision="decline").status_code == HTTPStatus.FOUND
    link.refresh_from_db()
    assert link.status == "declined"
    assert not ExternalLearner.objects.filter(user=clinician).exists()
    with django_capture_on_commit_callbacks(execute=True):
        again = sync(token_client, course)
    assert (again.status_code, again.json()["link_status"]) == (HTTPStatus.ACCEPTED, "link_pending")
    assert LinkRequest.objects.count() == 1 and len(mail.outbox) == 1


# --- the learner's pages ----------------------------------------------------------------------


@pytest.fixture
def link(token_client, course, clinician):
    sync(token_client, course)
    return LinkRequest.objects.get()


def test_the_addressed_learner_sees_the_request_and_what_confirming_shares(link, clinician, course):
    client = Client()
    client.force_login(clinician)
    listing = client.get(reverse("lms_links:link_list")).content.decode()
    assert link.organisation.name in listing and "Waiting for the learner" in listing
    page = client.get(reverse("lms_links:link_detail", args=[link.pk])).content.decode()
    assert course.title in page and 'value="confirm"' in page and 'value="decline"' in page


def test_another_learner_gets_404_and_changes_nothing(link):
    stranger = Client()
    stranger.force_login(UserFactory())
    url = reverse("lms_links:link_detail", args=[link.pk])
    assert stranger.get(url).status_code == HTTPStatus.NOT_FOUND
    assert stranger.post(url, {"decision": "confirm"}).status_code == HTTPStatus.NOT_FOUND
    assert link.organisation.name not in stranger.get(reverse("lms_links:link_list")).content.decode()
    link.refresh_from_db()
    assert link.status == "pending" and not ExternalLearner.objects.exists()


def test_anonymous_is_sent_to_log_in(link):
    response = Client().post(reverse("lms_links:link_detail", args=[link.pk]), {"decision": "confirm"})
    assert response.status_code == HTTPStatus.FOUND and "/accounts/login/" in response["Location"]
    assert not ExternalLearner.objects.exists()


def test_confirming_needs_the_csrf_token(link, clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    url = reverse("lms_links:link_detail", args=[link.pk])
    assert client.post(url, {"decision": "confirm"}).status_code == HTTPStatus.FORBIDDEN
    assert not ExternalLearner.objects.exists()
    client.get(url)
    token = client.cookies["csrftoken"].value
    assert client.post(url, {"decision": "confirm", "csrfmiddlewaretoken": token}).status_code == HTTPStatus.FOUND
    assert ExternalLearner.objects.get().user == clinician


def test_a_double_confirm_links_once(link, clinician):
    confirm(clinician, link)
    confirm(clinician, link, decision="decline")  # too late: the first decision stands
    link.refresh_from_db()
    assert link.status == "confirmed"
    assert (ExternalLearner.objects.count(), Enrolment.objects.count()) == (1, 1)


def test_an_unknown_decision_changes_nothing(link, clinician):
    assert confirm(clinician, link, decision="maybe").status_code == HTTPStatus.FOUND
    link.refresh_from_db()
    assert link.status == "pending"


@pytest.mark.parametrize("n", [1, 4])
def test_link_list_query_count_is_constant(clinician, organisation, course, django_assert_num_queries, n):
    from tests.lms.factories import OrganisationFactory

    for i in range(n):
        org = organisation if i == 0 else OrganisationFactory()
        services.enrolment_request(organisation=org, external_id=f"id-{i}", email=clinician.email,
                                   full_name="X", course_slug=course.slug)
    client = Client()
    client.force_login(clinician)
    with django_assert_num_queries(3):  # session, user, links with organisations
        response = client.get(reverse("lms_links:link_list"))
    assert response.content.decode().count("Waiting for the learner") == n


def test_staff_see_link_requests_in_the_admin_but_cannot_decide_them(link, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:lms_linkrequest_changelist"))
    assert page.status_code == HTTPStatus.OK
    assert "emp-9" in page.content.decode()
    client.post(reverse("admin:lms_linkrequest_change", args=[link.pk]), {"status": "confirmed"})
    link.refresh_from_db()
    assert link.status == "pending"
