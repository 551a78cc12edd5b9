"""Credit pages: activity record, evaluation, claim, certificate (HTML and PDF),
public verification, transcript, and staff reports."""

import codecs
import csv
import html
import io
import re
from decimal import Decimal
from http import HTTPStatus
from unittest import mock

import pytest
import segno
from django.contrib.auth.models import Permission
from django.urls import reverse
from pypdf import PdfReader

from credits import services
from credits.models import Certificate, Claim, Evaluation
from curriculum.models import LearnerEvent
from tests.credits.factories import activity_with_course, claim_input, everything_complete, lessons_complete
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(completed, learner):
    return services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())


@pytest.fixture
def other_client(client, other_learner):
    client.force_login(other_learner)
    return client


@pytest.fixture
def staff_client(client):
    """Staff who may read the credit reports (`credits.export_credit_report`)."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="credits", codename="export_credit_report"))
    client.force_login(staff)
    return client


def _claim_post(**overrides):
    data = {"credit_type": "ama_pra_1", "hours": "1.75", "full_name": "Jane Q. Placeholder, MD",
            "given_name": "Jane", "family_name": "Placeholder", "npi": "1234567893", "attested": "on"}
    data.update(overrides)
    return data


def test_activity_page_shows_the_record_and_what_is_left(learner_client, activity):
    response = learner_client.get(reverse("credits:activity_detail", args=[activity.course.slug]))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Placeholder Provider" in body
    assert "To do: Complete every lesson (0 of 2 done)." in body


def test_activity_page_tells_learners_it_has_expired(learner_client, activity):
    type(activity.course).objects.filter(pk=activity.course_id).update(expiry_date="2026-01-02")
    response = learner_client.get(reverse("credits:activity_detail", args=[activity.course.slug]))
    assert "No new credit is awarded" in response.content.decode()


def test_unpublished_activity_is_404_for_learners(learner_client, activity):
    services.activity_unpublish(activity_id=activity.pk, actor=None, reason="test")
    response = learner_client.get(reverse("credits:activity_detail", args=[activity.course.slug]))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_evaluation_form_stores_one_evaluation(learner_client, activity, learner):
    url = reverse("credits:evaluation_form", args=[activity.course.slug])
    form = learner_client.get(url).context["form"]
    data = {name: "4" for name in form.fields if name.startswith("objective_")}
    data.update({"practice_change": "will_change", "perceived_bias": "no", "comments": "Useful."})
    response = learner_client.post(url, data)
    assert response.status_code == HTTPStatus.FOUND
    evaluation = Evaluation.objects.get(learner=learner)
    assert evaluation.answers.count() == 2
    assert learner_client.post(url, data).status_code == HTTPStatus.FOUND
    assert Evaluation.objects.count() == 1


def test_evaluation_form_labels_every_input(learner_client, activity):
    body = learner_client.get(reverse("credits:evaluation_form", args=[activity.course.slug])).content.decode()
    controls = re.findall(r'<(?:input|textarea|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', body)
    assert len(controls) == 2 * 5 + 4 + 2 + 3  # two objectives x 5, practice change, bias, text areas
    assert [c for c in controls if f'<label for="{c}"' not in body] == []
    assert body.count("<legend>") == 4


def test_claim_form_creates_claim_and_redirects_to_certificate(learner_client, completed, learner):
    response = learner_client.post(reverse("credits:claim_form", args=[completed.course.slug]), _claim_post())
    certificate = Certificate.objects.get(claim__learner=learner)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("credits:certificate_detail", args=[certificate.pk])
    assert certificate.amount == Decimal("1.75")


def test_claim_form_before_completion_says_what_is_left(learner_client, activity, learner):
    lessons_complete(learner, activity)
    response = learner_client.post(reverse("credits:claim_form", args=[activity.course.slug]), _claim_post())
    assert response.status_code == HTTPStatus.CONFLICT
    assert "Pass the post-test" in response.content.decode()
    assert not Claim.objects.exists()


def test_claim_form_shows_field_errors(learner_client, completed):
    response = learner_client.post(reverse("credits:claim_form", args=[completed.course.slug]),
                                   _claim_post(npi="1234567890", hours="3"))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "This NPI is not valid" in body
    assert "at most 2.00" in body


def test_second_claim_through_the_form_redirects_to_the_transcript(learner_client, completed, certificate):
    response = learner_client.post(reverse("credits:claim_form", args=[completed.course.slug]), _claim_post())
    assert response.status_code == HTTPStatus.FOUND
    assert Claim.objects.count() == 1


def test_certificate_page_shows_what_the_certificate_says(learner_client, certificate):
    response = learner_client.get(reverse("credits:certificate_detail", args=[certificate.pk]))
    body = response.content.decode()
    assert "Jane Q. Placeholder, MD" in body
    assert f"/verify/{certificate.code}/" in body
    assert 'src="data:image/svg+xml' in body


def test_certificate_page_qr_encodes_the_verification_url_and_is_made_once(learner_client, certificate):
    url = reverse("credits:certificate_detail", args=[certificate.pk])
    with mock.patch("credits.pdf.segno.make", wraps=segno.make) as make:
        first = learner_client.get(url).content.decode()
        second = learner_client.get(url).content.decode()
    verify_url = f"http://testserver/verify/{certificate.code}/"
    expected = segno.make(verify_url, error="m").svg_data_uri(scale=4, border=2)
    qr = re.compile(r'src="(data:image/svg\+xml[^"]*)"')
    assert qr.search(first)[1] == qr.search(second)[1] == html.escape(expected)
    assert make.call_count == 1  # the second view took the code from the process's cache


@pytest.mark.parametrize("name", ["credits:certificate_detail", "credits:certificate_pdf"])
def test_other_learners_certificate_is_404(other_client, certificate, name):
    response = other_client.get(reverse(name, args=[certificate.pk]))
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_other_learners_transcript_does_not_list_the_certificate(other_client, certificate):
    page = other_client.get(reverse("credits:transcript")).content.decode()
    rows = other_client.get(reverse("credits:transcript_csv")).content.decode()
    assert certificate.activity_title not in page
    assert certificate.code not in rows


def test_certificate_pdf_opens_and_carries_name_amount_and_verification_url(learner_client, certificate):
    response = learner_client.get(reverse("credits:certificate_pdf", args=[certificate.pk]))
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages).replace("\n", " ")
    assert len(reader.pages) == 1
    assert "Jane Q. Placeholder, MD" in text
    assert "1.50" in text
    assert f"http://testserver/verify/{certificate.code}/" in text.replace(" ", "").replace("Verifythiscertificateat", " ")


def test_certificate_pdf_prints_names_outside_latin1_exactly(learner_client, certificate):
    Certificate.objects.filter(pk=certificate.pk).update(learner_name="Łucja Żółć-Ødegaard")
    response = learner_client.get(reverse("credits:certificate_pdf", args=[certificate.pk]))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Łucja Żółć-Ødegaard" in text


@pytest.mark.parametrize("name", ["محمد علي", "דוד כהן"])
def test_certificate_pdf_prints_right_to_left_names_shaped_in_reading_order(learner_client, certificate, name):
    """Unshaped, Arabic printed as unjoined letters and both scripts came out reversed ("يلع دمحم")."""
    Certificate.objects.filter(pk=certificate.pk).update(learner_name=name)
    response = learner_client.get(reverse("credits:certificate_pdf", args=[certificate.pk]))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert name in text


def test_claim_form_refuses_a_name_the_certificate_cannot_print_and_says_which_characters(
    learner_client, completed
):
    response = learner_client.post(reverse("credits:claim_form", args=[completed.course.slug]),
                                   _claim_post(full_name="王小明 Wang"))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The certificate cannot print 王 小 明." in body
    assert not Claim.objects.exists() and not Certificate.objects.exists()


def test_activity_page_warns_before_the_claim_of_a_name_the_certificate_cannot_print(client, activity):
    learner = UserFactory(full_name="王小明")
    client.force_login(learner)
    body = client.get(reverse("credits:activity_detail", args=[activity.course.slug])).content.decode()
    assert "Your name for certificates: The certificate cannot print 王 小 明." in body
    assert reverse("accounts:profile") in body

    type(learner).objects.filter(pk=learner.pk).update(full_name="Wang Xiaoming")
    body = client.get(reverse("credits:activity_detail", args=[activity.course.slug])).content.decode()
    assert "Your name for certificates" not in body


def test_verification_page_confirms_a_real_code(client, certificate):
    response = client.get(reverse("credits:certificate_verify", args=[certificate.code]))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Valid." in body
    assert "Jane Q. Placeholder, MD" in body
    assert "1234567893" not in body  # the NPI is on the claim, not the certificate
    assert certificate.claim.learner.email not in body


@pytest.mark.parametrize("tamper", [
    lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"),
    lambda code: code.upper() if code.upper() != code else code.lower(),
    lambda code: code[:10],
    lambda code: code + "x",
    lambda code: "made-up-code-that-is-long-enough",
    lambda code: "<script>alert(1)</script>",
])
def test_verification_page_rejects_tampered_or_made_up_codes(client, certificate, tamper):
    response = client.get(f"/verify/{tamper(certificate.code)}/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert certificate.learner_name not in response.content.decode()


def test_verification_page_says_when_a_certificate_was_revoked(client, certificate):
    services.certificate_revoke(certificate_id=certificate.pk, actor=UserFactory(is_staff=True), reason="Error")
    body = client.get(reverse("credits:certificate_verify", args=[certificate.code])).content.decode()
    assert "Not valid:" in body and "Revoked on" in body


def test_revoking_records_one_outbox_event(certificate):
    staff = UserFactory(is_staff=True)
    services.certificate_revoke(certificate_id=certificate.pk, actor=staff, reason="Error")
    services.certificate_revoke(certificate_id=certificate.pk, actor=staff, reason="Error")  # idempotent
    events = LearnerEvent.objects.filter(verb="certificate_revoked", object_ref=f"credits.certificate:{certificate.pk}")
    assert events.count() == 1


def test_transcript_csv_lists_own_certificates(learner_client, certificate):
    response = learner_client.get(reverse("credits:transcript_csv"))
    # A byte-order mark first, so a spreadsheet reads the file as UTF-8 (a title's dash or accent).
    assert response.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "activity"
    assert rows[1][0] == certificate.activity_title
    assert rows[1][-1].endswith(f"/verify/{certificate.code}/")


@pytest.mark.parametrize("n_certificates", [1, 5])
def test_transcript_query_count_is_constant(client, django_assert_num_queries, n_certificates):
    learner = UserFactory()
    for _ in range(n_certificates):
        activity = activity_with_course(n_lessons=1)
        everything_complete(learner, activity)
        services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input())
    client.force_login(learner)
    with django_assert_num_queries(3):  # session, user, certificates with their status
        response = client.get(reverse("credits:transcript"))
    assert response.content.decode().count("Certificate ") >= n_certificates


@pytest.mark.parametrize("n_lessons", [1, 5])
def test_activity_page_query_count_is_constant(client, django_assert_num_queries, n_lessons):
    learner = UserFactory()
    activity = activity_with_course(n_lessons=n_lessons)
    everything_complete(learner, activity)
    client.force_login(learner)
    # session, user, activity, designations, lessons, post-test, evaluation, claim
    with django_assert_num_queries(8):
        client.get(reverse("credits:activity_detail", args=[activity.course.slug]))


def test_reports_are_404_for_learners(learner_client):
    assert learner_client.get(reverse("credits:report_index")).status_code == HTTPStatus.NOT_FOUND
    assert learner_client.get(reverse("credits:report_csv", args=["completions"])).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("name", ["completions", "pars", "cpe-monitor"])
def test_staff_without_the_report_permission_get_403_and_no_learner_data(client, certificate, name):
    """Every course author is staff; learners' names, dates of birth and licence numbers need the
    permission the background export jobs need too."""
    client.force_login(UserFactory(is_staff=True))
    day = certificate.completed_on.isoformat()
    page = client.get(reverse("credits:report_index"))
    report = client.get(reverse("credits:report_csv", args=[name]), {"date_from": day, "date_to": day})
    assert page.status_code == report.status_code == HTTPStatus.FORBIDDEN
    assert not report.streaming
    for response in (page, report):
        assert "Placeholder" not in response.content.decode()


def test_staff_report_page_shows_evaluation_summary(staff_client, completed, certificate):
    response = staff_client.get(reverse("credits:report_index"))
    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "1 evaluation(s)" in body


def test_completions_csv_streams_claims_in_range(staff_client, certificate):
    day = certificate.completed_on.isoformat()
    response = staff_client.get(reverse("credits:report_csv", args=["completions"]),
                                {"date_from": day, "date_to": day, "credit_type": "ama_pra_1"})
    assert response.streaming
    body = b"".join(response.streaming_content)
    assert not body.startswith(codecs.BOM_UTF8)  # read by systems, which may take a mark for a column name
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:3] == ["claim_id", "completed_on", "attested_at"]
    assert rows[1][7] == "Jane Q. Placeholder, MD"
    assert len(rows) == 2


def test_verification_page_runs_one_query(client, certificate, django_assert_num_queries):
    with django_assert_num_queries(1):
        client.get(reverse("credits:certificate_verify", args=[certificate.code]))


def test_made_up_code_of_the_wrong_shape_never_reaches_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/verify/not!a!code/")
    assert response.status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("name", ["evaluations", "outcomes"])
def test_activity_reports_stream_for_staff(staff_client, completed, name):
    response = staff_client.get(reverse("credits:report_csv", args=[name]), {"activity": completed.course.slug})
    body = b"".join(response.streaming_content)
    assert response.status_code == HTTPStatus.OK
    assert body.startswith(codecs.BOM_UTF8)  # read by people, in a spreadsheet
    assert body.decode("utf-8-sig").splitlines()[0].split(",")[0] in {"section", "objective"}


def test_activity_report_without_an_activity_is_404(staff_client):
    response = staff_client.get(reverse("credits:report_csv", args=["outcomes"]))
    assert response.status_code == HTTPStatus.NOT_FOUND
