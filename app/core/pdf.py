"""HTML → PDF (A4) with xhtml2pdf: Cyrillic that prints, nothing fetched from outside.

xhtml2pdf draws text in Helvetica unless told otherwise, which has no
Cyrillic (black boxes), and it silently drops a font file its resource
policy does not allow. So every document gets DejaVu Sans from Debian's
fonts-dejavu-core, declared for each weight and style, under a policy that
allows reading exactly the font folder and no network at all; the
link_callback passes the font files and data: URIs and blanks everything
else (images, stylesheets, files named in the HTML).
"""
import io
import logging
from pathlib import Path

from flask_babel import lazy_gettext as _l

# xhtml2pdf (with ReportLab) is imported where a PDF is made: loading it costs every process that never makes one
# (RADIUS, FTP, the worker's start, each CLI command) about a second.

log = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FAMILY = "DejaVu Sans"
REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
# (weight, style, file). fonts-dejavu-core has no oblique faces: italic is
# drawn upright rather than falling back to Helvetica-Oblique without Cyrillic.
FACES = (
    ("normal", "normal", REGULAR),
    ("bold", "normal", BOLD),
    ("normal", "italic", REGULAR),
    ("bold", "italic", BOLD),
)
# What a refused resource becomes: an empty inline resource, read from nowhere.
BLOCKED = "data:,"


class PdfError(Exception):
    """A document that could not be made; the message is for the operator."""


def html_to_pdf(html, title=None, page=None):
    """The PDF of `html` (a document or a body fragment), A4, as bytes. Raises PdfError.

    `page` replaces the default page rule (A4 portrait, 2 cm margins): a landscape table with a footer
    frame for page numbers (app.core.exports). xhtml2pdf takes the first unnamed @page only.
    """
    from xhtml2pdf import pisa
    from xhtml2pdf.default import DEFAULT_CSS

    fonts = _installed_fonts()
    out = io.BytesIO()
    try:
        status = pisa.CreatePDF(
            html,
            dest=out,
            encoding="utf-8",
            default_css=DEFAULT_CSS + _page_css(fonts, page),
            link_callback=_link_callback(fonts),
            resource_policy=_policy(fonts),
            context_meta={"title": title} if title else None,
        )
    except Exception as error:  # noqa: BLE001 — xhtml2pdf fails in many ways on odd markup
        log.exception("PDF conversion failed")
        raise PdfError(_l("The document could not be converted to PDF.")) from error
    if status.err:
        raise PdfError(_l("The document could not be converted to PDF."))
    return out.getvalue()


def _installed_fonts():
    """The font files, resolved (Debian may make them links into another folder)."""
    missing = [path for path in (REGULAR, BOLD) if not path.is_file()]
    if missing:
        raise PdfError(_l("The PDF font %(path)s is missing: install the Debian package fonts-dejavu-core.",
                          path=missing[0]))
    return {path: path.resolve() for path in (REGULAR, BOLD)}


DEFAULT_PAGE = "@page { size: a4 portrait; margin: 2cm; }"


def _page_css(fonts, page=None):
    faces = "".join(
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{fonts[path]}"); '
        f"font-weight: {weight}; font-style: {style}; }}\n"
        for weight, style, path in FACES
    )
    return f'{faces}{page or DEFAULT_PAGE}\nhtml, body {{ font-family: "{FONT_FAMILY}"; }}\n'


def _link_callback(fonts):
    allowed = {str(path) for path in fonts.values()}

    def link_callback(uri, rel):
        uri = str(uri)
        if uri in allowed or uri.startswith("data:"):
            return uri
        return BLOCKED

    return link_callback


def _policy(fonts):
    """No network; local reads only inside the fonts' folder(s). The limits of
    xhtml2pdf's server policy (time, size, depth) stay on."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    roots = tuple(sorted({path.parent for path in fonts.values()}))
    return ResourceAccessPolicy.server(base_dir=None, extra_roots=roots, allow_remote=False)
