"""The certificate PDF is drawn once and stored (issue #8); a revoked one is never served as valid."""

import io
import logging
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse
from pypdf import PdfReader

from credits import pdf, selectors, services
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
        django_assert_num_queries(3),  # session, user, the certificate with its status and stored PDF
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


def _as_the_orm_reads_it(certificate):
    orm = Certificate.objects.select_related("revocation", "superseded_by").get(pk=certificate.pk)
    fields = {f.attname: getattr(orm, f.attname) for f in Certificate._meta.concrete_fields}
    revocation = getattr(orm, "revocation", None)
    superseded = getattr(orm, "superseded_by", None)
    return fields, revocation and revocation.revoked_at, superseded and (superseded.pk, superseded.issued_at)


def _as_written_out(certificate, learner, django_assert_num_queries):
    with django_assert_num_queries(1):
        read, stored = selectors.certificate_pdf_get(pk=certificate.pk, learner=learner)
        fields = {f.attname: getattr(read, f.attname) for f in Certificate._meta.concrete_fields}
        revocation = getattr(read, "revocation", None)
        superseded = getattr(read, "superseded_by", None)
    return (fields, revocation and revocation.revoked_at, superseded and (superseded.pk, superseded.issued_at)), stored


def test_the_written_out_read_gives_what_the_orm_gives_valid_revoked_and_superseded(
    learner_client, certificate, learner, django_assert_num_queries
):
    read, stored = _as_written_out(certificate, learner, django_assert_num_queries)
    assert read == _as_the_orm_reads_it(certificate)
    assert stored is None  # never drawn
    assert read[1] is None and read[2] is None

    _download(learner_client, certificate)
    read, stored = _as_written_out(certificate, learner, django_assert_num_queries)
    row = CertificatePdf.objects.get(certificate=certificate)
    assert (stored.source_key, stored.body, stored.digest) == (row.source_key, bytes(row.body), row.digest)

    staff = UserFactory(is_staff=True)
    newer = services.certificate_reissue(certificate_id=certificate.pk, actor=staff, reason="Name corrected")
    read, _ = _as_written_out(certificate, learner, django_assert_num_queries)
    assert read == _as_the_orm_reads_it(certificate)
    assert read[2] == (newer.pk, newer.issued_at)
    assert read[1] is not None  # a reissue revokes the old certificate
    read, _ = _as_written_out(newer, learner, django_assert_num_queries)
    assert read == _as_the_orm_reads_it(newer)
    assert read[1] is None and read[2] is None


def test_the_written_out_read_refuses_ids_no_row_can_have_and_other_learners(certificate, learner, other_learner):
    for pk in (2**63, -(2**63) - 1, 10**30, certificate.pk + 1000):
        with pytest.raises(Certificate.DoesNotExist):
            selectors.certificate_pdf_get(pk=pk, learner=learner)
    with pytest.raises(Certificate.DoesNotExist):
        selectors.certificate_pdf_get(pk=certificate.pk, learner=other_learner)


def test_a_pdf_url_with_an_id_beyond_the_column_is_404(learner_client):
    response = learner_client.get(f"/certificates/{10**30}/pdf/")
    assert response.status_code == HTTPStatus.NOT_FOUND
