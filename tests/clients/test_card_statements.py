"""The client card's first view reads in few statements whatever the client holds: the tabs behind the first
(payments and invoices, documents, tasks, history) are read when opened, each by its own request, in the card's
scope — a dealer's operator opens no tab of another dealer's client."""
from datetime import date

from app.extensions import db
from tests.conftest import Browser, Statements, visible_text
from tests.factories import (
    make_client,
    make_contract,
    make_dealer,
    make_operator,
    make_payment,
    make_service,
    make_subscription,
)
from tests.organizer.conftest import make_fault_type, make_task

# What the first view reaches (issue 33; 33 statements before): the 4 of every panel page (address check, the
# operator, the login's session, the rights), the client, the LOG's note that the ЕГН was seen, the subscriptions
# with their services, IPv4 and IPv6 addresses (3), the tabs' counters (1), the last payment, the open charges
# and the advance (3), the portal access (1).
FIRST_VIEW_STATEMENTS = 14


def rich_client(dealer=None, name="Богат Клиент"):
    client = make_client(dealer, name, egn="7501020018", phone="0888 111 222, 0877 333 444",
                         email="bogat@example.bg")
    for number in range(3):
        service = make_service(f"Интернет {name} {number}", monthly_fee="20.00")
        make_subscription(client, service, activation_date=date(2025, 1, 1), paid_until=date(2026, 12, 31))
    for number in range(4):
        make_payment(client, amount="20.00", note=f"Вноска {number}")
    fault = make_fault_type(f"Повреда {name}")
    for number in range(3):
        make_task(fault, client, description=f"Няма връзка {number}")
    contract = make_contract(client)
    db.session.commit()
    return client.id, f"{contract.number} Договор за интернет"


def test_the_first_view_is_few_statements_and_the_tabs_load_when_opened(app, admin):
    with app.app_context():
        client_id, contract_number = rich_client()
    admin.get(f"/clients/show/{client_id}")
    with Statements(app) as seen:
        response = admin.get(f"/clients/show/{client_id}")
    assert response.status_code == 200
    assert len(seen) <= FIRST_VIEW_STATEMENTS, "\n".join(statement[:120] for statement in seen)
    card = visible_text(response.text)
    # The header, the money strip, the services and the tabs' counters are there at once.
    assert "Богат Клиент" in card and "0877 333 444" in card
    assert "Интернет Богат Клиент 2" in card and "Последно плащане 20,00 EUR" in card
    for tab, count in (("payments", 4), ("documents", 1), ("tasks", 3)):
        assert f'id="count-{tab}">{count}<' in response.text
    # What the tabs hold is read when each is opened.
    assert "Вноска 0" not in card and "Няма връзка 0" not in card and contract_number not in card
    tabs = {tab: admin.get(f"/clients/show/{client_id}/tab/{tab}") for tab in
            ("payments", "documents", "tasks", "history")}
    assert all(response.status_code == 200 for response in tabs.values())
    assert "Вноска 3" in visible_text(tabs["payments"].text)
    assert contract_number in visible_text(tabs["documents"].text)
    assert "Няма връзка 2" in visible_text(tabs["tasks"].text)
    assert "Плащане" in visible_text(tabs["history"].text)
    # Each tab's link without JavaScript, and the card to print: the card with the tab shown at once.
    assert "Вноска 3" in visible_text(admin.get(f"/clients/show/{client_id}?tab=payments").text)
    printed = visible_text(admin.get(f"/clients/show/{client_id}?tab=all").text)
    assert "Вноска 3" in printed and "Няма връзка 2" in printed and contract_number in printed
    assert admin.get(f"/clients/show/{client_id}/tab/nothing").status_code == 404


def test_a_dealer_opens_no_tab_of_another_dealers_client(app):
    with app.app_context():
        alpha = make_dealer("Алфа")
        own_id, _number = rich_client(alpha, "Свой Клиент")
        other_id, _number = rich_client(make_dealer("Бета"), "Чужд Клиент")
        make_operator(alpha, "шеф", "Администратор на дилър", username="boss")
    boss = Browser(app)
    boss.login("boss", "operator-pass-123")
    assert "Вноска 3" in visible_text(boss.get(f"/clients/show/{own_id}/tab/payments").text)
    for tab in ("payments", "documents", "tasks", "history"):
        response = boss.get(f"/clients/show/{other_id}/tab/{tab}")
        assert response.status_code == 404, tab
        assert "Чужд Клиент" not in response.text and "Вноска" not in response.text
    assert boss.get(f"/clients/show/{other_id}?tab=all").status_code == 404

