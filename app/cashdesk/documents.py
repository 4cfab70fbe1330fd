"""The cash desk's handover record as a PDF: what the closing counted, to be signed by who hands over and who
takes the money. Made from the closing's own snapshot, so a later payment does not change a signed paper."""
from flask import Response, render_template

from app.cashdesk.services import ZERO, closing_totals
from app.core.formatting import format_date, format_datetime
from app.core.money import format_money, quantize
from app.core.pdf import html_to_pdf
from app.dealers.services import company_of


def handover_pdf(closing):
    """The handover record of a closed day as PDF bytes. Raises app.core.pdf.PdfError."""
    totals = closing_totals(closing)
    by_currency = {}
    for total in totals:
        by_currency[total.currency] = by_currency.get(total.currency, ZERO) + total.total
    context = {
        "company": company_of(closing.operator.dealer),
        "operator": str(closing.operator),
        "day": format_date(closing.day),
        "closed_at": format_datetime(closing.closed_at),
        "closed_by": str(closing.closed_by),
        "note": closing.note or "",
        "rows": [(total.method, total.currency, total.count, format_money(total.total, total.currency))
                 for total in totals],
        "sums": [format_money(quantize(amount), currency) for currency, amount in sorted(by_currency.items())],
        "count": sum(total.count for total in totals),
    }
    title = f"Протокол за предаване на касата {context['day']}"
    return html_to_pdf(render_template("pdf/handover.html", **context), title=title)


def handover_response(closing):
    filename = f"kasa-{closing.day.isoformat()}-{closing.operator_id}.pdf"
    return Response(handover_pdf(closing), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
