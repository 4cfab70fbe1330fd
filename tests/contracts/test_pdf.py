"""app.core.pdf: A4, Cyrillic in an embedded font, nothing fetched from outside."""
import pytest
from xhtml2pdf.config.resources import ResourceAccessError

from app.core import pdf
from tests.contracts.conftest import pdf_fonts, pdf_text


def test_cyrillic_in_every_weight_and_style_comes_back_from_the_pdf(app, tmp_path):
    with app.app_context():
        data = pdf.html_to_pdf("<h1>Заглавие</h1><p>Обикновен <b>удебелен</b> <i>наклонен</i> <b><i>двоен</i></b></p>"
                               "<table><tr><td>Клетка</td></tr></table>")
    assert data.startswith(b"%PDF")
    assert pdf_text(data, tmp_path) == "Заглавие Обикновен удебелен наклонен двоен Клетка"
    fonts = pdf_fonts(data, tmp_path)
    assert {name.split("+")[-1] for name, embedded in fonts.items() if embedded} == {"DejaVuSans", "DejaVuSans-Bold"}


def test_images_stylesheets_and_files_named_in_the_html_are_not_fetched(app, tmp_path, local_server):
    base = f"http://127.0.0.1:{local_server.port}"
    html = (
        f'<html><head><link rel="stylesheet" href="{base}/style.css">'
        f"<style>@import url({base}/import.css); p {{ background-image: url({base}/bg.png); }}</style></head>"
        f'<body><p>Текст</p><img src="{base}/x.png"><img src="/etc/passwd"><img src="file:///etc/hostname"></body></html>'
    )
    with app.app_context():
        data = pdf.html_to_pdf(html)
    assert "Текст" in pdf_text(data, tmp_path)
    assert local_server.requests == []


def test_only_the_font_files_pass_the_link_callback_and_the_policy(app):
    fonts = pdf._installed_fonts()
    link_callback = pdf._link_callback(fonts)
    for path in fonts.values():
        assert link_callback(str(path), None) == str(path)
    for uri in ("http://example.com/logo.png", "https://example.com/a.css", "/etc/passwd", "file:///etc/passwd",
                "../config.py"):
        assert link_callback(uri, None) == pdf.BLOCKED, uri
    policy = pdf._policy(fonts)
    with pytest.raises(ResourceAccessError):
        policy.check_url("http://example.com/logo.png")
    with pytest.raises(ResourceAccessError):
        policy.check_path("/etc/passwd")
    policy.check_path(fonts[pdf.REGULAR])


def test_missing_font_is_a_clear_error(app, monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "REGULAR", tmp_path / "DejaVuSans.ttf")
    with app.test_request_context(), pytest.raises(pdf.PdfError) as refused:
        pdf.html_to_pdf("<p>Текст</p>")
    assert "fonts-dejavu-core" in str(refused.value)
