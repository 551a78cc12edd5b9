"""The certificate PDF is drawn once and stored (issue #8); a revoked one is never served as valid."""

import io
import logging
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse
from pypdf import PdfReader

from credits import pdf, services
from credits.models import Certificate, CertificatePdf
from tests.credits.factories import claim_input
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(completed, learner):
    return services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())


def _text(body: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _download(client, certificate, **headers):
    return client.get(reverse("credits:certificate_pdf", args=[certificate.pk]), headers=headers)


def test_first_download_stores_the_pdf_and_it_reads_as_a_fresh_drawing(learner_client, certificate):
    response = _download(learner_client, certificate)
    assert response.status_code == HTTPStatus.OK
    stored = CertificatePdf.objects.get(certificate=certificate)
    assert bytes(stored.body) == response.content
    fresh = pdf.certificate_pdf(
        Certificate.objects.get(pk=certificate.pk), verify_url=f"http://testserver/verify/{certificate.code}/"
    )
    assert _text(bytes(stored.body)) == _text(fresh)
    assert "Jane Q. Placeholder, MD" in _text(response.content)


def test_second_download_draws_nothing_and_serves_the_stored_bytes(
    learner_client, certificate, django_assert_num_queries
):
    first = _download(learner_client, certificate)
    with (
        mock.patch("credits.pdf.certificate_pdf", wraps=pdf.certificate_pdf) as draw,
        django_assert_num_queries(4),  # session, user, certificate, stored PDF
    ):
        second = _download(learner_client, certificate)
    draw.assert_not_called()
    assert second.content == first.content
    assert CertificatePdf.objects.count() == 1
    assert second["ETag"] == f'"{CertificatePdf.objects.get().digest}"'
    assert second["Cache-Control"] == "private, no-cache"


def test_matching_etag_is_304_without_a_body(learner_client, certificate):
    etag = _download(learner_client, certificate)["ETag"]
    response = _download(learner_client, certificate, If_None_Match=etag)
    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert response.content == b""


def test_revoked_certificate_is_drawn_with_its_status_never_served_from_the_store(learner_client, certificate):
    valid = _download(learner_client, certificate)
    services.certificate_revoke(certificate_id=certificate.pk, actor=UserFactory(is_staff=True), reason="Error")
    response = _download(learner_client, certificate, If_None_Match=valid["ETag"])
    assert response.status_code == HTTPStatus.OK  # the valid copy's ETag no longer matches
    assert "Revoked on" in _text(response.content)
    assert "ETag" not in response
    assert bytes(CertificatePdf.objects.get().body) == valid.content  # the store keeps the valid drawing only


def test_a_changed_printed_field_is_drawn_again(learner_client, certificate):
    _download(learner_client, certificate)
    Certificate.objects.filter(pk=certificate.pk).update(learner_name="Łucja Żółć-Ødegaard")
    response = _download(learner_client, certificate)
    assert "Łucja Żółć-Ødegaard" in _text(response.content)
    assert "Łucja Żółć-Ødegaard" in _text(bytes(CertificatePdf.objects.get().body))


def test_another_learner_gets_404_not_the_stored_pdf(client, certificate, learner_client, other_learner):
    _download(learner_client, certificate)
    client.force_login(other_learner)
    assert _download(client, certificate).status_code == HTTPStatus.NOT_FOUND


def test_drawing_a_pdf_logs_no_font_subsetting_chatter(certificate, caplog):
    """fontTools logs each subsetting step at INFO: about fifty lines per first download
    in the server's log. The logging settings keep its warnings only."""
    with caplog.at_level(logging.INFO):
        body = pdf.certificate_pdf(certificate, verify_url="https://ce.example.org/verify/X/")
    assert body.startswith(b"%PDF")
    assert [record.getMessage() for record in caplog.records if record.name.startswith("fontTools")] == []
    assert logging.getLogger("fontTools.subset").isEnabledFor(logging.WARNING)
