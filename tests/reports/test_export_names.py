"""An export's header and its LOG note name only records the operator may see: a dealer's operator who forces
another dealer's or operator's id into the filters reads neither name."""
import subprocess

from sqlalchemy import select

from app.audit.models import LogEntry
from app.extensions import db
from app.security.permissions import DEALER_ADMINISTRATOR
from tests.conftest import Browser
from tests.factories import make_dealer, make_operator
from tests.reports.test_reports import export


def test_a_dealers_operator_forcing_another_dealers_ids_reads_no_name_of_them(app, tmp_path):
    with app.app_context():
        north, south = make_dealer("Север"), make_dealer("Юг")
        make_operator(north, "admin", DEALER_ADMINISTRATOR, username="north-admin")
        rival = make_operator(south, "каса", DEALER_ADMINISTRATOR, username="south-cashier")
        rival.first_name, rival.last_name = "Тайна", "Конкурентка"
        db.session.commit()
        south_id, rival_id = south.id, rival.id
    browser = Browser(app)
    browser.login("north-admin", "operator-pass-123")
    query = f"date_from=01.11.2026&date_to=30.11.2026&dealer={south_id}&operator={rival_id}"
    pdf = tmp_path / "revenue.pdf"
    pdf.write_bytes(export(browser, "report:revenue", "pdf", query))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "01.11.2026" in text
    assert "Юг" not in text and "Тайна" not in text and "Конкурентка" not in text
    list_query = f"_flt_0_dealer={south_id}&_flt_0_received_by={rival_id}&_flt_2_note=наем"
    export(browser, "list:PaymentView", "pdf", list_query)
    with app.app_context():
        notes = db.session.scalars(select(LogEntry.note).where(LogEntry.operation == LogEntry.EXPORT)
                                   .order_by(LogEntry.id)).all()
    assert len(notes) == 2
    # The list's note says the filter its page honours, and only that one.
    assert "наем" in notes[1] and str(south_id) not in notes[1], notes
    assert not any(name in note for note in notes for name in ("Юг", "Тайна", "Конкурентка")), notes
