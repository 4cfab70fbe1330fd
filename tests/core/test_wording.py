"""Leftovers a person at the desk would stumble on: Python's names for records, internal keys shown as changes,
English in the rights matrix and in stored names, roles in brackets, a doubled word."""
from flask_appbuilder import Model
from sqlalchemy import inspect, select

from app.audit.formatting import entity_choices, hidden_fields
from app.billing.models import BillingRun, Charge
from app.clients.models import Subscription
from app.extensions import db
from app.organizer.models import Task
from app.security.labels import permission_name_label, view_label
from app.security.permissions import PERMISSION_LABELS, VIEW_LABELS
from tests.conftest import visible_text
from tests.factories import make_client, make_service
from tests.organizer.conftest import make_installation_type


def test_every_model_names_its_records_in_words(app):
    """The LOG names a record by str(record): never "<app.reports.models.Export object at 0x…>"."""
    unnamed = [f"{mapper.class_.__module__}.{mapper.class_.__name__}" for mapper in Model.registry.mappers
               if mapper.class_.__module__.startswith("app.") and mapper.class_.__str__ is object.__str__]
    assert unnamed == []


def test_an_internal_key_is_never_shown_as_a_change(app):
    """A form's one-time key, a charge's billing key, an invoice's issuer key: the LOG leaves them out."""
    shown = []
    for name, _label in entity_choices():
        model = next(mapper.class_ for mapper in Model.registry.mappers if mapper.class_.__name__ == name)
        for column in inspect(model).columns.keys():
            if column.endswith("_key") and column not in hidden_fields(name):
                shown.append(f"{name}.{column}")
    assert shown == []


def test_a_payment_page_does_not_show_the_forms_key(app, admin):
    with app.app_context():
        client = make_client(None, "Пламен Ключов")
        client_id = client.id
    response = admin.submit(f"/payments/record/{client_id}",
                            {"amount": "5,00", "currency": "EUR", "request_key": "c4ca4238a0b923820dcc509a6f75849b"})
    assert response.status_code == 302, response.text
    page = visible_text(admin.get(response.headers["Location"]).text)
    assert "c4ca4238a0b923820dcc509a6f75849b" not in page and "Еднократен ключ" not in page
    log = visible_text(admin.get("/log/list/").text)
    assert "Плащане" in log and "c4ca4238a0b923820dcc509a6f75849b" not in log


def test_the_rights_matrix_names_every_right_in_bulgarian(app, admin):
    with app.app_context():
        security = app.appbuilder.sm
        english = set()
        for permission_view in db.session.query(security.permissionview_model):
            view, permission = permission_view.view_menu.name, permission_view.permission.name
            if view not in VIEW_LABELS and view_label(view) == view:
                english.add(view)
            if permission not in PERMISSION_LABELS:
                english.add(permission_name_label(permission))
    assert english == set()
    matrix = visible_text(admin.get("/roles/matrix/").text)
    for word in ("Week", "FREEFTP settings", "FTP accounts", "FTP index", "FTP registrations", "FreeFtpAttempt",
                 "FreeFtpIndexRun"):
        assert word not in matrix
    assert "Седмицата на техниците" in matrix and "Настройки на FREEFTP" in matrix and "FTP регистрации" in matrix


def test_roles_read_as_plain_names(app, admin):
    for url in ("/operators/list/", "/operators/userinfo/"):
        text = visible_text(admin.get(url).text)
        assert "[Администратор]" not in text and "Администратор" in text
    # FAB's role of visitors who are not logged in is no role of an operator's.
    assert "Public" not in visible_text(admin.get("/roles/list/").text)


def test_a_run_from_the_command_line_reads_as_one_phrase(app, admin):
    assert app.test_cli_runner().invoke(args=["billing", "run-cycle"]).exit_code == 0
    with app.app_context():
        run_id = db.session.scalar(select(BillingRun.id))
    text = visible_text(admin.get(f"/billing-runs/show/{run_id}").text)
    assert "Пуснат от командния ред" in text and "от от" not in text


def test_a_sale_through_the_api_in_english_stores_bulgarian_names(app, api):
    """What a sale writes (its installation charge, its task, the reasons of its statuses) reads the same for
    everyone later, whatever language the request was in."""
    with app.app_context():
        client = make_client(None, "Анна Английска")
        service = make_service("Оптика 500")
        service.needs_installation, service.installation_fee = True, "30.00"
        make_installation_type()
        plain = make_service("Телевизия")
        db.session.commit()
        client_id, service_id, plain_id = client.id, service.id, plain.id
    for sold in (service_id, plain_id):
        response = api.post("/api/v1/subscriptions/", json={"client": client_id, "service": sold},
                            headers={"Accept-Language": "en"})
        assert response.status_code == 201, response.text
    with app.app_context():
        assert db.session.scalars(select(Charge.description)).all() == ["Инсталация: Оптика 500"]
        assert db.session.scalars(select(Task.description)).all() == ["Инсталация на Оптика 500"]
        reasons = db.session.scalars(select(Subscription.status_reason).where(Subscription.service_id == plain_id))
        assert reasons.all() == ["Продадена без инсталация: активна от продажбата."]


def test_a_mail_template_is_named_by_its_kind_not_its_key(app):
    from app.notifications.models import MailTemplate

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert str(MailTemplate(kind="warning")) == "Предупреждение преди „платено до“"
