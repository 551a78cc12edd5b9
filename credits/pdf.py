"""Certificate PDFs, in pure Python: fpdf2 lays out the page, segno draws the QR code.

No system library or browser is needed. The text is set in DejaVu Sans,
vendored in credits/fonts/ with its licence and embedded (subset) in each
PDF, so a learner's name prints exactly as entered in any script the font
covers: Latin, Greek and Cyrillic (Łucja Żółć, Müller, Ødegaard), and Arabic
and Hebrew, which HarfBuzz (uharfbuzz) shapes: joined letters, right to left.
Without shaping, "محمد علي" printed as unjoined letters in reverse order.
A name with characters the font lacks (Chinese, Japanese, Korean, Thai,
Devanagari...) would print as blanks, so a claim refuses it and says which
characters (`unprintable`, used by `services.claim_input_problems`).

Drawing a page costs 100-160 ms of CPU (measured 2026-11-27, shaping
included), and a certificate never changes once issued, so
`certificate_pdf_stored` draws a valid certificate once and keeps the bytes
(`CertificatePdf`, issue #8); existing certificates are filled in on their
first download. A revoked or superseded certificate is drawn on every
download, with its status line, and never stored.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import segno
from django.utils import timezone
from fontTools.ttLib import TTFont
from fpdf import FPDF

from credits.models import Certificate, CertificatePdf

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
# Bump when certificate_pdf draws differently: every stored PDF is then drawn again.
# 2: text shaping (Arabic and Hebrew names were stored misprinted).
LAYOUT_VERSION = 2
FONT_FILES = {"": FONTS / "DejaVuSans.ttf", "B": FONTS / "DejaVuSans-Bold.ttf"}
# The certificate's fields certificate_pdf prints (credit_line is built from credit_type, amount, credit_label).
PRINTED_FIELDS = (
    "learner_name", "profession", "activity_title", "completed_on", "credit_type", "credit_label", "amount",
    "uan", "designation_statement", "accreditation_statement", "provider_name", "provider_address", "issued_at",
)


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def qr_svg_data_uri(url: str) -> str:
    """The QR code as a data: URI for the HTML page (the CSP allows data: images)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


@functools.cache
def _printable() -> frozenset[int]:
    """The code points both faces of the certificate font can draw (read once a process, about 17 ms)."""
    faces = [set(TTFont(path, lazy=True).getBestCmap()) for path in FONT_FILES.values()]
    return frozenset(set.intersection(*faces))


def unprintable(text: str) -> list[str]:
    """The characters of `text` the certificate font cannot draw, each once, in order of appearance."""
    printable = _printable()
    return list(dict.fromkeys(ch for ch in text if not ch.isspace() and ord(ch) not in printable))


def certificate_pdf(certificate: Certificate, *, verify_url: str, status: str = "") -> bytes:
    """The certificate as a one-page landscape PDF with a QR code linking to verify_url."""
    pdf = FPDF(orientation="L", unit="mm", format="Letter")
    for style, path in FONT_FILES.items():
        pdf.add_font(FONT, style, str(path))
    pdf.set_text_shaping(True)
    pdf.set_title(f"Certificate: {certificate.activity_title}")
    pdf.set_author(certificate.provider_name)
    pdf.set_creator("Clinician CE")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin
    pdf.set_draw_color(40, 70, 110)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)

    def line(text: str, size: float, style: str = "", height: float = 8, gap: float = 0) -> None:
        pdf.set_font(FONT, style, size)
        pdf.multi_cell(width, height, (text), align="C", new_x="LMARGIN", new_y="NEXT")
        if gap:
            pdf.ln(gap)

    pdf.set_y(22)
    title = "Certificate of Completion" if certificate.credit_type == "completion" else "Certificate of Credit"
    line(title, 26, "B", 12, 4)
    if status:
        pdf.set_text_color(170, 20, 20)
        line(status, 14, "B", 8, 2)
        pdf.set_text_color(0, 0, 0)
    line("This certifies that", 12)
    line(certificate.learner_name, 22, "B", 11)
    line(certificate.profession, 12, "", 7, 3)
    line("completed the enduring activity", 12)
    line(certificate.activity_title, 15, "B", 8, 3)
    line(f"Completed on {certificate.completed_on:%d %B %Y}", 12)
    line(certificate.credit_line, 14, "B", 8)
    if certificate.uan:
        line(f"ACPE Universal Activity Number: {certificate.uan}", 11)
    pdf.ln(2)
    if certificate.designation_statement:
        line(certificate.designation_statement, 9, "", 5)
    line(certificate.accreditation_statement, 9, "", 5, 2)
    line(f"{certificate.provider_name} - {certificate.provider_address}".replace("\n", ", "), 10, "", 6)

    size = 30
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.w - 14 - size, y=pdf.h - 14 - size, w=size, h=size)
    pdf.set_xy(14, pdf.h - 30)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width - size - 10, 5, (
        f"Issued {certificate.issued_at:%d %B %Y}. Verify this certificate at {verify_url}"
    ), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def source_key(certificate: Certificate, *, verify_url: str) -> str:
    """sha256 of everything a valid certificate's PDF is drawn from."""
    parts = [str(LAYOUT_VERSION), verify_url, *(str(getattr(certificate, name)) for name in PRINTED_FIELDS)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def certificate_pdf_stored(certificate: Certificate, *, verify_url: str) -> tuple[bytes, str]:
    """A valid certificate's PDF and its sha256, drawn on first download and stored.

    One query when stored; otherwise a drawing and update_or_create (two or
    three queries). Two first downloads at once both draw; the unique
    certificate keeps one row, and both answers carry the same text. Call it
    only for a valid certificate: a revoked one must show its status.
    """
    key = source_key(certificate, verify_url=verify_url)
    stored = CertificatePdf.objects.filter(certificate=certificate).values_list("source_key", "body", "digest").first()
    if stored is not None and stored[0] == key:
        return bytes(stored[1]), stored[2]
    body = certificate_pdf(certificate, verify_url=verify_url)
    digest = hashlib.sha256(body).hexdigest()
    CertificatePdf.objects.update_or_create(
        certificate=certificate,
        defaults={"source_key": key, "body": body, "digest": digest, "rendered_at": timezone.now()},
    )
    return body, digest
