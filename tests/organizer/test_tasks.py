"""Tasks: steps copied from the type, step marks and closing rules, the sale's installation task."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import LogEntry
from app.billing.charges import due_today
from app.billing.models import Charge
from app.clients.models import ACTIVE, PENDING, TERMINATED, Subscription
from app.clients.subscriptions import sell_subscription
from app.core.actors import acting_as
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.extensions import db
from app.clients.models import Client
from app.organizer.models import Task, TaskStep, TaskType, TaskTypeStep
from app.organizer.services import cancel_task, close_task, create_task, mark_step, update_task
from app.security.models import Operator
from app.security.permissions import CASHIER, DEALER_ADMINISTRATOR
from tests.conftest import visible_text
from tests.factories import head_office_cashier, make_client, make_dealer, make_operator, make_service
from tests.organizer.conftest import make_installation_type, make_task, make_technician

DAY = date(2026, 12, 2)


def _steps(task):
    return {step.name: step for step in task.steps}


def test_a_task_copies_its_types_steps_and_later_type_edits_do_not_change_it(app):
    with app.app_context():
        task_type = make_installation_type()
        task = make_task(task_type, make_client(None, "Иван Петров"), day=DAY)
        assert [s.name for s in task.steps] == ["Прокарване на кабел", "Монтаж на модем", "Ниво на сигнала",
                                                 "Подпис на клиента"]
        assert [s.required for s in task.steps] == [True, True, False, True]
        task_type.steps[0].name = "Кабел до апартамента"
        task_type.steps.append(TaskTypeStep(position=5, name="Снимка на рутера"))
        db.session.delete(task_type.steps[2])
        db.session.commit()
        db.session.expire_all()
        task = db.session.get(Task, task.id)
        assert [s.name for s in task.steps] == ["Прокарване на кабел", "Монтаж на модем", "Ниво на сигнала",
                                                 "Подпис на клиента"]
        newer = make_task(task_type, task.client, day=DAY)
        assert [s.name for s in newer.steps] == ["Кабел до апартамента", "Монтаж на модем", "Подпис на клиента",
                                                  "Снимка на рутера"]


def test_required_steps_decide_closing_and_a_value_step_needs_its_value(app):
    with app.app_context():
        technician = make_technician("иво")
        task = make_task(make_installation_type(), make_client(None, "Мария Илиева"), [technician], day=DAY)
        steps = _steps(task)
        with pytest.raises(FieldErrors, match="не може да бъде пропусната"):
            mark_step(technician, steps["Прокарване на кабел"], "skipped")
        with pytest.raises(FieldErrors, match="MAC на модема"):
            mark_step(technician, steps["Монтаж на модем"], "done")
        mark_step(technician, steps["Прокарване на кабел"], "done")
        assert task.status == "in_progress"
        with pytest.raises(FieldErrors) as refusal:
            close_task(technician, task)
        assert "Монтаж на модем" in str(refusal.value) and "Подпис на клиента" in str(refusal.value)
        mark_step(technician, steps["Монтаж на модем"], "done", value="AA:BB:CC:00:11:22")
        mark_step(technician, steps["Подпис на клиента"], "done", note="Подписа")
        # The optional step is still pending, so nothing closed by itself; closing by hand is allowed.
        assert task.status == "in_progress"
        close_task(head_office_cashier(), task)
        db.session.commit()
        assert task.status == "done" and task.closed_at is not None
        assert steps["Монтаж на модем"].value == "AA:BB:CC:00:11:22"
        assert steps["Монтаж на модем"].marked_by_id == technician.id
        with pytest.raises(FieldErrors, match="приключена"):
            mark_step(technician, steps["Ниво на сигнала"], "done", value="5")
        with pytest.raises(FieldErrors, match="Приключена задача не може да бъде отказана"):
            cancel_task(head_office_cashier(), task, "Грешка")


def test_a_failed_required_step_keeps_the_task_open_and_cancelling_needs_a_reason(app):
    with app.app_context():
        technician = make_technician("петко")
        task = make_task(make_installation_type(), make_client(None, "Петко Колев"), [technician], day=DAY)
        steps = _steps(task)
        mark_step(technician, steps["Прокарване на кабел"], "failed", note="Няма достъп до шахтата")
        mark_step(technician, steps["Монтаж на модем"], "done", value="AA:BB:CC:00:11:22")
        mark_step(technician, steps["Ниво на сигнала"], "skipped")
        mark_step(technician, steps["Подпис на клиента"], "done", note="—")
        assert task.status == "in_progress"
        with pytest.raises(FieldErrors, match="Прокарване на кабел"):
            close_task(technician, task)
        with pytest.raises(FieldErrors, match="Кажете защо"):
            cancel_task(head_office_cashier(), task, "  ")
        with pytest.raises(FieldErrors, match="право"):
            cancel_task(technician, task, "Клиентът се отказа")
        cancel_task(head_office_cashier(), task, "Клиентът се отказа")
        assert task.status == "cancelled" and task.cancel_reason == "Клиентът се отказа"


def test_the_last_step_closes_the_task_when_every_required_one_is_done(app):
    with app.app_context():
        technician = make_technician("вики")
        task = make_task(make_installation_type(), make_client(None, "Виктор Янев"), [technician], day=DAY)
        steps = _steps(task)
        mark_step(technician, steps["Прокарване на кабел"], "done")
        mark_step(technician, steps["Ниво на сигнала"], "skipped")
        mark_step(technician, steps["Подпис на клиента"], "done", note="ОК")
        update = mark_step(technician, steps["Монтаж на модем"], "done", value="AA:BB:CC:00:11:22")
        assert update.changed and task.status == "done"


def test_a_resent_step_update_changes_nothing_twice(app):
    with app.app_context():
        technician = make_technician("гого")
        task = make_task(make_installation_type(), make_client(None, "Гошо Гошев"), [technician], day=DAY)
        step = _steps(task)["Прокарване на кабел"]
        first = mark_step(technician, step, "done", note="Готово", request_key="tap-1")
        db.session.commit()
        marked_at = step.marked_at
        entries = db.session.scalar(select(func.count(LogEntry.id)).where(LogEntry.entity_type == "TaskStep"))
        again = mark_step(technician, step, "done", note="Готово", request_key="tap-1")
        same_state = mark_step(technician, step, "done", note="Готово", request_key="tap-2")
        # An old form sent once more after a later change: its key is not the last one, the state tells.
        db.session.commit()
        assert first.changed and not again.changed and not same_state.changed
        assert step.marked_at == marked_at
        assert db.session.scalar(select(func.count(LogEntry.id)).where(LogEntry.entity_type == "TaskStep")) == entries


def test_a_sale_opens_an_installation_task_and_its_completion_activates_the_subscription(app):
    with app.app_context():
        make_installation_type()
        technician = make_technician("инсталатор")
        client = make_client(None, "Анна Стоянова", address_text="гр. София, ул. Шипка 5")
        service = make_service("Интернет 300")
        service.needs_installation = True
        db.session.commit()
        subscription = sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        task = db.session.scalar(select(Task).where(Task.subscription_id == subscription.id))
        assert task is not None and task.task_type.name == "Нова инсталация"
        assert task.address == "гр. София, ул. Шипка 5" and task.activates_subscription
        task.technicians = [technician]
        db.session.commit()
        steps = _steps(task)
        with acting_as(technician):
            mark_step(technician, steps["Прокарване на кабел"], "done")
            mark_step(technician, steps["Монтаж на модем"], "done", value="AA:BB:CC:00:11:22")
            mark_step(technician, steps["Подпис на клиента"], "done", note="Подписа")
            assert db.session.get(Subscription, subscription.id).status == PENDING
            warnings = close_task(technician, task)
            db.session.commit()
        assert db.session.get(Subscription, subscription.id).status == ACTIVE
        assert warnings == ["Услугата Интернет 300 е активна."]
        changes = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Subscription",
                                                            LogEntry.operation == "update")).all()
        activation = [entry for entry in changes if "status" in entry.changes]
        assert [entry.user_id for entry in activation] == [technician.id]


def test_a_cancelled_installation_activates_nothing_and_a_service_without_installation_opens_none(app):
    with app.app_context():
        make_installation_type()
        client = make_client(None, "Борис Донев")
        service = make_service("Интернет 500")
        service.needs_installation = True
        service.installation_fee = Decimal("30.00")
        mailbox = make_service("Пощенска кутия")
        db.session.commit()
        subscription = sell_subscription(head_office_cashier(), client, service)
        mail_subscription = sell_subscription(head_office_cashier(), client, mailbox)
        db.session.commit()
        assert db.session.scalar(select(func.count(Task.id))) == 1
        # Nothing to install: the mailbox is live from the sale, and the LOG says why.
        assert mail_subscription.status == ACTIVE and mail_subscription.activation_date == local_today()
        assert mail_subscription.status_reason == "Продадена без инсталация: активна от продажбата."
        fee = db.session.scalar(select(Charge).where(Charge.subscription_id == subscription.id))
        assert fee.amount == Decimal("30.00") and fee.cancelled_at is None
        task = db.session.scalar(select(Task))
        cancel_task(head_office_cashier(), task, "Клиентът се отказа")
        db.session.commit()
        # The sale never started: it ends, and its installation fee is no longer owed.
        cancelled = db.session.get(Subscription, subscription.id)
        assert cancelled.status == TERMINATED
        assert cancelled.status_reason == f"Инсталацията е отменена (задача № {task.id}): Клиентът се отказа"
        db.session.refresh(fee)
        assert fee.cancelled_at is not None and "Клиентът се отказа" in fee.cancel_reason
        money = due_today(db.session.get(Client, client.id))
        assert money.charges == [] and [item.subscription.id for item in money.overdue] == [mail_subscription.id]
        with pytest.raises(FieldErrors):
            close_task(head_office_cashier(), task)
        assert db.session.scalar(select(func.count(TaskStep.id))) == 4


def test_every_change_of_a_task_and_its_steps_is_in_the_log(app, admin):
    with app.app_context():
        technician = make_technician("дневник")
        task = make_task(make_installation_type(), make_client(None, "Клиент в дневника"), day=DAY)
        update_task(head_office_cashier(), task, technicians=[technician], priority="high")
        db.session.commit()
        mark_step(technician, task.steps[0], "done", note="Кабелът е прокаран")
        db.session.commit()
        task_id = task.id
    page = visible_text(admin.get(f"/tasks/show/{task_id}").text)
    assert "Техници" in page and "Оператор-дневник" in page and "Приоритет : Нормален → Висок" in page
    with app.app_context():
        step_changes = db.session.scalars(select(LogEntry.changes).where(LogEntry.entity_type == "TaskStep",
                                                                         LogEntry.operation == "update")).all()
        assert any(changes.get("status") == ["pending", "done"] for changes in step_changes)


def test_a_task_goes_only_to_technicians_of_the_planners_dealer_and_the_form_offers_only_them(app, admin):
    with app.app_context():
        north = make_dealer("Север")
        ours = make_technician("наш")
        theirs = make_technician("чужд", dealer=north)
        cashier = make_operator(None, "каса", CASHIER, username="kasierka")
        planner = make_operator(north, "планира", DEALER_ADMINISTRATOR, username="north-planner")
        client = make_client(north, "Клиент на Север")
        task_type = make_installation_type()
        with pytest.raises(FieldErrors) as refused:
            make_task(task_type, client, technicians=[cashier])
        assert "kasierka" in str(refused.value.errors["technicians"])
        db.session.rollback()
        with pytest.raises(FieldErrors):  # the dealer's planner cannot send head office's technician
            create_task(db.session.get(Operator, planner.id), task_type=db.session.get(TaskType, task_type.id),
                        client=db.session.get(Client, client.id), technicians=[db.session.get(Operator, ours.id)])
        db.session.rollback()
        task = create_task(db.session.get(Operator, planner.id), task_type=db.session.get(TaskType, task_type.id),
                           client=db.session.get(Client, client.id), technicians=[db.session.get(Operator, theirs.id)])
        db.session.commit()
        assert [operator.username for operator in task.technicians] == ["tech-чужд"]
        client_id = client.id
    form = admin.get(f"/tasks/add?client={client_id}").text
    assert "Оператор-наш" in form and "Оператор-чужд" in form and "Оператор-каса" not in form


def test_a_mac_step_takes_only_a_mac_and_binds_it_to_the_installed_subscription(app):
    with app.app_context():
        make_installation_type()
        technician = make_technician("мак")
        client = make_client(None, "Мак Клиентов")
        service = make_service("Интернет МАК")
        service.needs_installation = True
        db.session.commit()
        subscription = sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        task = db.session.scalar(select(Task).where(Task.subscription_id == subscription.id))
        task.technicians = [technician]
        db.session.commit()
        steps = _steps(task)
        with acting_as(technician):
            with pytest.raises(FieldErrors) as refused:
                mark_step(technician, steps["Монтаж на модем"], "done", value="zz-12")
            assert "MAC на модема: MAC адресът има 12 шестнадесетични цифри" in str(refused.value)
            db.session.rollback()
            assert db.session.get(Subscription, subscription.id).mac_address is None
            mark_step(technician, steps["Монтаж на модем"], "done", value="aabb.cc00.1122")
            mark_step(technician, steps["Ниво на сигнала"], "done", value="zz-12")  # no MAC asked: any value
            db.session.commit()
        assert steps["Монтаж на модем"].value == "AA:BB:CC:00:11:22"
        bound = db.session.get(Subscription, subscription.id)
        assert bound.mac_address == "AA:BB:CC:00:11:22"
        changes = db.session.scalars(select(LogEntry).where(LogEntry.entity_type == "Subscription",
                                                            LogEntry.entity_id == str(subscription.id),
                                                            LogEntry.operation == "update")).all()
        assert any("mac_address" in entry.changes and entry.user_id == technician.id for entry in changes)
