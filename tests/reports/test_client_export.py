"""The client list's XLSX read back with openpyxl, as an office opens it in Excel: services by their labels, a
dealer named on every row (head office's too), the "paid until" a typed date in a column wide enough to show
it, a phone as typed (no visible quote); and the download keeps its Cyrillic name."""
import io
from datetime import date, datetime

from openpyxl import load_workbook

from app.extensions import db
from tests.factories import make_client, make_dealer, make_service, make_subscription
from tests.reports.test_reports import export


def test_the_client_list_xlsx_reads_as_the_list(app, admin):
    with app.app_context():
        north = make_dealer("Север")
        ours = make_client(None, "Иван Централов", phone="+359 888 000 111")
        theirs = make_client(north, "Мария Северна", phone="0888 222 333")
        service = make_service("Интернет 100")
        make_subscription(ours, service, status="active", activation_date=date(2026, 1, 1),
                          paid_until=date(2026, 12, 31))
        make_subscription(theirs, service, status="suspended", activation_date=date(2026, 1, 1),
                          paid_until=date(2026, 10, 31))
        db.session.commit()
    sheet = load_workbook(io.BytesIO(export(admin, "list:ClientView", "xlsx"))).active
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    titles = [cell.value for cell in rows[0]]
    by_name = {row[titles.index("Наименование")].value: row for row in rows[1:]}
    ivan, maria = by_name["Иван Централов"], by_name["Мария Северна"]

    services = titles.index("Услуги")
    assert ivan[services].value == "Активна" and maria[services].value == "Спряна"
    assert not any(isinstance(row[services].value, int) for row in rows[1:])  # no raw codes
    dealer = titles.index("Дилър")
    assert ivan[dealer].value == "Централен офис" and maria[dealer].value == "Дилър Север"
    assert all(row[dealer].value for row in rows[1:])
    paid = titles.index("Платено до (най-близко)")
    assert ivan[paid].value == datetime(2026, 12, 31) and ivan[paid].number_format == "DD.MM.YYYY"
    letter = rows[0][paid].column_letter
    assert sheet.column_dimensions[letter].width >= 12  # dd.mm.yyyy shows, not ###
    name_letter = rows[0][titles.index("Наименование")].column_letter
    assert sheet.column_dimensions[name_letter].width >= len("Мария Северна")
    phone = ivan[titles.index("Телефон")]
    assert phone.value == "+359 888 000 111" and phone.data_type == "s"


def test_the_download_keeps_its_cyrillic_name(app, admin):
    from tests.reports.test_reports import wait_for_background_jobs

    response = admin.submit("/exports/start", {"source": "list:ClientView", "fmt": "csv", "query": ""},
                            form_url="/reports/revenue/")
    wait_for_background_jobs(admin.client.application)
    status = admin.get(response.headers["Location"] + "/status").get_json()
    disposition = admin.get(status["download"]).headers["Content-Disposition"]
    assert "filename*=UTF-8''%D0%9A%D0%BB%D0%B8%D0%B5%D0%BD%D1%82%D0%B8" in disposition  # Клиенти
    assert 'filename="Klienti ' in disposition


def test_the_lists_interface_alone_chooses_how_the_exported_rows_load_their_relations(app, admin, monkeypatch):
    """The export names the relations its columns read of every row (the operators' dealer); the list's interface
    decides how each is loaded, in one place (BillingInterface.eager_loads): here it joins the dealer to the rows,
    so the export adds no loader of its own (SQLAlchemy refused two) and no statement for the dealers."""
    from sqlalchemy.orm import joinedload

    from app.security.models import Operator
    from tests.conftest import Statements
    from tests.factories import make_operator

    with app.app_context():
        make_operator(make_dealer("Юг"), "export", "Admin")
    view = next(view for view in app.appbuilder.baseviews if type(view).__name__ == "OperatorView")
    asked = []

    def joins_the_dealer(related=()):
        asked.append(list(related))
        return [joinedload(Operator.dealer)]

    monkeypatch.setattr(view.datamodel, "eager_loads", joins_the_dealer)
    with Statements(app, keep=lambda statement: "FROM dealer WHERE dealer.id IN" in " ".join(statement.split())) \
            as dealers_read_apart:
        sheet = load_workbook(io.BytesIO(export(admin, "list:OperatorView", "xlsx"))).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    dealer = rows[0].index("Дилър")
    assert "Дилър Юг" in [row[dealer] for row in rows[1:]], rows
    assert asked == [["dealer"]] and dealers_read_apart == []
