"""Contracts: numbering, forms and API, printing (PDF and preview), rights and dealer scoping."""
import html
import re
from datetime import date

import pytest
from sqlalchemy import select

from app.addresses.models import Block, City, Neighbourhood
from app.audit.models import LogEntry
from app.contracts.models import Contract, ContractType
from app.contracts.services import ensure_default_contract_type
from app.extensions import db
from tests.conftest import Browser, visible_text
from tests.contracts.conftest import pdf_fonts, pdf_text
from tests.factories import (
    make_client,
    make_contract,
    make_contract_type,
    make_dealer,
    make_operator,
    make_service,
)

PASSWORD = "operator-pass-123"
NAME = "Иван Петров Иванов"
ADDRESS = "гр. София, ж.к. Младост 1, бл. 105, вх. А, ет. 3, ап. 12"
EGN = "8012056037"


def make_world(app, dealer_name=None, template=None):
    """A client of `dealer_name` (None: head office) in a block, with a subscription and a contract."""
    with app.app_context():
        dealer = make_dealer(dealer_name) if dealer_name else None
        neighbourhood = db.session.scalar(select(Neighbourhood)) or Neighbourhood(
            city=City(name="София"), kind="ж.к.", name="Младост 1")
        block = Block(neighbourhood=neighbourhood, name="105" if dealer_name is None else f"105-{dealer_name}")
        db.session.add(block)
        db.session.commit()
        client = make_client(dealer, NAME if dealer_name is None else f"Клиент на {dealer_name}", egn=EGN,
                             block=block, entrance="А", floor="3", apartment="12", phone="0888 123 456")
        from app.clients.models import Subscription

        service = make_service(f"Интернет 100 {dealer_name or ''}".strip(), monthly_fee="12.90")
        subscription = Subscription(client=client, service=service, status="active", username=f"ivan{client.id}")
        db.session.add(subscription)
        db.session.commit()
        contract_type = ensure_default_contract_type() if template is None else make_contract_type(
            f"Вид {dealer_name}", template)
        if template is not None:
            contract_type.template = template
        db.session.commit()
        contract = make_contract(client, [subscription], contract_type, signed_on=date(2026, 3, 5),
                                 term_months=12, status="active")
        return {"contract": contract.id, "number": contract.number, "client": client.id,
                "subscription": subscription.id, "type": contract_type.id, "dealer": dealer.id if dealer else None}


def set_template(app, type_id, template):
    """Store a template as it is, the way an older or imported one may be."""
    with app.app_context():
        db.session.get(ContractType, type_id).template = template
        db.session.commit()


def login(app, role, dealer_id=None, tag="оп"):
    with app.app_context():
        from app.dealers.models import Dealer

        dealer = db.session.get(Dealer, dealer_id) if dealer_id else None
        operator = make_operator(dealer, tag, role)
        username = operator.username
    browser = Browser(app)
    browser.login(username, PASSWORD)
    return browser


def test_pdf_holds_the_clients_cyrillic_name_and_address_in_an_embedded_font(app, admin, tmp_path):
    world = make_world(app)
    response = admin.get(f"/contracts/pdf/{world['contract']}")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="contract-{world["number"]}.pdf"'
    text = pdf_text(response.data, tmp_path)
    assert NAME in text and ADDRESS in text
    assert "ДОГОВОР ЗА ПРЕДОСТАВЯНЕ НА ИНТЕРНЕТ УСЛУГИ" in text
    assert f"№ {world['number']} от 05.03.2026" in text
    assert "12,90 EUR" in text and "12 месеца" in text
    fonts = pdf_fonts(response.data, tmp_path)
    dejavu = {name: embedded for name, embedded in fonts.items() if "DejaVuSans" in name}
    assert dejavu and all(dejavu.values()), fonts


def test_preview_shows_the_same_in_the_panel(app, admin):
    world = make_world(app)
    response = admin.get(f"/contracts/preview/{world['contract']}")

    assert response.status_code == 200
    page = html.unescape(response.text)
    assert NAME in page and ADDRESS in page
    # In the panel layout, the contract in a frame that runs no scripts and loads nothing.
    assert "navbar" in response.text
    assert re.search(r"<iframe sandbox srcdoc=", response.text)
    assert "default-src 'none'" in page


def test_full_egn_only_with_the_right_to_see_personal_data_and_then_logged(app, admin, tmp_path):
    world = make_world(app)
    text = pdf_text(admin.get(f"/contracts/pdf/{world['contract']}").data, tmp_path)
    assert EGN in text
    with app.app_context():
        entry = db.session.scalars(select(LogEntry).where(LogEntry.operation == LogEntry.PERSONAL_DATA)).one()
        assert entry.entity_type == "Contract" and entry.entity_id == str(world["contract"])

    cashier = login(app, "Касиер")
    text = pdf_text(cashier.get(f"/contracts/pdf/{world['contract']}").data, tmp_path)
    assert "******6037" in text and EGN not in text


@pytest.mark.parametrize(
    "abuse, message",
    [
        ("{{ client.__class__ }}", "Ред 2 от шаблона: достъпът до „__class__“ не е позволен"),
        ("{{ ''.__class__.__mro__ }}", "Ред 2 от шаблона: достъпът до „__class__“ не е позволен"),
        ("{% include '/etc/passwd' %}", "Ред 2 от шаблона: шаблонът не може да включва, внася или разширява"),
        ("{% import '/etc/passwd' as p %}", "Ред 2 от шаблона: шаблонът не може да включва, внася или разширява"),
        ("{{ client.nam }}", "Ред 2 от шаблона: непознато поле „nam“"),
        ("{{ 1 // 0 }}", "Ред 2 от шаблона: стойност не може да се използва по този начин (ZeroDivisionError)"),
        ("<p style='font-family: Arial'>", "Ред 2 от шаблона: шаблонът не може да задава шрифт"),
        ("{% for x in %}", "Ред 2 от шаблона: синтактична грешка"),
    ],
    ids=["class", "mro", "include", "import", "unknown-name", "division", "font", "syntax"],
)
def test_template_abuse_gives_a_readable_error_and_no_data(app, admin, abuse, message):
    world = make_world(app)
    # The phone reaches the page only through the template.
    set_template(app, world["type"], "<p>{{ client.phone }} {{ client.egn }}</p>\n" + abuse + "\n<p>край</p>")

    preview = admin.get(f"/contracts/preview/{world['contract']}")
    assert preview.status_code == 200
    assert message in html.unescape(preview.text)
    assert "0888 123 456" not in preview.text and EGN not in preview.text

    pdf = admin.get(f"/contracts/pdf/{world['contract']}")
    assert pdf.status_code == 422 and pdf.mimetype == "text/html"
    assert message in html.unescape(pdf.text)
    assert "0888 123 456" not in pdf.text and EGN not in pdf.text and "root:" not in pdf.text


def test_syntax_error_names_its_line(app, admin):
    world = make_world(app)
    set_template(app, world["type"], "<h1>Договор</h1>\n<p>{{ client.name }}</p>\n<p>{% if client.name %}</p>\n")
    page = visible_text(admin.get(f"/contracts/preview/{world['contract']}").text)
    assert "Ред 3 от шаблона: синтактична грешка" in page


def test_outside_images_are_refused_and_nothing_is_fetched(app, admin, local_server):
    world = make_world(app)
    url = f"http://127.0.0.1:{local_server.port}/x.png"
    set_template(app, world["type"], f'<p>{{{{ client.name }}}}</p>\n<img src="{url}">')

    preview = admin.get(f"/contracts/preview/{world['contract']}")
    pdf = admin.get(f"/contracts/pdf/{world['contract']}")

    message = "Ред 2 от шаблона: шаблонът не може да зарежда нищо отвън"
    assert message in html.unescape(preview.text) and message in html.unescape(pdf.text)
    assert pdf.status_code == 422
    assert local_server.requests == []


def test_contract_type_form_refuses_a_broken_template(app, admin):
    response = admin.submit("/contract-types/add", {"name": "Счупен", "template": "<p>\n{{ client.__class__ }}</p>"})
    assert response.status_code == 200
    assert "Ред 2 от шаблона: достъпът до „__class__“ не е позволен" in html.unescape(response.text)
    with app.app_context():
        assert db.session.scalar(select(ContractType).where(ContractType.name == "Счупен")) is None

    response = admin.submit("/contract-types/add", {"name": "Годен", "template": "<p>{{ client.name }}</p>"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(ContractType).where(ContractType.name == "Годен")) is not None


def test_printing_needs_the_print_contracts_right(app):
    world = make_world(app)
    with app.app_context():
        # Everything on contracts except the business right to print them.
        security = app.appbuilder.sm
        role = security.add_role("Без печат")
        for permission in ("can_list", "can_show", "can_preview", "can_pdf"):
            security.add_permission_role(role, security.find_permission_view_menu(permission, "Contract"))
        db.session.commit()
    no_print = login(app, "Без печат")
    manager = login(app, "Мениджър", tag="мен")
    for browser in (no_print, manager):
        assert browser.get(f"/contracts/show/{world['contract']}").status_code == 200
        for route in ("preview", "pdf"):
            assert browser.get(f"/contracts/{route}/{world['contract']}").status_code == 403, route


def test_another_dealers_contract_is_not_found(app):
    alpha = make_world(app, "Алфа", template="<p>{{ client.name }}</p>")
    beta = make_world(app, "Бета", template="<p>{{ client.name }}</p>")
    browser = login(app, "Администратор на дилър", alpha["dealer"])
    for route in ("preview", "pdf"):
        assert browser.get(f"/contracts/{route}/{alpha['contract']}").status_code == 200, route
        assert browser.get(f"/contracts/{route}/{beta['contract']}").status_code == 404, route


def test_new_contracts_are_numbered_in_sequence_from_the_client_card(app, admin):
    world = make_world(app)
    form_url = f"/contracts/add?client={world['client']}"
    form = admin.get(form_url).text
    assert NAME in form
    for signed_on in ("2026-04-01", "2026-04-02"):
        response = admin.submit(form_url, {
            "client": world["client"], "contract_type": world["type"], "subscriptions": world["subscription"],
            "signed_on": signed_on, "term_months": "24", "status": "active",
        })
        assert response.status_code == 302, visible_text(response.text)[-800:]
    with app.app_context():
        contracts = db.session.scalars(select(Contract).order_by(Contract.id)).all()
        assert [c.number for c in contracts] == [world["number"], world["number"] + 1, world["number"] + 2]
        assert [s.id for s in contracts[-1].subscriptions] == [world["subscription"]]


def test_active_contract_needs_its_signing_date(app, admin):
    world = make_world(app)
    form_url = f"/contracts/add?client={world['client']}"
    response = admin.submit(form_url, {"client": world["client"], "contract_type": world["type"],
                                       "status": "active"})
    assert response.status_code == 200
    assert "Активният договор трябва да има дата на подписване." in response.text


def test_api_creates_numbered_contracts_and_refuses_another_clients_subscription(app, api):
    world = make_world(app)
    with app.app_context():
        other_id = make_client(None, "Друг Клиент").id
    response = api.post("/api/v1/contracts/", json={
        "client": world["client"], "contract_type": world["type"], "subscriptions": [world["subscription"]],
        "signed_on": "2026-05-01", "status": "active",
    })
    assert response.status_code == 201, response.text
    created = api.get(f"/api/v1/contracts/{response.json['id']}").json["result"]
    assert created["number"] == world["number"] + 1

    response = api.post("/api/v1/contracts/", json={
        "client": other_id, "contract_type": world["type"], "subscriptions": [world["subscription"]],
    })
    assert response.status_code == 422
    assert response.json["message"] == {"subscriptions": ["Договорът може да обхваща само абонаменти на своя клиент."]}


def test_default_contract_type_is_made_once_and_fills_in(app):
    from app.contracts.rendering import check_template

    with app.app_context(), app.test_request_context():
        first, second = ensure_default_contract_type(), ensure_default_contract_type()
        db.session.commit()
        assert first.id == second.id and first.name == "Договор за интернет"
        assert check_template(first.template) is None


def test_a_template_sees_plain_data_only(app):
    from app.contracts.rendering import contract_context

    world = make_world(app)

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(key, str) and plain(item) for key, item in value.items())
        if isinstance(value, list):
            return all(plain(item) for item in value)
        return isinstance(value, (str, int, bool))

    with app.app_context(), app.test_request_context():
        context = contract_context(db.session.get(Contract, world["contract"]))
        assert plain(context)
        assert context["client"]["egn"] == "******6037"
        # a head-office client contracts with head office's company (COMPANY_* settings)
        assert context["seller"]["name"] == app.config["COMPANY_NAME"]
        assert context["seller"]["eik"] == app.config["COMPANY_EIK"]


@pytest.mark.parametrize(
    "abuse, message",
    [
        ("{{ 'a' * 10**8 }}", "стойност, която шаблонът създава, би била по-голяма от 100000 знака"),
        ("{{ 10 ** 10000000 }}", "стойност, която шаблонът създава, би била по-голяма от 100000 знака"),
        ("{{ 'a'|center(10**8) }}", "стойност, която шаблонът създава, би била по-голяма от 100000 знака"),
        ("{{ '%0100000000d' % 1 }}", "стойност, която шаблонът създава, би била по-голяма от 100000 знака"),
        ("{{ '{:>100000000}'.format(1) }}", "стойност, която шаблонът създава, би била по-голяма от 100000 знака"),
        ("{% for i in range(100000) %}{{ 'дълъг ред ' * 1000 }}{% endfor %}",
         "попълненият шаблон би бил по-голям от 1000000 знака"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         "циклите на шаблона биха се изпълнили повече от 100000 пъти"),
    ],
    ids=["huge-string", "huge-number", "huge-filter", "huge-percent-format", "huge-format", "huge-document",
         "endless-loops"],
)
def test_a_template_that_would_exhaust_the_server_is_refused_quickly(app, abuse, message):
    """Checked when the type is saved (the trial fill) and again at every fill; stopped, never run to the end."""
    import time

    from app.contracts.rendering import check_template

    with app.test_request_context():
        started = time.monotonic()
        problem = check_template("<p>{{ client.name }}</p>\n" + abuse)
        elapsed = time.monotonic() - started
    assert problem is not None and message in str(problem), problem
    assert elapsed < 5
