"""An activation spends the client's advance at once, by the cycle's rule, whatever activates the subscription:
an installation's completion, a sale without installation (at once, or on the day chosen, by that day's run),
a reactivation by hand. Right after it, the card (its badge and "due today"), the home page, the debtors report
and the collector's init say the same thing — through the paths a person uses."""
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import schemathesis
import time_machine
from sqlalchemy import select

from app.audit.models import LogEntry
from app.billing.charges import advance_total, due_today
from app.billing.periods import add_months
from app.billing.models import PAID_PERIODS, PaymentAllocation
from app.billing.services import record_payment
from app.clients.models import Client, Subscription
from app.clients.subscriptions import sell_subscription
from app.core.figures import forget as forget_figures
from app.core.formatting import format_date, local_today
from app.extensions import db
from app.organizer.models import Task
from app.reports.services import debtors
from tests.billing.test_cycle import run_cycle
from tests.collectors.test_collectors import call, collector_client, make_collector, signed
from tests.conftest import api_token, visible_text
from tests.factories import head_office_cashier, make_client, make_service, make_subscription
from tests.organizer.conftest import PASSWORD, make_installation_type, make_technician

NOTHING_DUE = "62"


def what_everyone_says(app, admin, client_id):
    """(badge, "due today" as the card prints it, home page count, debtors report's due or None, collector init
    status) for one client — the only client with live services in the test's database."""
    card = admin.get(f"/clients/show/{client_id}").text
    badge = re.search(r'<span class="label label-\w+">([^<]+)</span></h3>', card).group(1)
    due = re.search(r"Дължимо днес ([\d ]+,\d\d EUR)", visible_text(card)).group(1)
    with app.app_context():
        forget_figures()  # the home page counts every few minutes; this compares its rule, counted now
    home = int(re.search(r"Активни с изтекъл платен период\s*(\d+)", visible_text(admin.get("/").text)).group(1))
    with app.app_context():
        client = db.session.get(Client, client_id)
        rows = [row for row in debtors(head_office_cashier(), {}).rows if row[0] == client.client_number]
        number = client.client_number
    init = call(collector_client(app), "init", signed(IDN=number)).json["STATUS"]
    return badge, due, home, rows[0][-1] if rows else None, init


def paid_up(app, admin, client_id):
    assert what_everyone_says(app, admin, client_id) == ("Активна", "0,00 EUR", 0, None, NOTHING_DUE)


def sale_awaiting_installation(fee="20.00", deposit="100.00"):
    """A client who paid a deposit for a service that awaits its installation (with its task)."""
    make_collector()
    make_installation_type()
    client = make_client(None, "Вера Депозит", email=None)
    service = make_service("Интернет Депозит", monthly_fee=fee)
    service.needs_installation = True
    db.session.commit()
    subscription = sell_subscription(head_office_cashier(), client, service)
    db.session.commit()
    record_payment(head_office_cashier(), client, amount=deposit)
    db.session.commit()
    return client.id, subscription.id


def test_completing_the_installation_spends_the_deposit_at_once(app, admin):
    with app.app_context():
        client_id, subscription_id = sale_awaiting_installation()
        technician = make_technician("монтьор")
        task = db.session.scalar(select(Task).where(Task.subscription_id == subscription_id))
        task.technicians = [technician]
        db.session.commit()
        task_id, steps = task.id, {step.name: step.id for step in task.steps}
    # The technician closes the installation from the phone's API: the subscription is active.
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_token(api, technician.username, PASSWORD)
    for name, body in (("Прокарване на кабел", {}), ("Монтаж на модем", {"value": "AA:BB:CC:00:11:22"}),
                       ("Подпис на клиента", {"note": "Подписа"})):
        answer = api.post(f"/api/v1/tasks/{task_id}/steps/{steps[name]}", json={"status": "done", **body})
        assert answer.status_code == 200, answer.text
    closed = api.post(f"/api/v1/tasks/{task_id}/close")
    assert closed.status_code == 200, closed.text
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status == "active"
        today = local_today()
        # 20,00 a month from today: the deposit pays the first (part of a) month now, not tonight.
        assert subscription.paid_until is not None and subscription.paid_until >= today
        spent = Decimal("100.00") - advance_total(client_id)
        paid = db.session.scalars(select(PaymentAllocation).where(PaymentAllocation.kind == PAID_PERIODS,
                                                                 PaymentAllocation.subscription_id == subscription_id))
        assert sum(allocation.amount_eur for allocation in paid) == spent > 0
        note = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Subscription",
                                                         LogEntry.note.like("Платено до%от аванса%"))).one()
        assert note.user_id == technician.id and format_date(subscription.paid_until) in note.note
    paid_up(app, admin, client_id)


def test_a_sale_without_installation_from_the_panel_is_paid_from_the_advance(app, admin):
    with app.app_context():
        make_collector()
        client = make_client(None, "Петър Напред", email=None)
        service = make_service("Телевизия Напред", monthly_fee="10.00")
        db.session.commit()
        record_payment(head_office_cashier(), client, amount="50.00")  # nothing live yet: an advance
        db.session.commit()
        client_id, service_id = client.id, service.id
    saved = admin.submit(f"/subscriptions/add?client={client_id}", {"client": client_id, "service": service_id},
                         form_url=f"/subscriptions/add?client={client_id}")
    assert saved.status_code == 302, visible_text(saved.text)[-600:]
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        assert subscription.status == "active" and subscription.paid_until >= local_today()
        assert advance_total(client_id) < Decimal("50.00")
    paid_up(app, admin, client_id)


def test_a_reactivation_by_hand_is_paid_from_the_advance(app, admin):
    with app.app_context():
        make_collector()
        client = make_client(None, "Сашо Спрян", email=None)
        service = make_service("Интернет Спрян", monthly_fee="10.00")
        db.session.commit()
        subscription = make_subscription(client, service, status="pending")
        record_payment(head_office_cashier(), client, amount="40.00")  # nothing live: an advance
        # Then, placed directly (as an import leaves it), the service is suspended, its paid period long over.
        subscription.status, subscription.activation_date = "suspended", local_today() - timedelta(days=90)
        subscription.paid_until = local_today() - timedelta(days=20)
        db.session.commit()
        assert advance_total(client.id) == Decimal("40.00")
        client_id, subscription_id = client.id, subscription.id
    token = admin.csrf_token(f"/clients/show/{client_id}")
    changed = admin.client.post(f"/subscriptions/status/{subscription_id}",
                                data={"csrf_token": token, "status": "active", "reason": "Уговорка с клиента"})
    assert changed.status_code == 302
    with app.app_context():
        subscription = db.session.get(Subscription, subscription_id)
        assert subscription.status == "active" and subscription.paid_until >= local_today()
        assert advance_total(client_id) < Decimal("40.00")
    paid_up(app, admin, client_id)


def test_a_sale_on_a_chosen_day_waits_for_it_and_that_days_run_activates_it_from_the_advance(app, admin):
    with app.app_context():
        make_collector()
        client = make_client(None, "Галя Понеделник", email=None)
        service = make_service("Интернет Понеделник", monthly_fee="12.00")
        service.month_type = "floating"
        db.session.commit()
        record_payment(head_office_cashier(), client, amount="30.00")
        db.session.commit()
        client_id, service_id, today = client.id, service.id, local_today()
    chosen = today + timedelta(days=3)
    form = {"client": client_id, "service": service_id}
    url = f"/subscriptions/add?client={client_id}"
    # A day that has passed, or not a day at all, is refused with the reason, and nothing is sold.
    for typed, message in ((format_date(today - timedelta(days=1)),
                            f"Денят на активиране {format_date(today - timedelta(days=1))} е минал"),
                           ("31.11.2026", "Няма такава дата: 31.11.2026.")):
        refused = admin.submit(url, {**form, "activates_on": typed}, form_url=url)
        assert message in visible_text(refused.text)
    saved = admin.submit(url, {**form, "activates_on": format_date(chosen)}, form_url=url)
    assert saved.status_code == 302, visible_text(saved.text)[-600:]
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        assert (subscription.status, subscription.activates_on, subscription.activation_date) == \
            ("pending", chosen, None)
        assert subscription.status_reason == f"Продадена с начало на избран ден, {format_date(chosen)}."
        assert db.session.scalar(select(Task.id)) is None  # nothing to install
        subscription_id = subscription.id
    # Until the day, nothing is owed and nothing is counted: the money stays an advance.
    assert what_everyone_says(app, admin, client_id) == ("Без активна услуга", "0,00 EUR", 0, None, NOTHING_DUE)
    run_cycle(app, chosen - timedelta(days=1))
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).status == "pending"
    moment = datetime.combine(chosen, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=9)
    with time_machine.travel(moment, tick=False):
        run_cycle(app, chosen)
        with app.app_context():
            subscription = db.session.get(Subscription, subscription_id)
            assert subscription.status == "active"
            assert subscription.status_reason == f"Активирана на избрания ден, {format_date(chosen)}."
            # Floating months from the chosen day; the advance paid the first one.
            assert subscription.activation_date == chosen
            assert subscription.paid_until == add_months(chosen, 1)
            assert advance_total(client_id) == Decimal("18.00")
            assert due_today(db.session.get(Client, client_id)).due_eur == 0
        admin.login()  # the session of three days ago has expired
        paid_up(app, admin, client_id)


def test_the_api_sells_on_a_chosen_day_and_refuses_a_past_one(app, api):
    with app.app_context():
        client = make_client(None, "Апи Денев")
        service = make_service("Интернет Апи")
        installed = make_service("Интернет с монтаж")
        installed.needs_installation = True
        db.session.commit()
        client_id, service_id, installed_id, today = client.id, service.id, installed.id, local_today()
    future = today + timedelta(days=5)
    published = api.get("/api/v1/_openapi").json
    assert published["components"]["schemas"]["SubscriptionApi.post"]["properties"]["activates_on"]["format"] == "date"
    operation = schemathesis.openapi.from_dict(published)["/api/v1/subscriptions/"]["POST"]
    sold = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": service_id,
                                                    "activates_on": future.isoformat()})
    assert sold.status_code == 201, sold.text
    operation.validate_response(sold)
    assert sold.json["result"]["activates_on"] == future.isoformat()
    shown = api.get(f"/api/v1/subscriptions/{sold.json['id']}").json["result"]
    assert (shown["status"], shown["activates_on"]) == ("pending", future.isoformat())
    past = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": service_id,
                                                    "activates_on": (today - timedelta(days=1)).isoformat()})
    assert past.status_code == 422
    operation.validate_response(past)
    assert "е минал" in past.json["message"]["activates_on"][0]
    wrong = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": service_id,
                                                     "activates_on": "2027-02-30"})
    assert wrong.status_code == 422 and wrong.json["message"]["activates_on"] == ["Няма такава дата: 2027-02-30."]
    with_installation = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": installed_id,
                                                                 "activates_on": future.isoformat()})
    assert with_installation.status_code == 422
    assert "инсталацията завърши" in with_installation.json["message"]["activates_on"][0]
    # Today, or nothing, is at once.
    now = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": service_id,
                                                   "activates_on": today.isoformat()})
    assert now.status_code == 201, now.text
    assert api.get(f"/api/v1/subscriptions/{now.json['id']}").json["result"]["status"] == "active"
    with app.app_context():
        assert db.session.scalar(select(Subscription.id).where(Subscription.status == "pending")) == sold.json["id"]


def test_a_cancelled_installation_is_owed_nowhere_and_the_deposit_stays_an_advance(app, admin):
    with app.app_context():
        client_id, subscription_id = sale_awaiting_installation(deposit="15.00")
        service = db.session.get(Subscription, subscription_id).service
        client = db.session.get(Client, client_id)
        # A second sale of it, now with an installation fee: owed at once, less the deposit.
        service.installation_fee = Decimal("30.00")
        db.session.commit()
        second = sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        task_id = db.session.scalar(select(Task.id).where(Task.subscription_id == second.id))
        assert due_today(client).due_eur == Decimal("15.00")
    token = admin.csrf_token(f"/tasks/show/{task_id}")
    cancelled = admin.client.post(f"/tasks/cancel/{task_id}", data={"csrf_token": token,
                                                                    "reason": "Клиентът се отказа"})
    assert cancelled.status_code == 302
    with app.app_context():
        assert db.session.get(Subscription, second.id).status == "terminated"
        assert advance_total(client_id) == Decimal("15.00")
    assert what_everyone_says(app, admin, client_id) == ("Без активна услуга", "0,00 EUR", 0, None, NOTHING_DUE)
