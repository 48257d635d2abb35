"""The certificate PDF: A4 landscape, bilingual (Ukrainian first, English below), with the
verification code and a QR code linking to the public check page.

Fonts: DejaVu Sans (Latin/Greek/Cyrillic subset), bundled in academy/fonts/ with its licence
(Bitstream Vera licence, free to redistribute), so Cyrillic renders on any machine.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import qrcode
from django.conf import settings
from fpdf import FPDF

FONTS = Path(__file__).resolve().parent / "fonts"
# fontTools logs every glyph subset at INFO; certificates are rendered in bulk.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def verification_url(code: str) -> str:
    return f"{settings.SITE_URL}/academy/certificates/{code}/"


def _qr_png(url: str) -> io.BytesIO:
    qr = qrcode.QRCode(border=1, box_size=6, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def _format_hours(hours) -> str:
    text = f"{hours:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def render_certificate_pdf(certificate) -> bytes:
    """Everything printed here is also what the check page shows, and nothing more."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_creator("OpenCity E-City Academy")
    pdf.set_title(f"Certificate {certificate.code}")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans-LatinCyrillic.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold-LatinCyrillic.ttf"))
    pdf.add_page()
    width = pdf.w

    pdf.set_draw_color(11, 92, 173)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, width - 20, pdf.h - 20)

    pdf.set_text_color(11, 92, 173)
    pdf.set_font("DejaVu", "B", 14)
    pdf.set_xy(20, 22)
    pdf.cell(width - 40, 8, "Академія «Е-місто» · E-City Academy", align="C")

    pdf.set_text_color(29, 35, 43)
    pdf.set_font("DejaVu", "B", 34)
    pdf.set_xy(20, 40)
    pdf.cell(width - 40, 16, "СЕРТИФІКАТ", align="C")
    pdf.set_font("DejaVu", "", 13)
    pdf.set_xy(20, 57)
    pdf.cell(width - 40, 7, "Certificate of completion", align="C")

    pdf.set_font("DejaVu", "", 13)
    pdf.set_xy(20, 72)
    pdf.cell(width - 40, 7, "цей сертифікат видано · this certificate is awarded to", align="C")
    pdf.set_font("DejaVu", "B", 24)
    pdf.set_xy(20, 82)
    pdf.cell(width - 40, 12, certificate.holder_name, align="C")

    pdf.set_font("DejaVu", "", 13)
    pdf.set_xy(20, 100)
    pdf.cell(
        width - 40,
        7,
        "за успішне завершення навчання за курсом · for completing the course",
        align="C",
    )
    pdf.set_font("DejaVu", "B", 17)
    pdf.set_xy(30, 110)
    pdf.multi_cell(width - 60, 8, f"«{certificate.course_title}»", align="C")

    hours = _format_hours(certificate.hours)
    date = certificate.session_date.strftime("%d.%m.%Y")
    pdf.set_font("DejaVu", "", 13)
    pdf.set_xy(20, 134)
    pdf.cell(
        width - 40,
        7,
        f"Обсяг: {hours}\u00a0год. · Hours: {hours}    Дата · Date: {date}",
        align="C",
    )

    url = verification_url(certificate.code)
    pdf.image(_qr_png(url), x=20, y=pdf.h - 62, w=40, h=40)
    pdf.set_font("DejaVu", "B", 12)
    pdf.set_xy(66, pdf.h - 52)
    pdf.cell(0, 7, f"Код перевірки · Verification code: {certificate.code}")
    pdf.set_font("DejaVu", "", 10)
    pdf.set_xy(66, pdf.h - 44)
    pdf.cell(0, 6, f"Перевірити справжність · Check: {url}")
    return bytes(pdf.output())


def warm_up() -> None:
    """Render one throwaway certificate so that fonts and PDF/QR code paths are loaded.

    A fresh process pays ~0.5 s for that once; workers call this when they start, so the
    first real certificate is as fast as the others.
    """
    from datetime import date
    from decimal import Decimal
    from types import SimpleNamespace

    render_certificate_pdf(
        SimpleNamespace(
            code="ECA-WARM-UP",
            course_title="Е-демократія · E-democracy",
            holder_name="Тест Тестович",
            hours=Decimal("2"),
            session_date=date(2026, 1, 1),
        )
    )
