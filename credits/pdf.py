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
included); one whose long texts must shrink to fit is drawn two or three
times (260-330 ms). A certificate never changes once issued, so
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
# 2: text shaping (Arabic and Hebrew names were stored misprinted), and long texts shrink to fit
# above the QR code (they ran over it and the verification line).
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


@functools.lru_cache(maxsize=256)
def qr_svg_data_uri(url: str) -> str:
    """The QR code as a data: URI for the HTML page (the CSP allows data: images).

    Kept per process for each verification URL (at most 256, about 3 kB each):
    making the code costs about 5 ms, most of it segno trying the eight masks,
    and the certificate page is opened again each time a clinician returns to
    it. A URL always gives the same image, so an entry cannot be stale.
    """
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


# The page's frame: the body runs from BODY_TOP down; the QR code (QR_SIZE mm) sits in the
# bottom right corner, with the verification line beside it.
BODY_TOP, QR_SIZE = 22, 30
SMALLEST_SCALE = 0.5


def _body(certificate: Certificate, status: str) -> list[tuple[str, float, str, float, float, bool]]:
    """The certificate's text, top to bottom: (text, font size, style, line height, gap after, red)."""
    title = "Certificate of Completion" if certificate.credit_type == "completion" else "Certificate of Credit"
    body = [(title, 26, "B", 12, 4, False)]
    if status:
        body.append((status, 14, "B", 8, 2, True))
    body += [
        ("This certifies that", 12, "", 8, 0, False),
        (certificate.learner_name, 22, "B", 11, 0, False),
        (certificate.profession, 12, "", 7, 3, False),
        ("completed the enduring activity", 12, "", 8, 0, False),
        (certificate.activity_title, 15, "B", 8, 3, False),
        (f"Completed on {certificate.completed_on:%d %B %Y}", 12, "", 8, 0, False),
        (certificate.credit_line, 14, "B", 8, 0 if certificate.uan else 2, False),
    ]
    if certificate.uan:
        body.append((f"ACPE Universal Activity Number: {certificate.uan}", 11, "", 8, 2, False))
    if certificate.designation_statement:
        body.append((certificate.designation_statement, 9, "", 5, 0, False))
    body += [
        (certificate.accreditation_statement, 9, "", 5, 2, False),
        (f"{certificate.provider_name} - {certificate.provider_address}".replace("\n", ", "), 10, "", 6, 0, False),
    ]
    return body


def _draw(certificate: Certificate, body, *, verify_url: str, scale: float) -> tuple[FPDF, float]:
    """The page with the body's type at `scale`, and where the body ends (mm from the top)."""
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

    pdf.set_y(BODY_TOP)
    for text, size, style, line_height, gap, red in body:
        pdf.set_text_color(*((170, 20, 20) if red else (0, 0, 0)))
        pdf.set_font(FONT, style, size * scale)
        pdf.multi_cell(width, line_height * scale, text, align="C", new_x="LMARGIN", new_y="NEXT")
        if gap:
            pdf.ln(gap * scale)
    body_end = pdf.get_y()

    pdf.set_text_color(0, 0, 0)
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.w - 14 - QR_SIZE, y=pdf.h - 14 - QR_SIZE, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(14, pdf.h - 30)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width - QR_SIZE - 10, 5, (
        f"Issued {certificate.issued_at:%d %B %Y}. Verify this certificate at {verify_url}"
    ), new_x="LMARGIN", new_y="NEXT")
    return pdf, body_end


def certificate_pdf(certificate: Certificate, *, verify_url: str, status: str = "") -> bytes:
    """The certificate as a one-page landscape PDF with a QR code linking to verify_url.

    A long name, title or statement (a joint-accreditation statement runs to 70 words) must not
    run into the QR code and the verification line: they overlapped. So a body that ends below
    the QR code's top is drawn again with its type scaled down to fit, once or twice (a smaller
    size also wraps into fewer lines, so the first estimate fits or nearly does).
    """
    body = _body(certificate, status)
    scale = 1.0
    pdf, end = _draw(certificate, body, verify_url=verify_url, scale=scale)
    bottom = pdf.h - 14 - QR_SIZE - 3
    while end > bottom and scale > SMALLEST_SCALE:
        estimate = scale * (bottom - BODY_TOP) / (end - BODY_TOP)
        scale = max(SMALLEST_SCALE, min(scale - 0.02, round(estimate, 2)))
        pdf, end = _draw(certificate, body, verify_url=verify_url, scale=scale)
    return bytes(pdf.output())


def source_key(certificate: Certificate, *, verify_url: str) -> str:
    """sha256 of everything a valid certificate's PDF is drawn from."""
    parts = [str(LAYOUT_VERSION), verify_url, *(str(getattr(certificate, name)) for name in PRINTED_FIELDS)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def certificate_pdf_stored(certificate: Certificate, *, verify_url: str, stored) -> tuple[bytes, str]:
    """A valid certificate's PDF and its sha256, drawn on first download and stored.

    `stored` is what `selectors.certificate_pdf_get` read with the certificate
    (a `StoredPdf`, or None if never drawn). No query when it was drawn from
    what the certificate prints now; otherwise a drawing and update_or_create
    (one or two queries). Two first downloads at once both draw; the unique
    certificate keeps one row, and both answers carry the same text. Call it
    only for a valid certificate: a revoked one must show its status.
    """
    key = source_key(certificate, verify_url=verify_url)
    if stored is not None and stored.source_key == key:
        return stored.body, stored.digest
    body = certificate_pdf(certificate, verify_url=verify_url)
    digest = hashlib.sha256(body).hexdigest()
    CertificatePdf.objects.update_or_create(
        certificate=certificate,
        defaults={"source_key": key, "body": body, "digest": digest, "rendered_at": timezone.now()},
    )
    return body, digest
