"""The certificate page's layout: however long its texts, the body ends above the QR code and the
verification line; text of ordinary length keeps its full size. Read back from the PDF itself
(pypdf: each run of text with its baseline and font size)."""

import datetime as dt
import io
from decimal import Decimal

from pypdf import PdfReader

from credits import pdf
from credits.models import Certificate

MM = 72 / 25.4
# The QR code is 30 mm square, 14 mm above the page's bottom edge: its top, in points from the bottom.
QR_TOP = (14 + 30) * MM
VERIFY_URL = "https://ce.example-health-education.org/verify/AbCdEfGhIjKlMnOpQrStUv/"
# A joint-accreditation statement as providers print it (about 70 words).
JOINT = (
    "In support of improving patient care, Example Health Continuing Education is jointly accredited by "
    "the Accreditation Council for Continuing Medical Education (ACCME), the Accreditation Council for "
    "Pharmacy Education (ACPE), and the American Nurses Credentialing Center (ANCC), to provide continuing "
    "education for the healthcare team. This activity was planned by and for the healthcare team, and "
    "learners will receive 1.5 Interprofessional Continuing Education (IPCE) credits for learning and change."
)


def _certificate(**fields) -> Certificate:
    values = {
        "learner_name": "Jane Q. Placeholder, MD", "profession": "Physician", "activity_title": "Kratom for Clinicians",
        "completed_on": dt.date(2026, 11, 1), "credit_type": "ama_pra_1", "credit_label": "AMA PRA Category 1 Credit™",
        "amount": Decimal("1.50"), "uan": "", "designation_statement": "Designates a maximum of 1.50 credits.",
        "accreditation_statement": "Accredited provider.", "provider_name": "Provider",
        "provider_address": "1 Main St\nSpringfield", "issued_at": dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    }
    return Certificate(**{**values, **fields})


def _runs(body: bytes) -> list[tuple[float, float, str]]:
    """(baseline in points from the page's bottom, font size, text) of each run of text."""
    runs = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            runs.append((tm[5], size * tm[3], text.strip()))

    PdfReader(io.BytesIO(body)).pages[0].extract_text(visitor_text=visit)
    return runs


def _body_runs(certificate: Certificate, **kwargs) -> list[tuple[float, float, str]]:
    footer = f"Issued {certificate.issued_at:%d %B %Y}. Verify this certificate at {VERIFY_URL}"
    runs = _runs(pdf.certificate_pdf(certificate, verify_url=VERIFY_URL, **kwargs))
    assert any(text in footer for _, _, text in runs), "the verification line is printed"
    return [run for run in runs if run[2] not in footer]


def test_a_long_certificate_ends_above_the_qr_code_and_keeps_all_its_text():
    certificate = _certificate(
        learner_name="Dr Maximiliana Alexandra Oyelaran-Featherstonehaugh-Montgomery, MD, PhD, MPH, FACP",
        activity_title="Kratom for Clinicians: Pharmacology, Dependence and Drug Interactions, with a Review of "
                       "Adverse Effects, Withdrawal Management and Counselling in Primary Care",
        uan="0123-4567-26-001-H01-P",
        designation_statement="Example Health Continuing Education designates this enduring material for a maximum "
                              "of 1.50 AMA PRA Category 1 Credits™. Physicians should claim only the credit "
                              "commensurate with the extent of their participation in the activity.",
        accreditation_statement=JOINT, provider_name="Example Health Continuing Education, Department of Medicine",
        provider_address="1234 Long Street Name Boulevard, Suite 5600\nSpringfield, Some State 12345-6789",
    )
    body = _body_runs(certificate, status="REVOKED: reissued with a corrected name")
    # Drawn at full size, the statements and the provider's line ran under the QR code and over the
    # verification line (their lowest baseline was 62 pt from the bottom).
    assert min(y for y, _, _ in body) > QR_TOP
    text = " ".join(text for _, _, text in body)
    assert "Montgomery, MD, PhD, MPH, FACP" in text and "IPCE" in text and "12345-6789" in text


def test_an_ordinary_certificate_keeps_its_full_size():
    body = _body_runs(_certificate())
    sizes = {text: size for _, size, text in body}
    assert sizes["Jane Q. Placeholder, MD"] == 22
    assert min(y for y, _, _ in body) > QR_TOP
