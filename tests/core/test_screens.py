"""What the office reads on every screen: error pages in the panel's layout, bare module addresses, dates typed
and shown dd.mm.yyyy, times at the office's hour, and no internal values in the forms."""
import re
from datetime import datetime

from flask_appbuilder import ModelView
from sqlalchemy import select

from app.clients.models import Client
from app.contracts.models import Contract, ContractType
from app.core.formatting import format_date, format_datetime, local_today
from app.extensions import db
from app.security.models import Operator
from tests.conftest import visible_text
from tests.factories import make_client, make_contract_type


def test_an_unknown_page_is_a_bulgarian_page_with_the_menu_and_a_way_back(admin):
    response = admin.get("/no-such-page/")
    assert response.status_code == 404
    text = visible_text(response.text)
    assert "Няма такава страница" in text and "Назад" in text and "Начална страница" in text
    assert "Клиенти" in text  # the menu is there
    assert "Not Found" not in text and "requested URL" not in text
    assert admin.get("/clients/show/999999").status_code == 404


def test_a_refusal_is_a_bulgarian_page_with_the_menu(app, browser):
    from tests.factories import make_operator

    with app.app_context():
        make_operator(None, "Техник", "Техническа поддръжка", username="technik")
        db.session.commit()
    browser.login("technik", "operator-pass-123")
    response = browser.get("/operators/list/")
    assert response.status_code == 403
    text = visible_text(response.text)
    assert "Достъпът е отказан" in text and "Нямате право" in text and "Назад" in text and "Клиенти" in text


def test_a_failure_is_a_bulgarian_page_and_nothing_is_saved(app, admin, monkeypatch):
    def broken():
        db.session.add(ContractType(name="Недовършен", template="<p></p>"))
        db.session.flush()
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.view_functions, "bare_clients", broken)  # /clients/ fails with a bug half way
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = admin.get("/clients/")
    assert response.status_code == 500
    text = visible_text(response.text)
    assert "Нещо се обърка" in text and "нищо не е записано" in text and "Traceback" not in text
    assert "Клиенти" in text
    api = admin.get("/api/v1/no-such/")
    assert api.status_code == 404 and api.is_json
    with app.app_context():
        assert db.session.scalar(select(ContractType.id).where(ContractType.name == "Недовършен")) is None


def test_every_modules_bare_address_leads_to_its_list(app, admin):
    lists = [view for view in app.appbuilder.baseviews if isinstance(view, ModelView)]
    assert len(lists) > 20
    for view in lists:
        response = admin.get(f"{view.route_base}/")
        assert response.status_code == 302, view.route_base
        assert response.headers["Location"].endswith(f"{view.route_base}/list/"), view.route_base
    assert admin.get("/clients/?_flt_0_name=Ivan").headers["Location"].endswith("/clients/list/?_flt_0_name=Ivan")


def test_no_form_offers_an_internal_value(app, admin):
    """No "__None" in any add or edit form; an empty dealer reads "Централен офис", other empty choices "— няма —"."""
    with app.app_context():
        client_id = make_client(None, "Клиент за формите").id
    checked = 0
    for view in app.appbuilder.baseviews:
        if not isinstance(view, ModelView) or "can_add" not in (view.base_permissions or ["can_add"]):
            continue
        response = admin.get(f"{view.route_base}/add")
        if response.status_code != 200:
            continue
        text = visible_text(response.text)
        assert "__None" not in text, view.route_base
        checked += 1
    assert checked > 10
    form = visible_text(admin.get("/clients/add").text)
    assert "Централен офис" in form and "— няма —" in form
    assert "__None" not in visible_text(admin.get(f"/clients/edit/{client_id}").text)


def test_a_date_is_typed_and_shown_the_bulgarian_way(app, admin):
    with app.app_context():
        client_id = make_client(None, "Клиент с договор").id
        type_id = make_contract_type().id
    form = admin.get(f"/contracts/add?client={client_id}").text
    assert 'placeholder="дд.мм.гггг"' in form and "billing/dates.js" in form
    wrong = admin.submit(f"/contracts/add?client={client_id}", {"client": client_id, "contract_type": type_id,
                                                                   "signed_on": "31.02.2026", "status": "draft"})
    assert wrong.status_code == 200 and "Няма такава дата: 31.02.2026." in visible_text(wrong.text)
    typed_otherwise = admin.submit(f"/contracts/add?client={client_id}", {
        "client": client_id, "contract_type": type_id, "signed_on": "12/01/2026", "status": "draft"})
    assert "Въведете деня като дд.мм.гггг" in visible_text(typed_otherwise.text)
    with app.app_context():
        assert db.session.scalar(select(Contract.id)) is None
    saved = admin.submit(f"/contracts/add?client={client_id}", {"client": client_id, "contract_type": type_id,
                                                                   "signed_on": "01.12.2026", "status": "draft"})
    assert saved.status_code == 302, visible_text(saved.text)[:500]
    with app.app_context():
        contract = db.session.scalar(select(Contract))
        assert contract.signed_on.isoformat() == "2026-12-01"
        contract_id = contract.id
    edit = admin.get(f"/contracts/edit/{contract_id}").text
    assert 'value="01.12.2026"' in edit
    # The list's date filter reads the day first as well (FAB's own reading takes it for 12 January).
    assert "01.12.2026" in visible_text(admin.get("/contracts/list/?_flt_0_signed_on=01.12.2026").text)
    assert "Клиент с договор" not in visible_text(admin.get("/contracts/list/?_flt_0_signed_on=12.01.2026").text)


def test_moments_are_shown_at_the_offices_hour(app, admin):
    """Stored in UTC, shown in Europe/Sofia (UTC+2 in December): the operator's last login among them."""
    with app.app_context():
        operator = db.session.scalar(select(Operator).where(Operator.username == "admin"))
        operator.last_login = datetime(2026, 12, 1, 8, 5, 0)
        db.session.commit()
        operator_id = operator.id
        assert format_datetime(datetime(2026, 12, 1, 8, 5, 0)) == "01.12.2026 10:05:00"
    page = visible_text(admin.get(f"/operators/show/{operator_id}").text)
    assert "10:05" in page and "08:05" not in page


def test_every_moment_a_screen_shows_is_formatted(app):
    """Every date-and-time column of a list or a record page goes through format_datetime, or format_date where
    the day is enough (both in local time)."""
    raw = []
    with app.app_context():
        for view in app.appbuilder.baseviews:
            if not isinstance(view, ModelView):
                continue
            for column in set(view.list_columns or []) | set(view.show_columns or []):
                try:
                    moment = view.datamodel.is_datetime(column)
                except Exception:  # noqa: BLE001 — a property or a related column: not a stored moment
                    moment = False
                if moment and (view.formatters_columns or {}).get(column) not in (format_datetime, format_date):
                    raw.append(f"{type(view).__name__}.{column}")
    assert raw == []


def test_a_head_office_client_reads_central_office_not_a_blank(app, admin):
    with app.app_context():
        client_id = make_client(None, "Клиент на централата").id
    listing = visible_text(admin.get("/clients/list/").text)
    assert "Клиент на централата" in listing and "Централен офис" in listing
    assert "Централен офис" in visible_text(admin.get(f"/clients/show/{client_id}").text)


def test_every_versioned_model_and_column_has_a_bulgarian_label_in_the_log(app):
    from flask_appbuilder import Model
    from sqlalchemy import inspect

    from app.audit import formatting

    unlabelled = []
    with app.app_context():
        versioned = {mapper.class_ for mapper in Model.registry.mappers
                     if getattr(mapper.class_, "__versioned__", None) is not None
                     and not mapper.class_.__name__.endswith("Version")}
        for model in sorted(versioned, key=lambda cls: cls.__name__):
            if model.__name__ == "User":  # FAB's base of Operator: the LOG names the Operator
                continue
            if formatting.entity_label(model.__name__) == model.__name__:
                unlabelled.append(model.__name__)
                continue
            not_versioned = set((model.__versioned__ or {}).get("exclude", ()))
            for column in inspect(model).columns:
                if column.key == "id" or column.key in not_versioned:
                    continue
                label = str(formatting.field_label(model.__name__, column.key))
                if label in (column.key, column.key.replace("_", " ").title()):
                    unlabelled.append(f"{model.__name__}.{column.key}")
    assert unlabelled == [], ", ".join(unlabelled)


def test_the_log_reads_in_words(app, admin):
    """A creation in a few lines (the rest on the entry's page), references by name, empty values as —."""
    from app.audit.models import LogEntry

    with app.app_context():
        client = make_client(None, "Клиент в дневника", phone="0888 111 222", email="klient@example.bg",
                             fax="02 123 456", address_text="гр. София, ул. Оборище 5", id_card="645123456")
        client.comment = "нов"
        db.session.commit()
        client.comment = None
        db.session.commit()
        created = db.session.scalar(select(LogEntry.id).where(LogEntry.entity_type == "Client",
                                                              LogEntry.operation == "insert"))
    listing = visible_text(admin.get("/log/list/").text)
    assert "и още" in listing and "полета на страницата на записа" in listing
    assert "Коментар : нов → —" in listing
    assert "Client Id" not in listing and "∅" not in listing
    entry = visible_text(admin.get(f"/log/show/{created}").text)
    assert "и още" not in entry and "Клиентски номер" in entry


def test_the_rights_matrix_is_grouped_by_module_with_each_permission_once(admin):
    import re

    page = admin.get("/roles/matrix/").text
    text = visible_text(page)
    headings = re.findall(r'<tr class="info"><th[^>]*>([^<]+)</th></tr>', page)
    assert headings[:3] == ["Клиенти", "Фирма", "Каталог"] and "Сигурност" in headings
    rows = re.findall(r"<tr><td>([^<]+)</td>", page)
    assert len(rows) == len(set(rows)), [row for row in rows if rows.count(row) > 1]
    for english in ("LogEntry", "MenuApi", "OpenApi", "SwaggerView", ": get"):
        assert english not in text
    assert "Договор: преглед преди печат" in text and "LOG: списък" in text


def test_a_new_records_save_lands_on_its_own_page(app, admin):
    response = admin.submit("/clients/add", {"kind": "individual", "name": "Нов Клиент Иванов", "phone": "0888 1"})
    assert response.status_code == 302
    with app.app_context():
        client_id = db.session.scalar(select(Client.id).where(Client.name == "Нов Клиент Иванов"))
    assert response.headers["Location"].endswith(f"/clients/show/{client_id}")
    card = visible_text(admin.get(response.headers["Location"]).text)
    assert "Нов Клиент Иванов" in card


def test_the_client_list_shows_where_each_client_stands_and_whom_to_call_first(app, admin):
    from datetime import date

    from tests.factories import make_service, make_subscription

    with app.app_context():
        service = make_service("Интернет за списъка")
        late = make_client(None, "Клиент Спрян")
        make_subscription(late, service, status="suspended", paid_until=date(2026, 9, 30))
        make_subscription(late, service, status="active", paid_until=date(2027, 1, 31))
        make_subscription(make_client(None, "Клиент Редовен"), service, status="active", paid_until=date(2026, 12, 31))
        make_client(None, "Клиент Без услуги")
    rows = visible_text(admin.get("/clients/list/?_oc_ClientView=nearest_paid_until&_od_ClientView=asc").text)
    assert "Услуги" in rows and "Платено до (най-близко)" in rows
    assert "Клиент Спрян" in rows and "Спряна 30.09.2026" in rows.split("Клиент Спрян", 1)[1][:200]
    assert "Активна 31.12.2026" in rows.split("Клиент Редовен", 1)[1][:200]
    assert rows.index("Клиент Спрян") < rows.index("Клиент Редовен")  # the oldest paid period first


def test_the_payment_list_takes_a_range_of_days_and_adds_up_what_it_lists(app, admin):
    from datetime import timedelta

    from app.billing.models import Payment
    from tests.factories import make_payment

    with app.app_context():
        client = make_client(None, "Платец по дни")
        make_payment(client, amount="10.00")
        make_payment(client, amount="19.56", currency="BGN")  # 10,00 EUR
        old = make_payment(client, amount="7.00")
        db.session.get(Payment, old.id).paid_at -= timedelta(days=40)
        db.session.commit()
        today = format_date(local_today())
    everything = visible_text(admin.get("/payments/list/").text)
    assert "Общо за показаните плащания: 19,56 BGN (1) · 17,00 EUR (2) — в евро: 27,00 EUR" in everything
    of_today = visible_text(admin.get(f"/payments/list/?from={today}&to={today}").text)
    assert "19,56 BGN (1) · 10,00 EUR (1) — в евро: 20,00 EUR" in of_today and "7,00 EUR" not in of_today
    assert admin.get("/payments/list/?from=не-е-ден").status_code == 200  # a wrong day is ignored, not a 500


def test_a_services_prices_read_with_their_currency_and_say_vat_is_included(app, admin):
    from tests.factories import make_service

    with app.app_context():
        service_id = make_service("Интернет с цена", monthly_fee="14.90").id
    listing = visible_text(admin.get("/services/list/").text)
    assert "Месечна такса (с ДДС)" in listing and "14,90 EUR" in listing
    form = visible_text(admin.get(f"/services/edit/{service_id}").text)
    assert "Инсталационна такса (с ДДС)" in form and "фактурата показва данъчната основа и ДДС" in form


def test_record_pages_show_names_not_codes(app, admin):
    """A subscription, a payment, a charge, an invoice and a service read in words: statuses, month types,
    username types, methods, payment types and kinds by their Bulgarian names."""
    from app.billing.charges import add_charge
    from app.invoices.services import issue_invoice
    from tests.factories import head_office_cashier, make_payment, make_service, make_subscription

    with app.app_context():
        client = make_client(None, "Клиент за кодовете")
        service = make_service("Интернет за кодовете", username_type="radius")
        subscription = make_subscription(client, service, status="suspended", paid_until=local_today())
        charge = add_charge(client, "Смяна на кабел", "5.00", type_code="other")
        db.session.commit()
        payment = make_payment(client, periods={subscription.id: 1})
        invoice = issue_invoice(head_office_cashier(), payment)
        db.session.commit()
        pages = [f"/subscriptions/show/{subscription.id}", f"/payments/show/{payment.id}",
                 f"/charges/show/{charge.id}", f"/invoices/show/{invoice.id}", f"/services/show/{service.id}",
                 f"/clients/show/{client.id}"]
    codes = re.compile(r"\b(active|suspended|terminated|pending|fixed|floating|radius|individual|company|invoice|"
                       r"credit_note|cash|monthly_fee|installation|other|True|False|None)\b")
    for url in pages:
        response = admin.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.text)
        assert not codes.findall(text), (url, codes.findall(text))
    assert "Спряна" in visible_text(admin.get(pages[0]).text)
